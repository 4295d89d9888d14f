#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imza-prompt's consent window, driven like a user under Xvfb and read back through AT-SPI: the site as
# the signing window shows it, what the site asks (to list the certificates, or to sign), "Reddet" the
# default (Enter and Escape deny, and the denial is stored for the site), "Bir kez izin ver" lets the
# page's visit through and stores nothing, "Her zaman izin ver" set apart below the other two and
# recorded as a grant (imzactl grants) that the next request uses; a plain-http page gets "once" only.
# Screenshots: prompt-consent.png, prompt-consent-sign.png in $IMZA_BUILDDIR/tests/e2e/artifacts.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"
. "$(dirname "$0")/../lib/xsession.sh"

CONSENTWIN="imza: izin"
ALWAYS="Her zaman izin ver"

x_need
x_session_up
https_stack_up
# The certificate's id, as a granted page of another site sees it.
ORIGIN=https://granted.example
allowed_qualified_cert

# list_bg NAME ORIGIN: GET /v1/certificates from ORIGIN in the background ($bg).
list_bg() {
	curl -sS -m 150 --cacert "$CA" -o "$T/$1.json" -w '%{http_code}' -H "Origin: $2" "$URL/v1/certificates" \
		>"$T/$1.status" 2>>"$LOG" &
	bg=$!
}
# grants: imzactl grants into $T/grants.
grants() { "$CTL" --socket "$IMZA_STACK_DIR/imzad.sock" grants >"$T/grants" 2>>"$LOG"; }
buttons() { q "[x['name'] for x in n if x['role'] == 'push button']"; }
# below A B: node A's top is below node B's bottom in the last dump.
below() { q "node('$1')['ext'][1] >= node('$2')['ext'][1] + node('$2')['ext'][3]"; }

# ---- 1. a listing asks consent: the window, "always" set apart and recorded ----
ORIGIN=https://basvuru.kamusm.gov.tr
list_bg always "$ORIGIN"
if dump 30 "$CONSENTWIN"; then pass "an unknown site's listing opens imza-prompt's consent window"; else
	bail "the consent window did not open (see $WORK)"; fi
shot consent
[ "$(q "node('İsteyen site: kamusm.gov.tr')['text']")" = kamusm.gov.tr ] &&
	[ "$(q "node('Tam adres: $ORIGIN')['text']")" = "$ORIGIN" ] &&
	pass "it shows the registrable domain and the whole origin, as the signing window does" || fail "the site and origin"
[ "$(q "node('Sitenin isteği: E-imza kartınızdaki imza sertifikalarını görmek.')['role']")" = label ] &&
	pass "it says what the site asks: to see the certificates" || fail "it says what the site asks (list)"
[ "$(buttons)" = "['Bir kez izin ver', 'Reddet', '$ALWAYS']" ] && pass "its buttons: Bir kez izin ver, Reddet, $ALWAYS" ||
	fail "its buttons ($(buttons))"
[ "$(below "$ALWAYS" Reddet)" = True ] && [ "$(below "$ALWAYS" 'Bir kez izin ver')" = True ] &&
	pass "\"$ALWAYS\" is set apart, below the other two" || fail "\"$ALWAYS\" is set apart"
atspi press "$ALWAYS" "$CONSENTWIN"
wait "$bg"
[ "$(cat "$T/always.status")" = 200 ] && pass "\"$ALWAYS\" lets the listing through (200)" ||
	fail "\"$ALWAYS\" lets the listing through ($(cat "$T/always.status"))"
grants
grep -q "^allow  *$ORIGIN " "$T/grants" && pass "and records a grant for $ORIGIN (imzactl grants)" ||
	fail "\"$ALWAYS\" records a grant ($(tr '\n' ' ' <"$T/grants"))"
list_bg again "$ORIGIN"
wait "$bg"
[ "$(cat "$T/again.status")" = 200 ] && [ -z "$(xdotool search --onlyvisible --name "^$CONSENTWIN\$" 2>/dev/null)" ] &&
	pass "the next listing of $ORIGIN is let through without a window" ||
	fail "the grant is used ($(cat "$T/again.status"))"

