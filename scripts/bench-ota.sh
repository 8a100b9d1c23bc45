#!/usr/bin/env bash
# OTA benchmark: how fast edged delivers a signed model to a fleet, next to
# what the broker alone can do, and what it costs the gateway.
#
# In one run, against one private mosquitto on 127.0.0.1 (the project's
# configuration from `edgectl broker-config`, anonymous as the other fleet
# benchmarks, the payload limit raised to the largest OTA frame), edged
# with a trust dir holding a key from `edgectl keys generate`, the model
# tests/data/models/ic_resnet8_int8.tflite (~98 KB) packed with
# `edgectl model pack` and added with `edgectl models add`:
#   1. Campaign: N simulated nodes (default 1,000; edge-sim --ota-trust
#      --tcp-nodelay) registered, then `edgectl ota send REF --to all
#      --wait`: time until every node activated (edged's created_ms ->
#      finished_ms of the transfer, and the command's wall time) and until
#      every node held the model (ota status polled every 0.25 s).
#   2. The broker's fan-out limit (tests/bench/ota-fanout): N bare
#      subscribers, the same model bytes as QoS 0 messages of the same chunk
#      size (+ the 24-byte frame header), at full speed; the loss if any,
#      then paced. Goal: campaign <= 1.5x this time.
#   3. Stop-and-wait unicast: the next version (counter + 1) to N fresh
#      nodes with `--no-campaign --window 1`. Goal: the campaign >= 10x
#      faster.
#   4. One node: throughput for window x chunk (1,4,16,64 x 256,1024,4096),
#      a fresh node each (model bytes / the node's started -> finished).
#   5. edged's CPU (utime+stime, /proc/PID/stat) per chunk it published in
#      1 and 3 (campaign + unicast chunks of `ota status --json`), next to a
#      bare publisher's CPU per message (ota-fanout --cpu-per-msg).
# Prints one table: measure, ours, peer/limit, ratio, goal, met?. Every wait
# is bounded; everything started is stopped by PID; the temp dir is removed
# at exit. When edgectl has no `models`/`ota` commands or edge-sim no
# --ota-trust, only the broker baselines (2 and the bare CPU) run.
#
#   scripts/bench-ota.sh [--nodes N] [--quick] [--chunk C] [--timeout-s S]
#        [--edged-set SECTION.KEY=VALUE]... [--build-dir DIR] [--no-build]
#        [--keep-dir]
#
# --quick: 100 nodes and a 2 x 2 grid, for a smoke run. --chunk: the chunk
# size of 1-3 (1024). --timeout-s: bound of each transfer (600).
# --keep-dir: leave the temp dir (logs, packages, edged's state) behind.
# edged runs with ota.rate_bytes_per_s = 0 (no byte-rate limit: the product's
# limit is measured, not its pacer); --edged-set overrides any setting.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=1000
nodes_set=0
quick=0
chunk=1024
timeout_s=600
edged_set=()
build="$root/build"
do_build=1
keep_dir=0

while (($#)); do
  case "$1" in
    --nodes) nodes=$2; nodes_set=1; shift 2 ;;
    --quick) quick=1; shift ;;
    --chunk) chunk=$2; shift 2 ;;
    --timeout-s) timeout_s=$2; shift 2 ;;
    --edged-set) edged_set+=("$2"); shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --keep-dir) keep_dir=1; shift ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,41p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-ota: unknown option $1" >&2; exit 2 ;;
  esac
done
((quick && !nodes_set)) && nodes=100
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 2 && nodes <= 10000)) ||
  { echo "bench-ota: --nodes must be 2..10000" >&2; exit 2; }
[[ "$chunk" =~ ^[0-9]+$ ]] && ((chunk >= 64 && chunk <= 16384)) ||
  { echo "bench-ota: --chunk must be 64..16384" >&2; exit 2; }
[[ "$timeout_s" =~ ^[0-9]+$ ]] && ((timeout_s >= 10 && timeout_s <= 7200)) ||
  { echo "bench-ota: --timeout-s must be 10..7200" >&2; exit 2; }
if ((quick)); then
  windows=(1 16)
  chunks=(1024 4096)
else
  windows=(1 4 16 64)
  chunks=(256 1024 4096)
