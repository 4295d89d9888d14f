#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make check-valgrind, the signing window: imzad under valgrind memcheck (leaks included) with imza-prompt
# as its prompt program, imza-prompt under memcheck too (started by imzad through a wrapper), on a virtual
# display; a web signature is made through the window (the certificate's details opened and closed, PIN
# typed, document scrolled, İmzala clicked) and verified. memcheck must find no error in imzad, and none in imza-prompt apart from GTK's, GLib's and the
# graphics stack's own, which tests/valgrind/gtk.supp names one by one with the reason.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"
. "$(dirname "$0")/../lib/xsession.sh"

if nm -D "$IMZA_BUILDDIR/pkcs11/.libs/imza-pkcs11.so" 2>/dev/null | grep -q __asan_init; then
	bail "this build has sanitizers: make check-valgrind needs a plain one"
fi
x_need valgrind
x_session_up
started=$(date +%s)
mkdir -p "$WORK/s" "$WORK/vg"
export IMZA_IMZAD_WRAPPER="valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect
 --show-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$WORK/s/imzad.vg"
# imzad starts the program named by --prompt with the pipes on stdin and stdout and only the path: a
# wrapper puts memcheck in front of imza-prompt, one log per process. GTK draws with cairo and never
# probes GL here: GL would run Mesa's software rasteriser under memcheck (slow, and none of it imza's).
cat >"$WORK/imza-prompt-vg" <<WRAP
#!/bin/sh
export GSK_RENDERER=cairo GDK_DEBUG=gl-disable
exec valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \\
	--show-leak-kinds=definite --num-callers=40 --suppressions=$IMZA_SRCDIR/tests/valgrind/gtk.supp \\
	--gen-suppressions=all --log-file=$WORK/vg/imza-prompt.%p.vg "$PROMPT" "\$@"
WRAP
chmod +x "$WORK/imza-prompt-vg"
export IMZA_IMZAD_ARGS="--prompt $WORK/imza-prompt-vg"
https_stack_up
allowed_qualified_cert

DOCNAME="Sayfanın gönderdiği, imzalanacak metin"
turkish_declaration "$T/decl.txt"
sign_bg decl "$T/decl.txt"
# imza-prompt under memcheck takes tens of seconds to show its window.
if dump 120; then pass "imzad (memcheck) opened imza-prompt (memcheck)'s window"; else fail "imza-prompt's window opened under memcheck"; fi
shot valgrind-signing
# The certificate's details too (Görüntüle, then Kapat): their window is imza-prompt's code as well.
click Görüntüle
if dump 60 "Sertifika ayrıntıları"; then
	pass "Görüntüle opened the certificate's details under memcheck"
	click Kapat "^Sertifika ayrıntıları\$"
	atspi gone-window "Sertifika ayrıntıları" && pass "Kapat closed them" || fail "Kapat closed them"
else
	fail "Görüntüle opened the certificate's details under memcheck"
fi
dump 30
type_pin
note "wheel rounds until $SIGN was active: $(scroll_to_end "$DOCNAME")"
if [ "$(q "node('$SIGN', 'push button')['sensitive']")" = True ]; then
	pass "PIN typed, document scrolled: $SIGN is active"
	click "$SIGN"
	if verified decl "$T/decl.txt"; then pass "$SIGN signed under memcheck: the .p7s verifies for exactly the declaration"; else
		fail "the signature verifies ($(cat "$T/decl.status") $(head -c 200 "$T/decl.json"))"; fi
else
	fail "PIN typed, document scrolled: $SIGN is active"
	atspi press İptal
	wait "$bg"
fi
atspi gone 120 && pass "imza-prompt's window closed" || fail "imza-prompt's window closed"
# imza-prompt's memcheck writes its summary as the process ends.
for _ in $(seq 1 300); do
	grep -q 'ERROR SUMMARY' "$WORK"/vg/imza-prompt.*.vg 2>/dev/null && break
	sleep 0.2
done
stacks_down
x_down
check_output "imzad under memcheck: no errors, no leaks" 'ERROR SUMMARY: 0 errors' cat "$WORK/s/imzad.vg"
check_output "imzad's run ended cleanly (SIGTERM)" 'shutting down' cat "$WORK/s/imzad.log"
n=$(ls "$WORK"/vg/imza-prompt.*.vg 2>/dev/null | wc -l)
[ "$n" -ge 1 ] && pass "imza-prompt ran under memcheck ($n process)" || fail "imza-prompt ran under memcheck"
for f in "$WORK"/vg/imza-prompt.*.vg; do
	[ -f "$f" ] || continue
	check_output "imza-prompt under memcheck ($(basename "$f")): no errors, no definite leaks" 'ERROR SUMMARY: 0 errors' cat "$f"
	note "$(basename "$f"): $(grep -hE 'ERROR SUMMARY|suppressed:' "$f" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')"
done
note "time under memcheck: $(($(date +%s) - started)) s"
echo "1..$tap_n"
