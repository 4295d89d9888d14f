#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The signing window after "Görüntüle": the certificate's details window opens over it and is closed (by
# its Kapat button, then by Escape), and the signing window takes the user's input as before: the keyboard
# focus is back in it, the mouse wheel scrolls the document to its end, the PIN typed at once lands in the
# PIN field (no click, no xdotool windowfocus: nothing but imza-prompt gives the focus back), İmzala
# signs and the signature verifies. Under Xvfb with no window manager, where X moves the focus of a
# closed window to the root window. Screenshots: $IMZA_BUILDDIR/tests/e2e/artifacts/prompt-focus-*.png.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"
. "$(dirname "$0")/../lib/xsession.sh"

x_need
x_session_up
https_stack_up
allowed_qualified_cert

DOCNAME="Sayfanın gönderdiği, imzalanacak metin"
DETAILS="Sertifika ayrıntıları"
turkish_declaration "$T/decl.txt"

# doc_pos: the document's scroll position (the window's one scrolled range) in the last dump.
doc_pos() { q "max(x['value'][0] for x in n if x['value'] is not None)"; }
# wheel_to_end: the wheel over the document, ten turns a round, until the position moves no more (at most
# 10 rounds); prints the rounds and the last position.
wheel_to_end() {
	local x y wid last=none pos rounds=0
	read -r x y <<<"$(center "$DOCNAME")"
	wid=$(window_id) || return 1
	while [ $rounds -lt 10 ]; do
		rounds=$((rounds + 1))
		xdotool mousemove --window "$wid" "$x" "$y" click --repeat 10 --delay 60 5 2>>"$LOG"
		sleep 0.5
		dump 5
		pos=$(doc_pos)
		[ "$pos" = "$last" ] && break
		last=$pos
	done
	echo "$rounds $pos"
}

# round HOW: one signature whose details window is closed HOW: kapat (a mouse click on Kapat) or escape
# (the Escape key, typed into the details window that has the focus).
round() {
	local how=$1 rounds pos
	sign_bg "$how" "$T/decl.txt"
	dump || { fail "$how: the signing window opened"; return; }
	click Görüntüle
	if ! dump 10 "$DETAILS"; then
		fail "$how: Görüntüle opens the certificate's details"
		return
	fi
	[ "$(focus_name)" = "$DETAILS" ] && pass "$how: the details window has the keyboard focus" ||
		fail "$how: the details window has the keyboard focus (\"$(focus_name)\")"
	shot "focus-$how-details"
	if [ "$how" = kapat ]; then click Kapat "^$DETAILS\$"; else xdotool key Escape 2>>"$LOG"; fi
	atspi gone-window "$DETAILS" && pass "$how: the details window closed" || fail "$how: the details window closed"
	sleep 0.3
	[ "$(focus_name)" = imza ] && pass "$how: the keyboard focus is back in the signing window" ||
		fail "$how: the keyboard focus is back in the signing window (it is on \"$(focus_name)\")"
	dump 5
	read -r rounds pos <<<"$(wheel_to_end)"
	note "$how: wheel rounds: $rounds, scroll position: $pos"
	[ "$(q "$pos > 0")" = True ] && pass "$how: the wheel scrolled the document (to $pos)" ||
		fail "$how: the wheel scrolled the document (position $pos)"
	[ "$(q "node('$SIGN', 'push button')['sensitive']")" = False ] &&
		pass "$how: at the end but with no PIN yet, $SIGN is inactive" || fail "$how: $SIGN is inactive with no PIN"
	# The user types the PIN at once: the field has the focus back.
	xdotool type --delay 40 "$IMZA_PIN" 2>>"$LOG"
	sleep 0.5
	dump 5
	shot "focus-$how"
	if [ "$(q "node('$SIGN', 'push button')['sensitive']")" = True ]; then
		pass "$how: the PIN typed without a click landed in the PIN field: $SIGN is active"
		click "$SIGN"
		if verified "$how" "$T/decl.txt"; then pass "$how: $SIGN signed and the .p7s verifies"; else
			fail "$how: the signature verifies ($(cat "$T/$how.status") $(head -c 200 "$T/$how.json"))"; fi
	else
		fail "$how: the PIN typed without a click landed in the PIN field ($SIGN inactive)"
		# The window is cancelled at once, not left to time out and hold the next round.
		atspi press İptal
		wait "$bg"
		fail "$how: $SIGN signed (the window was cancelled: $(error_of "$how"))"
	fi
	atspi gone && pass "$how: the window closed" || fail "$how: the window closed"
}

round kapat
round escape

stacks_down
x_down
sanitizer_check
echo "1..$tap_n"
