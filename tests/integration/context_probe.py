#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""context_probe.py MODULE LABEL PIN DIR: PyKCS11 through imza on the token LABEL whose keys need the PIN
at each use (CKA_ALWAYS_AUTHENTICATE), the way an application that does the context login itself
sees it. Prints "ok - ..." / "not ok - ..." lines (run_checks). The signature of DIR/data with key 01 goes
to DIR/ctx.sig, the decryption of DIR/enc with key 02 (RSA-3072, keyEncipherment) to DIR/ctx.dec, for the test to check with OpenSSL.
"""
import sys

import PyKCS11
from PyKCS11 import LowLevel

mod, label, pin, d = sys.argv[1:5]  # d: a directory named context_probe, for run_checks
lib = PyKCS11.PyKCS11Lib()
lib.load(mod)


def check(ok, what):
    print("%s - %s" % ("ok" if ok else "not ok", what))


def rvname(rv):
    return PyKCS11.CKR.get(rv, hex(rv))


slot = [s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == label][0]
s = lib.openSession(slot)
s.login(pin)
key, key2 = (s.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_ID, (i,))])[0] for i in (1, 2))
always = s.getAttributeValue(key, [PyKCS11.CKA_ALWAYS_AUTHENTICATE])[0]
check(always is True, "after the login, the module's private key says CKA_ALWAYS_AUTHENTICATE true (%r)" % always)

data = PyKCS11.ckbytelist(open(d + "/data", "rb").read())
sha256 = PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS).to_native()


def sign(context_pin):
    """SignInit, the context login with context_pin (None: none), Sign: (login rv, sign rv, signature)."""
    sig = PyKCS11.ckbytelist()
    rv = s.lib.C_SignInit(s.session, sha256, key)
    if rv != PyKCS11.CKR_OK:
        return None, rv, b""
    lrv = None
    if context_pin is not None:
        lrv = s.lib.C_Login(s.session, PyKCS11.CKU_CONTEXT_SPECIFIC, PyKCS11.ckbytelist(context_pin))
        if lrv != PyKCS11.CKR_OK:
            return lrv, None, b""
    rv = s.lib.C_Sign(s.session, data, sig)  # the length
    if rv == PyKCS11.CKR_OK:
        rv = s.lib.C_Sign(s.session, data, sig)
    return lrv, rv, bytes(sig)


_, rv, _ = sign(None)
check(rv == PyKCS11.CKR_USER_NOT_LOGGED_IN, "C_Sign without the context login: CKR_USER_NOT_LOGGED_IN (%s)" % rvname(rv))
lrv, rv, sig = sign(pin)
check(lrv == PyKCS11.CKR_OK and rv == PyKCS11.CKR_OK and len(sig) == 256,
      "C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign: a signature (%s, %s, %d bytes)"
      % (rvname(lrv), rvname(rv), len(sig)))
open(d + "/ctx.sig", "wb").write(sig)
lrv, rv, sig = sign(pin)
check(lrv == PyKCS11.CKR_OK and rv == PyKCS11.CKR_OK and len(sig) == 256,
      "and again: each signature with its own context login (%s, %s)" % (rvname(lrv), rvname(rv)))
_, rv, _ = sign(None)
check(rv == PyKCS11.CKR_USER_NOT_LOGGED_IN,
      "a context login serves one operation only: the next C_Sign without one is refused (%s)" % rvname(rv))

# Decryption needs the context login as well.
enc = PyKCS11.ckbytelist(open(d + "/enc", "rb").read())
pkcs = PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS).to_native()
out = PyKCS11.ckbytelist()
rv = s.lib.C_DecryptInit(s.session, pkcs, key2)
if rv == PyKCS11.CKR_OK:
    rv = s.lib.C_Decrypt(s.session, enc, out)  # the length (imzad answers it without the card)
if rv == PyKCS11.CKR_OK:
    rv = s.lib.C_Decrypt(s.session, enc, out)
check(rv == PyKCS11.CKR_USER_NOT_LOGGED_IN, "C_Decrypt without the context login: CKR_USER_NOT_LOGGED_IN (%s)" % rvname(rv))
out = PyKCS11.ckbytelist()
rv = s.lib.C_DecryptInit(s.session, pkcs, key2)
lrv = s.lib.C_Login(s.session, PyKCS11.CKU_CONTEXT_SPECIFIC, PyKCS11.ckbytelist(pin)) if rv == 0 else None
if lrv == PyKCS11.CKR_OK:
    rv = s.lib.C_Decrypt(s.session, enc, out)
    if rv == PyKCS11.CKR_OK:
        rv = s.lib.C_Decrypt(s.session, enc, out)
check(lrv == PyKCS11.CKR_OK and rv == PyKCS11.CKR_OK,
      "C_DecryptInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Decrypt (%s, %s)" % (rvname(lrv), rvname(rv)))
open(d + "/ctx.dec", "wb").write(bytes(out))

# A wrong PIN at the context login is refused there, and signs nothing.
lrv, rv, _ = sign("000000")
check(lrv == PyKCS11.CKR_PIN_INCORRECT, "a wrong PIN at the context login: CKR_PIN_INCORRECT (%s)" % rvname(lrv))
s.logout()
s.closeSession()
