#!/bin/sh
# Benchmark the INT8 engine on every model in the benchmark models folder:
# reference vs optimised latency (median of N invokes on one core),
# speed-up, GMAC/s and the fraction of the core's peak int8 MAC rate.
# Given several build directories, it runs them model by model in turn
# (same run, same load) and prints them side by side with the ratio of
# each build's time to the first's, after one full table per build.
#
#   scripts/bench-infer.sh [BUILD_DIR ...] [ITERS]     (defaults: build, 30)
#   scripts/bench-infer.sh build build-release 30      (default vs release build)
#
# Models: $EDGE_SHARED_DIR/models (default ../shared next to the source
# tree, which also holds the large ones such as mobilenet_v2); without it,
# the test models in tests/data/models.
# Environment: ROUNDS (default 1) repeats every measurement and keeps the
# best median, which steadies figures on a busy machine; CPU_GHZ states the
# core clock instead of reading it from /proc/cpuinfo; EDGE_INFER_ISA
# benches a lower instruction-set level.
#
# Peak int8 MAC/cycle per core by kernel path (two vector dot-product
# instructions issued per cycle): AVX-512 VNNI 2 x vpdpbusd x 64 = 128;
# AVX-VNNI 2 x 32 = 64; AVX2 2 x vpmaddwd x 16 = 32; NEON dot-product
# 2 x sdot x 16 = 32; NEON 2 x smull/sadalp x 8 = 16. Peak = that x clock.
# The clock is the kernel's "cpu MHz" (the nominal/TSC clock under a
# hypervisor; turbo may run faster, so the fraction is an upper estimate).
# Short runs only: the machine may be shared.
set -eu

ITERS=30
BUILDS=""
for a in "$@"; do
	case "$a" in
	-h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*[!0-9]*|'')
		# A directory here is taken as it is; otherwise relative to the source tree.
		[ -d "$a" ] && a=$(cd "$a" && pwd)
		BUILDS="$BUILDS $a" ;;
	*) ITERS=$a ;;
	esac
done
cd "$(dirname "$0")/.."
[ -n "$BUILDS" ] || BUILDS=build
ROUNDS=${ROUNDS:-1}

for b in $BUILDS; do
	if [ ! -x "$b/daemon/edgectl/edgectl" ]; then
		echo "bench-infer: $b/daemon/edgectl/edgectl not built (ninja -C $b daemon/edgectl/edgectl)" >&2
		exit 1
	fi
done
SHARED=${EDGE_SHARED_DIR:-../shared}
MODELS="$SHARED/models"
if [ ! -d "$MODELS" ]; then
	MODELS=tests/data/models
	echo "bench-infer: no $SHARED/models (EDGE_SHARED_DIR); using the test models in $MODELS" >&2
fi
GHZ=${CPU_GHZ:-$(awk -F: '/^cpu MHz/ { printf "%.3f", $2 / 1000; exit }' /proc/cpuinfo 2>/dev/null || true)}
[ -n "$GHZ" ] || GHZ=0

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
: > "$TMP/builds"
i=0
for b in $BUILDS; do
	echo "$b" >> "$TMP/builds"
	mkdir "$TMP/$i"
	i=$((i + 1))
