#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# imzactl trust / untrust under a private HOME: the CA goes into Chromium's database (made in
# ~/.local/share/pki/nssdb when missing, as Chromium 146 and later do; ~/.pki/nssdb while it exists) and
# into each Firefox profile with a cert9.db that profiles.ini lists (Firefox's own and the snap's),
# trusted C,, and only once; a renewed CA replaces the old one; untrust takes it out again. No daemon.
. "$(dirname "$0")/../lib/tap.sh"

CTL=$IMZA_BUILDDIR/tools/imzactl
NICK="imza local CA"
if ! command -v certutil >/dev/null || ! command -v openssl >/dev/null; then
	skip "imzactl trust" "certutil (libnss3-tools) or openssl missing"
	done_testing
	exit 0
fi

export HOME=$WORK/home
export XDG_CONFIG_HOME=$HOME/.config
CONF=$XDG_CONFIG_HOME/imza
# Chromium's database where Chromium 146 and later make it (no XDG_DATA_HOME: under HOME).
unset XDG_DATA_HOME
NSSDB=$HOME/.local/share/pki/nssdb
LEGACY=$HOME/.pki/nssdb
FF=$HOME/.mozilla/firefox
FF_REL=$FF/k3x9.default-release          # Path relative to profiles.ini
FF_ABS=$WORK/elsewhere/work.profile      # IsRelative=0
FF_NODB=$FF/never-started.profile        # listed, but Firefox never made its cert9.db
SNAP=$HOME/snap/firefox/common/.mozilla/firefox
FF_SNAP=$SNAP/a1b2.default
mkdir -p "$HOME" "$CONF"
chmod 700 "$CONF"

# make_ca FILE WHO: a CA certificate like imzad's.
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" -out "$1" \
		-days 30 -subj "/O=imza/CN=imza local CA ($2)" -addext basicConstraints=critical,CA:TRUE,pathlen:0 \
		-addext keyUsage=critical,keyCertSign,cRLSign >>"$LOG" 2>&1
}
# entries DB: how many certificates the database holds under our nickname, with trust C,,.
entries() { certutil -L -d "sql:$1" 2>>"$LOG" | grep -Ec "^$NICK +C,, *\$"; }
any_entries() { certutil -L -d "sql:$1" 2>>"$LOG" | grep -c "^$NICK "; }
fingerprint() { openssl x509 -noout -fingerprint -sha256 2>>"$LOG"; }
# holds DB FILE: the database's certificate under our nickname is FILE's.
holds() { [ "$(certutil -L -d "sql:$1" -n "$NICK" -a 2>>"$LOG" | fingerprint)" = "$(fingerprint <"$2")" ]; }
# run_ctl ARGS...: imzactl's output in $out, its status in $rc.
run_ctl() {
	echo "## imzactl $*" >>"$LOG"
	out=$("$CTL" "$@" 2>&1)
	rc=$?
	echo "$out" >>"$LOG"
}
said() { grep -qF -- "$1" <<<"$out"; }

# ---- before imzad ever ran ----
run_ctl trust
[ "$rc" -ne 0 ] && said "$CONF/ca.crt: imzad has not made its CA yet: start imzad once" &&
	pass "no ca.crt: exit $rc and a message that says to start imzad" || fail "no ca.crt: error message"
[ ! -e "$NSSDB" ] && pass "no ca.crt: no NSS database made" || fail "no ca.crt: no NSS database made"

# ---- Firefox profiles: one relative, one absolute, one without a database, one in the snap ----
mkdir -p "$FF_REL" "$FF_ABS" "$FF_NODB" "$FF_SNAP"
for d in "$FF_REL" "$FF_ABS" "$FF_SNAP"; do
	certutil -N -d "sql:$d" --empty-password >>"$LOG" 2>&1 || bail "certutil -N $d"
