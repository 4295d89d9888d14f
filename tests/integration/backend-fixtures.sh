#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The stand-ins the backend tests stand on, checked on their own: the SoftHSM2 token of a Turkish
# signing card (tests/backend/softhsm-token) holds what it should and signs, and the quirky module
# (tests/backend/quirk.c) forwards to it faithfully with no quirk on, and shows each quirk when asked.
. "$(dirname "$0")/../lib/tap.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
QUIRK=$IMZA_BUILDDIR/tests/backend/.libs/quirk-pkcs11.so
PROBE=$IMZA_SRCDIR/tests/integration/quirk_probe.py
need softhsm2-util softhsm2
need pkcs11-tool opensc
[ -f "$QUIRK" ] || bail "$QUIRK not built (make check builds it)"

# ---- the token ----
"$IMZA_SRCDIR/tests/backend/softhsm-token" "$WORK/hsm" >>"$LOG" 2>&1 || bail "softhsm-token failed"
. "$WORK/hsm/env"
export SOFTHSM2_CONF
p11() { pkcs11-tool --module "$1" --token-label "$SOFTHSM_LABEL" "${@:2}"; }
list() { p11 "$1" -O --login --pin "$SOFTHSM_PIN" 2>>"$LOG" | grep -vE '^Using slot'; }

direct=$(list "$SOFTHSM_MODULE")
echo "$direct" >>"$LOG"
n=$(grep -c '^Certificate Object' <<<"$direct")
k=$(grep -c '^Private Key Object' <<<"$direct")
[ "$n" = 3 ] && [ "$k" = 3 ] && pass "the token holds 3 certificates and 3 private keys" ||
	fail "the token holds 3 certificates and 3 private keys (got $n and $k)"
q=$(openssl x509 -inform DER -in "$WORK/hsm/01.crt.der" -noout -text 2>>"$LOG")
grep -q 'Non Repudiation' <<<"$q" && grep -q '2.16.792.1.61.0.1.5070.1.1' <<<"$q" &&
	grep -q 'qcStatements\|1.3.6.1.5.5.7.1.3' <<<"$q" &&
	pass "key 01's certificate is qualified-style: nonRepudiation, the NES policy, qcStatements" ||
	fail "key 01's certificate is qualified-style"
