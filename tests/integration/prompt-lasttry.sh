#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The last PIN try, asked inside imza-prompt's signing window, driven like a user under Xvfb and read back
# through AT-SPI. Two wrong PINs typed in the window bring the virtual card to one try left (each answers
# pin_incorrect once and is never asked again); then the signing window itself shows the warning and a box,
# "Son deneme hakkım olduğunu biliyorum", with no question window before it; İmzala stays inactive with
# the PIN typed until the box is ticked (by mouse or its mnemonic), Escape cancels without spending the
# try, and the right PIN then signs. Screenshot: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-last-try.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"
. "$(dirname "$0")/../lib/xsession.sh"

BOX="Son deneme hakkım olduğunu biliyorum"
WRONG=654321

x_need
x_session_up
https_stack_up
allowed_qualified_cert
tries() { sed -n 's/^pin_tries=//p' "$IMZA_CARD_DIR/state"; }
json_of() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1])).get('$2'))" "$T/$1.json" 2>>"$LOG"; }
no_window() { [ -z "$(xdotool search --onlyvisible --name "$WINDOW" 2>/dev/null)" ]; }
printf 'Son hakla imzalanan beyan.' >"$T/doc.txt"
t0=$(tries)
[ "$t0" = 3 ] && pass "the card starts with 3 PIN tries" || bail "the card has $t0 tries, not 3"

# ---- 1. two wrong PINs typed in the window: each spends one try, none is retried ----
for i in 1 2; do
	sign_bg wrong$i "$T/doc.txt"
	dump 30 || fail "the signing window for wrong PIN $i"
	type_pin $WRONG
	dump 5
	click "$SIGN"
	wait "$bg"
	[ "$(error_of wrong$i)" = pin_incorrect ] && [ "$(json_of wrong$i tries_left)" = $((t0 - i)) ] &&
		[ "$(tries)" = $((t0 - i)) ] &&
		pass "wrong PIN $i answers pin_incorrect, tries_left $((t0 - i)) (the card agrees)" ||
		fail "wrong PIN $i ($(cat "$T/wrong$i.status") $(error_of wrong$i) tries_left $(json_of wrong$i tries_left), card $(tries))"
	sleep 1
	no_window && pass "and no window asks again: a wrong PIN is never retried" ||
		fail "a window came back after wrong PIN $i"
done

# ---- 2. one try left: the warning and the box in the signing window; Escape cancels ----
sign_bg esc "$T/doc.txt"
if dump 30; then pass "with one try left the signing window opens"; else bail "no window at the last try (see $WORK)"; fi
[ "$(q "any(x['role'] == 'password text' for x in n)")" = True ] && [ "$(q "node('$SIGN', 'push button')['role']")" = "push button" ] &&
	pass "the first window is the signing window itself (PIN field, İmzala): no question window before it" ||
	fail "the first window is the signing window"
[ "$(q "any(x['text'] == 'Kalan PIN deneme hakkı: 1' for x in n)")" = True ] &&
	[ "$(q "any(x['text'] == 'Bu son hakkınız: yanlış bir PIN kartınızı kilitler.' for x in n)")" = True ] &&
	pass "it shows the tries left (1) and that a wrong PIN locks the card" || fail "it shows the last-try warning"
[ "$(q "node('$BOX')['role']")" = "check box" ] && [ "$(q "node('$BOX')['checked']")" = False ] &&
	pass "it has the box \"$BOX\", not ticked" || fail "the box \"$BOX\" ($(q "node('$BOX')"))"
wid=$(window_id)
xdotool windowfocus --sync "$wid" key Escape 2>>"$LOG"
wait "$bg"
[ "$(error_of esc)" = user_cancelled ] && [ "$(tries)" = 1 ] &&
	pass "Escape cancels (user_cancelled) and the last try is kept" ||
	fail "Escape at the last try ($(error_of esc), card $(tries))"

# ---- 3. the PIN typed: İmzala waits for the box; the box by mouse and by keyboard; the signature ----
sign_bg last "$T/doc.txt"
dump 30 || fail "the signing window at the last try, again"
type_pin
dump 5
shot last-try
[ "$(q "node('$SIGN', 'push button')['sensitive']")" = False ] &&
	pass "with the PIN typed and the box not ticked, İmzala is inactive" ||
	fail "İmzala is inactive until the box is ticked"
click "$BOX"
sleep 0.3
dump 5
[ "$(q "node('$BOX')['checked']")" = True ] && [ "$(q "node('$SIGN', 'push button')['sensitive']")" = True ] &&
	pass "ticking the box makes İmzala active" || fail "ticking the box makes İmzala active"
xdotool windowfocus --sync "$wid" key alt+b 2>>"$LOG"
sleep 0.3
dump 5
[ "$(q "node('$BOX')['checked']")" = False ] && [ "$(q "node('$SIGN', 'push button')['sensitive']")" = False ] &&
	pass "its mnemonic (Alt+B) unticks it from the keyboard, and İmzala is inactive again" ||
	fail "Alt+B unticks the box ($(q "node('$BOX')['checked']"))"
wid=$(window_id)
xdotool windowfocus --sync "$wid" key alt+b 2>>"$LOG"
sleep 0.3
dump 5
[ "$(q "node('$BOX')['checked']")" = True ] && [ "$(q "node('$SIGN', 'push button')['sensitive']")" = True ] &&
	pass "and ticks it again" || fail "Alt+B ticks the box again"
click "$SIGN"
if verified last "$T/doc.txt"; then pass "the right PIN on the last try signs: the .p7s verifies for exactly the text"; else
	fail "the last-try signature verifies ($(cat "$T/last.status") $(head -c 200 "$T/last.json"))"; fi
[ "$(tries)" = 3 ] && pass "and the card's counter is back to 3" || fail "the counter is back to 3 ($(tries))"
! grep -q '"cmd":"CONFIRM"' "$PLOG" 2>/dev/null && pass "the test pinentry was never asked (no CONFIRM outside the window)" ||
	fail "a CONFIRM went to the pinentry"
atspi gone || true

stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
