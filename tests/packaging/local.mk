# SPDX-License-Identifier: LGPL-2.1-or-later
# Packaging: the test target the Debian and RPM builds run, the smoke test of the installed .deb, and
# the packaging files the release tarball carries, so that `dpkg-buildpackage -b` (in the unpacked
# tarball) and `rpmbuild -ta` build from it.

# check-unit: the tests that need nothing but the build: every TESTS entry that is a program (cmocka
# unit tests, fuzz corpora replayed, the virtual card's own checks), not a TAP shell script (those
# start a private pcscd, a virtual card, imzad, browsers). debian/rules and the RPM spec's %check run it.
check-unit:
	@tests=; for t in $(TESTS); do case $$t in *.sh) ;; *) tests="$$tests $$t" ;; esac; done; \
	echo "$(MAKE) check TESTS='$$tests'"; $(MAKE) $(AM_MAKEFLAGS) check TESTS="$$tests"

# check-packages: builds the .deb and .rpm packages from the release tarball's files, installs the
# .debs into this machine's /usr, checks them there and purges them (tests/packaging/deb-smoke.sh; only
# as root with IMZA_DEB_SMOKE=1, else it is skipped). packaging/quickstart check runs it after the suite.
check-packages:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='tests/packaging/deb-smoke.sh' TEST_SUITE_LOG=packages-suite.log

.PHONY: check-unit check-packages

EXTRA_DIST += tests/packaging/deb-smoke.sh \
	packaging/rpm/imza.spec packaging/rpm/imza.rpmlintrc \
	debian/changelog debian/control debian/copyright debian/rules debian/source/format \
	debian/imza.install debian/imza-pkcs11.install debian/imza.lintian-overrides \
	debian/imza-pkcs11.lintian-overrides
