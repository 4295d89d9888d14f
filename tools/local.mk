# SPDX-License-Identifier: LGPL-2.1-or-later
# imzactl: a thin main over the protocol library. setup registers the installed module, whose path
# comes from the install layout (pkcs11dir, pkcs11/local.mk).
bin_PROGRAMS += tools/imzactl
tools_imzactl_SOURCES = tools/imzactl.c tools/imzactl.h tools/sign.c tools/trust.c tools/trust.h \
	tools/setup.c tools/setup.h
tools_imzactl_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOCOL_CPPFLAGS) \
	-DIMZA_PKCS11_MODULE='"$(pkcs11dir)/imza-pkcs11.so"'
tools_imzactl_CFLAGS = $(AM_CFLAGS) $(LIBCRYPTO_CFLAGS)
tools_imzactl_LDADD = protocol/libimzaproto.a $(LIBCRYPTO_LIBS)
# The administrators' examples that go with setup (where they go: their README).
EXTRA_DIST += packaging/firefox-policy/imza-module-and-ca.json packaging/ROLLOUT.md
