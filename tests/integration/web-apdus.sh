#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The APDUs a web signature sends, read from the card's own log (see web_apdus.py): VERIFY, the
# signature and the login reset, nothing more when no one else holds the card's login; a PKCS#11
# application's login reset first; a wrong PIN leaving no login behind, on a card that keeps an earlier
# login after a wrong PIN (as some do).
. "$(dirname "$0")/../lib/tap.sh"

need curl curl
stack_up s --failed-verify keep
export IMZA_BUILDDIR
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/web_apdus.py"
done_testing
