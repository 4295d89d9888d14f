#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ECDH through imza-pkcs11.so with ctypes (CKM_ECDH1_DERIVE), on a card made with --alg 9d=ec256,9e=ec384 (9A EC P-256 and 9C RSA-2048 as the generator makes them):
the 9D key (keyAgreement) derives with an openssl-made peer key, and the secret read back as a session
object equals what openssl derives on its own side (CKD_NULL, a shorter CKA_VALUE_LEN, the X9.63 KDF with
SHA-256 and shared data). Every refusal comes before the card is asked: a point off the curve, a point of
another curve, a key without keyAgreement, an RSA key, a token object, a bad template. The session
objects: sensitive when asked, found by C_FindObjects from the application's other sessions, gone with
C_DestroyObject or their session, at most 32 an application, invisible to another application.
Prints TAP-style lines ("ok - ..." / "not ok - ..."); run_checks in tap.sh counts them."""
import ctypes
import os
import subprocess
import sys

import p11_ctypes
from p11_ctypes import UL, P, Attr, Mech, report, ref, expect

CKF_SERIAL_SESSION, CKF_RW_SESSION = 4, 2
CKU_USER = 1
CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_VALUE, CKA_KEY_TYPE = 0x0, 0x1, 0x2, 0x3, 0x11, 0x100
CKA_ID, CKA_SENSITIVE, CKA_DERIVE, CKA_VALUE_LEN, CKA_EXTRACTABLE, CKA_ENCRYPT = 0x102, 0x103, 0x10C, 0x161, 0x162, 0x104
CKA_MODIFIABLE = 0x170
CKO_SECRET_KEY, CKO_PRIVATE_KEY = 4, 3
CKK_GENERIC_SECRET, CKK_AES, CKK_DES3 = 0x10, 0x1F, 0x15
CKM_ECDH1_DERIVE, CKM_SHA256 = 0x1050, 0x250
CKD_NULL, CKD_SHA256_KDF = 1, 6
CKF_DERIVE = 0x80000
CKR = {"OK": 0, "ARGUMENTS_BAD": 7, "ATTRIBUTE_SENSITIVE": 0x11, "ATTRIBUTE_TYPE_INVALID": 0x12,
       "ATTRIBUTE_VALUE_INVALID": 0x13, "DEVICE_MEMORY": 0x31, "KEY_HANDLE_INVALID": 0x60,
       "KEY_TYPE_INCONSISTENT": 0x63, "KEY_FUNCTION_NOT_PERMITTED": 0x68, "MECHANISM_INVALID": 0x70,
       "MECHANISM_PARAM_INVALID": 0x71, "OBJECT_HANDLE_INVALID": 0x82, "SESSION_READ_ONLY": 0xB5,
       "TEMPLATE_INCOMPLETE": 0xD0, "TEMPLATE_INCONSISTENT": 0xD1, "USER_NOT_LOGGED_IN": 0x101}
card = os.environ["IMZA_CARD_DIR"]
work = os.environ["WORK"]
pin = os.environ["IMZA_PIN"].encode()


class EcdhParams(ctypes.Structure):
    _fields_ = [("kdf", UL), ("ulSharedDataLen", UL), ("pSharedData", P), ("ulPublicDataLen", UL),
                ("pPublicData", P)]


class MechInfo(ctypes.Structure):
    _fields_ = [("min", UL), ("max", UL), ("flags", UL)]


SIGS = {
    "C_Initialize": [P], "C_Finalize": [P], "C_GetSlotList": [ctypes.c_ubyte, P, P],
    "C_OpenSession": [UL, UL, P, P, P], "C_CloseSession": [UL], "C_Login": [UL, UL, P, UL],
    "C_GetAttributeValue": [UL, UL, P, UL], "C_FindObjectsInit": [UL, P, UL],
    "C_FindObjects": [UL, P, UL, P], "C_FindObjectsFinal": [UL], "C_DeriveKey": [UL, P, UL, P, UL, P],
    "C_DestroyObject": [UL, UL], "C_GetMechanismInfo": [UL, UL, P], "C_GetMechanismList": [UL, P, P],
}
m = p11_ctypes.load(SIGS)


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode(errors="replace"))
    return r


def ga85():
    """GENERAL AUTHENTICATE commands to 9D (alg 11) in the card's log so far."""
    with open(os.path.join(card, "apdu.log")) as f:
        return sum(1 for line in f if line.startswith("> 0087119D"))


