#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# PKCS#11 rules call by call (see p11_rules.py).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_rules.py"
done_testing
