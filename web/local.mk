# The browser side: imza.js, the demo portal and its static server, the Chromium policy example, and
# their tests (node for imza.js, python3 + curl for the server; each skips what is not installed).
EXTRA_DIST += web/imza.js web/demo-server web/demo/index.html web/demo/demo.css web/demo/demo.js \
	web/demo/README.md packaging/chromium-policy/imza-local-network.json \
	packaging/chromium-policy/README.md tests/e2e/README.md tests/e2e/package.json \
	tests/e2e/package-lock.json tests/e2e/imza-js.test.mjs tests/e2e/demo-screenshots.mjs
WEB_TESTS = tests/e2e/imza-js.sh tests/e2e/demo-server.sh
TESTS += $(WEB_TESTS)
EXTRA_DIST += $(WEB_TESTS)
