#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The certificate choice in imza-prompt, driven like a user on a virtual display (Xvfb): two cards, the
# first (reader A) with an ordinary signing certificate, the second (reader B) with a qualified one. A
# page's POST /v1/sign names no certificate; imzad's window lists both, the qualified one first with its
# "Nitelikli" badge, Görüntüle and Seç on each row (read back through AT-SPI, prompt_atspi.py). The user
# picks with the keyboard (Tab, Enter) and the mouse (xdotool); the chosen certificate becomes the signer
# of the signing window, and the signature that comes back verifies and is made by exactly it. The site
# holds no grant and is never asked for one: the signing window, where the user sees the site and acts,
# is the consent (no listing happened, the page learnt nothing of the cards), and nothing is stored.
# Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-choose-*.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

. "$(dirname "$0")/../lib/xsession.sh"

x_need
x_session_up
# Two cards of one CA: card 0 (reader A) ordinary, card 1 (reader B) qualified, made before the stack
# starts so that it takes them as they are.
GEN=$IMZA_SRCDIR/tests/vcard/imza-vcard-gen
"$GEN" "$WORK/s/card0" --pin 123456 --puk 12345678 --name "MEHMET DEMIR" --qualified no >>"$LOG" 2>&1 &&
	"$GEN" "$WORK/s/card1" --pin 123456 --puk 12345678 --ca "$WORK/s/card0" --name "AHMET YILMAZ" >>"$LOG" 2>&1 ||
	bail "the card generator failed"
https_stack_up --cards 2
# The site has no answer stored and lists nothing: the signing window is where the user consents.
CERT=
QDER=$WORK/s/card1/9c.crt.der
ODER=$WORK/s/card0/9c.crt.der
CHOOSE_Q="Seç: AHMET YILMAZ (nitelikli)"
CHOOSE_O="Seç: MEHMET DEMIR"
printf 'Başvuru formu: yenileme. Güvenlik sözcüğü "elma".' >"$T/short.txt"

# no_grant ORIGIN: imzactl lists the stored answers (its summary line says it did), none for ORIGIN.
no_grant() {
	local g
	g=$("$CTL" --socket "$IMZA_SOCKET" grants 2>>"$LOG") && grep -q 'allowed origin' <<<"$g" && ! grep -qF "$1" <<<"$g"
}
no_grant "$ORIGIN" && pass "$ORIGIN holds no grant before" || fail "$ORIGIN holds no grant before"

# ---- 1. the list, qualified first; the mouse picks the qualified one; the PIN signs with it ----
sign_bg q "$T/short.txt"
if dump; then pass "a signature without a certificate opens imza-prompt's certificate list"; else fail "the certificate list opened"; fi
shot choose-list
[ "$(q "[x['name'] for x in n if x['role'] == 'push button' and x['name'].startswith('Seç: ')]")" = "['$CHOOSE_Q', '$CHOOSE_O']" ] &&
	pass "both cards' signing certificates are listed, the qualified one first (its card is in reader B)" ||
	fail "the list: $(q "[x['name'] for x in n if x['role'] == 'push button']")"
[ "$(q "[x['text'] for x in n if x['name'] == 'Nitelikli elektronik sertifika']")" = "['Nitelikli']" ] &&
	pass "one row carries the Nitelikli badge" || fail "the Nitelikli badge on one row"
[ "$(q "sum(1 for x in n if x['role'] == 'push button' and x['name'].startswith('Görüntüle: '))")" = 2 ] &&
	pass "each row has Görüntüle" || fail "each row has Görüntüle"
[ "$(q "node('PIN')['name'] is None and node('İmzala', 'push button')['name'] is None")" = True ] &&
	pass "the list asks for no PIN yet" || fail "the list asks for no PIN"
