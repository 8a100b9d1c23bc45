#!/usr/bin/env bash
# Offload benchmark (issue 11): what offloading an inference through edged
# costs beyond the engine and the MQTT round trip, and how close its
# saturated throughput comes to cores / engine time.
#
# In one run, against one private mosquitto on 127.0.0.1 (the project's
# configuration from `edgectl broker-config --message-size-limit 65536`,
# anonymous as the other fleet benchmarks), for each model kws_ref_model
# and vww_96_int8 of tests/data/models:
#   engine:  `edgectl model bench FILE --json`: the optimised kernels'
#            median invoke time (lib/infer alone, one thread).
#   echo:    tests/bench/offload-echo in edged's place while edged is
#            stopped (the only subscriber, so no request reaches two
#            gateways): it registers the nodes and answers every request at
#            once (status ok, the model's output size, Correlation Data
#            echoed). N simulated nodes (default 100; edge-sim
#            --offload-model FILE --offload-rate R --tcp-nodelay, R default
#            2 req/s each) for --measure-s: p50/p99 request -> response
#            from the simulator: the MQTT round trip alone.
#   offload: edged (a trust dir holding a key from `edgectl keys
#            generate`; the model packed with `edgectl model pack`, added
#            with `models add`, `offload enable`d and `offload list`
#            offloadable), a fresh fleet at the same rate: p50/p99 end to end
#            (simulator) and edged's queue and run p50/p99 (`offload status`).
#            Overhead at p50 = e2e - (engine + echo), as a ratio of
#            (engine + echo); goal <= 20 %.
#   saturation: fresh fleets at rising rates (--steps, req/s per node) for
#            --step-s each, until a step gets busy or deadline_exceeded
#            answers or answers fewer than 90 % of what it sent (bounded);
#            the best ok/s (the simulator's ok answers over the step),
#            compared to nproc / engine median; goal >= 90 %.
# Prints one table (measure, ours, baseline, ratio, goal, met?) and notes.
# Every wait is bounded; everything started is stopped by PID; the temp dir
# is removed at exit.
#
#   scripts/bench-offload.sh [--nodes N] [--quick] [--rate R] [--measure-s S]
#        [--steps R1,R2,...] [--step-s S] [--deadline-ms D]
#        [--edged-set SECTION.KEY=VALUE]... [--build-dir DIR] [--no-build]
#        [--keep-dir]
#
# --quick: 20 nodes, 4 s measurements, 3 s steps, for a smoke run. --rate:
# the moderate rate per node (2). --measure-s: each latency measurement
# (10). --steps: saturation rates per node (2,5,10,20,50,100,200). --step-s:
# each step (5). --deadline-ms: the requests' deadline (1000, the simulator's).
# --keep-dir: leave the temp dir (logs, packages, edged's state) behind.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=100
nodes_set=0
quick=0
rate=2
measure_s=
steps=2,5,10,20,50,100,200
step_s=
deadline_ms=1000
edged_set=()
build="$root/build"
do_build=1
keep_dir=0

while (($#)); do
  case "$1" in
    --nodes) nodes=$2; nodes_set=1; shift 2 ;;
    --quick) quick=1; shift ;;
    --rate) rate=$2; shift 2 ;;
    --measure-s) measure_s=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --step-s) step_s=$2; shift 2 ;;
    --deadline-ms) deadline_ms=$2; shift 2 ;;
    --edged-set) edged_set+=("$2"); shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --keep-dir) keep_dir=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,45p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-offload: unknown option $1" >&2; exit 2 ;;
  esac
done
((quick && !nodes_set)) && nodes=20
[[ -n "$measure_s" ]] || measure_s=$((quick ? 4 : 10))
[[ -n "$step_s" ]] || step_s=$((quick ? 3 : 5))
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 10000)) ||
  { echo "bench-offload: --nodes must be 1..10000" >&2; exit 2; }
