#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The portal e2e in Firefox ESR, driven over WebDriver BiDi (puppeteer-core, tests/e2e/portal-firefox.mjs):
# a fresh profile set up as a user's would be (imza's local CA trusted, the module registered), the demo
# portal on its own origin against the real stack, the declaration signed and the .p7s verified; then
# what Firefox's Local Network Access does with a public page's requests to imza, and the administrator's
# way through it (network.lna.skip-domains, the LocalNetworkAccess policy). Firefox runs headless (as
# root too: Firefox neither refuses nor warns); every Firefox process is gone at the end (see ff_left).
# Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/portal-firefox-*.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/demo.sh"

E2E=$IMZA_SRCDIR/tests/e2e
FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}
ART=$IMZA_BUILDDIR/tests/e2e/artifacts
CTL=$IMZA_BUILDDIR/tools/imzactl

# Missing, the test is skipped with the reason; under .ci/run (IMZA_NO_SKIP) that is a failure.
[ "$FIREFOX" = /usr/bin/firefox-esr ] && need firefox-esr firefox-esr
[ -x "$FIREFOX" ] || missing "$FIREFOX (package firefox-esr)"
need node nodejs
need certutil libnss3-tools
need modutil libnss3-tools
need openssl openssl
[ -f "$E2E/node_modules/puppeteer-core/package.json" ] ||
	missing "$E2E/node_modules/puppeteer-core (npm ci --prefix tests/e2e)"
pass "node $(node --version), puppeteer-core $(node -p "require('$E2E/node_modules/puppeteer-core/package.json').version"), $("$FIREFOX" --version 2>/dev/null)"

stack_up s

# The demo portal on its own origin, and every Firefox the test started, stopped by pid whichever way
# this script ends. Each Firefox leads its own process group, which its content, socket, RDD and fork
# server processes share; its crash helper has a session of its own and names the Firefox pid first.
FF_PIDS=$WORK/firefox.pids
: >"$FF_PIDS"
# (Only processes of Firefox's own executable count, so a group id the kernel gave out again is left be.)
FF_EXE=$(basename "$(readlink -f "$FIREFOX")")
ff_left() { # the processes left of the Firefoxes this test started
	local pgid
	while read -r pgid; do
		[ -n "$pgid" ] || continue
		pgrep -g "$pgid" -f -- "$FF_EXE"
		pgrep -f -- "/crashhelper $pgid "
	done <"$FF_PIDS"
	return 0
}
ff_down() {
	local pid
	for pid in $(ff_left); do kill -KILL "$pid" 2>/dev/null; done
	return 0
}
trap 'ff_down; demo_down; tap_cleanup' EXIT

# A private HOME: the profile, its NSS database and everything Firefox writes stay in it.
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config XDG_CACHE_HOME=$WORK/home/.cache TMPDIR=$WORK/tmp
export MOZ_CRASHREPORTER_DISABLE=1
mkdir -p "$HOME" "$TMPDIR"

# ff_profile_setup: what a user does to let Firefox use imza: `imzactl setup`, which trusts imza's local
# CA in every Firefox profile and registers the module there (and asks to enable the user units: with no
# user manager here it says so and goes on). host_env: setup's modutil and certutil load the modules a
# database lists, the ASan-built one in a sanitizer build.
ff_profile_setup() {
	host_env "$CTL" setup --module "$IMZA_MODULE" --config-dir "$IMZA_STACK_DIR/config"
}

# ff_run ARGS...: Firefox in a process group of its own (recorded for ff_left), 60 s at most.
ff_run() {
	setsid "$FIREFOX" "$@" >>"$LOG" 2>&1 &
	local pid=$!
	echo "$pid" >>"$FF_PIDS"
	for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid"
	wait "$pid"
}

# The profile as a user's is: Firefox makes it (-CreateProfile) and has run once in it, which writes its
# NSS database (cert9.db, pkcs11.txt). It goes under ~/.mozilla/firefox, where Firefox keeps using the
# profiles of everyone who had one there; a new user's is under ~/.config (checked below).
mkdir -p "$HOME/.mozilla/firefox"
ff_run --headless -CreateProfile imza-e2e
PROFILE=$(sed -n 's/^Path=//p' "$HOME/.mozilla/firefox/profiles.ini" 2>/dev/null | head -n 1)
PROFILE=$HOME/.mozilla/firefox/$PROFILE
if [ -z "${PROFILE##*/}" ] || [ ! -d "$PROFILE" ]; then
	bail "firefox -CreateProfile made no profile under ~/.mozilla/firefox"