fi

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim \
    tests/bench/ota-fanout >/dev/null
fi
bench="bench-ota"
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
fanout="$build/tests/bench/ota-fanout"
model="$root/tests/data/models/ic_resnet8_int8.tflite"
bench_binaries "$fanout"
command -v python3 >/dev/null || { echo "bench-ota: python3 is needed (JSON)" >&2; exit 1; }
[[ -f "$model" ]] || { echo "bench-ota: missing $model" >&2; exit 1; }
bench_fd_limit
bench_dir
if ((keep_dir)); then
  trap 'stop_all; echo "bench-ota: logs kept in $dir" >&2' EXIT
fi

model_bytes=$(stat -c %s "$model")
hz=$(getconf CLK_TCK)
frame_hdr=24 # EDGE_OTA_FRAME_HDR: what a chunk frame adds to the model bytes
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2" | tail -n 1; } # KEY LINE
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (a != "" && b + 0 > 0) printf f, a / b; else print "n/a" }'; }

# What exists yet: the daemon's OTA commands and the simulator's receiver.
have_ota=1
missing=()
"$edgectl" models --help >/dev/null 2>&1 || { have_ota=0; missing+=("edgectl models"); }
"$edgectl" ota --help >/dev/null 2>&1 || { have_ota=0; missing+=("edgectl ota"); }
sim_help=$("$sim" --help 2>&1 || true) # not a pipe: grep -q would cut it short (pipefail)
grep -q -- '--ota-trust' <<<"$sim_help" || { have_ota=0; missing+=("edge-sim --ota-trust"); }

# ---- broker: the project's configuration, sized for this fleet; the
# payload limit fits the largest chunk frame (the node protocol's 4096
# default does not fit a 4096-byte chunk plus its header).
bench_start_broker --message-size-limit $((16384 + frame_hdr))

# ---- the broker alone: fan-out of the model's bytes, and a bare publisher's CPU
run_fanout() { # subscribers chunk → the fan-out lines of ota-fanout
  "$fanout" --port "$port" --subscribers "$1" --bytes "$model_bytes" --chunk "$2" \
    --overhead "$frame_hdr" --connect-rate 2000 --max-pending 200 --timeout-s "$timeout_s" \
    2>>"$dir/ota-fanout.log" || fail "ota-fanout failed"
}
echo "bench-ota: broker fan-out: $model_bytes bytes in chunks of $chunk to $nodes subscribers ..." >&2
fan_out=$(run_fanout "$nodes" "$chunk")
fan_full=$(grep " run=full " <<<"$fan_out" | tail -n 1) || fail "ota-fanout printed no result"
fan_paced=$(grep ' run=paced ' <<<"$fan_out" | tail -n 1 || true)
fan_s=$(field seconds "$fan_full")
echo "bench-ota: bare publisher CPU per message, chunk $chunk ..." >&2
cpu_out=$("$fanout" --port "$port" --cpu-per-msg --messages 50000 --chunk "$chunk" \
  --overhead "$frame_hdr" --timeout-s "$timeout_s" 2>>"$dir/ota-fanout.log") ||
  fail "ota-fanout --cpu-per-msg failed"
bare_us=$(field cpu_us_per_msg "$cpu_out")

if ((!have_ota)); then
  row() { printf '%-46s %16s %16s %8s %8s %5s\n' "$@"; }
  printf '\nedged OTA benchmark: broker baselines only (%s not built yet)\n' "${missing[*]}"
  row "measure" "ours" "peer/limit" "ratio" "goal" "met?"
  row "fan-out $nodes subs, $model_bytes B / $chunk: s" "-" "$fan_s" "-" "-" "-"
  row "  payload bytes delivered/s (all subs)" "-" "$(field bytes_per_s "$fan_full")" "-" "-" "-"
  row "  lost messages (QoS 0)" "-" "$(field lost_msgs "$fan_full")" "-" "-" "-"
  [[ -n "$fan_paced" ]] && row "  paced at $(field rate_limit "$fan_paced") B/s: s, lost" "-" \
    "$(field seconds "$fan_paced"), $(field lost_msgs "$fan_paced")" "-" "-" "-"
  row "bare publisher CPU us per message ($chunk B)" "-" "$bare_us" "-" "-" "-"
  exit 0
