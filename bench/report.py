#!/usr/bin/env python3
"""Turns the raw samples of scripts/bench.sh into the results table.

    report.py RAW_DIR OUT_DIR

Reads RAW_DIR/samples.tsv, roundtrips.tsv and meta.tsv; writes
OUT_DIR/results.md and OUT_DIR/results.json and prints the table.
Standard library only.

Ratios are normalised so that higher is better for Plinth: Plinth/heap for
throughputs, heap/Plinth for times, memory and sizes. A ratio of 1 means
Plinth does as well as heap.
"""
import json
import os
import re
import statistics
import sys

# Goals, on the normalised ratio.
GOALS = {"select": 0.9, "tpcb": 0.7, "seqscan": 0.8, "copy": 0.5, "size": 1 / 1.5}


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def family(key):
    """tpcb_c4 -> tpcb; pk_update_c1 -> pk_update."""
    return re.sub(r"_c\d+$", "", key)


def clients_of(key):
    m = re.search(r"_c(\d+)$", key)
    return int(m.group(1)) if m else 1


def describe(key, meta):
    rows = int(meta.get("rows", "0"))
    c = clients_of(key)
    cl = f"{c} client{'s' if c != 1 else ''}"
    fam = family(key)
    return {
        "select": (f"pgbench select-only (-S), {cl}", "tps", True),
        "tpcb": (f"pgbench TPC-B-like, {cl}", "tps", True),
        "seqscan": (f"seq scan + aggregation, {rows:,} rows", "s", False),
        "copy": (f"COPY {rows:,} rows into an empty table", "s", False),
        "range": (f"index range scan, {int(meta.get('range_rows', 0)):,} rows, {cl}", "scans/s", True),
        "pk_lookup": (f"primary-key lookup, {cl}", "tps", True),
        "pk_update": (f"primary-key update, {cl}", "tps", True),
        "rss": ("backend peak RSS (VmHWM) after the seq scans", "MiB", False),
        "rss_anon": ("backend private memory (RssAnon) after the seq scans", "MiB", False),
        "size": ("on-disk size of the loaded data", "MiB", False),
    }.get(fam, (key, "", True))


ORDER = ["select", "tpcb", "seqscan", "copy", "range", "pk_lookup", "pk_update", "rss", "rss_anon", "size"]


def sort_key(key):
    fam = family(key)
    return (ORDER.index(fam) if fam in ORDER else len(ORDER), clients_of(key), key)


def stats(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "samples": values}


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "s":
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    if unit == "MiB":
        return f"{v:.1f}"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def cell(s, unit):
    if s is None:
        return "failed"
    text = fmt(s["median"], unit)
    if s["n"] > 1:
        text += f" ({fmt(s['min'], unit)}–{fmt(s['max'], unit)})"
    return text