done
cat >"$FF/profiles.ini" <<EOF
[Install4F96D1932A9F858E]
Default=${FF_REL##*/}
Locked=1

[Profile2]
Name=never
IsRelative=1
Path=${FF_NODB##*/}

[Profile1]
Name=work
IsRelative=0
Path=$FF_ABS

[Profile0]
Name=default-release
IsRelative=1
Path=${FF_REL##*/}
Default=1

[General]
StartWithLastProfile=1
Version=2
EOF
printf '[Profile0]\r\nName=default\r\nIsRelative=1\r\nPath=%s\r\nDefault=1\r\n' "${FF_SNAP##*/}" >"$SNAP/profiles.ini"
make_ca "$CONF/ca.crt" "u@test" || bail "openssl req"
cp "$CONF/ca.crt" "$WORK/first.crt"

# ---- trust ----
run_ctl trust
[ "$rc" = 0 ] && pass "trust succeeds" || fail "trust succeeds (exit $rc)"
said "made a new NSS database sql:$NSSDB" && pass "trust says it made ~/.local/share/pki/nssdb" ||
	fail "trust says it made ~/.local/share/pki/nssdb"
[ ! -e "$HOME/.pki" ] && pass "trust makes no ~/.pki/nssdb (Chromium would take it over the one it has)" ||
	fail "trust makes no ~/.pki/nssdb"
for d in "$NSSDB" "$FF_REL" "$FF_ABS" "$FF_SNAP"; do
	n=${d#"$WORK"/}
	said "added $NICK to sql:$d" && pass "trust says it added the CA to $n" || fail "trust says it added the CA to $n"
	[ "$(entries "$d")" = 1 ] && pass "certutil -L shows '$NICK' with trust C,, in $n" ||
		fail "certutil -L shows '$NICK' with trust C,, in $n"
	holds "$d" "$CONF/ca.crt" && pass "$n holds ca.crt itself" || fail "$n holds ca.crt itself"
done
! said "${FF_NODB##*/}" && [ ! -e "$FF_NODB/cert9.db" ] && pass "a profile without cert9.db is left alone" ||
	fail "a profile without cert9.db is left alone"
said "system trust store" && pass "trust says the system store is not touched" ||
	fail "trust says the system store is not touched"

# ---- again: nothing to do ----
run_ctl trust
[ "$rc" = 0 ] && pass "second trust succeeds" || fail "second trust succeeds (exit $rc)"
[ "$(grep -c "^$NICK already there in sql:" <<<"$out")" = 4 ] && ! said "added" &&
	pass "second trust: already there, in all four" || fail "second trust: already there, in all four"
[ "$(entries "$NSSDB")" = 1 ] && [ "$(entries "$FF_REL")" = 1 ] && pass "still one entry each" ||
	fail "still one entry each"

# ---- imzad renewed its CA: the old one makes way ----
make_ca "$CONF/ca.crt" "u@test" || bail "openssl req"
run_ctl trust
[ "$rc" = 0 ] && [ "$(grep -c "^added $NICK to sql:.*(in place of an older one)" <<<"$out")" = 4 ] &&
	pass "a renewed CA replaces the old one in all four" || fail "a renewed CA replaces the old one in all four"
ok=1
for d in "$NSSDB" "$FF_REL" "$FF_ABS" "$FF_SNAP"; do
	[ "$(any_entries "$d")" = 1 ] && holds "$d" "$CONF/ca.crt" || ok=0
done
[ $ok = 1 ] && pass "each database holds the new CA alone" || fail "each database holds the new CA alone"

# ---- ours, but with other trust: set right ----
certutil -M -d "sql:$FF_REL" -n "$NICK" -t "CT,C,C" >>"$LOG" 2>&1
run_ctl trust
said "added $NICK to sql:$FF_REL" && [ "$(entries "$FF_REL")" = 1 ] && pass "other trust flags are put back to C,," ||
	fail "other trust flags are put back to C,,"

# ---- untrust ----
run_ctl untrust
[ "$rc" = 0 ] && pass "untrust succeeds" || fail "untrust succeeds (exit $rc)"
for d in "$NSSDB" "$FF_REL" "$FF_ABS" "$FF_SNAP"; do
	n=${d#"$WORK"/}
	said "removed $NICK from sql:$d" && [ "$(any_entries "$d")" = 0 ] && pass "untrust removed the CA from $n" ||
		fail "untrust removed the CA from $n"
done
run_ctl untrust
[ "$rc" = 0 ] && said "nothing to remove" && pass "second untrust: nothing to remove" ||
	fail "second untrust: nothing to remove"

# ---- --config-dir, the XDG rule, errors ----
mkdir -p "$WORK/other"
run_ctl trust --config-dir "$WORK/other"
[ "$rc" -ne 0 ] && said "$WORK/other/ca.crt: imzad has not made its CA yet" &&
	pass "--config-dir without ca.crt: error naming that dir" || fail "--config-dir without ca.crt: error naming that dir"
cp "$WORK/first.crt" "$WORK/other/ca.crt"
run_ctl trust --config-dir "$WORK/other"
[ "$rc" = 0 ] && holds "$NSSDB" "$WORK/first.crt" && pass "--config-dir DIR installs DIR/ca.crt" ||
	fail "--config-dir DIR installs DIR/ca.crt"
run_ctl untrust
XDG_CONFIG_HOME=relative/dir run_ctl trust
[ "$rc" = 0 ] && holds "$NSSDB" "$CONF/ca.crt" && pass "a relative XDG_CONFIG_HOME is ignored: ~/.config/imza" ||
	fail "a relative XDG_CONFIG_HOME is ignored: ~/.config/imza"
run_ctl untrust
XDG_CONFIG_HOME=$WORK/xdg run_ctl trust
[ "$rc" -ne 0 ] && said "$WORK/xdg/imza/ca.crt" && pass "an absolute XDG_CONFIG_HOME is used" ||
	fail "an absolute XDG_CONFIG_HOME is used"
echo "not a certificate" >"$WORK/other/ca.crt"
run_ctl trust --config-dir "$WORK/other"
[ "$rc" -ne 0 ] && said "is not a PEM certificate" && pass "a ca.crt that is no certificate is refused" ||
	fail "a ca.crt that is no certificate is refused"
mkdir -p "$WORK/nobin"
PATH=$WORK/nobin run_ctl trust
[ "$rc" -ne 0 ] && said "certutil not found" && said "libnss3-tools" && pass "no certutil: error naming libnss3-tools" ||
	fail "no certutil: error naming libnss3-tools"
run_ctl trust extra-argument
[ "$rc" = 2 ] && pass "trust with an extra argument is a usage error" || fail "trust with an extra argument: exit 2 (got $rc)"
[ "$(any_entries "$NSSDB")" = 0 ] && [ "$(any_entries "$FF_REL")" = 0 ] && pass "failed runs changed nothing" ||
	fail "failed runs changed nothing"

# ---- a ~/.pki/nssdb that exists is Chromium's: trust uses it, as well as the other ----
mkdir -p "$LEGACY"
certutil -N -d "sql:$LEGACY" --empty-password >>"$LOG" 2>&1 || bail "certutil -N $LEGACY"
run_ctl trust
[ "$rc" = 0 ] && [ "$(entries "$LEGACY")" = 1 ] && [ "$(entries "$NSSDB")" = 1 ] &&
	pass "with ~/.pki/nssdb there, both of Chromium's places get the CA" || fail "both of Chromium's places get the CA"
run_ctl untrust
rm -rf "$HOME/.pki" "$NSSDB"
mkdir -p "$LEGACY"
run_ctl trust
[ "$rc" = 0 ] && said "made a new NSS database sql:$LEGACY" && [ ! -e "$NSSDB" ] &&
	pass "an empty ~/.pki/nssdb directory is Chromium's: the database is made there" ||
	fail "an empty ~/.pki/nssdb directory is Chromium's: the database is made there"

# No sanitizer report from imzactl in any run.
! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" && pass "no sanitizer reports from imzactl" ||
	fail "no sanitizer reports from imzactl"
done_testing
