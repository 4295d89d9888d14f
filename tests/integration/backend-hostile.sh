#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A helper that answers imzad with hostile frames (tests/backend/hostile_helper.py in imza-backend's
# place, one module per way of answering badly: a header announcing 4 GiB, a valid header of the cap then
# silence, half an answer then EOF, another call's id, random bytes, bytes nobody asked for, a slow
# drip, an attribute value larger than its buffer and then a slot list claiming 2^31 slots), beside a
# module that answers well and the virtual PIV card. imzad neither crashes nor hangs nor grows: each hostile helper is killed and started
# again with a back-off, each cause is logged once, no child is left unreaped, its memory and file
# descriptors stay flat; the PIV card and the good module's token keep signing, listings answer at once.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/backend.sh"

hsm_up pkcs11-tool /usr/bin/python3
H=$WORK/hostile
mkdir -p "$H"
declare -A CAUSE=(
	[oversized]='sent a malformed answer: killed'
	[huge]='sent half an answer: killed'
	[truncated]='ended'
	[wrong-id]='sent a malformed answer: killed'
	[garbage]='sent a malformed answer: killed|spoke unasked: killed'
	[drip]='sent half an answer: killed'
	[counts]='sent a malformed answer: killed|not usable (Input/output error)'
)
: >"$WORK/imzad.conf"
for m in pass "${!CAUSE[@]}"; do
	ln -s "$QUIRK" "$H/m-$m.so"
	printf 'module = %s\n' "$H/m-$m.so" >>"$WORK/imzad.conf"
done
export IMZA_HOSTILE_DIR=$H IMZA_HOSTILE_BACKEND=$BACKEND IMZA_HOSTILE_MODULE=$QUIRK
export IMZA_IMZAD_ARGS="--config $WORK/imzad.conf --backend $IMZA_SRCDIR/tests/backend/hostile_helper.py"
stack_up s
M=$IMZA_MODULE
imza() { host_env pkcs11-tool --module "$M" "$@"; }
ILOG=$IMZA_STACK_DIR/imzad.log
imzad_pid=$(cut -d' ' -f1 "$IMZA_STACK_DIR/pids/imzad")
piv_label=$(imza -L 2>/dev/null | sed -n 's/^ *token label *: *//p' | sed 's/ *$//' | grep -vx "$SOFTHSM_LABEL" | head -n1)
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$imzad_pid/status"; }
fds() { find "/proc/$imzad_pid/fd" -mindepth 1 | wc -l; }
children() { ps -o pid=,stat= --ppid "$imzad_pid"; }

found=0
for _ in $(seq 1 150); do
	imza -L 2>/dev/null | grep -q "m-pass.so" && { found=1; break; }
	sleep 0.1
done
[ $found = 1 ] && pass "the good module's token is listed beside the hostile ones" || fail "the good module's token is listed"
sleep 4
rss0=$(rss) fds0=$(fds)

# While the hostile helpers are killed and started again: the PIV card and the good module sign.
printf 'hostile helpers' >"$WORK/data"
openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -pubkey -noout >"$WORK/9c.pub"
good=0
for i in 1 2 3; do
	imza --token-label "$piv_label" --login --pin "$IMZA_PIN" --sign --id 02 -m SHA256-RSA-PKCS -i "$WORK/data" \
		-o "$WORK/piv$i" >>"$LOG" 2>&1 &&
		openssl dgst -sha256 -verify "$WORK/9c.pub" -signature "$WORK/piv$i" "$WORK/data" >>"$LOG" 2>&1 && good=$((good + 1))
	sleep 1
done
[ $good = 3 ] && pass "the PIV card signs meanwhile (3 of 3 verify)" || fail "the PIV card signs meanwhile ($good of 3)"
# By the slot's id, which imza keeps for a reader: an index may point elsewhere by the next program's
# list, while hostile helpers' tokens come and go.
slot=$(imza -L 2>/dev/null | sed -n 's/^Slot [0-9]* (\(0x[0-9a-f]*\)).*m-pass.so.*/\1/p' | head -n1)
imza --slot "$slot" --login --pin "$SOFTHSM_PIN" --sign --id 01 -m SHA256-RSA-PKCS -i "$WORK/data" \
	-o "$WORK/good" >>"$LOG" 2>&1
openssl dgst -sha256 -verify "$WORK/hsm/01.pub.pem" -signature "$WORK/good" "$WORK/data" >>"$LOG" 2>&1 &&
	pass "and so does the good module's token" || fail "and so does the good module's token"
t0=$(date +%s%N)
imza -L >>"$LOG" 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -lt 1000 ] && pass "a listing answers at once (${ms} ms)" || fail "a listing answers at once (${ms} ms)"
sleep 6

kill -0 "$imzad_pid" 2>/dev/null && pass "imzad keeps its pid ($imzad_pid)" || bail "imzad died"
for m in "${!CAUSE[@]}"; do
	n=$(cat "$H/$m.n" 2>/dev/null || echo 0)
	grep -F "m-$m.so" "$ILOG" | sed "s|^|# $m: |" >>"$LOG"
	[ "$n" -ge 3 ] && pass "$m: the helper was killed and started again, with a back-off ($n starts)" ||
		fail "$m: the helper was killed and started again ($n starts)"
	IFS='|' read -ra causes <<<"${CAUSE[$m]}"
	for c in "${causes[@]}"; do
		said=$(grep -F "m-$m.so" "$ILOG" | grep -v ' debug: ' | grep -cF "$c")
		[ "$said" = 1 ] && pass "$m: '$c' is logged once" || fail "$m: '$c' is logged once (logged $said times)"
	done
done
[ "$(cat "$H/pass.n")" = 1 ] && pass "the good module's helper was never restarted" || fail "the good module's helper was never restarted"
kids=$(children)
echo "$kids" >>"$LOG"
! grep -q ' Z' <<<"$kids" && [ "$(wc -l <<<"$kids")" -le 8 ] && pass "no helper is left unreaped (at most one per module runs)" ||
	fail "no helper is left unreaped"
rss1=$(rss) fds1=$(fds)
note "imzad: RSS $rss0 -> $rss1 kB, file descriptors $fds0 -> $fds1"
[ $((rss1 - rss0)) -lt 4096 ] && [ $((fds1 - fds0)) -le 2 ] && pass "imzad's memory and file descriptors stay flat" ||
	fail "imzad's memory and file descriptors stay flat (RSS $rss0 -> $rss1 kB, fds $fds0 -> $fds1)"

stacks_down
left=$(pgrep -f "$H/" || true)
[ -z "$left" ] && pass "no helper outlives imzad" || fail "no helper outlives imzad ($left)"
echo "1..$tap_n"
