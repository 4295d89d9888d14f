# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the ctypes tests of imza-pkcs11.so share (p11_args.py, p11_pin.py, p11_keysizes.py): the
PKCS#11 structures, the module loaded with every parameter typed (a bare Python int would go as a 32-bit
int where CK_ULONG is 64 bits), TAP lines, and a key found by class and one-byte CKA_ID."""
import ctypes
import os

UL = ctypes.c_ulong
P = ctypes.c_void_p
CKA_CLASS, CKA_ID = 0x0, 0x102


class Attr(ctypes.Structure):
    _fields_ = [("type", UL), ("pValue", P), ("ulValueLen", UL)]


class Mech(ctypes.Structure):
    _fields_ = [("mechanism", UL), ("pParameter", P), ("ulParameterLen", UL)]


class Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class TokenInfo(ctypes.Structure):
    _fields_ = [("label", ctypes.c_char * 32), ("manufacturerID", ctypes.c_char * 32),
                ("model", ctypes.c_char * 16), ("serialNumber", ctypes.c_char * 16), ("flags", UL)] + \
               [(n, UL) for n in ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k")] + \
               [("hw", Version), ("fw", Version), ("utcTime", ctypes.c_char * 16)]


def load(sigs):
    """imza's module ($IMZA_MODULE), each function of sigs given its parameter types and CK_RV."""
    m = ctypes.CDLL(os.environ["IMZA_MODULE"])
    for fn, types in sigs.items():
        getattr(m, fn).argtypes = types
        getattr(m, fn).restype = UL
    return m


def report(ok, what):
    print(("ok" if ok else "not ok") + " - " + what, flush=True)


def ref(x):
    return ctypes.cast(ctypes.byref(x), P)


def find(m, s, cls, ident):
    """The handle of the one object of class cls with CKA_ID ident (one byte) in session s, or 0."""
    c, i = UL(cls), ctypes.c_ubyte(ident)
    t = (Attr * 2)(Attr(CKA_CLASS, ref(c), ctypes.sizeof(c)), Attr(CKA_ID, ref(i), 1))
    m.C_FindObjectsInit(s, ref(t), 2)
    o, n = UL(0), UL(0)
    m.C_FindObjects(s, ref(o), 1, ref(n))
    m.C_FindObjectsFinal(s)
    return o.value if n.value == 1 else 0


def expect(ckr, rv, want, what):
    """A TAP line: rv is CKR_<want> (ckr: the script's names to values)."""
    names = {v: k for k, v in ckr.items()}
    report(rv == ckr[want], "%s: CKR_%s%s" % (what, want, "" if rv == ckr[want] else
                                                 " (got %s)" % names.get(rv, hex(rv))))
