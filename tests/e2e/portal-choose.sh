#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo portal's default path, end to end: headless Chromium (tests/e2e/portal-choose.mjs) walks the
# demo to İmzala, which sends POST /v1/sign with no certificate; imzad opens imza-prompt on a virtual
# display (Xvfb), and this script, as the user, chooses the qualified certificate among the two cards'
# (AT-SPI, xdotool), types the PIN and signs. The .p7s verifies and its signer is the chosen
# certificate; the page never called /v1/certificates (the browser's own record of its requests); no
# consent dialog came before the choice and no grant was stored for the demo's origin; the audit log has
# the signature. With IMZA_PORTAL_QUALIFIED=module (tests/e2e/portal-module.sh) the qualified
# certificate is on a vendor module's token instead of a second card.
# Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-portal[-module]-*.png and
# portal[-module]-choose-success.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/demo.sh"
. "$(dirname "$0")/../lib/https.sh"
. "$(dirname "$0")/../lib/xsession.sh"

E2E=$IMZA_SRCDIR/tests/e2e
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || missing "$CHROMIUM (package chromium)"
[ -f "$E2E/node_modules/playwright-core/package.json" ] || {
	missing "$E2E/node_modules/playwright-core (npm ci --prefix tests/e2e)"
}
x_need node certutil "$CHROMIUM"
x_session_up
GEN=$IMZA_SRCDIR/tests/vcard/imza-vcard-gen
"$GEN" "$WORK/s/card0" --pin 123456 --puk 12345678 --name "MEHMET DEMIR" --qualified no >>"$LOG" 2>&1 ||
	bail "the card generator failed"
if [ "${IMZA_PORTAL_QUALIFIED:-card}" = module ]; then
	# The qualified certificate on a vendor module's token (SoftHSM2, run by imza-backend), the other
	# on the PIV card: the window lists both, and the module's signs (tests/e2e/portal-module.sh).
	# shellcheck source=tests/lib/backend.sh
	. "$(dirname "$0")/../lib/backend.sh"
	HSM_CA=$WORK/s/card0 hsm_up
	printf 'module = %s\n' "$SOFTHSM_MODULE" >"$WORK/imzad.conf"
	export IMZA_IMZAD_ARGS="${IMZA_IMZAD_ARGS:-} --config $WORK/imzad.conf --backend $BACKEND"
	https_stack_up
	for _ in $(seq 1 100); do
		host_env pkcs11-tool --module "$IMZA_MODULE" -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" && break
		sleep 0.1
	done
	QDER=$WORK/hsm/01.crt.der QNAME="AYŞE KAYA" QWHERE="the vendor module's token (SoftHSM2)" SHOTS=portal-module
else
	"$GEN" "$WORK/s/card1" --pin 123456 --puk 12345678 --ca "$WORK/s/card0" --name "AHMET YILMAZ" >>"$LOG" 2>&1 ||
		bail "the card generator failed"
	https_stack_up --cards 2
	QDER=$WORK/s/card1/9c.crt.der QNAME="AHMET YILMAZ" QWHERE="card B's 9C" SHOTS=portal
fi

node_pid=""
trap '[ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null; demo_down; x_down; tap_cleanup' EXIT

# A private HOME: Chromium (146 and later) reads trust from $XDG_DATA_HOME/pki/nssdb when there is no
# ~/.pki/nssdb, and keeps nothing of the user's.
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config XDG_CACHE_HOME=$WORK/home/.cache \
	XDG_DATA_HOME=$WORK/home/.local/share
mkdir -p "$HOME" "$WORK/files"
check "imzactl trust puts the endpoint's CA into Chromium's \$XDG_DATA_HOME/pki/nssdb" "$CTL" trust --config-dir "$IMZA_STACK_DIR/config"
demo_up
DEMO_ORIGIN=${DEMO_URL%/demo/}
# no_grant ORIGIN: imzactl lists the stored answers (its summary line says it did), none for ORIGIN.
no_grant() {
	local g
	g=$("$CTL" --socket "$IMZA_SOCKET" grants 2>>"$LOG") && grep -q 'allowed origin' <<<"$g" && ! grep -qF "$1" <<<"$g"
}
no_grant "$DEMO_ORIGIN" && pass "$DEMO_ORIGIN holds no grant before" || fail "$DEMO_ORIGIN holds no grant before"

