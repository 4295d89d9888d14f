#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Slow clients for https-peers.sh: COUNT TLS connections to 127.0.0.1:PORT, each sending a request
head one byte a second, for SECONDS. A connection the server closes is opened again after a second.
Writes "ready" to READY once all are open the first time; prints how many connections were opened,
how many the server closed, and the longest time a connection lived (closed by the server, or still
open at the end)."""
import socket
import ssl
import sys
import threading
import time

port, count, seconds, ready = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
end = time.monotonic() + seconds
lock = threading.Lock()
stats = {"opened": 0, "closed": 0, "longest": 0.0, "first": 0}
head = b"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port + b"a" * 4096


def one():
    first = True
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            with lock:
                stats["opened"] += 1
                if first:
                    stats["first"] += 1
                    first = False
            with ctx.wrap_socket(raw, server_hostname="localhost") as c:
                for b in head:
                    if time.monotonic() >= end:
                        with lock:  # still open at the end: it lived this long
                            stats["longest"] = max(stats["longest"], time.monotonic() - t0)
                        return
                    c.sendall(bytes([b]))
                    time.sleep(1)
        except (OSError, ssl.SSLError):
            pass
        if time.monotonic() < end:
            with lock:
                stats["closed"] += 1
                stats["longest"] = max(stats["longest"], time.monotonic() - t0)
            time.sleep(1)


threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
for t in threads:
    t.start()
while stats["first"] < count and time.monotonic() < end:
    time.sleep(0.05)
with open(ready, "w") as f:
    f.write("ready\n")
for t in threads:
    t.join(max(0.0, end - time.monotonic()) + 2)
print("opened %d closed %d longest %.1f" % (stats["opened"], stats["closed"], stats["longest"]))
