#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PIN counter of a module token (the quirky module's pin-counter: 3 tries, shown only as
# CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY and CKF_USER_PIN_LOCKED). imzad reads the flags again
# after each wrong PIN and shows them as imza's own PIN state: the token flags applications see,
# `imzactl status`, and the signing window's last-try question. Each PIN reaches the module once, never
# retried (the module counts its C_Login calls); a right PIN clears the state.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"
. "$(dirname "$0")/../lib/https.sh"

hsm_up pkcs11-tool
export IMZA_QUIRKS=pin-counter IMZA_QUIRK_LOGINS=$WORK/logins
: >"$WORK/logins"
imzad_module "$QUIRK"
https_stack_up
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@"; }
on_hsm() { imza --token-label "$SOFTHSM_LABEL" "$@"; }
# The module token's flags as imza shows them, and its line in imzactl status.
flags() { imza -L 2>/dev/null | awk -v l="$SOFTHSM_LABEL" '/token label/ { on = index($0, l) > 0 } on && /token flags/ { print; exit }'; }
tries() { "$CTL" status 2>&1 | awk -v l="$SOFTHSM_LABEL" '/^  card: / { on = index($0, l) > 0 } on && /pin tries left/ { sub(/^ *pin tries left: */, ""); print; exit }'; }
logins() { paste -sd, "$WORK/logins"; }
wrong() { on_hsm --login --pin 999999 --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/bad" 2>&1; }

found=0
for _ in $(seq 1 150); do
	imza -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" && { found=1; break; }
	sleep 0.1
done
[ $found = 1 ] || bail "the token is not listed"
printf 'pin counter' >"$WORK/data"
f=$(flags)
echo "# before: $f; tries: $(tries)" >>"$LOG"
! grep -qE 'count low|final|locked' <<<"$f" && [ -z "$(tries)" ] &&
	pass "a fresh token: no PIN flag, no count in imzactl status" || fail "a fresh token: no PIN flag ($f; $(tries))"

out=$(wrong)
echo "$out" >>"$LOG"
f=$(flags)
echo "# one wrong: $f; tries: $(tries); logins: $(logins)" >>"$LOG"
grep -q CKR_PIN_INCORRECT <<<"$out" && grep -q 'user PIN count low' <<<"$f" && ! grep -q 'final' <<<"$f" &&
	pass "a wrong PIN: CKR_PIN_INCORRECT, and the token's flags say user PIN count low" ||
	fail "a wrong PIN: the token's flags say user PIN count low ($f)"
grep -q '^fewer than all' <<<"$(tries)" && pass "imzactl status says fewer tries than all, not a made-up number" ||
	fail "imzactl status says fewer tries than all ($(tries))"
[ "$(logins)" = wrong ] && pass "the wrong PIN reached the module once, not retried" || fail "the wrong PIN reached the module once ($(logins))"

out=$(wrong)
echo "$out" >>"$LOG"
f=$(flags)
echo "# two wrong: $f; tries: $(tries); logins: $(logins)" >>"$LOG"
grep -q 'final user PIN try' <<<"$f" && grep -q 'user PIN count low' <<<"$f" && [ "$(tries)" = 1 ] &&
	pass "a second one: final user PIN try, and imzactl status says 1 try left" ||
	fail "a second one: final user PIN try, 1 try left ($f; $(tries))"

# The signing window asks before the last try: "no" leaves the module untouched.
ORIGIN=https://basvuru.kamusm.gov.tr
"$CTL" grants allow "$ORIGIN" >>"$LOG" 2>&1
api GET /v1/certificates "" -H "Origin: $ORIGIN" >/dev/null
CERT=$(json '[c["id"] for c in j["certificates"] if c["common_name"] == "AYŞE KAYA" and c["qualified"]][0]')
printf 'Son deneme.' >"$T/decl.txt"
sign_request last "$T/decl.txt"
script 'consent always' 'lasttry no' "pin $SOFTHSM_PIN"
: >"$PLOG"
st=$(api POST /v1/sign "@$T/last.req" -H "Origin: $ORIGIN")
expect "at the final try the signing window asks first; answered no" 403 user_cancelled "$st"
python3 - "$PLOG" <<'PY' >>"$LOG" 2>&1 && [ "$(logins)" = wrong,wrong ] &&
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert "GETPIN" not in [l["cmd"] for l in lines], lines
d = [l["arg"] for l in lines if l["cmd"] == "SETDESC"][-1]
assert "yalnızca 1 PIN deneme hakkı kaldı" in d, d
PY
	pass "the window said only 1 try is left, no PIN was asked, and the module was not given one" ||
	fail "the window's last-try question ($(logins))"
script 'consent always' 'lasttry yes' "pin $SOFTHSM_PIN"
st=$(api POST /v1/sign "@$T/last.req" -H "Origin: $ORIGIN")
f=$(flags)
echo "# right: $f; tries: $(tries); logins: $(logins)" >>"$LOG"
[ "$st" = 200 ] && ! grep -qE 'count low|final|locked' <<<"$f" && [ -z "$(tries)" ] &&
	pass "answered yes with the right PIN: signed, and the PIN flags are clear again" ||
	fail "answered yes with the right PIN: signed, flags clear ($st; $f; $(tries))"

for _ in 1 2 3; do out=$(wrong); echo "$out" >>"$LOG"; done
f=$(flags)
echo "# three wrong: $f; tries: $(tries); logins: $(logins)" >>"$LOG"
grep -q CKR_PIN_LOCKED <<<"$out" && grep -q 'user PIN locked' <<<"$f" && [ "$(tries)" = 0 ] &&
	pass "three wrong PINs: CKR_PIN_LOCKED, user PIN locked, imzactl status says 0" ||
	fail "three wrong PINs: locked ($f; $(tries))"
out=$(on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/sig" 2>&1)
echo "$out" >>"$LOG"
grep -q CKR_PIN_LOCKED <<<"$out" && pass "locked, even the right PIN is CKR_PIN_LOCKED" || fail "locked, even the right PIN is CKR_PIN_LOCKED"
[ "$(logins)" = wrong,wrong,ok,wrong,wrong,locked,locked ] &&
	pass "every PIN reached the module exactly once, none retried ($(logins))" ||
	fail "every PIN reached the module exactly once ($(logins))"

done_testing
