# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# backend.sh: what the vendor-module tests share. Source it after tests/lib/tap.sh, then call
# hsm_up [PROGRAM...]: the SoftHSM2 token of tests/backend/softhsm-token in $WORK/hsm (certificates from
# the CA in $HSM_CA when set, e.g. a virtual card's, else a CA of its own; its settings
# sourced: SOFTHSM2_CONF exported, SOFTHSM_MODULE, SOFTHSM_LABEL, SOFTHSM_PIN...), after checking that
# softhsm2-util, imza-backend, the quirky module and each PROGRAM (a path or a command) are there.
# shellcheck disable=SC2034 # the names are for the scripts that source this file

BACKEND=$IMZA_BUILDDIR/backend/imza-backend
QUIRK=$IMZA_BUILDDIR/tests/backend/.libs/quirk-pkcs11.so

hsm_up() {
	local p
	command -v softhsm2-util >/dev/null || missing "softhsm2-util (package softhsm2)"
	[ -x "$BACKEND" ] && [ -f "$QUIRK" ] || bail "imza-backend or the quirky module not built"
	for p in "$@"; do
		[ -x "$p" ] || command -v "$p" >/dev/null || missing "$p (not built, or its package not installed)"
	done
	"$IMZA_SRCDIR/tests/backend/softhsm-token" "$WORK/hsm" ${HSM_CA:+--ca "$HSM_CA"} >>"$LOG" 2>&1 ||
		bail "softhsm-token failed"
	# shellcheck disable=SC1091
	. "$WORK/hsm/env"
	export SOFTHSM2_CONF
}
