#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# PIN change and unblock on a vendor module's token (issue 14: where a module does an operation itself,
# imza passes it through). SoftHSM behind the quirky module's pin-counter (3 tries), through imza:
# pkcs11-tool --change-pin logged in and in an unlogged session (the module's C_SetPIN in a read-write
# session), a lock, the unblock both ways PKCS#11 applications do it (C_Login(CKU_SO) + C_InitPIN, and
# C_SetPIN(SO PIN, new PIN) with no login while locked: the module's SO login and C_InitPIN), the SO PIN's
# own change, a wrong SO PIN, and `imzactl pin change` through the test pinentry. Every PIN reaches the
# module once (the module's log of its C_Login/C_SetPIN/C_InitPIN answers); none is in imzad's log.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

hsm_up pkcs11-tool
export IMZA_QUIRKS=pin-counter IMZA_QUIRK_LOGINS=$WORK/calls
: >"$WORK/calls"
imzad_module "$QUIRK"
stack_up s
CTL=$IMZA_BUILDDIR/tools/imzactl
imza() { host_env pkcs11-tool --module "$IMZA_MODULE" --token-label "$SOFTHSM_LABEL" "$@" 2>&1; }
calls() { paste -sd, "$WORK/calls"; }
since() { tail -n +"$(($1 + 1))" "$WORK/calls" | paste -sd,; }
mark() { wc -l <"$WORK/calls"; }
flags() { host_env pkcs11-tool --module "$IMZA_MODULE" -L 2>/dev/null |
	awk -v l="$SOFTHSM_LABEL" '/token label/ { on = index($0, l) > 0 } on && /token flags/ { print; exit }'; }
signs() { # signs PIN: a signature with the module's key through imza
	imza --login --pin "$1" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/sig"
}
found=0
for _ in $(seq 1 150); do
	host_env pkcs11-tool --module "$IMZA_MODULE" -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" && {
		found=1
		break
	}
	sleep 0.1
done
[ $found = 1 ] || bail "the module's token is not listed"
printf 'pin' >"$WORK/data"
P1=$SOFTHSM_PIN P2=246813 P3=135724 P4=975310 P5=864201 SO=$SOFTHSM_SO_PIN SO2=87654321

m=$(mark)
out=$(imza --login --pin "$P1" --change-pin --new-pin "$P2")
echo "$out" >>"$LOG"
grep -q 'PIN successfully changed' <<<"$out" && [ "$(since "$m")" = "ok,set-pin ok" ] &&
	pass "logged in: --change-pin reaches the module's C_SetPIN once" ||
	fail "logged in: --change-pin ($(since "$m"); $(tail -1 <<<"$out"))"
out=$(signs "$P2")
echo "$out" >>"$LOG"
[ -s "$WORK/sig" ] && ! grep -q CKR_ <<<"$out" && pass "the new PIN signs" || fail "the new PIN signs"
rm -f "$WORK/sig"
out=$(signs "$P1")
grep -q CKR_PIN_INCORRECT <<<"$out" && pass "the old PIN is CKR_PIN_INCORRECT" || fail "the old PIN is refused ($out)"
# After that wrong try, a right login clears the count.
signs "$P2" >>"$LOG" 2>&1

# With no login: C_SetPIN in a read-write session that never logged in (pkcs11-tool logs in first).
setpin() { # setpin OLD NEW: C_SetPIN in an unlogged read-write session, its CKR printed
	IMZA_SRCDIR=$IMZA_SRCDIR host_env python3 - "$1" "$2" "$SOFTHSM_LABEL" <<'PY'
import ctypes, os, sys
sys.path.insert(0, os.environ["IMZA_SRCDIR"] + "/tests/integration")
import p11_ctypes
from p11_ctypes import UL, P, ref
m = p11_ctypes.load({"C_Initialize": [P], "C_GetSlotList": [ctypes.c_ubyte, P, P], "C_GetTokenInfo": [UL, P],
                     "C_OpenSession": [UL, UL, P, P, P], "C_SetPIN": [UL, P, UL, P, UL], "C_Finalize": [P]})
m.C_Initialize(None)
slots, n = (UL * 16)(), UL(16)
m.C_GetSlotList(1, ref(slots), ref(n))
label = sys.argv[3].encode()
for slot in list(slots)[: n.value]:
    ti = p11_ctypes.TokenInfo()
    m.C_GetTokenInfo(slot, ref(ti))
    if ti.label.rstrip(b" ") == label:
        s = UL(0)
        m.C_OpenSession(slot, 6, None, None, ref(s))
        old, new = sys.argv[1].encode(), sys.argv[2].encode()
        print(hex(m.C_SetPIN(s.value, old, len(old), new, len(new))))
m.C_Finalize(None)
PY
}
m=$(mark)
rv=$(setpin "$P2" "$P3" 2>>"$LOG")
[ "$rv" = 0x0 ] && [ "$(since "$m")" = "set-pin ok" ] &&
	pass "with no login: C_SetPIN is the module's C_SetPIN in a public read-write session, once" ||
	fail "with no login: C_SetPIN ($rv; $(since "$m"))"
