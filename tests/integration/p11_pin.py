#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The PIN's life through imza-pkcs11.so, with ctypes: C_SetPIN and C_InitPIN's session rules (read-only
sessions, the SO's login with the PUK, which nothing sends to the card, and when the PUK is forgotten),
and (stale) how soon imza's token flags show another program's PIN try. Prints "ok - ..." / "not ok -
..." lines for run_checks in tap.sh.
    p11_pin.py rules
    p11_pin.py stale WRONG_CMD... -- RIGHT_CMD...   (each a shell command another program runs)
    p11_pin.py setpin OLD NEW   (C_SetPIN in a read-write session with no login; prints the code)"""
import ctypes
import os
import subprocess
import sys
import time

import p11_ctypes
from p11_ctypes import UL, P, TokenInfo, report, ref

CKR = {
    "OK": 0x0, "ARGUMENTS_BAD": 0x7, "PIN_INCORRECT": 0xA0, "PIN_INVALID": 0xA1, "PIN_LEN_RANGE": 0xA2,
    "PIN_LOCKED": 0xA4, "SESSION_READ_ONLY": 0xB5, "SESSION_READ_ONLY_EXISTS": 0xB7,
    "SESSION_READ_WRITE_SO_EXISTS": 0xB8, "USER_ALREADY_LOGGED_IN": 0x100, "USER_NOT_LOGGED_IN": 0x101,
    "USER_ANOTHER_ALREADY_LOGGED_IN": 0x104, "SESSION_HANDLE_INVALID": 0xB3,
}
NAME = {v: k for k, v in CKR.items()}
CKF_RW_SESSION, CKF_SERIAL_SESSION = 2, 4
CKU_SO, CKU_USER = 0, 1
CKS_RW_PUBLIC_SESSION, CKS_RW_SO_FUNCTIONS = 2, 4
CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED = 0x10000, 0x20000, 0x40000


pin = os.environ["IMZA_PIN"].encode()
puk = os.environ["IMZA_PUK"].encode()
apdu_log = os.path.join(os.environ["IMZA_CARD_DIR"], "apdu.log")
SIGS = {
    "C_Initialize": [P], "C_Finalize": [P], "C_GetSlotList": [ctypes.c_ubyte, P, P], "C_GetTokenInfo": [UL, P],
    "C_OpenSession": [UL, UL, P, P, P], "C_CloseSession": [UL], "C_GetSessionInfo": [UL, P],
    "C_Login": [UL, UL, P, UL], "C_Logout": [UL], "C_InitPIN": [UL, P, UL], "C_SetPIN": [UL, P, UL, P, UL],
}
m = p11_ctypes.load(SIGS)


def expect(rv, want, what):
    p11_ctypes.expect(CKR, rv, want, what)


def first_slot():
    slots, n = (UL * 8)(), UL(8)
    m.C_GetSlotList(1, ref(slots), ref(n))
    return slots[0]


def open_session(slot, rw=True):
    h = UL(0)
    rv = m.C_OpenSession(slot, CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0), None, None, ref(h))
    return rv, h.value


def state(s):
    si = (UL * 4)()
    m.C_GetSessionInfo(s, ref(si))
    return si[1]


def apdus():
    with open(apdu_log) as f:
        return sum(1 for line in f if line.startswith(">"))


def flags(slot):
    ti = TokenInfo()
    m.C_GetTokenInfo(slot, ref(ti))
    return ti.flags


def rules():
    slot = first_slot()
    rv, ro = open_session(slot, rw=False)
    expect(m.C_SetPIN(ro, pin, len(pin), pin, len(pin)), "SESSION_READ_ONLY", "C_SetPIN in a read-only session")
    expect(m.C_InitPIN(ro, pin, len(pin)), "SESSION_READ_ONLY", "C_InitPIN in a read-only session")
    expect(m.C_Login(ro, CKU_SO, puk, len(puk)), "SESSION_READ_ONLY_EXISTS",
           "C_Login(CKU_SO) while a read-only session exists")
    m.C_CloseSession(ro)
    rv, s = open_session(slot)
    expect(m.C_SetPIN(s, None, 0, pin, len(pin)), "ARGUMENTS_BAD", "C_SetPIN with a NULL old PIN")
    expect(m.C_SetPIN(s, pin, len(pin), None, 0), "ARGUMENTS_BAD", "C_SetPIN with a NULL new PIN")
    expect(m.C_InitPIN(s, pin, len(pin)), "USER_NOT_LOGGED_IN", "C_InitPIN without the SO's login")
    expect(m.C_Login(s, CKU_SO, b"12345", 5), "PIN_LEN_RANGE", "C_Login(CKU_SO) with a 5-byte PUK")
    expect(m.C_Login(s, CKU_SO, b"123456789", 9), "PIN_LEN_RANGE", "C_Login(CKU_SO) with a 9-byte PUK")
    before = apdus()
    expect(m.C_Login(s, CKU_SO, puk, len(puk)), "OK", "C_Login(CKU_SO) with the PUK")
    report(apdus() == before, "the SO's login sent nothing to the card (%d APDUs)" % (apdus() - before))
    report(state(s) == CKS_RW_SO_FUNCTIONS, "the session is in the R/W SO functions state (%d)" % state(s))
    expect(m.C_Login(s, CKU_SO, puk, len(puk)), "USER_ALREADY_LOGGED_IN", "C_Login(CKU_SO) twice")
    expect(m.C_Login(s, CKU_USER, pin, len(pin)), "USER_ANOTHER_ALREADY_LOGGED_IN",
           "C_Login(CKU_USER) while the SO is logged in")
    rv, ro = open_session(slot, rw=False)
    expect(rv, "SESSION_READ_WRITE_SO_EXISTS", "a read-only session while the SO is logged in")
    expect(m.C_Logout(s), "OK", "C_Logout of the SO")
    report(state(s) == CKS_RW_PUBLIC_SESSION, "public again after the SO's logout")
    expect(m.C_InitPIN(s, pin, len(pin)), "USER_NOT_LOGGED_IN", "C_InitPIN after the SO's logout: the PUK is gone")
    expect(m.C_Login(s, CKU_SO, puk, len(puk)), "OK", "C_Login(CKU_SO) again")
    with open(apdu_log) as f:
        n24 = sum(1 for line in f if line.startswith("> 00240081"))
    expect(m.C_SetPIN(s, puk, len(puk), puk, len(puk)), "OK", "C_SetPIN as the SO: the PUK (here to itself)")
    with open(apdu_log) as f:
        report(sum(1 for line in f if line.startswith("> 00240081")) == n24 + 1,
               "it was CHANGE REFERENCE DATA of the PUK (00 24 00 81)")
    m.C_CloseSession(s)
    rv, s = open_session(slot)
    report(state(s) == CKS_RW_PUBLIC_SESSION, "the SO's login ended with its last session")
    expect(m.C_InitPIN(s, pin, len(pin)), "USER_NOT_LOGGED_IN", "C_InitPIN in a new session: the PUK is gone")
    # C_InitPIN takes the PUK whatever the outcome: a new PIN the card cannot hold never reaches it.
    m.C_Login(s, CKU_SO, puk, len(puk))
    before = apdus()
    expect(m.C_InitPIN(s, b"12345", 5), "PIN_LEN_RANGE", "C_InitPIN with a 5-digit PIN")
    report(apdus() == before, "that PIN never reached the card")
    expect(m.C_InitPIN(s, pin, len(pin)), "USER_NOT_LOGGED_IN", "the PUK went with that C_InitPIN")
    m.C_Logout(s)
    m.C_CloseSession(s)


def stale(wrong, right):
    slot = first_slot()
    rv, s = open_session(slot)
    time.sleep(1.1)
    f0 = flags(slot)
    report(not f0 & CKF_USER_PIN_COUNT_LOW, "imza's flags start without 'count low' (0x%x)" % f0)
    for what, cmd, low in (("a wrong PIN", wrong, True), ("the right PIN", right, False)):
        subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0, n0 = time.monotonic(), apdus()
        seen = None
        calls = 0
        while time.monotonic() - t0 < 3.0:
            calls += 1
            if bool(flags(slot) & CKF_USER_PIN_COUNT_LOW) == low:
                seen = time.monotonic() - t0
                break
            time.sleep(0.05)
        report(seen is not None and seen <= 2.0, "another program's %s shows in imza's flags within 2 s (%s, %d calls)"
               % (what, "%.2f s" % seen if seen is not None else "not seen", calls))
        # A second of C_GetTokenInfo calls: at most two empty VERIFYs reach the card.
        t1, n1 = time.monotonic(), apdus()
        while time.monotonic() - t1 < 1.0:
            flags(slot)
            time.sleep(0.02)
        n = apdus() - n1
        report(n <= 2, "50 calls in a second cost the card %d APDUs (at most 2)" % n)
    m.C_CloseSession(s)


m.C_Initialize(None)
if sys.argv[1] == "rules":
    rules()
elif sys.argv[1] == "setpin":
    rv, s = open_session(first_slot())
    old, new = sys.argv[2].encode(), sys.argv[3].encode()
    rv = m.C_SetPIN(s, old, len(old), new, len(new))
    print("C_SetPIN: CKR_" + NAME.get(rv, hex(rv)))
elif sys.argv[1] == "stale":
    i = sys.argv.index("--")
    stale(" ".join(sys.argv[2:i]), " ".join(sys.argv[i + 1:]))
m.C_Finalize(None)
