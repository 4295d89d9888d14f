#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""mechs_probe.py IMZA_MODULE VENDOR_MODULE LABEL PIN DIR QUIRKS: a module token's mechanisms through imza
against the module's own (VENDOR_MODULE loaded directly, with the same IMZA_QUIRKS), with PyKCS11; the
openssl command verifies each signature and encrypts what is decrypted. Prints "ok - ..." / "not ok - ..." lines (run_checks); writes imza's list
(type and flags, one a line) to DIR/list.

What imza must list for a module token (docs/BACKENDS.md): the module's own sign and decrypt mechanisms
of the key types imza serves (RSA, ECDSA) and its vendor-defined ones, MD2 and MD5 left out; the hashing
mechanisms imza composes over the module's raw ones; imza's software digests. Nothing else.
Keys of tests/backend/softhsm-token: 01 RSA-2048, 02 RSA-3072 (decryption), 03 EC P-256; DIR/NN.pub.pem.
"""
import hashlib
import os
import subprocess
import sys

import PyKCS11
from PyKCS11 import LowLevel

imza_mod, vendor_mod, label, pin, d, quirks = sys.argv[1:7]
quirks = quirks.split(",") if quirks else []
CKM = PyKCS11.CKM
VENDOR = PyKCS11.CKM_VENDOR_DEFINED | 0x494D5A41
SIGN, DECRYPT, VERIFY, DIGEST = PyKCS11.CKF_SIGN, PyKCS11.CKF_DECRYPT, PyKCS11.CKF_VERIFY, PyKCS11.CKF_DIGEST


def check(ok, what):
    print("%s - %s" % ("ok" if ok else "not ok", what))


def name(t):
    n = CKM.get(t)
    return n if isinstance(n, str) else "0x%x" % t


def rvname(rv):
    return PyKCS11.CKR.get(rv, hex(rv))


def load(path):
    lib = PyKCS11.PyKCS11Lib()
    lib.load(path)
    return lib


def slot_of(lib):
    return [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == label][0]


def mechs(lib, slot):
    """{type: flags} as the module answers C_GetMechanismList and C_GetMechanismInfo."""
    lst = LowLevel.ckintlist()
    rv = lib.lib.C_GetMechanismList(slot, lst)
    assert rv == PyKCS11.CKR_OK, rvname(rv)
    out = {}
    for t in lst:
        info = LowLevel.CK_MECHANISM_INFO()
        rv = lib.lib.C_GetMechanismInfo(slot, t, info)
        assert rv == PyKCS11.CKR_OK, (name(t), rvname(rv))
        out[t] = info.flags
    return out


RSA_HASHED = {CKM_: h for CKM_, h in [
    (PyKCS11.CKM_SHA1_RSA_PKCS, "sha1"), (PyKCS11.CKM_SHA224_RSA_PKCS, "sha224"),
    (PyKCS11.CKM_SHA256_RSA_PKCS, "sha256"), (PyKCS11.CKM_SHA384_RSA_PKCS, "sha384"),
    (PyKCS11.CKM_SHA512_RSA_PKCS, "sha512")]}
PSS_HASHED = {PyKCS11.CKM_SHA1_RSA_PKCS_PSS: "sha1", PyKCS11.CKM_SHA224_RSA_PKCS_PSS: "sha224",
              PyKCS11.CKM_SHA256_RSA_PKCS_PSS: "sha256", PyKCS11.CKM_SHA384_RSA_PKCS_PSS: "sha384",
              PyKCS11.CKM_SHA512_RSA_PKCS_PSS: "sha512"}
ECDSA_HASHED = {PyKCS11.CKM_ECDSA_SHA1: "sha1", PyKCS11.CKM_ECDSA_SHA224: "sha224",
                PyKCS11.CKM_ECDSA_SHA256: "sha256", PyKCS11.CKM_ECDSA_SHA384: "sha384",
                PyKCS11.CKM_ECDSA_SHA512: "sha512"}
HASH_CKM = {"sha1": PyKCS11.CKM_SHA_1, "sha224": PyKCS11.CKM_SHA224, "sha256": PyKCS11.CKM_SHA256,
            "sha384": PyKCS11.CKM_SHA384, "sha512": PyKCS11.CKM_SHA512}
MGF = {"sha1": PyKCS11.CKG_MGF1_SHA1, "sha224": PyKCS11.CKG_MGF1_SHA224, "sha256": PyKCS11.CKG_MGF1_SHA256,
       "sha384": PyKCS11.CKG_MGF1_SHA384, "sha512": PyKCS11.CKG_MGF1_SHA512}


def served_type(t):
    """A standard mechanism of the key types imza serves (RSA, ECDSA), or a vendor's; MD2/MD5 left out."""
    if t in (PyKCS11.CKM_MD2_RSA_PKCS, PyKCS11.CKM_MD5_RSA_PKCS):
        return False
    return t <= 0x0F or 0x40 <= t <= 0x47 or 0x60 <= t <= 0x67 or 0x1040 <= t <= 0x104A or \
        t >= PyKCS11.CKM_VENDOR_DEFINED


