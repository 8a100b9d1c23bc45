#!/usr/bin/env bash
# Central forwarding benchmark: how fast edged moves its local anomaly
# history into the central PostgreSQL, next to a plain client doing the same
# inserts, and how it catches up after a database outage while a fleet keeps
# reporting.
#
# In one run, with a private PostgreSQL (initdb in the temp dir, the server's
# default durability: fsync=on, synchronous_commit=on, full_page_writes=on,
# so edged and the peer pay the same commit cost) and a private mosquitto on
# 127.0.0.1, on a real disk (/var/tmp):
#   1. Forwarding rate. tests/bench/anomaly-gen writes a local history of
#      --events events (default 200,000; 1,000 devices over 30 days). The
#      peer, tests/bench/central-insert, reads the same rows from that file
#      and inserts them on one libpq connection with plain multi-row
#      `INSERT ... VALUES (...),(...) ON CONFLICT DO NOTHING`, 500 rows per
#      statement, one transaction each, into a database of its own (schema
#      from `edgectl central init`): seconds from its connect to its last
#      commit. Then edged, on a copy of the file, forwarding with
#      central.batch_rows=500 into another fresh database: seconds from
#      edged's start until its last batch committed (the central rows'
#      forwarded_ms, the send time of each batch, plus one average batch
#      cycle), once its status showed every event forwarded
#      (central.forwarded_events, then backlog_events 0) and the central row
#      count was checked. Each side --reps times (default 5), alternating
#      which goes first; the medians are compared. Goal: edged >= 80 % of
#      the peer's rows/s. The same again with 2000 rows per batch on both
#      sides (--no-sweep skips it).
#   2. Catch-up after an outage. --nodes simulated nodes (default 1,000)
#      each detect one anomaly every --node-interval-s seconds (default 5:
#      a node that reports a few times a minute; 200 events/s for the
#      fleet), reports QoS 1, to a fresh edged forwarding with the default
#      central settings (batch_rows 500, retry 1 s doubling to 60 s). After
#      a steady window, PostgreSQL is stopped (fast shutdown) for
#      --outage-s seconds (default 300) while the fleet keeps reporting,
#      then started again. Catch-up: from the server accepting connections
#      until status shows backlog_events 0, split into the forwarder's
#      reconnect (its backoff) and the drain; peak backlog and lag; acked
#      events/s (simulator) during the outage and during the drain vs the
#      steady window before (forwarding never slows ingest: goal >= 0.95);
#      at the end the central rows of the gateway equal edged's local
#      events (exactly once).
# Prints one table: measure, ours, peer/limit, ratio, goal, met?, and the
# command used. Every wait is bounded; everything started is stopped by PID
# (PostgreSQL with a fast shutdown); the temp dir is removed at exit.
#
#   scripts/bench-central.sh [--events N] [--outage-s S] [--nodes N]
#        [--node-interval-s S] [--steady-s S] [--reps R] [--no-sweep] [--quick]
#        [--edged-set SECTION.KEY=VALUE]... [--build-dir DIR] [--no-build]
#        [--keep-dir]
#
# --quick: 20,000 events, 200 nodes, a 20 s outage, a 10 s steady window (a
# smoke run). --steady-s: the window before the outage
# (default: the outage, at most 60 s). --edged-set adds a setting to every
# edged configuration. --keep-dir leaves the temp dir (logs, databases)
# behind. As root the server runs as user postgres (setpriv). The full run
# takes about 10 minutes and a few hundred MB in /var/tmp.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmdline="scripts/bench-central.sh${*:+ $*}"
events=200000
events_set=0
outage_s=300
outage_set=0
nodes=1000
nodes_set=0
interval_s=5
steady_s=
reps=5
sweep=1
quick=0
edged_set=()
build="$root/build"
do_build=1
keep_dir=0

