#!/usr/bin/env bash
# The certificate choice in imza-prompt, driven like a user on a virtual display (Xvfb): two cards, the
# first (reader A) with an ordinary signing certificate, the second (reader B) with a qualified one. A
# page's POST /v1/sign names no certificate; imzad's window lists both, the qualified one first with its
# "Nitelikli" badge, Görüntüle and Seç on each row (read back through AT-SPI, prompt_atspi.py). The user
# picks with the keyboard (Tab, Enter) and the mouse (xdotool); the chosen certificate becomes the signer
# of the signing window, and the signature that comes back verifies and is made by exactly it.
# Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-choose-*.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

ART=$IMZA_BUILDDIR/tests/e2e/artifacts
HELPER=$IMZA_SRCDIR/tests/integration/prompt_atspi.py
PROMPT=$IMZA_BUILDDIR/prompt/imza-prompt
ORIGIN=https://basvuru.kamusm.gov.tr

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
# Two cards of one CA: card 0 (reader A) ordinary, card 1 (reader B) qualified, made before the stack
# starts so that it takes them as they are.
GEN=$IMZA_SRCDIR/tests/vcard/imza-vcard-gen
"$GEN" "$WORK/s/card0" --pin 123456 --puk 12345678 --name "MEHMET DEMIR" --qualified no >>"$LOG" 2>&1 &&
	"$GEN" "$WORK/s/card1" --pin 123456 --puk 12345678 --ca "$WORK/s/card0" --name "AHMET YILMAZ" >>"$LOG" 2>&1 ||
	bail "the card generator failed"
stack_up s --cards 2
CTL=$IMZA_BUILDDIR/tools/imzactl
URL=$IMZA_HTTPS_URL
CA=$IMZA_LOCAL_CA
T=$WORK/t
mkdir -p "$T"
# The site may sign (its grant, as before); it never lists certificates here.
"$CTL" grants allow "$ORIGIN" >>"$LOG" 2>&1
QDER=$WORK/s/card1/9c.crt.der
ODER=$WORK/s/card0/9c.crt.der

# sign_bg NAME TEXTFILE: POST /v1/sign with the file's text and no certificate, in the background.
sign_bg() {
	"$PY" -c 'import json,sys; print(json.dumps({"text":open(sys.argv[1],encoding="utf-8").read()}))' "$2" >"$T/$1.req"
	curl -sS -m 120 --cacert "$CA" -o "$T/$1.json" -w '%{http_code}' -X POST -H "Origin: $ORIGIN" \
		-H 'Content-Type: application/json' --data-binary "@$T/$1.req" "$URL/v1/sign" >"$T/$1.status" 2>>"$LOG" &
	bg=$!
}
# signed_by NAME TEXTFILE DER: 200, the CMS verifies for exactly the text, and its signer (and the answer's
# "certificate") is the certificate DER.
signed_by() {
	wait "$bg"
	[ "$(cat "$T/$1.status")" = 200 ] || return 1
	"$PY" -c 'import json,sys,base64; j=json.load(open(sys.argv[1])); open(sys.argv[2],"wb").write(base64.b64decode(j["signature"])); open(sys.argv[3],"wb").write(base64.b64decode(j["certificate"]))' \
		"$T/$1.json" "$T/$1.p7s" "$T/$1.cert.der" &&
		openssl cms -verify -inform DER -in "$T/$1.p7s" -CAfile "$IMZA_TEST_CA" -purpose any -out "$T/$1.out" \
			-signer "$T/$1.signer.pem" 2>>"$LOG" &&
		cmp "$T/$1.out" "$2" &&
		openssl x509 -in "$T/$1.signer.pem" -outform DER -out "$T/$1.signer.der" &&
		cmp "$T/$1.signer.der" "$3" && cmp "$T/$1.cert.der" "$3"
}
q() {
	"$PY" - "$T/dump.json" "$1" <<'PYEOF' 2>>"$LOG"
import json, sys
n = json.load(open(sys.argv[1], encoding="utf-8"))
def node(name, role=None):
    for x in n:
        if x["name"] == name and (role is None or x["role"] == role):
            return x
    return {"name": None, "text": None, "sensitive": None, "ext": None}
print(eval(sys.argv[2]))
PYEOF
}
dump() { "$PY" "$HELPER" dump "$T/dump.json" "${1:-30}" ${2:+"$2"} 2>>"$LOG"; }
atspi() { "$PY" "$HELPER" "$@" >>"$LOG" 2>&1; }
shot() { import -window root "$ART/prompt-choose-$1.png" 2>>"$LOG"; }
window_id() {
	local w
	for _ in $(seq 1 50); do
		w=$(xdotool search --onlyvisible --name "${1:-^imza\$}" 2>/dev/null | tail -n1)
		[ -n "$w" ] && { echo "$w"; return 0; }
		sleep 0.2
	done
	return 1
}
center() { q "' '.join(str(v) for v in [node('$1')['ext'][0] + node('$1')['ext'][2] // 2, node('$1')['ext'][1] + node('$1')['ext'][3] // 2])"; }
click() {
	local x y wid
	read -r x y <<<"$(center "$1")"
	wid=$(window_id "${2:-^imza\$}") || return 1
	xdotool mousemove --window "$wid" "$x" "$y" click 1 2>>"$LOG"
	sleep 0.15
}
CHOOSE_Q="Seç: AHMET YILMAZ (nitelikli)"
CHOOSE_O="Seç: MEHMET DEMIR"
printf 'Başvuru formu: yenileme. Güvenlik sözcüğü "elma".' >"$T/short.txt"

# ---- 1. the list, qualified first; the mouse picks the qualified one; the PIN signs with it ----
sign_bg q "$T/short.txt"
if dump; then pass "a signature without a certificate opens imza-prompt's certificate list"; else fail "the certificate list opened"; fi
shot list
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
	shot details
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
shot signing
wid=$(window_id)
xdotool windowfocus --sync "$wid" 2>>"$LOG"
click PIN
xdotool type --delay 40 "$IMZA_PIN" 2>>"$LOG"
sleep 0.5
dump 5 || true
click İmzala
if signed_by q "$T/short.txt" "$QDER"; then
	pass "the signature verifies and its signer is the chosen qualified certificate"
else
	fail "signed by the chosen certificate ($(cat "$T/q.status") $(head -c 200 "$T/q.json"))"
fi
atspi gone && pass "the window closed after signing" || fail "the window closed after signing"

# ---- 2. the keyboard alone: Tab to the second row's Seç, Enter; that one is the signer; Escape ----
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
wid=$(window_id)
xdotool windowfocus --sync "$wid" key Escape 2>>"$LOG"
wait "$bg"
[ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error"))' "$T/o.json" 2>>"$LOG")" = user_cancelled ] &&
	pass "Escape in the signing window cancels: user_cancelled" || fail "Escape cancels ($(cat "$T/o.status"))"
atspi gone || true

# ---- 3. İptal in the list: user_cancelled, no PIN asked ----
sign_bg c "$T/short.txt"
dump || true
atspi press İptal
wait "$bg"
[ "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error"))' "$T/c.json" 2>>"$LOG")" = user_cancelled ] &&
	pass "İptal in the list: user_cancelled" || fail "İptal in the list ($(cat "$T/c.status"))"

stacks_down
x_down
reports=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/asan.* 2>/dev/null || true)
[ -z "$reports" ] && pass "no sanitizer reports from imzad or imza-prompt" ||
	{ fail "no sanitizer reports from imzad or imza-prompt"; head -n 40 $reports | sed 's/^/# /'; }
echo "1..$tap_n"
