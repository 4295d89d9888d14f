#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Who gets through the HTTPS endpoint's door: only imzad's own uid (another local user riding a granted
# origin's "always" has its connection closed, with one log line for many tries), and slow clients
# cannot shut the others out (a request must be whole within 5 s; the oldest idle connection makes
# room for a new one).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

need setpriv util-linux
https_stack_up
ILOG=$IMZA_STACK_DIR/imzad.log
ORIGIN=https://portal.example
"$CTL" grants allow "$ORIGIN" >>"$LOG" 2>&1

# ---- test_other_uid_peer_refused ----
if [ "$(id -u)" != 0 ]; then
	skip "a peer of another uid is refused" "needs root to become uid 65534"
else
	# -k: the other user cannot read our CA; whatever fails for it now is the connection, not trust.
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	got=0 bodies=""
	for _ in 1 2 3 4 5; do
		out=$(as_nobody curl -sS -k -m 5 -H "Origin: $ORIGIN" -w '\n%{http_code}' "$URL/v1/certificates" 2>>"$LOG") && got=$((got + 1))
		bodies+="$out"
	done
	echo "## uid 65534 answers: $bodies" >>"$LOG"
	[ "$got" = 0 ] && ! grep -q certificates <<<"$bodies" &&
		pass "test_other_uid_peer_refused: uid 65534 with Origin $ORIGIN (granted always): 5 connections closed, no certificates" ||
		fail "test_other_uid_peer_refused: uid 65534 got an answer ($got of 5)"
	n=$(grep -c 'closed a connection from uid 65534' "$ILOG")
	[ "$n" = 1 ] && pass "one log line for the 5 refusals" || fail "one log line for the 5 refusals (got $n)"
	st=$(curl -sS --cacert "$CA" -m 5 -o "$WORK/body" -w '%{http_code}' -H "Origin: $ORIGIN" "$URL/v1/certificates" 2>>"$LOG")
	[ "$st" = 200 ] && grep -q '"certificates"' "$WORK/body" && pass "imzad's own uid gets the same request answered (200)" ||
		fail "imzad's own uid gets the same request answered ($st)"
	# The pinentry was never asked for the other user.
	! grep -q '"cmd":"CONFIRM"' "$IMZA_PINENTRY_LOG" 2>/dev/null && pass "no dialog for the other user" ||
		fail "no dialog for the other user"
fi

# ---- test_burst_of_connections_serves_the_client_in_it ----
# imzad stopped while 60 silent connections, a real client and 60 more wait in the backlog (128): on
# SIGCONT it accepts the 121 in one go, over the handshake budget (32). The client is not shut out for
# the later ones: no handshake goes before it has had its turn.
read -r IMZAD_PID _ <"$IMZA_STACK_DIR/pids/imzad"
kill -STOP "$IMZAD_PID"
if python3 "$IMZA_SRCDIR/tests/integration/conn_burst.py" "$PORT" 60 60 "$IMZAD_PID" -- \
	curl -sS --cacert "$CA" -m 20 -o /dev/null -w '%{http_code}' "$URL/v1/info" >"$WORK/burst.out" 2>>"$LOG" &&
	grep -q 'client 0: 200' "$WORK/burst.out"; then
	pass "test_burst_of_connections_serves_the_client_in_it: $(cat "$WORK/burst.out")"
else
	fail "test_burst_of_connections_serves_the_client_in_it: $(cat "$WORK/burst.out")"
fi
kill -CONT "$IMZAD_PID" 2>/dev/null || true

# ---- test_slow_headers_do_not_block ----
# 200 TLS connections sending their head one byte a second, opened again when closed, for 14 s; a
# normal request every second meanwhile.
python3 "$IMZA_SRCDIR/tests/integration/slow_clients.py" "$PORT" 200 14 "$WORK/ready" >"$WORK/slow.out" 2>>"$LOG" &
slow=$!
for _ in $(seq 1 200); do [ -s "$WORK/ready" ] && break; sleep 0.05; done
[ -s "$WORK/ready" ] && pass "200 slow connections opened" || fail "200 slow connections opened"
worst=0 ok=0 times=""
for _ in $(seq 1 8); do
	r=$(curl -sS --cacert "$CA" -m 10 -o /dev/null -w '%{http_code} %{time_total}' "$URL/v1/info" 2>>"$LOG")
	times+=" ${r#* }"
	[ "${r% *}" = 200 ] && ok=$((ok + 1))
	worst=$(python3 -c "print(max($worst, float('${r#* }' or 99)))")
	sleep 1
done
wait "$slow"
note "normal requests beside 200 slow clients took (s):$times; slow clients: $(cat "$WORK/slow.out")"
[ "$ok" = 8 ] && pass "test_slow_headers_do_not_block: 8 of 8 normal requests answered beside 200 slow clients" ||
	fail "test_slow_headers_do_not_block: $ok of 8 normal requests answered"
python3 -c "import sys; sys.exit(0 if $worst < 1.0 else 1)" && pass "each within 1 s (worst ${worst} s)" ||
	fail "each within 1 s (worst ${worst} s)"
longest=$(sed -n 's/.*longest \([0-9.]*\).*/\1/p' "$WORK/slow.out")
python3 -c "import sys; sys.exit(0 if 0 < ${longest:-0} < 8 else 1)" &&
	pass "no slow connection outlives the 5 s head deadline by much (longest lived ${longest} s of 14)" ||
	fail "no slow connection outlives the 5 s head deadline by much (longest lived ${longest:-?} s of 14)"
st=$(curl -sS --cacert "$CA" -m 5 -o /dev/null -w '%{http_code}' "$URL/v1/info" 2>>"$LOG")
[ "$st" = 200 ] && pass "imzad answers after them" || fail "imzad answers after them ($st)"

done_testing
