#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PIN changed and unblocked through imza-pkcs11.so, as pkcs11-tool does it: C_SetPIN with the old PIN
# (PIV CHANGE REFERENCE DATA), then, once the PIN is locked, the PUK both ways PKCS#11 applications use:
# C_Login(CKU_SO, PUK) + C_InitPIN, and C_SetPIN(PUK, new PIN) in a session with no login (PIV RESET
# RETRY COUNTER). The card's own counters (its state file) are checked at each step. Then the session
# rules (p11_pin.py rules) and another program's PIN tries seen in imza's token flags (p11_pin.py stale).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
M=$IMZA_MODULE
O=$IMZA_OPENSC_MODULE
[ -f "$M" ] || bail "$M not built"
imza() { host_env pkcs11-tool --module "$M" "$@" 2>&1; }
# The card's own counters and values, as it keeps them.
card() { sed -n "s/^$1=//p" "$IMZA_CARD_DIR/state"; }
# Passes when the output does not match (and there is output).
check_not() {
	local d=$1 pat=$2 out
	shift 2
	out=$("$@" 2>&1)
	echo "$out" >>"$LOG"
	if [ -n "$out" ] && ! grep -Eq -- "$pat" <<<"$out"; then pass "$d"; else fail "$d (/$pat/ seen)"; fi
}
NEW=24681357
NEW2=13572468

check_output "the card starts with 3 PIN tries" '^3$' card pin_tries
# C_SetPIN in a read-write session with no login (pkcs11-tool --change-pin logs in with --pin first).
setpin() { host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_pin.py" setpin "$@"; }
check_output "C_SetPIN with a wrong old PIN: CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT$' setpin 000000 "$NEW"
check_output "the card counted exactly one try" '^2$' card pin_tries
check_output "imza's token flags say the count is low" 'user PIN count low' imza -L
check_output "a 5-digit new PIN: CKR_PIN_LEN_RANGE" 'CKR_PIN_LEN_RANGE$' setpin "$IMZA_PIN" 12345
check_output "a 9-digit new PIN: CKR_PIN_LEN_RANGE" 'CKR_PIN_LEN_RANGE$' setpin "$IMZA_PIN" 123456789
check_output "a new PIN with letters: CKR_PIN_INVALID" 'CKR_PIN_INVALID$' setpin "$IMZA_PIN" 12ab5678
check_output "an old PIN with letters: CKR_PIN_INVALID" 'CKR_PIN_INVALID$' setpin 12ab56 "$NEW"
check_output "none of those reached the card: still 2 tries" '^2$' card pin_tries
check_output "C_SetPIN with the right PIN" 'CKR_OK$' setpin "$IMZA_PIN" "$NEW"
check_output "the card holds the new PIN" "^$NEW\$" card pin
check_output "the card's counter is full again" '^3$' card pin_tries
check_not "imza's flags no longer say the count is low" 'count low' imza -L
check_output "the card was left unverified after the change" '^63C3$' "$PROBE" apdu 00A4040005A000000308 0020008000
check_output "a login with the new PIN" 'Private Key Object' imza --login --pin "$NEW" -O
check_output "pkcs11-tool --change-pin (C_Login, then C_SetPIN)" 'PIN successfully changed' \
	imza --change-pin --pin "$NEW" --new-pin "$NEW2"
check_output "the card holds that PIN" "^$NEW2\$" card pin

# Locked by three wrong old PINs: the third answers CKR_PIN_LOCKED.
setpin 000000 "$NEW" >>"$LOG"
setpin 000000 "$NEW" >>"$LOG"
check_output "a second wrong old PIN: the final try" 'final user PIN try' imza -L
check_output "a third wrong old PIN: CKR_PIN_LOCKED" 'CKR_PIN_LOCKED$' setpin 000000 "$NEW"
check_output "the card's PIN is locked" '^0$' card pin_tries
check_output "imza's flags say the PIN is locked" 'user PIN locked' imza -L
check_output "the right PIN is refused: CKR_PIN_LOCKED" 'CKR_PIN_LOCKED' imza --login --pin "$NEW2" -O

# Style 1: C_Login(CKU_SO, PUK), then C_InitPIN.
check_output "--login --login-type so --so-pin PUK --init-pin" 'successfully' \
	imza --login --login-type so --so-pin "$IMZA_PUK" --init-pin --new-pin "$NEW"
check_output "unblocked: the card's PIN counter is full" '^3$' card pin_tries
check_output "the PUK's counter is full" '^3$' card puk_tries
check_output "the card holds the new PIN" "^$NEW\$" card pin
check_not "imza's flags no longer say locked" 'user PIN locked' imza -L
check_output "a login with the new PIN" 'Private Key Object' imza --login --pin "$NEW" -O

# Style 2: C_SetPIN(PUK, new PIN) in a session with no login, while the PIN is locked (OpenSC's
# user_pin_unblock_style = set_pin_in_unlogged_session; pkcs11-tool --unlock-pin without --login).
for _ in 1 2 3; do imza --login --pin 000000 -O >>"$LOG"; done
check_output "locked again" '^0$' card pin_tries
check_output "--unlock-pin with a wrong PUK: CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT' \
	imza --unlock-pin --puk 87654321 --new-pin "$IMZA_PIN"
check_output "the card counted one PUK try" '^2$' card puk_tries
check_output "imza's flags say the SO PIN's (the PUK's) count is low" 'SO PIN count low' imza -L
check_output "the PIN stays locked" '^0$' card pin_tries
check_output "--unlock-pin --puk PUK --new-pin" 'PIN successfully changed' \
	imza --unlock-pin --puk "$IMZA_PUK" --new-pin "$IMZA_PIN"
check_output "unblocked: 3 PIN tries" '^3$' card pin_tries
check_output "the PUK's counter is full again" '^3$' card puk_tries
check_not "imza's flags no longer say anything of the SO PIN" 'SO PIN' imza -L
check_output "the card holds the PIN given" "^$IMZA_PIN\$" card pin
check_output "a login with that PIN" 'Private Key Object' imza --login --pin "$IMZA_PIN" -O

run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_pin.py" rules
check_output "the rules cost no PIN or PUK try" '^3 3$' sh -c "echo \$(sed -n 's/^pin_tries=//p;s/^puk_tries=//p' '$IMZA_CARD_DIR/state')"

# Another program (OpenSC's module on the same card) tries a wrong PIN, then the right one.
run_checks host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_pin.py" stale \
	pkcs11-tool --module "$O" --login --pin 000000 -O -- pkcs11-tool --module "$O" --login --pin "$IMZA_PIN" -O
check_output "OpenSC's tries were the only ones: the counter is full" '^3$' card pin_tries

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n' | tr a-f A-F; }
n=0
for v in "$IMZA_PIN" "$IMZA_PUK" "$NEW" "$NEW2"; do
	n=$((n + $(cat "$IMZA_STACK_DIR"/*.log | grep -c -e "$v" -e "$(hex "$v")" || true)))
done
[ "$n" = 0 ] && pass "no PIN or PUK in imzad's or pcscd's logs" || fail "no PIN or PUK in imzad's or pcscd's logs ($n lines)"
done_testing
