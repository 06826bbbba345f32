#!/usr/bin/env python3
"""Compares Postgres's regression suite run on heap and on Plinth
(scripts/upstream.sh), test by test: the same; different only in query
plans (EXPLAIN output, and results that print a plan's properties); only in
the order of rows of queries without ORDER BY; or in results or errors —
what a user would see, listed with the first lines that differ.

usage: upstream_compare.py HEAP_RESULTS_DIR PLINTH_RESULTS_DIR [TITLE]
"""
import os
import re
import sys

ROWS = re.compile(r"^\(\d+ rows?\)$")
# Addresses some messages print (function 0x55d0... returned NULL).
ADDRESS = re.compile(r"0x[0-9a-f]{6,}")
# Lines of a plan, as EXPLAIN prints them (text and the suite's helpers).
PLAN = re.compile(r"QUERY PLAN|^\s*->|Scan|Sort Key|Filter:|Cond:|Join|Hash|Aggregate|Append|Gather|Workers|"
                  r"Materialize|Memoize|Output:|Sort|Limit|Result|Subquery|InitPlan|SubPlan|Group Key|Presorted|"
                  r"Unique|Nested Loop|One-Time|Rows Removed|Buckets|Batches|Cache Key|Cache Mode|Planning|"
                  r"Execution|Buffers|Run Condition|WindowAgg|Merge|Incremental|Tid|actual|Recheck|Projection|"
                  r"Partial|Parallel|Subplans|cost=|explain", re.IGNORECASE)


def blocks(path):
    """The output cut after each result's row count: one block per query result."""
    out, cur = [], []
    with open(path, errors="replace") as f:
        for line in f.read().splitlines():
            line = ADDRESS.sub("0x…", line)
            cur.append(line)
            if ROWS.match(line.strip()):
                out.append(cur)
                cur = []
    out.append(cur)
    return out


def classify(heap, plinth):
    a, b = blocks(heap), blocks(plinth)
    if a == b:
        return "same", []
    if len(a) != len(b):
        return "results", first_difference(heap, plinth)
    kind, shown = "order", []
    for x, y in zip(a, b):
        if x == y or sorted(x) == sorted(y):
            continue
        changed = set(x) ^ set(y)
        if any(PLAN.search(l) for l in x + y) and all(PLAN.search(l) or not l.strip() or ROWS.match(l.strip())
                                                       for l in changed):
            kind = "plan" if kind == "order" else kind
            continue
        if any("QUERY PLAN" in l or "explain" in l.lower() for l in x + y):
            kind = "plan" if kind == "order" else kind
            continue
        kind = "results"
        sx, sy = set(x), set(y)
        shown += ["- " + l for l in x if l not in sy][:6] + ["+ " + l for l in y if l not in sx][:6]
    return kind, shown[:16]


def first_difference(heap, plinth):
    with open(heap, errors="replace") as f:
        a = f.read().splitlines()
    with open(plinth, errors="replace") as f:
        b = f.read().splitlines()
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return ["- " + l for l in a[i:i + 6]] + ["+ " + l for l in b[i:i + 6]]


def main():
    heap_dir, plinth_dir = sys.argv[1:3]
    title = sys.argv[3] if len(sys.argv) > 3 else "regression suite"
    tests = sorted(f[:-4] for f in os.listdir(heap_dir) if f.endswith(".out"))
    groups = {"same": [], "plan": [], "order": [], "results": [], "missing": []}
    details = {}
    for t in tests:
        p = os.path.join(plinth_dir, t + ".out")
        if not os.path.exists(p):
            groups["missing"].append(t)
            continue
        kind, shown = classify(os.path.join(heap_dir, t + ".out"), p)
        groups[kind].append(t)
        if shown:
            details[t] = shown
    print(f"Postgres's {title}, heap beside Plinth: {len(tests)} tests")
    names = {"same": "same output", "plan": "plans only", "order": "row order only",
             "results": "results or errors", "missing": "no Plinth output"}
    for k, title in names.items():
        print(f"  {title:18} {len(groups[k]):4}  {' '.join(groups[k]) if k != 'same' else ''}")
    for t in groups["results"]:
        print(f"\n== {t}")
        for line in details.get(t, []):
            print("   " + line[:160])


if __name__ == "__main__":
    main()
