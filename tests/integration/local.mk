# Shell tests (TAP) against the private stack: pcscd + vpcd + virtual cards (+ imzad from the core on).
dist_check_SCRIPTS += tests/harness/stack tests/lib/tap.sh
INTEGRATION_TESTS = \
	tests/integration/lint.sh \
	tests/integration/harness.sh \
	tests/integration/vcard-opensc.sh \
	tests/integration/vcard-pin.sh \
	tests/integration/vcard-random.sh \
	tests/integration/daemon-peers.sh \
	tests/integration/daemon-socket.sh \
	tests/integration/imzactl.sh \
	tests/integration/p11-clients.sh \
	tests/integration/p11-finalize.sh \
	tests/integration/p11-rules.sh \
	tests/integration/p11-apps.sh \
	tests/integration/p11-stress.sh \
	tests/integration/cache.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/daemon_peers.py tests/integration/p11_finalize.py \
	tests/integration/p11_rules.py \
	tests/integration/p11_apps.py
