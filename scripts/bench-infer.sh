#!/bin/sh
# Benchmark the INT8 engine on every supported model in the shared models
# folder: reference vs optimised latency (median of N invokes on one core),
# speed-up, GMAC/s and the fraction of the core's peak int8 MAC rate.
#
#   scripts/bench-infer.sh [BUILD_DIR] [ITERS]     (defaults: build, 30)
#
# Environment: EDGE_SHARED_DIR (default ../shared next to the source tree),
# CPU_GHZ to state the core clock instead of reading it from /proc/cpuinfo,
# EDGE_INFER_ISA to bench a lower instruction-set level.
#
# Peak int8 MAC/cycle per core by kernel path (two vector dot-product
# instructions issued per cycle): AVX-512 VNNI 2 x vpdpbusd x 64 = 128;
# AVX-VNNI 2 x 32 = 64; AVX2 2 x vpmaddwd x 16 = 32; NEON dot-product
# 2 x sdot x 16 = 32; NEON 2 x smull/sadalp x 8 = 16. Peak = that x clock.
# The clock is the kernel's "cpu MHz" (the nominal/TSC clock under a
# hypervisor; turbo may run faster, so the fraction is an upper estimate).
# Short runs only: the machine may be shared.
set -eu

cd "$(dirname "$0")/.."
BUILD=${1:-build}
ITERS=${2:-30}
EDGECTL="$BUILD/daemon/edgectl/edgectl"
SHARED=${EDGE_SHARED_DIR:-../shared}
if [ ! -x "$EDGECTL" ]; then
	echo "bench-infer: $EDGECTL not built (ninja -C $BUILD daemon/edgectl/edgectl)" >&2
	exit 1
fi
if [ ! -d "$SHARED/models" ]; then
	echo "bench-infer: no models in $SHARED/models (set EDGE_SHARED_DIR)" >&2
	exit 1
fi
GHZ=${CPU_GHZ:-$(awk -F: '/^cpu MHz/ { printf "%.3f", $2 / 1000; exit }' /proc/cpuinfo 2>/dev/null || true)}
[ -n "$GHZ" ] || GHZ=0

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
for f in "$SHARED"/models/*.tflite; do
	name=$(basename "$f" .tflite)
	if "$EDGECTL" model inspect "$f" --json > "$TMP/$name.inspect.json" 2>/dev/null; then
		"$EDGECTL" model bench "$f" --iters "$ITERS" --json > "$TMP/$name.bench.json" ||
			echo "bench-infer: $name: bench failed" >&2
	else
		echo "$name" >> "$TMP/unsupported"
	fi
done

python3 - "$TMP" "$GHZ" <<'PY'
import glob, json, os, sys
tmp, ghz = sys.argv[1], float(sys.argv[2])
peaks = [("AVX-512 VNNI", 128), ("AVX-VNNI", 64), ("AVX2", 32), ("dot-product", 32), ("NEON", 16)]
rows, path = [], "?"
for b in sorted(glob.glob(os.path.join(tmp, "*.bench.json"))):
    name = os.path.basename(b)[:-len(".bench.json")]
    with open(b) as fh:
        try:
            j = json.load(fh)
        except ValueError:
            continue
    path = j["kernel_path"]
    rows.append((name, j))
peak_mac_cycle = next((p for k, p in peaks if k in path), 0)
peak_gmacs = peak_mac_cycle * ghz
print(f"kernel path: {path}; clock {ghz:.3f} GHz; peak {peak_mac_cycle} int8 MAC/cycle = {peak_gmacs:.1f} GMAC/s per core")
hdr = f"{'model':<28} {'MACs':>11} {'arena B':>9} {'packed B':>9} {'ref ms':>9} {'opt ms':>9} {'speed-up':>8} {'GMAC/s':>7} {'of peak':>7} {'same':>5}"
print(hdr)
print("-" * len(hdr))
for name, j in rows:
    ref, opt = j["reference"]["median_us"] / 1e3, j["optimised"]["median_us"] / 1e3
    gmacs = j["macs"] / (opt * 1e6) if opt > 0 else 0
    frac = gmacs / peak_gmacs if peak_gmacs > 0 else 0
    print(f"{name:<28} {j['macs']:>11} {j['arena_bytes']:>9} {j['packed_bytes']:>9} {ref:>9.3f} {opt:>9.3f} "
          f"{ref / opt if opt > 0 else 0:>7.1f}x {gmacs:>7.2f} {frac * 100:>6.1f}% {'yes' if j['outputs_equal'] else 'NO':>5}")
un = os.path.join(tmp, "unsupported")
if os.path.exists(un):
    print("not supported by the engine: " + ", ".join(open(un).read().split()))
PY
