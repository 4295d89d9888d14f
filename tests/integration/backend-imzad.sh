#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A vendor module's token served by imzad (module = in imzad.conf): SoftHSM2 behind the quirky module,
# run by imza-backend. Through imza-pkcs11.so the token is listed beside the PIV card with the objects
# SoftHSM itself lists (classes, ids, certificate DER); its RSA and EC keys sign and OpenSSL verifies;
# a wrong PIN is refused; a module that crashes costs only its helper: imzad keeps its pid, the PIV card
# keeps signing, and the token comes back once the helper is started again. pkcs11-tool --test, p11tool
# --test-sign, NSS certutil and PyKCS11 (every listed mechanism on every key, tests/integration/p11_sign.py)
# work on the module's token as on a card; a web signature with its qualified certificate verifies and is
# in the audit log.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"
. "$(dirname "$0")/../lib/https.sh"

hsm_up pkcs11-tool
mkdir -p "$WORK/trig"
export IMZA_QUIRK_CRASH=$WORK/trig/crash IMZA_QUIRK_REMOVED=$WORK/trig/removed
# (The sanitizer build's helper would catch the SIGSEGV and exit 1: let it die of it as a plain build does.)
export ASAN_OPTIONS=handle_segv=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
imzad_module "$QUIRK"
https_stack_up
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@"; }
hsm() { pkcs11-tool --module "$SOFTHSM_MODULE" "$@"; }
on_hsm() { imza --token-label "$SOFTHSM_LABEL" "$@"; }

# listed SECONDS: the token is in imza's slot list within SECONDS; prints how long it took.
listed() {
	local t0=$SECONDS i
	for i in $(seq 1 $(($1 * 10))); do
		imza -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" && { echo $((SECONDS - t0)); return 0; }
		sleep 0.1
	done
	return 1
}
gone() {
	local i
	for i in $(seq 1 $(($1 * 10))); do
		imza -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" || return 0
		sleep 0.1
	done
	return 1
}

listed 10 >/dev/null && pass "the SoftHSM token is listed through imza" || bail "the SoftHSM token is not listed; see the log"
out=$(imza -L 2>&1)
echo "$out" >>"$LOG"
[ "$(grep -c 'token label' <<<"$out")" = 2 ] && pass "beside the PIV card: two tokens" || fail "beside the PIV card: two tokens"
grep -q "\[quirk-pkcs11.so\]" <<<"$out" && pass "its slot is named after the module that serves it" ||
	fail "its slot is named after the module that serves it"

# The objects, as classes and ids, and each certificate's DER.
summary() { awk '/^[A-Z][A-Za-z ]*Object/ { cls = $1 " " $2 } /^  ID:/ { print cls, $2 }' | sort; }
mine=$(on_hsm -O --login --pin "$SOFTHSM_PIN" 2>>"$LOG" | summary)
theirs=$(hsm --token-label "$SOFTHSM_LABEL" -O --login --pin "$SOFTHSM_PIN" 2>>"$LOG" | summary)
echo "$mine" | sed 's/^/# imza: /' >>"$LOG"
echo "$theirs" | sed 's/^/# softhsm: /' >>"$LOG"
[ -n "$mine" ] && [ "$mine" = "$theirs" ] && pass "the objects (classes and ids) match SoftHSM's own listing ($(wc -l <<<"$mine") objects)" ||
	fail "the objects match SoftHSM's own listing"
same_der=1
for id in 01 02 03; do
	on_hsm --read-object --type cert --id "$id" -o "$WORK/imza-$id.der" >>"$LOG" 2>&1 || same_der=0
	hsm --token-label "$SOFTHSM_LABEL" --read-object --type cert --id "$id" -o "$WORK/hsm-$id.der" >>"$LOG" 2>&1 || same_der=0
	cmp -s "$WORK/imza-$id.der" "$WORK/hsm-$id.der" || same_der=0
done
[ "$same_der" = 1 ] && pass "each certificate's DER is SoftHSM's" || fail "each certificate's DER is SoftHSM's"

# Signatures through imza, verified by OpenSSL with the certificates' keys.
printf 'imza backend signature' >"$WORK/data"
on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/sig01" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/sig01" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "RSA-2048 (SHA256-RSA-PKCS) through imza verifies" || fail "RSA-2048 (SHA256-RSA-PKCS) through imza verifies"
on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 02 -m SHA256-RSA-PKCS-PSS -i "$WORK/data" -o "$WORK/sig02" >>"$LOG" 2>&1
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -verify "$WORK/hsm/02.pub.pem" \
	-signature "$WORK/sig02" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "RSA-3072 (SHA256-RSA-PKCS-PSS) through imza verifies" || fail "RSA-3072 (SHA256-RSA-PKCS-PSS) through imza verifies"
