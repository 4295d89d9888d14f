#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make check-valgrind: valgrind memcheck of imzad (leaks included) while pkcs11-tool --test runs through
# imza-pkcs11.so under memcheck too, and a signature goes through the HTTPS endpoint. Needs a build
# without sanitizers (they and valgrind exclude each other).
. "$(dirname "$0")/../lib/tap.sh"

if nm -D "$IMZA_BUILDDIR/pkcs11/.libs/imza-pkcs11.so" 2>/dev/null | grep -q __asan_init; then
	bail "this build has sanitizers: make check-valgrind needs a plain one"
fi
vg=(valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes
	--suppressions="$IMZA_SRCDIR/tests/valgrind/host.supp")
export IMZA_IMZAD_WRAPPER="valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect
 --show-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$WORK/s/imzad.vg"
mkdir -p "$WORK/s"
stack_up s
M=$IMZA_MODULE
# The host program's own leaks are not the module's: memory errors count, leaks are left to the daemon run.
check_output "pkcs11-tool --test --login under memcheck: No errors" '^No errors' \
	"${vg[@]}" --leak-check=no --log-file="$WORK/p11tool.vg" pkcs11-tool --module "$M" --test --login --pin "$IMZA_PIN"
check_output "memcheck found no error in pkcs11-tool + module" 'ERROR SUMMARY: 0 errors' cat "$WORK/p11tool.vg"
check_output "listing and signing under memcheck" 'Private Key Object' \
	"${vg[@]}" --leak-check=no --log-file="$WORK/p11list.vg" pkcs11-tool --module "$M" -O --login --pin "$IMZA_PIN"
check_output "memcheck found no error while listing" 'ERROR SUMMARY: 0 errors' cat "$WORK/p11list.vg"
# The HTTPS endpoint, the pinentry thread, the card job and CAdES, under memcheck too.
id=$(openssl x509 -inform DER -in "$IMZA_CARD_DIR/9c.crt.der" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
check_output "an HTTPS signature with imzad under memcheck" '"signature"' \
	curl -sS -m 120 --cacert "$IMZA_LOCAL_CA" -H 'Origin: https://memcheck.example' -H 'Content-Type: text/plain' \
	--data-binary "{\"certificate\":\"$id\",\"text\":\"memcheck\"}" "$IMZA_HTTPS_URL/v1/sign"
check_output "and a refused one (bad Host)" 'bad_host' \
	curl -sS -m 60 --cacert "$IMZA_LOCAL_CA" -H 'Host: evil.example' "$IMZA_HTTPS_URL/v1/info"
"$STACK" down "$IMZA_STACK_DIR" >>"$LOG" 2>&1
tap_stacks=()
check_output "imzad under memcheck: no errors, no leaks" 'ERROR SUMMARY: 0 errors' cat "$WORK/s/imzad.vg"
check_output "imzad's run ended cleanly (SIGTERM)" 'shutting down' cat "$WORK/s/imzad.log"
done_testing
