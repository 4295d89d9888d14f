#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PIN leaves no trace: after a web signature, imzactl sign and a PKCS#11 login with a PIN that
# appears nowhere else, neither imzad's state and config dirs nor the logs hold it; and imzad, which sets
# PR_SET_DUMPABLE 0, writes no core when it is killed with SIGSEGV, even with `ulimit -c unlimited`
# and a core pattern shown (by a dumpable process beside it) to write cores where this test looks.
# The system's core_pattern is set only when it cannot be observed, and put back at once.
. "$(dirname "$0")/../lib/tap.sh"

need curl curl
PIN=73915846 # distinctive: any hit is this PIN, not a serial number or a time
stack_up s --pin "$PIN"
CTL=$IMZA_BUILDDIR/tools/imzactl
D=$IMZA_STACK_DIR
CWD=$WORK/cwd
mkdir -p "$CWD"

# Cores go to the crashing process's directory as "core" or "core.PID". A pipe (systemd-coredump,
# apport) or another place cannot be observed here: use "core" for the test, then restore.
PATTERN=/proc/sys/kernel/core_pattern
old_pattern=$(cat "$PATTERN")
restore_pattern() { [ "$(cat "$PATTERN")" = "$old_pattern" ] || printf '%s\n' "$old_pattern" >"$PATTERN"; }
trap 'restore_pattern; tap_cleanup' EXIT
if [ "$old_pattern" != core ]; then
	if printf 'core\n' >"$PATTERN" 2>>"$LOG"; then note "core_pattern '$old_pattern' set to 'core' for this test"; else
		fail "core_pattern ('$old_pattern') can be set to 'core' for the test (root, writable /proc/sys)"
	fi
fi
cores() { find "$CWD" -maxdepth 1 -name 'core*' -type f | sort; }

# imzad again, from $CWD, with cores unlimited and ASan (if built with it) leaving SIGSEGV to the kernel.
check "imzad stopped" "$STACK" daemon "$D" stop
(
	cd "$CWD" || exit 1
	ulimit -c unlimited
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:disable_coredump=0"
	exec "$STACK" daemon "$D" start
) >>"$LOG" 2>&1 && pass "imzad started with ulimit -c unlimited in $CWD" || fail "imzad started with ulimit -c unlimited"
read -r IMZAD _ <"$D/pids/imzad"
[ "$(readlink "/proc/$IMZAD/cwd")" = "$CWD" ] && grep -Eq '^Max core file size +unlimited' "/proc/$IMZAD/limits" &&
	pass "imzad (pid $IMZAD) runs in $CWD with no core size limit" || fail "imzad runs in $CWD with no core size limit"

# The control: a dumpable process under the same settings leaves a core here.
(
	cd "$CWD" || exit 1
	ulimit -c unlimited
	exec sleep 60
) &
ctl=$!
sleep 0.3
kill -SEGV "$ctl"
wait "$ctl" 2>/dev/null
[ -n "$(cores)" ] && pass "control: a dumpable process killed with SIGSEGV leaves a core in $CWD" ||
	fail "control: a dumpable process killed with SIGSEGV leaves a core in $CWD (cannot observe cores)"
rm -f "$CWD"/core*

# The PIN goes through every path: a web signature, imzactl sign, a PKCS#11 login.
"$CTL" grants allow https://portal.example >>"$LOG" 2>&1
printf 'consent always\npin %s\n' "$PIN" >"$IMZA_PINENTRY_SCRIPT"
ID=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
st=$(curl -sS --cacert "$IMZA_LOCAL_CA" -o "$WORK/sig.json" -w '%{http_code}' -H 'Origin: https://portal.example' \
	-H 'Content-Type: text/plain' --data-binary '{"certificate":"'"$ID"'","text":"iz yok"}' "$IMZA_HTTPS_URL/v1/sign" 2>>"$LOG")
[ "$st" = 200 ] && pass "a web signature with the PIN" || fail "a web signature with the PIN ($st)"
printf 'belge' >"$WORK/doc"
check "imzactl sign with the PIN" "$CTL" sign --cert "$ID" --in "$WORK/doc" --out "$WORK/doc.p7s"
check_output "a PKCS#11 login with the PIN" 'Private Key Object' host_env pkcs11-tool --module "$IMZA_MODULE" --login \
	--pin "$PIN" -O

# SIGSEGV: imzad dies, and no core is written.
kill -SEGV "$IMZAD"
for _ in $(seq 1 100); do kill -0 "$IMZAD" 2>/dev/null || break; sleep 0.1; done
kill -0 "$IMZAD" 2>/dev/null && fail "imzad died of SIGSEGV" || pass "imzad died of SIGSEGV"
sleep 0.5
found=$(cores)
[ -z "$found" ] && pass "PR_SET_DUMPABLE 0: no core written for imzad" ||
	fail "PR_SET_DUMPABLE 0: no core written for imzad (found: $found)"
# Whatever was written (a core, if any), and every file imzad keeps or logs, holds no PIN.
hex=$(printf '%s' "$PIN" | od -An -tx1 | tr -d ' \n')
hits=$(grep -a -l -r -F -e "$PIN" -e "$hex" "$D/state" "$D/config" "$D/imzad.log" "$D/pinentry.log" \
	"$XDG_CONFIG_HOME" "$XDG_STATE_HOME" $found 2>/dev/null)
files=$(find "$D/state" "$D/config" "$D/imzad.log" "$D/pinentry.log" -type f | wc -l)
[ -z "$hits" ] && [ "$files" -ge 4 ] && pass "no PIN in imzad's state and config dirs, its log, the dialog log ($files files)" ||
	fail "no PIN in imzad's state and config dirs or logs ($files files; found in: $hits)"
restore_pattern
[ "$(cat "$PATTERN")" = "$old_pattern" ] && pass "core_pattern is back to '$old_pattern'" || fail "core_pattern is back"
grep -E 'ERROR: (Address|Leak)Sanitizer' "$D/imzad.log" >>"$LOG" && fail "no sanitizer report before the SIGSEGV"
done_testing
