#!/usr/bin/env bash
# Several applications on one imzad (see p11_apps.py).
. "$(dirname "$0")/../lib/tap.sh"

stack_up s
export STACK
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < <(host_env /usr/bin/python3 "$IMZA_SRCDIR/tests/integration/p11_apps.py" 2>>"$LOG")
done_testing
