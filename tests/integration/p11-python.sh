#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# PyKCS11 through imza-pkcs11.so (tests/integration/p11_sign.py does the work): every listed mechanism
# on every signing key, verified by openssl; length queries and CKR_BUFFER_TOO_SMALL keep the
# operation; C_WaitForSlotEvent on its own connection sees removal and insertion while another
# thread lists slots; imzad killed and restarted; C_Finalize ends a blocked wait.
. "$(dirname "$0")/../lib/tap.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import PyKCS11' 2>>"$LOG"; then
	skip "PyKCS11 signing, slot events and daemon restart" "python3-pykcs11 is not installed"
	done_testing
	exit 0
fi
stack_up s
[ -f "$IMZA_MODULE" ] || bail "$IMZA_MODULE not built"
# The script strips the sanitizer runtime again from what it starts (stack, openssl).
STACK=$STACK WORK=$WORK host_env "$PY" "$IMZA_SRCDIR/tests/integration/p11_sign.py" >"$WORK/py.out" 2>>"$LOG"
rc=$?
cat "$WORK/py.out" >>"$LOG"
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	"# "*) note "${line#\# }" ;;
	esac
done <"$WORK/py.out"
[ $rc = 0 ] && pass "p11_sign.py ran to its end" || fail "p11_sign.py ran to its end (exit $rc)"

done_testing
