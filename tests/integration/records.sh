#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The records (state_dir/records.sqlite), apart from the card cache: denials kept per site and for good,
# allows per origin, both listed and forgotten by imzactl grants; the audit log with web signatures and
# PKCS#11 private-key operations (application and pid, key id), exported whole; records check. Then a
# damaged or newer records file: imzad starts, refuses web signing with records_unavailable, PKCS#11
# goes on, and the file is left exactly as it was, nothing moved aside.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/https.sh"

need sqlite3 sqlite3
https_stack_up
M=$IMZA_MODULE
STATE=$IMZA_STACK_DIR/state
DB=$STATE/records.sqlite

# Its own api, over the shared one: these requests send JSON and name their origin.
api() { # api METHOD PATH BODY ORIGIN: prints the HTTP status; the body is in $T/body
	local args=(-sS --cacert "$CA" -o "$T/body" -w '%{http_code}' -X "$1")
	[ -n "$3" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	[ -n "$4" ] && args+=(-H "Origin: $4")
	curl "${args[@]}" "$URL$2" 2>>"$LOG"
	echo "## $1 $2 ($4) -> $(head -c 300 "$T/body")" >>"$LOG"
}
dialogs() { grep -c '"cmd":"CONFIRM"' "$PLOG"; }
grants() { "$CTL" grants 2>&1 | tee -a "$LOG"; }
wait_card() { for _ in $(seq 1 50); do "$CTL" status 2>/dev/null | grep -q 'card: AHMET' && return 0; sleep 0.1; done; return 1; }
restart() { "$STACK" daemon "$IMZA_STACK_DIR" stop >>"$LOG" 2>&1; "$STACK" daemon "$IMZA_STACK_DIR" start >>"$LOG" 2>&1; wait_card; }

[ -f "$DB" ] && [ "$(stat -c %a "$DB")" = 600 ] && pass "records.sqlite is there, 0600" || fail "records.sqlite is there, 0600"
check_output "imzad opened its records" 'records in .*records.sqlite' cat "$IMZA_STACK_DIR/imzad.log"

# ---- denials per site, for good ----
# Before: "Reddet" was kept 10 minutes for the exact origin, in memory; imzactl grants listed nothing
# and "forget" answered "imzad refused the request".
script 'consent deny'
: >"$PLOG"
st=$(api GET /v1/certificates "" https://s1.rotate.example)
[ "$st" = 403 ] && [ "$(code)" = origin_denied ] && [ "$(dialogs)" = 1 ] &&
	pass "the user denies https://s1.rotate.example in the dialog" || fail "the user denies s1.rotate.example ($st, $(dialogs) dialogs)"
out=$(grants)
grep -Eq '^deny   rotate\.example \(site: every origin under it\)  since 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' <<<"$out" &&
	grep -q '^0 allowed origins, 1 denied site$' <<<"$out" &&
	pass "imzactl grants lists the denial by site, with its time" || fail "imzactl grants lists the denial by site, with its time"
: >"$PLOG"
for i in 2 3 4 5 6 7 8 9; do api GET /v1/certificates "" "https://s$i.rotate.example"; echo; done >"$T/st"
[ "$(sort -u "$T/st")" = 403 ] && [ "$(wc -l <"$T/st")" = 8 ] && [ "$(dialogs)" = 0 ] &&
	pass "rotating subdomains s2..s9 of the denied site: 403 each, no dialog" ||
	fail "rotating subdomains of the denied site: 403 each, no dialog ($(sort -u "$T/st" | tr '\n' ' '), $(dialogs) dialogs)"
restart
: >"$PLOG"
st=$(api GET /v1/certificates "" https://s1.rotate.example)
[ "$st" = 403 ] && [ "$(dialogs)" = 0 ] && pass "the denial outlives a restart of imzad" || fail "the denial outlives a restart ($st)"
out=$("$CTL" grants forget https://s1.rotate.example 2>&1)
rc=$?
echo "$out" >>"$LOG"
[ $rc = 0 ] && grep -q "its site's denial is forgotten" <<<"$out" &&
	pass "imzactl grants forget ORIGIN lifts its site's denial" || fail "imzactl grants forget ORIGIN lifts its site's denial ($rc: $out)"
grants | grep -q rotate.example && fail "the forgotten denial is no longer listed" || pass "the forgotten denial is no longer listed"

# Allow, then forget: the origin is asked again (it was left denied before).
script 'consent always'
: >"$PLOG"
st=$(api GET /v1/certificates "" https://s1.rotate.example)
[ "$st" = 200 ] && [ "$(dialogs)" = 1 ] && pass "after forget the origin is asked again, and allowed" ||
	fail "after forget the origin is asked again, and allowed ($st, $(dialogs) dialogs)"
out=$(grants)
grep -Eq '^allow  https://s1\.rotate\.example  since 20[0-9-]{8}T[0-9:]{8}Z$' <<<"$out" && grep -q '^1 allowed origin, 0 denied sites$' <<<"$out" &&
	pass "imzactl grants lists the allow by exact origin" || fail "imzactl grants lists the allow by exact origin"
check_output "imzactl grants forget removes the allow" 'its allow is forgotten' "$CTL" grants forget https://s1.rotate.example
script 'consent deny'
: >"$PLOG"
st=$(api GET /v1/certificates "" https://s1.rotate.example)
[ "$(dialogs)" = 1 ] && pass "allow then forget: asked again (not left denied, not left allowed)" ||
	fail "allow then forget: asked again ($st, $(dialogs) dialogs)"
"$CTL" grants forget https://s1.rotate.example >>"$LOG" 2>&1

# imzactl grants deny stores the site's denial; a deny of the site wins over an origin's allow.
"$CTL" grants allow https://ok.mixed.example >>"$LOG" 2>&1
check_output "imzactl grants deny ORIGIN stores its site's denial" 'denied, with every origin of its site' \
	"$CTL" grants deny https://x.mixed.example
: >"$PLOG"
st=$(api GET /v1/certificates "" https://ok.mixed.example)
[ "$st" = 403 ] && [ "$(dialogs)" = 0 ] && pass "the site's denial wins over an origin's allow" || fail "the site's denial wins over an origin's allow ($st)"
out=$(grants)
grep -q '^allow  https://ok.mixed.example ' <<<"$out" && grep -q '^deny   mixed.example ' <<<"$out" &&
	grep -q '^1 allowed origin, 1 denied site$' <<<"$out" && pass "the listing shows both" || fail "the listing shows both"

# ---- the audit log ----
"$CTL" grants allow https://portal.example >>"$LOG" 2>&1
script 'consent always' "pin $IMZA_PIN"
CERT=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
st=$(api POST /v1/sign '{"certificate":"'"$CERT"'","text":"records test"}' https://portal.example)
[ "$st" = 200 ] && pass "a web signature" || fail "a web signature ($st $(code))"
rows() { sqlite3 -readonly "$DB" 'SELECT count(*) FROM audit' 2>>"$LOG"; }
n0=$(rows)
printf 'data to sign' >"$T/data"
check "pkcs11-tool signs through the module (9A, ECDSA-SHA256)" host_env pkcs11-tool --module "$M" --login \
	--pin "$IMZA_PIN" --sign --id 01 -m ECDSA-SHA256 -i "$T/data" -o "$T/sig"
n1=$(rows)
[ "$n1" = $((n0 + 1)) ] && pass "one audit row for the one PKCS#11 signature" || fail "one audit row for the PKCS#11 signature ($n0 -> $n1)"
out=$("$CTL" log --last 1 2>&1)
echo "$out" >>"$LOG"
grep -Eq '  pkcs11 sign: ok  /usr/bin/pkcs11-tool \(pid [0-9]+\)$' <<<"$out" && grep -q '^  key id: 01$' <<<"$out" &&
	pass "the row names the application's executable and pid, and the key id" || fail "the row names the application, pid and key id"
# A multi-part signature (C_SignUpdate chunks) is one row too.
head -c 100000 /dev/urandom >"$T/big"
check "pkcs11-tool signs 100 kB in parts" host_env pkcs11-tool --module "$M" --login --pin "$IMZA_PIN" --sign \
	--id 01 -m ECDSA-SHA256 -i "$T/big" -o "$T/sig2"
[ "$(rows)" = $((n1 + 1)) ] && pass "one row for a signature fed in parts" || fail "one row for a signature fed in parts ($n1 -> $(rows))"

"$CTL" log --export >"$T/export" 2>>"$LOG"
rc=$?
python3 - "$T/export" "$(rows)" "$CERT" <<'PYEOF' >>"$LOG" 2>&1 && [ $rc = 0 ] && pass "log --export: every row as a JSON line, web and PKCS#11 fields right" || fail "log --export: every row as a JSON line"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
rows = [json.loads(l) for l in lines]
assert len(rows) == int(sys.argv[2]) > 0, (len(rows), sys.argv[2])
assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
web = [r for r in rows if r["origin"] == "https://portal.example"]
assert web and web[-1]["certificate_sha256"] == sys.argv[3] and web[-1]["result"] == "ok" and web[-1]["app_exe"] is None
p11 = [r for r in rows if r["app_exe"] == "/usr/bin/pkcs11-tool"]
assert len(p11) == 2 and all(r["origin"] is None and r["key_id"] == "01" and r["app_pid"] > 0 for r in p11), p11
assert all(len(r["content_sha256"]) == 64 for r in p11)
print("export ok:", len(rows), "rows")
PYEOF
out=$("$CTL" records check 2>&1)
rc=$?
echo "$out" >>"$LOG"
[ $rc = 0 ] && grep -q '^records: ok$' <<<"$out" && grep -q '^schema version: 1 (this imzad writes 1)$' <<<"$out" &&
	pass "records check: ok, schema version 1, exit 0" || fail "records check: ok, exit 0 ($rc)"

# ---- a damaged records file ----
damaged() { # damaged DESCRIPTION COMMAND...: imzad restarted over a records file the command spoiled
	local what=$1
	shift
	"$STACK" daemon "$IMZA_STACK_DIR" stop >>"$LOG" 2>&1
	"$@"
	rm -f "$DB-wal" "$DB-shm"
	cp "$DB" "$T/records.before"
	ls "$STATE" >"$T/ls.before"
	echo "--- test marker ---" >>"$IMZA_STACK_DIR/imzad.log"
	"$STACK" daemon "$IMZA_STACK_DIR" start >>"$LOG" 2>&1
	check "$what: imzad starts and serves the card" wait_card
	# Since the last marker only.
	n=$(tac "$IMZA_STACK_DIR/imzad.log" | sed '/^--- test marker ---$/q' | grep -c 'records: .*records.sqlite.*left as it is')
	[ "$n" = 1 ] && pass "$what: one clear log line" || fail "$what: one clear log line ($n)"
	st=$(api POST /v1/sign '{"certificate":"'"$CERT"'","text":"x"}' https://portal.example)
	[ "$st" = 503 ] && [ "$(code)" = records_unavailable ] && pass "$what: POST /v1/sign answers 503 records_unavailable" ||
		fail "$what: POST /v1/sign answers 503 records_unavailable ($st $(code))"
	st=$(api GET /v1/certificates "" https://portal.example)
	[ "$st" = 503 ] && [ "$(code)" = records_unavailable ] && pass "$what: /v1/certificates too" ||
		fail "$what: /v1/certificates too ($st $(code))"
	out=$(host_env pkcs11-tool --module "$M" -L -O 2>&1)
	echo "$out" >>"$LOG"
	grep -q 'AHMET YILMAZ' <<<"$out" && [ "$(grep -c '^Certificate Object' <<<"$out")" = 4 ] &&
		pass "$what: PKCS#11 listing through the module goes on (4 certificates)" || fail "$what: PKCS#11 listing goes on"
	check "$what: PKCS#11 signing goes on" host_env pkcs11-tool --module "$M" --login --pin "$IMZA_PIN" --sign \
		--id 01 -m ECDSA-SHA256 -i "$T/data" -o "$T/sig3"
	out=$("$CTL" records check 2>&1)
	rc=$?
	echo "$out" >>"$LOG"
	[ $rc = 1 ] && grep -q '^records: damaged$' <<<"$out" && pass "$what: records check says damaged, exit 1" ||
		fail "$what: records check says damaged, exit 1 ($rc)"
	out=$("$CTL" grants 2>&1)
	rc=$?
	echo "$out" >>"$LOG"
	[ $rc != 0 ] && grep -q 'cannot use its records file' <<<"$out" && pass "$what: imzactl grants says the records are unusable" ||
		fail "$what: imzactl grants says the records are unusable"
	"$STACK" daemon "$IMZA_STACK_DIR" stop >>"$LOG" 2>&1
	cmp -s "$DB" "$T/records.before" && pass "$what: the file is byte-identical afterwards" || fail "$what: the file is byte-identical afterwards"
	ls "$STATE" | grep -v -e '-wal$' -e '-shm$' >"$T/ls.after"
	grep -v -e '-wal$' -e '-shm$' "$T/ls.before" | diff - "$T/ls.after" >>"$LOG" && ! grep -q broken "$T/ls.after" &&
		pass "$what: nothing was moved aside or made beside it" || fail "$what: nothing was moved aside or made beside it"
	"$STACK" daemon "$IMZA_STACK_DIR" start >>"$LOG" 2>&1
	wait_card
}
cp "$DB" "$T/records.good"
damaged "random bytes" sh -c "head -c 16384 /dev/urandom >'$DB'"
damaged "a newer schema" sh -c "cp '$T/records.good' '$DB' && sqlite3 '$DB' 'PRAGMA user_version = 7'"
done_testing