# ---- 2. "once" over https: let through, nothing stored ----
list_bg once https://once.example
dump 30 "$CONSENTWIN" || fail "the consent window for once.example"
atspi press "Bir kez izin ver" "$CONSENTWIN"
wait "$bg"
[ "$(cat "$T/once.status")" = 200 ] && pass "Bir kez izin ver lets the listing through (200)" ||
	fail "Bir kez izin ver lets it through ($(cat "$T/once.status"))"
grants
! grep -q "once.example" "$T/grants" && pass "and stores no grant for https://once.example" ||
	fail "Bir kez izin ver stores nothing ($(tr '\n' ' ' <"$T/grants"))"
# "Once" covers the page's visit (docs/API.md): its next request within it is not asked again, and
# still nothing is stored.
list_bg once2 https://once.example
wait "$bg"
[ "$(cat "$T/once2.status")" = 200 ] && [ -z "$(xdotool search --onlyvisible --name "^$CONSENTWIN\$" 2>/dev/null)" ] &&
	pass "the page's next request within its visit goes through unasked (200)" ||
	fail "once covers the visit ($(cat "$T/once2.status"))"
grants
! grep -q "once.example" "$T/grants" && pass "and still no grant is stored for it" ||
	fail "once stores nothing, after the visit's second request ($(tr '\n' ' ' <"$T/grants"))"

# ---- 3. Enter alone denies ----
list_bg enter https://enter.example
dump 30 "$CONSENTWIN" || fail "the consent window for enter.example"
wid=$(window_id "^$CONSENTWIN\$")
xdotool windowfocus --sync "$wid" key Return 2>>"$LOG"
wait "$bg"
[ "$(cat "$T/enter.status")" = 403 ] && [ "$(error_of enter)" = origin_denied ] &&
	pass "Enter alone answers with the default, Reddet: origin_denied" ||
	fail "Enter denies ($(cat "$T/enter.status") $(error_of enter))"

# ---- 4. a signature asks consent: what it asks; Escape denies ----
ORIGIN=https://escape.example
printf 'x' >"$T/x.txt"
sign_bg esc "$T/x.txt"
dump 30 "$CONSENTWIN" || fail "the consent window for a signature"
shot consent-sign
[ "$(q "node('Sitenin isteği: E-imza kartınızla imza atmak.')['role']")" = label ] &&
	pass "before a signature it says the site asks to sign" || fail "it says the site asks to sign"
wid=$(window_id "^$CONSENTWIN\$")
xdotool windowfocus --sync "$wid" key Escape 2>>"$LOG"
wait "$bg"
[ "$(error_of esc)" = origin_denied ] && pass "Escape denies (origin_denied)" || fail "Escape denies ($(error_of esc))"
grants
grep -q "^deny  *escape.example " "$T/grants" && ! grep -q "^allow .*escape.example" "$T/grants" &&
	pass "the denial is stored for the site escape.example, no grant" ||
	fail "the denial is stored ($(tr '\n' ' ' <"$T/grants"))"

# ---- 5. a plain-http page: once only ----
list_bg plain http://plain.example
if dump 30 "$CONSENTWIN"; then
	[ "$(buttons)" = "['Bir kez izin ver', 'Reddet']" ] && pass "a plain-http page is offered no \"$ALWAYS\"" ||
		fail "a plain-http page: no \"$ALWAYS\" ($(buttons))"
	[ "$(q "any('(http)' in (x['text'] or '') for x in n)")" = True ] && pass "and the window says why" ||
		fail "the window says why only once"
	atspi press "Bir kez izin ver" "$CONSENTWIN"
fi
wait "$bg"
grants
! grep -q "plain.example" "$T/grants" && pass "once for a plain-http page stores nothing" ||
	fail "once for plain http stores nothing ($(tr '\n' ' ' <"$T/grants"))"
[ "$(cat "$T/plain.status")" = 200 ] && pass "Bir kez izin ver lets it through once (200)" ||
	fail "Bir kez izin ver lets it through ($(cat "$T/plain.status"))"
atspi gone || true

stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
