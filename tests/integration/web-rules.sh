#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The rules behind the web endpoint, each against the attack it stops, on the real stack (imzad, the
# test pinentry, the virtual card): a page signs only CAdES-BES with the key whose certificate is for
# signatures (never raw, never 9A/9D/9E), lists only the signing certificates of cards present, is shown
# whole with its site, gets "once" only over plain http; the last PIN try asks first, and a PIN the card
# cannot hold never reaches it. The card's own state file is the judge of its counter, the card's APDU log
# of whether it was touched, the pinentry log of whether a dialog opened.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

https_stack_up
# The card's own counter, from its state file (not imzad's idea of it).
card_tries() { sed -n 's/^pin_tries=//p' "$IMZA_CARD_DIR/state"; }
cert_id() { openssl x509 -inform DER -in "$IMZA_CARD_DIR/$1.crt.der" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
sign_body() { python3 -c 'import json,sys; d={"certificate":sys.argv[1],"text":sys.argv[2]}; d.update(json.loads(sys.argv[3] or "{}")); print(json.dumps(d))' "$1" "$2" "${3:-}"; }

ID9A=$(cert_id 9a)
ID9C=$(cert_id 9c)
ID9D=$(cert_id 9d)
ID9E=$(cert_id 9e)
"$CTL" grants allow https://portal.example >>"$LOG" 2>&1

# ---- 1. A page signs only what a signature is for ----

# test_raw_format_refused_for_web: a bare signature over bytes the page chose is a login answer.
script 'consent always' "pin $IMZA_PIN"
: >"$PLOG"
before=$(apdus)
body=$(sign_body "$ID9C" hello '{"format":"raw"}')
expect "test_raw_format_refused_for_web: raw with the signature key" 400 bad_request \
	"$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')"
body=$(sign_body "$ID9A" hello '{"format":"raw"}')
expect "test_raw_format_refused_for_web: raw with the authentication key" 400 bad_request \
	"$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')"
[ "$(apdus)" = "$before" ] && [ ! -s "$PLOG" ] && pass "test_raw_format_refused_for_web: no dialog, no APDU" ||
	fail "test_raw_format_refused_for_web: no dialog, no APDU ($before -> $(apdus), $(wc -l <"$PLOG") dialog lines)"
# Local callers keep raw: imzactl is the user.
printf hello >"$T/hello"
openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -pubkey -noout >"$T/9c.pub"
"$CTL" sign --cert "$ID9C" --in "$T/hello" --out "$T/raw.sig" --raw >>"$LOG" 2>&1 &&
	openssl dgst -sha256 -verify "$T/9c.pub" -signature "$T/raw.sig" "$T/hello" >>"$LOG" 2>&1 &&
	pass "imzactl sign --raw still makes a bare signature that verifies" ||
	fail "imzactl sign --raw still makes a bare signature that verifies"

# test_authentication_key_refused_for_web: 9A (PIV authentication), 9D (key management), 9E (card
# authentication) are not for signatures: 403 key_not_allowed, no dialog, no APDU, whatever the origin.
: >"$PLOG"
before=$(apdus)
t0=$(card_tries)
for k in 9A:$ID9A 9D:$ID9D 9E:$ID9E; do
	body=$(sign_body "${k#*:}" "Kamu SM'ye başvurumu imzalıyorum.")
	expect "test_authentication_key_refused_for_web: ${k%%:*} from a granted origin" 403 key_not_allowed \
		"$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')"
	expect "test_authentication_key_refused_for_web: ${k%%:*} from an unknown origin, before consent" 403 \
		key_not_allowed "$(api POST /v1/sign "$body" -H 'Origin: https://unknown.example')"
done
body=$(sign_body "$ID9A" x '{"detached":true,"wait":30}')
expect "test_authentication_key_refused_for_web: 9A detached with wait" 403 key_not_allowed \
	"$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')"
[ "$(apdus)" = "$before" ] && [ ! -s "$PLOG" ] && [ "$(card_tries)" = "$t0" ] &&
	pass "test_authentication_key_refused_for_web: no dialog, no APDU, the card's counter unchanged" ||
	fail "test_authentication_key_refused_for_web: no dialog, no APDU ($before -> $(apdus), $(wc -l <"$PLOG") dialog lines)"
# The signature key still signs, CAdES-BES that openssl verifies.
body=$(sign_body "$ID9C" "imza")
st=$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')
json 'j["signature"]' | base64 -d >"$T/ok.p7s"
[ "$st" = 200 ] && [ "$(json 'j["format"]')" = cades-bes ] &&
	openssl cms -verify -inform DER -in "$T/ok.p7s" -CAfile "$IMZA_TEST_CA" -purpose any 2>>"$LOG" | grep -qx imza &&
	pass "the 9C key signs CAdES-BES for the page" || fail "the 9C key signs CAdES-BES for the page ($st)"

# test_certificates_list_only_signing_of_present_cards: one row (9C); a card taken out is not listed,
# though the cache keeps it (an earlier user's name and TC number stay private).
st=$(api GET /v1/certificates "" -H 'Origin: https://portal.example')
[ "$st" = 200 ] && [ "$(json '",".join(c["id"] for c in j["certificates"])')" = "$ID9C" ] &&
	[ "$(json 'j["certificates"][0]["key_usage"]')" = "['nonRepudiation']" ] &&
	pass "test_certificates_list_only_signing_of_present_cards: only the 9C certificate" ||
	fail "test_certificates_list_only_signing_of_present_cards: only the 9C certificate ($st: $(json 'len(j.get("certificates",[]))'))"
check "card removed" "$STACK" card "$IMZA_STACK_DIR" remove
"$PROBE" wait absent -r 0 -t 10 >>"$LOG" 2>&1
sleep 0.5
st=$(api GET /v1/certificates "" -H 'Origin: https://portal.example')
"$CTL" status >"$T/status" 2>&1
[ "$st" = 200 ] && [ "$(json 'len(j["certificates"])')" = 0 ] &&
	pass "test_certificates_list_only_signing_of_present_cards: a card not present is not listed" ||
	fail "test_certificates_list_only_signing_of_present_cards: a card not present is not listed ($st, $(json 'len(j.get("certificates",[]))'))"
# A page that kept the id may still wait for that card.
body=$(sign_body "$ID9C" "waited" '{"wait":30}')
(api POST /v1/sign "$body" -H 'Origin: https://portal.example' >"$T/wait.status") &
waiter=$!
sleep 1
check "card inserted while the request waits" "$STACK" card "$IMZA_STACK_DIR" insert
wait "$waiter"
[ "$(cat "$T/wait.status")" = 200 ] && pass "a request with wait still completes when the card comes" ||
	fail "a request with wait still completes when the card comes ($(cat "$T/wait.status"))"
# An authentication key's id with wait is refused at once, card in or not.
check "card removed again" "$STACK" card "$IMZA_STACK_DIR" remove
"$PROBE" wait absent -r 0 -t 10 >>"$LOG" 2>&1
sleep 0.5
body=$(sign_body "$ID9A" x '{"wait":30}')
start=$(date +%s%N)
expect "a cached card's 9A id with wait is refused at once" 403 key_not_allowed \
	"$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 5000 ] && pass "answered without waiting (${ms} ms)" || fail "answered without waiting (${ms} ms)"
check "card back" "$STACK" card "$IMZA_STACK_DIR" insert
"$PROBE" wait present -r 0 -t 10 >>"$LOG" 2>&1
for _ in $(seq 1 50); do "$CTL" status 2>/dev/null | grep -q '^  card: [^n]' && break; sleep 0.1; done

# ---- 2. The origin is shown and judged whole ----

# test_long_origin_shown_whole: 253 bytes, a trusted name in front, the real site at the end.
LONG=$(python3 -c '
head = "https://portal.kamusm.gov.tr."
tail = ".evil-example.com"
mid = ".".join("x%02d" % i for i in range(100))[: 253 - len(head) - len(tail)].rstrip(".")
o = head + mid + tail
o = o[:len(head)] + mid + "y" * (253 - len(o)) + tail
print(o)')
[ ${#LONG} = 253 ] || fail "the long origin is 253 bytes (${#LONG})"
script 'consent once' "pin $IMZA_PIN"
: >"$PLOG"
st=$(api GET /v1/certificates "" -H "Origin: $LONG")
body=$(sign_body "$ID9C" "uzun köken")
st2=$(api POST /v1/sign "$body" -H "Origin: $LONG")
python3 - "$PLOG" "$LONG" <<'EOF' >>"$LOG" 2>&1 && [ "$st" = 200 ] && [ "$st2" = 200 ] &&
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
descs = [l["arg"] for l in lines if l["cmd"] == "SETDESC"]
assert len(descs) == 2, descs            # consent, then PIN
for d in descs:
    assert sys.argv[2] + " " in d, d     # whole, never cut
    assert "\nSite: evil-example.com\n" in d, d
    assert "\u2026" not in d.split("\nSite:")[0], d
EOF
	pass "test_long_origin_shown_whole: consent and PIN dialogs show the 253-byte origin whole and 'Site: evil-example.com'" ||
	fail "test_long_origin_shown_whole: whole origin and site in both dialogs ($st $st2)"
: >"$PLOG"
expect "test_long_origin_shown_whole: a 254-byte origin is a bad request" 400 bad_request \
	"$(api GET /v1/certificates "" -H "Origin: ${LONG}x")"
expect "test_long_origin_shown_whole: a 254-byte origin cannot sign" 400 bad_request \
	"$(api POST /v1/sign "$body" -H "Origin: ${LONG/portal/portalx}")"
[ ! -s "$PLOG" ] && pass "test_long_origin_shown_whole: and no dialog for it" || fail "test_long_origin_shown_whole: no dialog for it"

# test_http_origin_cannot_be_remembered: a plain-http page gets "once" only, and the dialog says why;
# local development hosts keep "always".
script 'consent once' "pin $IMZA_PIN"
: >"$PLOG"
st=$(api GET /v1/certificates "" -H 'Origin: http://portal.example.com')
python3 - "$PLOG" <<'EOF' >>"$LOG" 2>&1 && [ "$st" = 200 ] &&
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert not any(l["cmd"] == "SETNOTOK" for l in lines), lines
d = [l["arg"] for l in lines if l["cmd"] == "SETDESC"][0]
assert "http" in d and "yalnızca bu seferlik" in d, d
assert "\nSite: example.com" in d, d
EOF
	pass "test_http_origin_cannot_be_remembered: no 'always' button, and a line says why" ||
	fail "test_http_origin_cannot_be_remembered: no 'always' button, and a line says why ($st)"
"$CTL" grants 2>&1 | grep -q 'http://portal.example.com' && fail "the http origin is not stored" ||
	pass "the http origin is not stored"
: >"$PLOG"
st=$(api GET /v1/certificates "" -H 'Origin: http://localhost:8080')
[ "$st" = 200 ] && grep -q '"cmd":"SETNOTOK"' "$PLOG" && pass "http://localhost is offered 'always'" ||
	fail "http://localhost is offered 'always' ($st)"

# ---- 4. The PIN and the card ----

# test_short_pin_never_reaches_card: a PIV PIN is 6-8 digits; anything else costs no try.
for bad in 12345 1234567890 12345a; do
	script 'consent always' "pin $bad"
	before=$(apdus)
	t0=$(card_tries)
	body=$(sign_body "$ID9C" "x")
	st=$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')
	expect "test_short_pin_never_reaches_card: '$bad' is a wrong PIN" 403 pin_incorrect "$st"
	[ "$(json 'j["tries_left"]')" = "$t0" ] && [ "$(card_tries)" = "$t0" ] && [ "$(apdus)" = "$before" ] &&
		pass "test_short_pin_never_reaches_card: '$bad': no APDU, the card's counter stays $t0" ||
		fail "test_short_pin_never_reaches_card: '$bad': no APDU ($before -> $(apdus)), counter $t0 -> $(card_tries), tries_left $(json 'j.get("tries_left")')"
done
# C_Login too: CKR_PIN_LEN_RANGE, and the card's counter unchanged.
t0=$(card_tries)
out=$(host_env pkcs11-tool --module "$IMZA_MODULE" --login --pin 12345 -O 2>&1)
echo "$out" >>"$LOG"
grep -q CKR_PIN_LEN_RANGE <<<"$out" && [ "$(card_tries)" = "$t0" ] &&
	pass "test_short_pin_never_reaches_card: C_Login with 5 digits is CKR_PIN_LEN_RANGE, counter unchanged" ||
	fail "test_short_pin_never_reaches_card: C_Login with 5 digits ($(grep -o 'CKR_[A-Z_]*' <<<"$out" | head -1), counter $t0 -> $(card_tries))"
out=$(host_env pkcs11-tool --module "$IMZA_MODULE" --login --pin 12345a -O 2>&1)
echo "$out" >>"$LOG"
grep -q CKR_PIN_LEN_RANGE <<<"$out" && [ "$(card_tries)" = "$t0" ] &&
	pass "test_short_pin_never_reaches_card: C_Login with a letter is refused, counter unchanged" ||
	fail "test_short_pin_never_reaches_card: C_Login with a letter ($(grep -o 'CKR_[A-Z_]*' <<<"$out" | head -1))"

# test_last_try_needs_confirmation: two wrong PINs leave one try; the dialog then says a wrong PIN locks
# the card and asks first. "No": the card is not touched, its counter stays at 1.
script 'consent always' 'pin 00000000'
body=$(sign_body "$ID9C" "x")
for _ in 1 2; do api POST /v1/sign "$body" -H 'Origin: https://portal.example' >/dev/null; done
[ "$(card_tries)" = 1 ] && pass "two wrong PINs: the card has one try left" || fail "two wrong PINs: one try left ($(card_tries))"
script 'consent always' 'lasttry no' "pin $IMZA_PIN"
: >"$PLOG"
before=$(apdus)
st=$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')
expect "test_last_try_needs_confirmation: answered no" 403 user_cancelled "$st"
[ "$(card_tries)" = 1 ] && [ "$(apdus)" = "$before" ] &&
	pass "test_last_try_needs_confirmation: the card was not touched, its counter is still 1" ||
	fail "test_last_try_needs_confirmation: the card was not touched ($before -> $(apdus) APDUs, counter $(card_tries))"
python3 - "$PLOG" <<'EOF' >>"$LOG" 2>&1 &&
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
cmds = [l["cmd"] for l in lines]
assert "GETPIN" not in cmds, cmds
assert {"cmd": "ANSWER", "arg": "lasttry-no"} in [{"cmd": l["cmd"], "arg": l["arg"]} for l in lines], lines
d = [l["arg"] for l in lines if l["cmd"] == "SETDESC"][-1]
assert "yalnızca 1 PIN deneme hakkı kaldı" in d and "KİLİTLENİR" in d, d
EOF
	pass "test_last_try_needs_confirmation: the dialog said a wrong PIN locks the card, and no PIN was asked" ||
	fail "test_last_try_needs_confirmation: the dialog's words and no GETPIN"
script 'consent always' 'lasttry yes' "pin $IMZA_PIN"
st=$(api POST /v1/sign "$body" -H 'Origin: https://portal.example')
[ "$st" = 200 ] && [ "$(card_tries)" = 3 ] && pass "answered yes with the right PIN: signed, the counter is back to 3" ||
	fail "answered yes with the right PIN: signed, counter back ($st, $(card_tries))"

done_testing