m=$(mark)
rv=$(setpin "$P1" "$P4" 2>>"$LOG")
[ "$rv" = 0xa0 ] && [ "$(since "$m")" = "set-pin wrong" ] && grep -q 'user PIN count low' <<<"$(flags)" &&
	pass "a wrong current PIN: CKR_PIN_INCORRECT, counted once by the module, the token says count low" ||
	fail "a wrong current PIN ($rv; $(since "$m"); $(flags))"

# Locked: two more wrong tries.
for _ in 1 2; do signs 999999 >>"$LOG" 2>&1; done
grep -q 'user PIN locked' <<<"$(flags)" && pass "three wrong PINs lock the module's PIN" ||
	fail "three wrong PINs lock the module's PIN ($(flags))"

m=$(mark)
out=$(imza --login --login-type so --so-pin 00000000 --init-pin --new-pin "$P4")
echo "$out" >>"$LOG"
grep -q CKR_PIN_INCORRECT <<<"$out" && [ "$(since "$m")" = "so wrong" ] &&
	pass "a wrong SO PIN: CKR_PIN_INCORRECT from the module's own SO login, nothing set" ||
	fail "a wrong SO PIN ($(since "$m"); $(tail -1 <<<"$out"))"
m=$(mark)
out=$(imza --login --login-type so --so-pin "$SO" --init-pin --new-pin "$P4")
echo "$out" >>"$LOG"
grep -qi 'User PIN successfully initialized' <<<"$out" && [ "$(since "$m")" = "so ok,init-pin ok" ] &&
	pass "C_Login(CKU_SO) + C_InitPIN: the module's SO login and C_InitPIN, once each" ||
	fail "C_Login(CKU_SO) + C_InitPIN ($(since "$m"); $(tail -2 <<<"$out" | paste -sd' '))"
out=$(signs "$P4")
echo "$out" >>"$LOG"
[ -s "$WORK/sig" ] && ! grep -qE 'locked|count low' <<<"$(flags)" && pass "unblocked: the new PIN signs, the flags are clear" ||
	fail "unblocked: the new PIN signs ($(flags))"

for _ in 1 2 3; do signs 999999 >>"$LOG" 2>&1; done
m=$(mark)
out=$(imza --unlock-pin --puk "$SO" --new-pin "$P5")
echo "$out" >>"$LOG"
grep -qi 'PIN successfully changed\|successfully' <<<"$out" && [ "$(since "$m")" = "so ok,init-pin ok" ] &&
	pass "locked again, C_SetPIN(SO PIN, new PIN) with no login unblocks through the module" ||
	fail "C_SetPIN(SO PIN, new PIN) unblock ($(since "$m"); $(tail -2 <<<"$out" | paste -sd' '))"
rm -f "$WORK/sig"
signs "$P5" >>"$LOG" 2>&1
[ -s "$WORK/sig" ] && pass "and that PIN signs" || fail "and that PIN signs"

m=$(mark)
out=$(imza --login --login-type so --so-pin "$SO" --change-pin --new-pin "$SO2")
echo "$out" >>"$LOG"
grep -q 'PIN successfully changed' <<<"$out" && [ "$(since "$m")" = "so ok,set-pin ok" ] &&
	pass "as the SO, --change-pin changes the SO PIN in the module's SO session" ||
	fail "the SO PIN's change ($(since "$m"); $(tail -1 <<<"$out"))"
out=$(imza --login --login-type so --so-pin "$SO2" --init-pin --new-pin "$P1")
grep -qi 'successfully' <<<"$out" && pass "the new SO PIN logs the SO in" || fail "the new SO PIN logs the SO in ($out)"

# imzactl pin change: the questions in the test pinentry, the change in the module.
slot=$("$CTL" status 2>/dev/null | awk -v l="$SOFTHSM_LABEL" '/^slot / { s = $2 } /card: / && index($0, l) { print s + 0; exit }')
printf '%s\n' "next $P1" "next $P2" "next $P2" >"$IMZA_PINENTRY_SCRIPT"
m=$(mark)
check_output "imzactl pin change on the module's token (slot ${slot:-?}): PIN changed" '^PIN changed$' \
	env -u IMZA_PIN -u IMZA_PUK "$CTL" pin change --card "${slot:-0}"
[ "$(since "$m")" = "set-pin ok" ] && pass "the module was given the change once" || fail "the module was given the change once ($(since "$m"))"
rm -f "$WORK/sig"
signs "$P2" >>"$LOG" 2>&1
[ -s "$WORK/sig" ] && pass "the PIN imzactl set signs" || fail "the PIN imzactl set signs"

n=0
for p in "$P1" "$P2" "$P3" "$P4" "$P5" "$SO" "$SO2"; do
	grep -q -- "$p" "$WORK/s/imzad.log" && n=$((n + 1))
done
[ $n = 0 ] && pass "no PIN or SO PIN in imzad's log" || fail "no PIN or SO PIN in imzad's log ($n found)"
note "the module's calls: $(calls)"
done_testing
