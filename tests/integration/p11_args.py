#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PKCS#11 3.0 section 5, function by function, through imza-pkcs11.so with ctypes (no PyKCS11): each
NULL pointer, unknown handle, wrong flag or user type, with everything else valid, and the exact code
the spec gives for it; the versions C_GetInfo reports per interface; C_GenerateRandom from the card.
Prints TAP-style lines ("ok - ..." / "not ok - ..."); run_checks in tap.sh counts them."""
import ctypes
import os
import time

import p11_ctypes
from p11_ctypes import UL, P, Attr, Mech, Version, TokenInfo, report, ref
PUL = ctypes.POINTER(UL)

CKR = {
    "OK": 0x0, "ARGUMENTS_BAD": 0x7, "FUNCTION_NOT_PARALLEL": 0x51, "FUNCTION_NOT_SUPPORTED": 0x54,
    "KEY_HANDLE_INVALID": 0x60, "MECHANISM_INVALID": 0x70, "OBJECT_HANDLE_INVALID": 0x82,
    "OPERATION_ACTIVE": 0x90, "OPERATION_NOT_INITIALIZED": 0x91, "SESSION_HANDLE_INVALID": 0xB3,
    "SESSION_PARALLEL_NOT_SUPPORTED": 0xB4, "SESSION_READ_ONLY": 0xB5, "SESSION_READ_ONLY_EXISTS": 0xB7,
    "SLOT_ID_INVALID": 0x3, "TOKEN_WRITE_PROTECTED": 0xE2, "USER_ALREADY_LOGGED_IN": 0x100,
    "USER_NOT_LOGGED_IN": 0x101, "USER_TYPE_INVALID": 0x103, "RANDOM_SEED_NOT_SUPPORTED": 0x120,
    "RANDOM_NO_RNG": 0x121, "CRYPTOKI_ALREADY_INITIALIZED": 0x191, "BUFFER_TOO_SMALL": 0x150,
}
NAME = {v: k for k, v in CKR.items()}
CKF_RW_SESSION, CKF_SERIAL_SESSION, CKF_DONT_BLOCK = 2, 4, 1
CKF_WRITE_PROTECTED, CKF_RNG = 0x2, 0x1
CKU_SO, CKU_USER, CKU_CONTEXT_SPECIFIC = 0, 1, 2
CKA_CLASS, CKA_ID, CKA_LABEL, CKA_TOKEN = 0x0, 0x102, 0x3, 0x1
CKO_PRIVATE_KEY, CKO_CERTIFICATE = 3, 1
CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS = 0x1, 0x40
BAD = 0x7FFF1234


class Info(ctypes.Structure):
    _fields_ = [("cryptokiVersion", Version), ("manufacturerID", ctypes.c_char * 32), ("flags", UL),
                ("libraryDescription", ctypes.c_char * 32), ("libraryVersion", Version)]


class Interface(ctypes.Structure):
    _fields_ = [("pInterfaceName", ctypes.c_char_p), ("pFunctionList", P), ("flags", UL)]


pin = os.environ["IMZA_PIN"].encode()
puk = os.environ.get("IMZA_PUK", "12345678").encode()

# Every parameter typed: a bare Python int would go as a 32-bit int where CK_ULONG is 64 bits.
SIGS = {
    "C_Initialize": [P], "C_Finalize": [P], "C_GetInfo": [P], "C_GetFunctionList": [P],
    "C_GetSlotList": [ctypes.c_ubyte, P, P], "C_GetSlotInfo": [UL, P], "C_GetTokenInfo": [UL, P],
    "C_GetMechanismList": [UL, P, P], "C_GetMechanismInfo": [UL, UL, P], "C_WaitForSlotEvent": [UL, P, P],
    "C_OpenSession": [UL, UL, P, P, P], "C_CloseSession": [UL], "C_CloseAllSessions": [UL],
    "C_GetSessionInfo": [UL, P], "C_Login": [UL, UL, P, UL], "C_Logout": [UL],
    "C_CreateObject": [UL, P, UL, P], "C_CopyObject": [UL, UL, P, UL, P], "C_DestroyObject": [UL, UL],
    "C_GetObjectSize": [UL, UL, P], "C_GetAttributeValue": [UL, UL, P, UL],
    "C_SetAttributeValue": [UL, UL, P, UL], "C_FindObjectsInit": [UL, P, UL], "C_FindObjects": [UL, P, UL, P],
    "C_FindObjectsFinal": [UL], "C_SignInit": [UL, P, UL], "C_Sign": [UL, P, UL, P, P],
    "C_SignUpdate": [UL, P, UL], "C_SignFinal": [UL, P, P], "C_DecryptInit": [UL, P, UL],
    "C_Decrypt": [UL, P, UL, P, P], "C_SeedRandom": [UL, P, UL], "C_GenerateRandom": [UL, P, UL],
    "C_GetFunctionStatus": [UL], "C_CancelFunction": [UL], "C_GetInterfaceList": [P, P],
    "C_GetInterface": [P, P, P, UL],
}
m = p11_ctypes.load(SIGS)


def expect(rv, want, what):
    p11_ctypes.expect(CKR, rv, want, what)


def find(s, cls, ident):
    return p11_ctypes.find(m, s, cls, ident)


# ---- general purpose (5.4) ----
expect(m.C_Initialize(None), "OK", "C_Initialize(NULL)")
expect(m.C_Initialize(None), "CRYPTOKI_ALREADY_INITIALIZED", "C_Initialize twice")
expect(m.C_Finalize(ref(UL(0))), "ARGUMENTS_BAD", "C_Finalize with a non-NULL pReserved")
expect(m.C_GetInfo(None), "ARGUMENTS_BAD", "C_GetInfo(NULL)")
expect(m.C_GetFunctionList(None), "ARGUMENTS_BAD", "C_GetFunctionList(NULL)")
expect(m.C_GetInterfaceList(None, None), "ARGUMENTS_BAD", "C_GetInterfaceList with a NULL pulCount")
expect(m.C_GetInterface(None, None, None, 0), "ARGUMENTS_BAD", "C_GetInterface with a NULL ppInterface")

# ---- versions: C_GetInfo says the version of the interface it was reached through ----
pkg = os.environ.get("IMZA_PACKAGE_VERSION", "")
want_lib = tuple(int(x) for x in pkg.split(".")[:2]) if pkg else None
info = Info()
expect(m.C_GetInfo(ref(info)), "OK", "C_GetInfo (the exported symbol)")
report((info.cryptokiVersion.major, info.cryptokiVersion.minor) == (2, 40),
       "the exported C_GetInfo says 2.40 (%d.%d)" % (info.cryptokiVersion.major, info.cryptokiVersion.minor))
report(want_lib is None or (info.libraryVersion.major, info.libraryVersion.minor) == want_lib,
       "libraryVersion %d.%d is configure's %s" % (info.libraryVersion.major, info.libraryVersion.minor, pkg))
GETINFO = ctypes.CFUNCTYPE(UL, P)
for ver in ((3, 0), (2, 40)):
    iface = ctypes.POINTER(Interface)()
    v = Version(*ver)
    rv = m.C_GetInterface(b"PKCS 11", ref(v), ref(iface), 0)
    fl = iface.contents.pFunctionList if rv == 0 else None
    # CK_FUNCTION_LIST: a 2-byte version padded to 8, then C_Initialize, C_Finalize, C_GetInfo.
    gi = GETINFO(ctypes.cast(fl + 8 + 2 * 8, ctypes.POINTER(P)).contents.value) if fl else None
    info = Info()
    ok = gi is not None and gi(ref(info)) == 0
    report(ok and (info.cryptokiVersion.major, info.cryptokiVersion.minor) == ver,
           "C_GetInfo of the %d.%d interface says %d.%d" % (ver + (info.cryptokiVersion.major,
                                                                    info.cryptokiVersion.minor)))

# ---- slots and tokens (5.5) ----
slots, n = (UL * 8)(), UL(8)
expect(m.C_GetSlotList(1, ref(slots), ref(n)), "OK", "C_GetSlotList")
slot = slots[0]
expect(m.C_GetSlotList(1, None, None), "ARGUMENTS_BAD", "C_GetSlotList with a NULL pulCount")
n = UL(0)
expect(m.C_GetSlotList(1, ref(slots), ref(n)), "BUFFER_TOO_SMALL", "C_GetSlotList into 0 places")
expect(m.C_GetSlotInfo(BAD, ref((ctypes.c_char * 256)())), "SLOT_ID_INVALID", "C_GetSlotInfo of an unknown slot")
expect(m.C_GetSlotInfo(slot, None), "ARGUMENTS_BAD", "C_GetSlotInfo with a NULL pInfo")
ti = TokenInfo()
expect(m.C_GetTokenInfo(BAD, ref(ti)), "SLOT_ID_INVALID", "C_GetTokenInfo of an unknown slot")
expect(m.C_GetTokenInfo(slot, None), "ARGUMENTS_BAD", "C_GetTokenInfo with a NULL pInfo")
expect(m.C_GetTokenInfo(slot, ref(ti)), "OK", "C_GetTokenInfo")
report(ti.flags & CKF_RNG, "the token claims CKF_RNG (flags 0x%x)" % ti.flags)
wp = bool(ti.flags & CKF_WRITE_PROTECTED)
ev = UL(0)
expect(m.C_WaitForSlotEvent(CKF_DONT_BLOCK, None, None), "ARGUMENTS_BAD", "C_WaitForSlotEvent with a NULL pSlot")
expect(m.C_WaitForSlotEvent(CKF_DONT_BLOCK, ref(ev), ref(ev)), "ARGUMENTS_BAD",
       "C_WaitForSlotEvent with a non-NULL pReserved")
expect(m.C_GetMechanismList(BAD, None, ref(UL(0))), "SLOT_ID_INVALID", "C_GetMechanismList of an unknown slot")
expect(m.C_GetMechanismList(slot, None, None), "ARGUMENTS_BAD", "C_GetMechanismList with a NULL pulCount")
mi = (UL * 3)()
expect(m.C_GetMechanismInfo(BAD, CKM_RSA_PKCS, ref(mi)), "SLOT_ID_INVALID", "C_GetMechanismInfo of an unknown slot")
expect(m.C_GetMechanismInfo(slot, CKM_RSA_PKCS, None), "ARGUMENTS_BAD", "C_GetMechanismInfo with a NULL pInfo")
expect(m.C_GetMechanismInfo(slot, BAD, None), "ARGUMENTS_BAD",
       "C_GetMechanismInfo with an unknown mechanism and a NULL pInfo (arguments first)")
expect(m.C_GetMechanismInfo(slot, BAD, ref(mi)), "MECHANISM_INVALID", "C_GetMechanismInfo of an unknown mechanism")

# ---- sessions (5.6) ----
h = UL(0)
expect(m.C_OpenSession(BAD, CKF_SERIAL_SESSION, None, None, ref(h)), "SLOT_ID_INVALID",
       "C_OpenSession on an unknown slot")
expect(m.C_OpenSession(slot, 0, None, None, ref(h)), "SESSION_PARALLEL_NOT_SUPPORTED",
       "C_OpenSession without CKF_SERIAL_SESSION")
expect(m.C_OpenSession(slot, CKF_SERIAL_SESSION, None, None, None), "ARGUMENTS_BAD",
       "C_OpenSession with a NULL phSession")
rv = m.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, None, None, ref(h))
if wp:
    expect(rv, "TOKEN_WRITE_PROTECTED", "C_OpenSession read-write on a token that says CKF_WRITE_PROTECTED")
else:
    expect(rv, "OK", "C_OpenSession read-write on a token that does not say CKF_WRITE_PROTECTED")
    m.C_CloseSession(h.value)
expect(m.C_OpenSession(slot, CKF_SERIAL_SESSION, None, None, ref(h)), "OK", "C_OpenSession read-only")
s = h.value
expect(m.C_CloseSession(BAD), "SESSION_HANDLE_INVALID", "C_CloseSession of an unknown session")
expect(m.C_CloseAllSessions(BAD), "SLOT_ID_INVALID", "C_CloseAllSessions of an unknown slot")
si = (UL * 4)()
expect(m.C_GetSessionInfo(BAD, ref(si)), "SESSION_HANDLE_INVALID", "C_GetSessionInfo of an unknown session")
expect(m.C_GetSessionInfo(s, None), "ARGUMENTS_BAD", "C_GetSessionInfo with a NULL pInfo")
expect(m.C_GetFunctionStatus(s), "FUNCTION_NOT_PARALLEL", "C_GetFunctionStatus")
expect(m.C_CancelFunction(s), "FUNCTION_NOT_PARALLEL", "C_CancelFunction")

# ---- login (5.6) ----
expect(m.C_Login(BAD, CKU_USER, pin, len(pin)), "SESSION_HANDLE_INVALID", "C_Login on an unknown session")
expect(m.C_Login(s, 7, pin, len(pin)), "USER_TYPE_INVALID", "C_Login as user type 7")
expect(m.C_Login(s, CKU_SO, puk, len(puk)), "SESSION_READ_ONLY_EXISTS",
       "C_Login(CKU_SO) while a read-only session exists")
expect(m.C_Login(s, CKU_CONTEXT_SPECIFIC, pin, len(pin)), "OPERATION_NOT_INITIALIZED",
       "C_Login(CKU_CONTEXT_SPECIFIC) with no operation")
expect(m.C_Logout(BAD), "SESSION_HANDLE_INVALID", "C_Logout on an unknown session")
expect(m.C_Logout(s), "USER_NOT_LOGGED_IN", "C_Logout before any login")
expect(m.C_Login(s, CKU_USER, None, 6), "ARGUMENTS_BAD", "C_Login with a NULL PIN and a length")
expect(m.C_Login(s, CKU_USER, pin, len(pin)), "OK", "C_Login(CKU_USER)")
expect(m.C_Login(s, CKU_USER, pin, len(pin)), "USER_ALREADY_LOGGED_IN", "C_Login(CKU_USER) again")

# ---- objects (5.7) ----
key9c, cert9c = find(s, CKO_PRIVATE_KEY, 2), find(s, CKO_CERTIFICATE, 2)
key9d = find(s, CKO_PRIVATE_KEY, 3)
report(key9c and cert9c and key9d, "found the 9C and 9D keys and the 9C certificate")
lab = ctypes.create_string_buffer(b"x")
tmpl = (Attr * 1)(Attr(CKA_LABEL, ctypes.cast(lab, P), 1))
oh = UL(0)
expect(m.C_CreateObject(s, ref(tmpl), 1, None), "ARGUMENTS_BAD", "C_CreateObject with a NULL phObject")
expect(m.C_CreateObject(s, None, 1, ref(oh)), "ARGUMENTS_BAD", "C_CreateObject with a NULL template of 1")
expect(m.C_CreateObject(BAD, ref(tmpl), 1, ref(oh)), "SESSION_HANDLE_INVALID", "C_CreateObject on an unknown session")
tv = ctypes.c_ubyte(1)
tok = (Attr * 2)(Attr(CKA_LABEL, ctypes.cast(lab, P), 1), Attr(CKA_TOKEN, ref(tv), 1))
expect(m.C_CreateObject(s, ref(tok), 2, ref(oh)), "TOKEN_WRITE_PROTECTED" if wp else "SESSION_READ_ONLY",
       "C_CreateObject of a token object in a read-only session")
expect(m.C_CopyObject(s, cert9c, ref(tmpl), 1, None), "ARGUMENTS_BAD", "C_CopyObject with a NULL phNewObject")
expect(m.C_CopyObject(s, BAD, ref(tmpl), 1, ref(oh)), "OBJECT_HANDLE_INVALID", "C_CopyObject of an unknown object")
expect(m.C_DestroyObject(s, BAD), "OBJECT_HANDLE_INVALID", "C_DestroyObject of an unknown object")
expect(m.C_DestroyObject(BAD, cert9c), "SESSION_HANDLE_INVALID", "C_DestroyObject on an unknown session")
expect(m.C_GetObjectSize(s, cert9c, None), "ARGUMENTS_BAD", "C_GetObjectSize with a NULL pulSize")
expect(m.C_GetObjectSize(s, BAD, ref(oh)), "OBJECT_HANDLE_INVALID", "C_GetObjectSize of an unknown object")
expect(m.C_GetAttributeValue(s, cert9c, None, 1), "ARGUMENTS_BAD", "C_GetAttributeValue with a NULL template of 1")
expect(m.C_GetAttributeValue(s, BAD, ref(tmpl), 1), "OBJECT_HANDLE_INVALID",
       "C_GetAttributeValue of an unknown object")
expect(m.C_SetAttributeValue(s, cert9c, None, 1), "ARGUMENTS_BAD", "C_SetAttributeValue with a NULL template of 1")
expect(m.C_SetAttributeValue(s, BAD, ref(tmpl), 1), "OBJECT_HANDLE_INVALID",
       "C_SetAttributeValue of an unknown object")
cnt = UL(0)
found = (UL * 4)()
expect(m.C_FindObjects(s, ref(found), 4, ref(cnt)), "OPERATION_NOT_INITIALIZED", "C_FindObjects with no search")
expect(m.C_FindObjectsFinal(s), "OPERATION_NOT_INITIALIZED", "C_FindObjectsFinal with no search")
expect(m.C_FindObjectsInit(s, None, 1), "ARGUMENTS_BAD", "C_FindObjectsInit with a NULL template of 1")
expect(m.C_FindObjectsInit(BAD, None, 0), "SESSION_HANDLE_INVALID", "C_FindObjectsInit on an unknown session")
expect(m.C_FindObjectsInit(s, None, 0), "OK", "C_FindObjectsInit of everything")
expect(m.C_FindObjectsInit(s, None, 0), "OPERATION_ACTIVE", "C_FindObjectsInit during a search")
expect(m.C_FindObjects(s, None, 4, ref(cnt)), "ARGUMENTS_BAD", "C_FindObjects with a NULL phObject")
expect(m.C_FindObjects(s, ref(found), 4, None), "ARGUMENTS_BAD", "C_FindObjects with a NULL pulObjectCount")
expect(m.C_FindObjectsFinal(s), "OK", "C_FindObjectsFinal")

# ---- signing (5.11) and decryption (5.9) ----
mech = Mech(CKM_SHA256_RSA_PKCS, None, 0)
sig, sl = ctypes.create_string_buffer(512), UL(512)
expect(m.C_SignInit(s, ref(mech), BAD), "KEY_HANDLE_INVALID", "C_SignInit with an unknown key")
expect(m.C_SignInit(BAD, ref(mech), key9c), "SESSION_HANDLE_INVALID", "C_SignInit on an unknown session")
expect(m.C_Sign(s, b"x", 1, sig, ref(sl)), "OPERATION_NOT_INITIALIZED", "C_Sign with no operation")
expect(m.C_SignUpdate(s, b"x", 1), "OPERATION_NOT_INITIALIZED", "C_SignUpdate with no operation")
expect(m.C_SignFinal(s, sig, ref(sl)), "OPERATION_NOT_INITIALIZED", "C_SignFinal with no operation")
expect(m.C_SignInit(s, ref(mech), key9c), "OK", "C_SignInit")
expect(m.C_SignInit(s, ref(mech), key9c), "OPERATION_ACTIVE", "C_SignInit during an operation")
expect(m.C_Sign(s, None, 5, sig, ref(sl)), "ARGUMENTS_BAD", "C_Sign with NULL data of length 5")
expect(m.C_Sign(s, b"x", 1, sig, ref(sl)), "OPERATION_NOT_INITIALIZED",
       "C_Sign's error (not a length query) ended the operation")
expect(m.C_SignInit(s, ref(mech), key9c), "OK", "C_SignInit again")
expect(m.C_Sign(s, b"x", 1, sig, None), "ARGUMENTS_BAD", "C_Sign with a NULL pulSignatureLen")
expect(m.C_SignInit(s, ref(mech), key9c), "OK", "C_SignInit after that error (it ended the operation)")
expect(m.C_SignUpdate(s, None, 5), "ARGUMENTS_BAD", "C_SignUpdate with NULL data of length 5")
expect(m.C_SignInit(s, ref(mech), key9c), "OK", "C_SignInit after C_SignUpdate's error")
expect(m.C_SignFinal(s, sig, None), "ARGUMENTS_BAD", "C_SignFinal with a NULL pulSignatureLen")
expect(m.C_SignInit(s, None, 0), "OK", "C_SignInit with a NULL mechanism ends an operation (3.0)")
dm = Mech(CKM_RSA_PKCS, None, 0)
expect(m.C_DecryptInit(s, ref(dm), BAD), "KEY_HANDLE_INVALID", "C_DecryptInit with an unknown key")
expect(m.C_Decrypt(s, sig, 256, sig, ref(sl)), "OPERATION_NOT_INITIALIZED", "C_Decrypt with no operation")
expect(m.C_DecryptInit(s, ref(dm), key9d), "OK", "C_DecryptInit")
expect(m.C_Decrypt(s, None, 256, sig, ref(sl)), "ARGUMENTS_BAD", "C_Decrypt with NULL data of length 256")
expect(m.C_DecryptInit(s, ref(dm), key9d), "OK", "C_DecryptInit after that error (it ended the operation)")
expect(m.C_Decrypt(s, sig, 256, sig, None), "ARGUMENTS_BAD", "C_Decrypt with a NULL pulDataLen")

# ---- random numbers (5.15) ----
buf = ctypes.create_string_buffer(64)
expect(m.C_GenerateRandom(s, None, 16), "ARGUMENTS_BAD", "C_GenerateRandom into a NULL buffer")
expect(m.C_GenerateRandom(BAD, buf, 16), "SESSION_HANDLE_INVALID", "C_GenerateRandom on an unknown session")
expect(m.C_SeedRandom(s, None, 5), "ARGUMENTS_BAD", "C_SeedRandom with a NULL seed of length 5")
expect(m.C_SeedRandom(s, b"seed!", 5), "RANDOM_SEED_NOT_SUPPORTED", "C_SeedRandom")
expect(m.C_SeedRandom(BAD, b"seed!", 5), "SESSION_HANDLE_INVALID", "C_SeedRandom on an unknown session")
seen = []
for n in (1, 7, 8, 9, 33, 1000, 64):
    b = ctypes.create_string_buffer(b"\xA5" * (n + 4), n + 4)
    rv = m.C_GenerateRandom(s, b, n)
    report(rv == 0 and b.raw[n:] == b"\xA5" * 4, "C_GenerateRandom of %d bytes: CKR_OK, nothing written past them "
           "(rv 0x%x)" % (n, rv))
    seen.append(b.raw[:n])
report(len(seen[-1]) == 64 and seen[-1] != bytes(64) and len(set(seen[-1])) > 16,
       "64 random bytes are not all alike (%d distinct)" % len(set(seen[-1])))
report(len(set(seen[5])) > 200, "1000 random bytes, asked of the card 256 at a time, are not all alike "
       "(%d distinct)" % len(set(seen[5])))
a, b2 = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
report(m.C_GenerateRandom(s, a, 32) == 0 and m.C_GenerateRandom(s, b2, 32) == 0 and a.raw != b2.raw,
       "two C_GenerateRandom calls of 32 bytes differ")
expect(m.C_GenerateRandom(s, buf, 0), "OK", "C_GenerateRandom of 0 bytes")

# ---- the login ends with the application's last session on the token (5.6) ----
CKS_RO_PUBLIC_SESSION, CKS_RO_USER_FUNCTIONS = 0, 1
apdu_log = os.path.join(os.environ["IMZA_CARD_DIR"], "apdu.log")


def resets():
    """VERIFY P1=FF (the card forgets the PIN) in the card's log so far."""
    with open(apdu_log) as f:
        return sum(1 for line in f if line.startswith("> 0020FF80"))


