#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 10,000 random and half-formed APDUs through pcsc-lite: the card answers every one with a status word,
# stays up, and still signs afterwards.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
pid_before=$("$STACK" pids "$IMZA_STACK_DIR" | awk '$2 == "card0" { print $1 }')
check_output "10000 random APDUs all answered with a status word" 'apdus=10000 answered=10000' \
	"$PROBE" random -n 10000 -s "${IMZA_SEED:-$$}"
pid_after=$("$STACK" pids "$IMZA_STACK_DIR" | awk '$2 == "card0" { print $1 }')
[ -n "$pid_before" ] && [ "$pid_before" = "$pid_after" ] && pass "the card process is the same one (no crash)" ||
	fail "the card process is the same one (no crash)"
check_output "the reader still has the card" 'present' "$PROBE" list
openssl rand 48 >"$WORK/hash"
check "the 9E key still signs" "$PROBE" sign9e "$WORK/hash" "$WORK/sig"
openssl x509 -inform DER -in "$IMZA_CARD_DIR/9e.crt.der" -pubkey -noout >"$WORK/9e.pub"
check "the signature verifies with openssl" openssl pkeyutl -verify -pubin -inkey "$WORK/9e.pub" \
	-in "$WORK/hash" -sigfile "$WORK/sig"
check_output "the card log holds every APDU" '^1000[0-9]$|^10[0-9]{3}$' \
	sh -c "grep -c '^>' '$IMZA_CARD_DIR/apdu.log'"

done_testing