env DEMO_URL="$DEMO_URL" PORTAL_SIGNER="$QNAME" PORTAL_SHOT="$SHOTS-choose-success.png" PORTAL_ARTIFACTS="$ART" PORTAL_WORK="$WORK/files" CHROMIUM="$CHROMIUM" \
	timeout -k 10 200 node "$E2E/portal-choose.mjs" >"$WORK/node.out" 2>>"$LOG" &
node_pid=$!

# ---- the user, at imza-prompt's window, once the page has clicked İmzala ----
for _ in $(seq 1 600); do [ -e "$WORK/files/signing" ] || ! kill -0 "$node_pid" 2>/dev/null && break; sleep 0.1; done
if [ -e "$WORK/files/signing" ] && dump 60; then
	shot $SHOTS-list
	[ "$(q "[x['name'] for x in n if x['role'] == 'push button' and x['name'].startswith('Seç: ')]")" = \
		"['Seç: $QNAME (nitelikli)', 'Seç: MEHMET DEMIR']" ] &&
		pass "the page's İmzala opened imza-prompt's certificate list first (no consent dialog before it), qualified first" ||
		fail "the list: $(q "[x['name'] for x in n if x['role'] == 'push button']")"
	[ "$(q "node('Tam adres: $DEMO_ORIGIN')['text']")" = "$DEMO_ORIGIN" ] &&
		pass "the window names the page's origin $DEMO_ORIGIN" || fail "the window names $DEMO_ORIGIN"
	click "Seç: $QNAME (nitelikli)"
	sleep 0.5
	dump 10 || true
	[ "$(q "node('İmzalayan kişi: $QNAME')['text']")" = "$QNAME" ] &&
		pass "the qualified certificate, chosen, is the signing window's signer" || fail "the chosen signer is shown"
	type_pin
	dump 5 || true
	[ "$(q "node('$SIGN', 'push button')['sensitive']")" = True ] ||
		note "wheel rounds until İmzala was active: $(scroll_to_end "Sayfanın gönderdiği, imzalanacak metin")"
	shot $SHOTS-signing
	click "$SIGN"
	atspi gone && pass "the window closed after signing" || fail "the window closed after signing"
else
	fail "the page's İmzala opened imza-prompt's window"
fi

# ---- what the browser saw ----
wait "$node_pid"
rc=$?
node_pid=""
run_checks cat "$WORK/node.out"
[ "$rc" = 0 ] && pass "portal-choose.mjs ended well" || fail "portal-choose.mjs ended well (exit $rc)"
openssl cms -verify -inform DER -in "$WORK/files/basvuru.p7s" -noverify -signer "$WORK/signer.pem" -out /dev/null 2>>"$LOG" &&
	openssl x509 -in "$WORK/signer.pem" -outform DER -out "$WORK/signer.der" 2>>"$LOG" &&
	cmp -s "$WORK/signer.der" "$QDER" && cmp -s "$WORK/files/answer-cert.der" "$QDER" &&
	pass "the downloaded .p7s was signed by the chosen qualified certificate, on $QWHERE" ||
	fail "the .p7s's signer is the chosen certificate"
out=$("$CTL" --socket "$IMZA_SOCKET" log --last 1 2>&1)
echo "$out" >>"$LOG"
grep -q "  ok  $DEMO_ORIGIN\$" <<<"$out" && pass "the audit log has the signature for $DEMO_ORIGIN" ||
	fail "the audit log has the signature for $DEMO_ORIGIN"
no_grant "$DEMO_ORIGIN" && pass "no grant was stored for $DEMO_ORIGIN: the listing's consent was never asked" ||
	fail "no grant was stored for $DEMO_ORIGIN"
[ ! -s "$IMZA_PINENTRY_LOG" ] && pass "the pinentry fallback showed nothing (every question was imza-prompt's)" ||
	fail "the pinentry fallback was used: $(head -c 300 "$IMZA_PINENTRY_LOG")"
demo_down
stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
