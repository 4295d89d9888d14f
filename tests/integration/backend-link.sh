#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imzad's side of a vendor PKCS#11 module (daemon/card/backend.c): the module runs in imza-backend, a helper
# process; its token is followed (reported present, gone, back); a hung module costs a call its deadline
# and the helper is killed, a crashing one ends the call at once; a new helper comes after a back-off, not
# in a loop; freeing the backend leaves no process behind (tests/backend/backend-link, with a 1 s deadline).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

LINK=$IMZA_BUILDDIR/tests/backend/backend-link
hsm_up "$LINK"
mkdir -p "$WORK/trig"

# (The sanitizer build's helper would catch the SIGSEGV and exit 1: let it die of it as a plain build does.)
ASAN_OPTIONS=handle_segv=0${ASAN_OPTIONS:+:$ASAN_OPTIONS} IMZA_QUIRK_HANG=$WORK/trig/hang \
	IMZA_QUIRK_CRASH=$WORK/trig/crash IMZA_QUIRK_REMOVED=$WORK/trig/removed \
	run_checks "$LINK" "$BACKEND" "$QUIRK" "$SOFTHSM_LABEL" "$WORK/trig"
grep -q 'did not answer in time: killed' "$LOG" && pass "imzad's log says the hung helper was killed" ||
	fail "imzad's log says the hung helper was killed"
grep -q 'ended (signal 11)' "$LOG" && pass "and that the crashed one ended with SIGSEGV" ||
	fail "and that the crashed one ended with SIGSEGV"
! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" && pass "no sanitizer reports" ||
	fail "no sanitizer reports"

done_testing