fi

# ---- keys, trust dir, packages
keys="$dir/keys"
trust="$dir/trust"
mkdir -p "$keys" "$trust"
"$edgectl" keys generate --type ed25519 --out "$keys/bench" >/dev/null || fail "edgectl keys generate"
cp "$keys/bench.pub" "$trust/"
name=ic-bench
counter=0
# A key may appear once: --edged-set replaces these defaults.
conf=("ota.trust_dir=$trust" ota.rate_bytes_per_s=0)
for kv in "${edged_set[@]}"; do
  for i in "${!conf[@]}"; do [[ "${conf[i]%%=*}" == "${kv%%=*}" ]] && unset 'conf[i]'; done
  conf+=("$kv")
done
bench_edged_conf "$dir/edged.conf" "${conf[@]}"
bench_start_edged "$dir/edged.conf"

# The simulator is stopped by PID once edged has every result:
# --ota-exit-after stops it while the last results may still be unsent.
start_sim() { # log count id_prefix
  bench_start_ota_sim "$1" "$2" "$3" $((timeout_s * 2 + 300))
}

# One line of key=value about the newest transfer of version VERSION:
# id, state, secs (created -> finished), deliver_s (first node started ->
# last finished), nodes, activated, other (nodes in other states),
# chunk_size, n_chunks, chunks (campaign + unicast published), campaign,
# unicast, retransmits, offers, rate_bps (first node), node_s (first node
# started -> finished).
xfer_line() { # version
  "$edgectl" -s "$sock" --json ota status 2>/dev/null | python3 -c '
import json, sys
want = sys.argv[1]
try:
    ts = [t for t in json.load(sys.stdin).get("transfers", [])
          if t.get("model", {}).get("version") == want]
except ValueError:
    ts = []
if not ts:
    print("id=0 state=none")
    sys.exit(0)
t = max(ts, key=lambda t: t.get("transfer", 0))
st, nodes, counts = t.get("stats", {}), t.get("nodes", []), t.get("counts", {})
act = counts.get("activated", 0)
other = ",".join("%s:%d" % (k, v) for k, v in sorted(counts.items()) if v and k != "activated")
started = [n["started_ms"] for n in nodes if n.get("started_ms")]
finished = [n["finished_ms"] for n in nodes if n.get("finished_ms")]
fin = t.get("finished_ms") or 0
n0 = nodes[0] if nodes else {}
node_s = ((n0.get("finished_ms") or 0) - (n0.get("started_ms") or 0)) / 1000.0
print("id=%d state=%s secs=%s deliver_s=%s nodes=%d activated=%d other=%s chunk_size=%d "
      "n_chunks=%d chunks=%d campaign=%d unicast=%d retransmits=%d offers=%d rate_bps=%s "
      "node_s=%s" % (
    t["transfer"], t.get("state", "?"),
    "%.3f" % ((fin - t["created_ms"]) / 1000.0) if fin else "n/a",
    "%.3f" % ((max(finished) - min(started)) / 1000.0) if started and finished else "n/a",
    len(nodes), act, other or "-", t.get("chunk_size", 0), t.get("n_chunks", 0),
    st.get("campaign_chunks", 0) + st.get("unicast_chunks", 0), st.get("campaign_chunks", 0),
    st.get("unicast_chunks", 0), st.get("retransmits", 0), st.get("offers", 0),
    n0.get("rate_bps", "n/a"), "%.3f" % node_s if node_s > 0 else "n/a"))
' "$1"
}

# Every 0.25 s (bounded by --timeout-s): once every node of the newest
# transfer of VERSION holds the whole model (verifying or final), print
# the seconds since the start; "n/a" if the transfer ends unseen.
watch_delivered() { # version
  python3 - "$edgectl" "$sock" "$1" "$timeout_s" <<'PY'
import json, subprocess, sys, time
edgectl, sock, want, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
t0 = time.monotonic()
while time.monotonic() - t0 < limit:
    try:
        out = subprocess.run([edgectl, "-s", sock, "--json", "ota", "status"],
                             capture_output=True, timeout=10).stdout
        ts = [t for t in json.loads(out).get("transfers", [])
              if t.get("model", {}).get("version") == want]
    except (ValueError, subprocess.SubprocessError):
        ts = []
    if ts:
        t = max(ts, key=lambda t: t.get("transfer", 0))
        nodes = t.get("nodes", [])
        if nodes and all(n.get("state") not in ("offered", "receiving", "stalled") for n in nodes):
            print("%.2f" % (time.monotonic() - t0))
            sys.exit(0)
        if t.get("state") != "running":
            break
    time.sleep(0.25)
print("n/a")
PY
}

