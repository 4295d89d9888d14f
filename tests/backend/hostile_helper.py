#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A hostile helper in imza-backend's place (imzad --backend THIS), for backend-hostile.sh.

imzad starts it as `THIS --module PATH` with a socketpair on its standard input. It runs the real
imza-backend ($IMZA_HOSTILE_BACKEND) over the real module ($IMZA_HOSTILE_MODULE) and relays each request
to it, and answers imzad badly, as the module's file name says (m-MODE.so, a link to the real module):

  pass       every answer as the real helper gave it
  oversized  a header announcing 4 GiB, then silence
  huge       a valid header announcing a frame of the cap (256 KiB), then silence
  truncated  half an answer, then the end (EOF)
  wrong-id   the answer of another call (its call id changed)
  garbage    by turns: a frame of random bytes; the answer, then random bytes that nobody asked for
  drip       the answer, one byte every 300 ms
  counts     an attribute value larger than the buffer imzad gave for it, then a slot list that claims
             2^31 slots (the real answers up to those calls)

Each start is counted in $IMZA_HOSTILE_DIR/MODE.n. Test code: it trusts its environment."""
import os
import socket
import struct
import subprocess
import sys
import time

CALL_GETSLOTLIST = 2
CALL_GETSLOTINFO = 3
CALL_GETATTRIBUTEVALUE = 23


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b


def recv_frame(s):
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    return recv_exact(s, n)


def frame(p):
    return struct.pack(">I", len(p)) + p


def silence():
    while True:
        time.sleep(3600)


def bigger_value(ans):
    """C_GetAttributeValue's answer with its first value claiming more bytes than imzad's buffer:
    id u32, rv u64, state u8, count u32, then type u64, entry state u8 (2: a value), bytes (u32 length)."""
    if len(ans) < 30 or ans[12] != 2 or ans[25] != 2:
        return None
    (n,) = struct.unpack(">I", ans[26:30])
    extra = 4096
    return ans[:26] + struct.pack(">I", n + extra) + ans[30 : 30 + n] + b"\x00" * extra + ans[30 + n :]


def main():
    module = sys.argv[sys.argv.index("--module") + 1]
    mode = os.path.basename(module)[2:-3]
    counter = os.path.join(os.environ["IMZA_HOSTILE_DIR"], mode + ".n")
    try:
        n = int(open(counter).read())
    except (OSError, ValueError):
        n = 0
    with open(counter, "w") as f:
        f.write(str(n + 1))
    if mode == "garbage":
        mode = ("garbage", "unasked")[n % 2]

    imzad = socket.socket(fileno=0)
    mine, theirs = socket.socketpair()
    subprocess.Popen(
        [os.environ["IMZA_HOSTILE_BACKEND"], "--module", os.environ["IMZA_HOSTILE_MODULE"]],
        stdin=theirs,
        stdout=subprocess.DEVNULL,
    )
    theirs.close()
    while True:
        req = recv_frame(imzad)
        (call,) = struct.unpack(">I", req[:4])
        mine.sendall(frame(req))
        ans = recv_frame(mine)
        out = frame(ans)
        if mode == "oversized":
            imzad.sendall(b"\xff\xff\xff\xff")
            silence()
        elif mode == "huge":
            imzad.sendall(struct.pack(">I", 256 * 1024))
            silence()
        elif mode == "truncated":
            imzad.sendall(out[: 4 + len(ans) // 2])
            sys.exit(0)
        elif mode == "wrong-id":
            other = CALL_GETSLOTINFO if call == CALL_GETSLOTLIST else CALL_GETSLOTLIST
            out = frame(struct.pack(">I", other) + ans[4:])
        elif mode == "garbage":
            out = frame(os.urandom(64))
        elif mode == "unasked":
            out += os.urandom(32)
        elif mode == "drip":
            for i in range(len(out)):
                imzad.sendall(out[i : i + 1])
                time.sleep(0.3)
            continue
        elif mode == "counts" and call == CALL_GETATTRIBUTEVALUE and bigger_value(ans):
            out = frame(bigger_value(ans))
            mode = "slots-2g"
        elif mode == "slots-2g" and call == CALL_GETSLOTLIST:
            out = frame(struct.pack(">IQBI", call, 0, 2, 0x80000000) + b"\x00" * 16)
        imzad.sendall(out)


main()
