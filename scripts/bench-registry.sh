#!/usr/bin/env bash
# Fleet benchmark: how edged copes with N simulated nodes (default 10,000).
#
# In one run, against one private mosquitto on 127.0.0.1:
#   1. the broker alone: a bare connect loop (tests/bench/connect-loop) opens
#      N MQTT v5 connections with the simulator's pacing, no edged involved;
#   2. edged idle with 0 nodes: RSS (VmRSS / VmHWM from /proc/PID/status);
#   3. N simulated nodes connect, say hello and are registered: time until
#      every node is online in `edgectl status` and until every node got its
#      `registered` reply, and the ratio to the bare connect loop;
#   4. edged RSS with N nodes, and its CPU (utime+stime from /proc/PID/stat)
#      over an idle window with all N connected and heartbeating.
# Prints a table. Every wait is bounded; everything started is stopped by PID.
#
#   scripts/bench-registry.sh [--nodes N] [--rate R] [--max-pending M]
#        [--idle-s S] [--heartbeat-s S] [--build-dir DIR] [--no-build]
#
# On a shared 2-core machine, run small (--nodes 1000 --idle-s 10) while
# others work; the full 10,000 / 60 s run takes about two minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=10000
rate=1000
max_pending=100
idle_s=60
heartbeat_s=30
build="$root/build"
do_build=1

while (($#)); do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --max-pending) max_pending=$2; shift 2 ;;
    --idle-s) idle_s=$2; shift 2 ;;
    --heartbeat-s) heartbeat_s=$2; shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-registry: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 10000)) ||
  { echo "bench-registry: --nodes must be 1..10000" >&2; exit 2; }
[[ "$idle_s" =~ ^[0-9]+$ ]] && ((idle_s >= 1 && idle_s <= 3600)) ||
  { echo "bench-registry: --idle-s must be 1..3600" >&2; exit 2; }

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl \
    tests/sim/edge-sim tests/bench/connect-loop >/dev/null
fi
bench=bench-registry
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
loop="$build/tests/bench/connect-loop"
bench_binaries "$loop"
bench_fd_limit
bench_dir

# ---- broker: the project's configuration, sized for this fleet
bench_start_broker

# ---- 1. the broker alone
echo "bench-registry: bare connect loop, $nodes clients at $rate/s ..." >&2
loop_out=$("$loop" --port "$port" --count "$nodes" --connect-rate "$rate" \
  --max-pending "$max_pending" --timeout-s 600 2>"$dir/connect-loop.log") ||
  fail "connect loop failed: $loop_out"
bare_s=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$loop_out")
bare_ok=$(sed -n 's/.*connected=\([0-9]*\).*/\1/p' <<<"$loop_out")
sleep 1 # let the broker drop the closed sessions

# ---- 2. edged with 0 nodes
bench_edged_conf "$dir/edged.conf"
bench_start_edged "$dir/edged.conf"
sleep 2
rss0=$(status_kib "$edged_pid" VmRSS)
hwm0=$(status_kib "$edged_pid" VmHWM)

# ---- 3. N nodes
echo "bench-registry: $nodes simulated nodes at $rate/s ..." >&2
t0=$(now)
"$sim" --port "$port" --count "$nodes" --connect-rate "$rate" --max-pending "$max_pending" \
  --heartbeat-s "$heartbeat_s" --keepalive-s 60 --duration-s $((idle_s + 900)) \
  </dev/null >"$dir/sim.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
online_s=
for _ in $(seq 1 3000); do # 600 s at most
  kill -0 "$sim_pid" 2>/dev/null || fail "edge-sim exited"
  online=$(status_int online)
  if [[ "${online:-0}" -ge "$nodes" ]]; then online_s=$(elapsed "$t0" "$(now)"); break; fi
  sleep 0.2
done
[[ -n "$online_s" ]] || fail "not all $nodes nodes online within 600 s (last: ${online:-?})"
for _ in $(seq 1 600); do grep -q "sim: registered all" "$dir/sim.log" && break; sleep 0.1; done
reg_s=$(sed -n 's/^sim: registered all [0-9]* in \([0-9.]*\) s/\1/p' "$dir/sim.log")
[[ -n "$reg_s" ]] || fail "edge-sim did not report all nodes registered"
sleep 2
rssn=$(status_kib "$edged_pid" VmRSS)
hwmn=$(status_kib "$edged_pid" VmHWM)
mos_rss=$(status_kib "$broker_pid" VmRSS)

# ---- 4. CPU over an idle window (nodes connected and heartbeating)
echo "bench-registry: measuring edged CPU over $idle_s s idle ..." >&2
hz=$(getconf CLK_TCK)
c0=$(cpu_ticks "$edged_pid")
sleep "$idle_s"
c1=$(cpu_ticks "$edged_pid")
kill -0 "$edged_pid" 2>/dev/null || fail "edged died during the idle window"
cpu_s=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
cpu_pct=$(awk -v c="$cpu_s" -v w="$idle_s" 'BEGIN { printf "%.2f", 100 * c / w }')
hb=$(status_int heartbeat)

ratio=$(awk -v a="$online_s" -v b="$bare_s" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
printf '\nedged fleet benchmark: %d nodes, connect rate %s/s (at most %s pending), heartbeat %s s\n' \
  "$nodes" "$rate" "$max_pending" "$heartbeat_s"
printf '%-46s %s\n' "metric" "value"
printf '%-46s %s\n' "----------------------------------------------" "--------------------------"
per_s() { awk -v n="$nodes" -v t="$1" 'BEGIN { if (t > 0) printf "%.0f/s", n / t; else print "n/a" }'; }
printf '%-46s %s s = %s (%s of %s connected)\n' "broker alone: bare connect loop" "$bare_s" \
  "$(per_s "$bare_s")" "$bare_ok" "$nodes"
printf '%-46s %s s = %s\n' "edged: all nodes online (edgectl status)" "$online_s" "$(per_s "$online_s")"
printf '%-46s %s s = %s\n' "edged: all nodes registered (replies at sim)" "$reg_s" "$(per_s "$reg_s")"
printf '%-46s %sx\n' "ratio: time to all online / bare connect loop" "$ratio"
printf '%-46s %s (peak %s)\n' "edged RSS idle, 0 nodes" "$(mib "$rss0")" "$(mib "$hwm0")"
printf '%-46s %s (peak %s)\n' "edged RSS, $nodes nodes" "$(mib "$rssn")" "$(mib "$hwmn")"
printf '%-46s %s s CPU = %s %% of one core\n' "edged CPU over $idle_s s idle, $nodes nodes" "$cpu_s" "$cpu_pct"
printf '%-46s %s\n' "heartbeats handled by edged (total)" "${hb:-?}"
printf '%-46s %s\n' "mosquitto RSS, $nodes nodes" "$(mib "$mos_rss")"
