#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The APDUs of a web signature (POST /v1/sign), as the card logged them (IMZA_CARD_DIR/apdu.log, the
PIN masked). Run by web-apdus.sh on a card that keeps its login after a wrong PIN; a PKCS#11
application is p11_apps.py's worker (one process, commands on stdin), another PC/SC program is
pcsc-probe. Prints TAP-style lines."""
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ["IMZA_HTTPS_URL"]
HOST, PORT = URL.split("//", 1)[1].rsplit(":", 1)
ORIGIN = "https://portal.example"
APDU_LOG = os.path.join(os.environ["IMZA_CARD_DIR"], "apdu.log")
PIN = os.environ["IMZA_PIN"]
NO_PRELOAD = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
# The commands by their header (the log masks VERIFY's data).
VERIFY_PIN = "0020008008"
RESET = "0020FF80"
SIGN_9C = "0087079C"
failed = 0


def report(ok, what):
    global failed
    failed += 0 if ok else 1
    print("%s - %s" % ("ok" if ok else "not ok", what), flush=True)


def commands():
    with open(APDU_LOG) as f:
        return [line[2:].split()[0] if len(line) > 2 else "" for line in f if line.startswith("> ")]


def kinds(cmds):
    """Each command named by what it is, for the checks and their messages."""
    out = []
    for c in cmds:
        c = c.upper()
        if c.startswith(VERIFY_PIN):
            out.append("verify")
        elif c.startswith(RESET):
            out.append("reset")
        elif c.startswith(SIGN_9C):
            out.append("sign")
        elif c.startswith("0020008000") or c == "00200080":
            out.append("status")
        else:
            out.append(c[:8])
    return out


def script(pin):
    with open(os.environ["IMZA_PINENTRY_SCRIPT"], "w") as f:
        f.write("consent always\npin %s\n" % pin)


ctx = ssl.create_default_context(cafile=os.environ["IMZA_LOCAL_CA"])
DER = open(os.path.join(os.environ["IMZA_CARD_DIR"], "9c.crt.der"), "rb").read()
CERT_ID = hashlib.sha256(DER).hexdigest()


def web_sign():
    """POST /v1/sign with 9C: (HTTP status, error code or "", the card's commands during it by kind)."""
    before = len(commands())
    conn = http.client.HTTPSConnection(HOST, int(PORT), context=ctx, timeout=30)
    body = json.dumps({"certificate": CERT_ID, "text": "imza", "format": "cades-bes"})
    conn.request("POST", "/v1/sign", body=body, headers={"Origin": ORIGIN, "Content-Type": "application/json"})
    r = conn.getresponse()
    data = json.loads(r.read() or b"{}")
    conn.close()
    return r.status, data.get("error", ""), kinds(commands()[before:])


def card_verify_status():
    """The card's own answer to an empty VERIFY, from another PC/SC program."""
    probe = os.path.join(os.environ["IMZA_BUILDDIR"], "tests/tools/pcsc-probe")
    out = subprocess.run([probe, "apdu", "00A4040005A000000308", "0020008000"], capture_output=True,
                         text=True, env=NO_PRELOAD).stdout.split()
    return out[-1] if out else "?"


class App:
    """A PKCS#11 application: p11_apps.py's worker, one command a line, one answer a line."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "p11_apps.py"), "worker"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def do(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return int(self.p.stdout.readline().split()[0])

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


# The page's origin is granted by the pinentry's "consent always" on its first request.
script(PIN)
status, code, _ = web_sign()
report(status == 200, "a first web signature (the origin granted): %d %s" % (status, code))

# test_web_signature_sends_verify_sign_reset: imzad's every signature ends with the login reset, so with no
# PKCS#11 application logged in there is nothing to reset before: VERIFY, the signature, the reset.
status, code, cmds = web_sign()
report(status == 200 and cmds == ["verify", "sign", "reset"],
       "test_web_signature_sends_verify_sign_reset: %d %s, the card saw %s" % (status, code, cmds))

# test_web_signature_resets_a_pkcs11_login_first: an application logged in holds the card's login; the web
# signature makes the card forget it before its own VERIFY, and the application must log in again.
app = App()
report(app.do("open") == 0 and app.do("login") == 0, "a PKCS#11 application logs in")
report(card_verify_status() == "9000", "it holds the card's login")
status, code, cmds = web_sign()
report(status == 200 and cmds == ["reset", "verify", "sign", "reset"],
       "test_web_signature_resets_a_pkcs11_login_first: %d %s, the card saw %s" % (status, code, cmds))
CKR_USER_NOT_LOGGED_IN = 0x101
report(app.do("sign 1") == CKR_USER_NOT_LOGGED_IN,
       "test_web_signature_resets_a_pkcs11_login_first: the application's login did not survive it")
app.close()
time.sleep(0.3)

# test_wrong_web_pin_leaves_no_login: another PC/SC program verified the PIN (imzad holds no login, so
# nothing is reset first); a wrong PIN on the web is refused and, on this card that keeps an earlier login
# after a wrong PIN, followed by the reset: the card is left with no login at all.
probe = os.path.join(os.environ["IMZA_BUILDDIR"], "tests/tools/pcsc-probe")
pin_hex = (PIN.encode().hex() + "ff" * (8 - len(PIN))).upper()
subprocess.run([probe, "apdu", "00A4040005A000000308", "0020008008" + pin_hex], capture_output=True, env=NO_PRELOAD)
report(card_verify_status() == "9000", "another PC/SC program verified the card's PIN")
script("00000000")
status, code, cmds = web_sign()
report(status == 403 and code == "pin_incorrect" and cmds == ["verify", "reset"],
       "test_wrong_web_pin_leaves_no_login: %d %s, the card saw %s" % (status, code, cmds))
st = card_verify_status()
report(st.startswith("63C"), "test_wrong_web_pin_leaves_no_login: the card holds no login (empty VERIFY: %s)" % st)
# The right PIN puts the counter back for whatever runs next.
script(PIN)
status, code, cmds = web_sign()
report(status == 200 and cmds == ["verify", "sign", "reset"],
       "the right PIN signs again: %d %s, the card saw %s" % (status, code, cmds))
sys.exit(0)
