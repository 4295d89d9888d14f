#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Several applications on one imzad (see p11_apps.py), on a card that stays verified after a wrong PIN
# (some do, PIV does not): only imzad's own reset keeps one application from riding another's login.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s --failed-verify keep
export STACK IMZA_BUILDDIR
check_output "before: the card's reader is slot 1" '^slot 1: Imza Virtual A 00 00$' "$IMZA_BUILDDIR/tools/imzactl" status
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_apps.py"
# The script restarted pcscd: the reader came back under the slot id it had.
check_output "after pcscd's restart the reader is slot 1 again" '^slot 1: Imza Virtual A 00 00$' \
	"$IMZA_BUILDDIR/tools/imzactl" status
check_output "and no other slot took its place" '^readers: 2$' "$IMZA_BUILDDIR/tools/imzactl" status
done_testing
