#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# web/demo-server: the demo portal's own origin. Prints its URL first, serves imza.js and the demo with
# Cache-Control: no-store, keeps to 127.0.0.1, writes and removes its pid file, stops on SIGTERM.
. "$(dirname "$0")/../lib/tap.sh"

SERVER=$IMZA_SRCDIR/web/demo-server
command -v python3 >/dev/null || bail "python3 not installed"
command -v curl >/dev/null || bail "curl not installed"

"$SERVER" --port 0 --pidfile "$WORK/pid" --quiet >"$WORK/out" 2>>"$LOG" &
spid=$!
for _ in $(seq 50); do [ -s "$WORK/out" ] && break; sleep 0.1; done
url=$(head -n 1 "$WORK/out")
base=${url%/demo/}
port=${base##*:}
[[ $url =~ ^http://127\.0\.0\.1:[0-9]+/demo/$ ]] && pass "first line is the demo URL ($url)" || fail "first line is the demo URL (got '$url')"
[ "$(cat "$WORK/pid" 2>/dev/null)" = "$spid" ] && pass "pid file holds the server's pid" || fail "pid file holds the server's pid"

check_output "/demo/ is the portal" 'Kullanıcı Girişi' curl -sS "$url"
check_output "/imza.js is served" 'ImzaError' curl -sS "$base/imza.js"
check_output "answers carry Cache-Control: no-store" '^[Cc]ache-[Cc]ontrol: no-store' curl -sS -D - -o /dev/null "$base/imza.js"
check_output "JavaScript is text/javascript" '^[Cc]ontent-[Tt]ype: text/javascript' curl -sS -D - -o /dev/null "$base/demo/demo.js"
check_output "/ redirects to /demo/" '^[Ll]ocation: /demo/' curl -sS -D - -o /dev/null "$base/"
check_output "no directory listings" '^404$' curl -sS --path-as-is -o /dev/null -w '%{http_code}' "$base/demo/../"
check_output "nothing outside web/" '^404$' curl -sS --path-as-is -o /dev/null -w '%{http_code}' "$base/../Makefile.am"
if command -v ss >/dev/null; then
	check_output "listens on 127.0.0.1 only" "^127\.0\.0\.1:$port\$" sh -c "ss -Hltn 'sport = :$port' | awk '{print \$4}'"
else
	skip "listens on 127.0.0.1 only" "ss not installed"
fi

kill -TERM "$spid"
wait "$spid"
rc=$?
[ "$rc" = 0 ] && pass "SIGTERM stops it cleanly" || fail "SIGTERM stops it cleanly (exit $rc)"
[ ! -e "$WORK/pid" ] && pass "pid file removed on exit" || fail "pid file removed on exit"
done_testing
