#!/usr/bin/env python3
"""Plots the Plinth/heap ratios of a scripts/bench.sh run.

    plot.py results.json ratios.png

One bar per workload (normalised: ≥ 1 means Plinth does as well as heap),
on a logarithmic axis, with the goal marked where there is one.
Needs matplotlib (Debian: python3-matplotlib).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        results = json.load(f)
    rows = [r for r in results["workloads"] if r.get("ratio")]
    if not rows:
        print("plot.py: no ratio to plot", file=sys.stderr)
        rows = []
    labels = [r["label"] for r in rows]
    ratios = [r["ratio"] for r in rows]
    colours = ["#9e9e9e" if r["met"] is None else ("#2e7d32" if r["met"] else "#c62828") for r in rows]

    fig, ax = plt.subplots(figsize=(10, 0.45 * max(len(rows), 1) + 1.8))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, ratios, color=colours, height=0.6)
    ax.set_xscale("log")
    lo = min(ratios + [0.5]) / 1.5
    hi = max(ratios + [1.5]) * 1.5
    ax.set_xlim(lo, hi)
    ax.axvline(1.0, color="black", linewidth=1)
    for yi, r in zip(y, rows):
        ax.text(max(r["ratio"], r["goal"] or 0) * 1.05, yi, f"{r['ratio']:.2f}", va="center", fontsize=8)
        if r["goal"]:
            ax.plot([r["goal"], r["goal"]], [yi - 0.4, yi + 0.4], color="black", linestyle="--", linewidth=1.2)
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50) if lo <= t <= hi]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("Plinth / heap, normalised (≥ 1: Plinth as good as heap; log scale)")
    cfg, machine = results.get("config", {}), results.get("machine", {})
    ax.set_title(f"Plinth beside heap — {cfg.get('mode', '')} run, {machine.get('date', '')}\n"
                 f"{machine.get('cpu', '')}, {machine.get('cores', '')} cores; PostgreSQL {machine.get('postgres', '')}\n"
                 "dashed: goal; green met, red missed, grey no goal", fontsize=9)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print(f"plot: {dst}")


if __name__ == "__main__":
    main()
