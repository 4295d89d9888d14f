#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""p11_keys: every key of a PIV card used as PIV means it, through imza-pkcs11.so (PyKCS11, and ctypes
for C_VerifyRecover, which PyKCS11 lacks): the card-authentication key (9E) signs before any login;
each RSA key whose certificate allows keyEncipherment decrypts what OpenSSL encrypted for it (PKCS#1
v1.5, raw RSA, OAEP with SHA-1 and SHA-256, with and without a label); a wrong padding is
CKR_ENCRYPTED_DATA_INVALID; software digests equal hashlib's; a signature made through imza verifies
through imza and a changed byte does not; C_VerifyRecover gives back what was signed.

Prints "ok - ..." / "not ok - ..." lines for run_checks (tap.sh). Environment: IMZA_MODULE, IMZA_PIN,
WORK (a scratch directory)."""
import ctypes
import hashlib
import os
import subprocess
import sys

import PyKCS11
from PyKCS11 import LowLevel

MODULE = os.environ["IMZA_MODULE"]
PIN = os.environ["IMZA_PIN"]
WORK = os.environ["WORK"]
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}

CKR_OK = 0
CKR = {0x0: "OK", 0x20: "DATA_INVALID", 0x21: "DATA_LEN_RANGE", 0x40: "ENCRYPTED_DATA_INVALID",
       0x41: "ENCRYPTED_DATA_LEN_RANGE", 0x54: "FUNCTION_NOT_SUPPORTED", 0x63: "KEY_TYPE_INCONSISTENT",
       0x67: "KEY_INDIGESTIBLE", 0x68: "KEY_FUNCTION_NOT_PERMITTED", 0x70: "MECHANISM_INVALID",
       0x71: "MECHANISM_PARAM_INVALID", 0x90: "OPERATION_ACTIVE", 0x91: "OPERATION_NOT_INITIALIZED",
       0xC0: "SIGNATURE_INVALID", 0xC1: "SIGNATURE_LEN_RANGE", 0x101: "USER_NOT_LOGGED_IN",
       0x150: "BUFFER_TOO_SMALL"}
RV = {v: k for k, v in CKR.items()}
failures = 0


def check(cond, desc, detail=None):
    global failures
    print(("ok" if cond else "not ok") + " - " + desc)
    if not cond:
        failures += 1
        if detail:
            for line in str(detail).splitlines()[-10:]:
                print("# " + line)
    sys.stdout.flush()
    return cond


def expect(rv, want, what):
    return check(rv == RV[want], "%s: CKR_%s%s" % (what, want, "" if rv == RV[want] else
                                                      " (got %s)" % CKR.get(rv, hex(rv))))


def note(msg):
    print("# " + msg)
    sys.stdout.flush()


def run(*cmd, data=None):
    return subprocess.run(cmd, input=data, env=CLEAN_ENV, capture_output=True)


lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
ll = lib.lib
slot = lib.getSlotList(tokenPresent=True)[0]
session = lib.openSession(slot)
S = session.session


def attr(o, t):
    return session.getAttributeValue(o, [t])[0]


def find(cls, kid):
    return session.findObjects([(PyKCS11.CKA_CLASS, cls), (PyKCS11.CKA_ID, bytes([kid]))])


def pubkey_pem(kid):
    """The public key of slot kid from its certificate, as OpenSSL wants it."""
    cert = find(PyKCS11.CKO_CERTIFICATE, kid)[0]
    der = os.path.join(WORK, "cert%02x.der" % kid)
    with open(der, "wb") as f:
        f.write(bytes(attr(cert, PyKCS11.CKA_VALUE)))
    pem = os.path.join(WORK, "pub%02x.pem" % kid)
    with open(pem, "wb") as f:
        f.write(run("openssl", "x509", "-inform", "DER", "-in", der, "-pubkey", "-noout").stdout)
    return pem


def ossl_verify(pem, md, data, sig, ec=False):
    """openssl's verdict on a signature (an EC one given as r || s is turned into DER first)."""
    if ec:
        n = len(sig) // 2
        def der_int(b):
            b = b.lstrip(b"\0") or b"\0"
            if b[0] & 0x80:
                b = b"\0" + b
            return b"\x02" + bytes([len(b)]) + b
        body = der_int(sig[:n]) + der_int(sig[n:])
        sig = b"\x30" + (bytes([len(body)]) if len(body) < 128 else b"\x81" + bytes([len(body)])) + body
    sp, dp = os.path.join(WORK, "sig.bin"), os.path.join(WORK, "data.bin")
    with open(sp, "wb") as f:
        f.write(sig)
    with open(dp, "wb") as f:
        f.write(data)
    r = run("openssl", "dgst", "-" + md, "-verify", pem, "-signature", sp, dp)
    return r.returncode == 0


