#!/usr/bin/env bash
# Staged-rollout benchmark (issue 10): what staging costs over a plain send.
#
# In one run, against one private mosquitto on 127.0.0.1 (the project's
# configuration from `edgectl broker-config`, anonymous as the other fleet
# benchmarks), one edged with a trust dir holding a key from `edgectl keys
# generate`, and the model tests/data/models/ic_resnet8_int8.tflite (~98
# KB) packed with `edgectl model pack` and added with `edgectl models add`,
# each repetition measures, in alternating order:
#   plain:  the model's next version to N simulated nodes (default 1,000;
#           edge-sim --ota-trust --tcp-nodelay) with `edgectl ota send REF
#           --to all --wait`: the command's wall time, and edged's transfer
#           created -> finished (every node final).
#   staged: the next version (counter + 1, same model) with `edgectl rollout
#           start REF --to all --canary 1% --waves 10%,50%,100% --soak 0`:
#           the time until `rollout status` says done (polled every 0.2 s),
#           edged's own time (the rollout's first event -> its "done"
#           event) and each stage's (its "started" -> its "passed" event).
# Then the health check's cost: one more staged rollout (--canary as above,
# --waves 100%, --soak 12 s, --health on) on a fresh fleet reporting 0.2
# anomalies a second per node for 20 s first; per stage, how many nodes its
# looks read (the stage and its peers) and how long a look took on the
# thread pool (median and max of its looks, from the looks' events).
# Every measurement gets a fresh simulator (the same N ids, no model yet):
# a node that runs the model is never offered the same model bytes again
# (already_have), whatever the version. Prints one table of medians:
# measure, staged, plain, ratio (staged / plain), then the stages. Every
# wait is bounded; everything started is stopped by PID; the temp dir is
# removed at exit.
#
#   scripts/bench-rollout.sh [--nodes N] [--quick] [--reps R] [--chunk C]
#        [--health on|off] [--timeout-s S] [--edged-set SECTION.KEY=VALUE]...
#        [--build-dir DIR] [--no-build] [--keep-dir]
#
# --quick: 100 nodes, 1 repetition, for a smoke run. --reps: repetitions of
# the pair (3; 1 with --quick), the order alternating (plain first in odd
# ones). --chunk: ota.chunk_size of both (1024). --health: `rollout start
# --health` (default: edged's rollout.health; with soak 0 there is no soak
# for it to look in). --timeout-s: bound of each measurement (600).
# --keep-dir: leave the temp dir (logs, packages, edged's state) behind.
# edged runs with ota.rate_bytes_per_s = 0 (no byte-rate limit, as
# bench-ota.sh); --edged-set overrides any setting.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=1000
nodes_set=0
quick=0
reps=
chunk=1024
timeout_s=600
edged_set=()
build="$root/build"
do_build=1
keep_dir=0
health=
# The rollout measured: the issue's stages, no soak.
canary=1%
waves=10%,50%,100%

while (($#)); do
  case "$1" in
    --nodes) nodes=$2; nodes_set=1; shift 2 ;;
    --quick) quick=1; shift ;;
    --reps) reps=$2; shift 2 ;;
    --chunk) chunk=$2; shift 2 ;;
    --health) health=$2; shift 2 ;;
    --timeout-s) timeout_s=$2; shift 2 ;;
    --edged-set) edged_set+=("$2"); shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --keep-dir) keep_dir=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-rollout: unknown option $1" >&2; exit 2 ;;
  esac
done
((quick && !nodes_set)) && nodes=100
[[ -n "$reps" ]] || reps=$((quick ? 1 : 3))
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 2 && nodes <= 10000)) ||
  { echo "bench-rollout: --nodes must be 2..10000" >&2; exit 2; }
[[ "$reps" =~ ^[0-9]+$ ]] && ((reps >= 1 && reps <= 20)) ||
  { echo "bench-rollout: --reps must be 1..20" >&2; exit 2; }
[[ "$chunk" =~ ^[0-9]+$ ]] && ((chunk >= 64 && chunk <= 16384)) ||
  { echo "bench-rollout: --chunk must be 64..16384" >&2; exit 2; }
[[ "$timeout_s" =~ ^[0-9]+$ ]] && ((timeout_s >= 10 && timeout_s <= 7200)) ||
  { echo "bench-rollout: --timeout-s must be 10..7200" >&2; exit 2; }