# `ota send REF ARGS... --wait`, bounded; sets x_line (xfer_line), x_wall
# (s, the command's), x_cpu, x_sim_cpu, x_broker_cpu (edged's, the
# simulator's and mosquitto's CPU s over it), x_delivered (s until every node held the model, to 0.25 s).
send_wait() { # args for `ota send` after REF
  local t0 c0 s0 b0 rc=0 watch_pid
  c0=$(cpu_ticks "$edged_pid")
  s0=$(cpu_ticks "$sim_pid")
  b0=$(cpu_ticks "$broker_pid")
  rm -f "$dir/delivered"
  watch_pid=
  if [[ "$1 $2" == "--to all" ]]; then # a fleet transfer
    watch_delivered "${ref#*@}" >"$dir/delivered" 2>>"$dir/watch.log" &
    watch_pid=$!
    pids+=("$watch_pid")
  fi
  t0=$(now)
  timeout "$timeout_s" "$edgectl" -s "$sock" ota send "$ref" "$@" --wait \
    >>"$dir/ota-send.log" 2>&1 || rc=$?
  x_wall=$(elapsed "$t0" "$(now)")
  [[ -n "$watch_pid" ]] && { wait "$watch_pid" 2>/dev/null || true; }
  x_delivered=$(cat "$dir/delivered" 2>/dev/null || true)
  x_delivered=${x_delivered:-n/a}
  x_cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$edged_pid")" -v hz="$hz" \
    'BEGIN { printf "%.2f", (b - a) / hz }')
  x_sim_cpu=$(awk -v a="$s0" -v b="$(cpu_ticks "$sim_pid")" -v hz="$hz" \
    'BEGIN { printf "%.2f", (b - a) / hz }')
  x_broker_cpu=$(awk -v a="$b0" -v b="$(cpu_ticks "$broker_pid")" -v hz="$hz" \
    'BEGIN { printf "%.2f", (b - a) / hz }')
  kill -0 "$edged_pid" 2>/dev/null || fail "edged died during a transfer"
  x_line=$(xfer_line "${ref#*@}")
  ((rc == 124)) && echo "bench-ota:   not finished within $timeout_s s" >&2
  [[ "$x_line" == "id=0 "* ]] && tail -n 3 "$dir/ota-send.log" | sed 's/^/bench-ota:   /' >&2
  echo "bench-ota:   $x_line wall=$x_wall delivered=$x_delivered edged_cpu=$x_cpu" \
    "sim_cpu=$x_sim_cpu broker_cpu=$x_broker_cpu" >&2
}


# ---- 1. campaign
bench_next_package
echo "bench-ota: campaign: $ref ($pkg_bytes B package) to $nodes nodes ..." >&2
start_sim "$dir/sim-campaign.log" "$nodes" sim
send_wait --to all --chunk-size "$chunk"
camp_line=$x_line camp_wall=$x_wall camp_cpu=$x_cpu camp_sim_cpu=$x_sim_cpu
camp_delivered=$x_delivered camp_broker_cpu=$x_broker_cpu
camp_s=$(field secs "$camp_line")
stop_pid "$sim_pid"
camp_sim=$(grep '^sim: summary' "$dir/sim-campaign.log" | tail -n 1 || true)

# ---- 3. stop-and-wait unicast to the same N ids, fresh nodes
bench_next_package
echo "bench-ota: stop-and-wait unicast: $ref to $nodes nodes, window 1, no campaign ..." >&2
start_sim "$dir/sim-unicast.log" "$nodes" sim
send_wait --to all --no-campaign --window 1 --chunk-size "$chunk"
uni_line=$x_line uni_wall=$x_wall uni_cpu=$x_cpu uni_sim_cpu=$x_sim_cpu
uni_delivered=$x_delivered uni_broker_cpu=$x_broker_cpu
uni_s=$(field secs "$uni_line")
stop_pid "$sim_pid"
uni_sim=$(grep '^sim: summary' "$dir/sim-unicast.log" | tail -n 1 || true)

