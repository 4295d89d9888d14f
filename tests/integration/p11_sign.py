#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""p11_sign: drives imza-pkcs11.so the way an application does (PyKCS11 for the calls, ctypes where
two threads must call at once: PyKCS11 keeps the GIL during a call) against a private stack, and
prints one TAP-like line per check ("ok - ..." / "not ok - ...", "# ..." for notes), which
p11-python.sh turns into its own TAP. Signatures are verified with the openssl command, never with
the module.

Environment: IMZA_MODULE, IMZA_PIN, IMZA_STACK_DIR (from the stack's env), STACK (the harness
script), WORK (a scratch directory). For another token than the stack's card (a vendor module's):
P11_TOKEN its label, P11_PIN its PIN, P11_KEYS how many private keys it has, P11_MIN_SIGNED the
(key, mechanism) pairs that must sign, P11_SIGN_ONLY=1 to stop after the signatures."""
import ctypes
import hashlib
import os
import subprocess
import sys
import threading
import time

import PyKCS11
from PyKCS11 import LowLevel

MODULE = os.environ["IMZA_MODULE"]
PIN = os.environ.get("P11_PIN") or os.environ["IMZA_PIN"]
TOKEN = os.environ.get("P11_TOKEN")
NKEYS = int(os.environ.get("P11_KEYS", "4"))
MIN_SIGNED = int(os.environ.get("P11_MIN_SIGNED", "24"))
STACK = os.environ["STACK"]
STACK_DIR = os.environ["IMZA_STACK_DIR"]
WORK = os.environ["WORK"]

# Helpers (stack, openssl) must not inherit the sanitizer runtime this process may have been
# given to host an ASan-built module: imzad keeps its own, unweakened checks.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}

CKR_OK = 0
CKR_BUFFER_TOO_SMALL = 0x150
CKR_SESSION_HANDLE_INVALID = 0xB3
CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
CKR_NO_EVENT = 0x8
CKR_USER_NOT_LOGGED_IN = 0x101
CKF_DONT_BLOCK = 1

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


def note(msg):
    print("# " + msg)
    sys.stdout.flush()


def run(*cmd, data=None):
    return subprocess.run(cmd, input=data, env=CLEAN_ENV, capture_output=True)


def stack(*args):
    r = run(STACK, *args[:1], STACK_DIR, *args[1:])
    if r.returncode != 0:
        note("stack %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.returncode == 0


def name(mech):
    return PyKCS11.CKM[mech] if mech in PyKCS11.CKM else hex(mech)


# ---- the module through PyKCS11 ----

lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
ll = lib.lib
# The same module instance (dlopen hands out one), for calls that must not hold the GIL.
cmod = ctypes.CDLL(MODULE)
cmod.C_WaitForSlotEvent.argtypes = [ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p]
cmod.C_GetSlotList.argtypes = [ctypes.c_ubyte, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong)]
cmod.C_GetSessionInfo.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
cmod.C_Finalize.argtypes = [ctypes.c_void_p]
cmod.C_Initialize.argtypes = [ctypes.c_void_p]

slots = lib.getSlotList(tokenPresent=True)
if not check(len(slots) >= 1, "a slot with a token (%s)" % slots):
    sys.exit(1)
slot = slots[0]
if TOKEN:
    slot = ([s for s in slots if lib.getTokenInfo(s).label.strip() == TOKEN] or [None])[0]
    if not check(slot is not None, "the token %s is listed" % TOKEN):
        sys.exit(1)
# PyKCS11 gives names; its CKM table maps them back.
mechs = [PyKCS11.CKM[m] if isinstance(m, str) else m for m in lib.getMechanismList(slot)]
note("mechanisms: " + ", ".join(name(m) for m in mechs))
session = lib.openSession(slot)
session.login(PIN)

# ---- every mechanism on every signing key ----

HASH = {
    PyKCS11.CKM_SHA_1: ("sha1", PyKCS11.CKG_MGF1_SHA1),
    PyKCS11.CKM_SHA224: ("sha224", PyKCS11.CKG_MGF1_SHA224),
    PyKCS11.CKM_SHA256: ("sha256", PyKCS11.CKG_MGF1_SHA256),
    PyKCS11.CKM_SHA384: ("sha384", PyKCS11.CKG_MGF1_SHA384),
    PyKCS11.CKM_SHA512: ("sha512", PyKCS11.CKG_MGF1_SHA512),
}
# mechanism -> (key type, padding, hash mechanism, whether the module hashes)
MECHS = {
    PyKCS11.CKM_RSA_PKCS: (PyKCS11.CKK_RSA, "pkcs1", PyKCS11.CKM_SHA256, False),
    PyKCS11.CKM_SHA1_RSA_PKCS: (PyKCS11.CKK_RSA, "pkcs1", PyKCS11.CKM_SHA_1, True),
    PyKCS11.CKM_SHA224_RSA_PKCS: (PyKCS11.CKK_RSA, "pkcs1", PyKCS11.CKM_SHA224, True),
    PyKCS11.CKM_SHA256_RSA_PKCS: (PyKCS11.CKK_RSA, "pkcs1", PyKCS11.CKM_SHA256, True),
    PyKCS11.CKM_SHA384_RSA_PKCS: (PyKCS11.CKK_RSA, "pkcs1", PyKCS11.CKM_SHA384, True),
    PyKCS11.CKM_SHA512_RSA_PKCS: (PyKCS11.CKK_RSA, "pkcs1", PyKCS11.CKM_SHA512, True),
    PyKCS11.CKM_RSA_PKCS_PSS: (PyKCS11.CKK_RSA, "pss", PyKCS11.CKM_SHA256, False),
    PyKCS11.CKM_SHA1_RSA_PKCS_PSS: (PyKCS11.CKK_RSA, "pss", PyKCS11.CKM_SHA_1, True),
    PyKCS11.CKM_SHA224_RSA_PKCS_PSS: (PyKCS11.CKK_RSA, "pss", PyKCS11.CKM_SHA224, True),
    PyKCS11.CKM_SHA256_RSA_PKCS_PSS: (PyKCS11.CKK_RSA, "pss", PyKCS11.CKM_SHA256, True),
    PyKCS11.CKM_SHA384_RSA_PKCS_PSS: (PyKCS11.CKK_RSA, "pss", PyKCS11.CKM_SHA384, True),
    PyKCS11.CKM_SHA512_RSA_PKCS_PSS: (PyKCS11.CKK_RSA, "pss", PyKCS11.CKM_SHA512, True),
    PyKCS11.CKM_ECDSA: (PyKCS11.CKK_EC, "ecdsa", PyKCS11.CKM_SHA256, False),
    PyKCS11.CKM_ECDSA_SHA1: (PyKCS11.CKK_EC, "ecdsa", PyKCS11.CKM_SHA_1, True),
    PyKCS11.CKM_ECDSA_SHA224: (PyKCS11.CKK_EC, "ecdsa", PyKCS11.CKM_SHA224, True),
    PyKCS11.CKM_ECDSA_SHA256: (PyKCS11.CKK_EC, "ecdsa", PyKCS11.CKM_SHA256, True),
    PyKCS11.CKM_ECDSA_SHA384: (PyKCS11.CKK_EC, "ecdsa", PyKCS11.CKM_SHA384, True),
    PyKCS11.CKM_ECDSA_SHA512: (PyKCS11.CKK_EC, "ecdsa", PyKCS11.CKM_SHA512, True),
}
DIGEST_INFO_PREFIX = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
}


def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + der_len(len(b)) + b


def der_len(n):
    if n < 0x80:
        return bytes([n])
    s = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(s)]) + s


def ecdsa_der(raw):
    half = len(raw) // 2
    body = der_int(raw[:half]) + der_int(raw[half:])
    return b"\x30" + der_len(len(body)) + body


def openssl_verify(pub, padding, hname, digest, sig):
    """Verifies sig over a digest with openssl pkeyutl (it checks the DigestInfo, PSS encoding or
    ECDSA signature the way any relying party would)."""
    with open(os.path.join(WORK, "digest"), "wb") as f:
        f.write(digest)
    with open(os.path.join(WORK, "sig"), "wb") as f:
        f.write(ecdsa_der(sig) if padding == "ecdsa" else sig)
    cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-in", os.path.join(WORK, "digest"),
           "-sigfile", os.path.join(WORK, "sig"), "-pkeyopt", "digest:" + hname]
    if padding == "pss":
        cmd += ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:%d" % len(digest),
                "-pkeyopt", "rsa_mgf1_md:" + hname]
    r = run(*cmd)
    return r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")


def attr(obj, a):
    return session.getAttributeValue(obj, [a], allAsBinary=True)[0]


def sign_lowlevel(mech_native, key, data, context_login):
    """SignInit, the context-specific login if the key wants one, a NULL length query, a too-small
    buffer, then the real signature: each step must leave the operation alive (PKCS#11 2.40 §5.2)."""
    steps = []
    rv = ll.C_SignInit(session.session, mech_native, key)
    steps.append(("SignInit", rv, CKR_OK))
    if rv != CKR_OK:
        return None, steps
    if context_login:
        rv = ll.C_Login(session.session, PyKCS11.CKU_CONTEXT_SPECIFIC, PyKCS11.ckbytelist(PIN))
        steps.append(("Login(CONTEXT_SPECIFIC)", rv, CKR_OK))
    data1 = PyKCS11.ckbytelist(data)
    sig = PyKCS11.ckbytelist()
    rv = ll.C_Sign(session.session, data1, sig)  # an empty list: pSignature NULL
    steps.append(("length query", rv, CKR_OK))
    need = len(sig)
    small = PyKCS11.ckbytelist([0] * max(1, need - 1))
    rv = ll.C_Sign(session.session, data1, small)
    steps.append(("short buffer", rv, CKR_BUFFER_TOO_SMALL))
    sig = PyKCS11.ckbytelist([0] * need)
    rv = ll.C_Sign(session.session, data1, sig)
    steps.append(("sign", rv, CKR_OK))
    return (bytes(sig) if rv == CKR_OK else None), steps


message = os.urandom(777)
keys = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)])
check(len(keys) == NKEYS, "%d private keys after login (%d)" % (NKEYS, len(keys)))
signed = 0
for key in keys:
    kid = bytes(attr(key, PyKCS11.CKA_ID)).hex()
    ktype = session.getAttributeValue(key, [PyKCS11.CKA_KEY_TYPE])[0]
    can_sign = bool(session.getAttributeValue(key, [PyKCS11.CKA_SIGN])[0])
    always = bool(session.getAttributeValue(key, [PyKCS11.CKA_ALWAYS_AUTHENTICATE])[0])
    certs = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_CERTIFICATE), (PyKCS11.CKA_ID, bytes.fromhex(kid))])
    if not check(len(certs) == 1, "key %s has its certificate (same CKA_ID)" % kid):
        continue
    der = bytes(attr(certs[0], PyKCS11.CKA_VALUE))
    with open(os.path.join(WORK, "cert%s.der" % kid), "wb") as f:
        f.write(der)
    pub = os.path.join(WORK, "pub%s.pem" % kid)
    r = run("openssl", "x509", "-inform", "DER", "-in", os.path.join(WORK, "cert%s.der" % kid), "-pubkey",
            "-noout")
    with open(pub, "wb") as f:
        f.write(r.stdout)
    if not can_sign:
        note("key %s has CKA_SIGN false: not a signing key" % kid)
        continue
    note("key %s: %s, CKA_ALWAYS_AUTHENTICATE %s" % (kid, "RSA" if ktype == PyKCS11.CKK_RSA else "EC", always))
    if always:
        # Without the context-specific login the card must not sign.
        mobj = PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS)
        ll.C_SignInit(session.session, mobj.to_native(), key)
        sig = PyKCS11.ckbytelist([0] * 512)
        rv = ll.C_Sign(session.session, PyKCS11.ckbytelist(message), sig)
        check(rv == CKR_USER_NOT_LOGGED_IN,
              "key %s refuses to sign without the CKU_CONTEXT_SPECIFIC login (rv 0x%x)" % (kid, rv))
    for mech in mechs:
        if mech not in MECHS or MECHS[mech][0] != ktype:
            continue
        _, padding, hmech, hashing = MECHS[mech]
        hname, mgf = HASH[hmech]
        digest = hashlib.new(hname, message).digest()
        if hashing:
            data = message
        elif padding == "pkcs1":
            data = DIGEST_INFO_PREFIX[hname] + digest
        else:
            data = digest
        # The wrapper object owns the parameter structure: it must outlive the call.
        if padding == "pss":
            mobj = PyKCS11.RSA_PSS_Mechanism(mech, hmech, mgf, len(digest))
        else:
            mobj = PyKCS11.Mechanism(mech)
        sig, steps = sign_lowlevel(mobj.to_native(), key, data, always)
        bad = ["%s 0x%x (want 0x%x)" % s for s in steps if s[1] != s[2]]
        ok, out = openssl_verify(pub, padding, hname, digest, sig) if sig else (False, "no signature")
        what = "key %s %s: length query, CKR_BUFFER_TOO_SMALL, sign, openssl verifies" % (kid, name(mech))
        check(not bad and ok, what, "; ".join(bad) + "\n" + out)
        if not bad and ok:
            signed += 1
        if mech == PyKCS11.CKM_SHA256_RSA_PKCS or mech == PyKCS11.CKM_ECDSA_SHA256:
            ok2, _ = openssl_verify(pub, padding, hname, hashlib.new(hname, message + b"x").digest(), sig or b"")
            check(not ok2, "key %s %s: the signature does not verify over other data" % (kid, name(mech)))