while (($#)); do
  case "$1" in
    --events) events=$2; events_set=1; shift 2 ;;
    --outage-s) outage_s=$2; outage_set=1; shift 2 ;;
    --nodes) nodes=$2; nodes_set=1; shift 2 ;;
    --node-interval-s) interval_s=$2; shift 2 ;;
    --steady-s) steady_s=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --no-sweep) sweep=0; shift ;;
    --quick) quick=1; shift ;;
    --edged-set) edged_set+=("$2"); shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    --keep-dir) keep_dir=1; shift ;;
    -h|--help) sed -n '2,56p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-central: unknown option $1" >&2; exit 2 ;;
  esac
done
if ((quick)); then
  ((events_set)) || events=20000
  ((outage_set)) || outage_s=20
  ((nodes_set)) || nodes=200
  [[ -n "$steady_s" ]] || steady_s=10
fi
[[ "$events" =~ ^[0-9]+$ ]] && ((events >= 1000 && events <= 20000000)) ||
  { echo "bench-central: --events must be 1000..20000000" >&2; exit 2; }
[[ "$outage_s" =~ ^[0-9]+$ ]] && ((outage_s >= 5 && outage_s <= 3600)) ||
  { echo "bench-central: --outage-s must be 5..3600" >&2; exit 2; }
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 10000)) ||
  { echo "bench-central: --nodes must be 1..10000" >&2; exit 2; }
[[ "$interval_s" =~ ^[0-9]+([.][0-9]+)?$ ]] &&
  awk -v s="$interval_s" 'BEGIN { exit !(s >= 0.01 && s <= 3600) }' ||
  { echo "bench-central: --node-interval-s must be 0.01..3600" >&2; exit 2; }
[[ "$reps" =~ ^[0-9]+$ ]] && ((reps >= 1 && reps <= 15)) ||
  { echo "bench-central: --reps must be 1..15" >&2; exit 2; }
[[ -n "$steady_s" ]] || steady_s=$((outage_s < 60 ? outage_s : 60))
[[ "$steady_s" =~ ^[0-9]+$ ]] && ((steady_s >= 2 && steady_s <= 600)) ||
  { echo "bench-central: --steady-s must be 2..600" >&2; exit 2; }

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim \
    tests/bench/anomaly-gen tests/bench/central-insert >/dev/null
fi
bench=bench-central
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
gen_bin="$build/tests/bench/anomaly-gen"
peer_bin="$build/tests/bench/central-insert"
psql_bin=$(command -v psql || true)
bench_binaries "$gen_bin" "$peer_bin" "$psql_bin"
bench_fd_limit

# The newest PostgreSQL server of Debian's layout, or EDGE_PG_BINDIR.
pgbin=${EDGE_PG_BINDIR:-}
if [[ -z "$pgbin" ]]; then
  pgbin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
fi
[[ -x "$pgbin/postgres" && -x "$pgbin/initdb" ]] ||
  { echo "$bench: no PostgreSQL server binaries (install postgresql or set EDGE_PG_BINDIR)" >&2; exit 1; }
# The server refuses root: it runs as postgres, exec'd in place (setpriv),
# so the PID started is the postmaster's.
as_pg=()
if ((EUID == 0)); then
  id postgres >/dev/null 2>&1 || { echo "$bench: running as root and there is no postgres user" >&2; exit 1; }
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

bench_dir
pg_pid=
# A fast shutdown (SIGINT: backends are told to end, clients cut off);
# SIGQUIT, then SIGKILL, each bounded.
pg_stop() {
  local sig
  [[ -n "$pg_pid" ]] || return 0
  for sig in INT QUIT KILL; do
    kill -"$sig" "$pg_pid" 2>/dev/null || break
    for _ in $(seq 1 300); do kill -0 "$pg_pid" 2>/dev/null || break 2; sleep 0.1; done
    echo "$bench: postgres (pid $pg_pid) still up after SIG$sig" >&2
  done
  wait "$pg_pid" 2>/dev/null || true
  pg_pid=
}
if ((keep_dir)); then
  trap 'stop_all; pg_stop; echo "$bench: files kept in $dir" >&2' EXIT
