# SPDX-License-Identifier: LGPL-2.1-or-later
# Test-only PC/SC client used by the harness and the integration tests.
check_PROGRAMS += tests/tools/pcsc-probe
tests_tools_pcsc_probe_SOURCES = tests/tools/pcsc-probe.c
tests_tools_pcsc_probe_CFLAGS = $(AM_CFLAGS) $(PCSC_CFLAGS)
tests_tools_pcsc_probe_LDADD = protocol/libimzaproto.a $(PCSC_LIBS)

# Many applications at once, each holding its connection to imzad (tests/integration/limits.sh).
check_PROGRAMS += tests/tools/p11hold
tests_tools_p11hold_SOURCES = tests/tools/p11hold.c
tests_tools_p11hold_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS)
tests_tools_p11hold_LDADD = -ldl

# N calls of one kind between two markers, for counting their system calls (tests/integration/rpc-syscalls.sh).
check_PROGRAMS += tests/tools/p11loop
tests_tools_p11loop_SOURCES = tests/tools/p11loop.c
tests_tools_p11loop_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS)
tests_tools_p11loop_LDADD = -ldl
