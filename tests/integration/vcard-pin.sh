#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PIN retry counter: each wrong PIN costs exactly one try, the third blocks, the PUK unblocks (through
# pkcs15-tool and through PKCS#11), and the counter survives a removal like a real card's.
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
M=$IMZA_OPENSC_MODULE
p11() { pkcs11-tool --module "$M" "$@"; }
# Tries left as the card itself reports them to an empty VERIFY (63Cx). A real card stays verified after
# pkcs11-tool exits, so the security status is reset first (VERIFY P1=FF).
tries() {
	local sw
	sw=$("$PROBE" apdu 00A4040005A000000308 0020FF8000 0020008000 | tail -n 1)
	case $sw in 63C?) echo "${sw:3:1}" ;; 6983) echo 0 ;; 9000) echo ok ;; *) echo "?$sw" ;; esac
}
login_with() { p11 --login --pin "$1" -O 2>&1; }

check_output "card starts with 3 tries" '^3$' tries
check_output "wrong PIN gives CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT' login_with 000000
check_output "the counter drops by exactly one" '^2$' tries
# OpenSC 0.23's PIV code never learns the maximum tries, so it shows no "count low" flag; the card's
# own counter (above) is the measure, and "final try" / "locked" below are what OpenSC can show.
check_output "right PIN logs in" 'Private Key Object' login_with "$IMZA_PIN"
check_output "a good login resets the counter" '^3$' tries

login_with 000000 >>"$LOG"
login_with 000000 >>"$LOG"
check_output "two wrong PINs leave one try" '^1$' tries
check_output "token flags show the final try" 'final user PIN try' p11 -L
check_output "third wrong PIN is refused" 'CKR_PIN_(INCORRECT|LOCKED)' login_with 000000
check_output "the counter is at zero" '^0$' tries
check_output "now even the right PIN gives CKR_PIN_LOCKED" 'CKR_PIN_LOCKED' login_with "$IMZA_PIN"
check_output "token flags show the PIN locked" 'user PIN locked' p11 -L

check "card removed while locked" "$STACK" card "$IMZA_STACK_DIR" remove
check "card reinserted" "$STACK" card "$IMZA_STACK_DIR" insert
check_output "still locked after reinsertion" '^0$' tries

check "pkcs15-tool --unblock-pin with the PUK" \
	pkcs15-tool --unblock-pin --puk "$IMZA_PUK" --new-pin "$IMZA_PIN"
check_output "unblocked: 3 tries" '^3$' tries
check_output "the PIN works again" 'Private Key Object' login_with "$IMZA_PIN"

# Once wrong, then pulled: the lower counter is what the card remembers.
login_with 000000 >>"$LOG"
"$STACK" card "$IMZA_STACK_DIR" remove >>"$LOG" 2>&1
"$STACK" card "$IMZA_STACK_DIR" insert >>"$LOG" 2>&1
check_output "the counter survives a removal" '^2$' tries

# PKCS#11 C_SetPIN in an unlogged session unblocks when OpenSC is told to (user_pin_unblock_style).
for _ in 1 2 3; do login_with 000000 >>"$LOG"; done
check_output "locked again" '^0$' tries
cat >"$WORK/opensc-unblock.conf" <<CONF
app default {
	framework pkcs15 { use_file_caching = no; }
	pkcs11 { user_pin_unblock_style = set_pin_in_unlogged_session; }
}
CONF
check "pkcs11-tool --unlock-pin with the PUK" env OPENSC_CONF="$WORK/opensc-unblock.conf" \
	pkcs11-tool --module "$M" --unlock-pin --puk "$IMZA_PUK" --new-pin "$IMZA_PIN"
check_output "unlocked through PKCS#11: 3 tries" '^3$' tries
check_output "the PIN works after the PKCS#11 unblock" 'Private Key Object' login_with "$IMZA_PIN"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n' | tr a-f A-F; }
out=$(grep -ic -e "$(hex "$IMZA_PIN")" -e "$(hex "$IMZA_PUK")" "$IMZA_CARD_DIR/apdu.log" 2>/dev/null || true)
check_output "the card's APDU log was written" '.' cat "$IMZA_CARD_DIR/apdu.log"
[ "${out:-0}" = 0 ] && pass "no PIN or PUK digits in the APDU log" || fail "no PIN or PUK digits in the APDU log"

done_testing
