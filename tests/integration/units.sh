#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd user units as built: `systemd-analyze verify` finds nothing to say about them (with the build
# tree's imzad as ExecStart and the man pages they name), the sockets carry the names imzad sorts them
# by, and `systemd-analyze security` rates imzad.service no worse than the score its comments explain.
. "$(dirname "$0")/../lib/tap.sh"
need systemd-analyze systemd
need man man-db

# The score packaging/systemd/imzad.service.in explains point by point (the namespace options are left
# out, see there). A change that raises it must explain the new points there and here.
MAX_EXPOSURE=3.5

units=$WORK/units
mkdir -p "$units" "$WORK/runtime" "$WORK/man/man5" "$WORK/man/man8" "$WORK/man/man1"
chmod 0700 "$WORK/runtime"
# imzad.service as make builds it, with ExecStart pointing at this build's imzad (verify wants it there).
sed -e "s|@bindir[@]|$IMZA_BUILDDIR/daemon|g" "$IMZA_SRCDIR/packaging/systemd/imzad.service.in" >"$units/imzad.service"
cp "$IMZA_SRCDIR/packaging/systemd/imzad.socket" "$IMZA_SRCDIR/packaging/systemd/imzad-https.socket" "$units/"
chmod 0644 "$units"/*
for m in "$IMZA_SRCDIR"/man/*.[158]; do ln -s "$m" "$WORK/man/man${m##*.}/"; done
export XDG_RUNTIME_DIR=$WORK/runtime MANPATH=$WORK/man

out=$(cd "$units" && systemd-analyze verify --user ./imzad.socket ./imzad-https.socket ./imzad.service 2>&1)
rc=$?
echo "$out" >>"$LOG"
[ "$rc" = 0 ] && [ -z "$out" ] && pass "systemd-analyze verify: the three units are clean" ||
	fail "systemd-analyze verify: the three units are clean (status $rc: $(echo "$out" | head -3 | tr '\n' ' '))"

# verify must be able to fail here: an ExecStart that is not there.
sed -e "s|^ExecStart=.*|ExecStart=$WORK/nothing/imzad|" "$units/imzad.service" >"$WORK/imzad.service"
mkdir -p "$WORK/bad" && cp "$units"/*.socket "$WORK/bad/" && mv "$WORK/imzad.service" "$WORK/bad/"
out=$(cd "$WORK/bad" && systemd-analyze verify --user ./imzad.service 2>&1)
echo "$out" >>"$LOG"
echo "$out" | grep -q 'not executable' && pass "verify notices a missing ExecStart binary" ||
	fail "verify notices a missing ExecStart binary"

grep -qx 'FileDescriptorName=imzad' "$units/imzad.socket" && pass "imzad.socket names its socket imzad" ||
	fail "imzad.socket names its socket imzad"
grep -qx 'FileDescriptorName=https' "$units/imzad-https.socket" && pass "imzad-https.socket names its sockets https" ||
	fail "imzad-https.socket names its sockets https"
grep -q '^ListenStream=127.0.0.1:38443$' "$units/imzad-https.socket" && ! grep -q '^ListenStream=.*:[0-9]' "$units/imzad.socket" &&
	pass "the HTTPS port (38443) is only in imzad-https.socket" || fail "the HTTPS port (38443) is only in imzad-https.socket"
grep -qx 'Sockets=imzad.socket imzad-https.socket' "$units/imzad.service" && pass "imzad.service takes both units' sockets" ||
	fail "imzad.service takes both units' sockets"

out=$(cd "$units" && systemd-analyze security --user --offline=yes ./imzad.service 2>&1)
echo "$out" >>"$LOG"
score=$(echo "$out" | sed -n 's/.*Overall exposure level for imzad.service: \([0-9.]*\).*/\1/p')
note "systemd-analyze security --user --offline=yes imzad.service: ${score:-no score}"
echo "$out" | grep -E '^✗' | sed 's/^/#   /'
if [ -n "$score" ] && awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
	pass "exposure score $score is at most $MAX_EXPOSURE"
else
	fail "exposure score ${score:-?} is at most $MAX_EXPOSURE"
fi
# Each directive the comments promise is there (the score alone would let one swap for another).
for d in UMask=0077 LimitCORE=0 RestrictNamespaces=yes SystemCallFilter=@system-service CapabilityBoundingSet= \
	IPAddressAllow=localhost IPAddressDeny=any NoNewPrivileges=yes DevicePolicy=closed; do
	grep -qx "$d" "$units/imzad.service" && pass "imzad.service sets $d" || fail "imzad.service sets $d"
done
# sock_diag (the HTTPS peer's uid) needs netlink: a unit without it refuses every web request.
grep -q '^RestrictAddressFamilies=.*AF_NETLINK' "$units/imzad.service" && pass "netlink stays allowed (sock_diag)" ||
	fail "netlink stays allowed (sock_diag)"
# No option that makes a user manager set up a user namespace: root's files would belong to nobody there,
# and imzad would refuse every vendor module.
ns=$(grep -E '^(Private(Devices|Tmp|Mounts|Users|Network|IPC)|Protect(System|Home|Kernel[A-Za-z]*|ControlGroups|Clock|Hostname|Proc)|ProcSubset|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths)=' "$units/imzad.service")
[ -z "$ns" ] && pass "no option that needs a user namespace" || fail "no option that needs a user namespace ($ns)"
done_testing
