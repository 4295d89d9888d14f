#!/usr/bin/env bash
# PKCS#11 rules call by call (see p11_rules.py).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_rules.py"
done_testing
