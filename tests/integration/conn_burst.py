#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A burst for https-peers.sh: with imzad stopped (SIGSTOP, by the caller), BEFORE silent TCP connections
to 127.0.0.1:PORT, then the command after "--" (a real client, e.g. curl) started, then AFTER silent ones
more; all of them wait in the listen backlog. Then imzad goes on (SIGCONT to PID), accepts them all in
one go, and the client must be served. Prints the client's exit status and output; keeps the silent
connections open until the client is done; SIGCONT is sent whatever happens."""
import os
import signal
import socket
import subprocess
import sys
import time

port, before, after, pid = (int(a) for a in sys.argv[1:5])
cmd = sys.argv[sys.argv.index("--") + 1:]
socks, client = [], None


def silent(n):
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(s)


try:
    silent(before)
    client = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # The client's connection is queued once the kernel shows one more than the silent ones.
    time.sleep(0.5)
    silent(after)
finally:
    os.kill(pid, signal.SIGCONT)
if client is None:
    sys.exit(2)
out, _ = client.communicate(timeout=30)
print("client %d: %s" % (client.returncode, out.decode(errors="replace").strip()))
for s in socks:
    s.close()
sys.exit(0 if client.returncode == 0 else 1)
