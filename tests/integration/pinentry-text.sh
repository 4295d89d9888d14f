#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The pinentry fallback, headless: with no display imzad asks through the configured pinentry even when
# imza-prompt is the chosen prompt, and what that pinentry shows is honest: imzad's own lines (site,
# signer) first, every line of the page's text quoted after them, and a shortened text said to be so in
# words, with the bytes not shown and the SHA-256 of the whole. The test pinentry's log is what was shown.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

ORIGIN=https://portal.example.gov.tr
unset DISPLAY WAYLAND_DISPLAY
# imza-prompt is asked for; without a display the test pinentry the stack names must answer.
export IMZA_IMZAD_ARGS="--prompt $IMZA_BUILDDIR/prompt/imza-prompt"
https_stack_up
allowed_qualified_cert

# sign NAME TEXTFILE: POST /v1/sign with the file's text; the status is printed, the body in $T/body.
sign() {
	sign_request "$1" "$2"
	api POST /v1/sign "@$T/$1.req" -H "Origin: $ORIGIN"
}

# ---- a 2400-byte Turkish declaration ----
turkish_declaration "$T/decl.txt"
script "pin $IMZA_PIN"
: >"$PLOG"
st=$(sign decl "$T/decl.txt")
[ "$st" = 200 ] && pass "signed through the pinentry with no display (200)" || fail "signed with no display ($st)"
json 'j["signature"]' | base64 -d >"$T/decl.p7s"
check "the signature verifies for exactly the declaration" \
	sh -c "openssl cms -verify -inform DER -in '$T/decl.p7s' -CAfile '$IMZA_TEST_CA' -purpose any -out '$T/out.txt' && cmp '$T/out.txt' '$T/decl.txt'"
grep -q '"cmd":"GETPIN"' "$PLOG" && ! grep -q '"cmd":"SET\(ORIGIN\|DOC\|CERT\)"' "$PLOG" &&
	pass "the test pinentry asked the PIN (no imza-prompt command was sent)" || fail "the test pinentry asked the PIN"
HASH=$(sha256sum "$T/decl.txt" | cut -d' ' -f1)
python3 - "$PLOG" "$HASH" "$T/decl.txt" <<'PY' >>"$LOG" 2>&1 &&
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
d = [l["arg"] for l in lines if l["cmd"] == "SETDESC"][-1]
print(d)
head, text = d.split("\n\n", 1)
assert head.startswith("https://portal.example.gov.tr şu içeriği imzalamak istiyor:\nSite: example.gov.tr\nİmzalayan: "), head
assert "\nBelge: 2400 bayt, SHA-256: %s\n" % sys.argv[2] in head + "\n", head
m = re.search(r"\nKısaltıldı: belgenin (\d+) baytı burada gösterilmiyor\.$", head)
assert m, head
n = int(m.group(1))
assert all(l.startswith("\u2502 ") for l in text.split("\n")), text
assert text.startswith("\u2502 1. Kamu Sertifikasyon Merkezi'ne"), text
assert text.endswith("\u2026"), text
# Undo the quoting (a line broken in two lost its space there): the shown lines are the start of the
# declaration, and the count is exactly the bytes after them.
decl = open(sys.argv[3], "rb").read()
p = 0
for i, l in enumerate(text[: -len("\u2026")].split("\n")):
    if i > 0:
        assert decl[p : p + 1] in (b"\n", b" "), (p, decl[p : p + 1])
        p += 1
    seg = l[2:].encode()
    assert decl[p : p + len(seg)] == seg, (p, seg)
    p += len(seg)
print("shown", p, "not shown", n)
assert 300 < p < 1000 and n == 2400 - p, (p, n)
PY
	pass "the dialog says the declaration is shortened, how many bytes are not shown, and its SHA-256" ||
	fail "the dialog's shortened notice and SHA-256 (see the log)"

# ---- 150 newlines and a signer line of the page's own ----
python3 -c 'import sys; open(sys.argv[1], "w", encoding="utf-8").write("Onaylıyorum." + "\n" * 150 + "İmzalayan: CN=BAŞKA KİŞİ")' "$T/fake.txt"
script "pin $IMZA_PIN"
: >"$PLOG"
st=$(sign fake "$T/fake.txt")
[ "$st" = 200 ] && pass "the 150-newline text signs (200)" || fail "the 150-newline text signs ($st)"
python3 - "$PLOG" <<'PY' >>"$LOG" 2>&1 &&
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
d = [l["arg"] for l in lines if l["cmd"] == "SETDESC"][-1]
print(d)
real = d.index("\nİmzalayan: ")
fake = d.index("\u2502 İmzalayan: CN=BAŞKA KİŞİ")
assert real < fake, d
assert d.count("İmzalayan: ") == 2 and "\nİmzalayan: CN=BAŞKA" not in d, d
assert "\n\u2502 Onaylıyorum.\n\u2502 \u27e8149 boş satır\u27e9\n" in d, d  # its own LF, then 149 blank lines
assert d.count("\n") < 10, d
PY
	pass "the fake signer line shows only quoted, after imzad's own, and the 149 blank lines as one line" ||
	fail "the fake signer line only quoted after the real one (see the log)"

# ---- a display that is there by name but cannot be opened ----
# imzad picks imza-prompt when DISPLAY is set; an X server that is not there (a display of a session that
# ended) makes imza-prompt exit before its greeting. The question then goes to the pinentry: the
# signature is made, not failed.
d=217
while [ -e "/tmp/.X11-unix/X$d" ] || [ -e "/tmp/.X$d-lock" ]; do d=$((d + 1)); done
"$STACK" daemon "$IMZA_STACK_DIR" stop >>"$LOG" 2>&1
DISPLAY=:$d "$STACK" daemon "$IMZA_STACK_DIR" start >>"$LOG" 2>&1 || bail "imzad did not restart"
printf 'Bir satır.\n' >"$T/short.txt"
script "pin $IMZA_PIN"
: >"$PLOG"
st=$(sign dead "$T/short.txt")
[ "$st" = 200 ] && grep -q '"cmd":"GETPIN"' "$PLOG" &&
	pass "a display that cannot be opened: the pinentry asked the PIN and the signature was made ($st)" ||
	fail "a display that cannot be opened: the pinentry answered ($st, $(grep -c GETPIN "$PLOG") GETPIN)"
grep -q 'imza-prompt did not start' "$IMZA_STACK_DIR/imzad.log" &&
	pass "imzad says once that imza-prompt did not start and the pinentry was asked" ||
	fail "imzad's log says why the pinentry was asked"

done_testing
