#!/usr/bin/env bash
# What a gateway board can afford: disk writes, restart convergence and
# memory under an oversized publish, with N simulated nodes (default 10,000).
#
# In one run, against one private mosquitto on 127.0.0.1 configured by
# `edgectl broker-config`:
#   1. N nodes connect and register (heartbeat 30 s). edged's write bytes
#      (/proc/PID/io write_bytes: what reaches the block layer) during the
#      connect phase and its first 30 s, then over a steady-state window of
#      at least two registry.persist_interval_s: bytes per heartbeat and
#      bytes per second, next to the goals (150 B/heartbeat, 50 KB/s).
#   2. kill -9 of edged with N nodes online, restart: time until all N are
#      online again, next to the goal (10 s) and to the first registration.
#   3. A 100 MB publish on a node topic: edged's peak RSS (VmHWM) before and
#      after, next to a plain MQTT v5 subscriber (mosquitto_sub, which
#      declares no Maximum Packet Size) receiving the same publish.
# Every wait is bounded; everything started is stopped by PID.
#
#   scripts/bench-board.sh [--nodes N] [--window-s S] [--persist-s S]
#        [--build-dir DIR] [--no-build]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=10000
window_s=120
persist_s=60
heartbeat_s=30
rate=1000
build="$root/build"
do_build=1

while (($#)); do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --window-s) window_s=$2; shift 2 ;;
    --persist-s) persist_s=$2; shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-board: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 10000)) ||
  { echo "bench-board: --nodes must be 1..10000" >&2; exit 2; }
[[ "$window_s" =~ ^[0-9]+$ ]] && ((window_s >= 10 && window_s <= 3600)) ||
  { echo "bench-board: --window-s must be 10..3600" >&2; exit 2; }
[[ "$persist_s" =~ ^[0-9]+$ ]] && ((persist_s >= 1 && persist_s <= 3600)) ||
  { echo "bench-board: --persist-s must be 1..3600" >&2; exit 2; }

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim >/dev/null
fi
bench=bench-board
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
bench_binaries "$(command -v mosquitto_pub)" "$(command -v mosquitto_sub)"
bench_fd_limit
bench_dir

# The broker configured the way the project ships it, but letting 100 MB
# publishes in for part 3: edged's own Maximum Packet Size is what is measured.
bench_start_broker --message-size-limit 209715200

bench_edged_conf "$dir/edged.conf" registry.persist_interval_s="$persist_s"
bench_start_edged "$dir/edged.conf"

# ---- 1. disk writes
echo "bench-board: $nodes nodes connect and register ..." >&2
w0=$(write_bytes "$edged_pid")
"$sim" --port "$port" --count "$nodes" --connect-rate "$rate" --max-pending 100 \
  --heartbeat-s "$heartbeat_s" --keepalive-s 60 --duration-s 3600 \
  </dev/null >"$dir/sim.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
first_s=$(wait_online "$nodes" 600) || exit 1
sleep 30
w1=$(write_bytes "$edged_pid")
burst_bytes=$((w1 - w0))

echo "bench-board: steady state over $window_s s ..." >&2
hb0=$(status_int heartbeat)
w2=$(write_bytes "$edged_pid")
sleep "$window_s"
w3=$(write_bytes "$edged_pid")
hb1=$(status_int heartbeat)
kill -0 "$edged_pid" 2>/dev/null || fail "edged died during the window"
steady_bytes=$((w3 - w2))
hbs=$((hb1 - hb0))
per_hb=$(awk -v b="$steady_bytes" -v n="$hbs" 'BEGIN { if (n > 0) printf "%.1f", b / n; else print "n/a" }')
per_s=$(awk -v b="$steady_bytes" -v w="$window_s" 'BEGIN { printf "%.1f", b / w / 1000 }')
per_day=$(awk -v b="$steady_bytes" -v w="$window_s" 'BEGIN { printf "%.2f", b / w * 86400 / 1e9 }')