# The peer: an openssl P-256 key; its point, and the secrets openssl derives with the card's 9D public key.
peer = os.path.join(work, "peer.pem")
openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", peer)
spki = openssl("pkey", "-in", peer, "-pubout", "-outform", "DER").stdout
point = spki[-65:]
openssl("x509", "-inform", "DER", "-in", os.path.join(card, "9d.crt.der"), "-pubkey", "-noout",
        "-out", os.path.join(work, "9d.pub"))
z = openssl("pkeyutl", "-derive", "-inkey", peer, "-peerkey", os.path.join(work, "9d.pub")).stdout
shared_info = b"imza ecdh test"
kdf48 = openssl("kdf", "-keylen", "48", "-kdfopt", "digest:SHA256", "-kdfopt", "hexkey:" + z.hex(),
                "-kdfopt", "hexinfo:" + shared_info.hex(), "-binary", "X963KDF").stdout
report(len(point) == 65 and point[0] == 4 and len(z) == 32 and len(kdf48) == 48,
       "openssl made the peer's P-256 point, the shared secret and the X9.63 KDF's 48 bytes")

m.C_Initialize(None)
slots, n = (UL * 4)(), UL(4)
m.C_GetSlotList(1, ref(slots), ref(n))
slot = slots[0]

info = MechInfo()
rv = m.C_GetMechanismInfo(slot, CKM_ECDH1_DERIVE, ref(info))
report(rv == 0 and info.flags & CKF_DERIVE and info.min == 256 and info.max == 384,
       "C_GetMechanismInfo(CKM_ECDH1_DERIVE): CKF_DERIVE, 256 to 384 bits (rv 0x%x, flags 0x%x)" % (rv, info.flags))
mechs, n = (UL * 64)(), UL(64)
m.C_GetMechanismList(slot, ref(mechs), ref(n))
report(CKM_ECDH1_DERIVE in list(mechs)[: n.value], "CKM_ECDH1_DERIVE is in the mechanism list")


def session(rw=False):
    s = UL(0)
    m.C_OpenSession(slot, CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0), None, None, ref(s))
    return s.value


def ulv(v):
    return UL(v)


def bbool(v):
    return ctypes.c_ubyte(1 if v else 0)


keep = []  # ctypes values the templates point to


def template(pairs):
    t = (Attr * max(len(pairs), 1))()
    for i, (typ, val) in enumerate(pairs):
        if isinstance(val, bytes):
            b = ctypes.create_string_buffer(val, len(val))
            keep.append(b)
            t[i] = Attr(typ, ctypes.cast(b, P), len(val))
        else:
            keep.append(val)
            t[i] = Attr(typ, ref(val), ctypes.sizeof(val))
    return t, len(pairs)


SECRET = [(CKA_CLASS, ulv(CKO_SECRET_KEY)), (CKA_KEY_TYPE, ulv(CKK_GENERIC_SECRET)), (CKA_TOKEN, bbool(False)),
          (CKA_SENSITIVE, bbool(False)), (CKA_EXTRACTABLE, bbool(True)), (CKA_ENCRYPT, bbool(True))]


def derive(s, key, pub=point, kdf=CKD_NULL, shared=b"", tmpl=None, params=True):
    pb = ctypes.create_string_buffer(pub, len(pub))
    sb = ctypes.create_string_buffer(shared, len(shared)) if shared else None
    prm = EcdhParams(kdf, len(shared), ctypes.cast(sb, P) if sb else None, len(pub), ctypes.cast(pb, P))
    mech = Mech(CKM_ECDH1_DERIVE, ref(prm) if params else None, ctypes.sizeof(prm) if params else 0)
    t, nt = template(SECRET if tmpl is None else tmpl)
    h = UL(0)
    rv = m.C_DeriveKey(s, ref(mech), key, ref(t), nt, ref(h))
    return rv, h.value


