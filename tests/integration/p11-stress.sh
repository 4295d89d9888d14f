#!/usr/bin/env bash
# Many applications at once (p11stress): processes with many threads each list and read attributes
# while another signs in a loop. No call may fail and nothing may hang. The full-size run (50 processes
# x 20 threads, 30 s) with its latency figures is part of make bench.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
out=$(host_env timeout 120 "$IMZA_BUILDDIR/tests/bench/p11stress" "$IMZA_MODULE" "$IMZA_PIN" 10 10 5 2>>"$LOG")
rc=$?
echo "$out" >>"$LOG"
echo "$out" | grep -E 'p99|stress ' | sed 's/^/# /'
[ "$rc" = 0 ] && pass "11 processes, 101 threads, 5 s: every call succeeded, every process ended" ||
	fail "11 processes, 101 threads, 5 s: every call succeeded, every process ended (rc $rc)"
for k in C_GetSlotList C_OpenSession C_FindObjects C_GetAttributeValue C_Sign; do
	n=$(sed -n "s/^bench stress_${k}_calls \([0-9]*\) calls/\1/p" <<<"$out")
	[ "${n:-0}" -gt 0 ] && pass "$k was called ($n)" || fail "$k was called"
done
check_output "imzad still answers" 'card: AHMET' "$IMZA_BUILDDIR/tools/imzactl" status
done_testing