m.C_CloseAllSessions(slot)
h1, h2 = UL(0), UL(0)
m.C_OpenSession(slot, CKF_SERIAL_SESSION, None, None, ref(h1))
m.C_OpenSession(slot, CKF_SERIAL_SESSION, None, None, ref(h2))
expect(m.C_Login(h1.value, CKU_USER, pin, len(pin)), "OK", "C_Login in the first of two sessions")
m.C_CloseSession(h1.value)
m.C_GetSessionInfo(h2.value, ref(si))
report(si[1] == CKS_RO_USER_FUNCTIONS, "with one session still open the login stays (state %d)" % si[1])
before = resets()
m.C_CloseSession(h2.value)
m.C_OpenSession(slot, CKF_SERIAL_SESSION, None, None, ref(h1))
m.C_GetSessionInfo(h1.value, ref(si))
report(si[1] == CKS_RO_PUBLIC_SESSION, "after the last session closed a new one is public (state %d)" % si[1])
report(p11_ctypes.find(m, h1.value, 3, 3) == 0, "and the 9D private key is not listed in it")
for _ in range(50):
    if resets() > before:
        break
    time.sleep(0.05)
report(resets() == before + 1, "the card was told to forget the PIN once (VERIFY P1=FF: %d)" % (resets() - before))
m.C_CloseSession(h1.value)

expect(m.C_Finalize(None), "OK", "C_Finalize")
