# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/backend: stand-ins for vendor cards and their PKCS#11 modules, for the backend tests. Built only
# for tests. Non-recursive fragment included from the top-level Makefile.am.

# A SoftHSM2 token with the keys and certificates of a Turkish signing card (tests/backend/softhsm-token).
dist_check_SCRIPTS += tests/backend/softhsm-token

# The quirky module: forwards to a real one, misbehaving as the environment says (see quirk.c). Built
# without the sanitizers: test programs that are not instrumented (pkcs11-tool, python) load it.
check_LTLIBRARIES = tests/backend/quirk-pkcs11.la
tests_backend_quirk_pkcs11_la_SOURCES = tests/backend/quirk.c
tests_backend_quirk_pkcs11_la_CPPFLAGS = $(AM_CPPFLAGS) $(P11KIT_CFLAGS)
tests_backend_quirk_pkcs11_la_CFLAGS = $(BASE_CFLAGS) $(WARN_CFLAGS) $(LIBCRYPTO_CFLAGS) -pthread -fvisibility=hidden
tests_backend_quirk_pkcs11_la_LDFLAGS = -module -avoid-version -shared -no-undefined -rpath /nowhere \
	-export-symbols-regex '^C_GetFunctionList$$' -pthread
tests_backend_quirk_pkcs11_la_LIBADD = -ldl $(LIBCRYPTO_LIBS)

TESTS += tests/integration/backend-fixtures.sh
EXTRA_DIST += tests/integration/backend-fixtures.sh tests/integration/quirk_probe.py

# Drives imza-backend through the RPC client stubs, as imzad will (tests/integration/backend-helper.sh).
check_PROGRAMS += tests/backend/backend-client
tests_backend_backend_client_SOURCES = tests/backend/backend-client.c
tests_backend_backend_client_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tests_backend_backend_client_LDADD = protocol/libimzaproto.a

TESTS += tests/integration/backend-helper.sh
EXTRA_DIST += tests/integration/backend-helper.sh tests/lib/backend.sh

# imzad's side of a vendor module (daemon/card/backend.c, compiled in with a 1 s call deadline and a back-off
# of at most 2 s) against imza-backend running the quirky module: tests/integration/backend-link.sh.
check_PROGRAMS += tests/backend/backend-link
tests_backend_backend_link_SOURCES = tests/backend/backend-link.c daemon/card/backend.c daemon/card/backend.h \
	daemon/card/timespec.h daemon/log.c
tests_backend_backend_link_CPPFLAGS = $(daemon_libimzad_a_CPPFLAGS) -DBACKEND_CALL_TIMEOUT_MS=1000 \
	-DBACKEND_BACKOFF_MAX_MS=2000
tests_backend_backend_link_CFLAGS = $(daemon_libimzad_a_CFLAGS)
tests_backend_backend_link_LDADD = protocol/libimzaproto.a $(LIBSYSTEMD_LIBS) -lpthread

TESTS += tests/integration/backend-link.sh
EXTRA_DIST += tests/integration/backend-link.sh

# imzad serving a vendor module's token (module = in imzad.conf): tests/integration/backend-imzad.sh.
TESTS += tests/integration/backend-imzad.sh
EXTRA_DIST += tests/integration/backend-imzad.sh

# OpenSC's module as a vendor module over the virtual PIV card: tests/integration/backend-opensc.sh.
TESTS += tests/integration/backend-opensc.sh
EXTRA_DIST += tests/integration/backend-opensc.sh

# A module's hostile texts (control characters, bad UTF-8) cleaned where they enter imzad:
# tests/integration/backend-strings.sh.
TESTS += tests/integration/backend-strings.sh
EXTRA_DIST += tests/integration/backend-strings.sh

# A hostile helper answering live imzad (tests/backend/hostile_helper.py): backend-hostile.sh.
TESTS += tests/integration/backend-hostile.sh
EXTRA_DIST += tests/integration/backend-hostile.sh tests/backend/hostile_helper.py

# A module token's PIN counter (its flags) as imza's own PIN state: tests/integration/backend-pin.sh.
TESTS += tests/integration/backend-pin.sh
EXTRA_DIST += tests/integration/backend-pin.sh
# PIN change and unblock passed to a module: tests/integration/backend-setpin.sh.
TESTS += tests/integration/backend-setpin.sh
EXTRA_DIST += tests/integration/backend-setpin.sh

# A module key that needs the PIN at each use (CKU_CONTEXT_SPECIFIC): tests/integration/backend-context.sh.
TESTS += tests/integration/backend-context.sh
EXTRA_DIST += tests/integration/backend-context.sh tests/integration/context_probe.py

# A module token's mechanisms are the module's: tests/integration/backend-mechs.sh.
TESTS += tests/integration/backend-mechs.sh
EXTRA_DIST += tests/integration/backend-mechs.sh tests/integration/mechs_probe.py

# The quirky module behind imzad, a hang included: tests/integration/backend-quirks.sh.
TESTS += tests/integration/backend-quirks.sh
EXTRA_DIST += tests/integration/backend-quirks.sh

# A known module token listed from the card cache, checked in the background: tests/integration/backend-cache.sh.
TESTS += tests/integration/backend-cache.sh
EXTRA_DIST += tests/integration/backend-cache.sh

# A module's slots looked at only while someone listens: tests/integration/backend-listen.sh.
TESTS += tests/integration/backend-listen.sh
EXTRA_DIST += tests/integration/backend-listen.sh
