#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""quirk_probe.py MODULE CHECK [PIN]: calls one PKCS#11 module through ctypes the way the backend tests
need to see it, and prints what it got on one line (the test compares). Checks:
  init-os-locking   C_Initialize with CKF_OS_LOCKING_OK, then with NULL: "rv=0x.. null=0x.."
  wait              C_WaitForSlotEvent(CKF_DONT_BLOCK) after C_Initialize(NULL): "rv=0x.."
  list              the function list's version and which entries are NULL
  threads           two threads call C_GetSlotList 20000 times each: "done" if the process lives
  context-specific  CKA_ALWAYS_AUTHENTICATE of key 01, C_Sign before and after the context login
"""
import ctypes as C
import sys
import threading

CK_RV = C.c_ulong
CK_ULONG = C.c_ulong
FUNCS = ("Initialize Finalize GetInfo GetFunctionList GetSlotList GetSlotInfo GetTokenInfo "
         "GetMechanismList GetMechanismInfo InitToken InitPIN SetPIN OpenSession CloseSession "
         "CloseAllSessions GetSessionInfo GetOperationState SetOperationState Login Logout CreateObject "
         "CopyObject DestroyObject GetObjectSize GetAttributeValue SetAttributeValue FindObjectsInit "
         "FindObjects FindObjectsFinal EncryptInit Encrypt EncryptUpdate EncryptFinal DecryptInit Decrypt "
         "DecryptUpdate DecryptFinal DigestInit Digest DigestUpdate DigestKey DigestFinal SignInit Sign "
         "SignUpdate SignFinal SignRecoverInit SignRecover VerifyInit Verify VerifyUpdate VerifyFinal "
         "VerifyRecoverInit VerifyRecover DigestEncryptUpdate DecryptDigestUpdate SignEncryptUpdate "
         "DecryptVerifyUpdate GenerateKey GenerateKeyPair WrapKey UnwrapKey DeriveKey SeedRandom "
         "GenerateRandom GetFunctionStatus CancelFunction WaitForSlotEvent").split()
assert len(FUNCS) == 68


class Version(C.Structure):
    _fields_ = [("major", C.c_ubyte), ("minor", C.c_ubyte)]


class FunctionList(C.Structure):
    _fields_ = [("version", Version)] + [(n, C.c_void_p) for n in FUNCS]


class InitArgs(C.Structure):
    _fields_ = [("create", C.c_void_p), ("destroy", C.c_void_p), ("lock", C.c_void_p),
                ("unlock", C.c_void_p), ("flags", CK_ULONG), ("reserved", C.c_void_p)]


class Attribute(C.Structure):
    _fields_ = [("type", CK_ULONG), ("value", C.c_void_p), ("len", CK_ULONG)]


class Mechanism(C.Structure):
    _fields_ = [("mechanism", CK_ULONG), ("param", C.c_void_p), ("len", CK_ULONG)]


mod = C.CDLL(sys.argv[1])
check = sys.argv[2]
pin = sys.argv[3].encode() if len(sys.argv) > 3 else b""
flp = C.POINTER(FunctionList)()
mod.C_GetFunctionList.restype = CK_RV
assert mod.C_GetFunctionList(C.byref(flp)) == 0
fl = flp.contents


def fn(name, *argtypes):
    p = getattr(fl, name)
    if not p:
        raise SystemExit("%s is NULL" % name)
    return C.CFUNCTYPE(CK_RV, *argtypes)(p)


Initialize = fn("Initialize", C.c_void_p)
if check == "init-os-locking":
    a = InitArgs(None, None, None, None, 0x2, None)  # CKF_OS_LOCKING_OK
    rv = Initialize(C.byref(a))
    if rv == 0:
        fn("Finalize", C.c_void_p)(None)
    rv2 = Initialize(None)
    print("rv=0x%x null=0x%x" % (rv, rv2))
    sys.exit(0)
if check == "list":
    nulls = [n for n in FUNCS if not getattr(fl, n)]
    print("version=%d.%d null=%s" % (fl.version.major, fl.version.minor, ",".join(nulls) or "-"))
    sys.exit(0)

assert Initialize(None) == 0
if check == "wait":
    slot = CK_ULONG(0)
    print("rv=0x%x" % fn("WaitForSlotEvent", CK_ULONG, C.POINTER(CK_ULONG), C.c_void_p)(1, C.byref(slot), None))
elif check == "threads":
    GetSlotList = fn("GetSlotList", C.c_ubyte, C.c_void_p, C.POINTER(CK_ULONG))

    def loop():
        n = CK_ULONG(0)
        for _ in range(20000):
            GetSlotList(1, None, C.byref(n))

    ts = [threading.Thread(target=loop) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("done")
elif check == "context-specific":
    n = CK_ULONG(8)
    slots = (CK_ULONG * 8)()
    assert fn("GetSlotList", C.c_ubyte, C.c_void_p, C.POINTER(CK_ULONG))(1, slots, C.byref(n)) == 0 and n.value
    s = CK_ULONG(0)
    assert fn("OpenSession", CK_ULONG, CK_ULONG, C.c_void_p, C.c_void_p, C.POINTER(CK_ULONG))(
        slots[0], 0x6, None, None, C.byref(s)) == 0
    Login = fn("Login", CK_ULONG, CK_ULONG, C.c_char_p, CK_ULONG)
    assert Login(s, 1, pin, len(pin)) == 0  # CKU_USER
    cls, kid = CK_ULONG(3), C.create_string_buffer(b"\x01", 1)  # CKO_PRIVATE_KEY, id 01
    t = (Attribute * 2)(Attribute(0x0, C.cast(C.byref(cls), C.c_void_p), C.sizeof(cls)),
                        Attribute(0x102, C.cast(kid, C.c_void_p), 1))
    assert fn("FindObjectsInit", CK_ULONG, C.c_void_p, CK_ULONG)(s, t, 2) == 0
    key, got = CK_ULONG(0), CK_ULONG(0)
    fn("FindObjects", CK_ULONG, C.POINTER(CK_ULONG), CK_ULONG, C.POINTER(CK_ULONG))(s, C.byref(key), 1, C.byref(got))
    fn("FindObjectsFinal", CK_ULONG)(s)
    assert got.value == 1
    aa = C.c_ubyte(0)
    at = Attribute(0x202, C.cast(C.byref(aa), C.c_void_p), 1)  # CKA_ALWAYS_AUTHENTICATE
    rv_attr = fn("GetAttributeValue", CK_ULONG, CK_ULONG, C.c_void_p, CK_ULONG)(s, key, C.byref(at), 1)
    m = Mechanism(0x40, None, 0)  # CKM_SHA256_RSA_PKCS
    SignInit = fn("SignInit", CK_ULONG, C.c_void_p, CK_ULONG)
    Sign = fn("Sign", CK_ULONG, C.c_char_p, CK_ULONG, C.c_void_p, C.POINTER(CK_ULONG))
    sig, sl = C.create_string_buffer(512), CK_ULONG(512)
    assert SignInit(s, C.byref(m), key) == 0
    before = Sign(s, b"data", 4, sig, C.byref(sl))
    wrong = Login(s, 2, b"000000", 6)  # CKU_CONTEXT_SPECIFIC
    ctx = Login(s, 2, pin, len(pin))
    sl = CK_ULONG(512)
    after = Sign(s, b"data", 4, sig, C.byref(sl))
    print("attr_rv=0x%x always=%d before=0x%x wrong=0x%x login=0x%x after=0x%x len=%d"
          % (rv_attr, aa.value, before, wrong, ctx, after, sl.value))
else:
    raise SystemExit("unknown check " + check)
fn("Finalize", C.c_void_p)(None)