def main():
    raw, out = sys.argv[1], sys.argv[2]
    meta = {r[0]: (r[1] if len(r) > 1 else "") for r in read_tsv(os.path.join(raw, "meta.tsv"))}
    samples = {}
    for r in read_tsv(os.path.join(raw, "samples.tsv")):
        key, am, rnd, value = r[0], r[1], int(r[2]), float(r[3])
        failed = int(r[4] or 0) if len(r) > 4 else 0
        retried = int(r[5] or 0) if len(r) > 5 else 0
        txns = int(r[6]) if len(r) > 6 and r[6].isdigit() else None
        if key in ("rss", "rss_anon", "size"):
            value /= 1024 * 1024
        d = samples.setdefault(key, {}).setdefault(am, {"values": [], "failed": 0, "retried": 0, "txns": 0})
        d["values"].append(value)
        d["failed"] += failed
        d["retried"] += retried
        d["txns"] += txns or 0

    # Store work per transaction (the last measurement of each workload).
    per_txn = {}
    for r in read_tsv(os.path.join(raw, "roundtrips.tsv")):
        w, n = r[0], max(int(r[1] or 1), 1)
        names = ["reads", "range_reads", "round_trips", "bytes_read", "bytes_written", "commits", "conflicts"]
        per_txn[w] = {k: float(v) / n for k, v in zip(names, r[2:])}

    # Every workload measured, and the ones that failed on one side.
    keys = sorted(samples, key=sort_key)
    rows = []
    for key in keys:
        label, unit, higher = describe(key, meta)
        h = samples[key].get("heap")
        p = samples[key].get("plinth")
        hs = stats(h["values"]) if h else None
        ps = stats(p["values"]) if p else None
        ratio = None
        if hs and ps and hs["median"] > 0 and ps["median"] > 0:
            ratio = ps["median"] / hs["median"] if higher else hs["median"] / ps["median"]
        goal = GOALS.get(family(key))
        met = None if goal is None or ratio is None else ratio >= goal
        rt = per_txn.get(family(key))
        rows.append({
            "key": key, "label": label, "unit": unit, "higher_is_better": higher,
            "heap": hs, "plinth": ps, "ratio": ratio, "goal": goal, "met": met,
            "store_per_txn": rt,
            "heap_failed": h["failed"] if h else None, "heap_retried": h["retried"] if h else None,
            "plinth_failed": p["failed"] if p else None, "plinth_retried": p["retried"] if p else None,
            "plinth_txns": p["txns"] if p else None, "heap_txns": h["txns"] if h else None,
        })

    def goal_text(r):
        if r["goal"] is None:
            return ""
        if family(r["key"]) == "size":
            return "≥ 0.67 (≤ 1.5× heap)"
        return f"≥ {r['goal']:g}"

    def met_text(r):
        return {None: "", True: "met", False: "**missed**"}[r["met"]]

    def rt_text(r):
        rt = r["store_per_txn"]
        if not rt:
            return ""
        return f"{rt['round_trips']:.1f}"

    def failures_text(r):
        if r["unit"] not in ("tps", "scans/s") or r["plinth_txns"] is None:
            return ""
        return f"{r['plinth_failed']} / {r['plinth_retried']}"

    header = ["workload", "unit", "heap: median (min–max)", "Plinth: median (min–max)", "Plinth/heap",
              "goal", "", "store round trips / txn", "Plinth failed / retried txns"]
    table = [header]
    for r in rows:
        table.append([r["label"], r["unit"] + (" ↑" if r["higher_is_better"] else " ↓"),
                      cell(r["heap"], r["unit"]), cell(r["plinth"], r["unit"]),
                      "—" if r["ratio"] is None else f"{r['ratio']:.2f}", goal_text(r), met_text(r),
                      rt_text(r), failures_text(r)])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    md_table = [line(table[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    md_table += [line(row) for row in table[1:]]

    machine_keys = [("date", "date"), ("cpu", "CPU"), ("cores", "cores"), ("ram", "RAM"), ("disk", "disk"), ("virtualisation", "virtualisation"),
                    ("kernel", "kernel"), ("os", "OS"), ("postgres", "PostgreSQL"), ("plinth", "Plinth"),
                    ("commit", "commit"), ("plinth_so", "plinth.so (md5, installed)"), ("settings", "settings")]
    machine = {k: meta.get(k, "") for k, _ in machine_keys}
    config = {k: meta.get(k, "") for k in ("mode", "rounds", "scale", "rows", "range_rows", "duration_s",
                                           "clients", "max_tries", "run_length")}

    def mb(key):
        v = meta.get(key, "")
        try:
            return f"{float(v) / 1048576:.1f} MiB"
        except ValueError:
            return "—"

    def num(key, fmt_="{:.1f}"):
        try:
            return fmt_.format(float(meta[key]))
        except (KeyError, ValueError):
            return "—"

    md = ["# Plinth beside heap", ""]
    md.append(f"{config['mode']} run: {config['rounds']} round(s), heap and Plinth alternating; pgbench scale "
              f"{config['scale']}, {int(config['rows'] or 0):,}-row table for the scan, COPY, range and "
              f"primary-key workloads; {config['run_length']} (`-M prepared`, "
              f"`--max-tries={config['max_tries']}`). Median over the rounds, min–max in brackets. "
              "↑ higher is better, ↓ lower is better; **Plinth/heap is normalised so that ≥ 1 means Plinth does "
              "as well as heap** (Plinth/heap for throughputs, heap/Plinth for times, memory and size).")
    md.append("")
    md += md_table
    md += ["", "## Machine", ""]
    md += [f"- {label}: {machine[k] or '?'}" for k, label in machine_keys]
    loads = [meta[k] for k in sorted(meta) if k.startswith("loadavg_round")]
    md.append(f"- load average (1/5/15 min) at the start: {meta.get('loadavg_start', '?')}; at each round: "
              f"{'; '.join(loads) or '?'}; at the end: {meta.get('loadavg_end', '?')} "
              f"(the benchmark itself keeps about 1–2 busy; more means something else ran beside it)")
    md += ["", "## Notes", ""]
    md.append("- Both access methods on one server (`shared_buffers=256MB`, `fsync=on`, `synchronous_commit=on`, "
              "`plinth.durable=on`: every commit is flushed before it is acknowledged), in two databases "
              "(`bench_heap`, `bench_plinth`, with `default_table_access_method` set per database). "
              "`max_parallel_workers_per_gather=0`: each query runs in one process on both.")
    md.append(f"- Load (not a goal): pgbench -i heap {num('load_pgbench_init_s_heap')} s, Plinth "
              f"{num('load_pgbench_init_s_plinth')} s; items table (COPY, primary key, "
              f"index on k, VACUUM ANALYZE) heap {num('load_items_s_heap')} s, Plinth {num('load_items_s_plinth')} s.")
    md.append(f"- Size: heap is `pg_total_relation_size` of the five tables (tables {mb('heap_table_bytes')}, "
              f"indexes {mb('heap_index_bytes')}). Plinth is the growth of the LMDB store's used pages "
              "((pages used − free pages) × page size, from `mdb_stat -e` and `-f`) over the load; the store is "
              "shared by the server's databases, but `bench_heap` writes nothing to it. After the load: the store's "
              f"B-tree pages {mb('store_tree_bytes')}, its `data.mdb` file {mb('store_data_file_bytes')} on disk; "
              f"the conflict history beside it (`conflicts/`, recent writes only, not counted) "
              f"{mb('store_conflicts_bytes')} on disk; Plinth's own count of the tables' row bytes "
              f"(`plinth_relation_info`): {mb('plinth_row_bytes')}. Sizes are measured once, after the load.")
    md.append("- Backend RSS: `VmHWM` of the backend that ran the seq scans, from `/proc/<pid>/status`; it counts "
              "the shared pages the backend touched (shared buffers for heap, the store's memory map for Plinth: "
              "page cache, shared by every backend and reclaimable, and inflated by the kernel's fault-around, "
              "which maps cached neighbours of each page touched). `RssAnon` is the backend's private memory.")
    rss = []
    for am in ("heap", "plinth"):
        per_round = []
        for rnd in range(1, int(config["rounds"] or 1) + 1):
            v = meta.get(f"rss_end_anon_file_shmem_kb_{am}_r{rnd}", "").split()
            if len(v) == 3:
                per_round.append(f"{int(v[0]) // 1024} / {int(v[1]) // 1024} / {int(v[2]) // 1024}")
        if per_round:
            rss.append(f"{am} " + ", ".join(per_round))
    if rss:
        md.append("- Backend resident set after the scans, anonymous / file-backed / shared memory in MiB, "
                  "round by round: " + "; ".join(rss) + ".")
    md.append("- Store round trips / txn: Plinth's `plinth_stat_session()` counters around a few transactions of "
              "each workload in one psql session (COPY and the seq scan: around the measured statement).")
    md.append("- Failed / retried: pgbench transactions that failed after all tries, and those retried, summed "
              "over the rounds (Plinth is serializable: conflicts are SQLSTATE 40001). Heap ran at read committed "
              "and had none.")
    md.append(f"- Range scan plan: heap `{meta.get('range_plan_heap', '?').strip()}`; "
              f"Plinth `{meta.get('range_plan_plinth', '?').strip()}`.")
    errors_path = os.path.join(raw, "errors.txt")
    if os.path.exists(errors_path) and os.path.getsize(errors_path) > 0:
        md += ["", "## Failures", "", "```", open(errors_path).read().strip(), "```"]
    md.append("")

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"config": config, "machine": machine, "workloads": rows,
                   "meta": meta}, f, indent=1, ensure_ascii=False)
    print()
    print("\n".join(md_table))
    print()
    print(f"{machine['cpu']}, {machine['cores']} cores, {machine['ram']}; {machine['disk']}; "
          f"{machine['kernel']}; PostgreSQL {machine['postgres']}; Plinth {machine['plinth']}")


if __name__ == "__main__":
    main()
