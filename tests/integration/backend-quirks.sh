#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A module with every quirk at once (no OS locking, single-threaded, no C_WaitForSlotEvent, version
# 2.20, a short function list) behind imzad: its token is listed and signs. A module that hangs costs
# only its backend: its call is cut at the deadline and the helper killed, the token leaves the list,
# the PIV card signs meanwhile, imzad keeps its pid, and the token comes back once the module answers.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

hsm_up pkcs11-tool
mkdir -p "$WORK/trig"
export IMZA_QUIRKS=no-os-locking,single-thread,no-wait,v220,short-list IMZA_QUIRK_HANG=$WORK/trig/hang
# --verbose: imzad says at debug level when a new application's slot list waited out the modules' look.
imzad_module "$QUIRK" --verbose
stack_up s
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@"; }
on_hsm() { imza --token-label "$SOFTHSM_LABEL" "$@"; }
# listed SECONDS yes|no: whether the token is in imza's list, within SECONDS.
listed() {
	local i
	for i in $(seq 1 $(($1 * 10))); do
		if imza -L 2>/dev/null | grep -q "token label *: $SOFTHSM_LABEL"; then
			[ "$2" = yes ] && return 0
		else
			[ "$2" = no ] && return 0
		fi
		sleep 0.1
	done
	return 1
}

listed 15 yes && pass "the quirky module's token is listed through imza" || bail "the quirky module's token is not listed"
grep -q 'refuses OS locking' "$IMZA_STACK_DIR/imzad.log" && pass "the helper initialised it again without OS locking, and said so" ||
	fail "the helper initialised it again without OS locking, and said so"
printf 'quirks' >"$WORK/data"
on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/sig" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/sig" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "it signs (SHA256-RSA-PKCS), and OpenSSL verifies" || fail "it signs, and OpenSSL verifies"

imzad_pid=$(cut -d' ' -f1 "$IMZA_STACK_DIR/pids/imzad")
piv_label=$(imza -L 2>/dev/null | sed -n 's/^ *token label *: *//p' | sed 's/ *$//' | grep -vx "$SOFTHSM_LABEL" | head -n1)
touch "$WORK/trig/hang"
t0=$SECONDS
# While the module hangs (before its call's deadline), the PIV card signs.
imza --token-label "$piv_label" --login --pin "$IMZA_PIN" --sign --id 02 -m SHA256-RSA-PKCS -i "$WORK/data" \
	-o "$WORK/sigpiv" >>"$LOG" 2>&1 && [ -s "$WORK/sigpiv" ] && pass "the PIV card signs while the module hangs" ||
	fail "the PIV card signs while the module hangs"
listed 15 no && pass "the hung module's token leaves the list ($((SECONDS - t0)) s; the call deadline is 5 s)" ||
	fail "the hung module's token leaves the list"
grep -q 'did not answer in time: killed' "$IMZA_STACK_DIR/imzad.log" && pass "imzad killed the hung helper and said so" ||
	fail "imzad killed the hung helper and said so"
kill -0 "$imzad_pid" 2>/dev/null && pass "imzad keeps its pid ($imzad_pid)" || fail "imzad keeps its pid"
# A new application's first slot list waits (at most 1 s) for the modules' look when nobody listened
# before; not for a module that hangs: three programs in turn, and imzad never waited the look out.
ILOG=$IMZA_STACK_DIR/imzad.log
waited=$(grep -c 'did not look at their slots within' "$ILOG")
worst=0
for _ in 1 2 3; do
	t1=$(date +%s%N)
	imza -L >>"$LOG" 2>&1
	ms=$((($(date +%s%N) - t1) / 1000000))
	[ "$ms" -gt "$worst" ] && worst=$ms
done
waited=$(($(grep -c 'did not look at their slots within' "$ILOG") - waited))
[ "$waited" = 0 ] && pass "a hung module does not hold a new application's slot list (none of 3 waited; worst $worst ms)" ||
	fail "a hung module held $waited of 3 new applications' slot lists for the whole wait (worst $worst ms)"
rm -f "$WORK/trig/hang"
t0=$SECONDS
listed 40 yes && pass "the module answering again, its token is back ($((SECONDS - t0)) s)" || fail "the token is back"
on_hsm --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" -o "$WORK/sig2" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/sig2" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "and it signs again" || fail "and it signs again"

done_testing
