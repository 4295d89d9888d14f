#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imzad's socket: the default place and modes, the peer check, socket activation, a clean SIGTERM.
. "$(dirname "$0")/../lib/tap.sh"

IMZA_NO_DAEMON=1 stack_up s
IMZAD=$IMZA_BUILDDIR/daemon/imzad
CTL=$IMZA_BUILDDIR/tools/imzactl
pids=()
stop_pids() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; pids=(); }
trap 'stop_pids; tap_cleanup' EXIT

check_output "--version" '^imzad [0-9]' "$IMZAD" --version
# Default place: $XDG_RUNTIME_DIR/imza/imzad.sock, directory 0700, socket 0600.
rt=$WORK/runtime
mkdir -p "$rt"
XDG_RUNTIME_DIR=$rt "$IMZAD" >"$WORK/imzad1.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$rt/imza/imzad.sock" ] && break; sleep 0.05; done
check_output "the runtime directory is 0700" '^700$' stat -c %a "$rt/imza"
check_output "the socket is 0600" '^600$' stat -c %a "$rt/imza/imzad.sock"
# Bound first, then the readers: wait for the card.
for _ in $(seq 1 100); do
	env -u IMZA_SOCKET XDG_RUNTIME_DIR="$rt" "$CTL" status 2>/dev/null | grep -q 'card: AHMET' && break
	sleep 0.05
done
check_output "imzactl finds it through XDG_RUNTIME_DIR" 'card: AHMET' env -u IMZA_SOCKET XDG_RUNTIME_DIR="$rt" "$CTL" status
# A second daemon on the same socket is refused, and does not break the first.
if XDG_RUNTIME_DIR=$rt timeout 5 "$IMZAD" >"$WORK/imzad2.log" 2>&1; then fail "a second imzad on a live socket refuses to start"; else
	pass "a second imzad on a live socket refuses to start"; fi
check_output "the first still answers" 'card: AHMET' env -u IMZA_SOCKET XDG_RUNTIME_DIR="$rt" "$CTL" status
# Another user: the socket is opened up on purpose so that only SO_PEERCRED stands in the way.
chmod 0755 "$WORK" "$rt" "$rt/imza"
chmod 0777 "$rt/imza/imzad.sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c "
import socket, struct, os
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect('$rt/imza/imzad.sock')
name = b'intruder'
try:
    s.sendall(struct.pack('>IIIIIII', 28 + len(name) - 4, 0x494D5A41, 1, 0, 2, os.getpid(), len(name)) + name)
    print('closed' if s.recv(100) == b'' else 'answered')
except (ConnectionResetError, BrokenPipeError):
    print('closed')" 2>&1)
echo "$out" >>"$LOG"
[ "$out" = closed ] && pass "a client of another uid is closed at once" || fail "a client of another uid is closed at once ($out)"
check_output "the refusal is logged" 'refused a connection from uid 65534' cat "$WORK/imzad1.log"
# SIGTERM: a clean exit that removes the socket it made.
kill -TERM "${pids[0]}"
wait "${pids[0]}"
rc=$?
pids=()
[ "$rc" = 0 ] && pass "SIGTERM ends imzad with status 0" || fail "SIGTERM ends imzad with status 0 ($rc)"
check_output "it said it was shutting down" 'shutting down' cat "$WORK/imzad1.log"
[ ! -e "$rt/imza/imzad.sock" ] && pass "the socket file is gone" || fail "the socket file is gone"
# Socket activation: systemd hands over the listening socket (LISTEN_FDS).
systemd-socket-activate -E PCSCLITE_CSOCK_NAME -E XDG_CONFIG_HOME -E XDG_STATE_HOME -l "$WORK/act.sock" "$IMZAD" >"$WORK/imzad3.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$WORK/act.sock" ] && break; sleep 0.05; done
# The first connection starts it; the card shows once it has been read.
for _ in $(seq 1 50); do "$CTL" --socket "$WORK/act.sock" status 2>/dev/null | grep -q 'card: AHMET' && break; sleep 0.1; done
check_output "a socket-activated imzad answers on the socket it was given" 'card: AHMET' "$CTL" --socket "$WORK/act.sock" status
stop_pids
# Socket activation of the HTTPS endpoint too: one Unix and one TCP socket passed, each served.
aport=$((40000 + RANDOM % 20000))
systemd-socket-activate -E PCSCLITE_CSOCK_NAME -E XDG_CONFIG_HOME -E XDG_STATE_HOME -l "$WORK/act2.sock" \
	-l "127.0.0.1:$aport" "$IMZAD" >"$WORK/imzad5.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$WORK/act2.sock" ] && break; sleep 0.05; done
for _ in $(seq 1 50); do "$CTL" --socket "$WORK/act2.sock" status 2>/dev/null | grep -q 'card: AHMET' && break; sleep 0.1; done
check_output "activated with a TCP socket as well: the HTTPS endpoint answers on it" '"name": *"imza"' \
	curl -sS -m 10 --cacert "$XDG_CONFIG_HOME/imza/ca.crt" "https://127.0.0.1:$aport/v1/info"
