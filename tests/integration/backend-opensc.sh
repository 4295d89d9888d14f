#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OpenSC's opensc-pkcs11.so as a vendor module, driving the virtual PIV card through imza-backend:
# with imza's own PIV driver off (native = no), pkcs11-tool through imza lists what pkcs11-tool on
# OpenSC itself lists (classes, ids, certificate DER), signs, and sees the card taken out and put back
# within 2 s. With the native driver on, the same card is shown once: the native driver keeps its
# reader and the module's token in it is not shown; with `prefer = module` for OpenSC's module, the
# module serves it and the native driver leaves that reader, also when the card is put back.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

need pkcs11-tool opensc
[ -x "$BACKEND" ] || bail "imza-backend not built"
# The stack's own OpenSC settings (no file caching) for the module imzad's helper loads.
export OPENSC_CONF=$WORK/s/opensc.conf
printf 'native = no\nmodule = %s\n' "$(find /usr/lib -name opensc-pkcs11.so -path '*x86_64*' 2>/dev/null | head -n1)" \
	>"$WORK/imzad.conf"
grep -q '^module = /' "$WORK/imzad.conf" || bail "opensc-pkcs11.so not found (package opensc-pkcs11)"
export IMZA_IMZAD_ARGS="--config $WORK/imzad.conf --backend $BACKEND"
# imzad is up before its module has looked at the reader: the stack does not wait for the card.
stack_up s
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@"; }
osc() { pkcs11-tool --module "$IMZA_OPENSC_MODULE" "$@"; }
tokens() { imza -L 2>/dev/null | grep -c 'token label'; }
# within SECONDS N: imza lists N tokens within SECONDS; prints how long it took (in tenths of a second).
within() {
	local i
	for i in $(seq 1 $(($1 * 10))); do
		[ "$(tokens)" = "$2" ] && { echo "$i"; return 0; }
		sleep 0.1
	done
	return 1
}
within 15 1 >/dev/null && pass "the PIV card is listed through imza, served by OpenSC's module" ||
	bail "the card is not listed through OpenSC's module; see the log"
st=$("$IMZA_BUILDDIR/tools/imzactl" --socket "$IMZA_SOCKET" status 2>&1)
echo "$st" >>"$LOG"
grep -q '^  driver: module .*opensc-pkcs11.so$' <<<"$st" && ! grep -q '^  driver: piv$' <<<"$st" &&
	pass "imzactl status: the module serves it, imza's PIV driver does not" || fail "imzactl status: the module serves it"

# One line per certificate or key: class, key type and CKA_ID (OpenSC's data objects are not keys).
summary() {
	awk '/^(Certificate|Public Key|Private Key) Object/ { cls = $1 " " $2; kt = $0; sub(/^[^;]*; */, "", kt); gsub(/ +/, "_", kt) }
		/^  ID:/ { print cls, kt, $2 }' | sed 's/_$//' | sort
}
mine=$(imza -O --login --pin "$IMZA_PIN" 2>>"$LOG" | summary)
theirs=$(osc -O --login --pin "$IMZA_PIN" 2>>"$LOG" | summary)
echo "$mine" | sed 's/^/# imza: /' >>"$LOG"
echo "$theirs" | sed 's/^/# opensc: /' >>"$LOG"
[ -n "$mine" ] && [ "$mine" = "$theirs" ] &&
	pass "pkcs11-tool -O through imza matches OpenSC's own listing ($(wc -l <<<"$mine") objects: classes, key types, ids)" ||
	fail "pkcs11-tool -O through imza matches OpenSC's own listing"
same=1
for id in 01 02 03 04; do
	imza --read-object --type cert --id "$id" -o "$WORK/imza-$id.der" >>"$LOG" 2>&1 || same=0
	osc --read-object --type cert --id "$id" -o "$WORK/osc-$id.der" >>"$LOG" 2>&1 || same=0
	cmp -s "$WORK/imza-$id.der" "$WORK/osc-$id.der" || same=0
done
[ "$same" = 1 ] && pass "the four certificates' DER are OpenSC's" || fail "the four certificates' DER are OpenSC's"
printf 'imza through OpenSC' >"$WORK/data"
openssl x509 -inform DER -in "$IMZA_CARD_DIR/9a.crt.der" -pubkey -noout >"$WORK/9a.pub"
imza --login --pin "$IMZA_PIN" --sign --id 01 -m ECDSA-SHA256 --signature-format openssl -i "$WORK/data" \
	-o "$WORK/sig" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/9a.pub" -signature "$WORK/sig" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "the PIV authentication key (EC P-256) signs through imza and OpenSC's module, and OpenSSL verifies" ||
	fail "the PIV authentication key (EC P-256) signs through imza and OpenSC's module"