# ---- 1. the card-authentication key (9E) before any login ----
privs = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)])
ids = sorted(bytes(attr(k, PyKCS11.CKA_ID))[0] for k in privs)
check(ids == [4], "before login only the card-authentication key (CKA_ID 04) is listed as a private key (%s)" % ids)
cak = find(PyKCS11.CKO_PRIVATE_KEY, 4)
if check(len(cak) == 1, "9E's private key is found before login"):
    cak = cak[0]
    check(attr(cak, PyKCS11.CKA_PRIVATE) == 0, "9E's private key has CKA_PRIVATE false (as OpenSC shows it)")
    check(attr(cak, PyKCS11.CKA_ALWAYS_AUTHENTICATE) == 0, "9E's private key has CKA_ALWAYS_AUTHENTICATE false")
    msg = os.urandom(300)
    try:
        sig = bytes(session.sign(cak, msg, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)))
        check(ossl_verify(pubkey_pem(4), "sha256", msg, sig, ec=True),
              "9E signs (ECDSA-SHA256) without a login and openssl verifies it")
    except PyKCS11.PyKCS11Error as e:
        check(False, "9E signs (ECDSA-SHA256) without a login and openssl verifies it", e)
else:
    cak = None
# The PIN keys stay hidden and unusable before login.
for kid in (1, 2, 3):
    check(find(PyKCS11.CKO_PRIVATE_KEY, kid) == [], "private key %02x is not visible before login" % kid)

# ---- 3a. software digests (no login needed) ----
DIGESTS = [(PyKCS11.CKM_SHA_1, "sha1"), (PyKCS11.CKM_SHA224, "sha224"), (PyKCS11.CKM_SHA256, "sha256"),
           (PyKCS11.CKM_SHA384, "sha384"), (PyKCS11.CKM_SHA512, "sha512")]
data = os.urandom(5000)
for mech, hname in DIGESTS:
    want = hashlib.new(hname, data).digest()
    try:
        got = bytes(session.digest(data, PyKCS11.Mechanism(mech)))
        check(got == want, "C_Digest %s equals hashlib's" % hname)
    except PyKCS11.PyKCS11Error as e:
        check(False, "C_Digest %s equals hashlib's" % hname, e)
    try:
        d = session.digestSession(PyKCS11.Mechanism(mech))
        for i in range(0, len(data), 777):
            d.update(data[i:i + 777])
        check(bytes(d.final()) == want, "C_DigestUpdate x7 + C_DigestFinal %s equals hashlib's" % hname)
    except PyKCS11.PyKCS11Error as e:
        check(False, "C_DigestUpdate x7 + C_DigestFinal %s equals hashlib's" % hname, e)
# Length query and short buffer keep the operation (PKCS#11 §5.2); DigestKey is refused properly.
m_obj = PyKCS11.Mechanism(PyKCS11.CKM_SHA256)
m = m_obj.to_native()
expect(ll.C_DigestInit(S, m), "OK", "C_DigestInit SHA-256")
out = PyKCS11.ckbytelist()
expect(ll.C_Digest(S, PyKCS11.ckbytelist(b"abc"), out), "OK", "C_Digest length query")
check(len(out) == 32, "C_Digest length query says 32 (%d)" % len(out))
small = PyKCS11.ckbytelist([0] * 31)
expect(ll.C_Digest(S, PyKCS11.ckbytelist(b"abc"), small), "BUFFER_TOO_SMALL", "C_Digest into 31 bytes")
out = PyKCS11.ckbytelist([0] * 32)
expect(ll.C_Digest(S, PyKCS11.ckbytelist(b"abc"), out), "OK", "C_Digest after the short buffer")
check(bytes(out) == hashlib.sha256(b"abc").digest(), "... and gives SHA-256(abc)")
expect(ll.C_Digest(S, PyKCS11.ckbytelist(b"abc"), out), "OPERATION_NOT_INITIALIZED", "C_Digest after the end")
expect(ll.C_DigestInit(S, m), "OK", "C_DigestInit again")
if cak is not None:
    expect(ll.C_DigestKey(S, cak), "KEY_INDIGESTIBLE", "C_DigestKey with a card key")