def expected(mod):
    """{type: (sign, decrypt, digest)} imza must list for a token of a module that lists mod."""
    out = {}

    def add(t, s=False, de=False, di=False):
        a, b, c = out.get(t, (False, False, False))
        out[t] = (a or s, b or de, c or di)

    for t, f in mod.items():
        if f & (SIGN | DECRYPT) and served_type(t):
            add(t, bool(f & SIGN), bool(f & DECRYPT))
    has = lambda t, flag: bool(mod.get(t, 0) & flag) and served_type(t)  # noqa: E731
    x509s, x509d = has(PyKCS11.CKM_RSA_X_509, SIGN), has(PyKCS11.CKM_RSA_X_509, DECRYPT)
    if has(PyKCS11.CKM_RSA_PKCS, SIGN) or x509s:
        for t in RSA_HASHED:
            add(t, True)
    if x509s:
        add(PyKCS11.CKM_RSA_PKCS, True)
        add(PyKCS11.CKM_RSA_PKCS_PSS, True)
    if has(PyKCS11.CKM_RSA_PKCS_PSS, SIGN) or x509s:
        for t in PSS_HASHED:
            add(t, True)
    if has(PyKCS11.CKM_ECDSA, SIGN):
        for t in ECDSA_HASHED:
            add(t, True)
    if x509d:
        add(PyKCS11.CKM_RSA_PKCS, de=True)
        add(PyKCS11.CKM_RSA_PKCS_OAEP, de=True)
    for t in HASH_CKM.values():
        add(t, di=True)
    return out


direct = load(vendor_mod)
dslot = slot_of(direct)
module_list = mechs(direct, dslot)
lib = load(imza_mod)
slot = slot_of(lib)
imza_list = mechs(lib, slot)
with open(d + "/list", "w") as f:
    for t in sorted(imza_list):
        f.write("%s 0x%x\n" % (name(t), imza_list[t]))
if os.environ.get("MECHS_LIST_ONLY"):
    sys.exit(0)
want = expected(module_list)
got = {t: (bool(f & SIGN), bool(f & DECRYPT), bool(f & DIGEST)) for t, f in imza_list.items()}
extra = sorted(name(t) for t in got if t not in want)
lacking = sorted(name(t) for t in want if t not in got)
wrong = sorted(name(t) for t in got if t in want and got[t] != want[t])
check(not extra and not lacking and not wrong,
      "the token's mechanisms through imza are what the module can serve: %d listed, the module lists %d "
      "(extra %s, missing %s, other flags %s)" % (len(got), len(module_list), extra, lacking, wrong))
check(PyKCS11.CKM_MD5_RSA_PKCS not in got and PyKCS11.CKM_ECDH1_DERIVE not in got,
      "neither the module's MD5-RSA-PKCS nor an ECDH imza cannot serve on a module token is listed")
if "vendor-mech" in quirks:
    check(VENDOR in got and got[VENDOR][0], "the module's vendor mechanism 0x%x is listed with CKF_SIGN" % VENDOR)
if "no-raw-rsa" in quirks:
    check(PyKCS11.CKM_RSA_X_509 not in got, "no-raw-rsa: CKM_RSA_X_509 is not listed")
masked = all((imza_list[t] & ~(PyKCS11.CKF_HW | SIGN | DECRYPT | VERIFY | PyKCS11.CKF_VERIFY_RECOVER | DIGEST |
                                0x7F00000)) == 0 for t in imza_list)
check(masked, "every listed mechanism's flags are within what imza passes (HW, SIGN, DECRYPT, EC_*, VERIFY)")

s = lib.openSession(slot)
s.login(pin)
keys = {i: s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, (i,))])[0]
        for i in (1, 2, 3)}
pubs = {i: "%s/%02d.pub.pem" % (d, i) for i in (1, 2, 3)}
msg = "Başvuru beyanı: mekanizma denemesi.".encode()