[[ -z "$health" || "$health" == on || "$health" == off ]] ||
  { echo "bench-rollout: --health must be on or off" >&2; exit 2; }

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim >/dev/null
fi
bench="bench-rollout"
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
model="$root/tests/data/models/ic_resnet8_int8.tflite"
bench_binaries
command -v python3 >/dev/null || { echo "bench-rollout: python3 is needed (JSON)" >&2; exit 1; }
[[ -f "$model" ]] || { echo "bench-rollout: missing $model" >&2; exit 1; }
# Nothing to measure without rollouts, OTA and the simulator's receiver.
"$edgectl" rollout --help >/dev/null 2>&1 || { echo "bench-rollout: edgectl has no rollout" >&2; exit 1; }
"$edgectl" ota --help >/dev/null 2>&1 || { echo "bench-rollout: edgectl has no ota" >&2; exit 1; }
sim_help=$("$sim" --help 2>&1 || true) # not a pipe: grep -q would cut it short (pipefail)
grep -q -- '--ota-trust' <<<"$sim_help" || { echo "bench-rollout: edge-sim has no --ota-trust" >&2; exit 1; }
rollout_help=$("$edgectl" rollout --help 2>&1 || true)
health_arg=()
if [[ -n "$health" ]]; then
  grep -q -- '--health' <<<"$rollout_help" ||
    { echo "bench-rollout: this edgectl's rollout start has no --health" >&2; exit 1; }
  health_arg=(--health "$health")
fi
bench_fd_limit
bench_dir
if ((keep_dir)); then
  trap 'stop_all; echo "bench-rollout: logs kept in $dir" >&2' EXIT
fi

