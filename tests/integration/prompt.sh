#!/usr/bin/env bash
# imza-prompt, the signing window, driven like a user: the real program on a virtual display (Xvfb), started
# by imzad for web signatures through the private stack (HTTPS endpoint, virtual card). What the window
# shows is read back through the accessibility tree (AT-SPI, prompt_atspi.py): the origin and its site,
# the signer, the whole document byte for byte, a page's fake "İmzalayan" line inside the document frame
# only. The PIN is typed on the keyboard (xdotool) and on the shuffled keypad; "İmzala" stays inactive
# until the end of the document was scrolled into view; every signature verifies with openssl; Escape
# cancels. Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-*.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

ART=$IMZA_BUILDDIR/tests/e2e/artifacts
HELPER=$IMZA_SRCDIR/tests/integration/prompt_atspi.py
PROMPT=$IMZA_BUILDDIR/prompt/imza-prompt
ORIGIN=https://basvuru.kamusm.gov.tr
SITE=kamusm.gov.tr

# Debian's python3 has pyatspi; a python3 of its own earlier in PATH may not.
PY=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import pyatspi' 2>/dev/null; then
		PY=$p
		break
	fi
done
missing=""
command -v Xvfb >/dev/null || missing+=" Xvfb (package xvfb)"
command -v xdotool >/dev/null || missing+=" xdotool (package xdotool)"
command -v dbus-daemon >/dev/null || missing+=" dbus-daemon (package dbus)"
[ -x /usr/libexec/at-spi-bus-launcher ] && [ -x /usr/libexec/at-spi2-registryd ] || missing+=" the AT-SPI bus (package at-spi2-core)"
[ -n "$PY" ] || missing+=" pyatspi (package python3-pyatspi)"
command -v import >/dev/null || missing+=" import (package imagemagick)"
[ -x "$PROMPT" ] || missing+=" $PROMPT (not built)"
if [ -n "$missing" ]; then
	echo "1..0 # SKIP missing:$missing (packaging/quickstart installs them)"
	exit 0
fi

# ---- a display, a session bus and the accessibility bus, all ours, stopped by pid ----
x_pids=()
x_down() {
	local p
	for p in "${x_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${x_pids[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	x_pids=()
}
trap 'x_down; tap_cleanup' EXIT

export XDG_RUNTIME_DIR=$WORK/run
mkdir -m 0700 -p "$XDG_RUNTIME_DIR"
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$WORK/display" >>"$LOG" 2>&1 &
x_pids+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/display" ] && break; sleep 0.1; done
[ -s "$WORK/display" ] || bail "Xvfb did not start"
export DISPLAY=:$(cat "$WORK/display")
# dbus-daemon --fork prints its address and the pid of the daemon it left running.
dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1 >"$WORK/dbus" 2>>"$LOG" || bail "no session bus"
x_pids+=("$(sed -n 2p "$WORK/dbus")")
export DBUS_SESSION_BUS_ADDRESS
DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p "$WORK/dbus")
/usr/libexec/at-spi-bus-launcher --launch-immediately >>"$LOG" 2>&1 &
x_pids+=($!)
sleep 0.5
/usr/libexec/at-spi2-registryd --use-gnome-session=false >>"$LOG" 2>&1 &
x_pids+=($!)
export GTK_A11Y=atspi NO_AT_BRIDGE=0
# Turkish first: a Turkish user's locale, whether or not the machine generated it.
export LANG=tr_TR.UTF-8 LC_ALL= IMZA_PROMPT_LOCALEDIR=$IMZA_BUILDDIR/po/locale
mkdir -p "$ART"

# Sanitizer reports (this build's, when it has them) go to files: see the end.
export ASAN_OPTIONS="log_path=$WORK/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$WORK/asan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$IMZA_SRCDIR/prompt/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# imzad asks through imza-prompt (the stack names the test pinentry, which stays the fallback).
export IMZA_IMZAD_ARGS="--prompt $PROMPT"
https_stack_up
allowed_qualified_cert
CN=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -subject -nameopt utf8,sep_multiline |
	sed -n 's/^ *CN=//p')
FP=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -fingerprint -sha256 | sed 's/.*=//')