else
  trap 'stop_all; pg_stop; rm -rf "$dir"' EXIT
fi

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2" | tail -n 1; } # KEY LINE
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b > 0) printf f, a / b; else print "n/a" }'; }
now_ms() { date +%s%3N; }
# The central block of `edgectl status --json` (flat), and one value of it.
# An answer that failed (edged busy, a timeout) is empty: the callers poll.
central_status() {
  { "$edgectl" -s "$sock" --json status 2>/dev/null || true; } | sed -n '/^ *"central": {/,/}/p'
}
central_status_now() { # an answer, bounded: 5 s
  local b
  for _ in $(seq 1 50); do
    b=$(central_status)
    [[ -n "$b" ]] && { printf '%s\n' "$b"; return 0; }
    sleep 0.1
  done
  fail "edgectl status did not answer within 5 s"
}
cval() { sed -n "s/^ *\"$1\": \([^,]*\),\{0,1\}$/\1/p" <<<"$2" | head -n 1; } # KEY BLOCK

# ---- PostgreSQL: one cluster, a database per measurement
pg_port=
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 40000))
  port_in_use "$p" || { pg_port=$p; break; }
done
[[ -n "$pg_port" ]] || fail "no free port for PostgreSQL"
mkdir -p "$dir/pg"
((EUID == 0)) && chown postgres "$dir/pg"
echo "$bench: initdb ..." >&2
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/pg/data" -U postgres -A trust -E UTF8 --locale=C \
  --no-instructions </dev/null >"$dir/initdb.log" 2>&1 || fail "initdb failed"

pg_start() {
  "${as_pg[@]}" "$pgbin/postgres" -D "$dir/pg/data" -p "$pg_port" -k "$dir/pg" \
    -c listen_addresses=127.0.0.1 -c log_min_messages=warning \
    -c 'log_line_prefix=%m [%p] ' </dev/null >>"$dir/pg.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 1 600); do # 60 s: recovery after a fast shutdown is quick
    "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -t 1 && return 0
    kill -0 "$pg_pid" 2>/dev/null || fail "postgres exited"
    sleep 0.1
  done
  fail "postgres did not accept connections within 60 s"
}
conninfo() { echo "host=127.0.0.1 port=$pg_port dbname=$1 user=postgres connect_timeout=10"; }
sql() { # DB SQL → the value(s), unaligned
  "$psql_bin" -X -q -At -v ON_ERROR_STOP=1 -d "$(conninfo "$1")" -c "$2" 2>>"$dir/psql.log" ||
    fail "psql on $1: $2"
}
new_db() { # name: a fresh database with the central schema
  sql postgres "CREATE DATABASE $1" >/dev/null
  "$edgectl" central init --conninfo "$(conninfo "$1")" >>"$dir/central-init.log" 2>&1 ||
    fail "edgectl central init ($1)"
}
pg_start
sql postgres "SHOW fsync" | grep -qx on || fail "PostgreSQL runs without fsync"

bench_start_broker

# edged's configuration: forwarding as gateway bench to DB, state in STATE.
edged_conf() { # file state_dir db [SECTION.KEY=VALUE...]
  local file=$1 state=$2 db=$3
  shift 3
  bench_edged_conf "$file" "central.conninfo=$(conninfo "$db")" central.gateway_id=bench \
    store.quick_check_on_start=false "$@" ${edged_set[@]+"${edged_set[@]}"}
  sed -i -e "s|^state_dir = .*|state_dir = $state|" "$file"
}

# ---- 1. forwarding rate: the peer, then edged, on the same rows
echo "$bench: generating $events events ..." >&2
mkdir -p "$dir/gen"
gen_out=$("$gen_bin" --db "$dir/gen/edged.db" --events "$events" --devices 1000 --days 30 \
  --no-queries 2>"$dir/gen.log") || fail "anomaly-gen failed: $gen_out"
