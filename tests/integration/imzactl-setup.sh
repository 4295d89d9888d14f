#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imzactl setup / --undo on a fresh HOME with Chromium's ~/.pki/nssdb, Chromium's snap database, two
# Firefox profiles, one under ~/.config/mozilla, a snap Firefox profile and a profile where
# p11-kit-proxy loads imza: every database
# gets the module (but the proxy's) and the CA, the units are enabled (a fake systemctl records its
# argv: the test never touches the real user manager), a second setup changes nothing, a tampered
# record is refused, and --undo leaves exactly the files, modules and certificates it started with.
. "$(dirname "$0")/../lib/tap.sh"
need certutil libnss3-tools
need modutil libnss3-tools
need openssl openssl

CTL=$IMZA_BUILDDIR/tools/imzactl
MOD=$IMZA_BUILDDIR/pkcs11/.libs/imza-pkcs11.so
# host_env looks at it: in a sanitizer build, modutil and certutil (setup's too) load the ASan-built
# module from the databases, and need the ASan runtime first.
export IMZA_MODULE=$MOD
NICK="imza local CA"
[ -x "$CTL" ] && [ -e "$MOD" ] || bail "build first: no $CTL or $MOD"
PROXY=""
for p in /usr/lib/*/p11-kit-proxy.so /usr/lib64/p11-kit-proxy.so /usr/lib/p11-kit-proxy.so; do
	[ -e "$p" ] && PROXY=$p && break
done

export HOME=$WORK/home
# The record goes to ~/.local/state/imza: inside the listing, so undo must take it away too.
unset XDG_STATE_HOME XDG_CONFIG_HOME XDG_DATA_HOME
# No imzad for the module or for setup to wake: a socket that does not exist.
export XDG_RUNTIME_DIR=$WORK/run IMZA_SOCKET=$WORK/run/none.sock
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$WORK/conf" "$WORK/bin" "$WORK/units"
chmod 700 "$XDG_RUNTIME_DIR"
STATE=$HOME/.local/state/imza/setup

# The fake systemctl: a user manager that knows imza's two units, enabled or not, and logs each call.
cat >"$WORK/bin/systemctl" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$WORK/systemctl.argv"
case "\$1 \$2" in
"--user is-system-running") [ -e "$WORK/no-manager" ] && { echo offline; exit 1; }; echo running ;;
"--user is-enabled") [ -e "$WORK/units/\$3" ] && { echo enabled; exit 0; }; echo disabled; exit 1 ;;
"--user enable") shift 3; for u; do touch "$WORK/units/\$u"; done ;;
"--user disable") shift 3; for u; do rm -f "$WORK/units/\$u"; done ;;
*) exit 1 ;;
esac
EOF
chmod +x "$WORK/bin/systemctl"
export PATH=$WORK/bin:$PATH
: >"$WORK/systemctl.argv"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" \
	-out "$WORK/conf/ca.crt" -days 30 -subj "/O=imza/CN=imza local CA (test)" \
	-addext basicConstraints=critical,CA:TRUE,pathlen:0 -addext keyUsage=critical,keyCertSign,cRLSign \
	>>"$LOG" 2>&1 || bail "openssl req"

newdb() { mkdir -p "$1" && host_env certutil -N -d "sql:$1" --empty-password >>"$LOG" 2>&1 || bail "certutil -N $1"; }
CHROMIUM=$HOME/.pki/nssdb
FF=$HOME/.mozilla/firefox
FF1=$FF/k3x9.default-release
FF2=$FF/w0rk.work
FFP=$FF/px11.proxy
SNAPFF=$HOME/snap/firefox/common/.mozilla/firefox/a1b2.default
# Where a recent Firefox (153) puts a new user's profiles.
XFF=$HOME/.config/mozilla/firefox/x7y8.default-esr
SNAPCR=$HOME/snap/chromium/current/.pki/nssdb
for d in "$CHROMIUM" "$FF1" "$FF2" "$SNAPFF" "$XFF"; do newdb "$d"; done
mkdir -p "$HOME/snap/chromium/2345"
ln -s 2345 "$HOME/snap/chromium/current"
newdb "$SNAPCR"
{
	printf '[Profile0]\nName=default-release\nIsRelative=1\nPath=%s\nDefault=1\n\n' "${FF1##*/}"
	printf '[Profile1]\nName=work\nIsRelative=1\nPath=%s\n\n' "${FF2##*/}"
} >"$FF/profiles.ini"
printf '[Profile0]\nName=default\nIsRelative=1\nPath=a1b2.default\n' >"${SNAPFF%/*}/profiles.ini"
printf '[Profile0]\nName=default-esr\nIsRelative=1\nPath=x7y8.default-esr\n' >"${XFF%/*}/profiles.ini"
DBS=("$CHROMIUM" "$SNAPCR" "$FF1" "$FF2" "$SNAPFF" "$XFF")
if [ -n "$PROXY" ]; then
	# p11-kit knows imza (the user's module file), and this profile loads p11-kit-proxy.
	mkdir -p "$HOME/.config/pkcs11/modules"
	printf 'module: %s\n' "$MOD" >"$HOME/.config/pkcs11/modules/imza.module"
	newdb "$FFP"
	host_env modutil -force -dbdir "sql:$FFP" -add p11-kit-proxy -libfile "$PROXY" </dev/null >>"$LOG" 2>&1 ||
		bail "modutil -add p11-kit-proxy"
	printf '[Profile2]\nName=proxy\nIsRelative=1\nPath=%s\n\n' "${FFP##*/}" >>"$FF/profiles.ini"
