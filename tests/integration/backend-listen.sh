#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imzad looks at a vendor module's slots only while someone follows them: with no application connected
# the helper gets no C_GetSlotList (IMZA_BACKEND_CALLS: its count of calls); an application waiting in
# C_WaitForSlotEvent sees the token taken out and put back within 1 s; a token put back while nobody
# listened is in the first slot list of the next application.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
hsm_up "$PY"
"$PY" -c 'import PyKCS11' 2>/dev/null || missing "PyKCS11 (package python3-pykcs11)"
mkdir -p "$WORK/trig"
export IMZA_QUIRK_REMOVED=$WORK/trig/removed IMZA_BACKEND_CALLS=1
imzad_module "$QUIRK"
stack_up s
M=$IMZA_MODULE
ILOG=$IMZA_STACK_DIR/imzad.log
# slotlists: C_GetSlotList calls the helper made so far (its last count line); allcalls: every call.
slotlists() {
	local line
	line=$(grep 'imza-backend\[[0-9]*\]: calls' "$ILOG" | tail -n 1)
	sed -n 's/.* C_GetSlotList=\([0-9]*\).*/\1/p' <<<"$line" | grep . || echo 0
}
allcalls() {
	grep 'imza-backend\[[0-9]*\]: calls' "$ILOG" | tail -n 1 |
		awk '{ for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) n += kv[2] } END { print n + 0 }'
}
has_token() { host_env pkcs11-tool --module "$M" -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL"; }

ok=0
for _ in $(seq 1 100); do has_token && { ok=1; break; }; sleep 0.1; done
[ $ok = 1 ] && pass "the module's token is listed" || bail "the module's token is not listed; see the log"
sleep 1
a=$(allcalls)
sleep 3
b=$(allcalls)
[ "$a" = "$b" ] && pass "nobody listening: no module call at all in 3 s, C_GetSlotList or other ($b calls before)" ||
	fail "nobody listening: no module call in 3 s ($a, then $b)"
b=$(slotlists)

# An application waiting for slot events: each event with the time it came.
host_env exec "$PY" -u - "$M" >"$WORK/events" 2>>"$LOG" <<'EOF' &
import sys, time, PyKCS11
lib = PyKCS11.PyKCS11Lib()
lib.load(sys.argv[1])
lib.getSlotList()
print("ready", flush=True)
while True:
    slot = lib.waitForSlotEvent()
    print("event %d %.3f" % (slot, time.time()), flush=True)
EOF
lpid=$!
for _ in $(seq 1 50); do grep -q ready "$WORK/events" && break; sleep 0.1; done
sleep 1
# since T: seconds from T to the first event after it (empty if none within 3 s).
since() {
	local t0=$1 line
	for _ in $(seq 1 30); do
		line=$(awk -v t0="$t0" '$1 == "event" && $3 >= t0 { print $3 - t0; exit }' "$WORK/events")
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.1
	done
}
t0=$(date +%s.%N)
touch "$IMZA_QUIRK_REMOVED"
dt=$(since "$t0")
[ -n "$dt" ] && awk -v d="$dt" 'BEGIN { exit !(d < 1) }' && pass "an application waiting for slot events sees the token taken out in ${dt}s" ||
	fail "an application waiting for slot events sees the token taken out within 1 s (${dt:-no event})"
sleep 0.5
t0=$(date +%s.%N)
rm -f "$IMZA_QUIRK_REMOVED"
dt=$(since "$t0")
[ -n "$dt" ] && awk -v d="$dt" 'BEGIN { exit !(d < 1) }' && pass "and put back in ${dt}s" ||
	fail "and put back within 1 s (${dt:-no event})"
a=$(slotlists)
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
[ "$a" -gt "$b" ] && pass "while it listened, the slots were looked at ($((a - b)) C_GetSlotList)" ||
	fail "while it listened, the slots were looked at ($b, then $a)"

# Nobody listens again; the token is taken out and put back meanwhile: the next application's first
# slot list has it.
sleep 1
touch "$IMZA_QUIRK_REMOVED"
sleep 1
a=$(allcalls)
sleep 2
b=$(allcalls)
[ "$a" = "$b" ] && pass "the application gone: no module call in 2 s" || fail "the application gone: no module call in 2 s ($a, then $b)"
out=$(host_env pkcs11-tool --module "$M" -L 2>&1)
echo "$out" >>"$LOG"
! grep -q "token label *: $SOFTHSM_LABEL" <<<"$out" && pass "taken out while nobody listened: the next application's first slot list has it not" ||
	fail "taken out while nobody listened: the next application's first slot list has it not"
rm -f "$IMZA_QUIRK_REMOVED"
sleep 1
out=$(host_env pkcs11-tool --module "$M" -L 2>&1)
echo "$out" >>"$LOG"
grep -q "token label *: $SOFTHSM_LABEL" <<<"$out" && pass "put back while nobody listened: the next application's first slot list has it" ||
	fail "put back while nobody listened: the next application's first slot list has it"
done_testing
