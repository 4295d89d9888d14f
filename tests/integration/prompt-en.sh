#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imza-prompt in English: a user whose locale is not Turkish (LANG_UNDER_TEST, default C.UTF-8: the one
# UTF-8 locale every Debian 12 has, en_US.UTF-8 being generated only on request) gets the window's own
# words in English, read back through AT-SPI: the site, the signer and its badge, the document frame with
# its size and SHA-256 line, the buttons (Sign, Cancel, View), the PIN section and the certificate
# details; no Turkish message of the window's catalog (po/tr.po) is left on any node. The page's Turkish
# text is shown byte for byte as it came. Then the English window signs: PIN typed, text scrolled, Sign
# pressed, the .p7s verified. Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-en-*.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"
. "$(dirname "$0")/../lib/xsession.sh"

x_need
# Whatever LANGUAGE a developer's shell carries: the locale alone decides.
unset LANGUAGE LC_MESSAGES
LANG_UNDER_TEST=${LANG_UNDER_TEST:-C.UTF-8}
x_session_up
SIGN=Sign
https_stack_up
allowed_qualified_cert
CN=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -subject -nameopt utf8,sep_multiline |
	sed -n 's/^ *CN=//p')
FP=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -fingerprint -sha256 | sed 's/.*=//')
DOCNAME="Text sent by the page, to be signed"
DETAILS="Certificate details"

# has ROLE NAME: a node of the last dump with that role and accessible name.
has() { [ "$(q "any(x['role'] == '$1' and x['name'] == '''$2''' for x in n)")" = True ]; }
# turkish_left: the nodes of the last dump (the page's text apart) whose name or text is one of the
# window's Turkish messages (each msgstr of po/tr.po that differs from its English msgid, its %s, %d and
# %zu taking any value); prints "N checked: [the nodes]".
turkish_left() {
	"$PY" - "$IMZA_SRCDIR/po/tr.po" "$T/dump.json" "$DOCNAME" <<'PYEOF' 2>>"$LOG"
import json, re, sys
po = open(sys.argv[1], encoding="utf-8").read()
pairs = re.findall(r'^msgid "(.*)"\nmsgstr "(.*)"$', po, re.M)
pats = []
for en, tr in pairs:
    if not en or tr == en:
        continue
    parts = re.split(r"%(?:zu|s|d)", tr.replace("_", ""))
    pats.append(re.compile("^" + ".*".join(re.escape(p) for p in parts) + "$", re.S))
n = json.load(open(sys.argv[2], encoding="utf-8"))
left = [x["name"] or x["text"] for x in n if x["name"] != sys.argv[3]
        and any(p.match(s) for p in pats for s in (x["name"] or "", x["text"] or "") if s)]
print(len(pats), "checked:", left)
PYEOF
}

turkish_declaration "$T/decl.txt"
sign_bg decl "$T/decl.txt"
if dump; then pass "imzad opened imza-prompt's window (LANG=$LANG_UNDER_TEST)"; else fail "imza-prompt's window opened"; fi
shot en-signing
for b in Sign Cancel View; do
	has "push button" "$b" && pass "the button \"$b\" is in English" || fail "the button \"$b\" is in English"
done
has "check box" "Shuffle the digits" && pass "the check box \"Shuffle the digits\" is in English" ||
	fail "the check box \"Shuffle the digits\" is in English"
for h in "Requesting site" "Signer" "The page's text, which you sign" "PIN:"; do
	has label "$h" && pass "the section title \"$h\" is in English" || fail "the section title \"$h\" is in English"
done
[ "$(q "node('Requesting site: $SITE')['text']")" = "$SITE" ] && pass "the site is read \"Requesting site: $SITE\"" ||
	fail "the site is read \"Requesting site: $SITE\""
[ "$(q "node('Full address: $ORIGIN')['text']")" = "$ORIGIN" ] && pass "the origin is read \"Full address: $ORIGIN\"" ||
	fail "the origin is read \"Full address: $ORIGIN\""
