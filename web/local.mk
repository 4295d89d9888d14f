# SPDX-License-Identifier: LGPL-2.1-or-later
# The browser side: imza.js, the demo portal and its static server, the Chromium and Firefox policy
# examples, and their tests (node for imza.js, python3 + curl for the server; each skips what is not
# installed).
EXTRA_DIST += web/imza.js web/demo-server web/demo/index.html web/demo/demo.css web/demo/demo.js \
	web/demo/README.md packaging/chromium-policy/imza-local-network.json \
	packaging/chromium-policy/README.md tests/e2e/README.md tests/e2e/package.json \
	tests/e2e/package-lock.json tests/e2e/imza-js.test.mjs tests/e2e/demo-screenshots.mjs
WEB_TESTS = tests/e2e/imza-js.sh tests/e2e/demo-server.sh
TESTS += $(WEB_TESTS)
EXTRA_DIST += $(WEB_TESTS)

# The acceptance test of the signing issue: headless Chromium through the demo against the real stack
# (needs tests/e2e/node_modules, from `npm ci --prefix tests/e2e`, and /usr/bin/chromium; fails without).
# It runs after the integration tests, so that Chromium's load does not skew their timing checks; alone:
# tests/e2e/portal.sh (IMZA_BUILDDIR=... for a build elsewhere). Screenshots in tests/e2e/artifacts/.
EXTRA_DIST += tests/lib/demo.sh tests/e2e/portal.mjs tests/e2e/portal.sh tests/e2e/portal-walk.mjs tests/e2e/tap.mjs tests/e2e/stack.mjs
TESTS += tests/e2e/portal.sh
tests/e2e/portal.log: $(INTEGRATION_TESTS:.sh=.log)
# The demo's default path: no certificate in the request, the user chooses the qualified one in
# imza-prompt on Xvfb (tests/lib/xsession.sh); skipped when the display tools are missing.
EXTRA_DIST += tests/e2e/portal-choose.mjs tests/e2e/portal-choose.sh tests/e2e/portal-module.sh
TESTS += tests/e2e/portal-choose.sh tests/e2e/portal-module.sh
tests/e2e/portal-choose.log: $(INTEGRATION_TESTS:.sh=.log) tests/e2e/portal.log
tests/e2e/portal-module.log: $(INTEGRATION_TESTS:.sh=.log) tests/e2e/portal-choose.log
# The portal in Firefox ESR over WebDriver BiDi (puppeteer-core), with its Local Network Access cases;
# skipped without /usr/bin/firefox-esr. After the Chromium ones, for the same reason.
EXTRA_DIST += tests/e2e/portal-firefox.mjs tests/e2e/portal-firefox.sh packaging/firefox-policy/imza-local-network.json \
	packaging/firefox-policy/README.md
TESTS += tests/e2e/portal-firefox.sh
tests/e2e/portal-firefox.log: $(INTEGRATION_TESTS:.sh=.log) tests/e2e/portal-module.log
clean-local: clean-e2e-artifacts
clean-e2e-artifacts:
	rm -rf tests/e2e/artifacts
.PHONY: clean-e2e-artifacts
