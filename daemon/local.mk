# SPDX-License-Identifier: LGPL-2.1-or-later
# imzad's card side: APDU layer, BER-TLV, card drivers. Binaries and tests link this library.
noinst_LIBRARIES += daemon/libimzad.a
daemon_libimzad_a_SOURCES = \
	daemon/card/apdu.c daemon/card/apdu.h \
	daemon/card/tlv.c daemon/card/tlv.h \
	daemon/card/piv.c daemon/card/piv.h \
	daemon/mech.c daemon/mech.h daemon/mech-module.c daemon/mech-module.h \
	daemon/card/token.c daemon/card/token.h \
	daemon/card/card.h \
	daemon/card/reader.c daemon/card/reader.h daemon/card/timespec.h \
	daemon/log.c daemon/log.h \
	daemon/daemon.h \
	daemon/card/pin.c daemon/card/pin.h \
	daemon/card/backend.c daemon/card/backend.h \
	daemon/card/backend-card.c daemon/card/backend-card.h \
	daemon/card/modules.c daemon/card/modules.h \
	daemon/app.c daemon/slots.c daemon/p11.c daemon/p11-soft.c \
	daemon/admin.c daemon/admin.h daemon/admin-pin.c \
	daemon/server.c daemon/server.h \
	daemon/wiring.c daemon/wiring.h \
	daemon/store/token-store.c daemon/store/token-store.h \
	daemon/store/cache.c daemon/store/cache.h \
	daemon/store/records.c daemon/store/records.h \
	daemon/store/db.c daemon/store/db.h \
	daemon/store/privdir.c daemon/store/privdir.h \
	daemon/store/known.c daemon/store/known.h \
	daemon/web/cades.c daemon/web/cades.h \
	daemon/web/sign.c daemon/web/sign.h \
	daemon/web/signq.c daemon/web/signq.h \
	daemon/ui/dialog.c daemon/ui/dialog.h daemon/ui/answer.c \
	daemon/ui/secmem.c daemon/ui/secmem.h \
	daemon/ui/dialog-spawn.c daemon/ui/dialog-spawn.h \
	daemon/ui/visible.c daemon/ui/visible.h daemon/utf8.c daemon/utf8.h \
	daemon/ui/prompt.c daemon/ui/prompt.h \
	daemon/config.c daemon/config.h \
	daemon/web/localca.c daemon/web/localca.h \
	daemon/web/certinfo.c daemon/web/certinfo.h \
	daemon/web/api.c daemon/web/api.h \
	daemon/web/site.c daemon/web/site.h \
	daemon/web/peeruid.c daemon/web/peeruid.h \
	daemon/web/https.c daemon/web/https.h
# The imza-prompt installed with this imzad (daemon/ui/dialog.c tries it before the PATH).
daemon_libimzad_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol \
	-DIMZA_PROMPT_INSTALLED='"$(bindir)/imza-prompt"'
daemon_libimzad_a_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS) $(PCSC_CFLAGS) $(P11KIT_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBSYSTEMD_CFLAGS) $(SQLITE_CFLAGS) $(LIBEVENT_HTTPS_CFLAGS) $(JANSSON_CFLAGS) $(LIBASSUAN_CFLAGS) \
	$(LIBSSL_CFLAGS) $(LIBPSL_CFLAGS)
DAEMON_LIBS = daemon/libimzad.a protocol/libimzaproto.a $(LIBEVENT_HTTPS_LIBS) $(LIBSSL_LIBS) $(LIBCRYPTO_LIBS) \
	$(PCSC_LIBS) $(LIBEVENT_LIBS) $(LIBSYSTEMD_LIBS) $(SQLITE_LIBS) $(JANSSON_LIBS) $(LIBASSUAN_LIBS) $(LIBPSL_LIBS) -lpthread

check_PROGRAMS += tests/unit/test-apdu
TESTS += tests/unit/test-apdu
tests_unit_test_apdu_SOURCES = tests/unit/test-apdu.c
tests_unit_test_apdu_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_apdu_LDADD = daemon/libimzad.a $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test-mech
TESTS += tests/unit/test-mech
tests_unit_test_mech_SOURCES = tests/unit/test-mech.c
tests_unit_test_mech_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS)
tests_unit_test_mech_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(LIBCRYPTO_LIBS)

check_PROGRAMS += tests/unit/test-token
TESTS += tests/unit/test-token
tests_unit_test_token_SOURCES = tests/unit/test-token.c tests/lib/testcert.c tests/lib/testcert.h
tests_unit_test_token_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS)
tests_unit_test_token_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(LIBCRYPTO_LIBS)