fi
ff_first_run() { # ff_first_run DIR: Firefox starts once in the profile and quits
	ff_run --headless --profile "$1" --screenshot "$WORK/first-run.png" about:blank
}
ff_profile_made() { # ff_profile_made DIR: its first run wrote the NSS database
	ff_first_run "$1" && test -s "$1/cert9.db" && test -s "$1/pkcs11.txt"
}
check "Firefox made the profile ${PROFILE#"$HOME"/} and its NSS database on its first run" ff_profile_made "$PROFILE"
check "imzactl setup in the fresh HOME" ff_profile_setup
check_output "the profile trusts imza's local CA for TLS servers" '^imza local CA +C,' host_env certutil -L -d "sql:$PROFILE"
check_output "the profile lists imza's module" "library name: $IMZA_MODULE" host_env modutil -list -dbdir "sql:$PROFILE"
# Firefox cannot host an ASan-built module (measured with 153.8.0esr): loading it aborts Firefox at start
# ("ASan runtime does not come first"); with verify_asan_link_order=0 ASan's shadow collides with
# Firefox's mappings; with libasan preloaded Firefox does not start. So in a sanitizer build Firefox gets
# the profile without it, and the check that Firefox loaded the module is a plain build's.
FF_MODULE=loaded
if nm -D "$IMZA_MODULE" 2>/dev/null | grep __asan_init >/dev/null; then
	check "a sanitizer build: the ASan-built module is taken out of the profile again before Firefox starts" \
		host_env modutil -force -dbdir "sql:$PROFILE" -delete imza
	FF_MODULE=absent
fi

# A user who first runs a recent Firefox gets the profile under $XDG_CONFIG_HOME/mozilla/firefox.
# imzactl setup reaches it too.
in_xhome() { # in_xhome COMMAND...: run in the second HOME
	local -x HOME=$XHOME XDG_CONFIG_HOME=$XHOME/.config XDG_CACHE_HOME=$XHOME/.cache \
		XDG_STATE_HOME=$XHOME/.local/state XDG_DATA_HOME=$XHOME/.local/share
	"$@"
}
XHOME=$WORK/xdg-home
mkdir -p "$XHOME"
in_xhome ff_run --headless -CreateProfile imza-e2e
XPROFILE=$(sed -n 's/^Path=//p' "$XHOME/.config/mozilla/firefox/profiles.ini" 2>/dev/null | head -n 1)
XPROFILE=$XHOME/.config/mozilla/firefox/$XPROFILE
[ -n "${XPROFILE##*/}" ] || XPROFILE=$XHOME/.config/mozilla/firefox/none
check "on a HOME without ~/.mozilla, Firefox $("$FIREFOX" --version | sed 's/.* //') makes its profile under ~/.config/mozilla/firefox" \
	in_xhome ff_profile_made "$XPROFILE"
if in_xhome ff_profile_setup >>"$LOG" 2>&1 &&
	host_env certutil -L -d "sql:$XPROFILE" 2>>"$LOG" | grep -Eq '^imza local CA +C,'; then
	pass "imzactl setup trusts imza's CA in a profile under ~/.config/mozilla/firefox"
else
	fail "imzactl setup trusts imza's CA in a profile under ~/.config/mozilla/firefox"
fi

demo_up

rm -f "$ART"/portal-firefox-*.png
mkdir -p "$ART" "$WORK/files"
start=$(date +%s)
# timeout: a hung browser must not hang make check; on SIGTERM puppeteer closes Firefox, and ff_down
# kills whatever of its process groups is left.
run_checks env DEMO_URL="$DEMO_URL" PORTAL_ARTIFACTS="$ART" PORTAL_WORK="$WORK/files" FIREFOX="$FIREFOX" \
	FIREFOX_PROFILE="$PROFILE" FIREFOX_PIDS="$FF_PIDS" FIREFOX_MODULE="$FF_MODULE" timeout -k 10 240 node "$E2E/portal-firefox.mjs"
note "portal-firefox.mjs took $(($(date +%s) - start)) s"

left=""
for _ in $(seq 1 50); do
	left=$(ff_left)
	[ -z "$left" ] && break
	sleep 0.1
done
if [ -z "$left" ] && [ -s "$FF_PIDS" ]; then
	pass "no process of the $(wc -l <"$FF_PIDS") Firefox runs is left (process groups $(tr '\n' ' ' <"$FF_PIDS"))"
else
	fail "no Firefox process is left (groups: $(tr '\n' ' ' <"$FF_PIDS"); left: $(echo "$left" | tr '\n' ' '))"
	ff_down
fi
demo_down
if [ ! -e "$WORK/demo.pid" ]; then pass "the demo server stopped and removed its pid file"; else
	fail "the demo server stopped and removed its pid file"
fi
done_testing
