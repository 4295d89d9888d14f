#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imzactl pin change and imzactl pin unblock through the test pinentry: imzad asks the current PIN (or
# the PUK) and the new PIN twice in one dialog of its own, then runs the card job C_SetPIN/C_InitPIN use.
# The card's own counters (its state file) are checked at each step; imzactl's argv and environment and
# imzad's log never hold a PIN or PUK.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
CTL=$IMZA_BUILDDIR/tools/imzactl
SCRIPT=$IMZA_PINENTRY_SCRIPT
PLOG=$IMZA_PINENTRY_LOG
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@" 2>&1; }
card() { sed -n "s/^$1=//p" "$IMZA_CARD_DIR/state"; }
# The test's own environment holds the card's PIN and PUK (the stack's env file); imzactl gets none of it.
ctl() { env -u IMZA_PIN -u IMZA_PUK "$CTL" "$@"; }
script() { printf '%s\n' "$@" >"$SCRIPT"; }
getpins() { grep -c '"cmd":"GETPIN"' "$PLOG" 2>/dev/null || true; }
NEW=24681357
NEW2=13572468
BAD=91827364
BADPUK=56473829
: >"$PLOG"

check_output "the card starts with 3 PIN tries" '^3$' card pin_tries

# A change: the current PIN, then the new one twice, in one dialog.
script "next $IMZA_PIN" "next $NEW" "next $NEW"
check_output "pin change: PIN changed" '^PIN changed$' ctl pin change
check_output "the card holds the new PIN" "^$NEW\$" card pin
check_output "the card's counter is full" '^3$' card pin_tries
[ "$(grep '"cmd":"GETPIN"' "$PLOG" | sed 's/,.*//' | sort -u | wc -l)" = 1 ] && [ "$(getpins)" = 3 ] &&
	pass "three questions, one pinentry" || fail "three questions, one pinentry"
grep -q '"cmd":"SETPROMPT","arg":"PIN:"' "$PLOG" && grep -q '"cmd":"SETPROMPT","arg":"Yeni PIN:"' "$PLOG" &&
	grep -q '"cmd":"SETPROMPT","arg":"Yeni PIN (tekrar):"' "$PLOG" &&
	pass "it asks the PIN, the new PIN, the new PIN again" || fail "it asks the PIN, the new PIN, the new PIN again"
label=$(ctl status | sed -n 's/^  card: \(.*\) (serial.*/\1/p')
grep -q "PIN'ini değiştirmek istiyor.*Kart: $label" "$PLOG" &&
	pass "the dialog says what is asked and which card ($label)" || fail "the dialog says which card ($label)"
check_output "a login with the new PIN" 'Private Key Object' imza --login --pin "$NEW" -O

# A wrong current PIN: one try used, said in words, never given again.
: >"$PLOG"
script "next $BAD" "next $NEW2" "next $NEW2"
check_output "a wrong current PIN: 2 tries left, in words" '^wrong PIN: 2 tries left' ctl pin change
check_output "the card counted exactly one try" '^2$' card pin_tries
check_output "the PIN is unchanged" "^$NEW\$" card pin
[ "$(getpins)" = 3 ] && pass "no retry: no fourth question" || fail "no retry: $(getpins) questions"

# Cancelled at the first or the last question, or two new PINs that differ: nothing reaches the card.
script "next cancel"
check_output "cancelled at the first question" '^cancelled: nothing changed' ctl pin change
script "next $NEW" "next $NEW2" "next cancel"
check_output "cancelled at the last question" '^cancelled: nothing changed' ctl pin change
script "next $NEW" "next $NEW2" "next 99887766"
check_output "two different new PINs: refused" 'differ: nothing changed' ctl pin change
check_output "none of these touched the counter" '^2$' card pin_tries
check_output "nor the PIN" "^$NEW\$" card pin

# Locked by two more wrong PINs; then a change is refused without a dialog.
script "next $BAD" "next $NEW2" "next $NEW2"
check_output "a second wrong PIN: 1 try left" '^wrong PIN: 1 try left' ctl pin change
check_output "the third locks it" '^PIN locked: use `imzactl pin unblock`' ctl pin change
check_output "the card's PIN is locked" '^0$' card pin_tries
n=$(getpins)
check_output "a change on a locked PIN says so" '^PIN locked' ctl pin change
[ "$(getpins)" = "$n" ] && pass "and asks nothing" || fail "a locked PIN was asked for"

# Unblock: a wrong PUK (one PUK try), then the right one, then a login.
script "next $BADPUK" "next $NEW2" "next $NEW2"
check_output "a wrong PUK: 2 tries left" '^wrong PUK: 2 tries left' ctl pin unblock
check_output "the card counted one PUK try" '^2$' card puk_tries
check_output "the PIN stays locked" '^0$' card pin_tries
grep -q '"cmd":"SETPROMPT","arg":"PUK:"' "$PLOG" && grep -q "kilitli PIN'ini PUK koduyla açmak istiyor" "$PLOG" &&
	pass "the unblock dialog asks the PUK" || fail "the unblock dialog asks the PUK"
script "next $IMZA_PUK" "next $NEW2" "next $NEW2" "delay 700"
ctl pin unblock >"$WORK/unblock.out" 2>&1 &
ctlpid=$!
sleep 0.3
args=$(tr '\0' ' ' <"/proc/$ctlpid/cmdline" 2>/dev/null || true)
envs=$(tr '\0' '\n' <"/proc/$ctlpid/environ" 2>/dev/null || true)
echo "## imzactl argv: $args" >>"$LOG"
if [ -n "$args" ] && [ -n "$envs" ]; then
	bad=0
	for v in "$IMZA_PIN" "$IMZA_PUK" "$NEW" "$NEW2" "$BAD" "$BADPUK"; do
		grep -qF -- "$v" <<<"$args$envs" && bad=1
	done
	[ $bad = 0 ] && pass "imzactl's argv and environment hold no PIN or PUK" ||
		fail "a PIN or PUK in imzactl's argv or environment"
else
	fail "imzactl was not running to be looked at"
fi
wait "$ctlpid"
cat "$WORK/unblock.out" >>"$LOG"
grep -q '^PIN unblocked and changed$' "$WORK/unblock.out" && pass "pin unblock with the PUK" || fail "pin unblock with the PUK"
check_output "unblocked: 3 PIN tries" '^3$' card pin_tries
check_output "the PUK's counter is full again" '^3$' card puk_tries
check_output "the card holds the new PIN" "^$NEW2\$" card pin
check_output "a login with it" 'Private Key Object' imza --login --pin "$NEW2" -O

# No secret in imzad's log, nor in what the pinentry was shown.
bad=0
for v in "$IMZA_PIN" "$IMZA_PUK" "$NEW" "$NEW2" "$BAD" "$BADPUK"; do
	grep -qF -- "$v" "$IMZA_STACK_DIR/imzad.log" "$PLOG" && bad=1
done
[ $bad = 0 ] && pass "imzad's log and the pinentry's texts hold no PIN or PUK" || fail "a PIN or PUK in imzad's log"
check_output "imzad's log says what was done" 'imzactl: pin unblock on slot [0-9]+: done' cat "$IMZA_STACK_DIR/imzad.log"

# Several cards need --card; a slot without a card says so.
check_output "a slot without a card" '^no card in that slot' ctl pin change --card 999
check_output "--card takes a number" 'slot number' ctl pin change --card x
done_testing