[ -n "$CN" ] && [ "$(q "node('Signer: $CN')['text']")" = "$CN" ] && pass "the signer is read \"Signer: $CN\"" ||
	fail "the signer is read \"Signer: $CN\""
[ "$(q "node('Qualified certificate')['text']")" = Qualified ] && pass "the badge reads \"Qualified\"" ||
	fail "the badge reads \"Qualified\""
[ "$(q "any(x['role'] == 'label' and (x['text'] or '').startswith('TR identity number: ') for x in n)")" = True ] &&
	pass "the identity number line is in English" || fail "the identity number line is in English"
[ "$(q "any(x['role'] == 'label' and (x['text'] or '').startswith('PIN tries left: ') for x in n)")" = True ] &&
	pass "the tries left line is in English" || fail "the tries left line is in English"
want_hash=$(sha256sum "$T/decl.txt" | cut -d' ' -f1)
[ "$(q "any('2400 bytes of text, SHA-256: $want_hash' == x['text'] for x in n)")" = True ] &&
	pass "the size and SHA-256 line is in English" || fail "the size and SHA-256 line is in English"
[ "$(q "node('$DOCNAME')['role']")" = text ] && pass "the document frame is named \"$DOCNAME\"" ||
	fail "the document frame is named \"$DOCNAME\""
[ "$(q "node('$DOCNAME')['text'].encode() == open('$T/decl.txt', 'rb').read()")" = True ] &&
	pass "the page's Turkish text is shown whole, byte for byte" || fail "the page's Turkish text is shown whole"
left=$(turkish_left)
note "Turkish messages of the signing window: $left"
[[ $left =~ ^[1-9][0-9]*\ checked:\ \[\]$ ]] && pass "no Turkish message of the window is left (${left%% *} checked)" ||
	fail "no Turkish message of the window is left ($left)"

# The details, in English too, closed by their Close button (a mouse click).
click View
if dump 10 "$DETAILS"; then
	shot en-details
	[ "$(q "node('SHA-256 fingerprint: $FP')['text']")" = "$FP" ] && pass "View opens \"$DETAILS\" with the SHA-256 fingerprint" ||
		fail "View opens \"$DETAILS\" with the SHA-256 fingerprint"
	for r in Subject Issuer "Serial number" Validity Key "Key usage" Policies Qualified; do
		has label "$r" || { fail "the details' row \"$r\" is in English"; continue; }
		pass "the details' row \"$r\" is in English"
	done
	left=$(turkish_left)
	[[ $left =~ ^[1-9][0-9]*\ checked:\ \[\]$ ]] && pass "no Turkish message in the details window" ||
		fail "no Turkish message in the details window ($left)"
	click Close "^$DETAILS\$"
	atspi gone-window "$DETAILS" && pass "Close closes the details" || fail "Close closes the details"
else
	fail "View opens \"$DETAILS\""
fi

# An English window signs: PIN typed, text scrolled to its end, Sign.
dump 5
[ "$(q "node('Sign', 'push button')['sensitive']")" = False ] && pass "Sign is inactive at first" || fail "Sign is inactive at first"
type_pin
note "wheel rounds until Sign was active: $(scroll_to_end "$DOCNAME")"
[ "$(q "node('Sign', 'push button')['sensitive']")" = True ] && pass "PIN typed and text scrolled to its end: Sign is active" ||
	fail "PIN typed and text scrolled to its end: Sign is active"
shot en-scrolled
if [ "$(q "node('Sign', 'push button')['sensitive']")" = True ]; then
	click Sign
	if verified decl "$T/decl.txt"; then pass "Sign signed: the .p7s verifies for exactly the declaration"; else
		fail "the signature verifies ($(cat "$T/decl.status") $(head -c 200 "$T/decl.json"))"; fi
else
	# Cancelled at once rather than left to time out.
	atspi press Cancel || atspi press İptal
	wait "$bg"
	fail "Sign signed (the window was cancelled: $(error_of decl))"
fi
atspi gone && pass "the window closed after signing" || fail "the window closed after signing"

stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
