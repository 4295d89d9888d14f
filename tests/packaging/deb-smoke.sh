#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# deb-smoke: the packages as users get them (issue 15, acceptance 1 and 2). From the release tarball's
# files (make distdir) it builds the .debs and prints lintian's verdict, builds the RPMs and prints
# rpmlint's; then it installs the .debs into this machine's /usr with apt-get and checks the installed
# files only: p11-kit lists the module, pkcs11-tool lists the virtual card's token through /usr's module
# against an imzad from /usr/bin, the manual pages render, systemd-analyze verifies the units and nothing
# got enabled. Last it purges the packages and compares a listing of the whole file system with the one
# taken before the installation: nothing may be left behind.
#
# It changes /usr, so it runs only as root and with IMZA_DEB_SMOKE=1 (.ci/run sets it; else it is
# skipped), and a trap purges the packages on every way out. IMZA_DEB_SMOKE_EXCLUDE names more paths
# (space-separated) for the listing to leave out, on a machine where other work writes files meanwhile.
. "$(dirname "$0")/../lib/tap.sh"

why=""
[ "${IMZA_DEB_SMOKE:-}" = 1 ] || why="IMZA_DEB_SMOKE=1 is not set (the test installs the .debs into /usr; CI sets it)"
[ -n "$why" ] || [ "$(id -u)" = 0 ] || why="not root (apt-get installs the .debs into /usr)"
if [ -n "$why" ]; then
	[ -n "${IMZA_NO_SKIP:-}" ] && bail "$why, and IMZA_NO_SKIP says every test must run"
	echo "1..0 # SKIP $why"
	exit 0
fi
need dpkg-buildpackage dpkg-dev
need dh debhelper
need lintian lintian
need rpmbuild rpm
need rpmlint rpmlint
need apt-get apt
need man man-db
need p11-kit p11-kit
need pkcs11-tool opensc
need systemd-analyze systemd
need xz xz-utils
stack_need
for p in imza imza-pkcs11; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'installed$' &&
		bail "$p is installed already: this test would purge it (remove it first)"
done

# The build tools of the packages must not join make check's jobs (their jobserver is not ours).
unset MAKEFLAGS MFLAGS MAKELEVEL
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$IMZA_BUILDDIR/Makefile")
[ -n "$version" ] || bail "no PACKAGE_VERSION in $IMZA_BUILDDIR/Makefile"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
module=/usr/lib/$multiarch/pkcs11/imza-pkcs11.so
units=(/usr/lib/systemd/user/imzad.socket /usr/lib/systemd/user/imzad-https.socket /usr/lib/systemd/user/imzad.service)
# apt reads the .debs as its sandbox user.
chmod 0755 "$WORK"
t0=$SECONDS
elapsed() { echo "$((SECONDS - t0)) s"; }

installed=""
purge() {
	apt-get purge -y imza imza-pkcs11 >>"$LOG" 2>&1
}
smoke_cleanup() {
	local d
	# The stack's imzad runs from /usr/bin: stop it before the purge.
	for d in "${tap_stacks[@]}"; do "$STACK" down "$d" >>"$LOG" 2>&1; done
	tap_stacks=()
	if [ -n "$installed" ] && dpkg-query -W -f='${Status}\n' imza imza-pkcs11 2>/dev/null | grep -q 'installed$'; then
		echo "# purging imza and imza-pkcs11 on the way out"
		purge || echo "# apt-get purge failed; see $LOG"
	fi
	tap_cleanup
}
trap smoke_cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the release tarball ----
dist=$WORK/dist
mkdir -p "$dist"
check "make distdir: the release tarball's files" make -C "$IMZA_BUILDDIR" distdir distdir="$dist/imza-$version"
[ -d "$dist/imza-$version" ] || bail "make distdir failed"
tarball=$dist/imza-$version.tar.xz
tar -C "$dist" -cJf "$tarball" "imza-$version" 2>>"$LOG" || bail "tar of the release tree failed"
rm -rf "${dist:?}/imza-$version"
for f in debian/control debian/rules packaging/rpm/imza.spec; do
	tar -tJf "$tarball" "imza-$version/$f" >/dev/null 2>&1 || bail "$f is not in the release tarball"
