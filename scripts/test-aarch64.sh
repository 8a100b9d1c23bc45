#!/bin/sh
# Cross-build the INT8 engine (lib/infer) and its tests for aarch64 and run
# the engine's test suites under qemu-aarch64, which proves the NEON and
# dot-product kernels against the reference.
#
#   scripts/test-aarch64.sh [BUILD_DIR]     (default: build-aarch64)
#
# Installs what the cross build needs when it is missing (needs root, e.g.
# in CI on a fresh Debian 12): the cross compiler, qemu-user and the arm64
# multiarch development packages of Check (+ subunit) and jansson.
# Idempotent: with everything present it installs nothing.
# EDGE_OPT_TEST_CASES scales the randomized opt==reference tests (default
# here 1500 per operator: well under a minute under emulation).
# TIMEOUT_MULTIPLIER (default 10) stretches meson's per-test timeouts for
# emulation; SUITES (default "infer infer-kernels infer-opt") picks suites.
set -eu

cd "$(dirname "$0")/.."
BUILD=${1:-build-aarch64}

need_pkgs=""
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

have_cmd aarch64-linux-gnu-gcc || need_pkgs="$need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
have_cmd qemu-aarch64 || need_pkgs="$need_pkgs qemu-user"
have_cmd meson || need_pkgs="$need_pkgs meson"
have_cmd ninja || need_pkgs="$need_pkgs ninja-build"
have_cmd pkg-config || need_pkgs="$need_pkgs pkgconf"
for p in check:arm64 libsubunit-dev:arm64 libjansson-dev:arm64; do
	have_pkg "$p" || need_pkgs="$need_pkgs $p"
done

if [ -n "$need_pkgs" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "test-aarch64: missing packages:$need_pkgs (run as root to install them)" >&2
		exit 1
	fi
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need_pkgs
fi

if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --cross-file scripts/cross-aarch64.ini -Dinfer_only=true
fi
ninja -C "$BUILD" -j2

export EDGE_OPT_TEST_CASES="${EDGE_OPT_TEST_CASES:-1500}"
# qemu-user 7.2 on some hosts hangs in pthread_create (also Check's fork
# mode, whose timeouts use a timer thread): no fork, no threads in tests.
export EDGE_TEST_NO_THREADS="${EDGE_TEST_NO_THREADS:-1}"
export CK_FORK="${CK_FORK:-no}"
# The engine's suites: loader/model cases, kernel vectors, opt == reference.
# Their models and vectors are in tests/data (meson sets EDGE_TEST_DATA);
# qemu-user reads them from the host's file system.
suite_args=""
for s in ${SUITES:-infer infer-kernels infer-opt}; do
	suite_args="$suite_args --suite $s"
done
# shellcheck disable=SC2086
meson test -C "$BUILD" --num-processes 1 --print-errorlogs \
	--timeout-multiplier "${TIMEOUT_MULTIPLIER:-10}" $suite_args