hz=$(getconf CLK_TCK)
frame_hdr=24 # EDGE_OTA_FRAME_HDR: what a chunk frame adds to the model bytes
model_bytes=$(stat -c %s "$model")
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2" | tail -n 1; } # KEY LINE
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a != "" && a != "n/a" && b + 0 > 0) printf f, a / b; else print "n/a" }'; }
cpu_since() { awk -v a="$1" -v b="$(cpu_ticks "$2")" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
median() { # format values... (n/a ignored) → the median, or n/a
  local f=$1
  shift
  printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g |
    awk -v f="$f" '{ v[NR] = $1 } END { if (!NR) print "n/a"; else if (NR % 2) printf f, v[(NR + 1) / 2];
      else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- broker (the payload limit fits the largest chunk frame), keys, edged
bench_start_broker --message-size-limit $((16384 + frame_hdr))
keys="$dir/keys"
trust="$dir/trust"
mkdir -p "$keys" "$trust"
"$edgectl" keys generate --type ed25519 --out "$keys/bench" >/dev/null || fail "edgectl keys generate"
cp "$keys/bench.pub" "$trust/"
name=ic-bench
# Counters from 101: every version string and counter has the same length,
# so the packages differ in size by a byte at most (their signatures).
counter=100
# Both measurements use ota.chunk_size (rollout start has no --chunk-size).
# A key may appear once: --edged-set replaces these defaults.
# The health looks' rollout counts events (the simulated anomalies are
# independent, not bursts) and needs 10 node-seconds a side (its soak is
# seconds, not hours): neither touches the soak-0 measurements.
conf=("ota.trust_dir=$trust" ota.rate_bytes_per_s=0 "ota.chunk_size=$chunk"
  rollout.health_count=events rollout.health_min_exposure_s=10)
for kv in "${edged_set[@]}"; do
  for i in "${!conf[@]}"; do [[ "${conf[i]%%=*}" == "${kv%%=*}" ]] && unset 'conf[i]'; done
  conf+=("$kv")
done
bench_edged_conf "$dir/edged.conf" "${conf[@]}"
bench_start_edged "$dir/edged.conf"

# N fresh nodes (the same ids each time, no model yet).
start_sim() { # log [edge-sim args...]
  bench_start_ota_sim "$1" "$nodes" sim $((timeout_s + 300)) "${@:2}"
}

# The newest transfer's id (0 if none): taken before a measurement, outside
# its timing and CPU (a full `ota status` lists up to 32 finished transfers
# with every node: about 1 MB of JSON at 1,000 nodes).
last_transfer() {
  "$edgectl" -s "$sock" --json ota status 2>/dev/null | python3 -c '
import json, sys
try:
    print(max([t.get("transfer", 0) for t in json.load(sys.stdin).get("transfers", [])] or [0]))
except ValueError:
    print(0)'
}

# Polls one control command every 0.2 s (bounded by --timeout-s) from the
# epoch T0 until its answer's state is one of STATES; prints the seconds
# since T0, or n/a. At 1,000 nodes `rollout status` costs edged about 2.5
# ms of CPU (110 KB), `ota status --transfer N` 7.5 ms (600 KB): this poll
# loads edged about as `ota send --wait`'s own every 0.5 s; a second poller
# on the plain transfer would slow it on a 2-core machine.
poll_until() { # t0 states edgectl-args...
  python3 - "$timeout_s" "$@" <<'PY'
import json, subprocess, sys, time
limit, t0, states, cmd = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(","), sys.argv[4:]
while time.time() - t0 < limit:
    try:
        out = json.loads(subprocess.run(cmd, capture_output=True, timeout=10).stdout)
    except (ValueError, subprocess.SubprocessError):
        out = {}
    # ota.status answers {"transfers": [...]}, rollout.status the rollout
    st = (out.get("transfers") or [out])[0].get("state") if isinstance(out, dict) else None
    if st in states:
        print("%.2f" % (time.time() - t0))
        sys.exit(0)
    time.sleep(0.2)
print("n/a")
PY
}

# key=value about transfers IDS... (from `ota status --transfer N` each):
# their chunks published (campaign + unicast), unicast, retx, and of the
# first: transfer, version, state, edged_s (created -> finished), nodes,
# activated.
xfer_line() { # ids...
  local id
  for id in "$@"; do
    "$edgectl" -s "$sock" --json ota status --transfer "$id" 2>/dev/null || echo '{}'
    echo
  done | python3 -c '
import json, sys
ts = []
dec, text, pos = json.JSONDecoder(), sys.stdin.read(), 0
while pos < len(text):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos == len(text):
        break
    try:
        obj, pos = dec.raw_decode(text, pos)
    except ValueError:
        break
    ts += obj.get("transfers", [])
if not ts:
    print("transfer=0 state=none edged_s=n/a nodes=0 activated=0 chunks=n/a unicast=n/a retx=n/a")
    sys.exit(0)
t = ts[0]
fin = t.get("finished_ms") or 0
st = lambda k: sum(x.get("stats", {}).get(k, 0) for x in ts)
print("transfer=%d version=%s state=%s edged_s=%s nodes=%d activated=%d chunks=%d unicast=%d "
      "retx=%d" % (
    t["transfer"], t.get("model", {}).get("version", "?"), t.get("state", "?"),
    "%.3f" % ((fin - t["created_ms"]) / 1000.0) if fin else "n/a",
    len(t.get("nodes", [])), t.get("counts", {}).get("activated", 0),
    st("campaign_chunks") + st("unicast_chunks"), st("unicast_chunks"), st("retransmits")))'
}

# ---- plain: `ota send REF --to all --wait` (it polls every 0.5 s); sets
# m_line: transfer, state, edged_s (edged's transfer created -> finished),
# nodes, activated, chunks, unicast, retx, wall (the command's), cpu
# (edged's over it).
plain() {
  local t0 c0 rc=0 wall cpu next
  # transfer ids are edged's sequence: the send's is the next one
  next=$(($(last_transfer) + 1))
  c0=$(cpu_ticks "$edged_pid")
  t0=$(now)
  timeout "$timeout_s" "$edgectl" -s "$sock" ota send "$ref" --to all --wait \
    >>"$dir/ota-send.log" 2>&1 || rc=$?
  wall=$(elapsed "$t0" "$(now)")
  cpu=$(cpu_since "$c0" "$edged_pid")
  kill -0 "$edged_pid" 2>/dev/null || fail "edged died during a transfer"
  ((rc == 124)) && echo "bench-rollout:   not finished within $timeout_s s" >&2
  m_line=$(xfer_line "$next")
  [[ "$(field version "$m_line")" == "${ref#*@}" ]] ||
    fail "transfer $next is not the send of $ref: $m_line"
  m_line="$m_line wall=$wall cpu=$cpu"
}

# ---- staged: `rollout start`, then `rollout status` every 0.2 s until the
# rollout is done, aborted, halted or reverted (bounded); sets m_line: rollout,
# state, edged_s (first event -> "done" event), nodes, activated
# (succeeded), poll (start command -> status said done), cpu, chunks,
# unicast, retx (of the stages' transfers), health (the rollout's setting
# if it has one), stages=K and per stage k: s<k>_name, s<k>_nodes, s<k>_s
# (its "started" -> "passed" event), s<k>_xid (its transfer), s<k>_xs (that
# transfer's created -> finished), then gaps_s (edged_s minus the stages:
# judging and starting the next stage).
staged() {
  local t0 c0 out id poll cpu line k xid xids=()
  c0=$(cpu_ticks "$edged_pid")
  t0=$(now)
  out=$("$edgectl" -s "$sock" --json rollout start "$ref" --to all --canary "$canary" \
    --waves "$waves" --soak 0 "${health_arg[@]}" 2>>"$dir/rollout.log") || fail "rollout start: $(tail -n 1 "$dir/rollout.log")"
  id=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "$out") ||
    fail "rollout start answered no id: $out"
  poll=$(poll_until "$t0" done,aborted,halted,reverted "$edgectl" -s "$sock" --json rollout status "$id")
  cpu=$(cpu_since "$c0" "$edged_pid")
  kill -0 "$edged_pid" 2>/dev/null || fail "edged died during a rollout"
  line=$("$edgectl" -s "$sock" --json rollout status "$id" 2>/dev/null | python3 -c '
import json, re, sys
try:
    st = json.load(sys.stdin)
except ValueError:
    st = {}
ev = sorted(st.get("events", []), key=lambda e: e["ts_ms"])  # newest first in the answer
first = ev[0]["ts_ms"] if ev else None
done = [e["ts_ms"] for e in ev if e["text"].startswith("done")]
edged_s = (done[-1] - first) / 1000.0 if first is not None and done else None
stages = st.get("stage_list", [])
parts, in_stages = [], 0.0
for k, s in enumerate(stages):
    name = s.get("name", str(k))
    pat = re.compile(r"^%s (started|passed)\b" % re.escape(name))
    t, xid = {}, 0
    for e in ev:
        m = pat.match(e["text"])
        if m:
            t.setdefault(m.group(1), e["ts_ms"])  # the first of each
            x = re.search(r"\btransfer (\d+)", e["text"])
            xid = xid or (int(x.group(1)) if x else 0)
    if "started" in t and "passed" in t:
        secs = (t["passed"] - t["started"]) / 1000.0
    else:  # an empty stage (a small fleet) starts no transfer: it takes no time
        secs = 0.0 if s.get("nodes", 0) == 0 else None
    in_stages = in_stages + secs if secs is not None and in_stages is not None else None
    parts.append("s%d_name=%s s%d_nodes=%d s%d_s=%s s%d_xid=%d" % (
        k, name.replace(" ", "_"), k, s.get("nodes", 0), k,
        "%.3f" % secs if secs is not None else "n/a", k, xid))
# the stages transfers: "<stage> started: N nodes, transfer T"
xids = sorted({int(m.group(1)) for e in ev
               for m in [re.search(r"\bstarted: .*\btransfer (\d+)", e["text"])] if m})
print("state=%s edged_s=%s nodes=%d activated=%d stages=%d %s gaps_s=%s health=%s xids=%s" % (
    st.get("state", "none"), "%.3f" % edged_s if edged_s is not None else "n/a",
    st.get("nodes", 0), sum(s.get("success", 0) for s in stages), len(stages), " ".join(parts),
    "%.3f" % (edged_s - in_stages) if edged_s is not None and in_stages is not None else "n/a",
    str(st.get("spec", {}).get("health", "none")).lower(), ",".join(map(str, xids)) or "-"))')
  [[ "$(field xids "$line")" == "-" ]] || IFS=, read -r -a xids <<<"$(field xids "$line")"
  out=$(xfer_line "${xids[@]}")
  m_line="rollout=$id ${line% xids=*} poll=$poll cpu=$cpu chunks=$(field chunks "$out")"
  m_line="$m_line unicast=$(field unicast "$out") retx=$(field retx "$out")"
  # each stage's transfer alone: created -> finished (s<k>_xs)
  for ((k = 0; k < $(field stages "$m_line"); k++)); do
    xid=$(field "s${k}_xid" "$m_line")
    if ((xid > 0)); then
      m_line="$m_line s${k}_xs=$(field edged_s "$(xfer_line "$xid")")"
    else
      m_line="$m_line s${k}_xs=0"
    fi
  done
  [[ "$(field state "$m_line")" == "done" ]] ||
    echo "bench-rollout:   rollout $id not done: $(field state "$m_line")" >&2
}

# One measurement on a fresh fleet: its line in p_lines or s_lines.
p_lines=()
s_lines=()
measure() { # plain|staged rep
  local s0 b0
  bench_next_package
  echo "bench-rollout: rep $2, $1: $ref ($pkg_bytes B package) to $nodes nodes ..." >&2
  start_sim "$dir/sim-$1-$2.log"
  s0=$(cpu_ticks "$sim_pid")
  b0=$(cpu_ticks "$broker_pid")
  case "$1" in plain) plain ;; staged) staged ;; esac
  m_line="$m_line sim_cpu=$(cpu_since "$s0" "$sim_pid") broker_cpu=$(cpu_since "$b0" "$broker_pid")"
  stop_pid "$sim_pid"
  echo "bench-rollout:   $m_line" >&2
  if [[ "$1" == plain ]]; then p_lines+=("$m_line"); else s_lines+=("$m_line"); fi
}
for ((rep = 1; rep <= reps; rep++)); do
  if ((rep % 2)); then measure plain "$rep"; measure staged "$rep"
  else measure staged "$rep"; measure plain "$rep"; fi
