# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# xsession.sh: what the tests that drive imza-prompt's windows like a user share. Source it after
# tests/lib/tap.sh and tests/lib/https.sh, call x_need (the test skips when a program is missing), then
# x_session_up: a virtual display (Xvfb, no window manager), a session bus and the accessibility bus, all
# stopped by pid on exit; imzad (started after it with https_stack_up) asks through imza-prompt, in
# Turkish unless LANG_UNDER_TEST names another locale. The windows are read back through AT-SPI
# (tests/integration/prompt_atspi.py) and driven with xdotool; screenshots go to $ART.
# shellcheck disable=SC2034 # the names are for the scripts that source this file

ART=$IMZA_BUILDDIR/tests/e2e/artifacts
HELPER=$IMZA_SRCDIR/tests/integration/prompt_atspi.py
PROMPT=$IMZA_BUILDDIR/prompt/imza-prompt
ORIGIN=${ORIGIN:-https://basvuru.kamusm.gov.tr}
SITE=${SITE:-kamusm.gov.tr}
# The signing window's title and its sign button, as the locale names them.
WINDOW=${WINDOW:-^imza\$}
SIGN=${SIGN:-İmzala}

# Debian's python3 has pyatspi; a python3 of its own earlier in PATH may not.
PY=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import pyatspi' 2>/dev/null; then
		PY=$p
		break
	fi
done

# x_need [PROGRAM...]: skips the whole test (TAP plan 1..0) when a program it needs is not installed.
x_need() {
	local p missing=""
	command -v Xvfb >/dev/null || missing+=" Xvfb (package xvfb)"
	command -v xdotool >/dev/null || missing+=" xdotool (package xdotool)"
	command -v dbus-daemon >/dev/null || missing+=" dbus-daemon (package dbus)"
	[ -x /usr/libexec/at-spi-bus-launcher ] && [ -x /usr/libexec/at-spi2-registryd ] ||
		missing+=" the AT-SPI bus (package at-spi2-core)"
	[ -n "$PY" ] || missing+=" pyatspi (package python3-pyatspi)"
	command -v import >/dev/null || missing+=" import (package imagemagick)"
	[ -x "$PROMPT" ] || missing+=" $PROMPT (not built)"
	for p in "$@"; do command -v "$p" >/dev/null || missing+=" $p"; done
	if [ -n "$missing" ]; then
		missing "$missing (packaging/quickstart installs them)"
	fi
}

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

# x_session_up: the display and the two buses; DISPLAY, DBUS_SESSION_BUS_ADDRESS and GTK's accessibility
# switches are exported for the programs started after it, and imzad is to ask through imza-prompt (the
# stack names the test pinentry, which stays the fallback). The sanitizer reports of this build go to
# files, since imza-prompt's stderr goes nowhere (libassuan gives its child /dev/null): sanitizer_check.
x_session_up() {
	trap 'x_down; tap_cleanup' EXIT
	export XDG_RUNTIME_DIR=$WORK/run
	mkdir -m 0700 -p "$XDG_RUNTIME_DIR"
	Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$WORK/display" >>"$LOG" 2>&1 &
	x_pids+=($!)
	for _ in $(seq 1 100); do [ -s "$WORK/display" ] && break; sleep 0.1; done
	[ -s "$WORK/display" ] || bail "Xvfb did not start"
	export DISPLAY=:$(cat "$WORK/display")
	# dbus-daemon --fork prints its address and the pid of the daemon it left running.
	dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1 >"$WORK/dbus" 2>>"$LOG" ||
		bail "no session bus"
	x_pids+=("$(sed -n 2p "$WORK/dbus")")
	export DBUS_SESSION_BUS_ADDRESS
	DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p "$WORK/dbus")
	/usr/libexec/at-spi-bus-launcher --launch-immediately >>"$LOG" 2>&1 &
	x_pids+=($!)
	sleep 0.5
	/usr/libexec/at-spi2-registryd --use-gnome-session=false >>"$LOG" 2>&1 &
	x_pids+=($!)
	# No OpenGL, as tests/valgrind/prompt.sh has it: GDK probes Mesa's software driver at start and unloads
	# it, and what the driver allocated then is reported by LeakSanitizer as a leak from an unknown
	# (unloaded) module (Mesa 22.3.6-1+deb12u2, Debian 12), not one of imza-prompt's. Xvfb has no GPU:
	# the windows are the same drawn with cairo.
	export GTK_A11Y=atspi NO_AT_BRIDGE=0 GDK_DEBUG=gl-disable
	# Turkish first: a Turkish user's locale, whether or not the machine generated it.
	export LANG=${LANG_UNDER_TEST:-tr_TR.UTF-8} LC_ALL= IMZA_PROMPT_LOCALEDIR=$IMZA_BUILDDIR/po/locale
	export ASAN_OPTIONS="log_path=$WORK/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export UBSAN_OPTIONS="log_path=$WORK/asan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	export LSAN_OPTIONS="suppressions=$IMZA_SRCDIR/prompt/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
	export IMZA_IMZAD_ARGS="--prompt $PROMPT"
	mkdir -p "$ART"
}

