#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The manual pages render without a warning (MANWIDTH=80 man --warnings -l), each with its NAME, and
# each says what the program's own --help says it takes.
. "$(dirname "$0")/../lib/tap.sh"
need man man-db
for page in imzactl.1 imza-prompt.1 imzad.conf.5 imza-pkcs11.8 imzad.8; do
	f=$IMZA_SRCDIR/man/$page
	out=$(MANWIDTH=80 man --warnings -l "$f" 2>"$WORK/err")
	echo "$out" >>"$LOG"
	[ -n "$out" ] && [ ! -s "$WORK/err" ] && grep -q '^NAME' <<<"$out" &&
		pass "$page renders without a warning ($(wc -l <<<"$out") lines)" ||
		fail "$page renders without a warning: $(head -c 300 "$WORK/err")"
done
# Every option the programs name in their usage is in their page.
opts() { "$@" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u; }
for prog in "imzactl:$IMZA_BUILDDIR/tools/imzactl" "imzad:$IMZA_BUILDDIR/daemon/imzad"; do
	name=${prog%%:*} bin=${prog#*:}
	page=$(ls "$IMZA_SRCDIR/man/$name".[0-9])
	text=$(MANWIDTH=200 man -l "$page" 2>/dev/null)
	gone=""
	for o in $(opts "$bin"); do grep -q -- "$o" <<<"$text" || gone+=" $o"; done
	[ -z "$gone" ] && pass "$name's page names every option of its usage" ||
		fail "$name's page lacks:$gone"
done
done_testing
