# SPDX-License-Identifier: LGPL-2.1-or-later
# The manual pages, written in mdoc (groff's, no tool to build them): installed as they are, and
# checked by tests/integration/man.sh (man --warnings renders each without a warning).
dist_man_MANS = man/imzactl.1 man/imza-prompt.1 man/imzad.conf.5 man/imza-pkcs11.8 man/imzad.8
