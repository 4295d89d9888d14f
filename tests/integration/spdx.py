#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""spdx.py [--add] DIR: every source file git tracks in DIR (every one in a release tree) (C, headers, scripts, makefiles, units, web
files, suppressions, translations; not the fuzz corpora, JSON or prose) names imza's licence in an SPDX
line within its first three lines. Prints the files that do not and exits 1; with --add, adds the line
(after a #! or <!DOCTYPE> line) and prints what it changed."""
import os
import subprocess
import sys

TAG = "SPDX-License-Identifier: LGPL-2.1-or-later"
C = (".c", ".h", ".css", ".js", ".mjs")
HASH = (".sh", ".py", ".mk", ".am", ".ac", ".in", ".socket", ".service", ".supp", ".po")


def kind(root, f):
    base = os.path.basename(f)
    if f.startswith("tests/fuzz/corpus/"):
        return None
    if base.endswith(C):
        return "c"
    if base.endswith(HASH):
        return "hash"
    if base.endswith(".html"):
        return "html"
    if "." not in base:
        try:
            with open(os.path.join(root, f), "rb") as fh:
                return "hash" if fh.read(2) == b"#!" else None
        except OSError:
            return None
    return None


# A release tree (make dist) has no git: there every file counts, less what the autotools generate and
# what a build or make distcheck adds.
SKIP_TOP = {"build-aux", "m4", "autom4te.cache", "_build", "_inst", ".git"}
SKIP_ANY = {"node_modules", ".deps", ".libs"}
GENERATED = {"configure", "aclocal.m4", "config.status", "config.log", "libtool", "Makefile", "Makefile.in",
             "config.h", "config.h.in"}


def source_files(root):
    """The files git tracks when root is the top of a git checkout, else every source file in root."""
    top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"], capture_output=True,
                         text=True)
    if top.returncode == 0 and os.path.realpath(top.stdout.strip()) == os.path.realpath(root):
        return subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True,
                              check=True).stdout.split()
    files = []
    for d, dirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = [x for x in dirs if x not in SKIP_ANY and not (rel == "." and x in SKIP_TOP)]
        files += [os.path.normpath(os.path.join(rel, n)) for n in names if n not in GENERATED]
    return files


def main():
    add = "--add" in sys.argv[1:]
    root = [a for a in sys.argv[1:] if a != "--add"][0]
    files = source_files(root)
    missing = []
    for f in files:
        k = kind(root, f)
        p = os.path.join(root, f)
        if k is None or not os.path.isfile(p):
            continue
        with open(p, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        if any(TAG in line for line in lines[:3]):
            continue
        missing.append(f)
        if not add:
            continue
        line = {"c": "/* %s */", "html": "<!-- %s -->"}.get(k, "# %s") % TAG
        first = lines[0].lower() if lines else ""
        lines.insert(1 if first.startswith("#!") or first.startswith("<!doctype") else 0, line)
        with open(p, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines))
    for f in missing:
        print(f)
    return 0 if add or not missing else 1


sys.exit(main())
