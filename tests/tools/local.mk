# Test-only PC/SC client used by the harness and the integration tests.
check_PROGRAMS += tests/tools/pcsc-probe
tests_tools_pcsc_probe_SOURCES = tests/tools/pcsc-probe.c
tests_tools_pcsc_probe_CFLAGS = $(AM_CFLAGS) $(PCSC_CFLAGS)
tests_tools_pcsc_probe_LDADD = protocol/libimzaproto.a $(PCSC_LIBS)
