# shellcheck shell=bash
# https.sh: what the tests of the HTTPS endpoint share. Source it after tests/lib/tap.sh, then call
# https_stack_up. api/json/code/expect speak to the endpoint with curl (the last answer's body is in
# $T/body); script sets the test pinentry's answers; apdus counts the commands that reached the card.

# https_stack_up: the private stack "s" (imzad, the test pinentry, the virtual card), and the names the
# tests use for its parts.
# shellcheck disable=SC2034 # the names are for the scripts that source this file
https_stack_up() {
	command -v curl >/dev/null || bail "curl missing (package curl)"
	stack_up s
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