done
# Every packaging file the checkout tracks is in the tarball (a file left out of EXTRA_DIST is a package
# built without it).
if git -C "$IMZA_SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
	tar -tJf "$tarball" | sed "s|^imza-$version/||" | LC_ALL=C sort >"$WORK/tarball.list"
	gone=$(git -C "$IMZA_SRCDIR" ls-files debian packaging/rpm tests/packaging | LC_ALL=C sort | comm -23 - "$WORK/tarball.list" | tr '\n' ' ')
	[ -z "$gone" ] && pass "every tracked file of debian/, packaging/rpm/ and tests/packaging/ is in the tarball" ||
		fail "every tracked file of debian/, packaging/rpm/ and tests/packaging/ is in the tarball; not: $gone"
fi
debversion=$(tar -xJOf "$tarball" "imza-$version/debian/changelog" | sed -n '1s/^imza (\([^)]*\)).*/\1/p')
specversion=$(tar -xJOf "$tarball" "imza-$version/packaging/rpm/imza.spec" | sed -n 's/^Version: *//p')
[ "${debversion%-*}" = "$version" ] && pass "debian/changelog's version $debversion is configure's $version" ||
	fail "debian/changelog's version $debversion is configure's $version"
[ "$specversion" = "$version" ] && pass "imza.spec's Version $specversion is configure's $version" ||
	fail "imza.spec's Version $specversion is configure's $version"

