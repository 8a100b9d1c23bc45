# Shared by the fleet benchmarks (bench-registry.sh, bench-board.sh): a
# private world in a temp dir — mosquitto configured by `edgectl
# broker-config`, edged, the simulator — with every process stopped by PID
# on exit and every wait bounded. Source it after setting `bench` (the
# script's name for messages), `nodes` and `build`.
#
# Provides: bench_binaries, bench_fd_limit, bench_dir, pids+=(...), stop_pid,
# now, elapsed, mib, status_kib, cpu_ticks, write_bytes, fail,
# bench_start_broker [broker-config args...] (sets port, broker_pid),
# bench_edged_conf FILE [SECTION.KEY=VALUE...],
# bench_start_edged CONF (sets edged_pid), status_int KEY, wait_online N S.

edged="$build/daemon/edged/edged"
edgectl="$build/daemon/edgectl/edgectl"
sim="$build/tests/sim/edge-sim"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)

bench_binaries() { # extra binaries the script needs
  local b
  for b in "$edged" "$edgectl" "$sim" "$mosquitto" "$@"; do
    [[ -x "$b" ]] || { echo "$bench: missing $b" >&2; exit 1; }
  done
}

# One socket per node in the simulator and in the broker.
bench_fd_limit() {
  ulimit -n "$(ulimit -Hn)"
  if (($(ulimit -n) < nodes + 200)); then
    echo "$bench: need $((nodes + 200)) file descriptors, hard limit is $(ulimit -Hn)" >&2
    exit 1
  fi
}

pids=()
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  pids=()
}

# A temp dir (on a real disk: /var/tmp, so write accounting means something),
# removed with everything started in it at exit.
bench_dir() {
  dir=$(mktemp -d "/var/tmp/edged-$bench-XXXXXX")
  chmod 0755 "$dir"
  sock="$dir/run/edged.sock"
  mkdir -p "$dir/run" "$dir/broker"
  # mosquitto started as root writes its persistence file as its own user
  if ((EUID == 0)) && id mosquitto >/dev/null 2>&1; then chown mosquitto "$dir/broker"; fi
  trap 'stop_all; rm -rf "$dir"' EXIT
  trap 'exit 130' INT TERM
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; } # pid field
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime+stime
write_bytes() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
fail() {
  echo "$bench: $*" >&2
  for f in "$dir"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
  exit 1
}

bench_start_broker() { # extra `edgectl broker-config` arguments
  local p
  port=
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { port=$p; break; }
  done
  [[ -n "$port" ]] || fail "no free port"
  "$edgectl" broker-config --port "$port" --bind 127.0.0.1 --max-nodes "$nodes" \
    --persistence-dir "$dir/broker" "$@" >"$dir/mosquitto.conf" || fail "edgectl broker-config"
  "$mosquitto" -c "$dir/mosquitto.conf" </dev/null >"$dir/mosquitto.log" 2>&1 &
  broker_pid=$!
  pids+=("$broker_pid")
  for i in $(seq 1 100); do
    port_in_use "$port" && return 0
    sleep 0.05
  done
  fail "mosquitto did not start"
}

# edged's configuration for the private world: log, paths under $dir, the
# broker on 127.0.0.1:$port, registry.max_devices for the fleet; then each
# extra argument SECTION.KEY=VALUE as a section of its own.
bench_edged_conf() { # file [SECTION.KEY=VALUE...]
  local file=$1 kv
  shift
  cat >"$file" <<EOF
[log]
level = notice

[paths]
state_dir = $dir/state
runtime_dir = $dir/run

[mqtt]
host = 127.0.0.1
port = $port

[registry]
max_devices = $((nodes > 10000 ? nodes : 10000))
EOF
  for kv in "$@"; do
    printf '\n[%s]\n%s = %s\n' "${kv%%.*}" "$(sed 's/^[^.]*\.\([^=]*\)=.*/\1/' <<<"$kv")" \
      "${kv#*=}" >>"$file"
  done
}

bench_start_edged() { # config file; waits until edgectl status answers
  "$edged" -c "$1" </dev/null >>"$dir/edged.log" 2>&1 &
  edged_pid=$!
  pids+=("$edged_pid")
  for _ in $(seq 1 200); do
    "$edgectl" -s "$sock" status >/dev/null 2>&1 && return 0
    kill -0 "$edged_pid" 2>/dev/null || fail "edged exited"
    sleep 0.05
  done
  fail "edged not ready in 10 s"
}

status_int() { # the first integer named KEY in `edgectl status --json`
  "$edgectl" -s "$sock" --json status 2>/dev/null |
    sed -n "s/^ *\"$1\": \([0-9]*\).*/\1/p" | head -n 1
}

wait_online() { # count timeout_s → prints the seconds it took, or fails
  local want=$1 limit=$2 t0 n
  t0=$(now)
  for _ in $(seq 1 $((limit * 10))); do
    n=$(status_int online)
    if [[ "${n:-0}" -ge "$want" ]]; then elapsed "$t0" "$(now)"; return 0; fi
    sleep 0.1
  done
  fail "not all $want nodes online within $limit s (last: ${n:-?})"
}

# ---- OTA fleet benchmarks (bench-ota.sh, bench-rollout.sh)

# The model packed as its next version (counter + 1) and added to edged;
# sets ref (name@version) and pkg_bytes. Uses: counter, name, model, keys,
# dir, sock, edgectl.
bench_next_package() {
  counter=$((counter + 1))
  local pkg="$dir/$name-$counter.pkg"
  "$edgectl" model pack "$model" --name "$name" --version "1.0.$counter" --counter "$counter" \
    --key "$keys/bench" --out "$pkg" >>"$dir/pack.log" 2>&1 || fail "edgectl model pack"
  pkg_bytes=$(stat -c %s "$pkg")
  "$edgectl" -s "$sock" models add "$pkg" >>"$dir/models.log" 2>&1 || fail "edgectl models add"
  ref="$name@1.0.$counter"
}

# N nodes with the OTA receiver (TCP_NODELAY as edged's client: an ack
# goes out at once), trusting $trust, and any further edge-sim arguments;
# returns once all are registered (bounded); sets sim_pid (also in pids,
# stopped at exit).
bench_start_ota_sim() { # log count id_prefix duration_s [edge-sim args...]
  local args=(--port "$port" --count "$2" --id-prefix "$3" --connect-rate 2000
    --max-pending 200 --heartbeat-s 60 --keepalive-s 60 --duration-s "$4"
    --tcp-nodelay --ota-trust "$trust" "${@:5}")
  "$sim" "${args[@]}" </dev/null >"$1" 2>&1 &
  sim_pid=$!
  pids+=("$sim_pid")
  for _ in $(seq 1 1200); do # 120 s
    grep -q '^sim: registered all' "$1" 2>/dev/null && return 0
    kill -0 "$sim_pid" 2>/dev/null || fail "edge-sim exited"
    sleep 0.1
  done
  fail "not all $2 nodes registered within 120 s"
}
