#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A module's keys that need the PIN at each use (the quirky module's context-specific: every private key
# says CKA_ALWAYS_AUTHENTICATE, shown only after the login, and the module's C_Sign and C_Decrypt need
# its own C_Login(CKU_CONTEXT_SPECIFIC) after each Init). Through imza they behave as the PIV card's 9C
# key does: the private key object says CKA_ALWAYS_AUTHENTICATE after the login; an application's
# C_Login(CKU_CONTEXT_SPECIFIC) after C_SignInit is what lets its C_Sign through (without it:
# CKR_USER_NOT_LOGGED_IN), and imzad's helper gives the module its context login between the module's
# Init and its operation. pkcs11-tool (which does the context login itself), PyKCS11
# (tests/integration/context_probe.py) and the web signing path sign with such a key; OpenSSL verifies.
# A module that refuses its context login leaves nothing in the way of the next signature.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"
. "$(dirname "$0")/../lib/https.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
hsm_up pkcs11-tool
export IMZA_QUIRKS=context-specific IMZA_QUIRK_CONTEXT_REFUSE=$WORK/refuse
imzad_module "$QUIRK"
https_stack_up
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@"; }
on_hsm() { imza --token-label "$SOFTHSM_LABEL" "$@"; }

found=0
for _ in $(seq 1 150); do
	imza -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" && { found=1; break; }
	sleep 0.1
done
[ $found = 1 ] || bail "the token is not listed"
D=$WORK/context_probe
mkdir -p "$D"
printf 'her imza için PIN' >"$D/data"

# pkcs11-tool logs in, sees CKA_ALWAYS_AUTHENTICATE after C_SignInit and does the context login.
for k in "01 SHA256-RSA-PKCS" "03 ECDSA-SHA256"; do
	read -r id mech <<<"$k"
	fmt=()
	[ "$id" = 03 ] && fmt=(--signature-format openssl)
	out=$(on_hsm --login --pin "$SOFTHSM_PIN" --sign --id "$id" -m "$mech" "${fmt[@]}" -i "$D/data" -o "$D/$id.sig" 2>&1)
	echo "$out" >>"$LOG"
	openssl dgst -sha256 -verify "$WORK/hsm/$id.pub.pem" -signature "$D/$id.sig" "$D/data" >>"$LOG" 2>&1 &&
		pass "pkcs11-tool --sign --login (its own context login), key $id $mech: OpenSSL verifies" ||
		fail "pkcs11-tool --sign --login, key $id $mech: OpenSSL verifies"
done

# A module that refuses its own context login keeps the operation going (PKCS#11): the helper drops it
# with the session that held it, and the next signature goes through.
touch "$WORK/refuse"
out=$(on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$D/data" -o "$D/refused.sig" 2>&1)
echo "$out" >>"$LOG"
rm -f "$WORK/refuse"
grep -q 'CKR_PIN_INCORRECT' <<<"$out" && pass "the module refusing its context login: C_Sign fails (CKR_PIN_INCORRECT)" ||
	fail "the module refusing its context login: C_Sign fails (CKR_PIN_INCORRECT)"
out=$(on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$D/data" -o "$D/after.sig" 2>&1)
echo "$out" >>"$LOG"
openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$D/after.sig" "$D/data" >>"$LOG" 2>&1 &&
	pass "then the next signature goes through: the refused operation did not stay in the way" ||
	fail "then the next signature goes through"

# PyKCS11 step by step: without the context login, with it, a wrong PIN at it; sign and decrypt.
printf 'gizli' >"$D/plain"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/hsm/02.pub.pem" -in "$D/plain" -out "$D/enc" 2>>"$LOG"
if ! host_env "$PY" -c 'import PyKCS11' 2>>"$LOG"; then
	skip "PyKCS11 with the context login" "python3-pykcs11 is not installed"
else
	run_checks host_env "$PY" "$IMZA_SRCDIR/tests/integration/context_probe.py" "$M" "$SOFTHSM_LABEL" "$SOFTHSM_PIN" "$D"
	openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$D/ctx.sig" "$D/data" >>"$LOG" 2>&1 &&
		pass "PyKCS11's signature after its context login verifies with OpenSSL" ||
		fail "PyKCS11's signature after its context login verifies with OpenSSL"
	cmp -s "$D/ctx.dec" "$D/plain" && pass "PyKCS11's decryption after its context login gives the bytes OpenSSL encrypted" ||
		fail "PyKCS11's decryption after its context login gives the bytes OpenSSL encrypted"
fi

# The web signing path: one job verifies the PIN and signs; the module gets its context login too.
ORIGIN=https://basvuru.kamusm.gov.tr
"$CTL" grants allow "$ORIGIN" >>"$LOG" 2>&1
api GET /v1/certificates "" -H "Origin: $ORIGIN" >/dev/null
CERT=$(json '[c["id"] for c in j["certificates"] if c["common_name"] == "AYŞE KAYA" and c["qualified"]][0]')
script "consent always" "pin $SOFTHSM_PIN"
printf 'Başvuru beyanı: her imzada PIN isteyen bir anahtarla.' >"$T/decl.txt"
sign_request web "$T/decl.txt"
st=$(api POST /v1/sign "@$T/web.req" -H "Origin: $ORIGIN")
json 'j.get("signature","")' | base64 -d >"$T/web.p7s" 2>>"$LOG"
[ "$st" = 200 ] && openssl cms -verify -inform DER -in "$T/web.p7s" -CAfile "$WORK/hsm/ca.crt.pem" -purpose any \
	-out "$T/web.out" >>"$LOG" 2>&1 && cmp -s "$T/web.out" "$T/decl.txt" &&
	pass "POST /v1/sign with the key: the CAdES signature verifies, over exactly the text" ||
	fail "POST /v1/sign with the key ($st $(code))"

done_testing