# ---- Debian: dpkg-buildpackage, lintian ----
deb=$WORK/deb
mkdir -p "$deb" && chmod 0755 "$deb"
tar -C "$deb" -xJf "$tarball"
cp "$tarball" "$deb/imza_$version.orig.tar.xz"
t0=$SECONDS
# nocheck: the unit tests ran in this tree's make check already (debian/rules says what they are).
if (cd "$deb/imza-$version" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$WORK/dpkg-buildpackage.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b builds the packages ($(elapsed))"
else
	tail -n 30 "$WORK/dpkg-buildpackage.log" | sed 's/^/# /'
	bail "dpkg-buildpackage failed"
fi
changes=$(ls "$deb"/imza_*_*.changes)
debs=("$deb"/imza_"$debversion"_*.deb "$deb"/imza-pkcs11_"$debversion"_*.deb)
for f in "${debs[@]}"; do [ -f "$f" ] || bail "no $f"; done
note "built: $(cd "$deb" && ls ./*.deb | tr '\n' ' ')"
t0=$SECONDS
lint=$(lintian -I --pedantic --show-overrides "$changes" 2>&1)
note "lintian -I --pedantic --show-overrides $(basename "$changes") ($(elapsed)):"
if [ -n "$lint" ]; then sed 's/^/#   /' <<<"$lint"; else note "  (nothing to say)"; fi
bad=$(grep -E '^[EW]: ' <<<"$lint" || true)
[ -z "$bad" ] && pass "lintian: no errors or warnings" || fail "lintian: no errors or warnings ($(wc -l <<<"$bad") lines)"

# ---- RPM: rpmbuild, rpmlint ----
# --nodeps: Debian's rpm database holds no packages, so no BuildRequires can be met here; the libraries
# are Debian's. --nocheck: as above.
rpmtop=$WORK/rpmbuild
t0=$SECONDS
if rpmbuild -tb --nodeps --nocheck --define "_topdir $rpmtop" "$tarball" >"$WORK/rpmbuild.log" 2>&1; then
	pass "rpmbuild -tb --nodeps builds the RPMs from the tarball ($(elapsed))"
else
	tail -n 30 "$WORK/rpmbuild.log" | sed 's/^/# /'
	fail "rpmbuild -tb --nodeps builds the RPMs from the tarball"
fi
rpms=("$rpmtop"/RPMS/*/imza-*.rpm)
note "built: $(cd "$rpmtop/RPMS" 2>/dev/null && ls ./*/*.rpm | tr '\n' ' ')"
tar -C "$WORK" -xJf "$tarball" "imza-$version/packaging/rpm"
rpmdir=$WORK/imza-$version/packaging/rpm
rlint=$(rpmlint -r "$rpmdir/imza.rpmlintrc" "$rpmdir/imza.spec" "${rpms[@]}" 2>&1)
note "rpmlint -r imza.rpmlintrc imza.spec $(for r in "${rpms[@]}"; do printf '%s ' "$(basename "$r")"; done):"
grep -v '^$' <<<"$rlint" | sed 's/^/#   /'
# What the filter file takes away, by tag (its comments say why each does not apply).
note "filtered by imza.rpmlintrc: $(rpmlint "$rpmdir/imza.spec" "${rpms[@]}" 2>&1 |
	sed -n 's/^[^ ]*: \([EW]\): \([^ ]*\).*/\1:\2/p' | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')"
grep -Eq '^ *[0-9]+ packages and [0-9]+ specfiles checked; 0 errors' <<<"$rlint" &&
	pass "rpmlint: no errors" || fail "rpmlint: no errors"
rpmlibdir=$(rpm --eval '%{_libdir}')
check_output "imza-pkcs11's RPM holds $rpmlibdir/pkcs11/imza-pkcs11.so" "^$rpmlibdir/pkcs11/imza-pkcs11\.so\$" \
	rpm -qlp "$rpmtop"/RPMS/*/imza-pkcs11-"$version"-*.rpm

# ---- install ----
# The listing leaves out what is not the system's: the kernel's and runtime file systems, temporary
# files (the builds and the test stack are there), this source and build tree, apt's and dpkg's own
# databases and caches (package lists, the archive cache, its records of what is installed), and
# man-db's cache of formatted pages (reading a page writes one, as the checks below do; man-db's daily
# job deletes them after 6 days, and its trigger adds CACHEDIR.TAG files there).
exclude=(/proc /sys /dev /tmp /run /var/tmp /var/cache/apt /var/lib/apt /var/lib/dpkg /var/cache/man
	"$WORK" "$IMZA_SRCDIR" "$IMZA_BUILDDIR")
# shellcheck disable=SC2206
exclude+=(${IMZA_DEB_SMOKE_EXCLUDE:-})
listing() {
	local prune=() p
	for p in "${exclude[@]}"; do prune+=(-path "$p" -o); done
	find / -xdev \( "${prune[@]}" -false \) -prune -o -printf '%y %#m %u:%g %p\n' 2>/dev/null | LC_ALL=C sort
}
listing >"$WORK/before.list"
note "the file system before: $(wc -l <"$WORK/before.list") entries"
t0=$SECONDS
installed=1
# --no-install-recommends: what imza recommends (pcscd, libnss3-tools) is there already where the suite
# runs; anything apt pulled in besides would stay after the purge (apt never removes it by itself) and
# the listing would rightly find it. The check below wants exactly these two packages installed.
out=$(cd "$deb" && apt-get install -y --no-install-recommends "${debs[@]/#$deb/.}" 2>&1)
rc=$?
echo "$out" >>"$LOG"
grep -E 'newly installed|^E: ' <<<"$out" | sed 's/^/# /'
[ $rc = 0 ] && grep -q '^0 upgraded, 2 newly installed, 0 to remove' <<<"$out" &&
	pass "apt-get install ./imza_*.deb ./imza-pkcs11_*.deb installs those two and nothing else ($(elapsed))" ||
	bail "apt-get install of the .debs failed (exit $rc)"
dpkg -L imza imza-pkcs11 | grep -vxE '|/\.' | LC_ALL=C sort -u >"$WORK/dpkg-L.list"
note "dpkg -L imza imza-pkcs11:"
grep -vxE '/usr|/usr/(bin|lib|libexec|share|share/doc|share/man|share/man/man[0-9]|share/locale|share/locale/[^/]+|share/locale/[^/]+/LC_MESSAGES)' \
	"$WORK/dpkg-L.list" | sed 's/^/#   /'
check_output "imza-pkcs11 is Multi-Arch: same, imza Multi-Arch: foreign" '^imza foreign imza-pkcs11 same$' \
	sh -c "dpkg-query -W -f='\${Package} \${Multi-Arch} ' imza imza-pkcs11 | sed 's/ \$//'"
gone=""
for f in /usr/bin/imzad /usr/bin/imzactl /usr/bin/imza-prompt /usr/libexec/imza/imza-backend "$module" \
	/usr/share/p11-kit/modules/imza.module "${units[@]}"; do
	[ -e "$f" ] || gone+=" $f"
done
[ -z "$gone" ] && pass "installed: the programs, imza-backend, the module, its p11-kit file and the user units" ||
	fail "installed: the programs, imza-backend, the module, its p11-kit file and the user units; missing:$gone"
leftovers=$(find "$(dirname "$module")" -name '*.la' | tr '\n' ' ')
[ -z "$leftovers" ] && pass "no libtool .la beside the module" || fail "no libtool .la beside the module: $leftovers"
# Installing enables nothing: imzactl setup does, per user.
enabled=$(find /etc/systemd/user /etc/systemd/system -name 'imza*' 2>/dev/null | tr '\n' ' ')
[ -z "$enabled" ] && pass "installing enabled no unit" || fail "installing enabled no unit: $enabled"

# An upgrade's postinst (configure with the version before) enables nothing either.
check "dpkg -i the same .debs again (postinst configure as on an upgrade)" dpkg -i "${debs[@]}"
enabled=$(find /etc/systemd/user /etc/systemd/system -name 'imza*' 2>/dev/null | tr '\n' ' ')
[ -z "$enabled" ] && pass "reinstalling enabled no unit" || fail "reinstalling enabled no unit: $enabled"

# ---- the installed files at work ----
export XDG_RUNTIME_DIR=$WORK/runtime
mkdir -m 0700 "$XDG_RUNTIME_DIR"
# p11-kit 0.24 prints "NAME: MODULE" for each module and its tokens indented below it.
check_output "p11-kit list-modules shows imza: imza-pkcs11.so (before any imzad runs)" '^imza: imza-pkcs11\.so$' \
	p11-kit list-modules
IMZA_STACK_IMZAD=/usr/bin/imzad IMZA_STACK_IMZACTL=/usr/bin/imzactl IMZA_STACK_MODULE=$module stack_up s
read -r pid _ <"$IMZA_STACK_DIR/pids/imzad"
exe=$(readlink "/proc/$pid/exe")
[ "$exe" = /usr/bin/imzad ] && pass "the stack's imzad runs from /usr/bin/imzad" || fail "the stack's imzad runs from /usr/bin/imzad ($exe)"
[ "$IMZA_MODULE" = "$module" ] && pass "the stack names the installed module" || fail "the stack names the installed module ($IMZA_MODULE)"
out=$(pkcs11-tool --module "$module" -L 2>&1)
echo "$out" >>"$LOG"
sed 's/^/#   /' <<<"$out"
grep -q 'token label *: ' <<<"$out" && grep -q 'Imza Virtual A' <<<"$out" &&
	pass "pkcs11-tool --module $module -L lists the virtual card's token" ||
	fail "pkcs11-tool --module $module -L lists the virtual card's token"
check_output "p11-kit list-modules shows imza with the card's token" '^ +token: AHMET YILMAZ' \
	sh -c 'p11-kit list-modules | awk "/^imza: / { on = 1; print; next } /^[^ ]/ { on = 0 } on"'
check_output "the installed imzactl talks to the installed imzad" '^  card: [^n]' /usr/bin/imzactl status
for page in imzactl imzad imzad.conf imza-prompt imza-pkcs11; do
	out=$(MANWIDTH=80 man --warnings "$page" 2>"$WORK/man.err")
	echo "$out" >>"$LOG"
	[ -n "$out" ] && [ ! -s "$WORK/man.err" ] && grep -q '^NAME' <<<"$out" &&
		pass "man $page renders without a warning ($(wc -l <<<"$out") lines)" ||
		fail "man $page renders without a warning: $(head -c 300 "$WORK/man.err")"
done
check "systemd-analyze verify --user on the installed units" systemd-analyze verify --user "${units[@]}"
note "systemd-analyze security --user --offline=yes /usr/lib/systemd/user/imzad.service:"
systemd-analyze security --user --offline=yes /usr/lib/systemd/user/imzad.service 2>&1 | grep 'Overall exposure' | sed 's/^/#   /'
stacks_down

# ---- purge: nothing left behind ----
t0=$SECONDS
if purge; then pass "apt-get purge -y imza imza-pkcs11 ($(elapsed))"; else fail "apt-get purge -y imza imza-pkcs11"; fi
installed=""
still=""
cut -d' ' -f4- "$WORK/before.list" >"$WORK/before.paths"
while IFS= read -r f; do
	grep -qxF "$f" "$WORK/before.paths" && continue
	{ [ -e "$f" ] || [ -L "$f" ]; } && still+=" $f"
done <"$WORK/dpkg-L.list"
[ -z "$still" ] && pass "no file of dpkg -L is left after the purge" || fail "no file of dpkg -L is left after the purge:$still"
listing >"$WORK/after.list"
if cmp -s "$WORK/before.list" "$WORK/after.list"; then
	pass "the file system after the purge is as it was before ($(wc -l <"$WORK/after.list") entries)"
else
	diff "$WORK/before.list" "$WORK/after.list" | head -n 60 | sed 's/^/# /'
	fail "the file system after the purge is as it was before"
fi
note "deb-smoke took $SECONDS s in all"
done_testing
