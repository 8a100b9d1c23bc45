#!/bin/sh
# scripts/sdk-size.sh refuses a firmware that links allocation: with
# alloc_probe.c (strtod, which allocates inside newlib) linked in, it must
# exit 1, report the allocator and name the object that pulled it in.
#
#   check_sdk_alloc.sh SDK_SIZE_SH OUT_DIR
set -u

here=$(cd "$(dirname "$0")" && pwd)
sdk_size=$1
out=$2
log="$out.log"

mkdir -p "$(dirname "$out")"
"$sdk_size" "$out" "$here/alloc_probe.c" >"$log" 2>&1
rc=$?
fail() { cat "$log"; echo "check_sdk_alloc: $*" >&2; exit 1; }

[ "$rc" -eq 1 ] || fail "sdk-size.sh exited $rc, expected 1"
grep -q "^sdk-size: the firmware links allocation:.*_calloc_r" "$log" ||
	fail "no allocation reported"
# The chain of calls from the probe down to newlib's allocator.
grep -q "^  alloc_probe > strtod > .*_calloc_r$" "$log" ||
	fail "the call chain from the probe to the allocator is not shown"
grep -q "sdk-size: ok" "$log" && fail "reported ok"
echo "check_sdk_alloc: allocation refused, as expected"