bits=$(openssl x509 -inform DER -in "$WORK/hsm/02.crt.der" -noout -text 2>>"$LOG" | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')
[ "$bits" = 3072 ] && pass "key 02 is RSA-3072" || fail "key 02 is RSA-3072 (got ${bits:-?})"

# ---- the quirky module with no quirk: the same token ----
through=$(list "$QUIRK")
[ -n "$through" ] && [ "$through" = "$direct" ] && pass "through the quirky module with no quirk, the same objects" ||
	fail "through the quirky module with no quirk, the same objects"

# Each key signs through it and the signature verifies with OpenSSL against the certificate's key
# (SoftHSM's EC keys take a hash: CKM_ECDSA over SHA-256).
printf 'imza backend fixture\n' >"$WORK/data"
openssl dgst -sha256 -binary "$WORK/data" >"$WORK/hash"
for spec in "01 SHA256-RSA-PKCS data" "02 SHA256-RSA-PKCS data" "03 ECDSA hash"; do
	read -r id mech in <<<"$spec"
	rm -f "$WORK/sig"
	p11 "$QUIRK" --login --pin "$SOFTHSM_PIN" --sign --id "$id" -m "$mech" --signature-format openssl \
		-i "$WORK/$in" -o "$WORK/sig" >>"$LOG" 2>&1
	if [ "$in" = data ]; then
		openssl dgst -sha256 -verify "$WORK/hsm/$id.pub.pem" -signature "$WORK/sig" "$WORK/data" >>"$LOG" 2>&1
	else
		openssl pkeyutl -verify -pubin -inkey "$WORK/hsm/$id.pub.pem" -sigfile "$WORK/sig" -in "$WORK/hash" >>"$LOG" 2>&1
	fi && pass "key $id signs ($mech) through the quirky module and OpenSSL verifies it" ||
		fail "key $id signs ($mech) through the quirky module and OpenSSL verifies it"
done

# ---- each quirk ----
probe() { "$PY" "$PROBE" "$QUIRK" "$@" 2>>"$LOG"; }
got=$(probe init-os-locking)
[ "$got" = "rv=0x0 null=0x0" ] && pass "no quirk: C_Initialize takes OS locking ($got)" || fail "no quirk: C_Initialize takes OS locking ($got)"
got=$(IMZA_QUIRKS=no-os-locking probe init-os-locking)
[ "$got" = "rv=0xa null=0x0" ] && pass "no-os-locking: CKR_CANT_LOCK with CKF_OS_LOCKING_OK, CKR_OK with NULL ($got)" ||
	fail "no-os-locking: CKR_CANT_LOCK with CKF_OS_LOCKING_OK, CKR_OK with NULL ($got)"

got=$(probe list)
[ "$got" = "version=2.40 null=-" ] && pass "no quirk: a 2.40 list with every entry ($got)" || fail "no quirk: a 2.40 list with every entry ($got)"
got=$(IMZA_QUIRKS=v220,short-list probe list)
[ "$got" = "version=2.20 null=DigestEncryptUpdate,DecryptDigestUpdate,SignEncryptUpdate,DecryptVerifyUpdate,GetFunctionStatus,CancelFunction,WaitForSlotEvent" ] &&
	pass "v220,short-list: a 2.20 list with the old modules' holes" || fail "v220,short-list: a 2.20 list with holes ($got)"
info=$(IMZA_QUIRKS=v220 pkcs11-tool --module "$QUIRK" -I 2>>"$LOG")
grep -q 'Cryptoki version 2.20' <<<"$info" && pass "v220: C_GetInfo says 2.20" || fail "v220: C_GetInfo says 2.20"

# SoftHSM has no C_WaitForSlotEvent of its own; OpenSC's module has one.
opensc=""
for m in /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so /usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so; do
	[ -f "$m" ] && opensc=$m && break
done
if [ -n "$opensc" ]; then
	a=$(IMZA_QUIRK_MODULE=$opensc probe wait)
	b=$(IMZA_QUIRK_MODULE=$opensc IMZA_QUIRKS=no-wait probe wait)
	[ -n "$a" ] && [ "$a" != "rv=0x54" ] && [ "$b" = "rv=0x54" ] &&
		pass "no-wait: C_WaitForSlotEvent is CKR_FUNCTION_NOT_SUPPORTED ($b; OpenSC's own: $a)" ||
		fail "no-wait: C_WaitForSlotEvent is CKR_FUNCTION_NOT_SUPPORTED ($b; OpenSC's own: $a)"
else
	fail "no-wait: OpenSC's module not found"
fi

got=$(probe threads)
[ "$got" = done ] && pass "no quirk: two threads at once are fine" || fail "no quirk: two threads at once are fine ($got)"
IMZA_QUIRKS=single-thread "$PY" "$PROBE" "$QUIRK" threads >"$WORK/threads.out" 2>>"$LOG"
rc=$?
[ "$rc" = 134 ] && ! grep -q done "$WORK/threads.out" &&
	pass "single-thread: two threads inside at once abort the process (exit $rc)" ||
	fail "single-thread: two threads inside at once abort the process (exit $rc)"

got=$(probe context-specific "$SOFTHSM_PIN")
case $got in
"attr_rv=0x0 always=0 before=0x0 "*) pass "no quirk: the key signs without a context login ($got)" ;;
*) fail "no quirk: the key signs without a context login ($got)" ;;
esac
got=$(IMZA_QUIRKS=context-specific probe context-specific "$SOFTHSM_PIN")
case $got in
"attr_rv=0x0 always=1 before=0x101 wrong=0xa0 login=0x0 after=0x0 len=256")
	pass "context-specific: CKA_ALWAYS_AUTHENTICATE, C_Sign needs CKU_CONTEXT_SPECIFIC ($got)" ;;
*) fail "context-specific: CKA_ALWAYS_AUTHENTICATE, C_Sign needs CKU_CONTEXT_SPECIFIC ($got)" ;;
esac

# The triggers: a file that makes every call hang, crash, or see the token gone.
touch "$WORK/removed"
out=$(IMZA_QUIRK_REMOVED=$WORK/removed pkcs11-tool --module "$QUIRK" -L 2>&1)
echo "$out" >>"$LOG"
grep -q 'imza test HSM' <<<"$out" && fail "removed: the token is gone from the slot list" ||
	pass "removed: the token is gone from the slot list"
rm -f "$WORK/removed"
touch "$WORK/hang"
IMZA_QUIRK_HANG=$WORK/hang pkcs11-tool --module "$QUIRK" -L >>"$LOG" 2>&1 &
pid=$!
sleep 1.5
kill -0 "$pid" 2>/dev/null && pass "hang: a call hangs while the trigger is there" || fail "hang: a call hangs while the trigger is there"
rm -f "$WORK/hang"
for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	kill -9 "$pid"
	fail "hang: and goes on once it is gone"
else
	wait "$pid" && pass "hang: and goes on once it is gone" || fail "hang: and goes on once it is gone (exit $?)"
fi
touch "$WORK/crash"
IMZA_QUIRK_CRASH=$WORK/crash pkcs11-tool --module "$QUIRK" -L >>"$LOG" 2>&1
rc=$?
[ "$rc" = 139 ] && pass "crash: a call dies of SIGSEGV while the trigger is there (exit $rc)" ||
	fail "crash: a call dies of SIGSEGV while the trigger is there (exit $rc)"

done_testing
