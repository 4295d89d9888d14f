# SPDX-License-Identifier: LGPL-2.1-or-later
"""Rewrites the token blobs in an imzad card cache (state_dir/cache.sqlite) as a damaged or hostile
file could hold them: the RSA decryption key (CKA_DECRYPT) gets another key size, its PIN need and
privacy are dropped (so that a client reaches it without a login) and its label becomes TAMPERED.

Usage: cache_tamper.py CACHE_FILE KEY_SIZE
The blob layout is daemon/store/token-store.c's; this script writes blobs that are well-formed in every
other respect, so only the decoder's bounds can refuse them."""
import sqlite3
import struct
import sys

CKO_PRIVATE_KEY, CKK_RSA = 3, 0
CKA_PRIVATE, CKA_LABEL, CKA_DECRYPT = 0x2, 0x3, 0x105


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def raw(self, n):
        v = self.b[self.i:self.i + n]
        assert len(v) == n, "truncated blob"
        self.i += n
        return v

    def u8(self):
        return self.raw(1)[0]

    def u32(self):
        return struct.unpack(">I", self.raw(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.raw(8))[0]

    def bytes(self):
        return self.raw(self.u32())


def tamper(blob, key_size):
    r = Reader(blob)
    out = bytearray()
    head = r.raw(4 + 1 + 1)
    assert head[:4] == b"IMZT", head
    out += head + r.raw(head[5])
    for _ in range(2):  # label, serial
        v = r.bytes()
        out += struct.pack(">I", len(v)) + v
    out += r.raw(16) + r.raw(4) + r.raw(4)
    nobjs = r.u32()
    out += struct.pack(">I", nobjs)
    hits = 0
    for _ in range(nobjs):
        cls, priv, ktype, ksize = r.u64(), r.u8(), r.u64(), r.u64()
        alg, ref, flags = r.u8(), r.u8(), r.u8()
        attrs = [(r.u64(), r.bytes()) for _ in range(r.u32())]
        if cls == CKO_PRIVATE_KEY and ktype == CKK_RSA and any(t == CKA_DECRYPT and v == b"\x01" for t, v in attrs):
            hits += 1
            priv, ksize, flags = 0, key_size, 0
            attrs = [(t, b"TAMPERED" if t == CKA_LABEL else b"\x00" if t == CKA_PRIVATE else v) for t, v in attrs]
        out += struct.pack(">QBQQBBBI", cls, priv, ktype, ksize, alg, ref, flags, len(attrs))
        for t, v in attrs:
            out += struct.pack(">QI", t, len(v)) + v
    # A module token's mechanisms (none for a PIV card), copied as they are.
    nmechs = r.u32()
    out += struct.pack(">I", nmechs) + r.raw(nmechs * 4 * 8)
    assert r.i == len(blob), "trailing bytes"
    return bytes(out), hits


def main():
    db = sqlite3.connect(sys.argv[1])
    n = 0
    for driver, cid, blob in db.execute("SELECT driver, id, token FROM cards").fetchall():
        new, hits = tamper(blob, int(sys.argv[2]))
        db.execute("UPDATE cards SET token = ? WHERE driver = ? AND id = ?", (new, driver, cid))
        n += hits
    db.commit()
    print("tampered %d key(s)" % n)
    return 0 if n > 0 else 1


sys.exit(main())
