# SPDX-License-Identifier: LGPL-2.1-or-later
# tap.sh: TAP output and stack lifecycle for the shell tests. Source it, then call check/pass/fail,
# and end with done_testing. A script that dies before done_testing has no plan: the driver counts
# that as an error, so an early exit can never pass for success.
set -uo pipefail

IMZA_SRCDIR=${IMZA_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
IMZA_BUILDDIR=${IMZA_BUILDDIR:-$IMZA_SRCDIR}
STACK=$IMZA_SRCDIR/tests/harness/stack
PROBE=$IMZA_BUILDDIR/tests/tools/pcsc-probe

tap_n=0
tap_failed=0
tap_name=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imza-$tap_name.XXXXXX")
LOG=$WORK/test.log
: >"$LOG"
# Whatever a test starts keeps its settings, CA and cache under WORK, never in the user's own dirs.
export XDG_CONFIG_HOME=$WORK/xdg-config XDG_STATE_HOME=$WORK/xdg-state
tap_stacks=()

pass() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
fail() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
	# The last lines of the log say why.
	tail -n 15 "$LOG" | sed 's/^/# /'
}
skip() {
	[ -n "${IMZA_NO_SKIP:-}" ] && { fail "$1: skipped ($2), and IMZA_NO_SKIP says every check must run"; return; }
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}
# missing WHAT...: a tool the whole test needs is not there (each WHAT says which package has it). The
# test is skipped with that reason; under IMZA_NO_SKIP (.ci/run sets it: CI installs everything, so a
# missing tool there is a fault) it bails out instead.
missing() {
	set -- "${*# }"
	[ -n "${IMZA_NO_SKIP:-}" ] && bail "missing: $* (IMZA_NO_SKIP: every test must run)"
	echo "1..0 # SKIP missing: $*"
	exit 0
}
# need COMMAND PACKAGE: missing unless COMMAND is on the PATH.
need() { command -v "$1" >/dev/null || missing "$1 (package $2)"; }
# stack_need: what a private stack needs (pcscd and the vpcd driver), else missing.
stack_need() {
	need pcscd pcscd
	[ -e "${IMZA_VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}" ] ||
		missing "the vpcd reader driver (package vsmartcard-vpcd)"
}
# check DESCRIPTION COMMAND...: the command's output goes to the log.
check() {
	local d=$1
	shift
	echo "## $d: $*" >>"$LOG"
	if "$@" >>"$LOG" 2>&1; then pass "$d"; else fail "$d"; fi
}
# check_output DESCRIPTION PATTERN COMMAND...: passes when the output matches the extended regex.
check_output() {
	local d=$1 pat=$2 out
	shift 2
	echo "## $d: $*" >>"$LOG"
	out=$("$@" 2>&1)
	echo "$out" >>"$LOG"
	if grep -Eq -- "$pat" <<<"$out"; then pass "$d"; else fail "$d (no /$pat/)"; fi
}
note() { echo "# $*"; }
bail() { echo "Bail out! $*"; exit 1; }

# stack_up NAME [ARGS]: start a stack in $WORK/NAME and source its env.
stack_up() {
	local d=$WORK/$1
	shift
	stack_need
	tap_stacks+=("$d")
	"$STACK" up "$d" "$@" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" | sed 's/^/# /'; bail "stack up failed"; }
	# shellcheck disable=SC1091
	. "$d/env"
}

# stacks_down: stop every stack this test started, then look for sanitizer reports in their logs
# (a sanitizer in a background process would otherwise go unseen).
stacks_down() {
	local d reports
	for d in "${tap_stacks[@]}"; do
		"$STACK" down "$d" >>"$LOG" 2>&1
		reports=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$d"/*.log 2>/dev/null || true)
		if [ -n "$reports" ]; then fail "no sanitizer reports in $d ($reports)"; else pass "no sanitizer reports in $(basename "$d")'s processes"; fi
	done
	tap_stacks=()
}

# host_env COMMAND...: runs a program that loads our module. An ASan-built module inside an
# uninstrumented host (pkcs11-tool, certutil, python3...) needs the ASan runtime loaded first (and
# libstdc++ with it, for hosts that throw C++ exceptions, as PyKCS11 does), and the host's own leaks
# are not ours to report. (grep without -q: under pipefail an early exit would fail nm with SIGPIPE.)
host_env() {
	if [ -n "${IMZA_MODULE:-}" ] && nm -D "$IMZA_MODULE" 2>/dev/null | grep __asan_init >/dev/null; then
		LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libstdc++.so.6)${LD_PRELOAD:+:$LD_PRELOAD}" \
			ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" "$@"
	else
		"$@"
	fi
}

# run_checks COMMAND...: a helper program prints "ok - what" / "not ok - what" lines, each becomes a
# check here; anything else it prints is kept as a comment. The helper must also end with status 0:
# one that dies half-way would otherwise just report fewer checks.
run_checks() {
	local line rc
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done < <("$@" 2>>"$LOG")
	wait $!
	rc=$?
	[ "$rc" = 0 ] && pass "$(basename "${*: -1}") ran to its end" || fail "$(basename "${*: -1}") ran to its end (exit $rc)"
}

tap_cleanup() {
	local d
	for d in "${tap_stacks[@]}"; do "$STACK" down "$d" >>"$LOG" 2>&1; done
	if [ "$tap_failed" = 0 ] && [ -z "${IMZA_KEEP:-}" ]; then rm -rf "$WORK"; else echo "# kept $WORK"; fi
}
trap tap_cleanup EXIT

done_testing() {
	stacks_down
	echo "1..$tap_n"
}