# ---- 4. one node: window x chunk. A fresh node for each point: a node
# that runs a model is never offered the same model bytes again
# (already_have), whatever the version.
echo "bench-ota: one node, windows ${windows[*]} x chunks ${chunks[*]} ..." >&2
grid=()
k=0
for c in "${chunks[@]}"; do
  for w in "${windows[@]}"; do
    k=$((k + 1))
    start_sim "$dir/sim-grid-$k.log" 1 "g$k"
    send_wait --to "g$k-00000" --window "$w" --chunk-size "$c"
    stop_pid "$sim_pid"
    if [[ "$x_line" == "id=0 "* ]]; then
      grid+=("$w $c n/a 0 $c 0 n/a")
    else
      grid+=("$w $c $(field node_s "$x_line") $(field activated "$x_line") \
$(field chunk_size "$x_line") $(field retransmits "$x_line") $(field rate_bps "$x_line")")
    fi
  done
done

# ---- the table
row() { printf '%-46s %16s %16s %8s %8s %5s\n' "$@"; }
met() { awk -v r="$1" -v g="$2" -v d="$3" 'BEGIN { if (r == "n/a") print "?";
  else if ((d == ">=" && r + 0 >= g + 0) || (d == "<=" && r + 0 <= g + 0)) print "yes"; else print "NO" }'; }
printf '\nedged OTA benchmark: %d nodes, model %d B (package %d B), chunk %d; campaign with\n' \
  "$nodes" "$model_bytes" "$pkg_bytes" "$chunk"
printf 'edged'"'"'s ota.window, unicast window 1; settings: %s\n' \
  "$(printf '%s\n' "${conf[@]}" | grep -v '^ota.trust_dir=' | paste -s -d ' ')"
row "measure" "ours" "peer/limit" "ratio" "goal" "met?"
row "----------------------------------------------" "----------------" "----------------" \
  "--------" "--------" "-----"
# every node-chunk delivered: n_chunks x activated nodes
per_node_chunk() { # cpu_s line
  div "$(awk -v c="$1" 'BEGIN { print c * 1e6 }')" \
    "$(awk -v n="$(field n_chunks "$2")" -v a="$(field activated "$2")" 'BEGIN { print n * a }')" %.1f
}
per_chunk() { div "$(awk -v c="$1" 'BEGIN { print c * 1e6 }')" "$(field chunks "$2")" %.1f; }
# chunks the nodes took in vain: late (stray) + duplicates, from the simulator's summary
unneeded() { awk -v a="$(field ota_stray "$1")" -v b="$(field ota_dups "$1")" \
  'BEGIN { if (a == "" || b == "") print "n/a"; else print a + b }'; }
both() { printf '%s / %s' "$1" "$2"; }

r=$(div "$camp_s" "$fan_s")
row "campaign to all activated s vs fan-out s" "$camp_s" "$fan_s" "$r" "<= 1.50" "$(met "$r" 1.5 "<=")"
r=$(div "$camp_delivered" "$fan_s")
row "  all nodes hold the model s vs fan-out s" "$camp_delivered" "$fan_s" "$r" "-" "-"
row "  activated / nodes" "$(both "$(field activated "$camp_line")" "$(field nodes "$camp_line")")" \
  "-" "-" "-" "-"
row "  chunks published / of them unicast repairs" "$(both "$(field chunks "$camp_line")" \
  "$(field unicast "$camp_line")")" "-" "-" "-" "-"
row "  chunks the nodes did not need (stray+dup)" "$(unneeded "$camp_sim")" "-" "-" "-" "-"
row "  fan-out payload bytes delivered/s" "-" "$(field bytes_per_s "$fan_full")" "-" "-" "-"
row "  fan-out lost messages (QoS 0)" "-" "$(field lost_msgs "$fan_full")" "-" "-" "-"
if [[ -n "$fan_paced" ]]; then
  row "  fan-out paced at $(field rate_limit "$fan_paced") B/s: s / lost" "-" \
    "$(both "$(field seconds "$fan_paced")" "$(field lost_msgs "$fan_paced")")" "-" "-" "-"
