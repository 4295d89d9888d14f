#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The RPC's system calls per call, counted with strace against the private stack: the module makes one
# send and one receive per call in the steady state (no poll of its idle connection, no getpid for the
# fork check, the answer's header and body in one receive), and imzad receives a whole request with one
# receive. These counts are what the socket floor needs: one send and one receive on each side. And a
# burst of requests that one receive takes is answered whole.
. "$(dirname "$0")/../lib/tap.sh"

need strace strace
LOOP=$IMZA_BUILDDIR/tests/tools/p11loop
N=400
stack_up s

# count_module KIND: "OTHERS SENDS RECVS POLLS GETPIDS" per call, over N calls between p11loop's markers;
# OTHERS leaves out the allocator's memory mappings (a sanitizer build's runtime maps now and then).
count_module() {
	local t=$WORK/module-$1.trace
	# LeakSanitizer cannot run under ptrace: a sanitizer build's p11loop would fail at its exit.
	ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" host_env strace -f -qq -o "$t" \
		"$LOOP" "$IMZA_MODULE" "$1" "$N" 2>>"$LOG" || echo "## p11loop $1 failed" >>"$LOG"
	# strace -f prefixes each line with the pid; the markers are p11loop's own writes to stderr.
	sed -n '/write(2, "p11loop: begin/,/write(2, "p11loop: end/p' "$t" | sed '1d;$d' |
		sed -E 's/^[0-9]+ +//; s/\(.*//' | grep -Ev '^(\+\+\+|---|<\.\.\.)' |
		awk -v n="$N" '!/^(send|sendto|sendmsg|sendmmsg|write|writev|recv|recvfrom|recvmsg|recvmmsg|read|readv|mmap|munmap|madvise|brk|mprotect)$/ { o++ }
			/^(send|sendto|sendmsg|sendmmsg|write|writev)$/ { s++ }
			/^(recv|recvfrom|recvmsg|recvmmsg|read|readv)$/ { r++ }
			/^(poll|ppoll|select|pselect6|epoll_wait|epoll_pwait)$/ { p++ }
			/^getpid$/ { g++ }
			END { printf "%.3f %.3f %.3f %.3f %.3f\n", o / n, s / n, r / n, p / n, g / n }'
}

for kind in getinfo getattr; do
	read -r o s r p g <<<"$(count_module "$kind")"
	note "module, $kind, per call: $s send, $r receive, $p poll, $g getpid, $o other"
	[ "$s" = 1.000 ] && [ "$r" = 1.000 ] && pass "the module makes one send and one receive per $kind call ($s, $r)" ||
		fail "the module makes one send and one receive per $kind call ($s sends, $r receives)"
	[ "$p" = 0.000 ] && [ "$g" = 0.000 ] && pass "the module neither polls nor calls getpid per $kind call" ||
		fail "the module neither polls nor calls getpid per $kind call ($p polls, $g getpids)"
	[ "$o" = 0.000 ] && pass "no other system call per $kind call" ||
		fail "no other system call per $kind call ($o per call)"
done

# imzad's main thread (the event loop; card workers are other threads) traced while a client makes
# n calls, for two n: the difference is the steady state, whatever the connection and HELLO cost.
imzad=$(cut -d' ' -f1 "$IMZA_STACK_DIR/pids/imzad")
count_imzad() { # count_imzad N -> "receives epoll_ctl epoll_wait" of imzad's loop during N calls
	local t=$WORK/imzad-$1.trace sp
	strace -p "$imzad" -e trace=read,readv,recvfrom,recvmsg,epoll_ctl,epoll_wait,epoll_pwait -o "$t" 2>"$t.err" &
	sp=$!
	for _ in $(seq 1 100); do grep -q attached "$t.err" && break; sleep 0.05; done
	host_env "$LOOP" "$IMZA_MODULE" getinfo "$1" 2>>"$LOG" || echo "## p11loop $1 failed" >>"$LOG"
	# Detached by pid once the client's EOF was read.
	sleep 0.2
	kill -INT "$sp"
	wait "$sp"
	echo "$(grep -cE '^(read|readv|recvfrom|recvmsg)\(' "$t") $(grep -c '^epoll_ctl(' "$t")" \
		"$(grep -cE '^epoll_p?wait\(' "$t")"
}
read -r a actl await <<<"$(count_imzad 100)"
read -r b bctl bwait <<<"$(count_imzad $((100 + N)))"
per=$(awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "%.3f", (b - a) / n }')
note "imzad's loop: $a receives for 100 calls, $b for $((100 + N)): $per per request"
awk -v p="$per" 'BEGIN { exit !(p > 0.99 && p <= 1.01) }' &&
	pass "imzad receives a whole request with one receive ($per per request)" ||
	fail "imzad receives a whole request with one receive ($per per request)"
# A lone application calling back to back is served in a new round at each call: no deferral, so no
# epoll_ctl to take its socket out of the loop and back, and one loop turn per call.
ctl=$(awk -v a="$actl" -v b="$bctl" -v n="$N" 'BEGIN { printf "%.3f", (b - a) / n }')
wt=$(awk -v a="$await" -v b="$bwait" -v n="$N" 'BEGIN { printf "%.3f", (b - a) / n }')
note "imzad's loop: $ctl epoll_ctl and $wt epoll_wait per request"
awk -v c="$ctl" -v w="$wt" 'BEGIN { exit !(c <= 0.01 && w <= 1.01) }' &&
	pass "a lone application's call costs imzad no epoll_ctl and one loop turn ($ctl, $wt per request)" ||
	fail "a lone application's call costs imzad no epoll_ctl and one loop turn ($ctl, $wt per request)"

# A peer that sends its HELLO and three requests in one write: imzad takes them with one receive and
# must answer every one (the socket says nothing more about those still in its buffer); then a request
# cut in three pieces, written apart.
cat >"$WORK/pipelined.py" <<'PY'
import os, socket, struct, sys, time
def frame(p): return struct.pack(">I", len(p)) + p
hello = frame(struct.pack(">IIIII", 0x494D5A41, 1, 0, 1, os.getpid()) + struct.pack(">I", 4) + b"pipe")
info = frame(struct.pack(">IB", 1, 1))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(os.environ["IMZA_SOCKET"])
def answers(n):
    got, buf = 0, b""
    try:
        while got < n:
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                buf = buf[4 + struct.unpack(">I", buf[:4])[0]:]
                got += 1
            if got < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except socket.timeout:
        pass
    return got
s.sendall(hello + info * 3)
a = answers(4)
for piece in (info[:2], info[2:6], info[6:]):
    s.sendall(piece)
    time.sleep(0.05)
b = answers(1)
print("answers=%d split=%d" % (a, b))
PY
out=$(python3 "$WORK/pipelined.py" 2>>"$LOG")
[ "$out" = "answers=4 split=1" ] && pass "imzad answers every request of a burst taken in one receive ($out)" ||
	fail "imzad answers every request of a burst taken in one receive ($out)"

done_testing
