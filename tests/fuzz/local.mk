# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/fuzz/: fuzz targets (DESIGN §6). Each target is built twice: linked with replay.c into a
# plain program that `make check` runs over the target's corpus (any compiler), and, with
# --enable-fuzzing (automake conditional ENABLE_FUZZING, clang), linked with libFuzzer.
# Included by the top-level Makefile.am after protocol/local.mk (it uses PROTO_TEST_FAKE and
# PROTO_TEST_CPPFLAGS from there); paths are relative to the top. Also appends to noinst_PROGRAMS,
# EXTRA_PROGRAMS and EXTRA_DIST.
#
# libFuzzer needs coverage instrumentation in the code under test, and fuzzing without ASan finds
# little: fuzzers link instrumented copies of the libraries (built here, from the same sources)
# so the regular libraries, the module and the daemon stay uninstrumented.
FUZZ_INSTRUMENT = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LINK = -fsanitize=fuzzer,address,undefined

FUZZ_REPLAY = tests/fuzz/replay.c

# ---- protocol: frames, HELLO, every call id through the server decoders ----
FUZZ_PROTO_SOURCES = tests/fuzz/fuzz-proto.c $(PROTO_TEST_FAKE)

check_PROGRAMS += tests/fuzz/replay-proto
TESTS += tests/fuzz/replay-proto
tests_fuzz_replay_proto_SOURCES = $(FUZZ_REPLAY) $(FUZZ_PROTO_SOURCES)
# TESTS entries take no arguments: the corpus directory is compiled in.
tests_fuzz_replay_proto_CPPFLAGS = $(PROTO_TEST_CPPFLAGS) \
	-DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/proto"'
tests_fuzz_replay_proto_LDADD = protocol/libimzaproto.a

EXTRA_DIST += tests/fuzz/corpus/proto

# Regenerates the seed corpus from the table: make tests/fuzz/gen-proto-corpus, then run it
# with tests/fuzz/corpus/proto as its argument and commit the files.
EXTRA_PROGRAMS += tests/fuzz/gen-proto-corpus
tests_fuzz_gen_proto_corpus_SOURCES = tests/fuzz/gen-proto-corpus.c $(PROTO_TEST_FAKE)
tests_fuzz_gen_proto_corpus_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_fuzz_gen_proto_corpus_LDADD = protocol/libimzaproto.a

if ENABLE_FUZZING
noinst_LIBRARIES += protocol/libimzaproto-fuzz.a
protocol_libimzaproto_fuzz_a_SOURCES = $(protocol_libimzaproto_a_SOURCES)
protocol_libimzaproto_fuzz_a_CPPFLAGS = $(protocol_libimzaproto_a_CPPFLAGS)
protocol_libimzaproto_fuzz_a_CFLAGS = $(AM_CFLAGS) $(FUZZ_INSTRUMENT)

noinst_PROGRAMS += tests/fuzz/fuzz-proto
tests_fuzz_fuzz_proto_SOURCES = $(FUZZ_PROTO_SOURCES)
tests_fuzz_fuzz_proto_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_fuzz_fuzz_proto_CFLAGS = $(AM_CFLAGS) $(FUZZ_INSTRUMENT)
tests_fuzz_fuzz_proto_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK)
tests_fuzz_fuzz_proto_LDADD = protocol/libimzaproto-fuzz.a
endif

# ---- card answers: the APDU layer, BER-TLV and the PIV driver against hostile responses ----
check_PROGRAMS += tests/fuzz/replay-card
TESTS += tests/fuzz/replay-card
tests_fuzz_replay_card_SOURCES = $(FUZZ_REPLAY) tests/fuzz/fuzz-card.c
tests_fuzz_replay_card_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS) \
	-DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/card"'
tests_fuzz_replay_card_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_fuzz_replay_card_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS)
EXTRA_DIST += tests/fuzz/corpus/card

# Regenerates the card seeds: gen-card-corpus CARD_DIR tests/fuzz/corpus/card/NAME
EXTRA_PROGRAMS += tests/fuzz/gen-card-corpus
tests_fuzz_gen_card_corpus_SOURCES = tests/fuzz/gen-card-corpus.c
tests_fuzz_gen_card_corpus_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tests_fuzz_gen_card_corpus_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_fuzz_gen_card_corpus_LDADD = daemon/libimzad.a tests/vcard/libvcard.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS)

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz-card
tests_fuzz_fuzz_card_SOURCES = tests/fuzz/fuzz-card.c
tests_fuzz_fuzz_card_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tests_fuzz_fuzz_card_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_card_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_card_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS)
endif

# ---- imzad's PKCS#11 layer against a hostile client ----
FUZZ_DISPATCH_LIBS = $(DAEMON_LIBS)
check_PROGRAMS += tests/fuzz/replay-dispatch
TESTS += tests/fuzz/replay-dispatch
tests_fuzz_replay_dispatch_SOURCES = $(FUZZ_REPLAY) tests/fuzz/fuzz-dispatch.c tests/lib/testcert.c
tests_fuzz_replay_dispatch_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS) \
	-DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/dispatch"'
tests_fuzz_replay_dispatch_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_fuzz_replay_dispatch_LDADD = $(FUZZ_DISPATCH_LIBS)
EXTRA_DIST += tests/fuzz/corpus/dispatch

