# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/vcard: the virtual PIV card (imza-vcard), its content generator, unit tests and fuzz target.
# Non-recursive fragment included from the top-level Makefile.am.

# The applet; the card program, the unit tests and the fuzz replay link it.
noinst_LIBRARIES += tests/vcard/libvcard.a
tests_vcard_libvcard_a_SOURCES = tests/vcard/piv.c tests/vcard/piv.h
tests_vcard_libvcard_a_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)

noinst_PROGRAMS += tests/vcard/imza-vcard
tests_vcard_imza_vcard_SOURCES = tests/vcard/vcard-main.c
tests_vcard_imza_vcard_LDADD = tests/vcard/libvcard.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS)

# Cards come from imza-vcard-gen (IMZA_VCARD_GEN, or $srcdir/tests/vcard/).
dist_check_SCRIPTS += tests/vcard/imza-vcard-gen
check_PROGRAMS += tests/vcard/test-piv
TESTS += tests/vcard/test-piv
tests_vcard_test_piv_SOURCES = tests/vcard/test-piv.c
tests_vcard_test_piv_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(CMOCKA_CFLAGS)
tests_vcard_test_piv_LDADD = tests/vcard/libvcard.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS) $(CMOCKA_LIBS)

# LLVMFuzzerTestOneInput over a vpcd-framed APDU stream; a plain replay driver can link
# fuzz-piv.c with libvcard.a and replay tests/vcard/corpus/.
EXTRA_DIST += \
	tests/vcard/fuzz-piv.c \
	tests/vcard/corpus/ec-sign \
	tests/vcard/corpus/extended \
	tests/vcard/corpus/junk \
	tests/vcard/corpus/opensc-session \
	tests/vcard/corpus/pin-puk
if ENABLE_FUZZING
# libFuzzer needs the applet itself instrumented, so it is compiled in here rather than linked.
noinst_PROGRAMS += tests/vcard/fuzz-piv
tests_vcard_fuzz_piv_SOURCES = tests/vcard/fuzz-piv.c tests/vcard/piv.c tests/vcard/piv.h
tests_vcard_fuzz_piv_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) -fsanitize=fuzzer,address,undefined
tests_vcard_fuzz_piv_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer,address,undefined
tests_vcard_fuzz_piv_LDADD = protocol/libimzaproto.a $(LIBCRYPTO_LIBS)
endif

# make check replays the corpus through the same entry point (tests/fuzz/replay.c); IMZA_VCARD_GEN
# (AM_TESTS_ENVIRONMENT) makes the card it runs against.
check_PROGRAMS += tests/vcard/replay-piv
TESTS += tests/vcard/replay-piv
tests_vcard_replay_piv_SOURCES = tests/fuzz/replay.c tests/vcard/fuzz-piv.c
tests_vcard_replay_piv_CPPFLAGS = $(AM_CPPFLAGS) -DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/vcard/corpus"'
tests_vcard_replay_piv_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_vcard_replay_piv_LDADD = tests/vcard/libvcard.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS)
