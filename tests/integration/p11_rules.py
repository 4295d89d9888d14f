#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PKCS#11 rules through imza-pkcs11.so, checked call by call with ctypes: C_GetAttributeValue per
2.40 section 5.2/5.7 (sensitive, invalid type, too small: CK_UNAVAILABLE_INFORMATION per attribute,
the others still answered), multi-part signing (SignUpdate/SignFinal with a length query), and
operation state errors. Signatures are verified with openssl. Prints TAP-style lines."""
import ctypes
import os
import subprocess
import tempfile

UL = ctypes.c_ulong
UNAVAILABLE = (1 << (8 * ctypes.sizeof(UL))) - 1
CKR_OK, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID = 0, 0x11, 0x12
CKR_BUFFER_TOO_SMALL, CKR_OPERATION_ACTIVE, CKR_OPERATION_NOT_INITIALIZED = 0x150, 0x90, 0x91
CKR_USER_NOT_LOGGED_IN, CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_INVALID = 0x101, 0x63, 0x70
CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_OBJECT_HANDLE_INVALID = 0x68, 0x82
CKA_CLASS, CKA_LABEL, CKA_ID, CKA_VALUE, CKA_MODULUS, CKA_PRIVATE_EXPONENT = 0x0, 0x3, 0x102, 0x11, 0x120, 0x123
CKO_CERTIFICATE, CKO_PRIVATE_KEY = 1, 3
CKM_SHA256_RSA_PKCS, CKM_ECDSA, CKM_ECDSA_SHA256, CKM_AES_CBC = 0x40, 0x1041, 0x1044, 0x1082
CKU_USER, CKU_CONTEXT_SPECIFIC = 1, 2


class Attr(ctypes.Structure):
    _fields_ = [("type", UL), ("pValue", ctypes.c_void_p), ("ulValueLen", UL)]


class Mech(ctypes.Structure):
    _fields_ = [("mechanism", UL), ("pParameter", ctypes.c_void_p), ("ulParameterLen", UL)]


m = ctypes.CDLL(os.environ["IMZA_MODULE"])
card = os.environ["IMZA_CARD_DIR"]
pin = os.environ["IMZA_PIN"].encode()
work = tempfile.mkdtemp(prefix="imza-rules.")


def report(ok, what):
    print(("ok" if ok else "not ok") + " - " + what, flush=True)


def find(s, cls, ident):
    c = UL(cls)
    i = ctypes.c_ubyte(ident)
    t = (Attr * 2)(Attr(CKA_CLASS, ctypes.cast(ctypes.byref(c), ctypes.c_void_p), ctypes.sizeof(c)),
                   Attr(CKA_ID, ctypes.cast(ctypes.byref(i), ctypes.c_void_p), 1))
    m.C_FindObjectsInit(s, t, 2)
    o, n = UL(0), UL(0)
    m.C_FindObjects(s, ctypes.byref(o), 1, ctypes.byref(n))
    m.C_FindObjectsFinal(s)
    return o.value if n.value == 1 else 0


def verify(slot, digest, data, sig, raw_ec=False):
    pub = os.path.join(work, slot + ".pub")
    subprocess.run(["openssl", "x509", "-inform", "DER", "-in", os.path.join(card, slot + ".crt.der"), "-pubkey",
                    "-noout", "-out", pub], check=True, env=clean_env())
    if raw_ec:
        half = len(sig) // 2
        r, s_ = int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big")
        sig = der_sig(r, s_)
    with open(os.path.join(work, "data"), "wb") as f:
        f.write(data)
    with open(os.path.join(work, "sig"), "wb") as f:
        f.write(sig)
    p = subprocess.run(["openssl", "dgst", "-" + digest, "-verify", pub, "-signature", os.path.join(work, "sig"),
                        os.path.join(work, "data")], capture_output=True, env=clean_env())
    return p.returncode == 0


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(b)]) + b


def der_sig(r, s_):
    body = der_int(r) + der_int(s_)
    return b"\x30" + bytes([len(body)]) + body


def clean_env():
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


m.C_Initialize(None)
slots = (UL * 8)()
n = UL(8)
m.C_GetSlotList(1, slots, ctypes.byref(n))
s = UL(0)
m.C_OpenSession(slots[0], 4, None, None, ctypes.byref(s))
s = s.value
m.C_Login(s, CKU_USER, pin, len(pin))
key9c, key9a, cert9c = find(s, CKO_PRIVATE_KEY, 2), find(s, CKO_PRIVATE_KEY, 1), find(s, CKO_CERTIFICATE, 2)
key9d = find(s, CKO_PRIVATE_KEY, 3)
report(key9c and key9a and cert9c and key9d, "found the keys and a certificate")

# C_GetAttributeValue: each attribute answered on its own, the worst problem returned.
lab, small = ctypes.create_string_buffer(64), ctypes.create_string_buffer(4)
t = (Attr * 4)(Attr(CKA_PRIVATE_EXPONENT, ctypes.cast(ctypes.create_string_buffer(512), ctypes.c_void_p), 512),
               Attr(CKA_LABEL, ctypes.cast(lab, ctypes.c_void_p), 64),
               Attr(CKA_MODULUS, ctypes.cast(small, ctypes.c_void_p), 4),
               Attr(0x7FFF0001, None, 0))
rv = m.C_GetAttributeValue(s, key9c, t, 4)
report(rv in (CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_BUFFER_TOO_SMALL),
       "mixed template: one of the three errors (rv 0x%x)" % rv)
report(t[0].ulValueLen == UNAVAILABLE, "sensitive attribute: CK_UNAVAILABLE_INFORMATION")
report(t[1].ulValueLen == len(b"SIGN key") and lab.value == b"SIGN key", "the label is still returned beside them")
report(t[2].ulValueLen == UNAVAILABLE, "too small a buffer: CK_UNAVAILABLE_INFORMATION")
report(t[3].ulValueLen == UNAVAILABLE, "unknown attribute type: CK_UNAVAILABLE_INFORMATION")
t = (Attr * 1)(Attr(CKA_PRIVATE_EXPONENT, None, 0))
report(m.C_GetAttributeValue(s, key9c, t, 1) == CKR_ATTRIBUTE_SENSITIVE, "sensitive alone: CKR_ATTRIBUTE_SENSITIVE")
t = (Attr * 2)(Attr(0x7FFF0001, None, 0), Attr(CKA_VALUE, None, 0))
rv = m.C_GetAttributeValue(s, cert9c, t, 2)
report(rv == CKR_ATTRIBUTE_TYPE_INVALID and 0 < t[1].ulValueLen < 4096, "invalid type alone: CKR_ATTRIBUTE_TYPE_INVALID, "
       "and the certificate's length is given (%d)" % t[1].ulValueLen)
need = t[1].ulValueLen
small = ctypes.create_string_buffer(need - 1)
t = (Attr * 1)(Attr(CKA_VALUE, ctypes.cast(small, ctypes.c_void_p), need - 1))
report(m.C_GetAttributeValue(s, cert9c, t, 1) == CKR_BUFFER_TOO_SMALL and t[0].ulValueLen == UNAVAILABLE,
       "one byte short: CKR_BUFFER_TOO_SMALL and CK_UNAVAILABLE_INFORMATION")
full = ctypes.create_string_buffer(need)
t = (Attr * 1)(Attr(CKA_VALUE, ctypes.cast(full, ctypes.c_void_p), need))
rv = m.C_GetAttributeValue(s, cert9c, t, 1)
with open(os.path.join(card, "9c.crt.der"), "rb") as f:
    report(rv == CKR_OK and full.raw == f.read(), "exact size: the certificate DER as on the card")
report(m.C_GetAttributeValue(s, 0xFFFF, t, 1) == CKR_OBJECT_HANDLE_INVALID, "unknown handle: CKR_OBJECT_HANDLE_INVALID")

# Multi-part signing: SHA256-RSA-PKCS on the PIN-always 9C key, ECDSA-SHA256 and raw ECDSA on 9A.
parts = [b"Basvuru ", b"Imzalama ", b"Islemi " * 300]
data = b"".join(parts)
for name, key, mech, slot, raw in (("SHA256-RSA-PKCS on 9C", key9c, CKM_SHA256_RSA_PKCS, "9c", False),
                                    ("ECDSA-SHA256 on 9A", key9a, CKM_ECDSA_SHA256, "9a", True)):
    mc = Mech(mech, None, 0)
    ok = m.C_SignInit(s, ctypes.byref(mc), key) == CKR_OK
    if slot == "9c":
        ok = ok and m.C_Login(s, CKU_CONTEXT_SPECIFIC, pin, len(pin)) == CKR_OK
    for p in parts:
        ok = ok and m.C_SignUpdate(s, p, len(p)) == CKR_OK
    report(ok, name + ": SignInit and three SignUpdate")
    report(m.C_Sign(s, b"x", 1, None, ctypes.byref(UL(0))) == CKR_OPERATION_ACTIVE,
           name + ": C_Sign in the middle of a multi-part operation is CKR_OPERATION_ACTIVE")
    ln = UL(0)
    rv = m.C_SignFinal(s, None, ctypes.byref(ln))
    report(rv == CKR_OK and ln.value in (64, 256), name + ": SignFinal length query (%d)" % ln.value)
    short = UL(ln.value - 1)
    buf = ctypes.create_string_buffer(ln.value)
    report(m.C_SignFinal(s, buf, ctypes.byref(short)) == CKR_BUFFER_TOO_SMALL and short.value == ln.value,
           name + ": a short buffer is CKR_BUFFER_TOO_SMALL with the length")
    rv = m.C_SignFinal(s, buf, ctypes.byref(ln))
    report(rv == CKR_OK and verify(slot, "sha256", data, buf.raw[:ln.value], raw), name + ": the signature verifies")
    report(m.C_SignFinal(s, buf, ctypes.byref(ln)) == CKR_OPERATION_NOT_INITIALIZED, name + ": the operation is over")

# Raw ECDSA over a hash given in parts is collected, then signed as one input.
import hashlib
h = hashlib.sha256(data).digest()
mc = Mech(CKM_ECDSA, None, 0)
ok = m.C_SignInit(s, ctypes.byref(mc), key9a) == CKR_OK and m.C_SignUpdate(s, h[:10], 10) == CKR_OK
ok = ok and m.C_SignUpdate(s, h[10:], 22) == CKR_OK
ln = UL(64)
buf = ctypes.create_string_buffer(64)
ok = ok and m.C_SignFinal(s, buf, ctypes.byref(ln)) == CKR_OK
report(ok and verify("9a", "sha256", data, buf.raw[:64], True), "raw ECDSA in parts verifies")

# Refusals at SignInit.
mc = Mech(CKM_ECDSA, None, 0)
report(m.C_SignInit(s, ctypes.byref(mc), key9c) == CKR_KEY_TYPE_INCONSISTENT, "ECDSA with an RSA key: CKR_KEY_TYPE_INCONSISTENT")
mc = Mech(CKM_AES_CBC, None, 0)
report(m.C_SignInit(s, ctypes.byref(mc), key9c) == CKR_MECHANISM_INVALID, "an unknown mechanism: CKR_MECHANISM_INVALID")
mc = Mech(CKM_SHA256_RSA_PKCS, None, 0)
report(m.C_SignInit(s, ctypes.byref(mc), key9d) == CKR_KEY_FUNCTION_NOT_PERMITTED,
       "signing with the key-management key: CKR_KEY_FUNCTION_NOT_PERMITTED")
# The PIN-always key without its context login.
report(m.C_SignInit(s, ctypes.byref(mc), key9c) == CKR_OK and
       m.C_Sign(s, b"x", 1, ctypes.create_string_buffer(256), ctypes.byref(UL(256))) == CKR_USER_NOT_LOGGED_IN,
       "the PIN-always key without CKU_CONTEXT_SPECIFIC: CKR_USER_NOT_LOGGED_IN")
m.C_Logout(s)
mc = Mech(CKM_ECDSA_SHA256, None, 0)
report(m.C_SignInit(s, ctypes.byref(mc), key9a) == CKR_USER_NOT_LOGGED_IN, "after C_Logout: CKR_USER_NOT_LOGGED_IN")
m.C_Finalize(None)
