#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The signing issue's acceptance test: headless Chromium (playwright-core, tests/e2e/portal.mjs) walks the
# demo portal, served on its own origin by web/demo-server, against the real stack (imzad's HTTPS
# endpoint, the test pinentry, the virtual card): login, form, SMS, the qualified certificate, İmzala, the
# .p7s that openssl verifies; what the PIN dialog showed; Local Network Access from a public page; the
# cancelled and wrong-PIN screens. Chromium trusts the endpoint through `imzactl trust` in a private HOME,
# never through --ignore-certificate-errors. Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/demo.sh"

E2E=$IMZA_SRCDIR/tests/e2e
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
ART=$IMZA_BUILDDIR/tests/e2e/artifacts
CTL=$IMZA_BUILDDIR/tools/imzactl

# What the test needs is installed by packaging/quickstart: missing, it is skipped with the reason, and
# under .ci/run (IMZA_NO_SKIP) that is a failure: the acceptance test cannot silently not run.
missing=""
command -v node >/dev/null || missing+=" node (package nodejs)"
[ -f "$E2E/node_modules/playwright-core/package.json" ] ||
	missing+=" $E2E/node_modules/playwright-core (npm ci --prefix tests/e2e)"
[ -x "$CHROMIUM" ] || missing+=" $CHROMIUM (package chromium)"
command -v certutil >/dev/null || missing+=" certutil (package libnss3-tools)"
command -v openssl >/dev/null || missing+=" openssl"
if [ -n "$missing" ]; then
	missing "$missing (packaging/quickstart deps build)"
fi
pass "node $(node --version), playwright-core $(node -p "require('$E2E/node_modules/playwright-core/package.json').version"), $("$CHROMIUM" --version 2>/dev/null)"

stack_up s

# The demo portal on its own origin (tests/lib/demo.sh), stopped by pid whichever way this script ends.
trap 'demo_down; tap_cleanup' EXIT

# A private HOME: Chromium (146 and later) reads trust from $XDG_DATA_HOME/pki/nssdb when there is no
# ~/.pki/nssdb, and keeps nothing of the user's.
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config XDG_CACHE_HOME=$WORK/home/.cache \
	XDG_DATA_HOME=$WORK/home/.local/share TMPDIR=$WORK/tmp
mkdir -p "$HOME" "$TMPDIR"
check "imzactl trust puts the endpoint's CA into Chromium's \$XDG_DATA_HOME/pki/nssdb" "$CTL" trust --config-dir "$IMZA_STACK_DIR/config"
check_output "certutil lists it there, trusted for TLS servers" '^imza local CA +C,' certutil -L -d "sql:$XDG_DATA_HOME/pki/nssdb"

demo_up

rm -f "$ART"/portal-*.png
mkdir -p "$ART" "$WORK/files"
start=$(date +%s)
# timeout: a hung browser must not hang make check; SIGTERM lets playwright close Chromium.
run_checks env DEMO_URL="$DEMO_URL" IMZA_CTL="$CTL" PORTAL_ARTIFACTS="$ART" PORTAL_WORK="$WORK/files" \
	CHROMIUM="$CHROMIUM" timeout -k 10 150 node "$E2E/portal.mjs"
note "portal.mjs took $(($(date +%s) - start)) s"

demo_down
[ ! -e "$WORK/demo.pid" ] && pass "the demo server stopped and removed its pid file" ||
	fail "the demo server stopped and removed its pid file"
done_testing
