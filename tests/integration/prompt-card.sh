#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imza-prompt's insert-card window, driven like a user under Xvfb: a signature with "wait" whose card is out
# opens it (read back through AT-SPI: the request to insert the card, the card's label, the certificate's
# holder, the site); `stack card insert` makes it go away by itself, the signing window follows, the typed
# PIN signs and the signature verifies. İptal in it answers user_cancelled at once; a wait that runs out
# closes it and answers card_absent. Screenshot: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-insert-card.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"
. "$(dirname "$0")/../lib/xsession.sh"

ORIGIN=https://basvuru.kamusm.gov.tr
SITE=kamusm.gov.tr
CARDWIN="imza: kartınızı takın"
INSERT="Lütfen imzalama yapılacak olan sertifikanın bulunduğu kartı okuyucuya takınız."

x_need
x_session_up
https_stack_up
allowed_qualified_cert
CN=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -subject -nameopt utf8,sep_multiline |
	sed -n 's/^ *CN=//p')
LABEL=$("$CTL" --socket "$IMZA_STACK_DIR/imzad.sock" status 2>>"$LOG" | sed -n 's/^  card: \(.*\) (serial .*/\1/p' | head -n1 | sed 's/ *$//')
note "card label: '$LABEL', holder: '$CN'"
printf 'Kart takıldıktan sonra imzalanan beyan.' >"$T/doc.txt"

# ---- 1. card out, wait: the window; the card in: it goes, the signing window follows ----
check "card removed" "$STACK" card "$IMZA_STACK_DIR" remove
sign_bg waited "$T/doc.txt" 60
if dump 30 "$CARDWIN"; then pass "a signature with wait and the card out opens the insert-card window"; else
	bail "the insert-card window did not open (see $WORK)"; fi
shot insert-card
[ "$(q "any(x['text'] == '$INSERT' for x in n)")" = True ] &&
	pass "it says: $INSERT" || fail "it asks for the card in Turkish"
[ -n "$LABEL" ] && [ "$(q "any(x['text'] == 'Kart: $LABEL' for x in n)")" = True ] &&
	pass "it names the card to insert by its label ($LABEL)" || fail "it names the card ($LABEL)"
[ -n "$CN" ] && [ "$(q "any(x['text'] == 'Sertifika sahibi: $CN' for x in n)")" = True ] &&
	pass "it names the certificate's holder ($CN)" || fail "it names the holder ($CN)"
[ "$(q "node('İsteyen site: $SITE')['text']")" = "$SITE" ] && pass "it shows the requesting site ($SITE)" ||
	fail "it shows the site"
[ "$(q "[x['name'] for x in n if x['role'] == 'push button']")" = "['İptal']" ] &&
	pass "its one button is İptal" || fail "its one button is İptal ($(q "[x['name'] for x in n if x['role'] == 'push button']"))"
sleep 1
check "card inserted while the window is up" "$STACK" card "$IMZA_STACK_DIR" insert
atspi gone-window "$CARDWIN" && pass "the insert-card window went away by itself when the card came" ||
	fail "the insert-card window went away by itself"
if dump 30 imza; then pass "the signing window followed"; else fail "the signing window followed"; fi
[ "$(q "any(x['role'] == 'password text' for x in n)")" = True ] && [ "$(q "any(x['text'] == '$INSERT' for x in n)")" = False ] &&
	pass "it is the signing window (a PIN field, no request to insert the card)" || fail "it is the signing window"
type_pin
dump 5
click İmzala
if verified waited "$T/doc.txt"; then pass "the PIN typed in it signs: the .p7s verifies for exactly the text"; else
	fail "the waited signature verifies ($(cat "$T/waited.status") $(head -c 200 "$T/waited.json"))"; fi
atspi gone || true

# ---- 2. İptal ----
check "card removed again" "$STACK" card "$IMZA_STACK_DIR" remove
sign_bg cancelled "$T/doc.txt" 60
dump 30 "$CARDWIN" || fail "the insert-card window opened again"
t0=$(date +%s)
atspi press İptal "$CARDWIN"
wait "$bg"
t1=$(date +%s)
[ "$(error_of cancelled)" = user_cancelled ] && [ $((t1 - t0)) -lt 10 ] &&
	pass "İptal answers user_cancelled at once ($(cat "$T/cancelled.status"), $((t1 - t0)) s of a 60 s wait)" ||
	fail "İptal answers user_cancelled ($(cat "$T/cancelled.status") $(error_of cancelled), $((t1 - t0)) s)"
atspi gone-window "$CARDWIN" && pass "and the window is gone" || fail "the window is gone after İptal"

# ---- 3. the wait runs out: the window closes, card_absent ----
# (a cancelled dialog makes the site's next request wait 5 s first: API.md)
# (10 s: time enough for the window to be read while it is up, on a loaded machine)
sign_bg short "$T/doc.txt" 10
dump 30 "$CARDWIN" || fail "the insert-card window opened for a 10 s wait"
wait "$bg"
[ "$(error_of short)" = card_absent ] && pass "a wait that runs out answers card_absent ($(cat "$T/short.status"))" ||
	fail "a wait that runs out answers card_absent ($(cat "$T/short.status") $(error_of short))"
atspi gone-window "$CARDWIN" && pass "and its window closed with it" || fail "the window closed when the wait ran out"
check "card back" "$STACK" card "$IMZA_STACK_DIR" insert

stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
