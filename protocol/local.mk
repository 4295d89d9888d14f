# SPDX-License-Identifier: LGPL-2.1-or-later
# protocol/: the wire protocol library (frames, bounded buffers, HELLO, the PKCS#11 signature
# table and the stubs generated from it), linked by pkcs11/, daemon/, tools/, tests and fuzzers.
# Non-recursive fragment included by the top-level Makefile.am; paths are relative to the top.
#
# Expects from the top level: AM_CFLAGS, AM_CPPFLAGS, P11KIT_CFLAGS (pkg-config p11-kit-1; our
# headers include <p11-kit/pkcs11.h>), CMOCKA_CFLAGS/CMOCKA_LIBS, subdir-objects, and
# noinst_LIBRARIES, check_PROGRAMS and TESTS set with '=' before this file (it only appends).
# Unit tests print TAP (CMOCKA_MESSAGE_OUTPUT=TAP from AM_TESTS_ENVIRONMENT).

# What a consumer of the library puts in its CPPFLAGS.
PROTOCOL_CPPFLAGS = -I$(top_srcdir)/protocol $(P11KIT_CFLAGS)

noinst_LIBRARIES += protocol/libimzaproto.a
protocol_libimzaproto_a_SOURCES = \
	protocol/pkcs11-3.h \
	protocol/proto-admin.c \
	protocol/proto-admin.h \
	protocol/proto-arena.c \
	protocol/proto-arena.h \
	protocol/proto-attr.c \
	protocol/proto-buf.c \
	protocol/proto-buf.h \
	protocol/proto-ck.c \
	protocol/proto-ck.h \
	protocol/proto-client.c \
	protocol/proto-client.h \
	protocol/proto-frame.c \
	protocol/proto-frame.h \
	protocol/proto-hello.c \
	protocol/proto-hello.h \
	protocol/proto-hex.c \
	protocol/proto-hex.h \
	protocol/rpc-calls.h \
	protocol/rpc.c \
	protocol/rpc.h
protocol_libimzaproto_a_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
# The module is a shared object: everything linked into it must be position-independent.
protocol_libimzaproto_a_CFLAGS = $(AM_CFLAGS) -fPIC

# Unit tests. They share tests/fuzz/proto-fake.c (sample arguments for every row of the table and
# a fake backend generated from it) with the protocol fuzzer.
PROTO_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS) -I$(top_srcdir)/tests/fuzz
PROTO_TEST_FAKE = tests/fuzz/proto-fake.c tests/fuzz/proto-fake.h

check_PROGRAMS += tests/unit/test-proto tests/unit/test-proto-rpc
TESTS += tests/unit/test-proto tests/unit/test-proto-rpc

tests_unit_test_proto_SOURCES = tests/unit/test-proto.c $(PROTO_TEST_FAKE)
tests_unit_test_proto_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_unit_test_proto_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_proto_LDADD = protocol/libimzaproto.a $(CMOCKA_LIBS)

tests_unit_test_proto_rpc_SOURCES = tests/unit/test-proto-rpc.c $(PROTO_TEST_FAKE)
tests_unit_test_proto_rpc_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_unit_test_proto_rpc_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_proto_rpc_LDADD = protocol/libimzaproto.a $(CMOCKA_LIBS)
