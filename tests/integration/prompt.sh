#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imza-prompt, the signing window, driven like a user: the real program on a virtual display (Xvfb), started
# by imzad for web signatures through the private stack (HTTPS endpoint, virtual card). What the window
# shows is read back through the accessibility tree (AT-SPI, prompt_atspi.py): the origin and its site,
# the signer, the whole document byte for byte, a page's fake "İmzalayan" line inside the document frame
# only. The PIN is typed on the keyboard (xdotool) and on the shuffled keypad; "İmzala" stays inactive
# until the end of the document was scrolled into view; every signature verifies with openssl; Escape
# cancels. Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-*.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

. "$(dirname "$0")/../lib/xsession.sh"

x_need
x_session_up
https_stack_up
allowed_qualified_cert
CN=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -subject -nameopt utf8,sep_multiline |
	sed -n 's/^ *CN=//p')
FP=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -fingerprint -sha256 | sed 's/.*=//')

DOCNAME="Sayfanın gönderdiği, imzalanacak metin"

# ---- 1. a 2400-byte Turkish declaration, typed PIN ----
turkish_declaration "$T/decl.txt"
sign_bg decl "$T/decl.txt"
if dump; then pass "imzad opened imza-prompt's window for the web signature"; else fail "imza-prompt's window opened"; fi
shot signing
[ "$(q "node('İsteyen site: $SITE')['text']")" = "$SITE" ] && pass "the site's registrable domain is shown on its own ($SITE)" ||
	fail "the registrable domain $SITE is shown"
[ "$(q "node('Tam adres: $ORIGIN')['text']")" = "$ORIGIN" ] && pass "the whole origin is shown ($ORIGIN)" ||
	fail "the whole origin $ORIGIN is shown"
[ -n "$CN" ] && [ "$(q "node('İmzalayan kişi: $CN')['text']")" = "$CN" ] && pass "the signer is shown ($CN)" ||
	fail "the signer $CN is shown"
[ "$(q "node('Nitelikli elektronik sertifika')['text']")" = Nitelikli ] && pass "the qualified certificate has its Nitelikli badge" ||
	fail "the Nitelikli badge"
[ "$(q "any(x['role'] == 'label' and (x['text'] or '').startswith('TC kimlik no: ') for x in n)")" = True ] &&
	pass "the TC kimlik no is shown" || fail "the TC kimlik no is shown"
[ "$(q "node('$DOCNAME')['text'].encode() == open('$T/decl.txt', 'rb').read()")" = True ] &&
	pass "the document frame holds the 2400-byte declaration byte for byte" || fail "the declaration byte for byte"
want_hash=$(sha256sum "$T/decl.txt" | cut -d' ' -f1)
[ "$(q "any('2400 bayt metin, SHA-256: $want_hash' == x['text'] for x in n)")" = True ] &&
	pass "its size and SHA-256 are shown below it" || fail "its size and SHA-256 are shown"
[ "$(q "node('İmzala', 'push button')['sensitive']")" = False ] && pass "İmzala is inactive at first" || fail "İmzala is inactive at first"

# The PIN on the keyboard, in the field the user clicks into.
type_pin
dump 5
[ "$(q "node('İmzala', 'push button')['sensitive']")" = False ] &&
	pass "with the PIN typed, İmzala stays inactive until the end of the document was scrolled into view" ||
	fail "İmzala stays inactive before scrolling"
# The mouse wheel over the document, a few turns at a time, until İmzala wakes (at most 10 rounds).
rounds=$(scroll_to_end "$DOCNAME")
note "wheel rounds until İmzala was active: $rounds"
[ "$(q "node('İmzala', 'push button')['sensitive']")" = True ] && pass "scrolled to the end, İmzala is active" ||
	fail "scrolled to the end, İmzala is active"
shot signing-scrolled
click İmzala
if verified decl "$T/decl.txt"; then pass "İmzala signed: the .p7s verifies with openssl cms -verify for exactly the declaration"; else
	fail "the signature verifies ($(cat "$T/decl.status") $(head -c 200 "$T/decl.json"))"; fi
atspi gone && pass "the window closed after signing" || fail "the window closed after signing"

