# SPDX-License-Identifier: LGPL-2.1-or-later
# backend/: imza-backend, the process that runs one vendor PKCS#11 module apart from imzad (see
# imza-backend.c). Non-recursive fragment included from the top-level Makefile.am.
pkglibexec_PROGRAMS = backend/imza-backend
backend_imza_backend_SOURCES = backend/imza-backend.c
backend_imza_backend_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
backend_imza_backend_LDADD = protocol/libimzaproto.a -ldl
