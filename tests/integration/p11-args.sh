#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# PKCS#11 3.0 section 5's argument checks, every function, with ctypes (see p11_args.py): each NULL,
# unknown handle and wrong flag gets the spec's exact code; C_GetInfo's versions; random bytes from the card.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
[ -f "$IMZA_MODULE" ] || bail "$IMZA_MODULE not built"
IMZA_PACKAGE_VERSION=$(sed -n 's/^PACKAGE_VERSION = //p' "$IMZA_BUILDDIR/Makefile")
export IMZA_PACKAGE_VERSION
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_args.py"
# 1186 random bytes in 9 calls, 8 bytes a challenge (the 1000 in chunks of 256): at least 151 came from
# the card itself.
n=$(grep -c '^> 0087..9B' "$IMZA_CARD_DIR/apdu.log")
[ "$n" -ge 151 ] && pass "the bytes came from the card: $n GENERAL AUTHENTICATE challenges to 9B" ||
	fail "the bytes came from the card (saw $n challenges to 9B, want 151 or more)"
done_testing
