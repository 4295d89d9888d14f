#!/usr/bin/env bash
# PKCS#11 rules call by call (see p11_rules.py).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_rules.py" 2>>"$LOG")
done_testing
