#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad peers on imzad's socket (see daemon_peers.py): each loses at most its own connection.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
pid=$("$STACK" pids "$IMZA_STACK_DIR" | awk '$2 == "imzad" { print $1 }')
run_checks python3 "$IMZA_SRCDIR/tests/integration/daemon_peers.py"
pid2=$("$STACK" pids "$IMZA_STACK_DIR" | awk '$2 == "imzad" { print $1 }')
[ -n "$pid" ] && [ "$pid" = "$pid2" ] && pass "imzad is the same process (pid $pid)" || fail "imzad is the same process"
check_output "imzactl still gets the status" 'card: AHMET' "$IMZA_BUILDDIR/tools/imzactl" status
done_testing