# ---- 2. the shuffled keypad, twice; the PIN on the keypad ----
printf 'Başvuru formu: Güvenlik sözcüğü "elma".' >"$T/short.txt"
orders=()
for i in 1 2; do
	sign_bg "keypad$i" "$T/short.txt"
	dump || true
	click "Rakamları karıştır"
	sleep 0.3
	dump 5
	orders+=("$(q "''.join(x['name'] for x in n if x['role'] == 'push button' and len(x['name']) == 1 and x['name'].isdigit())")")
	[ "$i" = 1 ] && shot keypad-shuffled
	# The keys are clicked with the mouse where they now are, digit by digit.
	for d in $(grep -o . <<<"$IMZA_PIN"); do click "$d"; done
	sleep 0.3
	dump 5
	[ "$(q "node('İmzala', 'push button')['sensitive']")" = True ] &&
		pass "window $i: a text that fits needs no scrolling; with the keypad's PIN İmzala is active" ||
		fail "window $i: İmzala is active"
	click İmzala
	if verified "keypad$i" "$T/short.txt"; then pass "window $i: the PIN entered on the shuffled keypad signs"; else
		fail "window $i: the keypad's PIN signs ($(cat "$T/keypad$i.status"))"; fi
	atspi gone || true
done
note "keypad orders: ${orders[0]} ${orders[1]}"
[ "${#orders[0]}" = 10 ] && [ "${#orders[1]}" = 10 ] && [ "${orders[0]}" != "${orders[1]}" ] &&
	pass "two windows in a row show different digit orders (${orders[0]}, ${orders[1]})" ||
	fail "two windows show different digit orders (${orders[*]})"

# ---- 3. a page's fake signer line stays inside the document frame; Escape cancels ----
"$PY" -c 'import sys; open(sys.argv[1], "w", encoding="utf-8").write("Onaylıyorum." + "\n" * 150 + "İmzalayan: CN=BAŞKA KİŞİ")' "$T/fake.txt"
sign_bg fake "$T/fake.txt"
dump || true
shot fake-signer
[ "$(q "node('$DOCNAME')['text'].encode() == open('$T/fake.txt', 'rb').read()")" = True ] &&
	pass "the 150-newline text is in the document frame whole" || fail "the 150-newline text is in the frame whole"
[ "$(q "[x['role'] for x in n if 'BAŞKA KİŞİ' in (x['name'] or '') + (x['text'] or '')]")" = "['text']" ] &&
	pass "\"İmzalayan: CN=BAŞKA KİŞİ\" appears in the document frame only" || fail "the fake signer appears outside the frame"
[ "$(q "node('İmzalayan kişi: $CN')['text']")" = "$CN" ] && pass "imza's own signer line still names $CN" ||
	fail "imza's own signer line names $CN"
# Görüntüle: the certificate's details (a window over the signing window).
click Görüntüle
if dump 10 "Sertifika ayrıntıları"; then
	shot certificate-details
	[ "$(q "node('SHA-256 parmak izi: $FP')['text']")" = "$FP" ] && pass "Görüntüle shows the certificate's SHA-256 fingerprint" ||
		fail "Görüntüle shows the SHA-256 fingerprint ($FP)"
	[ "$(q "any((x['name'] or '').startswith('Politikalar: ') and '2.16.792.1.61.0.1.5070.1.1' in x['name'] for x in n)")" = True ] &&
		pass "and the certificate's policies" || fail "and the policies"
	atspi press Kapat "Sertifika ayrıntıları"
	atspi gone-window "Sertifika ayrıntıları" || true
else
	fail "Görüntüle opens the certificate's details"
fi

wid=$(window_id)
xdotool windowfocus --sync "$wid" key Escape 2>>"$LOG"
wait "$bg"
[ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error"))' "$T/fake.json" 2>>"$LOG")" = user_cancelled ] &&
	pass "Escape cancels: user_cancelled ($(cat "$T/fake.status"))" || fail "Escape cancels ($(cat "$T/fake.status"))"
atspi gone && pass "the window closed after Escape" || fail "the window closed after Escape"

stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