fi
r=$(div "$uni_s" "$camp_s" %.1f)
row "stop-and-wait unicast s vs campaign s" "$camp_s" "$uni_s" "${r}x" ">= 10x" "$(met "$r" 10 ">=")"
row "  all nodes hold the model s, unicast/campaign" "$uni_delivered" "$camp_delivered" \
  "$(div "$uni_delivered" "$camp_delivered" %.1f)x" "-" "-"
row "  activated / nodes" "$(both "$(field activated "$uni_line")" "$(field nodes "$uni_line")")" \
  "-" "-" "-" "-"
row "  chunks the nodes did not need (stray+dup)" "$(unneeded "$uni_sim")" "-" "-" "-" "-"
row "ota send --wait wall s, campaign / unicast" "$camp_wall" "$uni_wall" "-" "-" "-"
row "edged CPU s, campaign / unicast" "$camp_cpu" "$uni_cpu" "-" "-" "-"
row "simulator CPU s, campaign / unicast" "$camp_sim_cpu" "$uni_sim_cpu" "-" "-" "-"
row "broker CPU s, campaign / unicast" "$camp_broker_cpu" "$uni_broker_cpu" "-" "-" "-"
for g in "${grid[@]}"; do
  read -r w c node_s act cs retx rate <<<"$g"
  bps=$(div "$model_bytes" "$node_s" %.0f)
  note=""
  [[ "$cs" != "$c" ]] && note=" (chunk $cs)"
  [[ "$retx" != 0 ]] && note="$note (retx $retx)"
  [[ "$act" != 1 ]] && note="$note (not activated)"
  row "one node w=$w c=$c: bytes/s$note" "$bps" "${rate:-n/a}" "-" "-" "-"
done
camp_us=$(per_chunk "$camp_cpu" "$camp_line")
uni_us=$(per_chunk "$uni_cpu" "$uni_line")
row "edged CPU us per node-chunk, campaign/unicast" "$(per_node_chunk "$camp_cpu" "$camp_line")" \
  "$(per_node_chunk "$uni_cpu" "$uni_line")" "-" "-" "-"
row "edged CPU us/chunk, campaign vs bare pub" "$camp_us" "$bare_us" "$(div "$camp_us" "$bare_us" %.1f)" "-" "-"
row "edged CPU us/chunk, unicast vs bare pub" "$uni_us" "$bare_us" "$(div "$uni_us" "$bare_us" %.1f)" "-" "-"
printf '\nNotes:\n'
printf -- '- campaign: %s\n' "$camp_line"
printf -- '- unicast:  %s\n' "$uni_line"
printf -- '- fan-out:  %s\n' "$fan_full"
printf -- '- bare CPU: %s\n' "$cpu_out"
printf -- '- times from edged: transfer created -> finished (every node final); they include the\n'
printf -- '  offers, the campaign gather, each node'"'"'s verify and self-test in the simulator (one\n'
printf -- '  process for all nodes) and the results; the fan-out figure is bytes only. "All\n'
printf -- '  nodes hold the model": ota status polled every 0.25 s until no node is offered,\n'
printf -- '  receiving or stalled (every node verifying or final)\n'
printf -- '- one-node bytes/s: model bytes / the node'"'"'s started -> finished (self-test included);\n'
printf -- '  peer column: edged'"'"'s rate_bps of that node\n'
printf -- '- edged CPU per chunk: utime+stime over the transfer (the --wait poller'"'"'s ota.status\n'
printf -- '  included) / chunks published (campaign + unicast): answers, offers and results\n'
printf -- '  are part of it; the bare publisher only publishes. Per node-chunk: the same CPU /\n'
printf -- '  (n_chunks x activated nodes)\n'
printf -- '- chunks nodes did not need: the simulator'"'"'s ota_stray (arrived after the node'"'"'s\n'
printf -- '  transfer was over: late repairs) + ota_dups (held already)\n'
printf -- '- simulator: --tcp-nodelay, one process for all nodes (its CPU is in the table)\n'
exit 0
