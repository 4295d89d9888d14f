# SPDX-License-Identifier: LGPL-2.1-or-later
# Shell tests (TAP) against the private stack: pcscd + vpcd + virtual cards (+ imzad from the core on).
dist_check_SCRIPTS += tests/harness/stack tests/lib/tap.sh
INTEGRATION_TESTS = \
	tests/integration/lint.sh \
	tests/integration/man.sh \
	tests/integration/harness.sh \
	tests/integration/vcard-opensc.sh \
	tests/integration/vcard-pin.sh \
	tests/integration/vcard-random.sh \
	tests/integration/daemon-peers.sh \
	tests/integration/daemon-socket.sh \
	tests/integration/imzactl.sh \
	tests/integration/imzactl-pin.sh \
	tests/integration/p11-clients.sh \
	tests/integration/p11-finalize.sh \
	tests/integration/p11-rules.sh \
	tests/integration/p11-apps.sh \
	tests/integration/cache.sh \
	tests/integration/https.sh \
	tests/integration/web-rules.sh \
	tests/integration/web-apdus.sh \
	tests/integration/pin-nowhere.sh \
	tests/integration/https-peers.sh \
	tests/integration/sign-queue.sh \
	tests/integration/trust.sh \
	tests/integration/imzactl-setup.sh \
	tests/integration/tls.sh \
	tests/integration/cache-tamper.sh \
	tests/integration/records.sh \
	tests/integration/limits.sh \
	tests/integration/rpc-syscalls.sh \
	tests/integration/prompt.sh \
	tests/integration/prompt-card.sh \
	tests/integration/prompt-consent.sh \
	tests/integration/prompt-lasttry.sh \
	tests/integration/prompt-focus.sh \
	tests/integration/prompt-en.sh \
	tests/integration/pinentry-text.sh \
	tests/integration/prompt-choose.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/lib/https.sh tests/lib/xsession.sh tests/integration/file_cycles.py tests/integration/spdx.py tests/integration/daemon_peers.py tests/integration/p11_finalize.py \
	tests/integration/p11_rules.py \
	tests/integration/p11_apps.py tests/integration/cache_tamper.py tests/integration/web_apdus.py \
	tests/integration/slow_clients.py tests/integration/conn_burst.py tests/integration/prompt_atspi.py prompt/lsan.supp

# The stress test loads both cores for 30 s: it runs after the others, so that their timing checks
# (a slot event within 1 s, pcscd back within 2 s) measure imza, not the stress beside them.
TESTS += tests/integration/p11-stress.sh
EXTRA_DIST += tests/integration/p11-stress.sh
tests/integration/p11-stress.log: $(INTEGRATION_TESTS:.sh=.log) tests/integration/p11-tool.log \
	tests/integration/p11-python.log
