#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# C_Finalize with a wait in progress leaves nothing behind in imzad (see p11_finalize.py).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_finalize.py"
done_testing