echo "$gen_out" >>"$dir/gen.log"
sync "$dir/gen"/edged.db* # written with synchronous=OFF: on disk before anything is timed
local_rows=$(sqlite3 "$dir/gen/edged.db" "SELECT count(*) FROM anomaly_event")
((local_rows == events)) || fail "the generated history holds $local_rows events, not $events"

# The peer at B rows per statement into its own database: sets peer_rate.
run_peer() { # batch rep
  local db="peer$1_$2" out
  new_db "$db"
  sql postgres CHECKPOINT >/dev/null
  echo "$bench: peer (central-insert), batches of $1 ..." >&2
  out=$("$peer_bin" --db "$dir/gen/edged.db" --conninfo "$(conninfo "$db")" --gateway bench \
    --batch "$1" 2>>"$dir/peer.log") || fail "central-insert failed: $out"
  echo "$out" >>"$dir/peer.log"
  [[ "$(field inserted "$out")" == "$events" ]] || fail "the peer inserted $(field inserted "$out") of $events"
  peer_rate=$(field rows_per_s "$out")
  peer_s=$(field seconds "$out")
  sql postgres "DROP DATABASE $db" >/dev/null
}

# edged at B rows per batch on a copy of the history into its own
# database: sets ours_rate (start → every event forwarded), ours_s,
# ours_steady (first → last batch, from the central forwarded_ms) and
# ours_startup_s (start → first batch sent).
run_edged() { # batch rep
  local db="ours$1_$2" state="$dir/state$1" t0 t1 n=0 st c first last
  new_db "$db"
  rm -rf "$state"
  cp -a "$dir/gen" "$state"
  sync "$state"/edged.db* # the copy's writeback would compete with the commits measured
  edged_conf "$dir/edged$1.conf" "$state" "$db" "central.batch_rows=$1"
  sql postgres CHECKPOINT >/dev/null
  echo "$bench: edged forwarding, batches of $1 ..." >&2
  t0=$(now_ms)
  bench_start_edged "$dir/edged$1.conf"
  # forwarded_events moves at each commit: polled every 0.2 s (a light
  # load: the end time comes from the central rows), bounded by 1,000
  # rows/s at the least.
  for _ in $(seq 1 $((events / 200 + 150))); do
    st=$(central_status)
    n=$(cval forwarded_events "$st")
    if [[ "${n:-0}" -ge "$events" ]]; then t1=$(now_ms); break; fi
    kill -0 "$edged_pid" 2>/dev/null || fail "edged exited"
    sleep 0.2
  done
  [[ -n "${t1:-}" ]] || fail "edged forwarded ${n:-?} of $events events in time (last error: $(cval last_error "$st"))"
  for _ in $(seq 1 50); do # the backlog figure is refreshed once a second
    st=$(central_status)
    [[ "$(cval backlog_events "$st")" == 0 ]] && break
    sleep 0.1
  done
  [[ "$(cval backlog_events "$st")" == 0 ]] || fail "backlog_events $(cval backlog_events "$st") after every event was forwarded"
  stop_pid "$edged_pid"
  c=$(sql "$db" "SELECT count(*) || ' ' || min(forwarded_ms) || ' ' || max(forwarded_ms) FROM anomaly_event")
  read -r n first last <<<"$c"
  ((n == events)) || fail "the central database holds $n events, not $events"
  # forwarded_ms is when a batch was sent: the last one's commit is taken
  # to need one average batch cycle (first -> last over the batches between).
  local nb=$(((events + $1 - 1) / $1))
  ours_s=$(awk -v t0="$t0" -v a="$first" -v b="$last" -v nb="$nb" \
    'BEGIN { printf "%.3f", (b - t0 + (nb > 1 ? (b - a) / (nb - 1) : 0)) / 1000 }')
  ours_rate=$(div "$events" "$ours_s" %.0f)
  ours_steady=$(div $((events - $1)) "$(awk -v a="$first" -v b="$last" 'BEGIN { print (b - a) / 1000 }')" %.0f)
  ours_startup_s=$(awk -v a="$t0" -v b="$first" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
  rm -rf "$state"
  sql postgres "DROP DATABASE $db" >/dev/null
}

# Both sides --reps times, alternating which goes first (the disk and a
# shared machine drift); the medians are compared.
median() { tr -s ' ' '\n' <<<"$*" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { tr -s ' ' '\n' <<<"$*" | sed '/^$/d' | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { print a "-" b }'; }
measure_batch() { # batch: sets m_peer, m_ours, m_steady, m_peer_s, m_ours_s, m_startup (medians), m_*_all
  local r peers='' ours='' steadies='' peer_ss='' ours_ss='' startups=''
  for r in $(seq 1 "$reps"); do
    if ((r % 2)); then
      run_peer "$1" "$r"
      run_edged "$1" "$r"
    else
      run_edged "$1" "$r"
      run_peer "$1" "$r"
    fi
    peers+=" $peer_rate" ours+=" $ours_rate" steadies+=" $ours_steady"
    peer_ss+=" $peer_s" ours_ss+=" $ours_s" startups+=" $ours_startup_s"
  done
  m_peer=$(median "$peers") m_ours=$(median "$ours") m_steady=$(median "$steadies")
  m_peer_s=$(median "$peer_ss") m_ours_s=$(median "$ours_ss") m_startup=$(median "$startups")
  m_peer_all=$(spread "$peers") m_ours_all=$(spread "$ours")
}
measure_batch 500
peer500=$m_peer ours500=$m_ours steady500=$m_steady peer500_s=$m_peer_s ours500_s=$m_ours_s
startup500=$m_startup spread500="edged $m_ours_all, peer $m_peer_all"
if ((sweep)); then
  measure_batch 2000
  peer2000=$m_peer ours2000=$m_ours steady2000=$m_steady
  spread2000="edged $m_ours_all, peer $m_peer_all"
fi

# ---- 2. catch-up after an outage, the fleet reporting throughout
rate=$(awk -v s="$interval_s" 'BEGIN { printf "%g", 1 / s }')
offered=$(awk -v n="$nodes" -v r="$rate" 'BEGIN { printf "%.0f", n * r }')
catch_limit=$((outage_s + 180)) # a 60 s backoff, then the drain
echo "$bench: $nodes nodes x 1 event / ${interval_s} s, edged forwarding (default central settings) ..." >&2
new_db fleet
mkdir -p "$dir/state"
edged_conf "$dir/edged.conf" "$dir/state" fleet
bench_start_edged "$dir/edged.conf"
sim_log="$dir/sim.log"
"$sim" --port "$port" --count "$nodes" --connect-rate 2000 --max-pending 200 \
  --heartbeat-s 60 --keepalive-s 60 --anomaly-rate "$rate" --tcp-nodelay \
  --duration-s $((steady_s + outage_s + catch_limit + 300)) </dev/null >"$sim_log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 1 1200); do # 120 s
  grep -q '^sim: registered all' "$sim_log" && break
  kill -0 "$sim_pid" 2>/dev/null || fail "edge-sim exited"
  sleep 0.1
done
grep -q '^sim: registered all' "$sim_log" || fail "not all $nodes nodes registered within 120 s"

# Ask the simulator for its counters (SIGUSR1) and wait for the new
# ack-latency line (it ends the block); prints "STATS_LINE|LATENCY_LINE".
sim_stats() {
  local n0 n
  n0=$(grep -c '^sim: ack-latency' "$sim_log" || true)
  kill -USR1 "$sim_pid"
  for _ in $(seq 1 100); do # 10 s at most
    n=$(grep -c '^sim: ack-latency' "$sim_log" || true)
    ((n > n0)) && break
    sleep 0.1
  done
  ((n > n0)) || fail "edge-sim printed no stats"
  printf '%s|%s\n' "$(grep '^sim: stats' "$sim_log" | tail -n 1)" \
    "$(grep '^sim: ack-latency' "$sim_log" | tail -n 1)"
}
# acked events/s between two sim_stats answers, and the p99 of the second
acked_rate() { # A B
  local la=${1%%|*} lb=${2%%|*}
  div $(($(field events_acked "$lb") - $(field events_acked "$la"))) \
    "$(awk -v a="$(field seconds "$la")" -v b="$(field seconds "$lb")" 'BEGIN { print b - a }')" %.0f
}
p99() { field p99_ms "${1#*|}"; }
# edged's CPU (all threads) as % of one core between two cpu_ticks samples
# taken at now_ms A_MS and B_MS.
hz=$(getconf CLK_TCK)
cpu_pct() { # ticks_a ticks_b ms_a ms_b
  awk -v a="$1" -v b="$2" -v ta="$3" -v tb="$4" -v hz="$hz" \
    'BEGIN { if (tb > ta) printf "%.0f", (b - a) / hz * 100000 / (tb - ta); else print "n/a" }'
}

# Past the connect burst, forwarding under way.
for _ in $(seq 1 300); do # 30 s
  st=$(central_status)
  [[ "$(cval connected "$st")" == true && "$(cval forwarded_events "$st")" -gt 0 ]] && break
  sleep 0.1
done
[[ "$(cval connected "$st")" == true ]] || fail "edged did not connect to PostgreSQL (last error: $(cval last_error "$st"))"
sleep 3

# Samples status once a second for S seconds: the highest backlog and lag
# into max_backlog, max_lag (kept across calls).
max_backlog=0 max_lag=0
sample_for() { # seconds
  local end=$(($(date +%s) + $1)) b l
  while (($(date +%s) < end)); do
    st=$(central_status)
    b=$(cval backlog_events "$st") l=$(cval lag_ms "$st")
    ((${b:-0} > max_backlog)) && max_backlog=$b
    ((${l:-0} > max_lag)) && max_lag=$l
    sleep 1
  done
}

echo "$bench: steady window, ${steady_s} s ..." >&2
s_a=$(sim_stats)
c_a=$(cpu_ticks "$edged_pid") t_a=$(now_ms)
sample_for "$steady_s"
c_b=$(cpu_ticks "$edged_pid") t_b=$(now_ms)
s_b=$(sim_stats)
steady_rate=$(acked_rate "$s_a" "$s_b") steady_p99=$(p99 "$s_b")
steady_cpu=$(cpu_pct "$c_a" "$c_b" "$t_a" "$t_b")
steady_backlog=$max_backlog steady_lag=$max_lag
max_backlog=0 max_lag=0

echo "$bench: PostgreSQL stopped for ${outage_s} s ..." >&2
errors0=$(cval errors "$(central_status_now)")
pg_stop
down_t=$(now_ms)
s_c=$(sim_stats)
c_a=$(cpu_ticks "$edged_pid") t_a=$(now_ms)
sample_for "$outage_s"
c_b=$(cpu_ticks "$edged_pid") t_b=$(now_ms)
s_d=$(sim_stats)
outage_rate=$(acked_rate "$s_c" "$s_d") outage_p99=$(p99 "$s_d")
outage_cpu=$(cpu_pct "$c_a" "$c_b" "$t_a" "$t_b")
st=$(central_status_now)
e=$(cval errors "$st")
outage_errors=$((${e:-0} - ${errors0:-0}))
[[ "$(cval connected "$st")" == false ]] || fail "the forwarder still reports connected during the outage"

echo "$bench: PostgreSQL started again; catching up ..." >&2
pg_start
up_t=$(now_ms)
conn_t='' done_t='' s_e='' b=''
for _ in $(seq 1 $((catch_limit * 10))); do
  st=$(central_status)
  b=$(cval backlog_events "$st") l=$(cval lag_ms "$st")
  ((${b:-0} > max_backlog)) && max_backlog=$b
  ((${l:-0} > max_lag)) && max_lag=$l
  if [[ -z "$conn_t" && "$(cval connected "$st")" == true ]]; then
    conn_t=$(now_ms)
    c_a=$(cpu_ticks "$edged_pid") t_a=$conn_t
    s_e=$(sim_stats)
  fi
  if [[ -n "$conn_t" && "$b" == 0 ]]; then done_t=$(now_ms); break; fi
  sleep 0.1
done
[[ -n "$done_t" ]] || fail "no catch-up within $catch_limit s (backlog ${b:-?}, last error: $(cval last_error "$st"))"
# Ingest from the reconnect over the drain, and at least 10 s (a drain of a
# second or two holds too few acks to compare).
while (($(now_ms) < conn_t + 10000)); do sleep 0.2; done
c_b=$(cpu_ticks "$edged_pid") t_b=$(now_ms)
s_f=$(sim_stats)
after_cpu=$(cpu_pct "$c_a" "$c_b" "$t_a" "$t_b")
drain_rate=$(acked_rate "$s_e" "$s_f") drain_p99=$(p99 "$s_f")
drain_span=$(awk -v a="$(field seconds "${s_e%%|*}")" -v b="$(field seconds "${s_f%%|*}")" 'BEGIN { printf "%.1f", b - a }')
reconnect_s=$(awk -v a="$up_t" -v b="$conn_t" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
drain_s=$(awk -v a="$conn_t" -v b="$done_t" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
catchup_s=$(awk -v a="$up_t" -v b="$done_t" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
# The precise end of the drain: the last batch holding an event edged had
# received before the server came back.
last_old=$(sql fleet "SELECT coalesce(max(forwarded_ms), 0) FROM anomaly_event WHERE received_ms < $up_t")
drain_exact_s=$(awk -v a="$up_t" -v b="$last_old" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
outage_events=$(sql fleet "SELECT count(*) FROM anomaly_event WHERE received_ms >= $down_t AND received_ms < $up_t")

# Exactly once: the fleet calmed (stopped), everything forwarded, the
# central rows equal the local ones.
stop_pid "$sim_pid"
for _ in $(seq 1 600); do # 60 s
  st=$(central_status)
  [[ "$(cval backlog_events "$st")" == 0 && "$(cval lag_ms "$st")" == 0 ]] && break
  sleep 0.1
done
stop_pid "$edged_pid"
local_n=$(sqlite3 "$dir/state/edged.db" "SELECT count(*) FROM anomaly_event")
central_n=$(sql fleet "SELECT count(*) FROM anomaly_event WHERE gateway = 'bench'")
dups=$(cval duplicates "$st")

# ---- the table
row() { printf '%-46s %14s %14s %8s %8s %5s\n' "$@"; }
met() { awk -v r="$1" -v g="$2" -v d="$3" 'BEGIN { if (r == "n/a") print "?";
  else if ((d == ">=" && r + 0 >= g + 0) || (d == "<=" && r + 0 <= g + 0)) print "yes"; else print "NO" }'; }
printf '\nedged central forwarding benchmark: %d events; %d nodes x 1 event / %s s (%s/s); outage %d s\n' \
  "$events" "$nodes" "$interval_s" "$offered" "$outage_s"
row "measure" "ours" "peer/limit" "ratio" "goal" "met?"
row "----------------------------------------------" "--------------" "--------------" \
  "--------" "--------" "-----"
r=$(div "$ours500" "$peer500")
row "rows/s into PostgreSQL, batches of 500" "$ours500" "$peer500" "$r" ">= 0.80" "$(met "$r" 0.80 ">=")"
row "  seconds for all rows (edged: from start)" "$ours500_s" "$peer500_s" "-" "-" "-"
row "  edged first -> last batch rows/s" "$steady500" "$peer500" "$(div "$steady500" "$peer500")" "-" "-"
if ((sweep)); then
  r=$(div "$ours2000" "$peer2000")
  row "rows/s into PostgreSQL, batches of 2000" "$ours2000" "$peer2000" "$r" ">= 0.80" "$(met "$r" 0.80 ">=")"
  row "  edged first -> last batch rows/s" "$steady2000" "$peer2000" "$(div "$steady2000" "$peer2000")" "-" "-"
  row "  batch 2000 vs 500 (edged; peer)" "$(div "$ours2000" "$ours500")x" "$(div "$peer2000" "$peer500")x" "-" "-" "-"
fi
row "catch-up s: server up -> backlog 0" "$catchup_s" "-" "-" "-" "-"
row "  reconnect s (forwarder backoff)" "$reconnect_s" "-" "-" "-" "-"
row "  drain s: connected -> backlog 0" "$drain_s" "-" "-" "-" "-"
row "  server up -> last pre-restart event, s" "$drain_exact_s" "-" "-" "-" "-"
row "peak backlog events (stored in the outage)" "$max_backlog" "$outage_events" "-" "-" "-"
row "peak lag s" "$(div "$max_lag" 1000 %.0f)" "$outage_s" "-" "-" "-"
r=$(div "$outage_rate" "$steady_rate")
row "acked events/s: outage vs steady" "$outage_rate" "$steady_rate" "$r" ">= 0.95" "$(met "$r" 0.95 ">=")"
r=$(div "$drain_rate" "$steady_rate")
row "acked events/s: reconnect+${drain_span} s vs steady" "$drain_rate" "$steady_rate" "$r" ">= 0.95" "$(met "$r" 0.95 ">=")"
row "ack p99 ms: outage / after reconnect (steady)" "$outage_p99 / $drain_p99" "$steady_p99" "-" "-" "-"
row "edged CPU %: outage / after reconnect (steady)" "$outage_cpu / $after_cpu" "$steady_cpu" "-" "-" "-"
r=$(div "$central_n" "$local_n")
row "central events vs local (exactly once)" "$central_n" "$local_n" "$r" "= 1" \
  "$([[ "$central_n" == "$local_n" ]] && echo yes || echo NO)"

printf '\nNotes:\n'
printf -- '- PostgreSQL %s, private cluster on /var/tmp, defaults: fsync=on, synchronous_commit=on\n' \
  "$(sql postgres "SHOW server_version" | cut -d' ' -f1)"
printf -- '- peer: one libpq client, INSERT ... VALUES multi-row, prepared, autocommit (one transaction per batch), reading the same SQLite rows\n'
printf -- '- rows/s: the median of %d runs of each side, alternating which side goes first; range at 500: %s%s\n' \
  "$reps" "$spread500" "${spread2000:+; at 2000: $spread2000}"
printf -- '- edged: one statement per batch (unnest arrays, episodes, summaries and the gateway row in the same transaction); its time includes start-up (%s s to its first batch)\n' \
  "$startup500"
printf -- '- steady window %d s before the outage: peak backlog %s, peak lag %s ms\n' \
  "$steady_s" "$steady_backlog" "$steady_lag"
printf -- '- fleet: 1 event per node every %s s, QoS 1, acked after the local commit; after reconnect: the drain and at least 10 s\n' \
  "$interval_s"
printf -- '- forwarder errors counted during the outage: %s (%s/s); duplicates the central keys absorbed: %s\n' \
  "${outage_errors:-?}" "$(div "${outage_errors:-0}" "$outage_s" %.1f)" "${dups:-?}"
printf -- '- reconnect: central.retry_min_ms/retry_max_ms at their defaults (1 s doubling to 60 s, full jitter): after a long outage the forwarder tries again within a minute of the server coming back (the reconnect line); new reports do not shorten its backoff\n'
printf '\nCommand: %s\n' "$cmdline"
exit 0
