#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The HTTPS endpoint's TLS 1.2 suites, as an outside client sees them: ECDHE with AES-GCM or
# ChaCha20-Poly1305 only. A client that offers only the CBC suites with HMAC-SHA1 is refused; TLS 1.3
# keeps working.
. "$(dirname "$0")/../lib/tap.sh"

need openssl openssl
stack_up s
URL=$IMZA_HTTPS_URL
PORT=${URL##*:}
CA=$IMZA_LOCAL_CA

# hello ARGS...: a TLS handshake with s_client; prints the negotiated cipher, or nothing.
hello() {
	local out
	out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$CA" "$@" </dev/null 2>&1)
	echo "## s_client $*" >>"$LOG"
	echo "$out" | tail -n 30 >>"$LOG"
	sed -n 's/^ *Cipher *: *\([A-Z0-9_-]*\)$/\1/p; s/^New, .*, Cipher is \([A-Z0-9_-]*\)$/\1/p' <<<"$out" |
		grep -v '^0000$' | grep -v '^(NONE)$' | head -n1
}

# Both key types' names: whichever matches the server's key is the one that could be chosen.
cbc=ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA
got=$(hello -tls1_2 -cipher "$cbc")
[ -z "$got" ] && pass "TLS 1.2 with only the CBC-SHA1 suites is refused" ||
	fail "TLS 1.2 with only the CBC-SHA1 suites is refused (negotiated $got)"
got=$(hello -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256)
[[ $got == ECDHE-*-AES128-GCM-SHA256 ]] && pass "TLS 1.2 with ECDHE + AES-GCM works ($got)" ||
	fail "TLS 1.2 with ECDHE + AES-GCM works (got '$got')"
got=$(hello -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305)
[[ $got == ECDHE-*-CHACHA20-POLY1305 ]] && pass "TLS 1.2 with ECDHE + ChaCha20-Poly1305 works ($got)" ||
	fail "TLS 1.2 with ECDHE + ChaCha20-Poly1305 works (got '$got')"
got=$(hello -tls1_3)
[[ $got == TLS_* ]] && pass "TLS 1.3 keeps its suites ($got)" || fail "TLS 1.3 keeps its suites (got '$got')"
done_testing
