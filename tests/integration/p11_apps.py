#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Several applications (processes) on one imzad: logins kept apart, listings never wait for another
application's card operation, recovery after pcscd restarts and after a card is pulled mid-signature.
The driver runs workers (this script with `worker`), one process each, that take commands on stdin and
answer one line each. Prints TAP-style lines."""
import ctypes
import hashlib
import os
import subprocess
import sys
import threading
import time

UL = ctypes.c_ulong
CKO_PRIVATE_KEY, CKA_CLASS, CKA_ID, CKA_VALUE, CKA_LABEL = 3, 0, 0x102, 0x11, 0x3
CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA256 = 0x40, 0x1044
CKR_USER_NOT_LOGGED_IN, CKR_DEVICE_REMOVED = 0x101, 0x32


class Attr(ctypes.Structure):
    _fields_ = [("type", UL), ("pValue", ctypes.c_void_p), ("ulValueLen", UL)]


class Mech(ctypes.Structure):
    _fields_ = [("mechanism", UL), ("pParameter", ctypes.c_void_p), ("ulParameterLen", UL)]


def worker():
    m = ctypes.CDLL(os.environ["IMZA_MODULE"])
    pin = os.environ["IMZA_PIN"].encode()
    m.C_Initialize(None)
    state = {"s": 0}

    def session():
        slots, n = (UL * 8)(), UL(8)
        m.C_GetSlotList(1, slots, ctypes.byref(n))
        if n.value == 0:
            return 0
        s = UL(0)
        m.C_OpenSession(slots[0], 4, None, None, ctypes.byref(s))
        return s.value

    def key(ident):
        c, i = UL(CKO_PRIVATE_KEY), ctypes.c_ubyte(ident)
        t = (Attr * 2)(Attr(CKA_CLASS, ctypes.cast(ctypes.byref(c), ctypes.c_void_p), ctypes.sizeof(c)),
                       Attr(CKA_ID, ctypes.cast(ctypes.byref(i), ctypes.c_void_p), 1))
        m.C_FindObjectsInit(state["s"], t, 2)
        o, n = UL(0), UL(0)
        m.C_FindObjects(state["s"], ctypes.byref(o), 1, ctypes.byref(n))
        m.C_FindObjectsFinal(state["s"])
        return o.value

    def listing():
        """What a browser does at start: slots, tokens, every object's label and value."""
        s = session()
        m.C_FindObjectsInit(s, None, 0)
        objs, n = (UL * 32)(), UL(0)
        m.C_FindObjects(s, objs, 32, ctypes.byref(n))
        m.C_FindObjectsFinal(s)
        buf = ctypes.create_string_buffer(4096)
        for o in objs[:n.value]:
            t = (Attr * 1)(Attr(CKA_VALUE, ctypes.cast(buf, ctypes.c_void_p), 4096))
            m.C_GetAttributeValue(s, o, t, 1)
        m.C_CloseSession(s)
        return n.value

    def sign(ident, context_login=True):
        k = key(ident)
        mech = Mech(CKM_SHA256_RSA_PKCS if ident == 2 else CKM_ECDSA_SHA256, None, 0)
        rv = m.C_SignInit(state["s"], ctypes.byref(mech), k if k else 2 * 3)
        if rv:
            return rv
        if ident == 2 and context_login:
            rv = m.C_Login(state["s"], 2, pin, len(pin))
            if rv:
                return rv
        sig, ln = ctypes.create_string_buffer(512), UL(512)
        return m.C_Sign(state["s"], b"imza", 4, sig, ctypes.byref(ln))

    for line in sys.stdin:
        cmd = line.split()
        t0 = time.time()
        rv = 0
        if cmd[0] == "open":
            state["s"] = session()
            rv = 0 if state["s"] else 1
        elif cmd[0] == "login":
            rv = m.C_Login(state["s"], 1, pin, len(pin))
        elif cmd[0] == "loginwrong":
            rv = m.C_Login(state["s"], 1, b"000000", 6)
        elif cmd[0] == "logout":
            rv = m.C_Logout(state["s"])
        elif cmd[0] == "sign":
            rv = sign(int(cmd[1]))
        elif cmd[0] == "signinit":
            k = key(int(cmd[1])) or int(cmd[2])
            rv = m.C_SignInit(state["s"], ctypes.byref(Mech(CKM_SHA256_RSA_PKCS, None, 0)), k)
        elif cmd[0] == "handle":
            rv = key(int(cmd[1]))
        elif cmd[0] == "list":
            rv = listing()
        print("%d %.4f" % (rv, time.time() - t0), flush=True)


