#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""C_Finalize while another thread waits in C_WaitForSlotEvent: the wait ends with
CKR_CRYPTOKI_NOT_INITIALIZED, and nothing of that application survives in imzad: after a new
C_Initialize no session is logged in and a new wait blocks again. Prints TAP-style lines."""
import ctypes
import os
import threading
import time

CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
CKR_NO_EVENT = 0x8
CKF_DONT_BLOCK = 1
CKF_SERIAL_SESSION = 4
CKU_USER = 1

m = ctypes.CDLL(os.environ["IMZA_MODULE"])
m.C_WaitForSlotEvent.argtypes = [ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p]
m.C_OpenSession.argtypes = [ctypes.c_ulong, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p,
                            ctypes.POINTER(ctypes.c_ulong)]
m.C_Login.argtypes = [ctypes.c_ulong, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong]
m.C_GetSessionInfo.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
m.C_GetSlotList.argtypes = [ctypes.c_ubyte, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong)]
pin = os.environ["IMZA_PIN"].encode()


def report(ok, what):
    print(("ok" if ok else "not ok") + " - " + what, flush=True)


def open_session():
    slots = (ctypes.c_ulong * 8)()
    n = ctypes.c_ulong(8)
    m.C_GetSlotList(1, slots, ctypes.byref(n))
    h = ctypes.c_ulong(0)
    rv = m.C_OpenSession(slots[0], CKF_SERIAL_SESSION, None, None, ctypes.byref(h))
    return rv, h.value


def state(h):
    info = (ctypes.c_ulong * 4)()
    m.C_GetSessionInfo(h, info)
    return info[1]


def drain():
    s = ctypes.c_ulong()
    while m.C_WaitForSlotEvent(CKF_DONT_BLOCK, ctypes.byref(s), None) == 0:
        pass


result = {}


def waiter():
    s = ctypes.c_ulong(0)
    result["rv"] = m.C_WaitForSlotEvent(0, ctypes.byref(s), None)


m.C_Initialize(None)
rv, h = open_session()
report(rv == 0 and m.C_Login(h, CKU_USER, pin, len(pin)) == 0 and state(h) == 1, "logged in (CKS_RO_USER_FUNCTIONS)")
drain()
t = threading.Thread(target=waiter)
t.start()
time.sleep(0.3)
m.C_Finalize(None)
t.join(5)
report(not t.is_alive() and result.get("rv") == CKR_CRYPTOKI_NOT_INITIALIZED,
       "C_Finalize ends the blocked wait with CKR_CRYPTOKI_NOT_INITIALIZED")
time.sleep(0.3)
m.C_Initialize(None)
rv, h = open_session()
report(rv == 0 and state(h) == 0, "after a new C_Initialize the session is public (the login did not survive)")
drain()
s = ctypes.c_ulong()
report(m.C_WaitForSlotEvent(CKF_DONT_BLOCK, ctypes.byref(s), None) == CKR_NO_EVENT,
       "no stale wait: a non-blocking wait says CKR_NO_EVENT")
t = threading.Thread(target=waiter)
result.clear()
t.start()
time.sleep(0.5)
report(t.is_alive(), "a new blocking wait blocks")
m.C_Finalize(None)
t.join(5)
report(not t.is_alive(), "and ends with C_Finalize")