# sign_bg NAME TEXTFILE: POST /v1/sign with the file's text, in the background; its status and body
# land in $T/NAME.status and $T/NAME.json.
sign_bg() {
	sign_request "$1" "$2"
	curl -sS -m 120 --cacert "$CA" -o "$T/$1.json" -w '%{http_code}' -X POST -H "Origin: $ORIGIN" \
		-H 'Content-Type: application/json' --data-binary "@$T/$1.req" "$URL/v1/sign" >"$T/$1.status" 2>>"$LOG" &
	bg=$!
}
# verified NAME TEXTFILE: the request answered 200 with a CAdES signature over exactly the text.
verified() {
	wait "$bg"
	[ "$(cat "$T/$1.status")" = 200 ] || return 1
	"$PY" -c 'import json,sys,base64; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["signature"]))' \
		"$T/$1.json" >"$T/$1.p7s" &&
		openssl cms -verify -inform DER -in "$T/$1.p7s" -CAfile "$IMZA_TEST_CA" -purpose any -out "$T/$1.out" 2>>"$LOG" &&
		cmp "$T/$1.out" "$2"
}
# q EXPR: a Python expression over the last dump (nodes: n; node(name) the first one called name).
q() {
	"$PY" - "$T/dump.json" "$1" <<'EOF' 2>>"$LOG"
import json, sys
n = json.load(open(sys.argv[1], encoding="utf-8"))
def node(name, role=None):
    for x in n:
        if x["name"] == name and (role is None or x["role"] == role):
            return x
    return {"name": None, "text": None, "sensitive": None, "ext": None}
print(eval(sys.argv[2]))
EOF
}
dump() { "$PY" "$HELPER" dump "$T/dump.json" "${1:-30}" ${2:+"$2"} 2>>"$LOG"; }
atspi() { "$PY" "$HELPER" "$@" >>"$LOG" 2>&1; }
shot() { import -window root "$ART/prompt-$1.png" 2>>"$LOG"; }
# window_id [REGEX]: the X window whose title matches (default: the signing window's "imza"); empty when
# none comes within 10 s (xdotool's own --sync would wait for ever).
window_id() {
	local w
	for _ in $(seq 1 50); do
		w=$(xdotool search --onlyvisible --name "${1:-^imza\$}" 2>/dev/null | tail -n1)
		[ -n "$w" ] && { echo "$w"; return 0; }
		sleep 0.2
	done
	return 1
}
# center NAME: the middle of a node of the last dump, in window coordinates.
center() { q "' '.join(str(v) for v in [node('$1')['ext'][0] + node('$1')['ext'][2] // 2, node('$1')['ext'][1] + node('$1')['ext'][3] // 2])"; }
# click NAME [TITLE]: a mouse click on the node of the last dump called NAME, in the window TITLE.
click() {
	local x y wid
	read -r x y <<<"$(center "$1")"
	wid=$(window_id "${2:-^imza\$}") || return 1
	xdotool mousemove --window "$wid" "$x" "$y" click 1 2>>"$LOG"
	sleep 0.15
}
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
wid=$(window_id)
xdotool windowfocus --sync "$wid" 2>>"$LOG"
click PIN
xdotool type --delay 40 "$IMZA_PIN" 2>>"$LOG"
sleep 0.5
dump 5
[ "$(q "node('İmzala', 'push button')['sensitive']")" = False ] &&
	pass "with the PIN typed, İmzala stays inactive until the end of the document was scrolled into view" ||
	fail "İmzala stays inactive before scrolling"
# The mouse wheel over the document, a few turns at a time, until İmzala wakes (at most 10 rounds).
read -r x y <<<"$(center "$DOCNAME")"
rounds=0
while [ $rounds -lt 10 ]; do
	rounds=$((rounds + 1))
	xdotool mousemove --window "$wid" "$x" "$y" click --repeat 10 --delay 60 5 2>>"$LOG"
	sleep 0.5
	dump 5
	[ "$(q "node('İmzala', 'push button')['sensitive']")" = True ] && break
done
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
# imza-prompt's stderr goes nowhere (libassuan gives its child /dev/null), so the sanitizers of this build
# write their reports to files; GTK's, GLib's and the graphics stack's own leaks are suppressed by
# prompt/lsan.supp, never imza's.
reports=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/asan.* 2>/dev/null || true)
[ -z "$reports" ] && pass "no sanitizer reports from imzad or imza-prompt ($(ls "$WORK"/asan.* 2>/dev/null | wc -l) report files)" ||
	{ fail "no sanitizer reports from imzad or imza-prompt"; head -n 40 $reports | sed 's/^/# /'; }
echo "1..$tap_n"
