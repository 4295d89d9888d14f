#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile and broken peers against imzad: each may lose its own connection, none may stop the daemon
from serving a well-behaved client. Prints TAP lines (numbered by the caller's tap.sh through stdout)."""
import os
import socket
import struct
import sys
import time

SOCK = os.environ["IMZA_SOCKET"]
MAGIC = 0x494D5A41
C_GETINFO = 1
C_SIGNINIT = 41

results = []


def report(ok, what):
    results.append((ok, what))
    print(("ok" if ok else "not ok") + " - " + what, flush=True)


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def hello(name=b"peer-test"):
    return frame(struct.pack(">IIIII", MAGIC, 1, 0, 1, os.getpid()) + struct.pack(">I", len(name)) + name)


def connect(do_hello=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(SOCK)
    if do_hello:
        s.sendall(hello())
        read_frame(s)
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(s):
    (n,) = struct.unpack(">I", read_exact(s, 4))
    return read_exact(s, n)


def get_info(s):
    s.sendall(frame(struct.pack(">IB", C_GETINFO, 1)))
    resp = read_frame(s)
    cid, rv = struct.unpack(">IQ", resp[:12])
    return cid == C_GETINFO and rv == 0


def closed_by_daemon(s, timeout=5.0):
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def good_client_works(what):
    try:
        s = connect()
        ok = get_info(s)
        s.close()
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        print("# good client: %r" % (e,))
        ok = False
    report(ok, "a well-behaved client is served after " + what)


# A long-lived good client stays connected through all of it.
keeper = connect()

# 1. A frame over the 256 KiB cap, announced before any byte of it.
s = connect(do_hello=False)
s.sendall(struct.pack(">I", 0x7FFFFFFF))
report(closed_by_daemon(s), "a frame header over the cap closes that connection")
s.close()
good_client_works("an oversized frame")

# 2. The same after a good HELLO.
s = connect()
s.sendall(struct.pack(">I", 256 * 1024 + 1))
report(closed_by_daemon(s), "an oversized frame after HELLO closes that connection")
s.close()

# 3. Garbage instead of HELLO.
s = connect(do_hello=False)
s.sendall(frame(os.urandom(64)))
report(closed_by_daemon(s), "garbage instead of HELLO closes that connection")
s.close()

# 4. Truncated frame, then the peer goes away.
s = connect()
s.sendall(struct.pack(">I", 100) + b"\x00" * 10)
s.close()
good_client_works("a truncated frame")

# 5. An unknown call id: answered, not fatal, for this connection alone.
s = connect()
s.sendall(frame(struct.pack(">I", 0x0BAD) + b"\x00" * 8))
resp = read_frame(s)
cid, rv = struct.unpack(">IQ", resp[:12])
report(cid == 0x0BAD and rv == 0x54, "an unknown call id is answered CKR_FUNCTION_NOT_SUPPORTED")
report(get_info(s), "that connection still works afterwards")
s.close()

# 6. Garbage after HELLO: a known call with malformed arguments.
for i in range(20):
    s = connect()
    s.sendall(frame(struct.pack(">I", C_SIGNINIT) + os.urandom(i * 7 + 1)))
    try:
        resp = read_frame(s)
        # A request that happens to decode gets an answer: fine, as long as it is well-formed.
        ok = len(resp) >= 12
    except (EOFError, ConnectionResetError, socket.timeout):
        ok = True
    if not ok:
        break
    s.close()
report(ok, "20 malformed requests each got an answer or a closed connection")
good_client_works("malformed requests")

# 7. A client that sends requests and never reads the replies.
hog = connect()
hog.setblocking(False)
sent = 0
req = frame(struct.pack(">IB", C_GETINFO, 1))
deadline = time.time() + 5
while time.time() < deadline:
    try:
        hog.send(req)
        sent += 1
    except BlockingIOError:
        break
print("# the hog got %d requests in before the daemon stopped reading" % sent)
t0 = time.time()
ok = get_info(keeper)
report(ok and time.time() - t0 < 1.0, "while one client does not read, another is served at once")
hog.close()
good_client_works("a client that stopped reading")

report(get_info(keeper), "the first client's connection survived all of it")
keeper.close()
# Each finding is a "not ok" line above; the exit status only says the script ran to its end.
sys.exit(0)
