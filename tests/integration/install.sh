#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make install into a DESTDIR: every file where configure said (module in p11-kit's module directory
# without a libtool .la, imza.module naming it, the user units, binaries, backend helper, man pages,
# imza-prompt's catalog), no build-tree path compiled into what is installed, p11-kit and p11tool
# taking the module from its imza.module, and the installed imza-prompt finding its catalog where it
# was installed. Then make uninstall leaves no file behind.
. "$(dirname "$0")/../lib/tap.sh"
need p11-kit p11-kit
need p11tool gnutls-bin
need strings binutils
need strip binutils

# The test's own make, away from the make check that runs it (no jobserver of that one).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$IMZA_BUILDDIR" "$@"; }
eval "$(mk print-install-dirs 2>>"$LOG" | grep -E '^[a-z0-9_]+=')"
note "prefix $prefix, module in $pkcs11dir, p11-kit file in $p11kitmoduledir, units in $systemduserunitdir"
D=$WORK/dest
if mk install DESTDIR="$D" >>"$LOG" 2>&1; then pass "make install DESTDIR=..."; else fail "make install DESTDIR=..."; fi
(cd "$D" && find . ! -type d | sort) >"$WORK/installed"
sed 's/^/# /' "$WORK/installed"

has() { # has DESCRIPTION PATH: an installed file
	[ -f "$D$2" ] && pass "$1 ($2)" || fail "$1 ($2)"
}
has "the module" "$pkcs11dir/imza-pkcs11.so"
las=$(grep -c '\.la$' "$WORK/installed")
[ "$las" = 0 ] && pass "no libtool .la installed anywhere" || fail "no libtool .la installed anywhere ($las)"
has "the p11-kit module file" "$p11kitmoduledir/imza.module"
for b in imzad imzactl imza-prompt; do has "$b in bindir" "$bindir/$b"; done
has "imza-backend in pkglibexecdir" "$pkglibexecdir/imza-backend"
for u in imzad.socket imzad-https.socket imzad.service; do has "user unit $u" "$systemduserunitdir/$u"; done
for m in man1/imzactl.1 man1/imza-prompt.1 man5/imzad.conf.5 man8/imza-pkcs11.8 man8/imzad.8; do
	has "man page $m" "$mandir/$m"
done
has "imza-prompt's Turkish catalog" "$localedir/tr/LC_MESSAGES/imza.mo"
# Nothing else than these (a new installed file is added here on purpose, not by accident).
n=$(wc -l <"$WORK/installed")
[ "$n" = 15 ] && pass "15 files installed" || fail "15 files installed ($n)"