def put(name, data):
    path = "%s/%s" % (d, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def ossl(*args, data=None):
    """(exit status, stdout) of the openssl command."""
    r = subprocess.run(("openssl",) + args, input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.returncode, r.stdout


def verify_hashed(kid, h, sig, data, opts=()):
    """openssl pkeyutl -verify of sig over the hash h of data (the signature's digest named)."""
    hv = hashlib.new(h, data).digest()
    opt = ["-pkeyopt", "digest:" + h] + [x for o in opts for x in ("-pkeyopt", o)]
    return ossl("pkeyutl", "-verify", "-pubin", "-inkey", pubs[kid], "-in", put("tbs", hv), "-sigfile",
                put("sig", sig), *opt)[0] == 0


def pkcs1(h):
    return lambda sig: verify_hashed(1, h, sig, msg)


def pss(h, mgf, salt, data):
    return lambda sig: verify_hashed(1, h, sig, data, ("rsa_padding_mode:pss", "rsa_pss_saltlen:%d" % salt,
                                                       "rsa_mgf1_md:" + mgf))


def der_len(n):
    return bytes([n]) if n < 128 else bytes([0x81, n])


def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + der_len(len(b)) + b


def ecdsa(h):
    def v(sig):
        body = der_int(sig[:len(sig) // 2]) + der_int(sig[len(sig) // 2:])
        return verify_hashed(3, h, b"\x30" + der_len(len(body)) + body, msg)
    return v


def encrypt(kid, data, opts=()):
    opt = [x for o in opts for x in ("-pkeyopt", o)]
    return ossl("pkeyutl", "-encrypt", "-pubin", "-inkey", pubs[kid], "-in", put("plain", data), *opt)[1]


def rsa_block(n_bytes, payload):
    return b"\x00\x01" + b"\xff" * (n_bytes - len(payload) - 3) + b"\x00" + payload


def digest_info(h, data):
    prefix = {"sha256": bytes.fromhex("3031300d060960864801650304020105000420")}[h]
    return prefix + hashlib.new(h, data).digest()


def mechanism(t):
    """The mechanism object, the key id and what to give C_Sign for type t, and a verifier of the result."""
    if t in RSA_HASHED or t == VENDOR:
        return PyKCS11.Mechanism(t, None), 1, msg, pkcs1(RSA_HASHED.get(t, "sha256"))
    if t in PSS_HASHED or t == PyKCS11.CKM_RSA_PKCS_PSS:
        h = PSS_HASHED.get(t, "sha256")
        hl = hashlib.new(h).digest_size
        m = PyKCS11.RSA_PSS_Mechanism(t, HASH_CKM[h], MGF[h], hl)
        data = msg if t in PSS_HASHED else hashlib.new(h, msg).digest()
        return m, 1, data, pss(h, h, hl, msg)
    if t == PyKCS11.CKM_RSA_PKCS:
        return PyKCS11.Mechanism(t, None), 1, digest_info("sha256", msg), pkcs1("sha256")
    if t == PyKCS11.CKM_RSA_X_509:
        block = rsa_block(256, digest_info("sha256", msg))

        def raw(sig):
            rc, out = ossl("pkeyutl", "-verifyrecover", "-pubin", "-inkey", pubs[1], "-pkeyopt",
                           "rsa_padding_mode:none", "-in", put("sig", sig))
            return rc == 0 and out.rjust(256, b"\0") == block
        return PyKCS11.Mechanism(t, None), 1, block, raw
    if t in ECDSA_HASHED or t == PyKCS11.CKM_ECDSA:
        h = ECDSA_HASHED.get(t, "sha256")
        data = msg if t in ECDSA_HASHED else hashlib.sha256(msg).digest()
        return PyKCS11.Mechanism(t, None), 3, data, ecdsa(h)
    return None


def sign(mech, key, data, parts=None):
    """(rv, signature): single-part, or C_SignUpdate for each of parts then C_SignFinal."""
    sig = PyKCS11.ckbytelist()
    rv = s.lib.C_SignInit(s.session, mech.to_native(), key)
    if rv != PyKCS11.CKR_OK:
        return rv, b""
    if parts is None:
        rv = s.lib.C_Sign(s.session, PyKCS11.ckbytelist(data), sig)
        if rv == PyKCS11.CKR_OK:
            rv = s.lib.C_Sign(s.session, PyKCS11.ckbytelist(data), sig)
        return rv, bytes(sig)
    for p in parts:
        rv = s.lib.C_SignUpdate(s.session, PyKCS11.ckbytelist(p))
        if rv != PyKCS11.CKR_OK:
            return rv, b""
    rv = s.lib.C_SignFinal(s.session, sig)
    if rv == PyKCS11.CKR_OK:
        rv = s.lib.C_SignFinal(s.session, sig)
    return rv, bytes(sig)


def verified(verify, sig):
    return len(sig) > 0 and verify(sig)


signers = sorted(t for t in got if got[t][0])
bad = []
for t in signers:
    m = mechanism(t)
    if m is None:
        bad.append("%s (no test for it)" % name(t))
        continue
    mech, kid, data, verify = m
    rv, sig = sign(mech, keys[kid], data)
    if rv != PyKCS11.CKR_OK or not verified(verify, sig):
        bad.append("%s (%s)" % (name(t), rvname(rv)))
check(not bad, "each of the %d listed sign mechanisms signs through imza and OpenSSL verifies (failed: %s)"
      % (len(signers), bad))
mech, kid, data, verify = mechanism(PyKCS11.CKM_SHA256_RSA_PKCS)
rv, sig = sign(mech, keys[kid], data)
check(rv == PyKCS11.CKR_OK and verified(verify, sig) and not verified(verify, bytes([sig[0] ^ 1]) + sig[1:])
      and not verified(ecdsa("sha256"), bytes(64)),
      "the checks can fail: OpenSSL refuses a signature with one bit changed, and a zero ECDSA signature")

if "vendor-mech" in quirks:
    mech, kid, data, verify = mechanism(VENDOR)
    rv, sig = sign(mech, keys[1], None, [msg[:10], msg[10:]])
    check(rv == PyKCS11.CKR_OK and verified(verify, sig),
          "the vendor mechanism in two C_SignUpdate parts: a SHA-256 PKCS#1 v1.5 signature (%s)" % rvname(rv))
    # The Mechanism holds the parameters' buffer its native form points to: it must outlive the call.
    big_params = PyKCS11.Mechanism(VENDOR, bytes(600))
    rv = s.lib.C_SignInit(s.session, big_params.to_native(), keys[1])
    check(rv == PyKCS11.CKR_MECHANISM_PARAM_INVALID,
          "the vendor mechanism with 600 bytes of parameters (more than a job carries): "
          "CKR_MECHANISM_PARAM_INVALID at C_SignInit (%s)" % rvname(rv))
big = bytes(range(256)) * 64
rv, sig = sign(PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS, None), keys[1], None, [big, big])
check(rv == PyKCS11.CKR_OK and verified(lambda x: verify_hashed(1, "sha256", x, big + big), sig),
      "CKM_SHA256_RSA_PKCS over 32 KiB in two parts: hashed by imza, the signature verifies (%s)" % rvname(rv))


def decrypt(mech, ct):
    out = PyKCS11.ckbytelist()
    rv = s.lib.C_DecryptInit(s.session, mech.to_native(), keys[2])
    if rv != PyKCS11.CKR_OK:
        return rv, b""
    rv = s.lib.C_Decrypt(s.session, PyKCS11.ckbytelist(ct), out)
    if rv == PyKCS11.CKR_OK:
        rv = s.lib.C_Decrypt(s.session, PyKCS11.ckbytelist(ct), out)
    return rv, bytes(out)


secret = b"gizli anahtar 0123456789"
label_bytes = b"imza etiketi"
cases = {
    PyKCS11.CKM_RSA_PKCS: [(PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS, None), (), "PKCS#1 v1.5")],
    PyKCS11.CKM_RSA_PKCS_OAEP: [(PyKCS11.RSAOAEPMechanism(PyKCS11.CKM_SHA_1, PyKCS11.CKG_MGF1_SHA1),
                                 ("rsa_padding_mode:oaep",), "OAEP SHA-1")],
}
# A module whose OAEP takes other hashes and a label (no-raw-rsa's), or (SoftHSM's takes SHA-1 only) imza's
# own unpadding over the module's raw RSA.
cases[PyKCS11.CKM_RSA_PKCS_OAEP].append(
    (PyKCS11.RSAOAEPMechanism(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, label_bytes),
     ("rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256", "rsa_oaep_label:" + label_bytes.hex()),
     "OAEP SHA-256 with a label"))
decrypters = sorted(t for t in got if got[t][1])
done, bad = [], []
for t in decrypters:
    if t == PyKCS11.CKM_RSA_X_509:
        block = b"\x00" + b"\x42" * 383
        ct = encrypt(2, block, ("rsa_padding_mode:none",))
        rv, out = decrypt(PyKCS11.Mechanism(t, None), ct)
        (done if rv == PyKCS11.CKR_OK and out.rjust(384, b"\0") == block else bad).append("RSA-X-509")
        continue
    if t not in cases:
        bad.append("%s (no test for it)" % name(t))
        continue
    for mech, pad, what in cases[t]:
        rv, out = decrypt(mech, encrypt(2, secret, pad))
        (done if rv == PyKCS11.CKR_OK and out == secret else bad).append("%s %s" % (what, rvname(rv)))
check(decrypters and not bad, "each of the %d listed decrypt mechanisms gives back what OpenSSL encrypted (%s; failed: %s)"
      % (len(decrypters), ", ".join(done), bad))

# Not listed, not usable: refused at Init, before any card work.
unlisted = [PyKCS11.CKM_MD5_RSA_PKCS, PyKCS11.CKM_SHA256_HMAC, PyKCS11.CKM_DSA_SHA256, PyKCS11.CKM_VENDOR_DEFINED | 7]
if "no-raw-rsa" in quirks:
    unlisted.append(PyKCS11.CKM_RSA_X_509)
res = []
for t in unlisted:
    rv = s.lib.C_SignInit(s.session, PyKCS11.Mechanism(t, None).to_native(), keys[1])
    if rv == PyKCS11.CKR_OK:  # ended, for the next Init
        s.lib.C_Sign(s.session, PyKCS11.ckbytelist(msg), PyKCS11.ckbytelist([0] * 1024))
    res.append((name(t), rvname(rv)))
check(all(r == "CKR_MECHANISM_INVALID" for _, r in res), "unlisted mechanisms are CKR_MECHANISM_INVALID at C_SignInit: %s" % res)
if "no-raw-rsa" in quirks:
    rv = s.lib.C_DecryptInit(s.session, PyKCS11.Mechanism(PyKCS11.CKM_RSA_X_509, None).to_native(), keys[2])
    check(rv == PyKCS11.CKR_MECHANISM_INVALID, "no-raw-rsa: C_DecryptInit with CKM_RSA_X_509 is CKR_MECHANISM_INVALID (%s)"
          % rvname(rv))

# A parameter set the module refuses (SoftHSM: the PSS hash and MGF must match): its own answer, unless
# imza can apply it itself over the module's CKM_RSA_X_509.
m = PyKCS11.RSA_PSS_Mechanism(PyKCS11.CKM_RSA_PKCS_PSS, PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA1, 32)
h = hashlib.sha256(msg).digest()
rv, sig = sign(m, keys[1], h)
if "no-raw-rsa" in quirks:
    check(rv == PyKCS11.CKR_ARGUMENTS_BAD,
          "CKM_RSA_PKCS_PSS with SHA-256 and MGF1-SHA1, which the module refuses: the module's CKR_ARGUMENTS_BAD (%s)"
          % rvname(rv))
else:
    check(rv == PyKCS11.CKR_OK and verified(pss("sha256", "sha1", 32, msg), sig),
          "CKM_RSA_PKCS_PSS with SHA-256 and MGF1-SHA1, which the module refuses: imza's block over its raw RSA, "
          "OpenSSL verifies (%s)" % rvname(rv))
if "no-raw-rsa" in quirks:
    m = PyKCS11.RSAOAEPMechanism(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256, label_bytes)
    ct = encrypt(2, secret, ("rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256",
                             "rsa_oaep_label:" + b"another label".hex()))
    rv, _ = decrypt(m, ct)
    check(rv == PyKCS11.CKR_ENCRYPTED_DATA_INVALID,
          "OAEP with a label other than the ciphertext's: the module's CKR_ENCRYPTED_DATA_INVALID (%s)" % rvname(rv))
else:
    m = PyKCS11.RSAOAEPMechanism(PyKCS11.CKM_MD5, PyKCS11.CKG_MGF1_SHA1)
    ct = encrypt(2, secret, ("rsa_padding_mode:oaep",))
    rv, _ = decrypt(m, ct)
    check(rv == PyKCS11.CKR_ARGUMENTS_BAD,
          "OAEP with MD5, which neither the module nor imza takes: the module's CKR_ARGUMENTS_BAD (%s)" % rvname(rv))
s.logout()
