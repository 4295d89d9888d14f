#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imzactl over the daemon's socket: status shows readers and the card, certs shows each certificate
# with subject, issuer, validity and key type, as the card's own files say.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
CTL=$IMZA_BUILDDIR/tools/imzactl
check_output "status names the daemon" '^daemon: imzad ' "$CTL" status
check_output "status shows the card's holder" 'card: AHMET YILMAZ' "$CTL" status
check_output "status shows the reader" 'slot 1: Imza Virtual A 00 00' "$CTL" status
check_output "status --verbose counts APDUs" '^apdus: [1-9]' "$CTL" status --verbose
out=$("$CTL" certs 2>&1)
echo "$out" >>"$LOG"
[ "$(grep -c '^  subject:' <<<"$out")" = 4 ] && pass "certs lists four certificates" || fail "certs lists four certificates"
tckn=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -subject -nameopt sep_multiline | sed -n 's/^ *serialNumber=//p')
grep -q "serialNumber=$tckn" <<<"$out" && pass "the TC kimlik no appears in the subject" || fail "the TC kimlik no appears in the subject"
grep -q 'key: RSA 2048' <<<"$out" && grep -q 'key: EC prime256v1' <<<"$out" && grep -q 'key: EC secp384r1' <<<"$out" &&
	pass "key types RSA 2048, P-256 and P-384" || fail "key types RSA 2048, P-256 and P-384"
na=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -noout -enddate | sed 's/notAfter=//')
want=$(date -u -d "$na" '+%Y-%m-%d %H:%M:%S UTC')
grep -q "not after: $want" <<<"$out" && pass "validity matches the certificate ($want)" || fail "validity matches the certificate"
check "card removed" "$STACK" card "$IMZA_STACK_DIR" remove
sleep 0.3
check_output "status shows no card after removal" 'card: none' "$CTL" status
check_output "certs lists none" '^0 certificates' "$CTL" certs
check "card reinserted" "$STACK" card "$IMZA_STACK_DIR" insert
for _ in $(seq 1 50); do "$CTL" status | grep -q 'card: AHMET' && break; sleep 0.1; done
check_output "the card is back" 'card: AHMET YILMAZ' "$CTL" status
if "$CTL" --socket "$WORK/nothing.sock" status >>"$LOG" 2>&1; then fail "no daemon: a clear error"; else
	pass "no daemon: a clear error"; fi
done_testing