# imza.module names the installed module (by file name in p11-kit's own directory, else by path).
modline=$(sed -n 's/^module: *//p' "$D$p11kitmoduledir/imza.module")
case $modline in
/*) modpath=$modline ;;
*) modpath=$p11_module_path/$modline ;;
esac
[ "$modpath" = "$pkcs11dir/imza-pkcs11.so" ] && pass "imza.module points at the installed module ($modline)" ||
	fail "imza.module points at the installed module ($modline -> $modpath)"
for o in 'critical: no' 'trust-policy: no' 'disable-in: imzad imza-backend'; do
	grep -qx "$o" "$D$p11kitmoduledir/imza.module" && pass "imza.module: $o" || fail "imza.module: $o"
done
# The installed unit starts the installed imzad.
grep -qx "ExecStart=$bindir/imzad" "$D$systemduserunitdir/imzad.service" && pass "imzad.service starts $bindir/imzad" ||
	fail "imzad.service starts $bindir/imzad"

# What the programs carry: the installed places, never this build tree.
# (strings to a file first: grep -q leaving early would fail the pipe under pipefail.)
strings "$D$bindir/imzad" >"$WORK/strings"
grep -q "^$pkglibexecdir/imza-backend\$" "$WORK/strings" && pass "imzad runs $pkglibexecdir/imza-backend" ||
	fail "imzad runs $pkglibexecdir/imza-backend"
grep -q "^$bindir/imza-prompt\$" "$WORK/strings" && pass "imzad starts $bindir/imza-prompt (before the PATH's)" ||
	fail "imzad starts $bindir/imza-prompt (before the PATH's)"
strings "$D$bindir/imza-prompt" >"$WORK/strings"
grep -qx "$localedir" "$WORK/strings" && pass "imza-prompt reads its catalog from $localedir" ||
	fail "imza-prompt reads its catalog from $localedir"
# (The debug information names the build directory by design: it is left out, as a packager's strip does.)
leak=$(cd "$D" && for f in ."$bindir"/* ."$pkglibexecdir"/* ."$pkcs11dir"/*.so; do
	strip --strip-debug -o "$WORK/stripped" "$f" && strings "$WORK/stripped" >"$WORK/strings" &&
	grep -q -F "$IMZA_BUILDDIR" "$WORK/strings" && echo "$f"; done)
[ -z "$leak" ] && pass "no build-tree path in the installed programs" || fail "no build-tree path in the installed programs ($leak)"

# The installed files where they were installed for, in a private mount namespace: each directory
# that exists here gets the DESTDIR's copy mounted over it (a missing one: its nearest existing parent,
# if that is inside the prefix, and the prefix is not /usr). binds is a list of "FROM TO" lines; in_place runs a command there.
binds=
bind_dir() { # bind_dir DIR [TARGET]: show $D$DIR at TARGET (default: DIR or its parent, see above)
	local dir=$1 to=${2:-} a=$1
	if [ -z "$to" ]; then
		while [ ! -d "$a" ]; do a=$(dirname "$a"); done
		[ "$a" = "$dir" ] || { case $a/ in "$prefix"/*) true ;; *) false ;; esac &&
			[ "$prefix" != /usr ] && [ "$prefix" != / ]; } || return 1
		dir=$a to=$a
	fi
	[ -d "$to" ] && [ -d "$D$dir" ] || return 1
	binds="$binds$D$dir $to
"
}
in_place() {
	printf '%s' "$binds" | unshare -rm sh -c '
		while read -r from to; do mount --bind "$from" "$to" || exit 97; done
		exec "$@"' sh "$@"
}
if ! unshare -rm true 2>/dev/null; then
	skip "the installed files, in place" "no user namespaces here (unshare -rm)"
elif ! { bind_dir "$localedir" && bind_dir "$p11kitmoduledir" "$p11_module_configs" &&
	case $modline in /*) bind_dir "$pkcs11dir" ;; *) bind_dir "$pkcs11dir" "$p11_module_path" ;; esac; }; then
	skip "the installed files, in place" "a directory to mount them over is missing: $binds"
else
	printf '%s' "$binds" | sed 's/^/# mount --bind /'
	# imza-prompt finds its catalog where it was installed: it says in Turkish that it has no display.
	out=$(unset DISPLAY WAYLAND_DISPLAY IMZA_PROMPT_LOCALEDIR LC_ALL LANGUAGE LC_MESSAGES
		LANG=tr_TR.UTF-8 in_place "$D$bindir/imza-prompt" </dev/null 2>&1)
	echo "$out" >>"$LOG"
	echo "$out" | grep -q 'ekran yok' && pass "the installed imza-prompt speaks Turkish from $localedir" ||
		fail "the installed imza-prompt speaks Turkish from $localedir"
	# p11-kit and GnuTLS hang with libasan preloaded (a library constructor or destructor waits for
	# glibc's locale lock; even `p11-kit --help`), so host_env cannot serve here: an ASan-built module
	# is loaded without the preload, its runtime starting late (verify_asan_link_order=0), leaks not
	# counted.
	p11_host() {
		if nm -D "$D$pkcs11dir/imza-pkcs11.so" 2>/dev/null | grep __asan_init >/dev/null; then
			ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" "$@"
		else
			"$@"
		fi
	}
	# p11-kit reads the installed imza.module from its own directory and loads the installed module;
	# p11tool (GnuTLS) lists the card's token through it, with no --provider. Against the test stack.
	stack_up s
	check_output "p11-kit list-modules shows imza from the installed imza.module" '^imza: ' \
		p11_host in_place p11-kit list-modules
	check_output "p11tool --list-tokens sees the card through it (no --provider)" 'Module: .*imza-pkcs11\.so' \
		p11_host in_place p11tool --list-tokens
	# disable-in: p11-kit keeps the module out of a program named imza-backend (the name is what counts).
	# The same program under another name does load it.
	cp "$(command -v p11-kit)" "$WORK/imza-backend"
	cp "$(command -v p11-kit)" "$WORK/p11-kit-copy"
	check_output "a copy of p11-kit under another name loads imza" '^imza: ' \
		p11_host in_place "$WORK/p11-kit-copy" list-modules
	out=$(p11_host in_place "$WORK/imza-backend" list-modules 2>&1)
	echo "$out" >>"$LOG"
	! echo "$out" | grep -q '^imza: ' && pass "no imza module inside a program called imza-backend (disable-in)" ||
		fail "no imza module inside a program called imza-backend (disable-in)"
fi

if mk uninstall DESTDIR="$D" >>"$LOG" 2>&1; then pass "make uninstall DESTDIR=..."; else fail "make uninstall DESTDIR=..."; fi
left=$(cd "$D" && find . ! -type d | sort)
[ -z "$left" ] && pass "uninstall leaves no file" || fail "uninstall leaves no file: $(echo $left)"
done_testing
