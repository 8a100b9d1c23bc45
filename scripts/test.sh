#!/usr/bin/env bash
# Quick start: install what is needed, then build and run the whole test
# suite three ways:
#   1. a warnings-as-errors build (build-test/)
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build (build-test-asan/)
#   3. the aarch64 cross build of the INT8 engine under qemu, when
#      scripts/test-aarch64.sh exists (build-test-aarch64/)
# The last line is 'N passed, N failed' over all of meson's results; the exit
# status is nonzero when anything failed (a build failure counts as one).
#
#   scripts/test.sh [--no-setup] [--no-asan] [--no-aarch64] [-- MESON TEST ARGS]
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

do_setup=1 do_asan=1 do_aarch64=1
meson_test_args=()
while (($#)); do
  case "$1" in
    --no-setup) do_setup=0 ;;
    --no-asan) do_asan=0 ;;
    --no-aarch64) do_aarch64=0 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; meson_test_args=("$@"); break ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

passed=0 failed=0 skipped=0
failures=()

# Add one meson run's results (meson-logs/testlog.json) to the totals.
count_results() { # build_dir label
  local log="$1/meson-logs/testlog.json" p f s
  if [[ ! -f "$log" ]]; then
    echo "test.sh: $2: no test results ($log missing)" >&2
    failed=$((failed + 1)); failures+=("$2: no results")
    return
  fi
  p=$(grep -cE '"result": "(OK|EXPECTEDFAIL)"' "$log")
  f=$(grep -cE '"result": "(FAIL|ERROR|TIMEOUT|UNEXPECTEDPASS)"' "$log")
  s=$(grep -cE '"result": "SKIP"' "$log")
  echo "test.sh: $2: $p passed, $f failed, $s skipped"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  ((f == 0)) || failures+=("$2: $f failed (see $1/meson-logs/testlog.txt)")
}

# Configure (or reconfigure) a build dir, build it, run every test.
run_build() { # label build_dir timeout_multiplier meson_setup_args...
  local label=$1 dir=$2 mult=$3; shift 3
  echo
  echo "==== test.sh: $label ($dir) ===="
  if [[ -f "$dir/build.ninja" ]]; then
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
  else
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi || {
    cat "$dir.setup.log" >&2
    echo "test.sh: $label: meson setup failed" >&2
    failed=$((failed + 1)); failures+=("$label: configure failed"); return
  }
  if ! ninja -C "$dir" -j2; then
    echo "test.sh: $label: build failed" >&2
    failed=$((failed + 1)); failures+=("$label: build failed"); return
  fi
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
    --timeout-multiplier "$mult" "${meson_test_args[@]}"
  count_results "$dir" "$label"
}

if ((do_setup)); then
  "$root/scripts/setup.sh" || { echo "test.sh: setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi

start=$SECONDS
run_build "werror build" build-test 1 --werror
if ((do_asan)); then
  run_build "ASan+UBSan build" build-test-asan 3 -Db_sanitize=address,undefined
fi
if ((do_aarch64)) && [[ -x scripts/test-aarch64.sh || -f scripts/test-aarch64.sh ]]; then
  echo
  echo "==== test.sh: aarch64 cross build under qemu (build-test-aarch64) ===="
  rm -f build-test-aarch64/meson-logs/testlog.json
  # Emulated runs are slow; bound them so the summary below always prints.
  timeout --kill-after=30 "${EDGE_AARCH64_TIMEOUT_S:-3600}" \
    bash scripts/test-aarch64.sh build-test-aarch64
  rc=$?
  if [[ -f build-test-aarch64/meson-logs/testlog.json ]]; then
    count_results build-test-aarch64 "aarch64"
  fi
  if ((rc == 124 || rc == 137)); then
    failed=$((failed + 1)); failures+=("aarch64: stopped after ${EDGE_AARCH64_TIMEOUT_S:-3600} s")
  elif ((rc != 0)) && [[ ! -f build-test-aarch64/meson-logs/testlog.json ]]; then
    failed=$((failed + 1)); failures+=("aarch64: scripts/test-aarch64.sh failed before testing")
  fi
fi

echo
echo "==== test.sh: done in $((SECONDS - start)) s ===="
for f in "${failures[@]}"; do echo "  FAILED: $f"; done
((skipped == 0)) || echo "$skipped skipped (missing prerequisites, see the logs)"
echo "$passed passed, $failed failed"
((failed == 0))