def value(s, o, typ=CKA_VALUE):
    a = Attr(typ, None, 0)
    rv = m.C_GetAttributeValue(s, o, ref(a), 1)
    if rv != 0:
        return rv, None
    buf = ctypes.create_string_buffer(a.ulValueLen)
    a.pValue = ctypes.cast(buf, P)
    rv = m.C_GetAttributeValue(s, o, ref(a), 1)
    return rv, buf.raw[: a.ulValueLen]


def find_all(s, cls):
    c = UL(cls)
    t = (Attr * 1)(Attr(CKA_CLASS, ref(c), ctypes.sizeof(c)))
    m.C_FindObjectsInit(s, ref(t), 1)
    out, n = (UL * 128)(), UL(0)
    m.C_FindObjects(s, ref(out), 128, ref(n))
    m.C_FindObjectsFinal(s)
    return list(out)[: n.value]


s = session()
report(p11_ctypes.find(m, s, CKO_PRIVATE_KEY, 3) == 0, "before the login the 9D private key is not listed")
rv = m.C_Login(s, CKU_USER, pin, len(pin))
expect(CKR, rv, "OK", "C_Login")
k9d = p11_ctypes.find(m, s, CKO_PRIVATE_KEY, 3)
k9a = p11_ctypes.find(m, s, CKO_PRIVATE_KEY, 1)
k9c = p11_ctypes.find(m, s, CKO_PRIVATE_KEY, 2)
k9e = p11_ctypes.find(m, s, CKO_PRIVATE_KEY, 4)
report(k9d != 0 and k9a != 0 and k9c != 0 and k9e != 0, "the 9A, 9C, 9D and 9E private keys are found after the login")
rv, d = value(s, k9d, CKA_DERIVE)
report(rv == 0 and d == b"\x01", "the 9D key (keyAgreement) says CKA_DERIVE true")
rv, d = value(s, k9e, CKA_DERIVE)
report(rv == 0 and d == b"\x00", "the 9E key (digitalSignature only) says CKA_DERIVE false")

before = ga85()
rv, h = derive(s, k9d)
expect(CKR, rv, "OK", "C_DeriveKey with CKD_NULL and the raw point")
report(h >= 0x10000000, "the derived key's handle is a session object's (0x%x)" % h)
rv, v = value(s, h)
report(rv == 0 and v == z, "its CKA_VALUE equals the secret openssl derives (%s...)" % (v or b"").hex()[:16])
rv, vl = value(s, h, CKA_VALUE_LEN)
report(rv == 0 and int.from_bytes(vl, "little") == 32, "CKA_VALUE_LEN 32")
rv, tk = value(s, h, CKA_TOKEN)
report(rv == 0 and tk == b"\x00", "CKA_TOKEN false: a session object")
report(ga85() == before + 1, "the card was asked once (GENERAL AUTHENTICATE 85 to 9D)")

# The point as a DER OCTET STRING, as CKA_EC_POINT holds it.
rv, h2 = derive(s, k9d, pub=bytes([4, 65]) + point)
rv2, v = value(s, h2)
report(rv == 0 and rv2 == 0 and v == z, "a DER OCTET STRING around the point derives the same secret")

rv, h3 = derive(s, k9d, tmpl=SECRET + [(CKA_VALUE_LEN, ulv(16))])
rv2, v = value(s, h3)
report(rv == 0 and v == z[:16], "CKA_VALUE_LEN 16 with CKD_NULL: the secret's first 16 bytes")

rv, h4 = derive(s, k9d, kdf=CKD_SHA256_KDF, shared=shared_info, tmpl=SECRET + [(CKA_VALUE_LEN, ulv(48))])
rv2, v = value(s, h4)
report(rv == 0 and v == kdf48, "CKD_SHA256_KDF with shared data, 48 bytes: openssl's X963KDF output")

rv, h5 = derive(s, k9d, tmpl=[(CKA_CLASS, ulv(CKO_SECRET_KEY)), (CKA_KEY_TYPE, ulv(CKK_AES)),
                             (CKA_VALUE_LEN, ulv(32)), (CKA_SENSITIVE, bbool(True))])
rv2, _ = value(s, h5)
expect(CKR, rv2, "ATTRIBUTE_SENSITIVE", "an AES key derived with CKA_SENSITIVE true: its CKA_VALUE")