stop_pids
# The units' sockets by name (FileDescriptorName=: imzad.socket's "imzad", imzad-https.socket's "https"),
# in whatever order they come: each is served as what its name says.
aport=$((40000 + RANDOM % 20000))
systemd-socket-activate -E PCSCLITE_CSOCK_NAME -E XDG_CONFIG_HOME -E XDG_STATE_HOME -l "127.0.0.1:$aport" \
	-l "$WORK/act3.sock" --fdname=https:imzad "$IMZAD" --verbose >"$WORK/imzad6.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$WORK/act3.sock" ] && break; sleep 0.05; done
for _ in $(seq 1 50); do "$CTL" --socket "$WORK/act3.sock" status 2>/dev/null | grep -q 'card: AHMET' && break; sleep 0.1; done
check_output "named sockets, HTTPS first: the one named imzad serves imzactl" 'card: AHMET' \
	"$CTL" --socket "$WORK/act3.sock" status
check_output "named sockets, HTTPS first: the one named https serves the endpoint" '"name": *"imza"' \
	curl -sS -m 10 --cacert "$XDG_CONFIG_HOME/imza/ca.crt" "https://127.0.0.1:$aport/v1/info"
stop_pids
# A TCP socket under the RPC socket's name is not taken for HTTPS, and with the units' names but no
# https socket (imzad-https.socket failed: another user holds the port) imzad does not bind the port
# itself (it would take it from that unit's next start): PKCS#11 only.
aport=$((40000 + RANDOM % 20000))
bport=$((aport + 1))
systemd-socket-activate -E PCSCLITE_CSOCK_NAME -E XDG_CONFIG_HOME -E XDG_STATE_HOME -l "$WORK/act4.sock" \
	-l "127.0.0.1:$aport" --fdname=imzad:imzad "$IMZAD" --https-port "$bport" >"$WORK/imzad7.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$WORK/act4.sock" ] && break; sleep 0.05; done
for _ in $(seq 1 50); do "$CTL" --socket "$WORK/act4.sock" status 2>/dev/null | grep -q 'card: AHMET' && break; sleep 0.1; done
check_output "no https socket: PKCS#11 still served" 'card: AHMET' "$CTL" --socket "$WORK/act4.sock" status
check_output "a TCP socket named imzad is refused by name" 'ignoring socket [0-9]+ \("imzad"\)' cat "$WORK/imzad7.log"
check_output "no https socket from the units: imzad says it runs without the endpoint" \
	'no HTTPS socket.*no HTTPS endpoint' cat "$WORK/imzad7.log"
if curl -sS -m 3 -k "https://127.0.0.1:$bport/v1/info" >>"$LOG" 2>&1; then
	fail "nor does it bind the configured port ($bport) itself"
else
	pass "nor does it bind the configured port ($bport) itself"
fi
stop_pids
# HTTPS switched off while imzad-https.socket still listens: imzad says those sockets go unanswered.
aport=$((40000 + RANDOM % 20000))
systemd-socket-activate -E PCSCLITE_CSOCK_NAME -E XDG_CONFIG_HOME -E XDG_STATE_HOME -l "$WORK/act5.sock" \
	-l "127.0.0.1:$aport" --fdname=imzad:https "$IMZAD" --no-https >"$WORK/imzad8.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$WORK/act5.sock" ] && break; sleep 0.05; done
for _ in $(seq 1 50); do "$CTL" --socket "$WORK/act5.sock" status 2>/dev/null | grep -q 'card: AHMET' && break; sleep 0.1; done
check_output "--no-https with sockets from imzad-https.socket: imzad says they go unanswered" \
	'yet systemd passed HTTPS sockets.*mask imzad-https.socket' cat "$WORK/imzad8.log"
stop_pids
# systemd's notify protocol: READY=1 once serving, then WATCHDOG=1 at half the watchdog interval.
/usr/bin/python3 - "$WORK/notify" >"$WORK/notify.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
seen = []
end = time.time() + 10
while time.time() < end and not ("READY=1" in seen and seen.count("WATCHDOG=1") >= 2):
    for line in s.recv(4096).decode().split("\n"):
        seen.append(line)
print(" ".join(seen))
PY
pypid=$!
for _ in $(seq 1 50); do [ -S "$WORK/notify" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$WORK/notify WATCHDOG_USEC=400000 "$IMZAD" --socket "$WORK/n.sock" >"$WORK/imzad4.log" 2>&1 &
pids+=($!)
wait "$pypid"
check_output "imzad tells systemd READY=1" 'READY=1' cat "$WORK/notify.out"
check_output "and pets the watchdog" 'WATCHDOG=1.*WATCHDOG=1' cat "$WORK/notify.out"
stop_pids
done_testing
