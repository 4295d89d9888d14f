#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Source rules from STYLE.md that a machine can check: no banned calls, one clang-format style, the
# licence named in every source file.
. "$(dirname "$0")/../lib/tap.sh"

cd "$IMZA_SRCDIR" || bail "no source dir"
# The C files: those git tracks in a checkout; in a release tree (make dist, no git of its own; make
# distcheck's lies inside the checkout) every one, less a build's and make distcheck's directories.
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else
	mapfile -t files < <(find . \( -path ./_build -o -path ./_inst -o -name node_modules -o -name .git \) -prune -o \
		-type f \( -name '*.c' -o -name '*.h' \) ! -path ./config.h -print | sed 's|^\./||' | sort)
fi
[ ${#files[@]} -gt 0 ] || bail "no C files found"
bad=$(grep -nE '\b(strcpy|sprintf|strcat|gets|atoi|vsprintf)[[:space:]]*\(' "${files[@]}" /dev/null || true)
[ -z "$bad" ] && pass "no banned calls in ${#files[@]} files" || { echo "$bad" >>"$LOG"; fail "no banned calls"; }
# The layout (docs/LAYOUT.md): the card layer knows nothing above it: no web endpoint, no records or
# cache, no dialogs, not imzad's RPC server or its shared state.
up=$(grep -nE '#include "daemon/(web|store|ui)/|#include "daemon/(daemon|server|admin)\.h"' daemon/card/*.[ch] || true)
[ -z "$up" ] && pass "daemon/card/ includes nothing from daemon/web/, store/, ui/ or imzad's RPC server" ||
	{ echo "$up" >>"$LOG"; fail "daemon/card/ includes nothing from above it"; }
# ... and no file of imzad calls another that calls it back, through any number of others.
lib=$IMZA_BUILDDIR/daemon/libimzad.a
if [ -f "$lib" ] && command -v nm >/dev/null; then
	out=$(python3 "$IMZA_SRCDIR/tests/integration/file_cycles.py" "$lib" 2>&1)
	[ $? = 0 ] && pass "no two files of daemon/ call each other in a circle (nm over libimzad.a)" ||
		{ echo "$out" >>"$LOG"; fail "no two files of daemon/ call each other in a circle: $out"; }
else
	skip "no files of daemon/ in a circle" "libimzad.a not built"
fi
if command -v clang-format >/dev/null; then
	check "every C file follows .clang-format" clang-format --dry-run -Werror "${files[@]}"
else
	skip "every C file follows .clang-format" "clang-format not installed"
fi
out=$(python3 "$IMZA_SRCDIR/tests/integration/spdx.py" "$IMZA_SRCDIR" 2>&1)
[ $? = 0 ] && pass "an SPDX line (LGPL-2.1-or-later) in every source file" ||
	{ echo "$out" >>"$LOG"; fail "an SPDX line in every source file: $(echo "$out" | head -n 5 | tr '\n' ' ')(tests/integration/spdx.py --add)"; }
done_testing
