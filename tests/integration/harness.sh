#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The harness starts a stack, moves cards in and out on demand, and on `down` leaves no process
# behind: neither the ones it recorded nor anything else that runs from its directory.
. "$(dirname "$0")/../lib/tap.sh"

d=$WORK/h
check "stack up with two cards" "$STACK" up "$d" --cards 2
tap_stacks+=("$d")
. "$d/env"
for v in PCSCLITE_CSOCK_NAME IMZA_OPENSC_MODULE IMZA_PIN IMZA_PUK IMZA_TEST_CA; do
	[ -n "${!v:-}" ] && pass "env names $v" || fail "env names $v"
done
check "IMZA_TEST_CA is a certificate" openssl x509 -in "$IMZA_TEST_CA" -noout
check "IMZA_OPENSC_MODULE exists" test -f "$IMZA_OPENSC_MODULE"
check_output "first reader has a card" '^0 present' "$PROBE" list
check_output "second card's reader (index 2) has a card" '^2 present' "$PROBE" list
check_output "env lists the card readers" '^0 2 $' echo "$IMZA_CARD_READERS"
g0=$(sed -n 's/^guid=//p' "$d/card0/card.conf")
g1=$(sed -n 's/^guid=//p' "$d/card1/card.conf")
[ -n "$g0" ] && [ "$g0" != "$g1" ] && pass "each card has its own GUID" || fail "each card has its own GUID"
check "the cards share the test CA" openssl verify -CAfile "$IMZA_TEST_CA" \
	<(openssl x509 -inform DER -in "$d/card1/9c.crt.der")
mapfile -t pids < <("$STACK" pids "$d" | awk '{ print $1 }')
[ "${#pids[@]}" = 4 ] && pass "four processes recorded (pcscd, imzad, two cards)" ||
	fail "four processes recorded (saw ${#pids[@]})"
check "card 1 removed" "$STACK" card "$d" remove 1
check_output "first card still in" '^0 present' "$PROBE" list
check_output "second card's reader empty" '^2 absent' "$PROBE" list
check "card 1 inserted again" "$STACK" card "$d" insert 1
check_output "second card's reader full again" '^2 present' "$PROBE" list
if "$STACK" card "$d" insert 1 >>"$LOG" 2>&1; then fail "inserting an inserted card is refused"; else
	pass "inserting an inserted card is refused"; fi
mapfile -t pids < <("$STACK" pids "$d" | awk '{ print $1 }')
check "stack down" "$STACK" down "$d"
left=0
for p in "${pids[@]}"; do
	if [ -r "/proc/$p/stat" ] && [ "$(awk '{print $3}' "/proc/$p/stat")" != Z ]; then left=$((left + 1)); fi
done
[ "$left" = 0 ] && pass "no recorded process is left (${#pids[@]} stopped)" || fail "no recorded process is left ($left alive)"
# pgrep never matches itself, and $(...) runs a copy of this script, whose command line lacks $d.
stray=$(pgrep -f -- "$d" || true)
[ -z "$stray" ] && pass "no process runs with the stack dir in its command line" ||
	fail "no process runs with the stack dir in its command line ($stray)"
if PCSCLITE_CSOCK_NAME="$d/pcscd.comm" timeout 5 "$PROBE" list >>"$LOG" 2>&1; then
	fail "the private pcscd socket answers no more"
else
	pass "the private pcscd socket answers no more"
fi

# A stack whose test dies still comes down: a subshell starts one and exits with an error.
d2=$WORK/dying
( "$STACK" up "$d2" >/dev/null 2>&1 && . "$d2/env" && false ) || true
tap_stacks+=("$d2")
mapfile -t pids < <("$STACK" pids "$d2" | awk '{ print $1 }')
"$STACK" down "$d2" >>"$LOG" 2>&1
left=0
for p in "${pids[@]}"; do [ -r "/proc/$p/stat" ] && [ "$(awk '{print $3}' "/proc/$p/stat")" != Z ] && left=$((left + 1)); done
[ "${#pids[@]}" = 3 ] && [ "$left" = 0 ] && pass "down after a failed test stops its processes" ||
	fail "down after a failed test stops its processes (${#pids[@]} recorded, $left alive)"

done_testing