# ---- 2. kill -9 and restart
echo "bench-board: kill -9 edged, restart ..." >&2
kill -KILL "$edged_pid"
wait "$edged_pid" 2>/dev/null || true
t0=$(now)
bench_start_edged "$dir/edged.conf"
restart_s=$(elapsed "$t0" "$(now)")
conv_s=$(wait_online "$nodes" 120) || exit 1
total_restart_s=$(awk -v a="$restart_s" -v b="$conv_s" 'BEGIN { printf "%.2f", a + b }')

# ---- 3. a 100 MB publish
echo "bench-board: 100 MB publish ..." >&2
head -c $((100 * 1024 * 1024)) /dev/zero >"$dir/big.bin"
mosquitto_sub -h 127.0.0.1 -p "$port" -V mqttv5 -t "edge/v1/bench-big/heartbeat" -C 1 \
  >/dev/null 2>"$dir/sub.log" &
sub_pid=$!
pids+=("$sub_pid")
sleep 1
hwm_before=$(status_kib "$edged_pid" VmHWM)
rss_before=$(status_kib "$edged_pid" VmRSS)
mosquitto_pub -h 127.0.0.1 -p "$port" -V mqttv5 -q 1 -t "edge/v1/bench-big/heartbeat" \
  -f "$dir/big.bin" 2>"$dir/pub.log" || fail "mosquitto_pub of 100 MB failed"
sub_hwm=
for _ in $(seq 1 600); do
  [[ -r "/proc/$sub_pid/status" ]] && sub_hwm=$(status_kib "$sub_pid" VmHWM)
  kill -0 "$sub_pid" 2>/dev/null || break
  sleep 0.1
done
wait "$sub_pid" 2>/dev/null || true
# edged is still answering and has not grown
"$edgectl" -s "$sock" status >/dev/null || fail "edged does not answer after the publish"
hwm_after=$(status_kib "$edged_pid" VmHWM)
rejected=$(status_int too_large)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '\nedged board benchmark: %d nodes, heartbeat %d s, registry.persist_interval_s %d\n' \
  "$nodes" "$heartbeat_s" "$persist_s"
printf '%-52s %-22s %-14s %s\n' "metric" "value" "limit/peer" "ratio"
printf '%-52s %-22s %-14s %s\n' "----------------------------------------------------" \
  "----------------------" "--------------" "-----"
printf '%-52s %-22s %-14s %s\n' "write bytes per heartbeat, steady ($hbs heartbeats)" \
  "$per_hb B" "150 B" "$(ratio "$per_hb" 150)"
printf '%-52s %-22s %-14s %s\n' "write rate, steady ($window_s s window)" "$per_s KB/s" "50 KB/s" \
  "$(ratio "$per_s" 50)"
printf '%-52s %-22s\n' "  = per day" "$per_day GB"
printf '%-52s %-22s\n' "write bytes: connect phase + 30 s ($first_s s + 30 s)" \
  "$(awk -v b="$burst_bytes" 'BEGIN { printf "%.2f MB", b / 1e6 }')"
printf '%-52s %-22s %-14s %s\n' "all online after kill -9 + restart (edged start)" \
  "$total_restart_s s ($restart_s s)" "10 s" "$(ratio "$total_restart_s" 10)"
printf '%-52s %-22s %-14s %s\n' "first registration of all nodes (same run)" "$first_s s" "" ""
printf '%-52s %-22s %-14s %s\n' "edged peak RSS after a 100 MB publish" "$(mib "$hwm_after")" \
  "$(mib "$hwm_before")" "$(ratio "$hwm_after" "$hwm_before")"
printf '%-52s %-22s\n' "  (edged RSS before / peak before)" "$(mib "$rss_before") / $(mib "$hwm_before")"
printf '%-52s %-22s %-14s %s\n' "mosquitto_sub (no max packet size), same publish" \
  "$(mib "${sub_hwm:-0}")" "" "$(ratio "${sub_hwm:-0}" "$hwm_after")"
printf '%-52s %s\n' "edged too_large rejects (should stay 0: never sent)" "${rejected:-?}"
