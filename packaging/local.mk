# SPDX-License-Identifier: LGPL-2.1-or-later
# What imza installs for the system around it: the systemd user units (in systemd's user unit directory,
# from configure: pkg-config systemd or --with-systemduserunitdir) and the p11-kit module file (in
# p11-kit's module directory: pkg-config p11-kit-1 or --with-p11kitmoduledir).
systemduserunit_DATA = packaging/systemd/imzad.socket packaging/systemd/imzad-https.socket \
	packaging/systemd/imzad.service
p11kitmodule_DATA = packaging/p11-kit/imza.module
CLEANFILES += packaging/systemd/imzad.service packaging/p11-kit/imza.module
EXTRA_DIST += packaging/systemd/imzad.socket packaging/systemd/imzad-https.socket \
	packaging/systemd/imzad.service.in packaging/p11-kit/imza.module.in

packaging/systemd/imzad.service: packaging/systemd/imzad.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) packaging/systemd && \
		sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/packaging/systemd/imzad.service.in >$@
packaging/p11-kit/imza.module: packaging/p11-kit/imza.module.in Makefile
	$(AM_V_GEN)$(MKDIR_P) packaging/p11-kit && \
		sed -e 's|@P11KIT_MODULE_NAME[@]|$(P11KIT_MODULE_NAME)|g' \
			$(srcdir)/packaging/p11-kit/imza.module.in >$@
