#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imza.js unit tests (tests/e2e/imza-js.test.mjs, node:test in a fake window) as TAP for make check.
# Needs only node (18 or later); skipped without it.
set -uo pipefail
srcdir=${IMZA_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! command -v node >/dev/null 2>&1; then
	echo "1..0 # SKIP node is not installed"
	exit 0
fi
exec node --test --test-reporter=tap "$srcdir/tests/e2e/imza-js.test.mjs"