on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 03 -m ECDSA-SHA256 --signature-format openssl -i "$WORK/data" \
	-o "$WORK/sig03" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/hsm/03.pub.pem" -signature "$WORK/sig03" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "EC P-256 (ECDSA-SHA256) through imza verifies" || fail "EC P-256 (ECDSA-SHA256) through imza verifies"
out=$(on_hsm --login --pin 999999 --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/bad" 2>&1)
echo "$out" >>"$LOG"
grep -q CKR_PIN_INCORRECT <<<"$out" && pass "a wrong PIN is CKR_PIN_INCORRECT" || fail "a wrong PIN is CKR_PIN_INCORRECT"

# imzactl status names what serves each card.
st=$("$IMZA_BUILDDIR/tools/imzactl" --socket "$IMZA_SOCKET" status 2>&1)
echo "$st" >>"$LOG"
grep -q "^  driver: module $QUIRK\$" <<<"$st" && grep -q '^  driver: piv$' <<<"$st" &&
	pass "imzactl status names the module that serves the token, and piv for the card" ||
	fail "imzactl status names the module that serves the token, and piv for the card"

# Two applications at once, each logged in to its own token: five signatures each, side by side.
piv_label=$(imza -L 2>/dev/null | sed -n 's/^ *token label *: *//p' | sed 's/ *$//' | grep -vx "$SOFTHSM_LABEL" | head -n1)
openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -pubkey -noout >"$WORK/9c.pub"
(for i in 1 2 3 4 5; do
	on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/two-hsm-$i" || exit 1
done) >>"$LOG" 2>&1 &
a=$!
(for i in 1 2 3 4 5; do
	imza --token-label "$piv_label" --login --pin "$IMZA_PIN" --sign --id 02 -m SHA256-RSA-PKCS -i "$WORK/data" \
		-o "$WORK/two-piv-$i" || exit 1
done) >>"$LOG" 2>&1 &
b=$!
wait $a; ra=$?
wait $b; rb=$?
good=0
for i in 1 2 3 4 5; do
	openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/two-hsm-$i" "$WORK/data" >>"$LOG" 2>&1 && good=$((good + 1))
	openssl dgst -sha256 -verify "$WORK/9c.pub" -signature "$WORK/two-piv-$i" "$WORK/data" >>"$LOG" 2>&1 && good=$((good + 1))
done
[ $ra = 0 ] && [ $rb = 0 ] && [ $good = 10 ] &&
	pass "two applications, one on the PIV card and one on the module's token, sign at the same time (10 of 10 verify)" ||
	fail "two applications sign at the same time ($good of 10 verify; exits $ra $rb)"

# A web signature with the module token's qualified certificate: listed to the allowed origin, signed
# through the signing service (the test pinentry gives the PIN), verified as CAdES, and in the audit log.
ORIGIN=https://basvuru.kamusm.gov.tr
"$CTL" grants allow "$ORIGIN" >>"$LOG" 2>&1
st=$(api GET /v1/certificates "" -H "Origin: $ORIGIN")
CERT=$(json '[c["id"] for c in j["certificates"] if c["common_name"] == "AYŞE KAYA" and c["qualified"]][0]')
[ "$st" = 200 ] && [ -n "$CERT" ] && pass "/v1/certificates lists the module token's qualified certificate" ||
	fail "/v1/certificates lists the module token's qualified certificate ($st)"
script "consent always" "pin $SOFTHSM_PIN"
printf 'Başvuru beyanı: imza, bir satıcı modülünün kartıyla.' >"$T/decl.txt"
sign_request web "$T/decl.txt"
st=$(api POST /v1/sign "@$T/web.req" -H "Origin: $ORIGIN")
json 'j.get("signature","")' | base64 -d >"$T/web.p7s" 2>>"$LOG"
[ "$st" = 200 ] && openssl cms -verify -inform DER -in "$T/web.p7s" -CAfile "$WORK/hsm/ca.crt.pem" -purpose any \
	-out "$T/web.out" >>"$LOG" 2>&1 && cmp -s "$T/web.out" "$T/decl.txt" &&
	pass "POST /v1/sign with it: the CAdES signature verifies against the token's CA, over exactly the text" ||
	fail "POST /v1/sign with the module token's certificate ($st $(code))"
out=$("$CTL" log --last 1 2>&1)
echo "$out" >>"$LOG"
grep -q "  ok  $ORIGIN\$" <<<"$out" && grep -q "^  certificate: $CERT\$" <<<"$out" &&
	pass "the audit log has the web signature, with the module token's certificate" ||
	fail "the audit log has the web signature, with the module token's certificate"

# The tools applications use, on the module's token through imza.
out=$(on_hsm --test --login --pin "$SOFTHSM_PIN" 2>&1)
echo "$out" >>"$LOG"
grep -q '^No errors' <<<"$out" && pass "pkcs11-tool --test --login prints No errors" || fail "pkcs11-tool --test --login prints No errors"
for id in 01 02 03; do
	check_output "p11tool --test-sign with key $id" 'Verifying against public key in the token\.\.\. ok' \
		host_env env GNUTLS_PIN="$SOFTHSM_PIN" p11tool --provider "$M" --login --test-sign \
		"pkcs11:token=imza%20test%20HSM;id=%$id;type=private" </dev/null
done
mkdir -p "$WORK/nss"
echo "$SOFTHSM_PIN" >"$WORK/pin"
certutil -N -d "sql:$WORK/nss" --empty-password >>"$LOG" 2>&1
host_env sh -c "echo | modutil -dbdir 'sql:$WORK/nss' -add imza -libfile '$M' -force" >>"$LOG" 2>&1
out=$(host_env certutil -L -d "sql:$WORK/nss" -h "$SOFTHSM_LABEL" -f "$WORK/pin" 2>&1)
echo "$out" >>"$LOG"
n=$(grep -c "^$SOFTHSM_LABEL:" <<<"$out")
[ "$n" = 3 ] && pass "NSS certutil -L lists the token's 3 certificates" || fail "NSS certutil -L lists the token's 3 certificates (saw $n)"
out=$(host_env certutil -K -d "sql:$WORK/nss" -h "$SOFTHSM_LABEL" -f "$WORK/pin" 2>&1)
echo "$out" >>"$LOG"
n=$(grep -cE '^< ?[0-9]+> (rsa|ec) ' <<<"$out")
[ "$n" = 3 ] && pass "NSS certutil -K lists its 3 keys" || fail "NSS certutil -K lists its 3 keys (saw $n)"
PY=/usr/bin/python3
if "$PY" -c 'import PyKCS11' 2>>"$LOG"; then
	P11_TOKEN=$SOFTHSM_LABEL P11_PIN=$SOFTHSM_PIN P11_KEYS=3 P11_MIN_SIGNED=30 P11_SIGN_ONLY=1 STACK=$STACK WORK=$WORK \
		run_checks host_env "$PY" "$IMZA_SRCDIR/tests/integration/p11_sign.py"
else
	skip "PyKCS11 on the module's token" "python3-pykcs11 is not installed"
fi

# The token taken out and put back.
touch "$WORK/trig/removed"
gone 5 && pass "a token taken out leaves imza's slot list" || fail "a token taken out leaves imza's slot list"
rm -f "$WORK/trig/removed"
t=$(listed 5) && pass "and is back within 5 s of being put back (${t} s)" || fail "and is back after being put back"

# A module that crashes: only its helper goes.
imzad_pid=$(cut -d" " -f1 "$IMZA_STACK_DIR/pids/imzad")
touch "$WORK/trig/crash"
gone 5 && pass "a crashing module: its token leaves the slot list" || fail "a crashing module: its token leaves the slot list"
kill -0 "$imzad_pid" 2>/dev/null && pass "imzad keeps its pid ($imzad_pid)" || fail "imzad keeps its pid"
imza --token-label "$piv_label" --login --pin "$IMZA_PIN" --sign --id 02 -m SHA256-RSA-PKCS -i "$WORK/data" \
	-o "$WORK/sigpiv" >>"$LOG" 2>&1 && [ -s "$WORK/sigpiv" ] && pass "the PIV card keeps signing meanwhile" ||
	fail "the PIV card keeps signing meanwhile"
rm -f "$WORK/trig/crash"
t=$(listed 10) && pass "the module well again, a new helper serves its token (${t} s)" || fail "the token comes back after the crash"
grep -q 'ended (signal 11)' "$IMZA_STACK_DIR/imzad.log" && pass "imzad's log says the helper died of SIGSEGV" ||
	fail "imzad's log says the helper died of SIGSEGV"
on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/sig01b" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/sig01b" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "and it signs again" || fail "and it signs again"

stacks_down
done_testing
