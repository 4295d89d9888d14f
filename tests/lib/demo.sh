# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# demo.sh: the demo portal for the browser tests. Source it after tests/lib/tap.sh, then call
# demo_up: web/demo-server on its own origin (a free port of 127.0.0.1), its address in DEMO_URL and
# its pid in demo_pid; the script ends (with its plan) when it does not come up. demo_down stops it by
# pid; put it in the script's EXIT trap.
# shellcheck disable=SC2034 # the names are for the scripts that source this file

demo_pid=""
demo_up() {
	"$IMZA_SRCDIR/web/demo-server" --port 0 --pidfile "$WORK/demo.pid" --quiet >"$WORK/demo.url" 2>>"$LOG" &
	demo_pid=$!
	for _ in $(seq 1 100); do [ -s "$WORK/demo.url" ] && break; sleep 0.05; done
	DEMO_URL=$(head -n 1 "$WORK/demo.url")
	if [[ $DEMO_URL =~ ^http://127\.0\.0\.1:[0-9]+/demo/$ ]]; then
		pass "the demo portal is served on its own origin ($DEMO_URL)"
	else
		fail "the demo portal is served on its own origin (got '$DEMO_URL')"
		done_testing
		exit 0
	fi
}
demo_down() {
	[ -n "$demo_pid" ] || return 0
	kill -TERM "$demo_pid" 2>/dev/null
	wait "$demo_pid" 2>/dev/null
	demo_pid=""
}
