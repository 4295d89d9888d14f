# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/pinentry: a scripted pinentry (Assuan, stdin/stdout) for the dialog tests and the quickstart.
# Built by `make check` (also with TESTS= empty) like the other test tools.
check_PROGRAMS += tests/pinentry/imza-test-pinentry
tests_pinentry_imza_test_pinentry_SOURCES = tests/pinentry/imza-test-pinentry.c
tests_pinentry_imza_test_pinentry_LDADD = protocol/libimzaproto.a
