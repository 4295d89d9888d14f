#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""https_sign: a web signature's cost over the same key's PKCS#11 signature, for make bench (the issue 11
section of tests/bench/run).

Side by side, in alternating rounds, so that both see the same moments of a busy machine: each round runs
p11bench's C_Sign with the card's 9C key (context login and signature, K times, its mean), then K
POST /v1/sign (CAdES-BES, the same key and card) on one kept-alive HTTPS connection, as a browser keeps
its connection to the endpoint open after the page's GET /v1/certificates; the test pinentry answers
each PIN dialog at once. The overhead is the web signature's p50 (p99) minus the median of the PKCS#11
rounds.

Where the web signature's time goes comes from imzad's own timing lines (imzad --verbose, daemon/web/sign.c:
"sign timing (ms)"), one per signature: each step's median is printed, and "outside" is what the client
saw beyond imzad's signing service (TLS, HTTP and JSON on both sides). The dialog process is the
pinentry's life as imzad waits for it: started, texts and buttons, the PIN (it exits while the card
signs).

Usage: https_sign.py ROUNDS K. Environment: a stack's (IMZA_HTTPS_URL, IMZA_LOCAL_CA, IMZA_PIN,
IMZA_MODULE, IMZA_STACK_DIR, IMZA_CARD_DIR), IMZA_P11BENCH (tests/bench/p11bench) and, for a sanitizer
build, IMZA_P11BENCH_PRELOAD (its LD_PRELOAD). Prints `bench` and `ratio` lines."""
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import time

ROUNDS = int(sys.argv[1])
K = int(sys.argv[2])
URL = os.environ["IMZA_HTTPS_URL"]
HOST, PORT = URL.split("//", 1)[1].rsplit(":", 1)
ORIGIN = "https://bench.example"
LOG = os.path.join(os.environ["IMZA_STACK_DIR"], "imzad.log")
APDU_LOG = os.path.join(os.environ["IMZA_CARD_DIR"], "apdu.log")
# The steps of daemon/web/sign.c's timing line that are the pinentry's life as imzad waits for it (it
# closes while the card signs).
DIALOG_STEPS = ("dialog_spawn", "dialog_texts", "dialog_pin")


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


# A sanitizer build's module needs its runtime preloaded into p11bench (not into python).
P11_ENV = dict(os.environ)
if os.environ.get("IMZA_P11BENCH_PRELOAD"):
    P11_ENV["LD_PRELOAD"] = os.environ["IMZA_P11BENCH_PRELOAD"]


def p11_round(n):
    out = subprocess.run([os.environ["IMZA_P11BENCH"], os.environ["IMZA_MODULE"], "sign", str(n),
                          os.environ["IMZA_PIN"], "02"], capture_output=True, text=True, check=True,
                         env=P11_ENV).stdout
    return float(out.split()[2]) / 1000.0


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace").splitlines()


ctx = ssl.create_default_context(cafile=os.environ["IMZA_LOCAL_CA"])
conn = http.client.HTTPSConnection(HOST, int(PORT), context=ctx)
# The stack's pinentry script says "consent always": the first call grants the bench's origin.
certs = request(conn, "GET", "/v1/certificates")["certificates"]
cert = [c["id"] for c in certs if c["qualified"]][0]
seq = 0


def web_sign():
    global seq
    seq += 1
    body = json.dumps({"certificate": cert, "text": "bench %d" % seq, "format": "cades-bes"})
    t0 = time.perf_counter()
    request(conn, "POST", "/v1/sign", body)
    return (time.perf_counter() - t0) * 1000


# Warm both paths up (first dialog, first CMS, the module's first load), unmeasured.
p11_round(2)
web_sign()

# APDUs the card sees for one web signature, after a PKCS#11 application has come and gone.
before = sum(1 for line in lines_of(APDU_LOG) if line.startswith(">"))
web_sign()
apdus = sum(1 for line in lines_of(APDU_LOG) if line.startswith(">")) - before

log_from = len(lines_of(LOG))
web, p11 = [], []
for _ in range(ROUNDS):
    p11.append(p11_round(K))
    for _ in range(K):
        web.append(web_sign())
conn.close()

# imzad writes a signature's line as it answers: the last one may still be on its way.
for _ in range(100):
    timing = [line for line in lines_of(LOG)[log_from:] if "sign timing (ms)" in line]
    if len(timing) >= len(web):
        break
    time.sleep(0.01)
steps = {}
totals = []
for line in timing:
    m = re.search(r"sign timing \(ms\) for \S+:(.*) total=([0-9.]+)", line)
    if not m:
        continue
    totals.append(float(m.group(2)))
    for name, v in re.findall(r"(\w+)=([0-9.]+)", m.group(1)):
        steps.setdefault(name, []).append(float(v))
base = pct(p11, 50)
over50 = pct(web, 50) - base
over99 = pct(web, 99) - base
# Other programs move these figures by milliseconds: say how busy the machine was.
with open("/proc/loadavg") as f:
    print("bench note: https_sign measured with a load average of %s" % f.read().split()[0])
print("bench https_sign_p50 %.2f ms" % pct(web, 50))
print("bench https_sign_p99 %.2f ms" % pct(web, 99))
print("bench pkcs11_sign_same_key_p50 %.2f ms" % base)
print("bench https_sign_apdus_per_signature %d apdus" % apdus)
if len(totals) == len(web) and all(len(steps.get(s, ())) == len(web) for s in DIALOG_STEPS):
    dialog = [sum(steps[s][i] for s in DIALOG_STEPS) for i in range(len(web))]
    print("bench https_sign_dialog_process_p50 %.2f ms" % pct(dialog, 50))
    print("bench https_sign_overhead_p50_dialog_share %.0f %%" % (100 * pct(dialog, 50) / over50))
    for name, xs in steps.items():
        print("bench https_sign_step_%s_p50 %.3f ms" % (name, pct(xs, 50)))
    print("bench https_sign_step_outside_p50 %.3f ms" % (pct(web, 50) - pct(totals, 50)))
else:
    print("bench note: %d of %d signatures left a timing line in %s (imzad --verbose): no breakdown"
          % (len(totals), len(web), LOG))
print("ratio https_sign_overhead_p50_ms %.2f target<=7" % over50)
print("ratio https_sign_overhead_p99_ms %.2f target<=12" % over99)
