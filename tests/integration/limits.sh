#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Limits that fail loudly: an application that imzad refuses at its connection cap, or whose
# connection is lost, gets an error, never "no slots" while the card is in; imzad raises its
# open-file limit so that 1000 applications holding connections all see the card; and
# C_GetTokenInfo's session limit is the one C_OpenSession enforces.
. "$(dirname "$0")/../lib/tap.sh"

HOLD=$IMZA_BUILDDIR/tests/tools/p11hold
# The common desktop default: a soft limit of 1024 under a higher hard one. imzad must raise it.
ulimit -Sn 1024
stack_up s
D=$WORK/s
hold() { host_env "$HOLD" "$IMZA_MODULE" "$@" 2>>"$LOG" | tee -a "$LOG"; }
restart_imzad() { # restart_imzad [ARGS]: imzad again, with these extra arguments
	"$STACK" daemon "$D" stop >>"$LOG" 2>&1
	IMZA_IMZAD_ARGS="$*" "$STACK" daemon "$D" start >>"$LOG" 2>&1 || bail "imzad did not come back"
}

# At the cap (lowered to 8 so that a few processes reach it): 8 see the card, the 9th an error.
restart_imzad --max-clients 8
out=$(hold 9)
[[ $out == *"card=8 zero=0 error=1 first_error=0x6"* ]] &&
	pass "the connection past the cap gets CKR_FUNCTION_FAILED, not zero slots ($out)" ||
	fail "the connection past the cap gets CKR_FUNCTION_FAILED, not zero slots ($out)"
grep -q 'refused a connection: 8 clients already' "$D/imzad.log" && pass "imzad logs the refusal" ||
	fail "imzad logs the refusal"
grep -q 'near the cap of 8' "$D/imzad.log" && pass "imzad logs once that it is near its cap" ||
	fail "imzad logs once that it is near its cap"

# Without --max-clients, the cap comes from the raised open-file limit.
restart_imzad
pid=$(cut -d' ' -f1 "$D/pids/imzad")
soft=$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")
hard=$(awk '/Max open files/ {print $5}' "/proc/$pid/limits")
[ "$soft" = "$hard" ] && pass "imzad raised its soft open-file limit to the hard one ($soft)" ||
	fail "imzad raised its soft open-file limit to the hard one (soft $soft, hard $hard)"

# 1000 applications holding their connections at once: every one sees the card.
t0=$(date +%s)
out=$(hold 1000)
t1=$(date +%s)
[[ $out == *"answered=1000 card=1000 zero=0 error=0"* ]] &&
	pass "1000 applications holding connections all see the card ($out, $((t1 - t0)) s)" ||
	fail "1000 applications holding connections all see the card ($out, $((t1 - t0)) s)"

# The daemon killed between two calls, or with a call in flight, and not restarted: that call fails.
cat >"$WORK/lost.py" <<'PY'
import ctypes, os, signal, sys, time
m = ctypes.CDLL(sys.argv[1])
fl = ctypes.c_void_p()
m.C_GetFunctionList(ctypes.byref(fl))
ul = ctypes.c_ulong
ptrs = ctypes.cast(fl, ctypes.POINTER(ctypes.c_void_p))
# CK_FUNCTION_LIST: a CK_VERSION (padded to a pointer), then C_Initialize, C_Finalize, C_GetInfo,
# C_GetFunctionList, C_GetSlotList...
proto = ctypes.CFUNCTYPE(ul, ctypes.c_ubyte, ctypes.POINTER(ul), ctypes.POINTER(ul))
init = ctypes.CFUNCTYPE(ul, ctypes.c_void_p)(ptrs[1])
slots = proto(ptrs[5])
def listing():
    n = ul(8); arr = (ul * 8)()
    rv = slots(1, arr, ctypes.byref(n))
    return rv, n.value
print("init", init(None))
print("before", *listing())
os.kill(int(sys.argv[2]), signal.SIGKILL)
time.sleep(0.2)
print("after", *listing())
print("then", *listing())
PY
pid=$(cut -d' ' -f1 "$D/pids/imzad")
out=$(host_env python3 "$WORK/lost.py" "$IMZA_MODULE" "$pid" 2>&1)
echo "$out" >>"$LOG"
[[ $out == *"before 0 1"* && $out == *"after 6 "* ]] &&
	pass "imzad killed between calls: the next listing is CKR_FUNCTION_FAILED, not zero slots" ||
	fail "imzad killed between calls: the next listing is CKR_FUNCTION_FAILED, not zero slots ($(echo $out))"
[[ $out == *"then 0 0"* ]] && pass "with no imzad at all, a listing is empty (as without a daemon)" ||
	fail "with no imzad at all, a listing is empty (as without a daemon) ($(echo $out))"
rm -f "$D/pids/imzad"
restart_imzad

# Sessions: C_GetTokenInfo says 64, and the 65th C_OpenSession gets CKR_SESSION_COUNT.
out=$(hold 1 65)
[[ $out == "max_sessions=64 opened=64 rv=0xb1" ]] &&
	pass "C_GetTokenInfo's session limit (64) holds: the 65th session gets CKR_SESSION_COUNT" ||
	fail "C_GetTokenInfo's session limit holds when 65 sessions are opened ($out)"

stacks_down
done_testing
