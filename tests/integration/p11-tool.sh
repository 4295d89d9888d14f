#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pkcs11-tool through imza-pkcs11.so: the token it lists is the one OpenSC's own PIV driver reads from
# the same card (object classes, CKA_ID pairs, key types, public keys, certificate DER), and
# pkcs11-tool's self-test, also across fork, finds no errors.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
M=$IMZA_MODULE
O=$IMZA_OPENSC_MODULE
[ -f "$M" ] || bail "$M not built"
imza() { host_env pkcs11-tool --module "$M" "$@"; }
osc() { pkcs11-tool --module "$O" "$@"; }

# One line per certificate or key: class, key type and size, CKA_ID, and for EC keys the point and
# curve. Data objects (OpenSC shows the PIV security objects as such) are not keys or certificates.
summary() {
	awk '
		function flush() { if (cls != "") print cls, kt, "id=" id, ecp, ecq; cls = kt = id = ecp = ecq = "" }
		/^[A-Z][A-Za-z ]*[Oo]bject/ {
			flush()
			if ($0 ~ /^Certificate Object/) cls = "cert"
			else if ($0 ~ /^Public Key Object/) { cls = "pubkey"; kt = $0; sub(/^[^;]*; */, "", kt) }
			else if ($0 ~ /^Private Key Object/) { cls = "privkey"; kt = $0; sub(/^[^;]*; */, "", kt) }
			gsub(/ +/, " ", kt); sub(/ $/, "", kt); gsub(/ /, "_", kt)
			next
		}
		/^  ID:/ { id = $2 }
		/^  EC_POINT:/ { ecp = "point=" $2 }
		/^  EC_PARAMS:/ { ecq = "params=" $2 }
		END { flush() }' | sort
}

out=$(imza -L -O -M 2>&1)
echo "$out" >>"$LOG"
grep -q 'token label *: ' <<<"$out" && pass "-L -O -M through imza lists a token" || fail "-L -O -M through imza lists a token"
grep -Eq '^  (SHA256-)?RSA-PKCS' <<<"$out" && grep -q '^  ECDSA' <<<"$out" && pass "-M lists RSA and ECDSA mechanisms" ||
	fail "-M lists RSA and ECDSA mechanisms"

mine=$(imza -O --login --pin "$IMZA_PIN" 2>>"$LOG" | summary)
theirs=$(osc -O --login --pin "$IMZA_PIN" 2>>"$LOG" | summary)
{
	echo "## imza objects:"
	echo "$mine"
	echo "## opensc objects:"
	echo "$theirs"
} >>"$LOG"
n_cert=$(grep -c '^cert ' <<<"$mine")
n_pub=$(grep -c '^pubkey ' <<<"$mine")
n_priv=$(grep -c '^privkey ' <<<"$mine")
[ "$n_cert" = 4 ] && [ "$n_pub" = 4 ] && [ "$n_priv" = 4 ] && pass "4 certificates, 4 public and 4 private keys" ||
	fail "4 certificates, 4 public and 4 private keys (saw $n_cert, $n_pub, $n_priv)"
[ -n "$mine" ] && [ "$mine" = "$theirs" ] &&
	pass "classes, key types, CKA_IDs, EC points and curves match OpenSC's" ||
	fail "classes, key types, CKA_IDs, EC points and curves match OpenSC's"
# Every certificate's CKA_ID has exactly one public and one private key.
ids=$(awk '$1 == "cert" { print $NF }' <<<"$mine" | sed 's/^id=//')
paired=1
for id in $ids; do
	[ "$(grep -c "^pubkey .* id=$id\b" <<<"$mine")" = 1 ] && [ "$(grep -c "^privkey .* id=$id\b" <<<"$mine")" = 1 ] ||
		paired=0
done
[ -n "$ids" ] && [ $paired = 1 ] && pass "each certificate's CKA_ID pairs one public and one private key" ||
	fail "each certificate's CKA_ID pairs one public and one private key"

# Certificates and RSA public keys, byte for byte. EC public keys were compared by point and curve
# above: pkcs11-tool 0.23 reads freed memory when it exports one (ASan shows it, with any module).
for id in $ids; do
	imza --read-object --type cert --id "$id" -o "$WORK/imza-$id.crt" >>"$LOG" 2>&1
	osc --read-object --type cert --id "$id" -o "$WORK/osc-$id.crt" >>"$LOG" 2>&1
	check "certificate $id: same DER as OpenSC's" cmp "$WORK/imza-$id.crt" "$WORK/osc-$id.crt"
	grep -q "^pubkey RSA.* id=$id\b" <<<"$mine" || continue
	imza --read-object --type pubkey --id "$id" -o "$WORK/imza-$id.pub" >>"$LOG" 2>&1
	osc --read-object --type pubkey --id "$id" -o "$WORK/osc-$id.pub" >>"$LOG" 2>&1
	check "RSA public key $id: same SubjectPublicKeyInfo (modulus, exponent) as OpenSC's" \
		cmp "$WORK/imza-$id.pub" "$WORK/osc-$id.pub"
done

check_output "pkcs11-tool --test --login prints No errors" '^No errors' imza --test --login --pin "$IMZA_PIN"
out=$(imza --test-fork --test --login --pin "$IMZA_PIN" 2>&1)
echo "$out" >>"$LOG"
grep -q 'C_Initialize in forked child' <<<"$out" && grep -q '^No errors' <<<"$out" &&
	pass "pkcs11-tool --test-fork --test: the forked child initializes and tests with No errors" ||
	fail "pkcs11-tool --test-fork --test: the forked child initializes and tests with No errors"

done_testing