[[ "$rate" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v r="$rate" 'BEGIN { exit !(r > 0 && r <= 1000) }' ||
  { echo "bench-offload: --rate must be a number in (0, 1000]" >&2; exit 2; }
[[ "$measure_s" =~ ^[0-9]+$ ]] && ((measure_s >= 1 && measure_s <= 3600)) ||
  { echo "bench-offload: --measure-s must be 1..3600" >&2; exit 2; }
[[ "$step_s" =~ ^[0-9]+$ ]] && ((step_s >= 1 && step_s <= 600)) ||
  { echo "bench-offload: --step-s must be 1..600" >&2; exit 2; }
[[ "$steps" =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?){0,15}$ ]] ||
  { echo "bench-offload: --steps must be 1..16 rates, comma-separated" >&2; exit 2; }
[[ "$deadline_ms" =~ ^[0-9]+$ ]] && ((deadline_ms >= 1 && deadline_ms <= 600000)) ||
  { echo "bench-offload: --deadline-ms must be 1..600000" >&2; exit 2; }

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim \
    tests/bench/offload-echo >/dev/null
fi
bench="bench-offload"
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
echo_bin="$build/tests/bench/offload-echo"
bench_binaries "$echo_bin"
command -v python3 >/dev/null || { echo "bench-offload: python3 is needed (JSON)" >&2; exit 1; }
"$edgectl" offload --help >/dev/null 2>&1 || { echo "bench-offload: edgectl has no offload" >&2; exit 1; }
sim_help=$("$sim" --help 2>&1 || true) # not a pipe: grep -q would cut it short (pipefail)
grep -q -- '--offload-model' <<<"$sim_help" ||
  { echo "bench-offload: edge-sim has no --offload-model" >&2; exit 1; }
model_names=(kws vww)
model_files=("$root/tests/data/models/kws_ref_model.tflite" "$root/tests/data/models/vww_96_int8.tflite")
for f in "${model_files[@]}"; do
  [[ -f "$f" ]] || { echo "bench-offload: missing $f" >&2; exit 1; }
done
bench_fd_limit
bench_dir
if ((keep_dir)); then
  trap 'stop_all; echo "bench-offload: logs kept in $dir" >&2' EXIT
fi

hz=$(getconf CLK_TCK)
cores=$(nproc)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2" | tail -n 1; } # KEY LINE
cpu_since() { awk -v a="$1" -v b="$(cpu_ticks "$2")" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
calc() { awk "BEGIN { $1 }" </dev/null; } # calc 'printf ..., expr'

# ---- 1. the engine alone: median invoke (optimised kernels), output size
declare -A engine_ms out_bytes
for i in "${!model_names[@]}"; do
  m=${model_names[i]}
  f=${model_files[i]}
  engine_ms[$m]=$("$edgectl" model bench "$f" --iters 200 --json 2>>"$dir/engine.log" | python3 -c '
import json, sys
print("%.4f" % (json.load(sys.stdin)["optimised"]["median_us"] / 1000.0))') ||
    fail "edgectl model bench $f"
  out_bytes[$m]=$("$edgectl" model inspect "$f" --json 2>>"$dir/engine.log" | python3 -c '
import json, sys
j = json.load(sys.stdin)
t = {x["index"]: x for x in j["tensors"]}
print(t[j["outputs"][0]]["bytes"])') || fail "edgectl model inspect $f"
  echo "bench-offload: engine $m: median ${engine_ms[$m]} ms, output ${out_bytes[$m]} B" >&2
done

# ---- the broker: the payload limit of edged's offload.max_payload_bytes
bench_start_broker --message-size-limit 65536

# A fleet of N fresh nodes sending R req/s each to MODEL for S seconds once
# all are registered (bounded); sets s_line: the simulator's summary line
# at the end, ok_win and ok_s (ok answers over the window, from the
# counters at registration and at the simulator's end, and a second),
# sim_cpu, broker_cpu, gw_cpu (edged's or the echo's, PID GW: over the
# same window), seconds.
fleet() { # log model-file rate seconds id-prefix gw-pid
  local log=$1 f=$2 r=$3 secs=$4 gw=$6 t0 t1 ok0 ok1 s0 b0 g0
  "$sim" --port "$port" --count "$nodes" --id-prefix "$5" --connect-rate 2000 \
    --max-pending 200 --heartbeat-s 60 --keepalive-s 60 --duration-s $((secs + 180)) \
    --tcp-nodelay --offload-model "$f" --offload-rate "$r" \
    --offload-deadline-ms "$deadline_ms" </dev/null >"$log" 2>&1 &
  sim_pid=$!
  pids+=("$sim_pid")
  for _ in $(seq 1 1200); do # 120 s
    grep -q '^sim: registered all' "$log" 2>/dev/null && break
    kill -0 "$sim_pid" 2>/dev/null || fail "edge-sim exited"
    sleep 0.1
  done
  grep -q '^sim: registered all' "$log" || fail "not all $nodes nodes registered within 120 s"
  # the counters at the start of the window: SIGUSR1 prints a stats line
  kill -USR1 "$sim_pid"
  for _ in $(seq 1 100); do grep -q '^sim: stats ' "$log" && break; sleep 0.05; done
  t0=$(now)
  ok0=$(field offload_ok "$(grep '^sim: stats ' "$log" | head -n 1)")
  s0=$(cpu_ticks "$sim_pid") b0=$(cpu_ticks "$broker_pid") g0=$(cpu_ticks "$gw")
  sleep "$secs"
  sim_cpu=$(cpu_since "$s0" "$sim_pid")
  stop_pid "$sim_pid"
  t1=$(now)
  # over the same window as the answers counted (to the simulator's end)
  broker_cpu=$(cpu_since "$b0" "$broker_pid") gw_cpu=$(cpu_since "$g0" "$gw")
  s_line=$(grep '^sim: summary ' "$log" | tail -n 1)
  [[ -n "$s_line" ]] || fail "edge-sim printed no summary ($log)"
  ok1=$(field offload_ok "$s_line")
  seconds=$(elapsed "$t0" "$t1")
  ok_s=$(calc "printf \"%.0f\", (${ok1:-0} - ${ok0:-0}) / $seconds")
  ok_win=$((${ok1:-0} - ${ok0:-0}))
}

# The summary's answers other than ok, as "status=N ..." (or "none").
not_ok() {
  local k v out=()
  for k in unknown_model not_offloadable bad_input busy deadline_exceeded internal malformed \
    unparsed stray send_errors; do
    v=$(field "offload_$k" "$1")
    [[ "${v:-0}" == 0 ]] || out+=("$k=$v")
  done
  ((${#out[@]})) && echo "${out[*]}" || echo none
}

# ---- 2. the echo baseline: edged is not running yet
declare -A echo_p50 echo_p99 echo_line
for i in "${!model_names[@]}"; do
  m=${model_names[i]}
  "$echo_bin" --port "$port" --output-bytes "${out_bytes[$m]}" --tcp-nodelay </dev/null \
    >"$dir/echo-$m.log" 2>&1 &
  echo_pid=$!
  pids+=("$echo_pid")
  for _ in $(seq 1 100); do
    grep -q '^offload-echo: ready' "$dir/echo-$m.log" && break
    kill -0 "$echo_pid" 2>/dev/null || fail "offload-echo exited"
    sleep 0.05
  done
  grep -q '^offload-echo: ready' "$dir/echo-$m.log" || fail "offload-echo not ready in 5 s"
  echo "bench-offload: echo $m: $nodes nodes x $rate req/s for $measure_s s ..." >&2
  fleet "$dir/sim-echo-$m.log" "${model_files[i]}" "$rate" "$measure_s" "e$m" "$echo_pid"
  stop_pid "$echo_pid"
  echo_p50[$m]=$(field offload_p50_ms "$s_line")
  echo_p99[$m]=$(field offload_p99_ms "$s_line")
  echo_line[$m]="sent=$(field offload_sent "$s_line") ok=$(field offload_ok "$s_line")"
  echo_line[$m]+=" other=$(not_ok "$s_line" | tr ' ' ',') ok_s=$ok_s sim_cpu=$sim_cpu"
  echo_line[$m]+=" broker_cpu=$broker_cpu echo_cpu=$gw_cpu"
  echo_line[$m]+=" $(grep '^offload-echo: stats' "$dir/echo-$m.log" | tail -n 1 | sed 's/^offload-echo: stats //')"
  echo "bench-offload:   p50 ${echo_p50[$m]} ms p99 ${echo_p99[$m]} ms; ${echo_line[$m]}" >&2
done

# ---- edged, the keys, the models packed, added and enabled
keys="$dir/keys"
trust="$dir/trust"
mkdir -p "$keys" "$trust"
"$edgectl" keys generate --type ed25519 --out "$keys/bench" >/dev/null || fail "edgectl keys generate"
cp "$keys/bench.pub" "$trust/"
conf=("ota.trust_dir=$trust")
for kv in "${edged_set[@]}"; do
  for i in "${!conf[@]}"; do [[ "${conf[i]%%=*}" == "${kv%%=*}" ]] && unset 'conf[i]'; done
  conf+=("$kv")
done
bench_edged_conf "$dir/edged.conf" "${conf[@]}"
bench_start_edged "$dir/edged.conf"
for i in "${!model_names[@]}"; do
  m=${model_names[i]}
  "$edgectl" model pack "${model_files[i]}" --name "$m" --version 1.0.1 --counter 1 \
    --key "$keys/bench" --out "$dir/$m.pkg" >>"$dir/pack.log" 2>&1 || fail "edgectl model pack $m"
  "$edgectl" -s "$sock" models add "$dir/$m.pkg" >>"$dir/models.log" 2>&1 ||
    fail "edgectl models add $m"
  "$edgectl" -s "$sock" offload enable "$m" >>"$dir/models.log" 2>&1 ||
    fail "edgectl offload enable $m"
  # the pool loads and checks it: offloadable true/false, null until then
  off=null
  for _ in $(seq 1 200); do # 20 s
    off=$("$edgectl" -s "$sock" --json offload list 2>/dev/null | python3 -c '
import json, sys
try:
    ms = json.load(sys.stdin).get("models", [])
except ValueError:
    ms = []
v = [m.get("offloadable") for m in ms if m.get("name") == sys.argv[1]]
print("null" if not v or v[0] is None else str(v[0]).lower())' "$m")
    [[ "$off" == null ]] || break
    sleep 0.1
  done
  [[ "$off" == true ]] || fail "$m not offloadable (offload list: $off)"
done
workers=$("$edgectl" -s "$sock" --json offload status | python3 -c '
import json, sys; print(json.load(sys.stdin).get("workers", "?"))')

# edged's view of MODEL: queue and run p50/p99 (ms), requests, outcomes
edged_model() { # name
  "$edgectl" -s "$sock" --json offload status | python3 -c '
import json, sys
st = json.load(sys.stdin)
m = [x for x in st.get("models", []) if x.get("name") == sys.argv[1]]
if not m:
    print("requests=0"); sys.exit(0)
m = m[0]
q, r = m.get("queue_us", {}), m.get("run_us", {})
oc = ",".join("%s:%d" % (k, v) for k, v in sorted(m.get("outcomes", {}).items()) if v) or "-"
print("requests=%d outcomes=%s queue_p50=%.3f queue_p99=%.3f run_p50=%.3f run_p99=%.3f" % (
    m.get("requests", 0), oc, q.get("p50", 0) / 1000.0, q.get("p99", 0) / 1000.0,
    r.get("p50", 0) / 1000.0, r.get("p99", 0) / 1000.0))' "$1"
}

# ---- 3. offload through edged at the same rate
declare -A off_p50 off_p99 off_line off_edged
for i in "${!model_names[@]}"; do
  m=${model_names[i]}
  echo "bench-offload: offload $m: $nodes nodes x $rate req/s for $measure_s s ..." >&2
  fleet "$dir/sim-off-$m.log" "${model_files[i]}" "$rate" "$measure_s" "o$m" "$edged_pid"
  kill -0 "$edged_pid" 2>/dev/null || fail "edged died during offload"
  off_p50[$m]=$(field offload_p50_ms "$s_line")
  off_p99[$m]=$(field offload_p99_ms "$s_line")
  off_line[$m]="sent=$(field offload_sent "$s_line") ok=$(field offload_ok "$s_line")"
  off_line[$m]+=" other=$(not_ok "$s_line" | tr ' ' ',') ok_s=$ok_s sim_cpu=$sim_cpu"
  off_line[$m]+=" broker_cpu=$broker_cpu edged_cpu=$gw_cpu"
  # taken before the saturation steps add to the same model's figures
  off_edged[$m]=$(edged_model "$m")
  echo "bench-offload:   p50 ${off_p50[$m]} ms p99 ${off_p99[$m]} ms; ${off_line[$m]}" >&2
  echo "bench-offload:   edged: ${off_edged[$m]}" >&2
done

# ---- 4. saturation: rising rates until busy, deadline_exceeded or < 90 %
# of the sent requests answered ok (bounded by --steps)
declare -A sat_best sat_at sat_lines sat_hit sat_cpu_ms
IFS=, read -r -a rates <<<"$steps"
for i in "${!model_names[@]}"; do
  m=${model_names[i]}
  sat_best[$m]=0
  sat_at[$m]=-
  sat_lines[$m]=
  sat_hit[$m]=0
  sat_cpu_ms[$m]=n/a
  for r in "${rates[@]}"; do
    echo "bench-offload: saturation $m: $nodes nodes x $r req/s for $step_s s ..." >&2
    fleet "$dir/sim-sat-$m-$r.log" "${model_files[i]}" "$r" "$step_s" "s$m" "$edged_pid"
    kill -0 "$edged_pid" 2>/dev/null || fail "edged died during saturation"
    busy=$(field offload_busy "$s_line") late=$(field offload_deadline_exceeded "$s_line")
    sent=$(field offload_sent "$s_line") ok=$(field offload_ok "$s_line")
    line="rate=$r ok_s=$ok_s sent=$sent ok=$ok busy=$busy deadline_exceeded=$late"
    line+=" p50_ms=$(field offload_p50_ms "$s_line") p99_ms=$(field offload_p99_ms "$s_line")"
    line+=" sim_cpu=$sim_cpu broker_cpu=$broker_cpu edged_cpu=$gw_cpu s=$step_s"
    echo "bench-offload:   $line" >&2
    sat_lines[$m]+="$line"$'\n'
    if ((ok_s > sat_best[$m])); then
      sat_best[$m]=$ok_s
      sat_at[$m]=$r
      # edged's CPU per ok answer over the step (ms): what a core costs it
      ((ok_win > 0)) && sat_cpu_ms[$m]=$(calc "printf \"%.4f\", $gw_cpu * 1000 / $ok_win")
    fi
    if ((${busy:-0} > 0 || ${late:-0} > 0)) ||
      calc "exit !(${ok:-0} < 0.9 * ${sent:-0})"; then
      sat_hit[$m]=1
      break
    fi
  done
done

# ---- the table
row() { printf '%-34s %10s %12s %8s %8s %5s\n' "$@"; }
met() { calc "exit !($1)" && echo yes || echo no; }
printf '\nedged offload benchmark: %d nodes, %s req/s each for %d s (latency), steps %s req/s\n' \
  "$nodes" "$rate" "$measure_s" "$steps"
printf 'each for %d s (saturation); deadline %d ms; %d cores, %s offload workers\n' \
  "$step_s" "$deadline_ms" "$cores" "$workers"
row "measure" "ours" "baseline" "ratio" "goal" "met?"
row "----------------------------------" "----------" "------------" "--------" "--------" "-----"
for m in "${model_names[@]}"; do
  e=${engine_ms[$m]}
  base=$(calc "printf \"%.3f\", $e + ${echo_p50[$m]}")
  over=$(calc "printf \"%.3f\", (${off_p50[$m]} - $base) / $base")
  row "$m engine invoke median ms" "$e" "-" "-" "-" "-"
  row "$m echo round trip p50 / p99 ms" "${echo_p50[$m]}" "${echo_p99[$m]}" "-" "-" "-"
  row "$m e2e p50 ms (base: engine+echo)" "${off_p50[$m]}" "$base" \
    "$(calc "printf \"%.2f\", ${off_p50[$m]} / $base")" "-" "-"
  row "$m overhead at p50 / (engine+echo)" \
    "$(calc "printf \"%.3f\", ${off_p50[$m]} - $base")" "$base" "$over" "<=0.20" \
    "$(met "$over <= 0.20")"
  row "$m e2e p99 ms (base: echo p99)" "${off_p99[$m]}" "${echo_p99[$m]}" \
    "$(calc "printf \"%.2f\", ${off_p99[$m]} / ${echo_p99[$m]}")" "-" "-"
  row "$m edged queue p50 / p99 ms" "$(field queue_p50 "${off_edged[$m]}")" \
    "$(field queue_p99 "${off_edged[$m]}")" "-" "-" "-"
  row "$m edged run p50 / p99 ms" "$(field run_p50 "${off_edged[$m]}")" \
    "$(field run_p99 "${off_edged[$m]}")" "-" "-" "-"
  cap=$(calc "printf \"%.0f\", $cores / ($e / 1000.0)")
  sr=$(calc "printf \"%.3f\", ${sat_best[$m]} / $cap")
  row "$m saturated ok/s (base: cores/eng)" "${sat_best[$m]}" "$cap" "$sr" ">=0.90" \
    "$(met "$sr >= 0.90")$( ((sat_hit[$m])) || echo '*')"
  # the extrapolation: cores / edged's CPU per answer, of cores / engine
  c=${sat_cpu_ms[$m]}
  if [[ "$c" != n/a ]]; then
    row "$m edged CPU ms per answer (base: eng)" "$c" "$e" \
      "$(calc "printf \"%.3f\", $e / $c")" "-" "-"
  fi
done
printf '\nNotes:\n'
for m in "${model_names[@]}"; do
  printf -- '- %s echo:    %s\n' "$m" "${echo_line[$m]}"
  printf -- '- %s offload: %s\n' "$m" "${off_line[$m]}"
  printf -- '- %s edged:   %s\n' "$m" "${off_edged[$m]}"
  while IFS= read -r l; do
    [[ -n "$l" ]] && printf -- '- %s step:    %s\n' "$m" "$l"
  done <<<"${sat_lines[$m]}"
  printf -- '- %s best ok/s at %s req/s a node' "$m" "${sat_at[$m]}"
  if ((sat_hit[$m])); then printf ' (a step got busy/late answers or < 90 %% ok)\n'
  else printf ' (*: no step saturated edged: every request answered ok, the offered\n  rate was the limit, a floor of its capacity)\n'; fi
done
printf -- '- engine: edgectl model bench --iters 200, optimised kernels median, one thread\n'
printf -- '- echo: offload-echo in edged'"'"'s place (edged not yet started), same broker,\n'
printf -- '  answers at once (status ok, zero output of the model'"'"'s size); latency is the\n'
printf -- '  simulator'"'"'s request -> response (a histogram: 8 buckets an octave, upper bound)\n'
printf -- '- saturation: the simulator (one process, one thread), the broker and edged share\n'
printf -- '  %d cores; the steps stop at the first with busy/deadline_exceeded answers or\n' "$cores"
printf -- '  fewer than 90 %% of sent answered ok; the CPU columns say which was the limit\n'
printf -- '- edged CPU per answer: its CPU over the best step / its ok answers there (all\n'
printf -- '  threads: MQTT, queue, workers); ratio engine / that = the share of cores /\n'
printf -- '  engine edged would reach with every core its own (an extrapolation)\n'
exit 0
