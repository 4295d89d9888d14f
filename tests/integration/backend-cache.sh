#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A module token imzad has seen before is listed from the card cache: after imzad starts again, the
# listing (slots, token, certificate and key objects with their attributes) is the full read's, and
# the helper made no object-reading call (C_FindObjects*, C_GetAttributeValue) before it completed
# (IMZA_BACKEND_CALLS: the helper's count of calls). Then the token is read in the background: a
# certificate re-issued on the same token shows (the check compares a hash of the certificates with the
# cached model's). A tampered cache entry is not trusted: the token is read from the module instead.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

hsm_up pkcs11-tool sqlite3 python3
imzad_module "$SOFTHSM_MODULE"
export IMZA_BACKEND_CALLS=1
stack_up s
M=$IMZA_MODULE
CTL=$IMZA_BUILDDIR/tools/imzactl
imza() { host_env pkcs11-tool --module "$M" "$@"; }
listing() { imza --token-label "$SOFTHSM_LABEL" -O 2>&1; }
listed() {
	for _ in $(seq 1 100); do
		imza -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" && return 0
		sleep 0.1
	done
	return 1
}
objcalls() { helper_calls C_FindObjectsInit C_FindObjects C_FindObjectsFinal C_GetAttributeValue; }

listed && pass "the SoftHSM token is listed" || bail "the SoftHSM token is not listed; see the log"
full=$(listing)
echo "$full" >>"$LOG"
n=$(objcalls)
[ "$n" -gt 0 ] && pass "unknown, the token was read before its listing: $n object-reading module calls counted" ||
	fail "unknown, the token was read before its listing (the counter saw $n object calls)"
check_output "it is in the card cache beside the PIV card" '^2 cards cached' "$CTL" cache list

t0=$(date +%s%N)
imzad_restart
listed
warm=$(listing)
n=$(objcalls)
ms=$((($(date +%s%N) - t0) / 1000000))
echo "$warm" >>"$LOG"
[ -n "$warm" ] && [ "$warm" = "$full" ] && pass "restarted: the listing from the cache is the full read's, to the byte" ||
	fail "restarted: the listing from the cache is the full read's"
# imzad checks a token served from its cache 1.5 s after it comes (as a card): a listing that ended
# later than that on a loaded machine has the check's calls beside its own.
if [ "$n" = 0 ]; then
	pass "restarted: 0 object-reading module calls before pkcs11-tool -L and -O completed ($ms ms after the start)"
elif [ "$ms" -ge 1400 ]; then
	skip "restarted: 0 object-reading module calls before the listing completed" \
		"the listing ended $ms ms after imzad's start, past the background check's 1500 ms: its $n calls cannot be told apart"
else
	fail "restarted: 0 object-reading module calls before the listing completed (saw $n in $ms ms)"
fi
since_marker | grep -q "card \"$SOFTHSM_LABEL *\" ([0-9]* objects, from the cache)" &&
	pass "imzad says it served the module token from the cache" || fail "imzad says it served the module token from the cache"
ok=0
for _ in $(seq 1 50); do [ "$(objcalls)" -gt 0 ] && { ok=1; break; }; sleep 0.1; done
sleep 0.5
[ $ok = 1 ] && ! since_marker | grep -q 'contents changed' &&
	pass "then it read the token in the background ($(objcalls) object calls) and found it unchanged" ||
	fail "then it read the token in the background and found it unchanged"
# The check compares the certificates' hash with the cached model's: one search (the certificates), no
# key looked for.
n=$(helper_calls C_FindObjectsInit)
[ "$n" = 1 ] && pass "the check searched the certificates only (1 C_FindObjectsInit, no key search)" ||
	fail "the check searched the certificates only ($n C_FindObjectsInit)"
printf 'imza cached module token' >"$WORK/data"
for id in 01 03; do
	m=SHA256-RSA-PKCS
	[ $id = 03 ] && m="ECDSA-SHA256 --signature-format openssl"
	# shellcheck disable=SC2086
	imza --token-label "$SOFTHSM_LABEL" --login --pin "$SOFTHSM_PIN" --sign --id $id -m $m -i "$WORK/data" \
		-o "$WORK/sig$id" >>"$LOG" 2>&1
	openssl dgst -sha256 -verify "$WORK/hsm/$id.pub.pem" -signature "$WORK/sig$id" "$WORK/data" >>"$LOG" 2>&1 &&
		pass "key $id of the token served from the cache signs, and OpenSSL verifies" ||
		fail "key $id of the token served from the cache signs, and OpenSSL verifies"
done

# The certificate of key 01 re-issued on the same token (same key, new serial) while imzad is down.
reissue() {
	openssl x509 -new -subj "/C=TR/CN=imza re-issued" -force_pubkey "$WORK/hsm/01.pub.pem" -days 30 \
		-CA "$WORK/hsm/ca.crt.pem" -CAkey "$WORK/hsm/ca.key.pem" -set_serial "0x$(openssl rand -hex 8)" \
		-outform DER -out "$WORK/new01.der" &&
		pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$SOFTHSM_LABEL" --login --pin "$SOFTHSM_PIN" \
			--delete-object --type cert --id 01 &&
		pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$SOFTHSM_LABEL" --login --pin "$SOFTHSM_PIN" \
			--write-object "$WORK/new01.der" --type cert --id 01 --label nitelikli-rsa2048
}
imzad_restart reissue >>"$LOG" 2>&1
listed
ok=0
for _ in $(seq 1 60); do
	imza --token-label "$SOFTHSM_LABEL" --read-object --type cert --id 01 -o "$WORK/c.der" >/dev/null 2>&1
	cmp -s "$WORK/c.der" "$WORK/new01.der" && { ok=1; break; }
	sleep 0.1
done
[ $ok = 1 ] && pass "a certificate re-issued on the same token: imzad serves the new one after its check" ||
	fail "a certificate re-issued on the same token: imzad serves the new one"
check_output "and says the contents changed" "contents changed" since_marker
full=$(listing)

# Hostile lengths in the module token's cached blob: not trusted, the token is read from the module.
tamper() {
	python3 - "$IMZA_STACK_DIR/state/cache.sqlite" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for rowid, blob in db.execute("SELECT rowid, token FROM cards WHERE driver = 'module'").fetchall():
    b = bytearray(blob)
    for i in range(8, min(len(b) - 4, 4000), 29):
        b[i:i + 4] = b"\xff\xff\xff\xff"
    db.execute("UPDATE cards SET token = ? WHERE rowid = ?", (bytes(b), rowid))
db.commit()
EOF
}
imzad_restart tamper
listed
again=$(listing)
[ "$again" = "$full" ] && pass "a tampered cache entry: the token is read from the module, the listing is whole" ||
	fail "a tampered cache entry: the token is read from the module"
! since_marker | grep -q "card \"$SOFTHSM_LABEL *\" ([0-9]* objects, from the cache)" &&
	pass "and it was not served from the tampered entry" || fail "and it was not served from the tampered entry"
check_output "imzad is still up" 'card: ' "$CTL" status
done_testing