note("%d signatures made and verified" % signed)
check(signed >= MIN_SIGNED, "at least %d (key, mechanism) pairs signed (%d)" % (MIN_SIGNED, signed))
if os.environ.get("P11_SIGN_ONLY"):
    sys.exit(1 if failures else 0)

# ---- C_WaitForSlotEvent on its own connection while another thread lists slots ----


def drain_events():
    slot_out = ctypes.c_ulong(0)
    for _ in range(32):
        if cmod.C_WaitForSlotEvent(CKF_DONT_BLOCK, ctypes.byref(slot_out), None) == CKR_NO_EVENT:
            return True
    return False


class Waiter(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.rv = None
        self.slot = None
        self.t_end = None

    def run(self):
        slot_out = ctypes.c_ulong(0)
        self.rv = cmod.C_WaitForSlotEvent(0, ctypes.byref(slot_out), None)
        self.slot = slot_out.value
        self.t_end = time.monotonic()


class Lister(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop = False
        self.times = []
        self.bad = []

    def run(self):
        while not self.stop:
            n = ctypes.c_ulong(0)
            t = time.monotonic()
            rv = cmod.C_GetSlotList(0, None, ctypes.byref(n))
            self.times.append(time.monotonic() - t)
            if rv != CKR_OK:
                self.bad.append(rv)
            time.sleep(0.005)


check(drain_events(), "C_WaitForSlotEvent(CKF_DONT_BLOCK) answers CKR_NO_EVENT once drained")
lister = Lister()
lister.start()
for action in ("remove", "insert"):
    waiter = Waiter()
    waiter.start()
    time.sleep(0.3)
    blocked = waiter.is_alive()
    t0 = time.monotonic()
    okay = stack("card", action)
    t1 = time.monotonic()
    waiter.join(10)
    if waiter.t_end is None:
        check(False, "C_WaitForSlotEvent returns after card %s" % action)
        continue
    after = waiter.t_end - t1
    note("card %s: the stack took %.3f s; the event came %.3f s after it started, %.3f s after it ended"
         % (action, t1 - t0, waiter.t_end - t0, after))
    check(blocked and okay and waiter.rv == CKR_OK and waiter.slot == slot and after < 1.0,
          "C_WaitForSlotEvent blocked, then reported slot %d within 1 s of the card's %s (rv 0x%x, slot %s)"
          % (slot, "removal" if action == "remove" else "insertion", waiter.rv, waiter.slot))
    drain_events()
lister.stop = True
lister.join()
worst = max(lister.times) if lister.times else 99
note("C_GetSlotList meanwhile: %d calls, slowest %.1f ms, mean %.1f ms"
     % (len(lister.times), worst * 1000, 1000 * sum(lister.times) / max(1, len(lister.times))))
check(len(lister.times) > 20 and worst < 0.5 and not lister.bad,
      "C_GetSlotList in another thread never waits on the blocked C_WaitForSlotEvent (%d calls, slowest %.1f ms)"
      % (len(lister.times), worst * 1000))

# ---- the daemon killed and started again ----

deadline = time.monotonic() + 15
while time.monotonic() < deadline and not lib.getSlotList(tokenPresent=True):
    time.sleep(0.1)
old = lib.openSession(lib.getSlotList(tokenPresent=True)[0])
info = (ctypes.c_ulong * 4)()
check(cmod.C_GetSessionInfo(old.session.value(), info) == CKR_OK, "a session is open before the daemon dies")
check(stack("daemon", "kill") and stack("daemon", "start"), "imzad killed (SIGKILL) and started again")
n = ctypes.c_ulong(0)
rv = cmod.C_GetSlotList(0, None, ctypes.byref(n))
check(rv == CKR_OK, "the next call (C_GetSlotList) works against the new daemon (rv 0x%x)" % rv)
rv = cmod.C_GetSessionInfo(old.session.value(), info)
check(rv == CKR_SESSION_HANDLE_INVALID, "the old session is CKR_SESSION_HANDLE_INVALID (rv 0x%x)" % rv)
deadline = time.monotonic() + 15
while time.monotonic() < deadline and not lib.getSlotList(tokenPresent=True):
    time.sleep(0.1)
new = lib.openSession(lib.getSlotList(tokenPresent=True)[0])
check(new.session.value() != old.session.value(),
      "a new session gets a new handle (%d, old %d)" % (new.session.value(), old.session.value()))
rv = cmod.C_GetSessionInfo(old.session.value(), info)
check(rv == CKR_SESSION_HANDLE_INVALID,
      "the old handle still is invalid while the new daemon has a session (rv 0x%x)" % rv)
new.login(PIN)
ec = new.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, b"\x01")])
try:
    sig = bytes(new.sign(ec[0], message, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)))
    ok, out = openssl_verify(os.path.join(WORK, "pub01.pem"), "ecdsa", "sha256",
                             hashlib.sha256(message).digest(), sig)
except PyKCS11.PyKCS11Error as e:
    ok, out = False, str(e)
check(ok, "login and signing work on the new daemon", out)

# ---- C_Finalize ends a blocked C_WaitForSlotEvent ----

drain_events()
waiter = Waiter()
waiter.start()
time.sleep(0.3)
blocked = waiter.is_alive()
t0 = time.monotonic()
rv = cmod.C_Finalize(None)
waiter.join(5)
note("C_Finalize returned 0x%x; the waiting call ended %.3f s later" % (rv, (waiter.t_end or 99) - t0))
check(blocked and rv == CKR_OK and waiter.rv == CKR_CRYPTOKI_NOT_INITIALIZED,
      "C_Finalize makes a blocked C_WaitForSlotEvent return CKR_CRYPTOKI_NOT_INITIALIZED (rv %s)" % waiter.rv)
# Leave the module initialized for PyKCS11's own C_Finalize at exit.
cmod.C_Initialize(None)
sys.exit(1 if failures else 0)
