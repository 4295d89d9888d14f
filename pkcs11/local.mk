# SPDX-License-Identifier: LGPL-2.1-or-later
# pkcs11/: imza-pkcs11.so, the PKCS#11 module applications load. It holds no card logic: every call
# goes to imzad through protocol/. Non-recursive fragment included by the top-level Makefile.am.
#
# Expects from the top level: AM_CFLAGS, AM_CPPFLAGS, AM_LDFLAGS, P11KIT_CFLAGS, CMOCKA_CFLAGS/LIBS,
# and from protocol/local.mk (included before this file): PROTOCOL_CPPFLAGS, protocol/libimzaproto.a
# (built -fPIC for this module).

# pkcs11dir comes from configure (p11-kit's module directory, or --with-pkcs11dir). Only the .so goes
# there: a dlopen'ed module needs no libtool archive, and a .la in a directory that every PKCS#11 host
# scans is clutter (Debian policy forbids it for modules).
pkcs11_LTLIBRARIES = pkcs11/imza-pkcs11.la
install-data-hook: install-pkcs11-drop-la
install-pkcs11-drop-la:
	rm -f $(DESTDIR)$(pkcs11dir)/imza-pkcs11.la
# (pkcs11dir is a data directory to automake: the hook runs after install-data.)
# libtool's uninstall finds the .so through the installed .la, which is gone: remove the .so by name.
uninstall-hook: uninstall-pkcs11-so
uninstall-pkcs11-so:
	rm -f $(DESTDIR)$(pkcs11dir)/imza-pkcs11.so
.PHONY: install-pkcs11-drop-la uninstall-pkcs11-so
pkcs11_imza_pkcs11_la_SOURCES = \
	pkcs11/conn.c \
	pkcs11/lock.c \
	pkcs11/lock.h \
	pkcs11/module.c \
	pkcs11/module.h \
	pkcs11/session.c
pkcs11_imza_pkcs11_la_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
pkcs11_imza_pkcs11_la_CFLAGS = $(AM_CFLAGS) -pthread
# Only the C_ entry points are exported; the protocol library stays inside. It goes to the linker
# directly: libtool warns about any static archive in a shared library, but this one is ours and
# built -fPIC for exactly this.
pkcs11_imza_pkcs11_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -no-undefined \
	-export-symbols-regex '^C_' -pthread \
	-Wl,--whole-archive,protocol/libimzaproto.a,--no-whole-archive
pkcs11_imza_pkcs11_la_DEPENDENCIES = protocol/libimzaproto.a

# Unit test of the module's local parts; it loads the built module with dlopen, as applications do.
check_PROGRAMS += tests/unit/test-pkcs11
TESTS += tests/unit/test-pkcs11
tests_unit_test_pkcs11_SOURCES = tests/unit/test-pkcs11.c
tests_unit_test_pkcs11_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS) \
	-DIMZA_TEST_MODULE='"$(abs_top_builddir)/pkcs11/.libs/imza-pkcs11.so"'
tests_unit_test_pkcs11_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) -pthread
tests_unit_test_pkcs11_LDADD = protocol/libimzaproto.a $(CMOCKA_LIBS) -ldl -lpthread
EXTRA_tests_unit_test_pkcs11_DEPENDENCIES = pkcs11/imza-pkcs11.la

# Integration tests through the module (TAP, against the private stack).
PKCS11_INTEGRATION_TESTS = \
	tests/integration/p11-tool.sh \
	tests/integration/p11-python.sh \
	tests/integration/p11-args.sh \
	tests/integration/p11-pin.sh \
	tests/integration/p11-keys.sh \
	tests/integration/p11-keysizes.sh \
	tests/integration/p11-ecdh.sh
TESTS += $(PKCS11_INTEGRATION_TESTS)
EXTRA_DIST += $(PKCS11_INTEGRATION_TESTS) tests/integration/p11_sign.py tests/integration/p11_args.py \
	tests/integration/p11_pin.py tests/integration/p11_keys.py tests/integration/p11_ctypes.py tests/integration/p11_keysizes.py tests/integration/p11_ecdh.py