EXTRA_PROGRAMS += tests/fuzz/gen-dispatch-corpus
tests_fuzz_gen_dispatch_corpus_SOURCES = tests/fuzz/gen-dispatch-corpus.c
tests_fuzz_gen_dispatch_corpus_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tests_fuzz_gen_dispatch_corpus_LDADD = protocol/libimzaproto.a

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz-dispatch
tests_fuzz_fuzz_dispatch_SOURCES = tests/fuzz/fuzz-dispatch.c tests/lib/testcert.c
tests_fuzz_fuzz_dispatch_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tests_fuzz_fuzz_dispatch_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_dispatch_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_dispatch_LDADD = $(FUZZ_DISPATCH_LIBS)
endif

# ---- cached token blobs from a damaged or hostile cache file ----
FUZZ_TOKEN_LIBS = daemon/libimzad.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS)
check_PROGRAMS += tests/fuzz/replay-token-store
TESTS += tests/fuzz/replay-token-store
tests_fuzz_replay_token_store_SOURCES = $(FUZZ_REPLAY) tests/fuzz/fuzz-token-store.c
tests_fuzz_replay_token_store_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS) \
	-DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/token-store"'
tests_fuzz_replay_token_store_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_fuzz_replay_token_store_LDADD = $(FUZZ_TOKEN_LIBS)
EXTRA_DIST += tests/fuzz/corpus/token-store

EXTRA_PROGRAMS += tests/fuzz/gen-token-corpus
tests_fuzz_gen_token_corpus_SOURCES = tests/fuzz/gen-token-corpus.c
tests_fuzz_gen_token_corpus_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tests_fuzz_gen_token_corpus_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_fuzz_gen_token_corpus_LDADD = daemon/libimzad.a tests/vcard/libvcard.a protocol/libimzaproto.a $(LIBCRYPTO_LIBS)

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz-token-store
tests_fuzz_fuzz_token_store_SOURCES = tests/fuzz/fuzz-token-store.c
tests_fuzz_fuzz_token_store_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tests_fuzz_fuzz_token_store_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_token_store_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_token_store_LDADD = $(FUZZ_TOKEN_LIBS)
endif

# ---- imzad's configuration file, damaged or hostile ----
check_PROGRAMS += tests/fuzz/replay-config
TESTS += tests/fuzz/replay-config
tests_fuzz_replay_config_SOURCES = $(FUZZ_REPLAY) tests/fuzz/fuzz-config.c
tests_fuzz_replay_config_CPPFLAGS = $(AM_CPPFLAGS) \
	-DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/config"'
tests_fuzz_replay_config_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(LIBSYSTEMD_LIBS)
EXTRA_DIST += tests/fuzz/corpus/config

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz-config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_config_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(LIBSYSTEMD_LIBS)
endif

# ---- the HTTPS API: POST /v1/sign bodies, and the Host, Origin and Content-Type checks ----
FUZZ_API_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(JANSSON_CFLAGS) $(P11KIT_CFLAGS)
FUZZ_API_LIBS = daemon/libimzad.a protocol/libimzaproto.a $(JANSSON_LIBS) $(LIBCRYPTO_LIBS)

check_PROGRAMS += tests/fuzz/replay-api-sign
TESTS += tests/fuzz/replay-api-sign
tests_fuzz_replay_api_sign_SOURCES = $(FUZZ_REPLAY) tests/fuzz/fuzz-api-sign.c
tests_fuzz_replay_api_sign_CPPFLAGS = $(AM_CPPFLAGS) \
	-DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/api-sign"'
tests_fuzz_replay_api_sign_CFLAGS = $(FUZZ_API_CFLAGS)
tests_fuzz_replay_api_sign_LDADD = $(FUZZ_API_LIBS)
EXTRA_DIST += tests/fuzz/corpus/api-sign

check_PROGRAMS += tests/fuzz/replay-api-headers
TESTS += tests/fuzz/replay-api-headers
tests_fuzz_replay_api_headers_SOURCES = $(FUZZ_REPLAY) tests/fuzz/fuzz-api-headers.c
tests_fuzz_replay_api_headers_CPPFLAGS = $(AM_CPPFLAGS) \
	-DREPLAY_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/api-headers"'
tests_fuzz_replay_api_headers_CFLAGS = $(FUZZ_API_CFLAGS)
tests_fuzz_replay_api_headers_LDADD = $(FUZZ_API_LIBS)
EXTRA_DIST += tests/fuzz/corpus/api-headers

if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz-api-sign tests/fuzz/fuzz-api-headers
tests_fuzz_fuzz_api_sign_SOURCES = tests/fuzz/fuzz-api-sign.c
tests_fuzz_fuzz_api_sign_CFLAGS = $(FUZZ_API_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_api_sign_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_api_sign_LDADD = $(FUZZ_API_LIBS)
tests_fuzz_fuzz_api_headers_SOURCES = tests/fuzz/fuzz-api-headers.c
tests_fuzz_fuzz_api_headers_CFLAGS = $(FUZZ_API_CFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_api_headers_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_api_headers_LDADD = $(FUZZ_API_LIBS)
endif
