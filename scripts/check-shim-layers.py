"""The C shim's files must call each other without a cycle (plinth.c's
header comment draws the layers). Finds, for every file, the plinth_*
functions it calls that another file defines, and fails on a cycle of such
calls. Run by scripts/test.sh unit."""
import os
import re
import sys

SHIM = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "CPlinth")
DEFINITION = re.compile(r"^(plinth_\w+)\(", re.M)   # a function name at the start of a line: its definition
CALL = re.compile(r"\b(plinth_\w+)\s*\(")

files = sorted(f for f in os.listdir(SHIM) if f.endswith(".c"))
text = {f: open(os.path.join(SHIM, f)).read() for f in files}
defined = {}
for f in files:
    for name in DEFINITION.findall(text[f]):
        defined[name] = f
calls = {f: sorted({defined[n] for n in CALL.findall(text[f]) if n in defined and defined[n] != f}) for f in files}


def cycle_from(start):
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in calls[node]:
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


for f in files:
    c = cycle_from(f)
    if c:
        print("C shim files call each other in a cycle: " + " -> ".join(c))
        sys.exit(1)
for f in files:
    print(f"{f:18s} calls {', '.join(calls[f]) or '-'}")
