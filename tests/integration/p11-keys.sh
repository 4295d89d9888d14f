#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every key of the PIV card used as PIV means it (issue 14): a card whose 9A is RSA and whose 9A and
# 9C certificates also allow keyEncipherment. tests/integration/p11_keys.py checks, through imza:
# 9E signs without a login; 9A, 9C and 9D decrypt PKCS#1 v1.5, raw RSA and OAEP (SHA-1, SHA-256, with
# and without a label) that openssl encrypted; wrong paddings are CKR_ENCRYPTED_DATA_INVALID; digests
# equal hashlib's; signatures verify through imza and changed ones do not; C_VerifyRecover.
# Then pkcs11-tool --test --login through imza and through OpenSC's module on the same card: imza's
# says "No errors" and has no more "not implemented" lines than OpenSC's (both outputs in the log).
. "$(dirname "$0")/../lib/tap.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import PyKCS11' 2>>"$LOG"; then
	skip "keys of every PIV slot" "python3-pykcs11 is not installed"
	done_testing
	exit 0
fi
# The card is made before the stack starts: the stack keeps a card it finds.
"$IMZA_SRCDIR/tests/vcard/imza-vcard-gen" "$WORK/s/card0" --alg 9a=rsa2048 --encipher 9a,9c >>"$LOG" 2>&1 ||
	bail "imza-vcard-gen failed"
stack_up s
[ -f "$IMZA_MODULE" ] || bail "$IMZA_MODULE not built"

WORK=$WORK run_checks host_env "$PY" "$IMZA_SRCDIR/tests/integration/p11_keys.py"

# pkcs11-tool's own self-test on the same card, through imza and through OpenSC.
mine=$(host_env pkcs11-tool --module "$IMZA_MODULE" --test --login --pin "$IMZA_PIN" 2>&1)
theirs=$(pkcs11-tool --module "$IMZA_OPENSC_MODULE" --test --login --pin "$IMZA_PIN" 2>&1)
# Both outputs whole, in the kept work log and as comments in the test's own .log.
{
	echo "## pkcs11-tool --test --login through imza:"
	echo "$mine"
	echo "## pkcs11-tool --test --login through OpenSC's module:"
	echo "$theirs"
} | tee -a "$LOG" | sed 's/^/# /'
grep -q '^No errors' <<<"$mine" && pass "pkcs11-tool --test --login through imza: No errors" ||
	fail "pkcs11-tool --test --login through imza: No errors"
n_mine=$(grep -ci 'not implemented' <<<"$mine" || true)
n_theirs=$(grep -ci 'not implemented' <<<"$theirs" || true)
note "\"not implemented\" lines: imza $n_mine, OpenSC $n_theirs"
[ "$n_mine" -le "$n_theirs" ] && pass "no more \"not implemented\" lines than OpenSC's module ($n_mine <= $n_theirs)" ||
	fail "no more \"not implemented\" lines than OpenSC's module ($n_mine > $n_theirs)"
for what in 'Digests' 'Signatures' 'Verify' 'Decryption'; do
	line=$(grep -i "^ *$what" <<<"$mine" | head -1)
	note "imza: ${line:-no $what line}"
done
grep -Eiq '^ *Digests.*not implemented' <<<"$mine" && fail "pkcs11-tool tests digests through imza" ||
	pass "pkcs11-tool tests digests through imza"
grep -Eiq '^ *Verify.*not implemented' <<<"$mine" && fail "pkcs11-tool tests verify through imza" ||
	pass "pkcs11-tool tests verify through imza"

done_testing