"$STACK" card "$IMZA_STACK_DIR" remove >>"$LOG" 2>&1
t=$(within 2 0) && pass "the card taken out leaves imza's list within 2 s ($((t * 100)) ms)" ||
	fail "the card taken out leaves imza's list within 2 s"
"$STACK" card "$IMZA_STACK_DIR" insert >>"$LOG" 2>&1
t=$(within 2 1) && pass "put back, it is listed again within 2 s ($((t * 100)) ms)" || fail "put back, it is listed again within 2 s"
stacks_down

# The native driver on: the card is imza's own, and OpenSC's token in the same reader is not shown.
printf 'module = %s\n' "$(sed -n 's/^module = //p' "$WORK/imzad.conf")" >"$WORK/imzad2.conf"
export OPENSC_CONF=$WORK/t/opensc.conf IMZA_IMZAD_ARGS="--config $WORK/imzad2.conf --backend $BACKEND"
stack_up t
sleep 2
st=$("$IMZA_BUILDDIR/tools/imzactl" --socket "$IMZA_SOCKET" status 2>&1)
echo "$st" >>"$LOG"
[ "$(tokens)" = 1 ] && grep -q '^  driver: piv$' <<<"$st" &&
	pass "with both, the card is listed once, by imza's PIV driver" || fail "with both, the card is listed once ($(tokens) tokens)"
grep -q "not shown: imza's own driver serves the card in that reader" "$IMZA_STACK_DIR/imzad.log" &&
	pass "imzad says it did not show the module's token" || fail "imzad says it did not show the module's token"
stacks_down

# prefer = module for OpenSC's module, the native driver on: the module serves the card, once.
printf 'prefer = module\n' >>"$WORK/imzad2.conf"
export OPENSC_CONF=$WORK/u/opensc.conf
stack_up u
# served SECONDS: within SECONDS, one token, served by the module and not by imza's PIV driver.
served() {
	local i st
	for i in $(seq 1 $(($1 * 10))); do
		st=$("$IMZA_BUILDDIR/tools/imzactl" --socket "$IMZA_SOCKET" status 2>&1)
		[ "$(tokens)" = 1 ] && grep -q '^  driver: module .*opensc-pkcs11.so$' <<<"$st" &&
			! grep -q '^  driver: piv$' <<<"$st" && { echo "$i"; return 0; }
		sleep 0.1
	done
	echo "$st" >>"$LOG"
	return 1
}
served 15 >/dev/null && pass "prefer = module: the card is listed once, served by OpenSC's module" ||
	fail "prefer = module: the card is listed once, served by OpenSC's module ($(tokens) tokens)"
grep -q "left to the vendor module preferred for it" "$IMZA_STACK_DIR/imzad.log" &&
	pass "imzad says its PIV driver left the card to the module" || fail "imzad says its PIV driver left the card to the module"
imza --login --pin "$IMZA_PIN" --sign --id 01 -m ECDSA-SHA256 --signature-format openssl -i "$WORK/data" \
	-o "$WORK/sig2" >>"$LOG" 2>&1
openssl x509 -inform DER -in "$IMZA_CARD_DIR/9a.crt.der" -pubkey -noout >"$WORK/9a-u.pub"
openssl dgst -sha256 -verify "$WORK/9a-u.pub" -signature "$WORK/sig2" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "prefer = module: the card signs through the module" || fail "prefer = module: the card signs through the module"
"$STACK" card "$IMZA_STACK_DIR" remove >>"$LOG" 2>&1
within 3 0 >/dev/null || fail "taken out, the card leaves imza's list"
n=$(wc -l <"$IMZA_STACK_DIR/imzad.log")
"$STACK" card "$IMZA_STACK_DIR" insert >>"$LOG" 2>&1
served 5 >/dev/null && pass "put back, it is served by the module again" || fail "put back, it is served by the module again"
sleep 1
# The PC/SC reader's slot (the module's slot is named "... [opensc-pkcs11.so]").
ps=$(sed -n 's/^imzad: info: reader Imza Virtual A 00 00 is slot \([0-9]*\)$/\1/p' "$IMZA_STACK_DIR/imzad.log" | head -n 1)
[ -n "$ps" ] && ! sed "1,${n}d" "$IMZA_STACK_DIR/imzad.log" | grep -q "slot $ps: card \"" &&
	pass "put back, imza's PIV driver did not serve it even for a moment" ||
	fail "put back, imza's PIV driver did not serve it even for a moment"

done_testing
