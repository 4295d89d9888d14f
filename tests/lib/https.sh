# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# https.sh: what the tests of the HTTPS endpoint share. Source it after tests/lib/tap.sh, then call
# https_stack_up. api/json/code/expect speak to the endpoint with curl (the last answer's body is in
# $T/body); script sets the test pinentry's answers; apdus counts the commands that reached the card.

# https_stack_up [STACK ARGS]: the private stack "s" (imzad, the test pinentry, the virtual cards; the
# arguments go to tests/harness/stack up, e.g. --cards 2), and the names the tests use for its parts.
# shellcheck disable=SC2034 # the names are for the scripts that source this file
https_stack_up() {
	need curl curl
	stack_up s "$@"
	CTL=$IMZA_BUILDDIR/tools/imzactl
	URL=$IMZA_HTTPS_URL
	PORT=${URL##*:}
	CA=$IMZA_LOCAL_CA
	SCRIPT=$IMZA_PINENTRY_SCRIPT
	PLOG=$IMZA_PINENTRY_LOG
	T=$WORK/t
	mkdir -p "$T"
}

# api METHOD PATH [BODY] [CURL ARGS...]: prints the HTTP status; the body is in $T/body.
api() {
	local m=$1 p=$2 body=${3:-}
	shift 3 2>/dev/null || shift $#
	local args=(-sS --cacert "$CA" -o "$T/body" -w '%{http_code}' -X "$m" "$@")
	[ -n "$body" ] && args+=(-H 'Content-Type: text/plain' --data-binary "$body")
	curl "${args[@]}" "$URL$p" 2>>"$LOG"
	echo "## $m $p -> $(head -c 300 "$T/body")" >>"$LOG"
}
# json EXPR: evaluates a Python expression over the last body (as j).
json() { python3 -c "import json,sys; j=json.load(open('$T/body')); print($1)" 2>>"$LOG"; }
# code: the last body's error code, "" when it has none.
code() { json 'j.get("error","")'; }
expect() { # expect DESCRIPTION STATUS CODE GOT_STATUS
	local code
	code=$(code)
	if [ "$4" = "$2" ] && [ "$code" = "$3" ]; then pass "$1 ($2 $3)"; else fail "$1: want $2 $3, got $4 '$code'"; fi
}
# script LINE...: what the test pinentry answers next (see tests/harness).
script() { printf '%s\n' "$@" >"$SCRIPT"; }
apdus() { wc -l <"$IMZA_CARD_DIR/apdu.log"; }

# turkish_declaration FILE: writes a 2400-byte Turkish declaration (numbered lines of the portal's kind of
# text, cut on a character boundary and padded with dots to exactly 2400 bytes), and checks its size.
turkish_declaration() {
	"${PY:-python3}" - "$1" <<'EOF'
import sys
para = ("Kamu Sertifikasyon Merkezi'ne yaptığım nitelikli elektronik sertifika başvurusunda verdiğim "
        "bilgilerin doğru olduğunu, kimlik belgemin aslını ibraz edeceğimi, sertifikamı yalnızca kendim "
        "kullanacağımı ve şifremi (PIN) kimseyle paylaşmayacağımı beyan ve taahhüt ederim. ")
out, i = b"", 1
while len(out) < 2400:
    out += ("%d. " % i).encode() + para.encode() + b"\n"
    i += 1
out = out[:2400]
while True:  # cut on a character boundary, then pad with ASCII to exactly 2400 bytes
    try:
        out.decode("utf-8")
        break
    except UnicodeDecodeError:
        out = out[:-1]
out += b"." * (2400 - len(out))
open(sys.argv[1], "wb").write(out)
EOF
	[ "$(wc -c <"$1")" = 2400 ] && pass "the declaration is 2400 bytes of Turkish text" ||
		fail "the declaration is 2400 bytes"
}

# allowed_qualified_cert: $ORIGIN may use imza (an "always" answer), and CERT is the id of the card's
# qualified certificate as /v1/certificates lists it to that origin; bails out when there is none.
allowed_qualified_cert() {
	local st
	"$CTL" grants allow "$ORIGIN" >>"$LOG" 2>&1
	st=$(api GET /v1/certificates "" -H "Origin: $ORIGIN")
	CERT=$(json '[c["id"] for c in j["certificates"] if c["qualified"]][0]')
	[ "$st" = 200 ] && [ -n "$CERT" ] && pass "the card's qualified certificate is listed" ||
		bail "no certificate ($st)"
}

# sign_request NAME TEXTFILE [WAIT]: $T/NAME.req, a /v1/sign body for CERT with the file's text (and
# "wait" seconds when given); with CERT empty the body names no certificate (the user chooses it).
sign_request() {
	"${PY:-python3}" - "$CERT" "$2" "${3:-}" >"$T/$1.req" <<'EOF'
import json, sys
body = {"text": open(sys.argv[2], encoding="utf-8").read()}
if sys.argv[1]:
    body["certificate"] = sys.argv[1]
if sys.argv[3]:
    body["wait"] = int(sys.argv[3])
print(json.dumps(body))
EOF
}