done
cat /proc/loadavg > "$TMP/load" 2>/dev/null || echo "? ? ?" > "$TMP/load"
first=$(head -n 1 "$TMP/builds")
: > "$TMP/supported"
for f in "$MODELS"/*.tflite; do
	if "$first/daemon/edgectl/edgectl" model inspect "$f" --json > /dev/null 2>&1; then
		echo "$f" >> "$TMP/supported"
	else
		basename "$f" .tflite >> "$TMP/unsupported"
	fi
done
# Builds take turns on each model and rounds go over all models, so a burst
# of other work hits the builds alike and rarely every round of one model.
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	while read -r f; do
		name=$(basename "$f" .tflite)
		i=0
		for b in $BUILDS; do
			"$b/daemon/edgectl/edgectl" model bench "$f" --iters "$ITERS" --json \
				> "$TMP/$i/$name.$r.json" < /dev/null ||
				echo "bench-infer: $b: $name: bench failed" >&2
			i=$((i + 1))
		done
	done < "$TMP/supported"
	r=$((r + 1))
done

python3 - "$TMP" "$GHZ" "$ITERS" "$ROUNDS" "$MODELS" <<'PY'
import glob, json, math, os, platform, re, sys
tmp, ghz, iters, rounds, models = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
builds = open(os.path.join(tmp, "builds")).read().split()
peaks = [("AVX-512 VNNI", 128), ("AVX-VNNI", 64), ("AVX2", 32), ("dot-product", 32), ("NEON", 16)]

def describe(b):
    """Build type and the flags the engine's operators were compiled with."""
    opts = {}
    try:
        for o in json.load(open(os.path.join(b, "meson-info", "intro-buildoptions.json"))):
            opts[o["name"]] = o["value"]
    except (OSError, ValueError):
        pass
    engine = "?"
    try:
        for c in json.load(open(os.path.join(b, "compile_commands.json"))):
            if c["file"].endswith("ops/op_conv_2d.c"):
                flags = [a for a in c["command"].split() if re.fullmatch(r"-O.|-g|-DNDEBUG", a)]
                engine = " ".join(flags)
    except (OSError, ValueError):
        pass
    return (f"buildtype={opts.get('buildtype', '?')} optimization={opts.get('optimization', '?')} "
            f"b_ndebug={opts.get('b_ndebug', '?')}; engine operators built with {engine}")

def best(i, name):
    """The run with the lowest optimised median over the rounds (None if none)."""
    runs = []
    for f in glob.glob(os.path.join(tmp, str(i), name + ".*.json")):
        try:
            runs.append(json.load(open(f)))
        except ValueError:
            pass
    if not runs:
        return None
    j = min(runs, key=lambda r: r["optimised"]["median_us"])
    j["reference"]["median_us"] = min(r["reference"]["median_us"] for r in runs)
    j["outputs_equal"] = all(r["outputs_equal"] for r in runs)
    return j

names = sorted({os.path.basename(f).rsplit(".", 2)[0] for f in glob.glob(os.path.join(tmp, "0", "*.json"))})
res = {n: [best(i, n) for i in range(len(builds))] for n in names}
path = next((r[0]["kernel_path"] for r in res.values() if r[0]), "?")
cpu = "?"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
peak_mac_cycle = next((p for k, p in peaks if k in path), 0)
peak_gmacs = peak_mac_cycle * ghz
print(f"machine: {cpu}, {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; "
      f"load average at start: {' '.join(open(os.path.join(tmp, 'load')).read().split()[:3])}")
print(f"kernel path: {path}; clock {ghz:.3f} GHz; peak {peak_mac_cycle} int8 MAC/cycle = {peak_gmacs:.1f} GMAC/s per core")
print(f"models: {models}; median of {iters} invokes per path" + (f", best of {rounds} rounds" if rounds != "1" else ""))
for i, b in enumerate(builds):
    print(f"build {chr(65 + i)}: {b} ({describe(b)})")
print()

for i, b in enumerate(builds):
    if len(builds) > 1:
        print(f"build {chr(65 + i)}:")
    hdr = f"{'model':<28} {'MACs':>11} {'arena B':>9} {'packed B':>9} {'ref ms':>9} {'opt ms':>9} {'speed-up':>8} {'GMAC/s':>7} {'of peak':>7} {'same':>5}"
    print(hdr)
    print("-" * len(hdr))
    for name in names:
        j = res[name][i]
        if not j:
            continue
        ref, opt = j["reference"]["median_us"] / 1e3, j["optimised"]["median_us"] / 1e3
        gmacs = j["macs"] / (opt * 1e6) if opt > 0 else 0
        frac = gmacs / peak_gmacs if peak_gmacs > 0 else 0
        print(f"{name:<28} {j['macs']:>11} {j['arena_bytes']:>9} {j['packed_bytes']:>9} {ref:>9.3f} {opt:>9.3f} "
              f"{ref / opt if opt > 0 else 0:>7.1f}x {gmacs:>7.2f} {frac * 100:>6.1f}% {'yes' if j['outputs_equal'] else 'NO':>5}")
    print()
if len(builds) > 1:
    print("side by side (ratio: the build's median over build A's):")
    letters = [chr(65 + i) for i in range(len(builds))]
    cols = [f"ref ms {l}" for l in letters] + [f"opt ms {l}" for l in letters]
    ratios = [f"ref {l}/A" for l in letters[1:]] + [f"opt {l}/A" for l in letters[1:]]
    hdr = f"{'model':<28} {'MACs':>11} " + " ".join(f"{c:>9}" for c in cols) + " " + \
          " ".join(f"{c:>9}" for c in ratios) + f" {'same':>5}"
    print(hdr)
    print("-" * len(hdr))
    logs = [[] for _ in ratios]
    for name in names:
        js = res[name]
        if not all(js):
            continue
        ref = [j["reference"]["median_us"] / 1e3 for j in js]
        opt = [j["optimised"]["median_us"] / 1e3 for j in js]
        rr = [r / ref[0] if ref[0] > 0 else 0 for r in ref[1:]] + [o / opt[0] if opt[0] > 0 else 0 for o in opt[1:]]
        same = all(j["outputs_equal"] for j in js)
        print(f"{name:<28} {js[0]['macs']:>11} " + " ".join(f"{v:>9.3f}" for v in ref + opt) + " " +
              " ".join(f"{v:>8.2f}x" for v in rr) + f" {'yes' if same else 'NO':>5}")
        if min(opt) >= 0.05:  # shorter runs are mostly timer and call overhead
            for k, v in enumerate(rr):
                logs[k].append(math.log(v))
    if logs[0]:
        gm = [math.exp(sum(l) / len(l)) if l else 0 for l in logs]
        print(f"{'geometric mean (opt >= 0.05 ms)':<40} " + " " * (10 * len(cols)) +
              " ".join(f"{v:>8.2f}x" for v in gm))
un = os.path.join(tmp, "unsupported")
if os.path.exists(un):
    print("not supported by the engine: " + ", ".join(open(un).read().split()))
PY
