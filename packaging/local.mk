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

# The install layout (make install/uninstall into a DESTDIR) and the units (systemd-analyze verify and
# security).
PACKAGING_TESTS = tests/integration/install.sh tests/integration/units.sh
TESTS += $(PACKAGING_TESTS)
EXTRA_DIST += $(PACKAGING_TESTS)

# The directories make install uses, for tests/integration/install.sh (one NAME=VALUE a line).
print-install-dirs:
	@echo 'prefix=$(prefix)'; echo 'bindir=$(bindir)'; echo 'pkglibexecdir=$(pkglibexecdir)'; \
	echo 'pkcs11dir=$(pkcs11dir)'; echo 'p11kitmoduledir=$(p11kitmoduledir)'; \
	echo 'p11_module_path=$(P11_MODULE_PATH)'; \
	echo 'p11_module_configs=$(P11_MODULE_CONFIGS)'; echo 'systemduserunitdir=$(systemduserunitdir)'; \
	echo 'mandir=$(mandir)'; echo 'localedir=$(localedir)'
.PHONY: print-install-dirs
