#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real PKCS#11 hosts through imza-pkcs11.so: GnuTLS p11tool, NSS (modutil/certutil), OpenSSL's pkcs11
# engine; and the PIN counter: a wrong PIN costs exactly one try on the card, which the token flags show.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
M=$IMZA_MODULE
for s in 9a 9c 9d 9e; do openssl x509 -inform DER -in "$IMZA_CARD_DIR/$s.crt.der" -pubkey -noout >"$WORK/$s.pub"; done

# GnuTLS: sign and verify with the RSA (PIN-always) and the EC keys.
n=$(host_env p11tool --provider "$M" --list-all-certs 2>/dev/null | grep -c '^[[:space:]]*Label: Certificate for')
[ "$n" = 4 ] && pass "p11tool lists 4 certificates" || fail "p11tool lists 4 certificates (saw $n)"
for key in "PIV%20AUTH%20key" "SIGN%20key" "CARD%20AUTH%20key"; do
	check_output "p11tool --test-sign with ${key//%20/ }" 'Verifying against public key in the token\.\.\. ok' \
		host_env env GNUTLS_PIN="$IMZA_PIN" p11tool --provider "$M" --login --test-sign "pkcs11:object=$key;type=private"
done

# NSS: a fresh database, the module added, certificates and keys listed.
mkdir -p "$WORK/nss"
echo "$IMZA_PIN" >"$WORK/pin"
certutil -N -d "sql:$WORK/nss" --empty-password >>"$LOG" 2>&1
check "modutil -add the module" host_env sh -c "echo | modutil -dbdir 'sql:$WORK/nss' -add imza -libfile '$M' -force"
out=$(host_env certutil -L -d "sql:$WORK/nss" -h all -f "$WORK/pin" 2>&1)
echo "$out" >>"$LOG"
n=$(grep -c '^AHMET YILMAZ:Certificate for' <<<"$out")
[ "$n" = 4 ] && pass "certutil -L -h all lists the card's 4 certificates" || fail "certutil -L lists the card's certificates (saw $n)"
out=$(host_env certutil -K -d "sql:$WORK/nss" -h all -f "$WORK/pin" 2>&1)
echo "$out" >>"$LOG"
n=$(grep -cE '^< ?[0-9]+> (rsa|ec) ' <<<"$out")
[ "$n" = 4 ] && pass "certutil -K -h all (with the PIN) lists the card's 4 keys" || fail "certutil -K lists the keys (saw $n)"

# OpenSSL through libp11's engine: an EC signature and an RSA decryption on the card.
engine=$(find /usr/lib -name pkcs11.so -path '*engines-3*' 2>/dev/null | head -n 1)
cat >"$WORK/openssl.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $engine
MODULE_PATH = $M
init = 0
CNF
openssl rand 32 >"$WORK/hash"
check "openssl pkeyutl -sign with the card's EC key (engine)" host_env env OPENSSL_CONF="$WORK/openssl.cnf" \
	openssl pkeyutl -engine pkcs11 -keyform engine \
	-inkey "pkcs11:object=PIV%20AUTH%20key;type=private;pin-value=$IMZA_PIN" -sign -in "$WORK/hash" -out "$WORK/sig"
check "the engine's signature verifies with openssl" openssl pkeyutl -verify -pubin -inkey "$WORK/9a.pub" \
	-in "$WORK/hash" -sigfile "$WORK/sig"
printf 'imza secret' >"$WORK/plain"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/9d.pub" -in "$WORK/plain" -out "$WORK/cipher"
check "openssl pkeyutl -decrypt with the card's RSA key (engine)" host_env env OPENSSL_CONF="$WORK/openssl.cnf" \
	openssl pkeyutl -engine pkcs11 -keyform engine \
	-inkey "pkcs11:object=KEY%20MAN%20key;type=private;pin-value=$IMZA_PIN" -decrypt -in "$WORK/cipher" -out "$WORK/plain2"
check "the decryption matches" cmp "$WORK/plain" "$WORK/plain2"

# A wrong PIN: one try gone on the card, never retried, and the token flags follow the counter.
tries() { sed -n 's/^pin_tries=//p' "$IMZA_CARD_DIR/state"; }
before=$(tries)
# VERIFYs that carry a PIN: the empty VERIFY that reads the counter (00 20 00 80, no data) is no try.
verifies() { grep -c '^> 002000..[0-9A-F]' "$IMZA_CARD_DIR/apdu.log"; }
apdus_before=$(verifies)
check_output "a wrong PIN gives CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT' host_env pkcs11-tool --module "$M" --login --pin 000000 -O
after=$(tries)
apdus_after=$(verifies)
[ "$before" = 3 ] && [ "$after" = 2 ] && pass "the card's counter went from 3 to 2" || fail "the card's counter went from 3 to 2 (saw $before -> $after)"
[ $((apdus_after - apdus_before)) = 1 ] && pass "exactly one VERIFY with a PIN reached the card" ||
	fail "exactly one VERIFY with a PIN reached the card (saw $((apdus_after - apdus_before)))"
check_output "token flags show the count low" 'user PIN count low' host_env pkcs11-tool --module "$M" -L
host_env pkcs11-tool --module "$M" --login --pin 000000 -O >>"$LOG" 2>&1
check_output "token flags show the final try" 'final user PIN try' host_env pkcs11-tool --module "$M" -L
check_output "the right PIN logs in" 'Private Key Object' host_env pkcs11-tool --module "$M" --login --pin "$IMZA_PIN" -O
[ "$(tries)" = 3 ] && pass "a good login restores the counter" || fail "a good login restores the counter ($(tries))"
check_output "token flags clear again" 'token flags *: login required, rng, token initialized, PIN initialized$' \
	host_env pkcs11-tool --module "$M" -L
for _ in 1 2 3; do host_env pkcs11-tool --module "$M" --login --pin 000000 -O >>"$LOG" 2>&1; done
check_output "three wrong PINs lock it" 'user PIN locked' host_env pkcs11-tool --module "$M" -L
check_output "then even the right PIN gives CKR_PIN_LOCKED" 'CKR_PIN_LOCKED' \
	host_env pkcs11-tool --module "$M" --login --pin "$IMZA_PIN" -O

done_testing
