#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Many applications at once (p11stress): 50 processes with 20 threads each list and read attributes
# while another signs in a loop, for 30 s. No call may fail and nothing may hang; the per-call p50/p99
# go to the log (make bench prints them too).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
out=$(host_env timeout 180 "$IMZA_BUILDDIR/tests/bench/p11stress" "$IMZA_MODULE" "$IMZA_PIN" 50 20 30 2>>"$LOG")
rc=$?
echo "$out" >>"$LOG"
echo "$out" | grep -E 'p99|stress ' | sed 's/^/# /'
[ "$rc" = 0 ] && pass "51 processes, 1001 threads, 30 s: every call succeeded, every process ended" ||
	fail "51 processes, 1001 threads, 30 s: every call succeeded, every process ended (rc $rc)"
for k in C_GetSlotList C_OpenSession C_FindObjects C_GetAttributeValue C_Sign; do
	n=$(sed -n "s/^bench stress_${k}_calls \([0-9]*\) calls/\1/p" <<<"$out")
	[ "${n:-0}" -gt 0 ] && pass "$k was called ($n)" || fail "$k was called"
done
check_output "imzad still answers" 'card: AHMET' "$IMZA_BUILDDIR/tools/imzactl" status
done_testing
