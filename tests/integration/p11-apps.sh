#!/usr/bin/env bash
# Several applications on one imzad (see p11_apps.py).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
export STACK IMZA_BUILDDIR
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_apps.py"
done_testing
