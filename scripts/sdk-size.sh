#!/bin/sh
# Build the device SDK (proto/) for a Cortex-M4 with Debian's
# gcc-arm-none-eabi and newlib nano, link it into a small test firmware
# (tests/sdk/firmware.c) and check what a node would flash:
#
#   scripts/sdk-size.sh [OUT_DIR [EXTRA.c ...]]     (default: build-sdk-m4)
#
# EXTRA.c files are compiled with the same flags and linked into the
# firmware as well (e.g. a vendor's glue; the tests add one that allocates
# to prove the check below).
#
# - every SDK source compiles with -std=c99 -Wall -Wextra -Werror;
# - the firmware links with --gc-sections and no linker warning;
# - nothing in the firmware allocates: it fails when malloc, free, calloc or
#   realloc (or newlib's reentrant _malloc_r... behind them) is linked, and
#   shows the call chain from the firmware's code to it (in newlib nano even snprintf with
#   "%u" links _malloc_r, and so does strtod);
# - it prints flash (text + data) and RAM (data + bss) per object file, as
#   compiled and as kept in the firmware, and for the firmware, then the
#   worst-case stack of main and of each SDK function the firmware calls
#   (gcc's -fcallgraph-info: the deepest call chain, frame by frame).
#
# The SDK is every proto/*.c except the gateway-only files listed in
# GATEWAY_ONLY below: a new file in proto/ is part of the SDK (and of this
# check) unless it is added there. Pure cross build; takes a few seconds.
# suite `sdk` of meson test runs it (tests/sdk/meson.build).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$root/build-sdk-m4}
[ $# -gt 0 ] && shift
extra="$*"

# proto/ sources that only the gateway or edgectl use: the control socket,
# and the report parser (strtod/strtof link newlib's allocator).
GATEWAY_ONLY="edge_ctl_frame.c edge_report_parse.c"

CROSS=${CROSS:-arm-none-eabi-}
ARCH="-mcpu=cortex-m4 -mthumb"
# The firmware build's flags, plus the stack analysis (no effect on code),
# plus SDK_CFLAGS from the environment, e.g. -DEDGE_MSG_MAX_TOKENS=32.
CFLAGS="$ARCH -Os -ffunction-sections -fdata-sections -std=c99 -Wall -Wextra -Werror -fstack-usage -fcallgraph-info=su ${SDK_CFLAGS:-}"
# -nostartfiles: tests/sdk/startup.c stands for the vendor's startup code.
LDFLAGS="$ARCH --specs=nano.specs --specs=nosys.specs -nostartfiles -Wl,--gc-sections -Wl,--fatal-warnings"
# Allocation entry points, and newlib's reentrant ones that its own code
# (stdio, strtod, dtoa) calls directly.
ALLOC_RE='^_?(malloc|free|calloc|realloc)(_r)?$'

die() { echo "sdk-size: $*" >&2; exit 1; }

for t in gcc size nm objdump; do
	command -v "${CROSS}$t" >/dev/null 2>&1 ||
		die "${CROSS}$t not found (scripts/setup.sh installs gcc-arm-none-eabi)"
done
# Without libnewlib-arm-none-eabi the driver echoes the bare name back.
case $("${CROSS}gcc" -print-file-name=nano.specs) in
/*) ;;
*) die "newlib nano not found (scripts/setup.sh installs libnewlib-arm-none-eabi)" ;;
esac

# OUT is wiped: refuse a directory this script did not make.
if [ -d "$OUT" ] && [ ! -f "$OUT/.sdk-size" ] && [ -n "$(ls -A "$OUT")" ]; then
	die "$OUT exists and is not an output of this script"
fi
rm -rf "$OUT"
mkdir -p "$OUT/obj"
: >"$OUT/.sdk-size"

sources=""
for src in "$root"/proto/*.c; do
	case " $GATEWAY_ONLY " in
	*" $(basename "$src") "*) continue ;;
	esac
	sources="$sources $src"
done
[ -n "$sources" ] || die "no sources in $root/proto"

# SDK objects in obj/, the firmware's own in app/.
mkdir -p "$OUT/app"
compile() {
	# shellcheck disable=SC2086
	"${CROSS}gcc" $CFLAGS -I"$root/proto" -c "$1" -o "$2" ||
		die "$(basename "$1") does not compile for the Cortex-M4"
}
sdk_objs=""
for src in $sources; do
	obj="$OUT/obj/$(basename "$src" .c).o"
	compile "$src" "$obj"
	sdk_objs="$sdk_objs $obj"
done
app_objs=""
for src in "$root/tests/sdk/firmware.c" "$root/tests/sdk/startup.c" $extra; do
	obj="$OUT/app/$(basename "$src" .c).o"
	compile "$src" "$obj"
	app_objs="$app_objs $obj"
done

elf="$OUT/firmware.elf"
map="$OUT/firmware.map"
# shellcheck disable=SC2086
"${CROSS}gcc" $LDFLAGS -Wl,-Map="$map" -o "$elf" $sdk_objs $app_objs ||
	die "the test firmware does not link"

# ---- no allocation
alloc=$("${CROSS}nm" "$elf" | awk -v re="$ALLOC_RE" '$NF ~ re { print $NF }' | sort -u)
if [ -n "$alloc" ]; then
	echo "sdk-size: the firmware links allocation:" "$(echo "$alloc" | tr '\n' ' ')" >&2
	# The map's archive list shows what the link pulled in before
	# --gc-sections; the disassembly shows what still calls the allocator.
	echo "sdk-size: how the firmware reaches it (direct calls):" >&2
	cat >"$OUT/why.awk" <<'AWK'
# From `objdump -d` of the firmware: for each allocator symbol, the
# shortest chain of direct calls from a function of the firmware's own
# objects (own[] = names, from nm) down to it.
FNR == NR { own[$1] = 1; next }
/^[0-9a-f]+ <[^>]+>:$/ { fn = substr($2, 2, length($2) - 3); next }
$2 ~ /^(bl|blx|b|b\.w|b\.n)$/ && $NF ~ /^<[^+>]+>$/ {
	t = substr($NF, 2, length($NF) - 2)
	if (t != fn && index(" " callers[t] " ", " " fn " ") == 0)
		callers[t] = callers[t] " " fn
}
END {
	n = split(targets, tg, " ")
	for (i = 1; i <= n; i++) {
		# Breadth first, backwards from the allocator.
		delete via; head = 1; tail = 1; queue[1] = tg[i]; via[tg[i]] = ""
		found = ""
		while (head <= tail && found == "") {
			f = queue[head++]
			m = split(callers[f], c, " ")
			for (j = 1; j <= m && found == ""; j++) {
				if (c[j] in via) continue
				via[c[j]] = f; queue[++tail] = c[j]
				if (c[j] in own) found = c[j]
			}
		}
		if (found == "") { printf "  %s: no direct caller in the firmware's objects\n", tg[i]; continue }
		line = found
		for (f = via[found]; f != ""; f = via[f]) line = line " > " f
		printf "  %s\n", line
	}
}
AWK
	# shellcheck disable=SC2086
	"${CROSS}nm" --defined-only $sdk_objs $app_objs | awk 'NF == 3 { print $3 }' >"$OUT/own.txt"
	"${CROSS}objdump" -d --no-show-raw-insn "$elf" |
		awk -v targets="$(echo "$alloc" | tr '\n' ' ')" -f "$OUT/why.awk" "$OUT/own.txt" - >&2
	exit 1
fi

# ---- sizes
echo "Device SDK for Cortex-M4 ($ARCH -Os${SDK_CFLAGS:+ $SDK_CFLAGS}, newlib nano, --gc-sections)"
echo
# Per object: as compiled (every function), and as kept in the firmware
# after --gc-sections (input sections the map places in the image).
sizes=$(cd "$OUT" && "${CROSS}size" -B obj/*.o app/*.o)
kept=$(awk -v dir="$OUT/" '
	function hex(s,   i, n) {
		n = 0; s = tolower(substr(s, 3))
		for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return n
	}
	/^Linker script and memory map/ { on = 1; next }
	!on { next }
	# An input section: " .text.name  addr size file", the name alone on
	# its line when it is long.
	/^ [.A-Za-z_]/ && NF == 1 { name = $1; next }
	/^ [.A-Za-z_]/ && NF == 4 { name = $1; addr = $2; size = $3; file = $4 }
	/^  +0x/ && NF == 3 && name != "" { addr = $1; size = $2; file = $3 }
	{
		if (file == "" || index(file, dir) != 1) { name = ""; file = ""; next }
		obj = substr(file, length(dir) + 1)
		n = hex(size)
		if (name ~ /^\.(bss|COMMON)/ || name == "COMMON") bss[obj] += n
		else if (name ~ /^\.data/) data[obj] += n
		else if (name ~ /^\.(text|rodata)/) text[obj] += n
		seen[obj] = 1
		name = ""; file = ""
	}
	END { for (o in seen) printf "%s %d %d %d\n", o, text[o], data[o], bss[o] }
' "$map")
echo "$sizes" | awk -v kept="$kept" '
	function row(name, t, d, b, kf, kr) {
		printf "%-22s %7d %6d %6d %7d %6d %10d %8d\n", name, t, d, b,
			t + d, d + b, kf, kr
	}
	BEGIN {
		n = split(kept, l, "\n")
		for (i = 1; i <= n; i++) {
			split(l[i], f, " ")
			kflash[f[1]] = f[2] + f[3]; kram[f[1]] = f[3] + f[4]
		}
		printf "%-22s %7s %6s %6s %7s %6s %10s %8s\n", "object", "text", "data",
			"bss", "flash", "RAM", "kept:flash", "kept:RAM"
	}
	NR > 1 {
		obj = $6; name = obj; sub(/^[a-z]*\//, "", name)
		if (obj ~ /^app\//) { app[++napp] = $0; next }
		row(name, $1, $2, $3, kflash[obj], kram[obj])
		t += $1; d += $2; b += $3; kf += kflash[obj]; kr += kram[obj]
	}
	END {
		row("SDK", t, d, b, kf, kr)
		for (i = 1; i <= napp; i++) {
			split(app[i], f, " "); name = f[6]; sub(/^app\//, "", name)
			row(name " (app)", f[1], f[2], f[3], kflash[f[6]], kram[f[6]])
		}
	}'
"${CROSS}size" -B "$elf" | awk 'NR > 1 {
	printf "%-22s %7d %6d %6d %7d %6d   (with libc and libgcc)\n",
		"firmware.elf", $1, $2, $3, $1 + $2, $2 + $3 }'

# RAM per queue slot: the firmware's slot arrays (QUEUE_SLOTS of each).
n_slots=$(sed -n 's/^#define QUEUE_SLOTS \([0-9]*\).*/\1/p' "$root/tests/sdk/firmware.c")
"${CROSS}nm" -S "$OUT/app/firmware.o" | awk -v n="${n_slots:-0}" '
	function hex(s,   i, n) {
		n = 0; s = tolower(s)
		for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return n
	}
	$4 == "slots" { ev = hex($2) } $4 == "slot_states" { st = hex($2) }
	$4 == "queue" { q = hex($2) }
	END {
		if (n > 0 && ev && st) printf "Report queue RAM: %d bytes + %d per slot (event %d + state %d)\n",
			q, (ev + st) / n, ev / n, st / n
	}'

# ---- stack
echo
echo "Stack, worst call chain in bytes (frame sizes from -fstack-usage):"
cat >"$OUT/stack.awk" <<'AWK'
# Worst-case stack of call chains, from gcc's -fcallgraph-info=su files
# (VCG text: one "node:" per function with its frame, one "edge:" per call).
# Indirect calls are resolved to the static functions of the caller's file
# that nothing calls directly (the handlers of a function table), plus
# those the app passes as callbacks; recursion counts one turn.
# Prints "bytes chain" for main and for every SDK function the app calls.
function q(line, key,   s) {
	s = substr(line, index(line, key "\"") + length(key) + 1)
	return substr(s, 1, index(s, "\"") - 1)
}
function worst(f,   i, k, w, best, bestc, t, tgts, n) {
	if (f in memo) return memo[f]
	if (f in busy) { recursive[f] = 1; return 0 }
	busy[f] = 1
	best = 0; bestc = ""
	n = split(calls[f], tgts, " ")
	for (i = 1; i <= n; i++) {
		t = tgts[i]
		if (t == "__indirect_call") {
			for (k in handler)
				if (fileof[k] == fileof[f] || app_cb[k]) {
					w = worst(k)
					if (w > best) { best = w; bestc = chain[k] }
				}
			continue
		}
		w = worst(t)
		if (w > best) { best = w; bestc = chain[t] }
	}
	delete busy[f]
	memo[f] = frame[f] + best
	chain[f] = name[f] "(" frame[f] ")" (bestc != "" ? " > " bestc : "")
	return memo[f]
}
/^node:/ {
	t = q($0, "title: "); l = q($0, "label: ")
	split(l, p, "\\\\n")
	name[t] = p[1]
	if (!(t in frame)) frame[t] = 0
	if (match(l, /[0-9]+ bytes/)) {
		frame[t] = substr(l, RSTART, RLENGTH - 6) + 0
		fileof[t] = p[2]; sub(/:.*/, "", fileof[t])
		defined[t] = 1
		if (index(t, ":")) static_fn[t] = 1
		if (l ~ /dynamic/) dynamic[t] = 1
		if (FILENAME ~ /\/app\//) app_fn[t] = 1
	}
}
/^edge:/ {
	s = q($0, "sourcename: "); t = q($0, "targetname: ")
	if (index(" " calls[s] " ", " " t " ") == 0) calls[s] = calls[s] " " t
	called[t] = 1
	if (t == "__indirect_call") indirect[s] = 1
}
END {
	for (t in static_fn)
		if (!(t in called)) handler[t] = 1
	# The app's own static functions never called directly are callbacks
	# it hands to the SDK (e.g. the queue's epoch source).
	for (t in handler) if (t in app_fn) app_cb[t] = 1
	printf "%7d  %s\n", worst("main"), chain["main"]
	for (s in app_fn) {
		n = split(calls[s], tgts, " ")
		for (i = 1; i <= n; i++)
			if ((tgts[i] in defined) && !(tgts[i] in app_fn)) api[tgts[i]] = 1
	}
	for (t in api) printf "%7d  %s\n", worst(t), chain[t] | "sort -rn"
	close("sort -rn")
	for (t in recursive) printf "recursive: %s\n", name[t]
	for (t in dynamic) printf "dynamic frame: %s\n", name[t]
}
AWK
awk -f "$OUT/stack.awk" "$OUT"/obj/*.ci "$OUT"/app/*.ci
echo
echo "Largest frames:"
cat "$OUT"/obj/*.su "$OUT"/app/*.su | awk -F'\t' '{
	n = split($1, p, ":"); file = p[1]; sub(/.*\//, "", file)
	printf "%7d  %s (%s)\n", $2, p[n], file }' | sort -rn | head -n 6

echo
# shellcheck disable=SC2086
"${CROSS}nm" -g $sdk_objs | awk '
	NF == 3 { defined[$3] = 1 }
	NF == 2 && $1 == "U" { used[$2] = 1 }
	END { for (s in used) if (!(s in defined)) print s }
' | sort | tr '\n' ' ' | sed 's/^/What the SDK needs from libc and libgcc: /; s/ $/\n/'
echo "sdk-size: ok: no allocation in $elf"