# Refusals, none of which reaches the card.
before = ga85()
off = bytearray(point)
off[-1] ^= 1
rv, _ = derive(s, k9d, pub=bytes(off))
expect(CKR, rv, "MECHANISM_PARAM_INVALID", "a point off the curve")
p384 = openssl("pkey", "-in", os.path.join(work, "p384.pem"), "-pubout", "-outform", "DER").stdout \
    if openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out",
               os.path.join(work, "p384.pem")).returncode == 0 else b""
rv, _ = derive(s, k9d, pub=p384[-97:])
expect(CKR, rv, "MECHANISM_PARAM_INVALID", "a P-384 point for the P-256 key")
rv, _ = derive(s, k9d, pub=b"\x02" + point[1:33])
expect(CKR, rv, "MECHANISM_PARAM_INVALID", "a compressed point")
rv, _ = derive(s, k9d, pub=b"\x04" + bytes(64))
expect(CKR, rv, "MECHANISM_PARAM_INVALID", "the point (0, 0)")
rv, _ = derive(s, k9d, shared=b"x")
expect(CKR, rv, "MECHANISM_PARAM_INVALID", "shared data with CKD_NULL")
rv, _ = derive(s, k9d, kdf=0x77)
expect(CKR, rv, "MECHANISM_PARAM_INVALID", "an unknown KDF")
rv, _ = derive(s, k9d, params=False)
expect(CKR, rv, "MECHANISM_PARAM_INVALID", "no parameters")
rv, _ = derive(s, k9e)
expect(CKR, rv, "KEY_FUNCTION_NOT_PERMITTED", "the 9E key, whose certificate has no keyAgreement")
rv, _ = derive(s, k9a)
expect(CKR, rv, "KEY_FUNCTION_NOT_PERMITTED", "the EC 9A key, whose certificate has no keyAgreement")
rv, _ = derive(s, k9c)
expect(CKR, rv, "KEY_TYPE_INCONSISTENT", "the RSA 9C key")
rv, _ = derive(s, 0x7777)
expect(CKR, rv, "KEY_HANDLE_INVALID", "an unknown base key")
rv, _ = derive(s, k9d, tmpl=SECRET + [(CKA_TOKEN, bbool(True))])
expect(CKR, rv, "SESSION_READ_ONLY", "CKA_TOKEN true in a read-only session")
rw = session(rw=True)
rv, _ = derive(rw, k9d, tmpl=SECRET + [(CKA_TOKEN, bbool(True))])
expect(CKR, rv, "TEMPLATE_INCONSISTENT", "CKA_TOKEN true in a read-write session (imza writes no card object)")
rv, _ = derive(s, k9d, tmpl=[(CKA_CLASS, ulv(CKO_PRIVATE_KEY))])
expect(CKR, rv, "TEMPLATE_INCONSISTENT", "CKA_CLASS other than CKO_SECRET_KEY")
rv, _ = derive(s, k9d, tmpl=[(CKA_KEY_TYPE, ulv(CKK_DES3))])
expect(CKR, rv, "TEMPLATE_INCONSISTENT", "a key type imza does not make (DES3)")
rv, _ = derive(s, k9d, tmpl=[(CKA_VALUE, b"\x00" * 32)])
expect(CKR, rv, "TEMPLATE_INCONSISTENT", "a CKA_VALUE in the template")
rv, _ = derive(s, k9d, tmpl=[(CKA_VALUE_LEN, ulv(33))])
expect(CKR, rv, "ATTRIBUTE_VALUE_INVALID", "CKA_VALUE_LEN 33 with CKD_NULL on P-256")
rv, _ = derive(s, k9d, kdf=CKD_SHA256_KDF)
expect(CKR, rv, "TEMPLATE_INCOMPLETE", "a KDF with no CKA_VALUE_LEN")
rv, _ = derive(s, k9d, tmpl=[(CKA_KEY_TYPE, ulv(CKK_AES)), (CKA_VALUE_LEN, ulv(20))])
expect(CKR, rv, "ATTRIBUTE_VALUE_INVALID", "an AES key of 20 bytes")
rv, _ = derive(s, k9d, tmpl=[(CKA_MODIFIABLE, bbool(True))])
expect(CKR, rv, "ATTRIBUTE_VALUE_INVALID", "CKA_MODIFIABLE true")
rv, _ = derive(s, k9d, tmpl=[(0x80001234, ulv(1))])
expect(CKR, rv, "ATTRIBUTE_TYPE_INVALID", "an attribute type imza does not know")
rv, _ = derive(s, k9d, tmpl=[(CKA_SENSITIVE, ctypes.c_uint(1))])
expect(CKR, rv, "ATTRIBUTE_VALUE_INVALID", "a CK_BBOOL of the wrong size")
mech = Mech(CKM_ECDH1_DERIVE, None, 0)
out = UL(0)
expect(CKR, m.C_DeriveKey(s, ref(mech), k9d, None, 0, None), "ARGUMENTS_BAD", "a NULL phKey")
expect(CKR, m.C_DeriveKey(s, None, k9d, None, 0, ref(out)), "ARGUMENTS_BAD", "a NULL mechanism")
mech = Mech(CKM_SHA256, None, 0)
expect(CKR, m.C_DeriveKey(s, ref(mech), k9d, None, 0, ref(out)), "MECHANISM_INVALID", "CKM_SHA256 to C_DeriveKey")
report(ga85() == before, "none of these refusals reached the card (%d GENERAL AUTHENTICATE 85)" % (ga85() - before))