# sign_bg NAME TEXTFILE [WAIT]: POST /v1/sign from $ORIGIN with the file's text (for $CERT; none when it
# is empty), in the background ($bg); its status and body land in $T/NAME.status and $T/NAME.json.
sign_bg() {
	sign_request "$1" "$2" "${3:-}"
	curl -sS -m 300 --cacert "$CA" -o "$T/$1.json" -w '%{http_code}' -X POST -H "Origin: $ORIGIN" \
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
# signed_by NAME DER: after verified NAME, the signature's signer and the answer's "certificate" are both
# exactly the certificate in the DER file.
signed_by() {
	"$PY" -c 'import json,sys,base64; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["certificate"]))' \
		"$T/$1.json" >"$T/$1.cert.der" &&
		openssl cms -verify -inform DER -in "$T/$1.p7s" -noverify -signer "$T/$1.signer.pem" -out /dev/null 2>>"$LOG" &&
		openssl x509 -in "$T/$1.signer.pem" -outform DER -out "$T/$1.signer.der" 2>>"$LOG" &&
		cmp -s "$T/$1.signer.der" "$2" && cmp -s "$T/$1.cert.der" "$2"
}
# error_of NAME: the error code of a finished background request.
error_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error"))' "$T/$1.json" 2>>"$LOG"; }
# q EXPR: a Python expression over the last dump (nodes: n; node(name) the first one called name).
q() {
	"$PY" - "$T/dump.json" "$1" <<'PYEOF' 2>>"$LOG"
import json, sys
n = json.load(open(sys.argv[1], encoding="utf-8"))
def node(name, role=None):
    for x in n:
        if x["name"] == name and (role is None or x["role"] == role):
            return x
    return {"role": None, "name": None, "text": None, "sensitive": None, "ext": None, "checked": None,
            "value": None}
print(eval(sys.argv[2]))
PYEOF
}
# dump [TIMEOUT [TITLE]]: the window (the last one opened, or TITLE) into $T/dump.json.
dump() { "$PY" "$HELPER" dump "$T/dump.json" "${1:-30}" ${2:+"$2"} 2>>"$LOG"; }
atspi() { "$PY" "$HELPER" "$@" >>"$LOG" 2>&1; }
# shot NAME: a screenshot of the whole display, $ART/prompt-NAME.png.
shot() { import -window root "$ART/prompt-$1.png" 2>>"$LOG"; }
# window_id [REGEX]: imza-prompt's X window whose title matches (default: the signing window's); empty when
# none comes within 10 s (xdotool's own --sync would wait for ever). The title is the UTF-8 _NET_WM_NAME
# that xdotool getwindowname reads: xdotool search --name reads WM_NAME, and GTK 4.8 left "imza" there
# for the window titled "Sertifika ayrıntıları" (xprop shows it), so "^imza$" found the details window
# too and its own title was never found.
window_id() {
	local w id
	for _ in $(seq 1 50); do
		w=
		for id in $(xdotool search --onlyvisible --classname '^imza-prompt$' 2>/dev/null); do
			[[ $(xdotool getwindowname "$id" 2>/dev/null) =~ ${1:-$WINDOW} ]] && w=$id
		done
		[ -n "$w" ] && { echo "$w"; return 0; }
		sleep 0.2
	done
	return 1
}
# focus_name: the title of the X window that has the keyboard focus ("" for the root window or none).
focus_name() { xdotool getwindowfocus getwindowname 2>/dev/null; }
# center NAME: the middle of a node of the last dump, in window coordinates.
center() { q "' '.join(str(v) for v in [node('$1')['ext'][0] + node('$1')['ext'][2] // 2, node('$1')['ext'][1] + node('$1')['ext'][3] // 2])"; }
# click NAME [TITLE]: a mouse click on the node of the last dump called NAME, in the window TITLE.
click() {
	local x y wid
	read -r x y <<<"$(center "$1")"
	wid=$(window_id "${2:-$WINDOW}") || return 1
	xdotool mousemove --window "$wid" "$x" "$y" click 1 2>>"$LOG"
	sleep 0.15
}
# type_pin [PIN]: the PIN typed into the signing window's field (clicked first), as a user does.
type_pin() {
	local wid
	wid=$(window_id) || return 1
	xdotool windowfocus --sync "$wid" 2>>"$LOG"
	click PIN
	xdotool type --delay 40 "${1:-$IMZA_PIN}" 2>>"$LOG"
	sleep 0.5
}
# scroll_to_end NAME: the mouse wheel over the node NAME, ten turns a round, until the button $SIGN is
# active (at most 10 rounds); prints the rounds it took.
scroll_to_end() {
	local x y wid rounds=0
	read -r x y <<<"$(center "$1")"
	wid=$(window_id) || return 1
	while [ $rounds -lt 10 ]; do
		rounds=$((rounds + 1))
		xdotool mousemove --window "$wid" "$x" "$y" click --repeat 10 --delay 60 5 2>>"$LOG"
		sleep 0.5
		dump 5
		[ "$(q "node('$SIGN', 'push button')['sensitive']")" = True ] && break
	done
	echo "$rounds"
}
# sanitizer_check: imzad's and imza-prompt's sanitizer reports (this build's), once the stack is down;
# GTK's, GLib's and the graphics stack's own leaks are suppressed by prompt/lsan.supp, never imza's.
sanitizer_check() {
	local reports
	reports=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/asan.* 2>/dev/null || true)
	[ -z "$reports" ] && pass "no sanitizer reports from imzad or imza-prompt ($(ls "$WORK"/asan.* 2>/dev/null | wc -l) report files)" ||
		{ fail "no sanitizer reports from imzad or imza-prompt"; head -n 40 $reports | sed 's/^/# /'; }
}
