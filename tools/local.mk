# SPDX-License-Identifier: LGPL-2.1-or-later
# imzactl: a thin main over the protocol library.
bin_PROGRAMS += tools/imzactl
tools_imzactl_SOURCES = tools/imzactl.c tools/imzactl.h tools/sign.c tools/trust.c tools/trust.h
tools_imzactl_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS)
tools_imzactl_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tools_imzactl_LDADD = protocol/libimzaproto.a $(LIBCRYPTO_LIBS)
