# SPDX-License-Identifier: LGPL-2.1-or-later
# Read after the configured Makefile (debian/rules): prints the tests that need no test stack, i.e.
# every TESTS entry that is a program rather than a TAP shell script.
print-unit-tests:
	@echo $(filter-out %.sh,$(TESTS))
