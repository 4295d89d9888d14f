#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imza-backend, the process that runs a vendor's PKCS#11 module apart from imzad, driven as imzad drives
# it (tests/backend/backend-client: the RPC client stubs over a socketpair): a SoftHSM2 token through it
# lists and signs, and the signature verifies; a module that refuses OS locking, lacks functions or
# crashes costs only the backend; a malformed frame ends it.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

CLIENT=$IMZA_BUILDDIR/tests/backend/backend-client
hsm_up "$CLIENT"

# SoftHSM itself, then through the quirky module refusing OS locking: the backend initialises it
# again without arguments and says so.
for how in direct no-os-locking; do
	if [ "$how" = direct ]; then mod=$SOFTHSM_MODULE; else mod=$QUIRK; fi
	rm -f "$WORK/sig"
	IMZA_QUIRKS=$([ "$how" = direct ] || echo no-os-locking) run_checks "$CLIENT" "$BACKEND" "$mod" token \
		"$SOFTHSM_LABEL" "$SOFTHSM_PIN" "$WORK/sig"
	printf 'imza backend' | openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/sig" >>"$LOG" 2>&1 &&
		pass "$how: the signature made through imza-backend verifies with OpenSSL" ||
		fail "$how: the signature made through imza-backend verifies with OpenSSL"
done
grep -q 'refuses OS locking' "$LOG" && pass "no-os-locking: the backend said it initialised without arguments" ||
	fail "no-os-locking: the backend said it initialised without arguments"

IMZA_QUIRKS=v220,short-list run_checks "$CLIENT" "$BACKEND" "$QUIRK" unsupported
touch "$WORK/crash"
# (The sanitizer build's backend would catch the SIGSEGV and exit 1: let it die of it as a plain build does.)
ASAN_OPTIONS=handle_segv=0 IMZA_QUIRK_CRASH=$WORK/crash run_checks "$CLIENT" "$BACKEND" "$QUIRK" crash
rm -f "$WORK/crash"
run_checks "$CLIENT" "$BACKEND" "$SOFTHSM_MODULE" garbage cut
run_checks "$CLIENT" "$BACKEND" "$SOFTHSM_MODULE" garbage huge
run_checks "$CLIENT" "$BACKEND" "$SOFTHSM_MODULE" eof
! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" && pass "no sanitizer reports from imza-backend" ||
	fail "no sanitizer reports from imza-backend"

done_testing
