#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every key size PIV defines, through imza-pkcs11.so with ctypes, on a card made with
--alg 9a=rsa4096,9c=rsa3072,9d=rsa1024,9e=ec384: each public key's CKA_MODULUS_BITS or CKA_EC_PARAMS is
its certificate's; C_Sign with a NULL buffer gives the signature's exact size (512 for RSA-4096) and
consumes nothing; the signature that follows verifies with openssl against the certificate; the
legacy RSA-1024 key (9D, key management) decrypts what openssl encrypted to it.
Prints TAP-style lines ("ok - ..." / "not ok - ..."); run_checks in tap.sh counts them."""
import ctypes
import os
import subprocess

import p11_ctypes
from p11_ctypes import UL, P, Attr, Mech, report, ref

CKF_SERIAL_SESSION = 4
CKU_USER, CKU_CONTEXT_SPECIFIC = 1, 2
CKA_CLASS, CKA_ID, CKA_MODULUS_BITS, CKA_EC_PARAMS, CKA_ALWAYS_AUTHENTICATE = 0x0, 0x102, 0x121, 0x180, 0x202
CKA_SIGN, CKA_DECRYPT = 0x108, 0x105
CKO_PUBLIC_KEY, CKO_PRIVATE_KEY = 2, 3
CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA384 = 0x1, 0x40, 0x1045
CKR_OK = 0
SECP384R1 = bytes.fromhex("06052b81040022")
card = os.environ["IMZA_CARD_DIR"]
work = os.environ["WORK"]


pin = os.environ["IMZA_PIN"].encode()
SIGS = {
    "C_Initialize": [P], "C_Finalize": [P], "C_GetSlotList": [ctypes.c_ubyte, P, P],
    "C_OpenSession": [UL, UL, P, P, P], "C_CloseSession": [UL], "C_Login": [UL, UL, P, UL],
    "C_GetAttributeValue": [UL, UL, P, UL], "C_FindObjectsInit": [UL, P, UL],
    "C_FindObjects": [UL, P, UL, P], "C_FindObjectsFinal": [UL], "C_SignInit": [UL, P, UL],
    "C_Sign": [UL, P, UL, P, P], "C_DecryptInit": [UL, P, UL], "C_Decrypt": [UL, P, UL, P, P],
}
m = p11_ctypes.load(SIGS)


def find(s, cls, ident):
    return p11_ctypes.find(m, s, cls, ident)


def attr(s, o, typ):
    a = Attr(typ, None, 0)
    if m.C_GetAttributeValue(s, o, ref(a), 1) != CKR_OK or a.ulValueLen > 4096:
        return None
    buf = ctypes.create_string_buffer(a.ulValueLen)
    a.pValue = ctypes.cast(buf, P)
    if m.C_GetAttributeValue(s, o, ref(a), 1) != CKR_OK:
        return None
    return buf.raw[: a.ulValueLen]


def ulong(b):
    return int.from_bytes(b, "little") if b is not None and len(b) == ctypes.sizeof(UL) else None


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True)


def pubkey(slot):
    out = os.path.join(work, slot + ".pub.pem")
    openssl("x509", "-inform", "DER", "-in", os.path.join(card, slot + ".crt.der"), "-pubkey", "-noout",
            "-out", out)
    return out


assert m.C_Initialize(None) == CKR_OK
n = UL(0)
m.C_GetSlotList(1, None, ref(n))
slots = (UL * max(n.value, 1))()
m.C_GetSlotList(1, ref(slots), ref(n))
if n.value < 1:
    report(False, "a token is present")
    raise SystemExit(0)
s = UL(0)
assert m.C_OpenSession(slots[0], CKF_SERIAL_SESSION, None, None, ref(s)) == CKR_OK
s = s.value
report(m.C_Login(s, CKU_USER, pin, len(pin)) == CKR_OK, "C_Login")

data = os.urandom(1000)
data_path = os.path.join(work, "keysizes.data")
with open(data_path, "wb") as f:
    f.write(data)

# slot, CKA_ID, what, RSA bits or None for P-384, whether it signs
keys = [("9a", 1, "9A RSA-4096", 4096, True), ("9c", 2, "9C RSA-3072", 3072, True),
        ("9d", 3, "9D RSA-1024 (legacy)", 1024, False), ("9e", 4, "9E EC P-384", None, True)]
for slot, ident, what, bits, signs in keys:
    pub, priv = find(s, CKO_PUBLIC_KEY, ident), find(s, CKO_PRIVATE_KEY, ident)
    report(pub != 0 and priv != 0, "%s: public and private key listed" % what)
    if not pub or not priv:
        continue
    if bits:
        got = ulong(attr(s, pub, CKA_MODULUS_BITS))
        report(got == bits, "%s: CKA_MODULUS_BITS %s" % (what, got))
    else:
        got = attr(s, pub, CKA_EC_PARAMS)
        report(got == SECP384R1, "%s: CKA_EC_PARAMS is secp384r1's OID (%s)" % (what, got.hex() if got else got))
    report((attr(s, priv, CKA_SIGN) == b"\x01") == signs, "%s: CKA_SIGN %s as its keyUsage says" % (what, signs))
    if not signs:
        continue
    # C_Sign: a NULL buffer asks the size and keeps the operation; then the signature itself.
    mech = Mech(CKM_SHA256_RSA_PKCS if bits else CKM_ECDSA_SHA384, None, 0)
    want = bits // 8 if bits else 96
    report(m.C_SignInit(s, ref(mech), priv) == CKR_OK, "%s: C_SignInit" % what)
    if attr(s, priv, CKA_ALWAYS_AUTHENTICATE) == b"\x01":
        report(m.C_Login(s, CKU_CONTEXT_SPECIFIC, pin, len(pin)) == CKR_OK, "%s: context-specific login" % what)
    sl = UL(0)
    rv = m.C_Sign(s, data, len(data), None, ref(sl))
    report(rv == CKR_OK and sl.value == want, "%s: C_Sign with a NULL buffer says %d (rv %#x, %d)"
           % (what, want, rv, sl.value))
    buf = ctypes.create_string_buffer(max(sl.value, 1))
    rv = m.C_Sign(s, data, len(data), buf, ref(sl))
    report(rv == CKR_OK and sl.value == want, "%s: C_Sign after the length query (rv %#x, %d bytes)"
           % (what, rv, sl.value))
    sig_path = os.path.join(work, "keysizes-%s.sig" % slot)
    sig = buf.raw[: sl.value]
    if not bits:
        # PKCS#11's r || s to the DER openssl reads.
        r_, s_ = (int.from_bytes(sig[i:i + 48], "big") for i in (0, 48))

        def der_int(v):
            b = v.to_bytes((v.bit_length() + 8) // 8, "big")
            return b"\x02" + bytes([len(b)]) + b
        body = der_int(r_) + der_int(s_)
        sig = b"\x30" + bytes([len(body)]) + body
    with open(sig_path, "wb") as f:
        f.write(sig)
    v = openssl("dgst", "-sha256" if bits else "-sha384", "-verify", pubkey(slot), "-signature", sig_path,
                data_path)
    report(v.returncode == 0, "%s: the signature verifies with openssl" % what)
    v = openssl("dgst", "-sha256" if bits else "-sha384", "-verify", pubkey(slot), "-signature", sig_path,
                pubkey(slot))
    report(v.returncode != 0, "%s: and not over other data" % what)

# The legacy RSA-1024 key decrypts (its certificate allows keyEncipherment).
priv = find(s, CKO_PRIVATE_KEY, 3)
secret = b"imza legacy secret"
enc = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", pubkey("9d"), data=secret)
mech = Mech(CKM_RSA_PKCS, None, 0)
ok = enc.returncode == 0 and len(enc.stdout) == 128 and m.C_DecryptInit(s, ref(mech), priv) == CKR_OK
out, ol = ctypes.create_string_buffer(128), UL(128)
ok = ok and m.C_Decrypt(s, enc.stdout, len(enc.stdout), out, ref(ol)) == CKR_OK
report(ok and out.raw[: ol.value] == secret, "9D RSA-1024 (legacy): decrypts what openssl encrypted")

m.C_CloseSession(s)
m.C_Finalize(None)
