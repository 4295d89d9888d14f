#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A module whose texts are hostile (tests/backend/quirk.c, hostile-strings): its slot description, token
# label, manufacturer, model, serial and object labels carry NUL, CR, LF, ESC, DEL, C1 controls, bytes
# that are not UTF-8 and a character cut by the field's end. Through live imzad none of it reaches the
# reader's name, the token's label and serial, the object labels, imzad's log or `imzactl status`: each
# control character or bad byte is a '?', the cut character is dropped, the Turkish letters stay; and
# the token still signs.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

hsm_up pkcs11-tool
export IMZA_QUIRKS=hostile-strings
imzad_module "$QUIRK"
stack_up s
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@"; }
LABEL='Kötü?]0;x????z'
DESC='Kart okuyucu ?[2J??FAKE: ok????? İşğü'
on_hsm() { imza --token-label "$LABEL" "$@"; }
# clean WHAT FILE: the file is UTF-8 with no control character but LF and TAB (C0, DEL, C1).
clean() {
	python3 - "$2" <<'PY' 2>>"$LOG"
import re, sys
b = open(sys.argv[1], "rb").read()
try:
    s = b.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8: %s" % e)
bad = [hex(ord(c)) for c in s if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f]
sys.exit("control characters: %s" % bad[:10] if bad else 0)
PY
}

found=0
for _ in $(seq 1 150); do
	imza -L >"$WORK/list" 2>&1 && grep -q "token label *: $LABEL\$" "$WORK/list" && { found=1; break; }
	sleep 0.1
done
cat "$WORK/list" >>"$LOG"
[ $found = 1 ] && pass "the token is listed, its label with '?' for each control character and bad byte, its Turkish letters kept" ||
	bail "the token is not listed under its cleaned label; see the log"
clean list "$WORK/list" && pass "imza's slot list holds no control character and is UTF-8" ||
	fail "imza's slot list holds no control character and is UTF-8"
grep -qF "$DESC [quirk-pkcs11.so]" "$WORK/list" &&
	pass "the slot (reader) is named after the cleaned description; the character cut at its end is dropped" ||
	fail "the slot (reader) is named after the cleaned description"
grep -q 'serial num *: 12?34?5?$' "$WORK/list" && pass "the serial is cleaned too" || fail "the serial is cleaned too"

on_hsm -O --login --pin "$SOFTHSM_PIN" >"$WORK/objects" 2>&1
cat "$WORK/objects" >>"$LOG"
clean objects "$WORK/objects" && grep -q 'label: *anahtar??\[1mİmza??$' "$WORK/objects" &&
	pass "object labels are cleaned (anahtar??[1mİmza??)" || fail "object labels are cleaned"

"$IMZA_BUILDDIR/tools/imzactl" --socket "$IMZA_SOCKET" status >"$WORK/status" 2>&1
cat "$WORK/status" >>"$LOG"
clean status "$WORK/status" && grep -qF ": $DESC [quirk-pkcs11.so]" "$WORK/status" &&
	grep -qF "  card: $LABEL (serial 12?34?5?)" "$WORK/status" &&
	pass "imzactl status shows the cleaned reader name, label and serial, and no control character" ||
	fail "imzactl status shows the cleaned reader name, label and serial, and no control character"

printf 'hostile strings' >"$WORK/data"
on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/sig" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/sig" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "the token still signs, and OpenSSL verifies" || fail "the token still signs, and OpenSSL verifies"

cp "$IMZA_STACK_DIR/imzad.log" "$WORK/imzad.log"
clean log "$WORK/imzad.log" && grep -qF "$DESC" "$WORK/imzad.log" &&
	pass "imzad's log names the reader, cleaned, and holds no control character" ||
	fail "imzad's log names the reader, cleaned, and holds no control character"

done_testing
