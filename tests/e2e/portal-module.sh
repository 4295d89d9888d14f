#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo portal's default path with the qualified certificate on a vendor module's token (SoftHSM2 as
# the module, run by imza-backend) beside a PIV card: tests/e2e/portal-choose.sh in its module mode.
IMZA_PORTAL_QUALIFIED=module exec bash "$(dirname "$0")/portal-choose.sh" "$@"
