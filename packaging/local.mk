# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd user units for imzad.
systemduserunitdir = $(prefix)/lib/systemd/user
systemduserunit_DATA = packaging/systemd/imzad.socket packaging/systemd/imzad.service
CLEANFILES += packaging/systemd/imzad.service
EXTRA_DIST += packaging/systemd/imzad.socket packaging/systemd/imzad.service.in

packaging/systemd/imzad.service: packaging/systemd/imzad.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) packaging/systemd && sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/packaging/systemd/imzad.service.in >$@