# The session objects.
mine = [h, h2, h3, h4, h5]
found = find_all(s, CKO_SECRET_KEY)
report(sorted(found) == sorted(mine), "C_FindObjects(CKO_SECRET_KEY) finds the 5 derived keys (%d)" % len(found))
other = session()
report(sorted(find_all(other, CKO_SECRET_KEY)) == sorted(mine),
       "another session of the same application finds them too")
expect(CKR, m.C_DestroyObject(s, h2), "OK", "C_DestroyObject of a derived key")
rv, _ = value(s, h2)
expect(CKR, rv, "OBJECT_HANDLE_INVALID", "the destroyed key's CKA_VALUE")
rv = m.C_DestroyObject(s, k9d)
report(rv == 0x1B, "C_DestroyObject of the card's 9D key: CKR_ACTION_PROHIBITED (got 0x%x)" % rv)
rv, h6 = derive(other, k9d)
m.C_CloseSession(other)
rv2, _ = value(s, h6)
expect(CKR, rv2, "OBJECT_HANDLE_INVALID", "a key derived in a session that closed")

# At most 32 session objects an application.
made, last = 4, 0
while made < 40:
    rv, hh = derive(s, k9d)
    if rv != 0:
        last = rv
        break
    made += 1
report(made == 32 and last == CKR["DEVICE_MEMORY"],
       "the 33rd session object is refused with CKR_DEVICE_MEMORY (made %d, rv 0x%x)" % (made, last))
m.C_DestroyObject(s, h3)
rv, _ = derive(s, k9d)
expect(CKR, rv, "OK", "after one is destroyed, a derivation works again")

# Another application: a new process sees none of them, and cannot use the handle.
code = ("import ctypes, os, sys\nsys.path.insert(0, %r)\nimport p11_ctypes\nfrom p11_ctypes import UL, P, Attr, ref\n"
        "m = p11_ctypes.load({'C_Initialize': [P], 'C_GetSlotList': [ctypes.c_ubyte, P, P], "
        "'C_OpenSession': [UL, UL, P, P, P], 'C_Login': [UL, UL, P, UL], 'C_GetAttributeValue': [UL, UL, P, UL]})\n"
        "m.C_Initialize(None)\ns = UL(0)\nm.C_OpenSession(%d, 4, None, None, ref(s))\n"
        "pin = os.environ['IMZA_PIN'].encode()\nm.C_Login(s, 1, pin, len(pin))\n"
        "a = Attr(0x11, None, 0)\nprint(hex(m.C_GetAttributeValue(s, %d, ref(a), 1)))\n") % (
    os.path.dirname(os.path.abspath(__file__)), slot, h)
r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
report(r.stdout.strip() == "0x82", "another application reading the handle: CKR_OBJECT_HANDLE_INVALID (%s)" %
       (r.stdout.strip() or r.stderr.strip()[-200:]))
m.C_CloseSession(rw)
m.C_CloseSession(s)
m.C_Finalize(None)
