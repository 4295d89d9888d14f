#!/usr/bin/env bash
# PKCS#11 3.0 section 5's argument checks, every function, with ctypes (see p11_args.py): each NULL,
# unknown handle and wrong flag gets the spec's exact code.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
[ -f "$IMZA_MODULE" ] || bail "$IMZA_MODULE not built"
IMZA_PACKAGE_VERSION=$(sed -n 's/^PACKAGE_VERSION = //p' "$IMZA_BUILDDIR/Makefile")
export IMZA_PACKAGE_VERSION
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_args.py"
done_testing
