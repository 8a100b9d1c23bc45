#!/usr/bin/env bash
# Anomaly history benchmark: how fast edged stores what nodes report, what
# it costs the disk, and how the read side copes with a large history.
#
# In one run, against one private mosquitto on 127.0.0.1, on a real disk
# (/var/tmp, so the kernel's write accounting means something):
#   1. End-to-end ingest: N simulated nodes (default 1,000) each detecting
#      anomalies at a rate (events/s per node), reports QoS 1, acked after
#      the commit. Over a fixed window: acked events/s and reports/s, p50/p99
#      ack latency (report sent -> ack covering it, measured in edge-sim).
#      Peer, same simulator and broker in the same run: tests/bench/report-sub
#      in edged's place, a gateway that stores nothing and acks at once. The
#      nodes' load is open loop, so the broker-limited rate is found first:
#      the per-node rate doubles from --rate (default 5) for at most
#      --rate-steps runs (default 5) while the peer acks >= 95 % of what is
#      offered; edged then gets the highest load the peer kept up with.
#      Goal: edged >= 90 % of the peer's acked events/s and reports/s.
#   2. The writer: edged's storage path alone (tests/bench/ingest-writer:
#      edge_anomaly_ingest through edge_store_submit, reports of the size
#      seen in 1) against raw SQLite (tests/bench/raw-insert: the same
#      table and indexes, synchronous=FULL, WAL, transactions of the size
#      the writer's group commit made). Goal: writer >= 80 % of raw.
#   3. SD-card wear: bytes written (kernel count of the writer thread) and
#      WAL bytes appended per stored event, from edged's status in 1.
#   4. Queries on a generated history (tests/bench/anomaly-gen, default 10
#      million events over 365 days, 1,000 devices; --events N to run
#      small): last 24 h of one device through edge_anomaly_list vs plain
#      SQL (goal <= 1.5x), hourly counts over 7 days through
#      edge_anomaly_stats vs GROUP BY over raw rows (goal >= 100x faster);
#      generation time and database size.
#   5. Ingest while an export of the whole history runs: edged on that
#      database, `edgectl anomalies list --format csv > /dev/null` running,
#      the simulator's load: acked events/s with and without the export
#      (goal >= 90 %). Skipped when edgectl has no `anomalies` command.
# Prints one table: measure, ours, peer/limit, ratio, goal, met?. Every wait
# is bounded; everything started is stopped by PID; the temp dir (with the
# generated database) is removed at exit.
#
#   scripts/bench-anomaly.sh [--nodes N] [--rate R] [--rate-steps K]
#        [--window-s S] [--events N] [--edged-set SECTION.KEY=VALUE]...
#        [--build-dir DIR] [--no-build]
#
# --edged-set adds a setting to edged's configuration (e.g.
# anomaly.max_pending_reports=4096), to see what limits it.
# The full run (10 M events) needs about 3 GB in /var/tmp and takes several
# minutes; on a shared machine run small (--events 200000 --nodes 200
# --rate-steps 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=1000
rate0=5
rate_steps=5
edged_set=()
window_s=20
events=10000000
build="$root/build"
do_build=1

while (($#)); do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --rate) rate0=$2; shift 2 ;;
    --rate-steps) rate_steps=$2; shift 2 ;;
    --edged-set) edged_set+=("$2"); shift 2 ;;
    --window-s) window_s=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,47p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-anomaly: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 10000)) ||
  { echo "bench-anomaly: --nodes must be 1..10000" >&2; exit 2; }
[[ "$rate_steps" =~ ^[0-9]+$ ]] && ((rate_steps >= 1 && rate_steps <= 10)) ||
  { echo "bench-anomaly: --rate-steps must be 1..10" >&2; exit 2; }
[[ "$rate0" =~ ^[0-9]+([.][0-9]+)?$ ]] ||
  { echo "bench-anomaly: --rate must be a number of events per node per second" >&2; exit 2; }