# Görüntüle on the qualified row: its details, then back.
click "Görüntüle: AHMET YILMAZ"
if dump 10 "Sertifika ayrıntıları"; then
	shot choose-details
	FPQ=$(openssl x509 -inform DER -in "$QDER" -noout -fingerprint -sha256 | sed 's/.*=//')
	[ "$(q "node('SHA-256 parmak izi: $FPQ')['text']")" = "$FPQ" ] && pass "Görüntüle shows that certificate's fingerprint" ||
		fail "Görüntüle shows the fingerprint $FPQ"
	atspi press Kapat "Sertifika ayrıntıları"
	atspi gone-window "Sertifika ayrıntıları" || true
else
	fail "Görüntüle opens the certificate's details"
fi
dump 10 || true
click "$CHOOSE_Q"
sleep 0.5
if dump 10 && [ "$(q "node('İmzalayan kişi: AHMET YILMAZ')['text']")" = "AHMET YILMAZ" ]; then
	pass "Seç made the qualified certificate the signing window's signer"
else
	fail "the signing window names the chosen signer"
fi
[ "$(q "node('Nitelikli elektronik sertifika')['text']")" = Nitelikli ] && pass "with its Nitelikli badge" || fail "with its badge"
shot choose-signing
type_pin
dump 5 || true
click İmzala
if verified q "$T/short.txt" && signed_by q "$QDER"; then
	pass "the signature verifies and its signer is the chosen qualified certificate"
else
	fail "signed by the chosen certificate ($(cat "$T/q.status") $(head -c 200 "$T/q.json"))"
fi
atspi gone && pass "the window closed after signing" || fail "the window closed after signing"

# ---- 2. the keyboard alone: Tab to the second row's Seç, Enter; the unqualified one signs ----
sign_bg o "$T/short.txt"
dump || true
wid=$(window_id)
xdotool windowfocus --sync "$wid" 2>>"$LOG"
# The first row's Seç has the focus; Tab: the second row's Görüntüle, Tab: its Seç.
xdotool key --delay 150 Tab Tab Return 2>>"$LOG"
sleep 0.5
if dump 10 && [ "$(q "node('İmzalayan kişi: MEHMET DEMIR')['text']")" = "MEHMET DEMIR" ]; then
	pass "by keyboard alone (Tab, Tab, Enter) the other certificate is chosen and shown as the signer"
else
	fail "the keyboard chooses the second certificate"
fi
[ "$(q "node('Nitelikli elektronik sertifika')['name']")" = None ] && pass "and it has no Nitelikli badge" || fail "no badge"
type_pin
dump 5 || true
click İmzala
if verified o "$T/short.txt" && signed_by o "$ODER"; then
	pass "the signature verifies and its signer is the chosen unqualified certificate"
else
	fail "signed by the unqualified certificate ($(cat "$T/o.status") $(head -c 200 "$T/o.json"))"
fi
atspi gone || true

# ---- 3. Enter on the first row's Seç, then Escape in the signing window: user_cancelled ----
sign_bg e "$T/short.txt"
dump || true
wid=$(window_id)
xdotool windowfocus --sync "$wid" key Return 2>>"$LOG"
sleep 0.5
dump 10 || true
[ "$(q "node('İmzalayan kişi: AHMET YILMAZ')['text']")" = "AHMET YILMAZ" ] &&
	pass "Enter alone chooses the first (qualified) row: its Seç has the focus" || fail "Enter chooses the first row"
wid=$(window_id)
xdotool windowfocus --sync "$wid" key Escape 2>>"$LOG"
wait "$bg"
[ "$(error_of e)" = user_cancelled ] &&
	pass "Escape in the signing window cancels: user_cancelled" || fail "Escape cancels ($(cat "$T/e.status"))"
atspi gone || true

# ---- 4. İptal in the list: user_cancelled, no PIN asked ----
sign_bg c "$T/short.txt"
dump || true
atspi press İptal
wait "$bg"
[ "$(error_of c)" = user_cancelled ] &&
	pass "İptal in the list: user_cancelled" || fail "İptal in the list ($(cat "$T/c.status"))"

no_grant "$ORIGIN" && pass "signing stored no grant for $ORIGIN (the listing's consent was never asked nor kept)" ||
	fail "signing stored no grant for $ORIGIN"
stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
