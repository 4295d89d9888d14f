#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# OpenSC, an independent PIV implementation, must use the virtual card unchanged through the private
# pcscd: list it, read all four certificates and keys, sign with RSA (PKCS#1, PSS) and EC keys, and see
# the card go and come back.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
M=$IMZA_OPENSC_MODULE
p11() { pkcs11-tool --module "$M" "$@"; }

check_output "opensc-tool lists the private reader with a card" 'Yes +.*Imza Virtual' opensc-tool -l
out=$(p11 -L -O 2>&1)
echo "$out" >>"$LOG"
for label in "Certificate for PIV Authentication" "Certificate for Digital Signature" \
	"Certificate for Key Management" "Certificate for Card Authentication"; do
	if grep -q "label: *$label" <<<"$out"; then pass "token shows $label"; else fail "token shows $label"; fi
done
n_cert=$(grep -c '^Certificate Object' <<<"$out")
n_pub=$(grep -c '^Public Key Object' <<<"$out")
[ "$n_cert" = 4 ] && [ "$n_pub" = 4 ] && pass "4 certificates and 4 public keys ($n_cert, $n_pub)" ||
	fail "4 certificates and 4 public keys (saw $n_cert, $n_pub)"
out=$(p11 -O --login --pin "$IMZA_PIN" 2>&1)
echo "$out" >>"$LOG"
n_priv=$(grep -c '^Private Key Object' <<<"$out")
[ "$n_priv" = 4 ] && pass "4 private keys after login" || fail "4 private keys after login (saw $n_priv)"
guid=$(sed -n 's/^guid=//p' "$IMZA_CARD_DIR/card.conf" | tr 'A-F' 'a-f')
check_output "token serial is the last 8 bytes of the GUID" "serial num *: *${guid:16:16}" p11 -L

# Signatures, each verified by openssl against the certificate the generator issued.
head -c 1000 /dev/urandom >"$WORK/data"
pub() { openssl x509 -inform DER -in "$IMZA_CARD_DIR/$1.crt.der" -pubkey -noout >"$WORK/$1.pub"; }
for s in 9a 9c 9d 9e; do pub $s; done
sign() { # sign ID MECH OUT [extra]
	local id=$1 mech=$2 out=$3
	shift 3
	p11 --login --pin "$IMZA_PIN" --sign --id "$id" -m "$mech" -i "$WORK/data" -o "$out" "$@"
}
check "9C RSA SHA256-RSA-PKCS signs" sign 02 SHA256-RSA-PKCS "$WORK/sig-pkcs"
check "9C RSA PKCS#1 v1.5 signature verifies with openssl" \
	openssl dgst -sha256 -verify "$WORK/9c.pub" -signature "$WORK/sig-pkcs" "$WORK/data"
check "9C RSA SHA256-RSA-PKCS-PSS signs" sign 02 SHA256-RSA-PKCS-PSS "$WORK/sig-pss" --mgf MGF1-SHA256 \
	--salt-len=-1
check "9C RSA-PSS signature verifies with openssl" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$WORK/9c.pub" -signature "$WORK/sig-pss" "$WORK/data"
check "9A EC P-256 ECDSA-SHA256 signs" sign 01 ECDSA-SHA256 "$WORK/sig-ec" --signature-format openssl
check "9A ECDSA signature verifies with openssl" \
	openssl dgst -sha256 -verify "$WORK/9a.pub" -signature "$WORK/sig-ec" "$WORK/data"
check "9E EC P-384 ECDSA-SHA384 signs" sign 04 ECDSA-SHA384 "$WORK/sig-ec384" --signature-format openssl
check "9E ECDSA P-384 signature verifies with openssl" \
	openssl dgst -sha384 -verify "$WORK/9e.pub" -signature "$WORK/sig-ec384" "$WORK/data"
if ! openssl dgst -sha256 -verify "$WORK/9c.pub" -signature "$WORK/sig-pkcs" "$WORK/9c.pub" >/dev/null 2>&1; then
	pass "a signature does not verify over other data"
else
	fail "a signature does not verify over other data"
fi
# 9D decrypts what its public key encrypted.
printf 'imza secret' >"$WORK/plain"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/9d.pub" -in "$WORK/plain" -out "$WORK/cipher" >>"$LOG" 2>&1
check "9D RSA decrypts (RSA-PKCS)" p11 --login --pin "$IMZA_PIN" --decrypt --id 03 -m RSA-PKCS \
	-i "$WORK/cipher" -o "$WORK/plain2"
check "decrypted text matches" cmp "$WORK/plain" "$WORK/plain2"

check_output "pkcs11-tool --test --login prints No errors" '^No errors' p11 --test --login --pin "$IMZA_PIN"

# Removal and reinsertion. pkcs11-tool numbers data and profile objects anew on every run, so those lines are
# left out of the comparison; certificates and keys are compared whole.
objects() { p11 -O 2>/dev/null | grep -Ev '^(Data|Profile) object'; }
before=$(objects)
check "card removed" "$STACK" card "$IMZA_STACK_DIR" remove
out=$(p11 -L 2>&1)
echo "$out" >>"$LOG"
if grep -q 'token label' <<<"$out"; then fail "OpenSC sees no token after removal"; else pass "OpenSC sees no token after removal"; fi
check "card reinserted" "$STACK" card "$IMZA_STACK_DIR" insert
after=$(objects)
[ -n "$after" ] && [ "$before" = "$after" ] && pass "token back with the same objects" ||
	fail "token back with the same objects"

done_testing
