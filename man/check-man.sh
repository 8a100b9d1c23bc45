#!/bin/sh
# Formats each manual page with every groff warning enabled; any warning or
# error fails the test. Usage: check-man.sh GROFF PAGE...
set -u
groff=$1
shift
status=0
for page in "$@"; do
	out=$(LC_ALL=C.UTF-8 "$groff" -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$out" ]; then
		printf '%s:\n%s\n' "$page" "$out" >&2
		status=1
	else
		printf '%s: ok\n' "$page"
	fi
done
exit $status