# CAdES-BES with the test as the card; runs the openssl command on files under a mkdtemp directory in /tmp.
check_PROGRAMS += tests/unit/test-cades
TESTS += tests/unit/test-cades
tests_unit_test_cades_SOURCES = tests/unit/test-cades.c tests/lib/testcert.c tests/lib/testcert.h
tests_unit_test_cades_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_unit_test_cades_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(LIBCRYPTO_LIBS) \
	$(SQLITE_LIBS) $(LIBSYSTEMD_LIBS)

# What the API shows of a certificate: names, serial, times, key, key usage, qualified.
check_PROGRAMS += tests/unit/test-certinfo
TESTS += tests/unit/test-certinfo
tests_unit_test_certinfo_SOURCES = tests/unit/test-certinfo.c tests/lib/testcert.c tests/lib/testcert.h
tests_unit_test_certinfo_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_unit_test_certinfo_LDADD = daemon/libimzad.a $(CMOCKA_LIBS) $(LIBCRYPTO_LIBS)

# The HTTPS API's rules and JSON (daemon/web/api.c), no sockets.
check_PROGRAMS += tests/unit/test-api
TESTS += tests/unit/test-api
tests_unit_test_api_SOURCES = tests/unit/test-api.c tests/lib/testcert.c tests/lib/testcert.h
tests_unit_test_api_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCRYPTO_CFLAGS) $(JANSSON_CFLAGS) $(P11KIT_CFLAGS)
tests_unit_test_api_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(JANSSON_LIBS) $(LIBCRYPTO_LIBS)

# The HTTPS endpoint over real TLS against a fake signing service: the test defines the sign.h functions,
# so https.c, api.c and certinfo.c are compiled into it (with a 2 s idle timeout, a 3 s request deadline and
# caps of 8 connections, 6 per peer) rather than taken from libimzad.a, which still provides log.c.
check_PROGRAMS += tests/unit/test-https
TESTS += tests/unit/test-https
tests_unit_test_https_SOURCES = tests/unit/test-https.c daemon/web/https.c daemon/web/api.c daemon/web/certinfo.c \
	tests/lib/testcert.c tests/lib/testcert.h
tests_unit_test_https_CPPFLAGS = $(daemon_libimzad_a_CPPFLAGS) -DHTTPS_TIMEOUT_S=2 -DHTTPS_MAX_CONNS=8 -DHTTPS_MAX_PER_PEER=6 \
	-DHTTPS_HEAD_TIMEOUT_S=3 -DHTTPS_MAX_HANDSHAKES=6 -DHTTPS_MAX_HANDSHAKES_HARD=10 -DHTTPS_MAX_PER_PEER_HARD=7 -DHTTPS_MAX_CONNS_HARD=10 \
	-DHTTPS_HANDSHAKE_GRACE_MS=300