fi

# snapshot FILE: the files under HOME (name, type, mode), then each database's modules and certificates.
snapshot() {
	{
		find "$HOME" -printf '%P %y %m\n' | sort
		for d in "${DBS[@]}" ${PROXY:+"$FFP"}; do
			echo "== ${d#"$HOME"/}"
			host_env modutil -list -dbdir "sql:$d" </dev/null 2>&1
			host_env certutil -L -d "sql:$d" 2>&1
		done
	} >"$1"
}
modules() { host_env modutil -rawlist -dbdir "sql:$1" </dev/null 2>>"$LOG"; }
has_module() { modules "$1" | grep -q "name=\"imza\""; }
has_ca() { host_env certutil -L -d "sql:$1" 2>>"$LOG" | grep -Eq "^$NICK +C,, *\$"; }
run_ctl() {
	echo "## imzactl $*" >>"$LOG"
	out=$(host_env "$CTL" "$@" 2>&1)
	rc=$?
	echo "$out" >>"$LOG"
}
said() { grep -qF -- "$1" <<<"$out"; }
same() {
	if diff "$1" "$2" >>"$LOG"; then pass "$3"; else fail "$3"; fi
}

snapshot "$WORK/before"
ndb=${#DBS[@]}
[ -n "$PROXY" ] && ndb=$((ndb + 1))
note "$(grep -c . "$WORK/before") lines in the listing before, $ndb databases"

# ---- --dry-run: says, changes nothing ----
run_ctl setup --module "$MOD" --config-dir "$WORK/conf" --dry-run
[ "$rc" = 0 ] && [ "$(grep -c '^would add module imza' <<<"$out")" = ${#DBS[@]} ] &&
	[ "$(grep -c "^would add $NICK" <<<"$out")" -ge ${#DBS[@]} ] &&
	said "would enable and start imzad.socket imzad-https.socket" &&
	pass "--dry-run says what it would do in each of the ${#DBS[@]} databases" || fail "--dry-run says what it would do"
snapshot "$WORK/dry"
same "$WORK/before" "$WORK/dry" "--dry-run changes nothing"
! grep -q -- '--user enable ' "$WORK/systemctl.argv" && pass "--dry-run enables no unit" || fail "--dry-run enables no unit"

# ---- setup ----
run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
[ "$rc" = 0 ] && pass "setup succeeds" || fail "setup succeeds (exit $rc)"
for d in "${DBS[@]}"; do
	n=${d#"$HOME"/}
	has_module "$d" && host_env modutil -list -dbdir "sql:$d" </dev/null 2>>"$LOG" | grep -qF "library name: $MOD" &&
		said "added module imza ($MOD) to sql:$d" && pass "module imza in $n, and said" ||
		fail "module imza in $n, and said"
	has_ca "$d" && said "added $NICK to sql:$d" && pass "CA trusted C,, in $n, and said" ||
		fail "CA trusted C,, in $n, and said"
done
if [ -n "$PROXY" ]; then
	! has_module "$FFP" && [ "$(modules "$FFP" | grep -c 'library=')" = 2 ] &&
		said "p11-kit-proxy loads imza in sql:$FFP (p11-kit's imza.module): module list left as it is" &&
		pass "a profile where p11-kit-proxy loads imza keeps its module list" ||
		fail "a profile where p11-kit-proxy loads imza keeps its module list"
	has_ca "$FFP" && pass "... and gets the CA" || fail "... and gets the CA"
else
	skip "p11-kit-proxy" "p11-kit-proxy.so missing (package p11-kit-modules)"
	skip "p11-kit-proxy CA" "p11-kit-proxy.so missing (package p11-kit-modules)"
fi
grep -qx -- "--user enable --now imzad.socket imzad-https.socket" "$WORK/systemctl.argv" &&
	said "enabled and started imzad.socket imzad-https.socket" &&
	pass "setup asked systemctl --user enable --now imzad.socket imzad-https.socket" ||
	fail "setup asked systemctl --user enable --now for both units"
[ "$(stat -c %a "$STATE")" = 600 ] && [ "$(stat -c %a "${STATE%/*}")" = 700 ] &&
	pass "the record is $STATE, 0600 in a 0700 dir" || fail "the record is 0600 in a 0700 dir"

# ---- again: nothing changes ----
snapshot "$WORK/after1"
cp "$STATE" "$WORK/state1"
lines=$(wc -l <"$WORK/systemctl.argv")
run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
[ "$rc" = 0 ] && said "nothing to change: imza is set up for this user already" && ! said "added" &&
	pass "second setup: nothing to change, and it says so" || fail "second setup: nothing to change"
snapshot "$WORK/after2"
same "$WORK/after1" "$WORK/after2" "second setup changed no file, module or certificate"
cmp -s "$STATE" "$WORK/state1" && pass "second setup left the record as it was" || fail "second setup left the record"
! tail -n +"$((lines + 1))" "$WORK/systemctl.argv" | grep -q -- '--user enable ' && pass "second setup enabled nothing" ||
	fail "second setup enabled nothing"

# ---- a tampered record is refused, whole ----
mv "$STATE" "$WORK/state.good"
mkdir -p "$WORK/outside"
newdb "$WORK/outside"
host_env modutil -force -dbdir "sql:$WORK/outside" -add imza -libfile "$MOD" </dev/null >>"$LOG" 2>&1
ln -s "$WORK/outside" "$HOME/escape"
tamper() {
	local what=$1 line=$2
	{ head -n 2 "$WORK/state.good"; echo "$line"; tail -n +3 "$WORK/state.good"; } >"$STATE"
	chmod 600 "$STATE"
	run_ctl setup --undo
	[ "$rc" = 1 ] && said "nothing undone" && has_module "$FF1" && has_ca "$CHROMIUM" &&
		pass "a record naming $what is refused, and nothing is undone" ||
		fail "a record naming $what is refused (exit $rc)"
}
tamper "/etc" "made-dir /etc"
tamper "a database outside HOME" "module /etc/pki/nssdb"
tamper "a path with .." "module $HOME/../outside"
tamper "a link out of HOME" "module $HOME/escape"
tamper "a database setup never makes" "made-db $FF1"
tamper "another unit" "unit dbus.service"
tamper "an unknown entry" "rm -rf $HOME"
# A directory setup makes, reached through a link out of HOME.
mv "$HOME/.pki" "$WORK/pki.moved"
ln -s "$WORK/pki.moved" "$HOME/.pki"
# (Alone in the record: the good entries naming ~/.pki/nssdb would be refused through the link too.)
for line in "made-db $HOME/.pki/nssdb" "made-dir $HOME/.pki/nssdb"; do
	printf '%s\n%s\n' "imza-setup 1" "$line" >"$STATE"
	run_ctl setup --undo
	[ "$rc" = 1 ] && said "leads out of the home directory" && said "nothing undone" && has_module "$CHROMIUM" &&
		pass "a record naming ${line%% *} ~/.pki/nssdb through a link out of HOME is refused" ||
		fail "a record naming ${line%% *} ~/.pki/nssdb through a link out of HOME is refused (exit $rc)"
done
rm "$HOME/.pki"
mv "$WORK/pki.moved" "$HOME/.pki"
has_module "$WORK/outside" && pass "the database behind the link still has its module" ||
	fail "the database behind the link still has its module"
printf 'imza-setup 1\nmodule %s' "$FF1" >"$STATE"
run_ctl setup --undo
[ "$rc" = 1 ] && said "cut off" && has_module "$FF1" && pass "a record cut off mid-line is refused" ||
	fail "a record cut off mid-line is refused"
rm -f "$STATE"
ln -s "$WORK/state.good" "$STATE"
run_ctl setup --undo
[ "$rc" = 1 ] && said "symbolic link" && has_module "$FF1" && pass "a record that is a symbolic link is refused" ||
	fail "a record that is a symbolic link is refused"
rm -f "$STATE"
head -c 70000 /dev/zero | tr '\0' '#' >"$STATE"
run_ctl setup --undo
[ "$rc" = 1 ] && has_module "$FF1" && pass "a record larger than 64 KiB is refused" || fail "a record larger than 64 KiB is refused"
run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
[ "$rc" = 1 ] && said "nothing changed" && pass "setup too refuses to go on from a damaged record" ||
	fail "setup too refuses to go on from a damaged record"
rm -f "$STATE" "$HOME/escape"
mv "$WORK/state.good" "$STATE"

# ---- a profile that appears after setup is not touched by undo ----
cp "$FF/profiles.ini" "$WORK/profiles.ini"
LATE=$FF/l4te.later
newdb "$LATE"
printf '[Profile9]\nName=later\nIsRelative=1\nPath=%s\n' "${LATE##*/}" >>"$FF/profiles.ini"
host_env modutil -force -dbdir "sql:$LATE" -add imza -libfile "$MOD" </dev/null >>"$LOG" 2>&1
host_env certutil -A -d "sql:$LATE" -n "$NICK" -t C,, -i "$WORK/conf/ca.crt" >>"$LOG" 2>&1

# ---- undo ----
lines=$(wc -l <"$WORK/systemctl.argv")
run_ctl setup --undo --dry-run
[ "$rc" = 0 ] && said "would remove module imza from sql:$FF1" && [ -e "$STATE" ] && has_module "$FF1" &&
	pass "undo --dry-run says, changes nothing" || fail "undo --dry-run says, changes nothing"
run_ctl setup --undo
[ "$rc" = 0 ] && pass "undo succeeds" || fail "undo succeeds (exit $rc)"
tail -n +"$((lines + 1))" "$WORK/systemctl.argv" >"$WORK/undo.argv"
grep -qx -- "--user disable --now imzad.socket" "$WORK/undo.argv" &&
	grep -qx -- "--user disable --now imzad-https.socket" "$WORK/undo.argv" &&
	pass "undo asked systemctl --user disable --now for both units" || fail "undo disabled both units"
has_module "$LATE" && has_ca "$LATE" && ! said "$LATE" && pass "a profile made after setup is not touched by undo" ||
	fail "a profile made after setup is not touched by undo"
rm -rf "$LATE"
cat "$WORK/profiles.ini" >"$FF/profiles.ini"
snapshot "$WORK/after-undo"
same "$WORK/before" "$WORK/after-undo" "after undo: exactly the files, modules and certificates it started with"
run_ctl setup --undo
[ "$rc" = 0 ] && said "nothing to undo" && pass "a second undo: nothing to undo" || fail "a second undo: nothing to undo"

# ---- a fresh HOME without Chromium's database and without a user manager: setup makes the database
# where Chromium 146 and later make it, never ~/.pki/nssdb (Chromium would take that one over) ----
export HOME=$WORK/home2
mkdir -p "$HOME"
touch "$WORK/no-manager"
snapshot "$WORK/before2"
run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
[ "$rc" = 0 ] && said "no systemd user manager here" && pass "no user manager: said, and setup goes on" ||
	fail "no user manager: said, and setup goes on (exit $rc)"
NEW=$HOME/.local/share/pki/nssdb
said "made a new NSS database sql:$NEW" && has_module "$NEW" && has_ca "$NEW" && [ ! -e "$HOME/.pki" ] &&
	pass "~/.local/share/pki/nssdb is made, with the module and the CA; no ~/.pki" ||
	fail "~/.local/share/pki/nssdb is made, with the module and the CA; no ~/.pki"
run_ctl setup --undo
snapshot "$WORK/after2-undo"
[ "$rc" = 0 ] && said "deleted the NSS database sql:$NEW that setup made" && [ ! -e "$HOME/.local" ] &&
	pass "undo deletes the database and the directories setup made" ||
	fail "undo deletes the database and the directories setup made"
same "$WORK/before2" "$WORK/after2-undo" "fresh HOME: after undo, exactly what it started with"
# A database setup made but the user then filled is kept.
run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/u.key" -out "$WORK/u.crt" \
	-days 3 -subj "/CN=user's own" >>"$LOG" 2>&1
host_env certutil -A -d "sql:$NEW" -n "user's own" -t ,, -i "$WORK/u.crt" >>"$LOG" 2>&1
run_ctl setup --undo
[ "$rc" = 0 ] && said "now holds other certificates, keys or modules: kept" &&
	host_env certutil -L -d "sql:$NEW" 2>>"$LOG" | grep -q "user's own" && ! has_module "$NEW" &&
	pass "a database setup made that the user filled is kept, without imza's module" ||
	fail "a database setup made that the user filled is kept"
rm -f "$WORK/no-manager"

# ---- Chromium 146+ made its database; the state dir outside HOME ($XDG_STATE_HOME); imzad has made
# no CA yet, then it has ----
export HOME=$WORK/home3 XDG_STATE_HOME=$WORK/state3
mkdir -p "$HOME" "$WORK/noconf"
newdb "$HOME/.local/share/pki/nssdb"
snapshot "$WORK/before3"
run_ctl setup --module "$MOD" --config-dir "$WORK/noconf"
[ "$rc" = 1 ] && said "imzad has not made its CA yet" && said "run \`imzactl setup\` again" &&
	has_module "$HOME/.local/share/pki/nssdb" && ! has_ca "$HOME/.local/share/pki/nssdb" && [ ! -e "$HOME/.pki" ] &&
	pass "no CA yet: exit 1, the module is registered, the CA step is left for a second run" ||
	fail "no CA yet: exit 1, the module registered, the CA left (exit $rc)"
run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
[ "$rc" = 0 ] && said "added $NICK to sql:$HOME/.local/share/pki/nssdb" && ! said "added module" &&
	pass "the second run adds only the CA" || fail "the second run adds only the CA (exit $rc)"
run_ctl setup --undo
snapshot "$WORK/after3-undo"
[ "$rc" = 0 ] && [ ! -e "$XDG_STATE_HOME/imza" ] && pass "a state dir outside HOME is recorded, and removed by undo" ||
	fail "a state dir outside HOME is recorded, and removed by undo (exit $rc)"
same "$WORK/before3" "$WORK/after3-undo" "state dir outside HOME: after undo, exactly what it started with"
unset XDG_STATE_HOME

# ---- p11-kit's module file as the package installs it (the module's file name in p11-kit's module
# dir, disable-in naming imza's own programs): the proxy loads imza; one that names the proxy in
# disable-in does not, and then the profile gets the module ----
if [ -n "$PROXY" ]; then
	export HOME=$WORK/home4
	P4=$HOME/.mozilla/firefox/p4.proxy
	newdb "$P4"
	printf '[Profile0]\nName=proxy\nIsRelative=1\nPath=p4.proxy\n' >"$HOME/.mozilla/firefox/profiles.ini"
	mkdir -p "$HOME/.config/pkcs11/modules"
	printf 'module: %s\ncritical: no\ndisable-in: imzad imza-backend\n' "${MOD##*/}" \
		>"$HOME/.config/pkcs11/modules/imza.module"
	host_env modutil -force -dbdir "sql:$P4" -add p11-kit-proxy -libfile "$PROXY" </dev/null >>"$LOG" 2>&1
	run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
	[ "$rc" = 0 ] && said "p11-kit-proxy loads imza in sql:$P4" && ! has_module "$P4" &&
		pass "p11-kit's module file by file name, disable-in without the proxy: the proxy profile is left alone" ||
		fail "p11-kit's module file by file name: the proxy profile is left alone (exit $rc)"
	run_ctl setup --undo
	printf 'module: %s\ndisable-in: p11-kit-proxy, imzad\n' "${MOD##*/}" >"$HOME/.config/pkcs11/modules/imza.module"
	run_ctl setup --module "$MOD" --config-dir "$WORK/conf"
	[ "$rc" = 0 ] && said "added module imza ($MOD) to sql:$P4" && has_module "$P4" &&
		pass "disable-in naming p11-kit-proxy: the proxy profile gets the module" ||
		fail "disable-in naming p11-kit-proxy: the proxy profile gets the module (exit $rc)"
	run_ctl setup --undo
	! has_module "$P4" && pass "... and undo takes it out again" || fail "... and undo takes it out again"
else
	skip "p11-kit's module file as packaged" "p11-kit-proxy.so missing (package p11-kit-modules)"
fi

# ---- errors ----
run_ctl setup --module "$WORK/nothing.so"
[ "$rc" = 1 ] && said "no PKCS#11 module at $WORK/nothing.so" && pass "a missing module: exit 1, named" ||
	fail "a missing module: exit 1, named (got $rc)"
run_ctl setup --undo --module "$MOD"
[ "$rc" = 2 ] && pass "--undo with --module is a usage error" || fail "--undo with --module: exit 2 (got $rc)"
run_ctl setup extra
[ "$rc" = 2 ] && pass "an extra argument is a usage error" || fail "an extra argument: exit 2 (got $rc)"

# The administrators' Firefox policy uses only keys and types that the installed Firefox's own policy
# schema (in its omni.ja) knows.
OMNI=$(ls /usr/lib/firefox-esr/browser/omni.ja /usr/lib/firefox/browser/omni.ja 2>/dev/null | head -n 1)
if [ -n "$OMNI" ]; then
	check "packaging/firefox-policy/imza-module-and-ca.json and ROLLOUT.md's example fit $OMNI's policy schema" python3 - "$OMNI" \
		"$IMZA_SRCDIR/packaging/firefox-policy/imza-module-and-ca.json" "$IMZA_SRCDIR/packaging/ROLLOUT.md" <<'PY'
import json, re, sys, zipfile
schema = json.loads(zipfile.ZipFile(sys.argv[1]).read("modules/policies/policies-schema.json"))["properties"]
pol = json.load(open(sys.argv[2]))["policies"]
assert set(pol) <= set(schema), set(pol) - set(schema)
# ROLLOUT.md's combined example: the same two policies, and LocalNetworkAccess's keys.
example = json.loads(re.search(r"\n    (\{\n.*?\n    \})\n", open(sys.argv[3]).read(), re.S).group(1))["policies"]
assert set(example) <= set(schema) and all(example[k] == v for k, v in pol.items()), example
assert set(example["LocalNetworkAccess"]) <= set(schema["LocalNetworkAccess"]["properties"])
add = pol["SecurityDevices"]["Add"]
assert set(pol["SecurityDevices"]) <= set(schema["SecurityDevices"]["properties"])
assert add and all(isinstance(v, str) and v.startswith("/") for v in add.values())
assert set(pol["Certificates"]) <= set(schema["Certificates"]["properties"])
assert all(isinstance(v, str) for v in pol["Certificates"]["Install"])
print("keys:", sorted(pol), "SecurityDevices.Add:", add)
PY
else
	skip "the Firefox policy against Firefox's schema" "no Firefox omni.ja (package firefox-esr)"
fi

! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" && pass "no sanitizer reports from imzactl" ||
	fail "no sanitizer reports from imzactl"
done_testing