done

# ---- the health check's cost: one more staged rollout, with a soak and
# health looks, on a fresh fleet reporting anomalies (look_rate per node
# and second) that ran look_history_s first; each look's event says how
# many nodes it read (stage + peers) and how long that took on the pool.
look_rate=0.2
look_history_s=20
look_soak_s=12
look_cost() {
  local t0 out id
  bench_next_package
  echo "bench-rollout: health looks: $ref to $nodes nodes reporting $look_rate anomalies/s each," \
    "soak $look_soak_s s ..." >&2
  start_sim "$dir/sim-looks.log" --anomaly-rate "$look_rate"
  # the nodes' own history under the old model (bounded: twice as long)
  for _ in $(seq 1 $((look_history_s * 20))); do
    (($(status_int events_stored) >= nodes * look_history_s / 10)) && break
    sleep 0.1
  done
  t0=$(now)
  out=$("$edgectl" -s "$sock" --json rollout start "$ref" --to all --canary "$canary" \
    --waves 100% --soak "$look_soak_s" --health on 2>>"$dir/rollout.log") ||
    fail "rollout start: $(tail -n 1 "$dir/rollout.log")"
  id=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "$out")
  poll_until "$t0" done,aborted,halted,reverted "$edgectl" -s "$sock" --json rollout status "$id" \
    >/dev/null
  # per stage: its looks' node counts and read times (ms)
  look_lines=$("$edgectl" -s "$sock" --json rollout status "$id" | python3 -c '
import json, re, sys
st = json.load(sys.stdin)
looks = {}
for e in st.get("events", []):
    m = re.match(r"^(.+): health look (\d+)/(\d+) \((\d+)\+(\d+) nodes read in (\d+) ms\): (\w+)", e["text"])
    if m:
        looks.setdefault(m.group(1), []).append((int(m.group(4)), int(m.group(5)), int(m.group(6)), m.group(7)))
print("state=%s" % st.get("state"))
for name, v in looks.items():
    ms = sorted(x[2] for x in v)
    print("%s|%d|%d|%d|%d|%s" % (name, v[0][0], v[0][1], ms[len(ms) // 2], ms[-1],
                                ",".join(sorted({x[3] for x in v}))))')
  stop_pid "$sim_pid"
}
look_cost

# ---- the table: medians over the repetitions
med() { # KEY plain|staged [FORMAT] → the median of KEY over that kind's lines
  local l vals=()
  if [[ "$2" == plain ]]; then
    for l in "${p_lines[@]}"; do vals+=("$(field "$1" "$l")"); done
  else
    for l in "${s_lines[@]}"; do vals+=("$(field "$1" "$l")"); done
  fi
  median "${3:-%.2f}" "${vals[@]}"
}
all_of() { # KEY plain|staged → the values of every repetition, comma-separated
  local l out=()
  if [[ "$2" == plain ]]; then
    for l in "${p_lines[@]}"; do out+=("$(field "$1" "$l")"); done
  else
    for l in "${s_lines[@]}"; do out+=("$(field "$1" "$l")"); done
  fi
  (IFS=,; echo "${out[*]}")
}
row() { printf '%-48s %12s %12s %8s\n' "$@"; }
printf '\nedged staged-rollout benchmark: %d nodes, model %d B (package %d B), chunk %d,\n' \
  "$nodes" "$model_bytes" "$pkg_bytes" "$chunk"
printf 'median of %d repetition(s), order alternating; rollout --canary %s --waves %s --soak 0\n' \
  "$reps" "$canary" "$waves"
printf 'settings: %s\n' "$(printf '%s\n' "${conf[@]}" | grep -v '^ota.trust_dir=' | paste -s -d ' ')"
row "measure" "staged" "plain" "ratio"
row "------------------------------------------------" "------------" "------------" "--------"
s=$(med edged_s staged) p=$(med edged_s plain)
row "every node final, edged's clock s" "$s" "$p" "$(div "$s" "$p")"
s=$(med poll staged) p=$(med wall plain)
row "command -> seen done s (polls: 0.2 s / 0.5 s)" "$s" "$p" "$(div "$s" "$p")"
s=$(med cpu staged) p=$(med cpu plain)
row "edged CPU s" "$s" "$p" "$(div "$s" "$p")"
s=$(med sim_cpu staged) p=$(med sim_cpu plain)
row "simulator CPU s (all nodes, one process)" "$s" "$p" "$(div "$s" "$p")"
s=$(med broker_cpu staged) p=$(med broker_cpu plain)
row "broker CPU s" "$s" "$p" "$(div "$s" "$p")"
s=$(med chunks staged %.0f) p=$(med chunks plain %.0f)
row "chunks published (campaign + unicast)" "$s" "$p" "$(div "$s" "$p")"
row "  of them unicast (repairs, a 1-node stage)" "$(med unicast staged %.0f)" \
  "$(med unicast plain %.0f)" "-"
row "activated / nodes (each repetition)" \
  "$(all_of activated staged)/$(field nodes "${s_lines[0]}")" \
  "$(all_of activated plain)/$(field nodes "${p_lines[0]}")" "-"
n_stages=$(field stages "${s_lines[0]}")
for ((k = 0; k < ${n_stages:-0}; k++)); do
  n=$(field "s${k}_nodes" "${s_lines[0]}")
  row "  $(field "s${k}_name" "${s_lines[0]}" | tr _ ' '), $n node$( ((n == 1)) || echo s): started -> passed s" \
    "$(med "s${k}_s" staged)" "-" "-"
  row "    of it its transfer, created -> finished s" "$(med "s${k}_xs" staged)" "-" "-"
done
row "  between stages (judge, next stage's start) s" "$(med gaps_s staged)" "-" "-"
printf '\nhealth looks (one rollout --waves 100%% --soak %d s, %s anomalies/s a node, %s):\n' \
  "$look_soak_s" "$look_rate" "$(head -n 1 <<<"$look_lines")"
printf '%-12s %8s %8s %14s %12s  %s\n' stage nodes peers "median ms" "max ms" verdicts
tail -n +2 <<<"$look_lines" | while IFS='|' read -r name n p med mx verdicts; do
  printf '%-12s %8s %8s %14s %12s  %s\n' "$name" "$n" "$p" "$med" "$mx" "$verdicts"
done
printf '\nNotes:\n'
for l in "${p_lines[@]}"; do printf -- '- plain:  %s\n' "$l"; done
for l in "${s_lines[@]}"; do printf -- '- staged: %s\n' "$l"; done
printf -- '- edged'"'"'s clock: plain, the transfer'"'"'s created -> finished; staged, the rollout'"'"'s\n'
printf -- '  first event (started) -> its "done" event. Both include the offers, the campaign\n'
printf -- '  gather, each node'"'"'s verify and self-test in the simulator (one process for all\n'
printf -- '  nodes) and the results; staged does that once per stage, one transfer each\n'
printf -- '- seen done: staged, rollout start -> rollout status (polled every 0.2 s) said\n'
printf -- '  done; plain, the wall time of ota send --wait (it polls every 0.5 s)\n'
printf -- '- stage: its "started" -> "passed" events; of it its transfer: until its last node\n'
printf -- '  was final (the rest: the stage'"'"'s judge, e.g. waiting to see its nodes online with\n'
printf -- '  the new model); between stages: edged'"'"'s staged time minus the stages (the judge\n'
printf -- '  and the next stage'"'"'s start)\n'
printf -- '- health check of the rollout: %s (soak 0: no soak for it to look in)\n' \
  "$(field health "${s_lines[0]}" | sed 's/^none$/not in this edged/')"
printf -- '- every measurement on a fresh simulator (same ids, no model): the model bytes\n'
printf -- '  are the same in every version, and a node running them is not offered them again\n'
exit 0
