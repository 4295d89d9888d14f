#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# ECDH with the card's key-management key (issue 14): a card whose 9D is EC P-256 with keyAgreement.
# tests/integration/p11_ecdh.py checks CKM_ECDH1_DERIVE through imza with ctypes (the secret openssl
# derives, the KDF, every refusal before the card, the session objects' life and reach). Then
# pkcs11-tool --derive through imza and through OpenSC's module on the same card give the same secret,
# which is openssl's, and the audit log has the derivations.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

"$IMZA_SRCDIR/tests/vcard/imza-vcard-gen" "$WORK/s/card0" --alg 9d=ec256,9e=ec384 >>"$LOG" 2>&1 ||
	bail "imza-vcard-gen failed"
https_stack_up
[ -f "$IMZA_MODULE" ] || bail "$IMZA_MODULE not built"

WORK=$WORK run_checks host_env python3 "$IMZA_SRCDIR/tests/integration/p11_ecdh.py"

# pkcs11-tool takes the peer's public key as a DER SubjectPublicKeyInfo.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/peer2.pem" 2>>"$LOG"
openssl pkey -in "$WORK/peer2.pem" -pubout -outform DER -out "$WORK/peer2.der" 2>>"$LOG"
openssl x509 -inform DER -in "$IMZA_CARD_DIR/9d.crt.der" -pubkey -noout >"$WORK/9d-card.pub"
openssl pkeyutl -derive -inkey "$WORK/peer2.pem" -peerkey "$WORK/9d-card.pub" -out "$WORK/z.openssl" 2>>"$LOG"
for who in imza opensc; do
	mod=$IMZA_MODULE
	[ $who = opensc ] && mod=$IMZA_OPENSC_MODULE
	check "$who: pkcs11-tool --derive -m ECDH1-DERIVE with 9D" host_env pkcs11-tool --module "$mod" --login \
		--pin "$IMZA_PIN" --derive -m ECDH1-DERIVE --id 03 --input-file "$WORK/peer2.der" \
		--output-file "$WORK/z.$who"
	check "$who: the secret equals openssl's ($(od -An -tx1 -N8 "$WORK/z.$who" 2>/dev/null | tr -d ' '))..." \
		cmp "$WORK/z.openssl" "$WORK/z.$who"
done

out=$(host_env "$IMZA_BUILDDIR/tools/imzactl" log 2>&1)
echo "$out" >>"$LOG"
n=$(grep -c 'pkcs11 derive: ok' <<<"$out")
[ "$n" -ge 5 ] && pass "the audit log has the derivations ($n 'pkcs11 derive: ok' rows)" ||
	fail "the audit log has the derivations (saw $n)"
done_testing