ll.C_DigestFinal(S, PyKCS11.ckbytelist([0] * 64))
md5 = PyKCS11.Mechanism(PyKCS11.CKM_MD5)
expect(ll.C_DigestInit(S, md5.to_native()), "MECHANISM_INVALID", "C_DigestInit MD5")

session.login(PIN)


def decrypt_ll(key, mech, ct, context_login):
    """DecryptInit, the context-specific login when the key wants one, then C_Decrypt. mech is a
    PyKCS11 mechanism object: it must outlive its native form, which points into it (the label)."""
    rv = ll.C_DecryptInit(S, mech.to_native(), key)
    if rv != CKR_OK:
        return rv, None
    if context_login:
        rv = ll.C_Login(S, PyKCS11.CKU_CONTEXT_SPECIFIC, PyKCS11.ckbytelist(PIN))
        if rv != CKR_OK:
            return rv, None
    out = PyKCS11.ckbytelist([0] * 512)
    rv = ll.C_Decrypt(S, PyKCS11.ckbytelist(ct), out)
    return rv, (bytes(out) if rv == CKR_OK else None)


def sign_ll(key, mech, data, context_login):
    rv = ll.C_SignInit(S, mech.to_native(), key)
    if rv != CKR_OK:
        return rv, None
    if context_login:
        rv = ll.C_Login(S, PyKCS11.CKU_CONTEXT_SPECIFIC, PyKCS11.ckbytelist(PIN))
        if rv != CKR_OK:
            return rv, None
    out = PyKCS11.ckbytelist([0] * 512)
    rv = ll.C_Sign(S, PyKCS11.ckbytelist(data), out)
    return rv, (bytes(out) if rv == CKR_OK else None)


def oaep(hmech, mgf, label=None):
    return PyKCS11.RSAOAEPMechanism(hmech, mgf, label)


def ossl_encrypt(pem, plain, opts):
    pp = os.path.join(WORK, "plain.bin")
    with open(pp, "wb") as f:
        f.write(plain)
    args = ["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-in", pp]
    for o in opts:
        args += ["-pkeyopt", o]
    r = run(*args)
    return r.stdout if r.returncode == 0 else None