[[ "$window_s" =~ ^[0-9]+$ ]] && ((window_s >= 2 && window_s <= 600)) ||
  { echo "bench-anomaly: --window-s must be 2..600" >&2; exit 2; }
[[ "$events" =~ ^[0-9]+$ ]] && ((events >= 10000 && events <= 100000000)) ||
  { echo "bench-anomaly: --events must be 10000..100000000" >&2; exit 2; }

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim \
    tests/bench/report-sub tests/bench/raw-insert tests/bench/ingest-writer \
    tests/bench/anomaly-gen >/dev/null
fi
bench=bench-anomaly
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
sub_bin="$build/tests/bench/report-sub"
raw_bin="$build/tests/bench/raw-insert"
writer_bin="$build/tests/bench/ingest-writer"
gen_bin="$build/tests/bench/anomaly-gen"
bench_binaries "$sub_bin" "$raw_bin" "$writer_bin"
bench_fd_limit
bench_dir

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2" | tail -n 1; } # KEY LINE
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b > 0) printf f, a / b; else print "n/a" }'; }
# status_int, but a null (bytes_written without per-thread I/O) gives ""
status_all() { "$edgectl" -s "$sock" --json status 2>/dev/null; }
jint() { sed -n "s/^ *\"$1\": \([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }

# Ask the simulator for its counters (SIGUSR1) and wait for the new
# ack-latency line (it ends the block); prints "STATS_LINE|LATENCY_LINE".
sim_stats() { # log
  local log=$1 n0 n
  n0=$(grep -c '^sim: ack-latency' "$log" || true)
  kill -USR1 "$sim_pid"
  for _ in $(seq 1 100); do # 10 s at most
    n=$(grep -c '^sim: ack-latency' "$log" || true)
    ((n > n0)) && break
    sleep 0.1
  done
  ((n > n0)) || fail "edge-sim printed no stats"
  printf '%s|%s\n' "$(grep '^sim: stats' "$log" | tail -n 1)" \
    "$(grep '^sim: ack-latency' "$log" | tail -n 1)"
}

# N nodes with the report load, until all are registered (bounded: 120 s,
# or the second argument; then it returns 1 instead of failing).
start_sim() { # log [timeout_s]
  local limit=${2:-120}
  "$sim" --port "$port" --count "$nodes" --connect-rate 2000 --max-pending 200 \
    --heartbeat-s 60 --keepalive-s 60 --anomaly-rate "$rate" --tcp-nodelay \
    --duration-s $((window_s * 4 + 900)) </dev/null >"$1" 2>&1 &
  sim_pid=$!
  pids+=("$sim_pid")
  for _ in $(seq 1 $((limit * 10))); do
    grep -q '^sim: registered all' "$1" && return 0
    kill -0 "$sim_pid" 2>/dev/null || fail "edge-sim exited"
    sleep 0.1
  done
  [[ -n "${2:-}" ]] && return 1
  fail "not all $nodes nodes registered within $limit s"
}

# One measured window of the running simulator: sets w_events (acked/s),
# w_reports (/s), w_p50, w_p99 (ms), w_per_report (events per report).
sim_window() { # log
  local a b la lb
  sleep 3 # past the connect burst: the steady state is measured
  a=$(sim_stats "$1")
  sleep "$window_s"
  b=$(sim_stats "$1")
  la=${a%%|*}
  lb=${b%%|*}
  local dt de dr
  dt=$(awk -v a="$(field seconds "$la")" -v b="$(field seconds "$lb")" 'BEGIN { print b - a }')
  de=$(($(field events_acked "$lb") - $(field events_acked "$la")))
  dr=$(($(field reports "$lb") - $(field reports "$la")))
  # events carried per report message, retransmissions included
  local dsent=$(($(field events_sent "$lb") + $(field events_resent "$lb") -
    $(field events_sent "$la") - $(field events_resent "$la")))
  w_events=$(div "$de" "$dt" %.0f)
  w_reports=$(div "$dr" "$dt" %.0f)
  w_per_report=$(div "$dsent" "$dr" %.1f)
  w_p50=$(field p50_ms "${b#*|}")
  w_p99=$(field p99_ms "${b#*|}")
  w_offered=$(awk -v n="$nodes" -v r="$rate" 'BEGIN { printf "%.0f", n * r }')
}

# ---- broker: the project's configuration, sized for this fleet
bench_start_broker

# ---- 1a. the peer: a gateway that stores nothing. The load is open loop
# (a node sends each event when detected, acks only free its queue), so
# the broker-limited rate is found by doubling the per-node rate from
# --rate until the peer no longer acks 95 % of what is offered (or the
# broker drops messages and nodes cannot even register): the highest rate
# it kept up with is the load edged gets.
best_rate=
w_events=0 w_reports=0 w_p50=0 w_p99=0 w_per_report=0 w_offered=0
for step in $(seq 0 $((rate_steps - 1))); do
  try=$(awk -v r="$rate0" -v s="$step" 'BEGIN { printf "%g", r * 2 ^ s }')
  rate=$try
  echo "bench-anomaly: broker-limited peer (report-sub), $nodes nodes x $rate/s ..." >&2
  # TCP_NODELAY, as edged's client sets it over TCP.
  "$sub_bin" --port "$port" --tcp-nodelay </dev/null >"$dir/report-sub.log" 2>&1 &
  sub_pid=$!
  pids+=("$sub_pid")
  for _ in $(seq 1 100); do grep -q 'ready' "$dir/report-sub.log" && break; sleep 0.05; done
  grep -q 'ready' "$dir/report-sub.log" || fail "report-sub did not subscribe"
  kept=0
  if start_sim "$dir/sim-peer-$step.log" 30; then
    sim_window "$dir/sim-peer-$step.log"
    kept=$(awk -v a="$w_events" -v o="$w_offered" 'BEGIN { print (a >= 0.95 * o) ? 1 : 0 }')
    echo "bench-anomaly:   offered $w_offered/s, acked $w_events/s" >&2
  else
    echo "bench-anomaly:   offered $w_offered/s: nodes could not register (broker overloaded)" >&2
  fi
  stop_pid "$sim_pid"
  stop_pid "$sub_pid"
  if ((kept)) || [[ -z "$best_rate" && $step -eq 0 ]]; then
    best_rate=$rate
    peer_events=$w_events peer_reports=$w_reports peer_p50=$w_p50 peer_p99=$w_p99
    peer_kept=$kept
  fi
  last_try=$rate
  ((kept)) || break
  sleep 1 # let the broker drop the closed sessions
done
[[ -n "${peer_events:-}" ]] || fail "the peer run measured nothing"
rate=$best_rate

# ---- 1b. edged
echo "bench-anomaly: edged, same load ..." >&2
bench_edged_conf "$dir/edged.conf" anomaly.max_db_bytes=0 "${edged_set[@]}"
bench_start_edged "$dir/edged.conf"
start_sim "$dir/sim-edged.log"
sleep 3
s0=$(status_all)
sim_window "$dir/sim-edged.log"
s1=$(status_all)
e2e_events=$w_events e2e_reports=$w_reports e2e_p50=$w_p50 e2e_p99=$w_p99
per_report=$w_per_report offered=$w_offered
d_stored=$(($(jint events_stored "$s1") - $(jint events_stored "$s0")))
d_tx=$(($(jint transactions "$s1") - $(jint transactions "$s0")))
d_wal=$(($(jint wal_bytes_appended "$s1") - $(jint wal_bytes_appended "$s0")))
bw0=$(jint bytes_written "$s0")
bw1=$(jint bytes_written "$s1")
if [[ -n "$bw0" && -n "$bw1" ]]; then
  wear=$(div $((bw1 - bw0)) "$d_stored" %.0f)
else
  wear="n/a"
fi
wal_per_event=$(div "$d_wal" "$d_stored" %.0f)
edged_deferred=$(jint deferred "$s1")
stop_pid "$sim_pid"

# ---- 1c. the load edged sustains: when it did not ack 95 % of the peer's
# load, the per-node rate halves (at most 4 times) until it does; the ack
# latency there is edged's at a load it keeps up with. The export run (5)
# uses that load. Then one window at half of it: the latency with headroom.
ok_rate=$rate ok_events=$e2e_events ok_offered=$offered ok_p50=$e2e_p50 ok_p99=$e2e_p99
ok_kept=$(awk -v a="$e2e_events" -v o="$offered" 'BEGIN { print (a >= 0.95 * o) ? 1 : 0 }')
for _ in 1 2 3 4; do
  ((ok_kept)) && break
  rate=$(awk -v r="$rate" 'BEGIN { printf "%g", r / 2 }')
  echo "bench-anomaly: edged at half the load, $nodes nodes x $rate/s ..." >&2
  start_sim "$dir/sim-edged-$rate.log"
  sim_window "$dir/sim-edged-$rate.log"
  stop_pid "$sim_pid"
  echo "bench-anomaly:   offered $w_offered/s, acked $w_events/s" >&2
  ok_rate=$rate ok_events=$w_events ok_offered=$w_offered ok_p50=$w_p50 ok_p99=$w_p99
  ok_kept=$(awk -v a="$w_events" -v o="$w_offered" 'BEGIN { print (a >= 0.95 * o) ? 1 : 0 }')
done
# The ack latency with headroom: half the load edged sustained.
rate=$(awk -v r="$ok_rate" 'BEGIN { printf "%g", r / 2 }')
echo "bench-anomaly: edged's ack latency at half that load, $nodes nodes x $rate/s ..." >&2
start_sim "$dir/sim-edged-half.log"
sim_window "$dir/sim-edged-half.log"
stop_pid "$sim_pid"
half_offered=$w_offered half_events=$w_events half_p50=$w_p50 half_p99=$w_p99
stop_pid "$edged_pid"

# ---- 2. the writer alone and raw SQLite, reports of the size seen above
k=$(awk -v k="$per_report" 'BEGIN { k = int(k + 0.5); if (k < 1) k = 1; if (k > 32) k = 32; print k }')
wn=$((200000))
echo "bench-anomaly: edged's writer alone, $wn events in reports of $k ..." >&2
writer_out=$("$writer_bin" --db "$dir/writer.db" --events "$wn" --per-report "$k" \
  --devices "$nodes" 2>"$dir/writer.log") || fail "ingest-writer failed: $writer_out"
writer_rate=$(field events_per_s "$writer_out")
writer_tx=$(field events_per_tx "$writer_out")
writer_wear=$(div "$(field bytes_written "$writer_out")" "$(field events "$writer_out")" %.0f)
batch=$(awk -v b="$writer_tx" 'BEGIN { b = int(b + 0.5); print b < 1 ? 1 : b }')
echo "bench-anomaly: raw SQLite, $wn events in transactions of $batch ..." >&2
raw_out=$("$raw_bin" --db "$dir/raw.db" --events "$wn" --batch "$batch" --devices "$nodes" \
  2>"$dir/raw.log") || fail "raw-insert failed: $raw_out"
raw_rate=$(field events_per_s "$raw_out")
raw_wear=$(div "$(field bytes_written "$raw_out")" "$(field events "$raw_out")" %.0f)
rm -f "$dir"/writer.db* "$dir"/raw.db*

# ---- 4. queries on a generated history (its database is edged's in 5)
q_done=0
if [[ -x "$gen_bin" ]]; then
  echo "bench-anomaly: generating $events events over 365 days, then the queries ..." >&2
  mkdir -p "$dir/state2"
  gen_out=$("$gen_bin" --db "$dir/state2/edged.db" --events "$events" --devices 1000 \
    2>"$dir/gen.log") || fail "anomaly-gen failed: $gen_out"
  echo "$gen_out" >>"$dir/gen.log"
  q_done=1
else
  echo "bench-anomaly: no $gen_bin (the read side is not built): queries skipped" >&2
fi

# ---- 5. ingest while an export of the whole history runs
x_done=0
if ((q_done)) && "$edgectl" anomalies --help >/dev/null 2>&1; then
  echo "bench-anomaly: edged on the generated history, same load, without then with an export ..." >&2
  sed -e "s|^state_dir = .*|state_dir = $dir/state2|" "$dir/edged.conf" >"$dir/edged2.conf"
  printf '\n[store]\nquick_check_on_start = false\n' >>"$dir/edged2.conf"
  bench_start_edged "$dir/edged2.conf"
  rate=$ok_rate
  start_sim "$dir/sim-export.log"
  # acked events/s from edged's status over the window
  ingest_window() {
    local a b t0 t1
    a=$(status_int events_stored)
    t0=$(now)
    sleep "$window_s"
    b=$(status_int events_stored)
    t1=$(now)
    div $((b - a)) "$(elapsed "$t0" "$t1")" %.0f
  }
  sleep 3
  x_base=$(ingest_window)
  "$edgectl" -s "$sock" anomalies list --format csv >/dev/null 2>"$dir/export.log" &
  export_pid=$!
  pids+=("$export_pid")
  x_t0=$(now)
  sleep 2 # the export is under way
  x_during=$(ingest_window)
  if kill -0 "$export_pid" 2>/dev/null; then
    x_note="export still running at the window's end"
    stop_pid "$export_pid"
  else
    wait "$export_pid" || x_note="export failed: $(tail -n 1 "$dir/export.log")"
    x_note=${x_note:-"export ended after $(elapsed "$x_t0" "$(now)") s, before the window's end"}
  fi
  x_done=1
  stop_pid "$sim_pid"
  stop_pid "$edged_pid"
elif ((q_done)); then
  echo "bench-anomaly: edgectl has no 'anomalies' command: export run skipped" >&2
fi

# ---- the table
row() { printf '%-44s %16s %16s %8s %8s %5s\n' "$@"; }
met() { awk -v r="$1" -v g="$2" -v d="$3" 'BEGIN { if (r == "n/a") print "?";
  else if ((d == ">=" && r + 0 >= g + 0) || (d == "<=" && r + 0 <= g + 0)) print "yes"; else print "NO" }'; }
printf '\nedged anomaly benchmark: %d nodes x %s events/s (offered %s/s), window %d s\n' \
  "$nodes" "$rate" "$offered" "$window_s"
row "measure" "ours" "peer/limit" "ratio" "goal" "met?"
row "--------------------------------------------" "----------------" "----------------" \
  "--------" "--------" "-----"
r=$(div "$e2e_events" "$peer_events")
row "acked events/s, edged vs report-sub" "$e2e_events" "$peer_events" "$r" ">= 0.90" "$(met "$r" 0.90 ">=")"
r=$(div "$e2e_reports" "$peer_reports")
row "report messages/s, edged vs report-sub" "$e2e_reports" "$peer_reports" "$r" ">= 0.90" "$(met "$r" 0.90 ">=")"
row "ack latency p50 ms (report-sub p50)" "$e2e_p50" "$peer_p50" "$(div "$e2e_p50" "$peer_p50")" "-" "-"
row "ack latency p99 ms (report-sub p99)" "$e2e_p99" "$peer_p99" "$(div "$e2e_p99" "$peer_p99")" "-" "-"
row "edged sustained: acked/s vs offered" "$ok_events" "$ok_offered" "$(div "$ok_events" "$ok_offered")" ">= 0.95" "$(met "$(div "$ok_events" "$ok_offered")" 0.95 ">=")"
row "  its ack latency p50 / p99 ms" "$ok_p50" "$ok_p99" "-" "-" "-"
row "ack latency p50 / p99 ms at half that load" "$half_p50" "$half_p99" "-" "-" "-"
r=$(div "$writer_rate" "$raw_rate")
row "writer events/s ($k/report) vs raw SQLite" "$writer_rate" "$raw_rate" "$r" ">= 0.80" "$(met "$r" 0.80 ">=")"
row "edged end-to-end events/s vs raw SQLite" "$e2e_events" "$raw_rate" "$(div "$e2e_events" "$raw_rate")" "-" "-"
row "disk bytes written per event (edged)" "$wear" "$raw_wear" "$(div "$wear" "$raw_wear")" "-" "-"
row "WAL bytes appended per event (edged)" "$wal_per_event" "-" "-" "-" "-"
row "disk bytes per event (writer alone)" "$writer_wear" "$raw_wear" "$(div "$writer_wear" "$raw_wear")" "-" "-"
if ((q_done)); then
  g() { field "$1" " $gen_out"; }
  r=$(div "$(g list_ms)" "$(g sql_list_ms)")
  row "24 h of one device: list API ms vs SQL" "$(g list_ms)" "$(g sql_list_ms)" "$r" "<= 1.50" "$(met "$r" 1.5 "<=")"
  r=$(div "$(g sql_stats_ms)" "$(g stats_ms)" %.1f)
  row "hourly counts 7 days: stats API ms vs SQL" "$(g stats_ms)" "$(g sql_stats_ms)" "${r}x" ">= 100x" "$(met "$r" 100 ">=")"
  row "history: events generated" "$(g events)" "-" "-" "-" "-"
  row "export read side alone: rows/s (API pages)" "$(div "$(g export_rows)" "$(g export_s)" %.0f)" "-" "-" "-" "-"
  row "history: generation s (rows, rollups)" "$(g gen_s)+$(g rollup_s)" "-" "-" "-" "-"
  row "history: database size" "$(awk -v b="$(g db_bytes)" 'BEGIN { printf "%.0f MiB", b / 1048576 }')" \
    "$(div "$(g db_bytes)" "$(g events)" "%.0f B/ev")" "-" "-" "-"
  q_note=$(printf 'list: %s rows API, %s SQL; stats: %s groups from %s, %s events vs %s by SQL; medians, warm cache' \
    "$(g list_rows)" "$(g sql_list_rows)" "$(g stats_groups)" \
    "$(sed -n 's/.* stats_source=\([a-z_]*\).*/\1/p' <<<"$gen_out")" "$(g stats_events)" "$(g sql_stats_events)")
fi
if ((x_done)); then
  r=$(div "$x_during" "$x_base")
  row "ingest events/s during export vs without" "$x_during" "$x_base" "$r" ">= 0.90" "$(met "$r" 0.90 ">=")"
fi
printf '\nNotes:\n'
if ((peer_kept)); then
  if [[ "$last_try" != "$best_rate" ]]; then
    printf -- '- broker-limited load: the peer kept up with %s/node/s, not with %s/node/s\n' "$best_rate" "$last_try"
  else
    printf -- '- the peer kept up with every rate tried (up to %s/node/s): the broker limit is above\n' "$best_rate"
  fi
else
  printf -- '- the peer did not keep up even with %s/node/s: its figures are what it reached\n' "$best_rate"
fi
printf -- '- half load: %s events/s offered, %s acked\n' "$half_offered" "$half_events"
printf -- '- events per report message %s; events per transaction: edged %s, writer alone %s\n' \
  "$per_report" "$(div "$d_stored" "$d_tx" %.1f)" "$writer_tx"
printf -- '- edged reports deferred (not acked, sent again): %s; raw SQLite: the same rows, no bookkeeping\n' \
  "${edged_deferred:-?}"
((q_done)) && printf -- '- queries: %s\n' "$q_note"
((x_done)) && printf -- '- export: %s; load %s events/s offered (what edged sustained)\n' "$x_note" "$ok_offered"
((q_done)) || printf -- '- queries and export skipped: tests/bench/anomaly-gen not built\n'
exit 0