tests_unit_test_https_CFLAGS = $(daemon_libimzad_a_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_https_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(LIBEVENT_HTTPS_LIBS) $(LIBSSL_LIBS) $(JANSSON_LIBS) \
	$(LIBCRYPTO_LIBS) $(LIBEVENT_LIBS) $(LIBSYSTEMD_LIBS) $(CMOCKA_LIBS) -lpthread

# The signing queue's fairness rules: per-site turns and the back-off after a cancelled PIN dialog.
check_PROGRAMS += tests/unit/test-signq
TESTS += tests/unit/test-signq
tests_unit_test_signq_SOURCES = tests/unit/test-signq.c
tests_unit_test_signq_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_signq_LDADD = daemon/libimzad.a $(CMOCKA_LIBS) $(LIBPSL_LIBS)

# Who owns a loopback TCP peer's socket (sock_diag): our uid, and another made by a child (as root only).
check_PROGRAMS += tests/unit/test-peeruid
TESTS += tests/unit/test-peeruid
tests_unit_test_peeruid_SOURCES = tests/unit/test-peeruid.c
tests_unit_test_peeruid_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_peeruid_LDADD = daemon/libimzad.a $(CMOCKA_LIBS)

# Sites of web origins (libpsl): registrable domains, IP literals, which origins may be remembered.
check_PROGRAMS += tests/unit/test-site
TESTS += tests/unit/test-site
tests_unit_test_site_SOURCES = tests/unit/test-site.c
tests_unit_test_site_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_site_LDADD = daemon/libimzad.a $(CMOCKA_LIBS) $(LIBPSL_LIBS)

# The card cache and the token blob; writes under a mkdtemp directory in /tmp.
check_PROGRAMS += tests/unit/test-cache
TESTS += tests/unit/test-cache
tests_unit_test_cache_SOURCES = tests/unit/test-cache.c tests/lib/testcert.c tests/lib/testcert.h \
	tests/lib/capture.c tests/lib/capture.h
tests_unit_test_cache_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_cache_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(LIBCRYPTO_LIBS) \
	$(SQLITE_LIBS) $(LIBSYSTEMD_LIBS)

# The records (audit log, answers for web origins); writes under a mkdtemp directory in /tmp.
check_PROGRAMS += tests/unit/test-records
TESTS += tests/unit/test-records
tests_unit_test_records_SOURCES = tests/unit/test-records.c tests/lib/capture.c tests/lib/capture.h
tests_unit_test_records_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(P11KIT_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_records_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(SQLITE_LIBS) \
	$(LIBCRYPTO_LIBS) $(LIBSYSTEMD_LIBS) $(LIBPSL_LIBS)

# The PIV driver against the virtual card's applet, in one process.
check_PROGRAMS += tests/unit/test-piv-driver
TESTS += tests/unit/test-piv-driver
tests_unit_test_piv_driver_SOURCES = tests/unit/test-piv-driver.c
tests_unit_test_piv_driver_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBCRYPTO_CFLAGS) $(P11KIT_CFLAGS)
tests_unit_test_piv_driver_LDADD = daemon/libimzad.a tests/vcard/libvcard.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(LIBCRYPTO_LIBS) $(LIBSYSTEMD_LIBS)

# The pinentry dialogs against tests/pinentry/imza-test-pinentry ($IMZA_BUILDDIR, or beside the test's
# directory); its script and log live under a mkdtemp directory in /tmp.
check_PROGRAMS += tests/unit/test-dialog
TESTS += tests/unit/test-dialog
tests_unit_test_dialog_SOURCES = tests/unit/test-dialog.c
tests_unit_test_dialog_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JANSSON_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_unit_test_dialog_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(JANSSON_LIBS) $(LIBASSUAN_LIBS) \
	$(LIBCRYPTO_LIBS) $(LIBSYSTEMD_LIBS) $(LIBPSL_LIBS) -lpthread

# imzad's configuration file: every rule of the format, loading, the default directory.
check_PROGRAMS += tests/unit/test-config
TESTS += tests/unit/test-config
tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_config_LDADD = daemon/libimzad.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(LIBSYSTEMD_LIBS)

# The local CA: files, modes, renewal in time, a TLS handshake over a socketpair; writes under a mkdtemp
# directory in /tmp.
check_PROGRAMS += tests/unit/test-localca
TESTS += tests/unit/test-localca
tests_unit_test_localca_SOURCES = tests/unit/test-localca.c
tests_unit_test_localca_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBSSL_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_unit_test_localca_LDADD = daemon/libimzad.a $(CMOCKA_LIBS) $(LIBSSL_LIBS) $(LIBCRYPTO_LIBS) $(LIBSYSTEMD_LIBS)

# imzad: a thin main over the library.
bin_PROGRAMS += daemon/imzad
daemon_imzad_SOURCES = daemon/imzad.c
daemon_imzad_CPPFLAGS = $(daemon_libimzad_a_CPPFLAGS) -DIMZA_BACKEND_HELPER='"$(pkglibexecdir)/imza-backend"'
daemon_imzad_CFLAGS = $(daemon_libimzad_a_CFLAGS)
daemon_imzad_LDADD = $(DAEMON_LIBS)

# The RPC server's loop over real sockets: round-robin between applications.
check_PROGRAMS += tests/unit/test-server
TESTS += tests/unit/test-server
tests_unit_test_server_SOURCES = tests/unit/test-server.c
tests_unit_test_server_CPPFLAGS = $(daemon_libimzad_a_CPPFLAGS)
tests_unit_test_server_CFLAGS = $(daemon_libimzad_a_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_server_LDADD = $(DAEMON_LIBS) $(CMOCKA_LIBS)

# The search table of vendor PKCS#11 modules; makes a file tree under a mkdtemp directory in /tmp.
check_PROGRAMS += tests/unit/test-modules
TESTS += tests/unit/test-modules
tests_unit_test_modules_SOURCES = tests/unit/test-modules.c
tests_unit_test_modules_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_modules_LDADD = daemon/libimzad.a $(CMOCKA_LIBS) $(LIBSYSTEMD_LIBS)

# The log's journal fields, against a journal of the test's own (no libsystemd linked).
check_PROGRAMS += tests/unit/test-log
TESTS += tests/unit/test-log
tests_unit_test_log_SOURCES = tests/unit/test-log.c daemon/log.c daemon/log.h
tests_unit_test_log_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_unit_test_log_LDADD = $(CMOCKA_LIBS)