class App:
    def __init__(self):
        self.p = subprocess.Popen([sys.executable, __file__, "worker"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def send(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()

    def answer(self):
        rv, t = self.p.stdout.readline().split()
        return int(rv), float(t)

    def do(self, cmd):
        self.send(cmd)
        return self.answer()

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def report(ok, what):
    print(("ok" if ok else "not ok") + " - " + what, flush=True)


def stack(*args):
    subprocess.run([os.environ["STACK"], args[0], os.environ["IMZA_STACK_DIR"]] + list(args[1:]), check=True,
                   stdout=subprocess.DEVNULL, env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})


def main():
    a, b = App(), App()
    a.do("open")
    b.do("open")
    report(a.do("login")[0] == 0, "A logs in")
    report(a.do("sign 2")[0] == 0, "A signs with the PIN-protected key")
    h = a.do("handle 2")[0]
    report(b.do("signinit 2 %d" % h)[0] == CKR_USER_NOT_LOGGED_IN,
           "B, without login, gets CKR_USER_NOT_LOGGED_IN for the same key")

    # A's signature stalls on the card for 2 s; B lists meanwhile.
    stack("card", "stall", "2000")
    a.send("sign 2")
    time.sleep(0.2)
    n, t = b.do("list")
    report(n >= 8 and t < 0.2, "B lists %d objects in %.3f s while A's signature stalls 2 s" % (n, t))
    rv, ta = a.answer()
    report(rv == 0 and ta >= 1.9, "A's stalled signature completes (%.2f s)" % ta)
    stack("card", "stall", "0")

    # Logins apart: the latest holder is untouched by the other's logout.
    report(b.do("login")[0] == 0, "B logs in")
    report(a.do("logout")[0] == 0 and b.do("sign 2")[0] == 0, "A logs out: B still signs")
    report(a.do("login")[0] == 0, "A logs in again")
    report(b.do("logout")[0] == 0 and a.do("sign 2")[0] == 0, "B logs out: A still signs")
    # B's login took the card from A: A must log in again, imzad never re-uses a PIN.
    report(b.do("login")[0] == 0, "B logs in (the card is now B's)")
    report(a.do("sign 1")[0] == CKR_USER_NOT_LOGGED_IN, "A's next signature asks for A's own login again")
    report(a.do("login")[0] == 0 and a.do("sign 1")[0] == 0, "A logs in and signs")
    # B's wrong PIN while the card holds A's login: the card forgets A's login first, so no one is
    # left verified by it, and A must log in again.
    b.do("logout")
    report(b.do("loginwrong")[0] == 0xA0, "B's wrong PIN: CKR_PIN_INCORRECT")
    report(card_verify_status() == "63C2", "the card is not left verified (empty VERIFY: %s)" % card_verify_status())
    report(b.do("sign 1")[0] == CKR_USER_NOT_LOGGED_IN, "B's signature after it: CKR_USER_NOT_LOGGED_IN")
    report(a.do("sign 1")[0] == CKR_USER_NOT_LOGGED_IN and a.do("login")[0] == 0 and a.do("sign 1")[0] == 0,
           "A logs in again and signs (the counter is back to 3)")
    # A signature through imzactl (imzad's own signing, as for a web page) with a wrong PIN while the card
    # holds A's login: it starts by making the card forget A's login, so the wrong PIN leaves no one verified.
    report(card_verify_status() == "9000", "A holds the card's login")
    rc, why = imzactl_sign("000000")
    report(rc != 0 and card_verify_status() == "63C2",
           "an imzactl signature with a wrong PIN: refused (%s), the card is not left verified (empty VERIFY: %s)" %
           (why, card_verify_status()))
    rc, why = imzactl_sign(os.environ["IMZA_PIN"])
    report(rc == 0, "then with the right PIN it signs (%s)" % why)
    report(a.do("sign 1")[0] == CKR_USER_NOT_LOGGED_IN and a.do("login")[0] == 0 and a.do("sign 1")[0] == 0,
           "A's login did not survive it: A logs in again and signs")

    # pcscd restarts: slots come back on their own, signing works, no client restarted.
    stack("pcscd", "kill-restart")
    # From the moment pcscd serves again with the card in its reader.
    t0 = time.time()
    back = None
    while time.time() - t0 < 5:
        if b.do("list")[0] >= 8:
            back = time.time() - t0
            break
        time.sleep(0.05)
    report(back is not None and back < 2.0, "pcscd killed and restarted: the token is back %.2f s after pcscd is" %
           (back if back is not None else -1))
    rvs = (a.do("open")[0], a.do("login")[0], a.do("sign 2")[0])
    report(rvs == (0, 0, 0), "A opens a session, logs in and signs again, same process (%s)" % (rvs,))

    # The card pulled in the middle of C_Sign.
    stack("card", "stall", "3000")
    t_start = time.time()
    a.send("sign 1")
    time.sleep(0.5)
    t0 = time.time()
    stack("card", "remove")
    rv, _ = a.answer()
    dt = time.time() - t0
    report(rv == CKR_DEVICE_REMOVED and t0 - t_start >= 0.5 and dt < 1.0,
           "the card pulled mid-signature: C_Sign fails (0x%x) %.2f s after" % (rv, dt))
    stack("card", "stall", "0")
    stack("card", "insert")
    time.sleep(0.3)
    report(a.do("open")[0] == 0 and a.do("login")[0] == 0 and a.do("sign 1")[0] == 0,
           "reinserted: a new session logs in and signs")
    b.close()
    report(card_verify_status().startswith("90"), "A still holds the card's login while it runs")
    a.close()
    time.sleep(0.5)
    report(card_verify_status() == "63C3", "A's process gone: the card forgets the PIN (empty VERIFY: %s)" %
           card_verify_status())


def imzactl_sign(pin):
    """imzactl sign with the 9C certificate, the test pinentry answering pin; (exit status, last words)."""
    with open(os.environ["IMZA_PINENTRY_SCRIPT"], "w") as f:
        f.write("consent always\npin %s\n" % pin)
    der = open(os.path.join(os.environ["IMZA_CARD_DIR"], "9c.crt.der"), "rb").read()
    work = os.environ["IMZA_STACK_DIR"]
    with open(os.path.join(work, "doc.txt"), "w") as f:
        f.write("imza\n")
    p = subprocess.run([os.path.join(os.environ["IMZA_BUILDDIR"], "tools/imzactl"), "sign", "--cert",
                        hashlib.sha256(der).hexdigest(), "--in", os.path.join(work, "doc.txt"), "--out",
                        os.path.join(work, "doc.p7s")], capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    with open(os.environ["IMZA_PINENTRY_SCRIPT"], "w") as f:
        f.write("consent always\npin %s\n" % os.environ["IMZA_PIN"])
    return p.returncode, (p.stdout + p.stderr).strip().replace("\n", " ")[-80:]


def card_verify_status():
    """The card's own answer to an empty VERIFY, from another PC/SC client (pcsc-probe)."""
    probe = os.path.join(os.environ["IMZA_BUILDDIR"], "tests/tools/pcsc-probe")
    out = subprocess.run([probe, "apdu", "00A4040005A000000308", "0020008000"], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}).stdout.split()
    return out[-1] if out else "?"


if len(sys.argv) > 1 and sys.argv[1] == "worker":
    worker()
else:
    main()
