# SPDX-License-Identifier: LGPL-2.1-or-later
"""file_cycles: the files of a static library that call each other in a circle, from its symbols
(nm -A): file A uses a function or object that file B defines, and B (perhaps through others) uses
one of A's. Prints each circle as a line of object names and exits 1 when there is one, 0 otherwise.
Used by tests/integration/lint.sh on daemon/libimzad.a (docs/LAYOUT.md)."""
import collections
import subprocess
import sys


def graph(lib):
    out = subprocess.check_output(["nm", "-A", lib]).decode()
    defs, uses = {}, collections.defaultdict(set)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or ":" not in parts[0]:
            continue
        obj = parts[0].split(":")[1]
        kind, sym = parts[-2], parts[-1]
        if kind in ("T", "D", "B", "R"):
            defs[sym] = obj
        elif kind == "U":
            uses[obj].add(sym)
    g = collections.defaultdict(set)
    for obj, syms in uses.items():
        for s in syms:
            if s in defs and defs[s] != obj:
                g[obj].add(defs[s])
    return g


def circles(g):
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(list(g)):
        if v not in index:
            visit(v)
    return found


found = circles(graph(sys.argv[1]))
for c in found:
    print(" ".join(c))
sys.exit(1 if found else 0)