# ---- 2. decryption with every RSA key whose certificate allows keyEncipherment ----
CASES = [
    ("PKCS#1 v1.5", lambda: PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS), ["rsa_padding_mode:pkcs1"]),
    ("OAEP SHA-1", lambda: oaep(PyKCS11.CKM_SHA_1, PyKCS11.CKG_MGF1_SHA1), ["rsa_padding_mode:oaep"]),
    ("OAEP SHA-256", lambda: oaep(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256),
     ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256"]),
    ("OAEP SHA-256 with a label", lambda: oaep(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, b"imza etiket"),
     ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_oaep_label:" + b"imza etiket".hex()]),
    ("OAEP SHA-256, MGF1 SHA-1, label", lambda: oaep(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA1, b"L"),
     ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha1", "rsa_oaep_label:4c"]),
]
decrypted = 0
for kid in (1, 2, 3):
    key = find(PyKCS11.CKO_PRIVATE_KEY, kid)
    if not check(len(key) == 1, "private key %02x listed after login" % kid):
        continue
    key = key[0]
    if attr(key, PyKCS11.CKA_KEY_TYPE) != PyKCS11.CKK_RSA:
        note("key %02x is not RSA" % kid)
        continue
    always = bool(attr(key, PyKCS11.CKA_ALWAYS_AUTHENTICATE))
    check(attr(key, PyKCS11.CKA_DECRYPT) == 1, "key %02x (keyEncipherment in its certificate) has CKA_DECRYPT" % kid)
    pem = pubkey_pem(kid)
    for what, mech, opts in CASES:
        plain = os.urandom(32)
        ct = ossl_encrypt(pem, plain, opts)
        if not check(ct is not None, "openssl encrypts for key %02x (%s)" % (kid, what)):
            continue
        rv, got = decrypt_ll(key, mech(), ct, always)
        ok = rv == CKR_OK and got == plain
        decrypted += ok
        check(ok, "key %02x decrypts %s: the same bytes (%s)" % (kid, what, CKR.get(rv, hex(rv))))
    # Raw RSA: the whole block comes back.
    block = b"\0" + os.urandom(255)
    ct = ossl_encrypt(pem, block, ["rsa_padding_mode:none"])
    rv, got = decrypt_ll(key, PyKCS11.Mechanism(PyKCS11.CKM_RSA_X_509), ct, always)
    check(rv == CKR_OK and got == block, "key %02x decrypts raw RSA (CKM_RSA_X_509): the same 256 bytes" % kid)
    # Wrong paddings: the card's raw result is unpadded by imzad and refused the same way.
    plain = os.urandom(32)
    ct_pkcs1 = ossl_encrypt(pem, plain, ["rsa_padding_mode:pkcs1"])
    ct_oaep = ossl_encrypt(pem, plain, ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256"])
    ct_label = ossl_encrypt(pem, plain, ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_oaep_label:01"])
    rv, _ = decrypt_ll(key, oaep(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256), ct_pkcs1, always)
    expect(rv, "ENCRYPTED_DATA_INVALID", "key %02x: a PKCS#1 v1.5 ciphertext through OAEP" % kid)
    rv, _ = decrypt_ll(key, PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS), ct_oaep, always)
    expect(rv, "ENCRYPTED_DATA_INVALID", "key %02x: an OAEP ciphertext through PKCS#1 v1.5" % kid)
    rv, _ = decrypt_ll(key, oaep(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256), ct_label, always)
    expect(rv, "ENCRYPTED_DATA_INVALID", "key %02x: an OAEP ciphertext with another label" % kid)
    rv, _ = decrypt_ll(key, oaep(PyKCS11.CKM_SHA_1, PyKCS11.CKG_MGF1_SHA1), ct_oaep, always)
    expect(rv, "ENCRYPTED_DATA_INVALID", "key %02x: an OAEP SHA-256 ciphertext through OAEP SHA-1" % kid)
    rv, _ = decrypt_ll(key, PyKCS11.Mechanism(PyKCS11.CKM_RSA_X_509), b"\xff" * 256, always)
    expect(rv, "ENCRYPTED_DATA_INVALID", "key %02x: a raw ciphertext over the modulus" % kid)
    # Parameters checked before anything reaches the card.
    bad = oaep(PyKCS11.CKM_MD5, PyKCS11.CKG_MGF1_SHA1)
    bn = bad.to_native()
    expect(ll.C_DecryptInit(S, bn, key), "MECHANISM_PARAM_INVALID", "key %02x: OAEP with MD5" % kid)
    bad = oaep(PyKCS11.CKM_SHA256, 0x7777)
    bn = bad.to_native()
    expect(ll.C_DecryptInit(S, bn, key), "MECHANISM_PARAM_INVALID",
           "key %02x: OAEP with an unknown MGF" % kid)
    bad = oaep(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, b"x" * 5000)
    bn = bad.to_native()
    expect(ll.C_DecryptInit(S, bn, key), "MECHANISM_PARAM_INVALID",
           "key %02x: OAEP with a 5000-byte label" % kid)
    bad = oaep(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256)
    bad._param.src = 7
    bn = bad.to_native()
    expect(ll.C_DecryptInit(S, bn, key), "MECHANISM_PARAM_INVALID",
           "key %02x: OAEP with an unknown source" % kid)
check(decrypted == 3 * len(CASES), "9A, 9C and 9D each decrypt every padding (%d of %d)" % (decrypted, 3 * len(CASES)))

# ---- 3b. verification through imza of signatures made through imza ----
VERIFY = [
    (PyKCS11.CKM_SHA256_RSA_PKCS, None, PyKCS11.CKK_RSA),
    (PyKCS11.CKM_SHA1_RSA_PKCS, None, PyKCS11.CKK_RSA),
    (PyKCS11.CKM_SHA512_RSA_PKCS, None, PyKCS11.CKK_RSA),
    (PyKCS11.CKM_SHA256_RSA_PKCS_PSS, (PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, 32), PyKCS11.CKK_RSA),
    (PyKCS11.CKM_SHA384_RSA_PKCS_PSS, (PyKCS11.CKM_SHA384, PyKCS11.CKG_MGF1_SHA384, 48), PyKCS11.CKK_RSA),
    (PyKCS11.CKM_ECDSA_SHA256, None, PyKCS11.CKK_EC),
    (PyKCS11.CKM_ECDSA_SHA384, None, PyKCS11.CKK_EC),
    (PyKCS11.CKM_ECDSA_SHA1, None, PyKCS11.CKK_EC),
]


def mech_of(mtype, pss):
    if pss:
        return PyKCS11.RSA_PSS_Mechanism(mtype, *pss)
    return PyKCS11.Mechanism(mtype)


msg = os.urandom(1000)
verified = 0
for kid in (1, 2, 3, 4):
    key = find(PyKCS11.CKO_PRIVATE_KEY, kid)
    pub = find(PyKCS11.CKO_PUBLIC_KEY, kid)
    if not key or not pub:
        continue
    key, pub = key[0], pub[0]
    if not attr(key, PyKCS11.CKA_SIGN):
        continue
    always = bool(attr(key, PyKCS11.CKA_ALWAYS_AUTHENTICATE))
    ktype = attr(key, PyKCS11.CKA_KEY_TYPE)
    for mtype, pss, kt in VERIFY:
        if kt != ktype:
            continue
        mn = PyKCS11.CKM[mtype]
        rv, sig = sign_ll(key, mech_of(mtype, pss), msg, always)
        if not check(rv == CKR_OK, "key %02x signs with %s" % (kid, mn)):
            continue
        try:
            ok = session.verify(pub, msg, sig, mech_of(mtype, pss))
        except PyKCS11.PyKCS11Error as e:
            ok = e
        verified += ok is True
        check(ok is True, "key %02x: %s signature verifies through imza" % (kid, mn), ok)
        bent = bytearray(sig)
        bent[len(bent) // 3] ^= 0x01
        mo = mech_of(mtype, pss)
        mn_ = mo.to_native()
        expect(ll.C_VerifyInit(S, mn_, pub), "OK", "key %02x: C_VerifyInit %s" % (kid, mn))
        expect(ll.C_Verify(S, PyKCS11.ckbytelist(msg), PyKCS11.ckbytelist(bytes(bent))), "SIGNATURE_INVALID",
               "key %02x: %s with one bit changed in the signature" % (kid, mn))
        expect(ll.C_VerifyInit(S, mn_, pub), "OK", "key %02x: C_VerifyInit %s again" % (kid, mn))
        expect(ll.C_Verify(S, PyKCS11.ckbytelist(msg[:-1] + b"?"), PyKCS11.ckbytelist(sig)), "SIGNATURE_INVALID",
               "key %02x: %s over changed data" % (kid, mn))
        # Multi-part: the same answer.
        expect(ll.C_VerifyInit(S, mn_, pub), "OK", "key %02x: C_VerifyInit %s, multi-part" % (kid, mn))
        for i in range(0, len(msg), 300):
            ll.C_VerifyUpdate(S, PyKCS11.ckbytelist(msg[i:i + 300]))
        expect(ll.C_VerifyFinal(S, PyKCS11.ckbytelist(sig)), "OK", "key %02x: %s C_VerifyUpdate/Final" % (kid, mn))
        expect(ll.C_VerifyInit(S, mn_, pub), "OK", "key %02x: C_VerifyInit %s, short signature" % (kid, mn))
        expect(ll.C_Verify(S, PyKCS11.ckbytelist(msg), PyKCS11.ckbytelist(sig[:-1])), "SIGNATURE_LEN_RANGE",
               "key %02x: %s with a signature one byte short" % (kid, mn))
check(verified >= 8, "signatures of 9A/9C (RSA) and 9E (EC) verify through imza (%d)" % verified)

# ---- 3c. C_VerifyRecover (ctypes: PyKCS11 has none) ----
UL = ctypes.c_ulong
cm = ctypes.CDLL(MODULE)
cm.C_VerifyRecoverInit.argtypes = [UL, ctypes.c_void_p, UL]
cm.C_VerifyRecoverInit.restype = UL
cm.C_VerifyRecover.argtypes = [UL, ctypes.c_char_p, UL, ctypes.c_void_p, ctypes.POINTER(UL)]
cm.C_VerifyRecover.restype = UL


HS = S.value()  # the session handle as a number, for ctypes


class Mech(ctypes.Structure):
    _fields_ = [("mechanism", UL), ("pParameter", ctypes.c_void_p), ("ulParameterLen", UL)]


key = find(PyKCS11.CKO_PRIVATE_KEY, 1)[0]
pub = find(PyKCS11.CKO_PUBLIC_KEY, 1)[0]
hpub = pub.value()
digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(msg).digest()
rv, sig = sign_ll(key, PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS), digest_info, False)
if check(rv == CKR_OK, "key 01 signs a DigestInfo with CKM_RSA_PKCS"):
    for mtype, want in ((PyKCS11.CKM_RSA_PKCS, digest_info), (PyKCS11.CKM_RSA_X_509, None)):
        mn = PyKCS11.CKM[mtype]
        expect(cm.C_VerifyRecoverInit(HS, ctypes.byref(Mech(mtype, None, 0)), hpub), "OK", "C_VerifyRecoverInit %s" % mn)
        n = UL(0)
        expect(cm.C_VerifyRecover(HS, sig, len(sig), None, ctypes.byref(n)), "OK", "C_VerifyRecover %s length query" % mn)
        buf = ctypes.create_string_buffer(max(n.value, 1))
        n2 = UL(n.value)
        rv = cm.C_VerifyRecover(HS, sig, len(sig), buf, ctypes.byref(n2))
        got = buf.raw[:n2.value]
        if want is None:
            ok = rv == CKR_OK and len(got) == 256 and got[:2] == b"\0\1" and got.endswith(digest_info)
        else:
            ok = rv == CKR_OK and got == want
        check(ok, "C_VerifyRecover %s gives back what was signed (%s, %d bytes)" % (mn, CKR.get(rv, hex(rv)), len(got)))
    bent = bytearray(sig)
    bent[7] ^= 0x40
    expect(cm.C_VerifyRecoverInit(HS, ctypes.byref(Mech(PyKCS11.CKM_RSA_PKCS, None, 0)), hpub), "OK",
           "C_VerifyRecoverInit CKM_RSA_PKCS again")
    buf = ctypes.create_string_buffer(256)
    n = UL(256)
    expect(cm.C_VerifyRecover(HS, bytes(bent), len(bent), buf, ctypes.byref(n)), "SIGNATURE_INVALID",
           "C_VerifyRecover of a changed signature")

# ---- mechanism flags ----
def mflags(mtype):
    try:
        return lib.getMechanismInfo(slot, PyKCS11.CKM[mtype]).flags  # it takes the name
    except PyKCS11.PyKCS11Error:
        return 0


check(all(mflags(m) & PyKCS11.CKF_DIGEST for m, _ in DIGESTS), "CKM_SHA_1..SHA512 say CKF_DIGEST")
check(all(mflags(m) & PyKCS11.CKF_VERIFY and mflags(m) & PyKCS11.CKF_SIGN for m, _, _ in VERIFY),
      "the signing mechanisms say CKF_SIGN and CKF_VERIFY")
check(mflags(PyKCS11.CKM_RSA_PKCS_OAEP) & PyKCS11.CKF_DECRYPT, "CKM_RSA_PKCS_OAEP says CKF_DECRYPT")
check(mflags(PyKCS11.CKM_RSA_X_509) & PyKCS11.CKF_DECRYPT and mflags(PyKCS11.CKM_RSA_X_509) & PyKCS11.CKF_VERIFY_RECOVER,
      "CKM_RSA_X_509 says CKF_DECRYPT and CKF_VERIFY_RECOVER")
check(mflags(PyKCS11.CKM_RSA_PKCS) & PyKCS11.CKF_VERIFY_RECOVER, "CKM_RSA_PKCS says CKF_VERIFY_RECOVER")

session.logout()
session.closeSession()
sys.exit(0)
