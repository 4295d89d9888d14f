#!/usr/bin/python3
"""https_sign: web signatures for make bench (tests/bench/run sets them beside the same key's PKCS#11
signature). N POST /v1/sign, CAdES-BES with the card's 9C key, on one kept-alive HTTPS connection, the
test pinentry answering the PIN dialog; then the dialog process alone, N times: the test pinentry
spawned and asked for a PIN the way imzad asks. Prints `bench NAME VALUE ms` lines (p50, p99).

Usage: https_sign.py N. Environment: a stack's (IMZA_HTTPS_URL, IMZA_LOCAL_CA, IMZA_PIN,
IMZA_STACK_DIR), and IMZA_TEST_PINENTRY (the test pinentry's path)."""
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

N = int(sys.argv[1])
URL = os.environ["IMZA_HTTPS_URL"]
HOST, PORT = URL.split("//", 1)[1].rsplit(":", 1)
ORIGIN = "https://bench.example"


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def request(conn, method, path, body=None):
    headers = {"Origin": ORIGIN}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("https_sign: %s %s: %d %s" % (method, path, r.status, data[:200]))
    return json.loads(data)


ctx = ssl.create_default_context(cafile=os.environ["IMZA_LOCAL_CA"])
conn = http.client.HTTPSConnection(HOST, int(PORT), context=ctx)
# The stack's pinentry script says "consent always": the first call grants the bench's origin.
certs = request(conn, "GET", "/v1/certificates")["certificates"]
cert = [c["id"] for c in certs if c["qualified"]][0]

web = []
for i in range(N):
    body = json.dumps({"certificate": cert, "text": "bench %d" % i, "format": "cades-bes"})
    t0 = time.perf_counter()
    request(conn, "POST", "/v1/sign", body)
    web.append((time.perf_counter() - t0) * 1000)
conn.close()

# The dialog alone: what imzad waits for when the user answers at once.
script = os.path.join(os.environ["IMZA_STACK_DIR"], "bench-pinentry.script")
with open(script, "w") as f:
    f.write("pin %s\n" % os.environ["IMZA_PIN"])
env = dict(os.environ, IMZA_TEST_PINENTRY_SCRIPT=script, IMZA_TEST_PINENTRY_LOG=os.devnull)
env.pop("LD_PRELOAD", None)
dialog = []
for _ in range(N):
    t0 = time.perf_counter()
    p = subprocess.Popen([os.environ["IMZA_TEST_PINENTRY"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    p.stdout.readline()
    for cmd in (b"SETTITLE imza\n", b"SETDESC bench\n", b"SETPROMPT PIN\n", b"GETPIN\n"):
        p.stdin.write(cmd)
        p.stdin.flush()
        while not p.stdout.readline().startswith((b"OK", b"ERR")):
            pass
    p.stdin.write(b"BYE\n")
    p.stdin.close()
    p.wait()
    dialog.append((time.perf_counter() - t0) * 1000)

for name, xs in (("https_sign", web), ("pin_dialog_process", dialog)):
    print("bench %s_p50 %.2f ms" % (name, pct(xs, 50)))
    print("bench %s_p99 %.2f ms" % (name, pct(xs, 99)))
