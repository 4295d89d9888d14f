#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A tampered card cache cannot overflow imzad's memory. The cache file is outside imzad's control (any
# process of the user can write it): a token blob whose RSA decryption key claims a 4096-byte modulus,
# needs no PIN and is not private would have C_Decrypt copy 4096 bytes into a 512-byte card job. The
# decoder refuses such a blob (the card is read in full instead), and the submit checks the input
# length again; imzad stays up and clean under the sanitizers either way.
. "$(dirname "$0")/../lib/tap.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import PyKCS11' 2>>"$LOG" || missing "PyKCS11 (package python3-pykcs11)"
need sqlite3 sqlite3
stack_up s
CTL=$IMZA_BUILDDIR/tools/imzactl
db=$IMZA_STACK_DIR/state/cache.sqlite
wait_card() { for _ in $(seq 1 50); do "$CTL" status 2>/dev/null | grep -q 'card: AHMET' && return 0; sleep 0.1; done; return 1; }

# The client: as soon as the card is served, C_Decrypt with a key named TAMPERED (no login: the
# tampered key claims it needs none). Prints what it saw.
cat >"$WORK/decrypt.py" <<'PYEOF'
import sys, time
import PyKCS11
from PyKCS11.LowLevel import CKA_CLASS, CKA_LABEL, CKO_PRIVATE_KEY, CKM_RSA_PKCS
lib = PyKCS11.PyKCS11Lib()
lib.load(sys.argv[1])
size = int(sys.argv[2])
found = False
for _ in range(400):
    slots = lib.getSlotList(tokenPresent=True)
    if slots:
        try:
            s = lib.openSession(slots[0])
            keys = s.findObjects([(CKA_CLASS, CKO_PRIVATE_KEY), (CKA_LABEL, "TAMPERED")])
        except PyKCS11.PyKCS11Error as e:
            print("listing:", e)
            keys = None
        if keys is not None:
            if keys:
                found = True
                print("the tampered key is served")
                try:
                    s.decrypt(keys[0], bytes(size), PyKCS11.Mechanism(CKM_RSA_PKCS, None))
                    print("decrypt: ok")
                except PyKCS11.PyKCS11Error as e:
                    print("decrypt:", e)
            else:
                print("no tampered key: the card's own objects are served")
            break
    time.sleep(0.005)
print("found" if found else "not found")
PYEOF

check "the card is read and cached" wait_card
for _ in $(seq 1 50); do "$CTL" cache list 2>/dev/null | grep -q '^1 card cached' && break; sleep 0.1; done
"$STACK" card "$IMZA_STACK_DIR" remove >>"$LOG" 2>&1
"$STACK" daemon "$IMZA_STACK_DIR" stop >>"$LOG" 2>&1
check "the decryption key's blob is rewritten with a 4096-byte key size" "$PY" "$IMZA_SRCDIR/tests/integration/cache_tamper.py" "$db" 4096
echo "--- test marker ---" >>"$IMZA_STACK_DIR/imzad.log"
"$STACK" daemon "$IMZA_STACK_DIR" start >>"$LOG" 2>&1
# The client starts before the card is in, so that it meets the cached token at once.
host_env "$PY" "$WORK/decrypt.py" "$IMZA_MODULE" 4096 >"$WORK/client.out" 2>>"$LOG" &
client=$!
sleep 0.5
"$STACK" card "$IMZA_STACK_DIR" insert >>"$LOG" 2>&1
wait "$client"
cat "$WORK/client.out" >>"$LOG"
since_marker() { sed -n '/^--- test marker ---$/,$p' "$IMZA_STACK_DIR/imzad.log"; }
grep -qE 'ERROR: AddressSanitizer|runtime error:' <(since_marker) && fail "imzad survives a tampered key size (sanitizer report)" ||
	pass "imzad survives a tampered key size"
check_output "imzad still answers after the client" '^daemon: imzad ' "$CTL" status
grep -q 'dropping an unreadable entry' <(since_marker) && ! grep -q 'the tampered key is served' "$WORK/client.out" &&
	pass "the blob with a 4096-byte key is refused as unreadable, the tampered key never served" ||
	fail "the blob with a 4096-byte key is refused as unreadable, the tampered key never served"
wait_card
check_output "the card is served from its own objects" 'card: AHMET YILMAZ' "$CTL" status
done_testing
