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

# imzad_module MODULE [ARG...]: imzad's configuration ($WORK/imzad.conf) names MODULE as its one module,
# and the stack starts imzad with it, the helper from the build and each ARG.
imzad_module() {
	printf 'module = %s\n' "$1" >"$WORK/imzad.conf"
	shift
	export IMZA_IMZAD_ARGS="--config $WORK/imzad.conf --backend $BACKEND${*:+ $*}"
}

# imzad_restart [COMMAND...]: imzad of the stack stopped, COMMAND run meanwhile (changing the cache or the
# token), a marker written to imzad's log, imzad started again; since_marker prints the log after the
# last marker.
imzad_restart() {
	"$STACK" daemon "$IMZA_STACK_DIR" stop >>"$LOG" 2>&1
	"$@"
	echo "--- test marker ---" >>"$IMZA_STACK_DIR/imzad.log"
	"$STACK" daemon "$IMZA_STACK_DIR" start >>"$LOG" 2>&1
}
since_marker() { sed -n '/^--- test marker ---$/h; /^--- test marker ---$/!H; ${x;p}' "$IMZA_STACK_DIR/imzad.log"; }
# helper_calls NAME...: the sum of these calls in the helper's last count line since the marker
# (IMZA_BACKEND_CALLS=1 makes imza-backend log its counts).
helper_calls() {
	local line n=0 c
	line=$(since_marker | grep 'imza-backend\[[0-9]*\]: calls' | tail -n 1)
	for c in "$@"; do
		n=$((n + $(sed -n "s/.* $c=\([0-9]*\).*/\1/p" <<<"$line" | head -n 1 | grep . || echo 0)))
	done
	echo "$n"
}
