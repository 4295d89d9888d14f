# SPDX-License-Identifier: LGPL-2.1-or-later
# imza-prompt: imza's own signing window (GTK 4), started by imzad per question and spoken to over Assuan
# (docs/PROMPT.md). Its window-free rules are a library of their own for the unit tests; the document
# markers (daemon/ui/visible.c) and the certificate fields (daemon/web/certinfo.c) are the daemon's own code,
# compiled in rather than written twice.
noinst_LIBRARIES += prompt/libimzaprompt.a
prompt_libimzaprompt_a_SOURCES = prompt/util.c prompt/util.h prompt/choices.c prompt/choices.h \
	daemon/ui/secmem.c daemon/ui/secmem.h \
	daemon/ui/visible.c daemon/ui/visible.h daemon/utf8.c daemon/utf8.h daemon/web/certinfo.c \
	daemon/web/certinfo.h
prompt_libimzaprompt_a_CFLAGS = $(AM_CFLAGS) $(GTK4_CFLAGS) $(LIBCRYPTO_CFLAGS)

bin_PROGRAMS += prompt/imza-prompt
prompt_imza_prompt_SOURCES = prompt/imza-prompt.c prompt/window.c prompt/window.h prompt/widgets.h \
	prompt/ask.c prompt/ask.h prompt/card.c prompt/consent.c prompt/choose.c prompt/choose.h
prompt_imza_prompt_CPPFLAGS = $(AM_CPPFLAGS) -DLOCALEDIR='"$(localedir)"'
prompt_imza_prompt_CFLAGS = $(AM_CFLAGS) $(GTK4_CFLAGS) $(LIBASSUAN_CFLAGS) $(LIBCRYPTO_CFLAGS)
prompt_imza_prompt_LDADD = prompt/libimzaprompt.a protocol/libimzaproto.a $(GTK4_LIBS) $(LIBASSUAN_LIBS) $(LIBCRYPTO_LIBS)

# Its messages: English in the code, Turkish in po/tr.po. The catalog is built into the tree's own
# locale directory (tests point IMZA_PROMPT_LOCALEDIR at it) and installed under $(localedir).
PROMPT_MO = po/locale/tr/LC_MESSAGES/imza.mo
noinst_DATA = $(PROMPT_MO)
$(PROMPT_MO): $(top_srcdir)/po/tr.po
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(MSGFMT) -c -o $@ $(top_srcdir)/po/tr.po
EXTRA_DIST += po/tr.po po/POTFILES
CLEANFILES += $(PROMPT_MO)
install-data-local: $(PROMPT_MO)
	$(MKDIR_P) $(DESTDIR)$(localedir)/tr/LC_MESSAGES
	$(INSTALL_DATA) $(PROMPT_MO) $(DESTDIR)$(localedir)/tr/LC_MESSAGES/imza.mo
uninstall-local:
	rm -f $(DESTDIR)$(localedir)/tr/LC_MESSAGES/imza.mo

# The window-free rules (tests/unit/test-prompt.c).
check_PROGRAMS += tests/unit/test-prompt
TESTS += tests/unit/test-prompt
tests_unit_test_prompt_SOURCES = tests/unit/test-prompt.c tests/lib/testcert.c tests/lib/testcert.h
tests_unit_test_prompt_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(GTK4_CFLAGS) $(LIBCRYPTO_CFLAGS)
tests_unit_test_prompt_LDADD = prompt/libimzaprompt.a protocol/libimzaproto.a $(CMOCKA_LIBS) $(GTK4_LIBS) $(LIBCRYPTO_LIBS)
