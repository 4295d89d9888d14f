#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A module token's mechanisms are the module's (docs/BACKENDS.md, "Mechanisms"): imza lists what the module
# can serve, its own sign and decrypt mechanisms as it lists them, vendor ones included, plus what imza
# composes over them and its software digests, and nothing the module cannot serve. Each listed signing
# mechanism signs and OpenSSL verifies, each decryption gives back what OpenSSL encrypted, an unlisted one
# is CKR_MECHANISM_INVALID at Init, a parameter set the module refuses gets the module's answer
# (tests/integration/mechs_probe.py, against the module's own list read directly). Twice: through the
# quirky module with no-raw-rsa (no CKM_RSA_X_509: PSS and decryption through the module's own PSS,
# PKCS#1 and OAEP) and vendor-mech (a vendor-defined mechanism), and SoftHSM as it is. A token listed from
# the card cache after a restart shows the same list with no mechanism call reaching the module.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
hsm_up openssl
host_env "$PY" -c 'import PyKCS11' 2>>"$LOG" || missing "PyKCS11 (python3-pykcs11)"
export IMZA_QUIRKS=no-raw-rsa,vendor-mech IMZA_BACKEND_CALLS=1
imzad_module "$QUIRK"
stack_up s
M=$IMZA_MODULE
D=$WORK/mechs
mkdir -p "$D"
cp "$WORK"/hsm/0?.pub.pem "$D/"
listed() {
	for _ in $(seq 1 150); do
		host_env pkcs11-tool --module "$M" -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL" && return 0
		sleep 0.1
	done
	return 1
}
probe() { run_checks host_env "$PY" "$IMZA_SRCDIR/tests/integration/mechs_probe.py" "$M" "$1" "$SOFTHSM_LABEL" "$SOFTHSM_PIN" "$D" "$2"; }

listed || bail "the module's token is not listed"
note "through the quirky module with $IMZA_QUIRKS"
probe "$QUIRK" "$IMZA_QUIRKS"
cp "$D/list" "$D/list.read"
[ "$(helper_calls C_GetMechanismList)" -gt 0 ] && pass "the token was read with the module's mechanism list ($(helper_calls C_GetMechanismList C_GetMechanismInfo) mechanism calls)" ||
	fail "the token was read with the module's mechanism list"

# From the card cache: the same list, and no mechanism or object call reaches the module for it.
imzad_restart
listed || bail "the token is not listed after the restart"
MECHS_LIST_ONLY=1 host_env "$PY" "$IMZA_SRCDIR/tests/integration/mechs_probe.py" "$M" "$QUIRK" "$SOFTHSM_LABEL" "$SOFTHSM_PIN" "$D" "$IMZA_QUIRKS" >>"$LOG" 2>&1
n=$(helper_calls C_GetMechanismList C_GetMechanismInfo C_FindObjectsInit C_GetAttributeValue)
since_marker | grep -q "card \"$SOFTHSM_LABEL *\" ([0-9]* objects, from the cache)" &&
	pass "restarted: imzad served the token from the card cache" || fail "restarted: imzad served the token from the card cache"
cmp -s "$D/list" "$D/list.read" && [ -s "$D/list" ] && pass "restarted: the cached token lists the same $(wc -l <"$D/list") mechanisms with the same flags" ||
	fail "restarted: the cached token lists the same mechanisms ($(diff "$D/list.read" "$D/list" | tr '\n' ' '))"
[ "$n" = 0 ] && pass "restarted: no mechanism or object call reached the module for that listing" ||
	fail "restarted: no mechanism or object call reached the module for that listing ($n)"

# SoftHSM as it is: CKM_RSA_X_509 there, its OAEP SHA-1 only, no ECDSA with a hash.
imzad_module "$SOFTHSM_MODULE"
unset IMZA_QUIRKS
imzad_restart
listed || bail "the SoftHSM token is not listed"
note "SoftHSM directly"
probe "$SOFTHSM_MODULE" ""

done_testing
