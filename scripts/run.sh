#!/usr/bin/env bash
# Quick start: build edged, then run a private mosquitto, edged and a fleet of
# simulated nodes on 127.0.0.1, all state under ./.run/. Ctrl-C stops
# everything (by PID) and leaves no process behind.
#
#   scripts/run.sh [--nodes N] [--duration-s S] [--build-dir DIR] [--no-setup]
#                  [--anonymous] [--single-site] [-- EDGE-SIM OPTIONS...]
#
# Secure by default, as in production: `edgectl broker-init` makes the
# gateway CA and the broker's identity files (.run/broker-identity), the
# broker requires a password and applies the ACL, edged admits provisioned
# nodes only, and `edgectl nodes provision` gives every node its bundle
# (.run/bundles). A tenth of the fleet (tls-*) reaches the broker over TLS;
# one node is revoked once it has registered. --anonymous runs the open
# broker without identities instead (for debugging).
#
# Without simulator options the fleet shows what edged does: most nodes
# heartbeat, 4% go silent (stale), 4% flap (reconnects counted per session),
# 2% crash once (offline by their last will, then back), node 0 sends one
# of each kind of malformed message (rejects counted by reason), and every
# node reports an anomaly every 20 s on average (stored once, acked after
# the commit: `edgectl status` shows them under anomalies).
#
# Many sites, as one site of them: edged forwards its anomaly history and a
# fleet summary into a private PostgreSQL (.run/central, `edgectl central
# init`), and the broker bridges the nodes' reports, presence and hellos to
# an upstream broker under site/run-sh/ (a one-node NATS with JetStream
# standing in for the cluster; the bridge block is `edgectl broker-config
# --bridge-...`). --single-site runs the gateway alone.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=50
duration=3600
build="$root/build"
do_setup=1
anonymous=0
multi_site=1
sim_extra=()

usage() {
  sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($#)); do
  case "$1" in
    --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
    --duration-s) duration=${2:?--duration-s needs seconds}; shift 2 ;;
    --build-dir) build=$(realpath -m "${2:?--build-dir needs a path}"); shift 2 ;;
    --no-setup) do_setup=0; shift ;;
    --anonymous) anonymous=1; shift ;;
    --single-site) multi_site=0; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; sim_extra=("$@"); break ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 10000)) ||
  { echo "run.sh: --nodes must be 1..10000" >&2; exit 2; }
if ((${#sim_extra[@]} == 0)); then
  sim_extra=(--silent 4% --flap 4% --flap-every-s 30 --crash 2% --crash-after-s 20
    --malformed all --malformed-nodes 0 --anomaly-rate 0.05 --anomaly-factor kws@1.1=10
    --offload-model "$root/tests/data/models/kws_ref_model.tflite" --offload-rate 0.5
    --offload-nodes 20% --offload-check)
fi

if ((do_setup)); then
  "$root/scripts/setup.sh"
fi

# ---- build (only what the demo runs)
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build" "$root" >/dev/null
fi
ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim \
  broker/edged_clientid.so >/dev/null
edged="$build/daemon/edged/edged"
edgectl="$build/daemon/edgectl/edgectl"
sim="$build/tests/sim/edge-sim"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# ---- private state
run="$root/.run"
mkdir -p "$run/state" "$run/run"
sock="$run/run/edged.sock"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # a free port other than $1
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if [[ $p != "${1:-}" ]] && ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  echo "run.sh: no free port found" >&2
  return 1
}
port=$(free_port)
tls_port=$(free_port "$port")
gateway_id=run-sh
if ((multi_site)); then
  pg_port=$(free_port "$port")
  nats_port=$(free_port "$port")
  nats_mqtt_port=$(free_port "$port")
  conninfo="host=127.0.0.1 port=$pg_port dbname=edged user=edged"
fi

# The fleet: the plain listener for sim-*, the TLS listener (passwords over
# TLS) for a tenth of it (tls-*), and the last sim-* node revoked once it
# registered.
tls_nodes=0
((anonymous || nodes < 2)) || tls_nodes=$(((nodes + 9) / 10))
plain_nodes=$((nodes - tls_nodes))
sim_id() { printf '%s-%05d' "$1" "$2"; }
revoked_id=$(sim_id sim $((plain_nodes - 1)))
identity="$run/broker-identity"
pki="$run/state/pki"
bundles="$run/bundles"

# The project's broker configuration, sized for this fleet; persistence and
# pid file under .run/broker (mosquitto started as root writes both as its
# own user).
mkdir -p "$run/broker"
broker_group=()
if ((EUID == 0)) && id mosquitto >/dev/null 2>&1; then
  chown mosquitto "$run/broker"
  # mosquitto drops to its own user: it reads the identity files by group.
  broker_group=(--broker-group "$(id -gn mosquitto)")
fi
config=(--port "$port" --max-nodes "$nodes" --persistence-dir "$run/broker")
if ((!anonymous)); then
  if [[ -f $pki/ca.key && -f $identity/passwd ]]; then
    echo "run.sh: reusing the gateway CA and broker identity in $run"
  elif [[ -e $pki/ca.key || -e $identity ]]; then
    echo "run.sh: $run holds a partial broker identity; remove $run and run again" >&2
    exit 1
  else
    "$edgectl" broker-init --dir "$identity" --pki-dir "$pki" --name run-sh \
      "${broker_group[@]}" >"$run/broker-init.log"
    echo "run.sh: gateway CA and broker identity created (see $run/broker-init.log)"
  fi
  # edged's broker plugin refuses a client id other than the username (the
  # broker reads it as its own user: the build tree must be readable).
  config+=(--identity-dir "$identity" --tls-listener "$tls_port" --tls-bind 127.0.0.1
    --pid-file "$run/broker/mosquitto.pid"
    --clientid-plugin "$build/broker/edged_clientid.so")
fi
if ((multi_site)); then
  # The bridge to the upstream (plain: it is on loopback here; production
  # uses --bridge-cafile and credentials, docs/upstream.md).
  config+=(--bridge-address "127.0.0.1:$nats_mqtt_port" --bridge-gateway-id "$gateway_id")
fi
"$edgectl" broker-config "${config[@]}" >"$run/mosquitto.conf"

# Model signing: one release key (made once, kept in $run/ota/keys) that
# edged and every simulated node trust; the store never runs unverified.
ota="$run/ota"
if [[ ! -f $ota/keys/release.key ]]; then
  mkdir -p "$ota/keys" "$ota/trust"
  chmod 0700 "$ota/keys"
  "$edgectl" keys generate --type ed25519 --out "$ota/keys/release" >/dev/null
  cp "$ota/keys/release.pub" "$ota/trust/release.pub"
fi

cat >"$run/edged.conf" <<CONF
# generated by scripts/run.sh; every key is documented in config/edged.conf
[paths]
state_dir = $run/state
runtime_dir = $run/run

[ota]
trust_dir = $ota/trust

# The demo soaks for minutes, not hours: the health check needs a minute of
# one node's reports (not an hour), and counts events (the demo's anomalies
# are rare and independent; a real fleet's come in bursts: episodes).
[rollout]
health_count = events
health_min_exposure_s = 60

# Forwarding to the central history (docs/multi-site.md), when it runs; a
# summary every 30 s so the demo's dashboard moves.
[central]
conninfo = ${conninfo:-}
gateway_id = $gateway_id
summary_interval_s = 30

# Every node checks one own inference in twenty with the gateway (shadow
# verification of the keyword-spotting model, enabled for offload below).
[offload]
verify_permille = 50

[mqtt]
host = 127.0.0.1
port = $port
CONF
if ((!anonymous)); then
  cat >>"$run/edged.conf" <<CONF
username = edged
password_file = $pki/mqtt-password

[registry]
admission = provisioned

[broker]
identity_dir = $identity
pki_dir = $pki
pid_file = $run/broker/mosquitto.pid
node_url = mqtt://127.0.0.1:$port
CONF
fi

# ---- processes, stopped in reverse order by PID
pids=()
names=()
stop_all() {
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: ${names[i]} (pid $pid) did not stop in 10 s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap 'echo; echo "run.sh: stopping"; stop_all' EXIT
trap 'exit 130' INT TERM

start() { # name logfile command...
  local name=$1 log=$2; shift 2
  "$@" </dev/null >>"$log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

# ---- the central side: a private PostgreSQL and a one-node upstream NATS
if ((multi_site)); then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -x $pg_bin/postgres ]] || { echo "run.sh: no PostgreSQL server (scripts/setup.sh installs it); or --single-site" >&2; exit 1; }
  pg_dir="$run/central"
  as_pg=()
  if ((EUID == 0)); then
    # The server refuses root: it runs as postgres, which must reach its dir.
    as_pg=(runuser -u postgres --)
    runuser -u postgres -- test -x "$run" || pg_dir="/var/tmp/edged-run-central"
  fi
  if [[ ! -f $pg_dir/PG_VERSION ]]; then
    mkdir -p "$pg_dir"
    ((EUID != 0)) || chown postgres "$pg_dir"
    "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir" -A trust -U edged --no-sync >"$run/central-initdb.log" 2>&1 ||
      { cat "$run/central-initdb.log" >&2; exit 1; }
  fi
  start postgres "$run/central.log" "${as_pg[@]}" "$pg_bin/postgres" -D "$pg_dir" -p "$pg_port" \
    -k "$pg_dir" -c listen_addresses=127.0.0.1
  for i in $(seq 1 100); do
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
    sleep 0.1
    ((i < 100)) || { echo "run.sh: PostgreSQL did not start; see $run/central.log" >&2; exit 1; }
  done
  psql -q -h 127.0.0.1 -p "$pg_port" -U edged -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'edged'" | grep -q 1 ||
    psql -q -h 127.0.0.1 -p "$pg_port" -U edged -d postgres -c "CREATE DATABASE edged" >/dev/null
  "$edgectl" central init --conninfo "$conninfo" >>"$run/central.log" 2>&1 ||
    { echo "run.sh: edgectl central init failed; see $run/central.log" >&2; exit 1; }

  mkdir -p "$run/upstream"
  cat >"$run/upstream.conf" <<CONF
# generated by scripts/run.sh: a one-node NATS with JetStream and its MQTT
# listener, standing in for the upstream cluster (docs/upstream.md)
server_name: run-sh-upstream
listen: 127.0.0.1:$nats_port
jetstream { store_dir: "$run/upstream" }
mqtt { listen: 127.0.0.1:$nats_mqtt_port }
CONF
  start nats-server "$run/upstream.log" "$(command -v nats-server || echo /usr/sbin/nats-server)" \
    -c "$run/upstream.conf"
  for i in $(seq 1 100); do
    port_in_use "$nats_mqtt_port" && break
    sleep 0.1
    ((i < 100)) || { echo "run.sh: nats-server did not start; see $run/upstream.log" >&2; exit 1; }
  done
fi

rm -f "$run/broker/mosquitto.pid"
(ulimit -n "$(ulimit -Hn)"; exec "$mosquitto" -c "$run/mosquitto.conf") </dev/null >>"$run/mosquitto.log" 2>&1 &
pids+=($!); names+=(mosquitto)
for i in $(seq 1 100); do
  port_in_use "$port" && { ((anonymous)) || port_in_use "$tls_port"; } && break
  sleep 0.05
  ((i < 100)) || { echo "run.sh: mosquitto did not start; see $run/mosquitto.log" >&2; exit 1; }
done

start edged "$run/edged.log" "$edged" -c "$run/edged.conf"
for i in $(seq 1 100); do
  "$edgectl" -s "$sock" status >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || { echo "run.sh: edged exited; see $run/edged.log" >&2; tail -n 20 "$run/edged.log" >&2; exit 1; }
  sleep 0.1
  ((i < 100)) || { echo "run.sh: edged not ready after 10 s; see $run/edged.log" >&2; exit 1; }
done

sims=()
if ((anonymous)); then
  start edge-sim "$run/sim.log" "$sim" --port "$port" --count "$nodes" --duration-s "$duration" \
    --ota-trust "$ota/trust" "${sim_extra[@]}"
  sims+=("${pids[-1]}")
else
  # Every node's bundle; on a rerun --rotate replaces the secrets of the
  # nodes edged knows already (and lifts the revocation of the last run's).
  ids=()
  for ((i = 0; i < plain_nodes; i++)); do ids+=("$(sim_id sim "$i")"); done
  for ((i = 0; i < tls_nodes; i++)); do ids+=("$(sim_id tls "$i")"); done
  mkdir -p "$bundles"
  chmod 0700 "$bundles"
  "$edgectl" -s "$sock" nodes provision "${ids[@]}" --rotate --out "$bundles" \
    >"$run/provision.log" 2>&1 || { cat "$run/provision.log" >&2; exit 1; }
  start edge-sim "$run/sim.log" "$sim" --bundle-dir "$bundles" --count "$plain_nodes" \
    --duration-s "$duration" --ota-trust "$ota/trust" "${sim_extra[@]}"
  sims+=("${pids[-1]}")
  if ((tls_nodes > 0)); then
    # The bundles name the plain listener; these nodes use the TLS one.
    start edge-sim-tls "$run/sim-tls.log" "$sim" --bundle-dir "$bundles" --id-prefix tls \
      --count "$tls_nodes" --host 127.0.0.1 --port "$tls_port" --cafile "$identity/ca.crt" \
      --duration-s "$duration" --ota-trust "$ota/trust"
    sims+=("${pids[-1]}")
  fi
  # One revoked node, so that `nodes` and `devices` show one: revoked once
  # it registered (the broker then refuses its reconnects).
  if ((plain_nodes >= 2)); then
    for i in $(seq 1 300); do
      "$edgectl" -s "$sock" --json devices show "$revoked_id" 2>/dev/null |
        grep -q '"state": "online"' && break
      kill -0 "${sims[0]}" 2>/dev/null || break
      sleep 0.1
    done
    if "$edgectl" -s "$sock" nodes revoke "$revoked_id" >>"$run/provision.log" 2>&1; then
      echo "run.sh: $revoked_id revoked"
    else
      echo "run.sh: revoking $revoked_id failed; see $run/provision.log" >&2
    fi
  else
    revoked_id=
  fi
fi

# A signed model in the store, ready to send: the keyword-spotting model of
# tests/data, packed by the ML engineer's command and added by the operator's.
pkg="$ota/kws-1.0.pkg"
if [[ ! -f $pkg ]]; then
  "$edgectl" model pack "$root/tests/data/models/kws_ref_model.tflite" --name kws \
    --version 1.0 --counter 1 --key "$ota/keys/release.key" --out "$pkg" >"$run/ota.log" 2>&1 ||
    { cat "$run/ota.log" >&2; exit 1; }
fi
# kws 1.1: a retrained model (the speech-commands network of tests/data) that
# makes the simulated nodes running it report ten times as many anomalies
# (--anomaly-factor kws@1.1=10): the staged rollout's health check halts it.
pkg11="$ota/kws-1.1.pkg"
if [[ ! -f $pkg11 ]]; then
  "$edgectl" model pack "$root/tests/data/models/micro_speech.tflite" --name kws \
    --version 1.1 --counter 1 --key "$ota/keys/release.key" --out "$pkg11" >>"$run/ota.log" 2>&1 ||
    { cat "$run/ota.log" >&2; exit 1; }
fi
for p in "$pkg" "$pkg11"; do
  "$edgectl" -s "$sock" models add "$p" >>"$run/ota.log" 2>&1 ||
    grep -q "exists" "$run/ota.log" ||
    { echo "run.sh: models add failed; see $run/ota.log" >&2; tail -n 5 "$run/ota.log" >&2; }
done
# kws 1.0 runs on the gateway for nodes that offload it (a fifth of the
# fleet sends requests) and checks the others' own results.
"$edgectl" -s "$sock" offload enable kws@1.0 >>"$run/ota.log" 2>&1 ||
  { echo "run.sh: offload enable failed; see $run/ota.log" >&2; tail -n 5 "$run/ota.log" >&2; }

if ((anonymous)); then
  broker_line="broker 127.0.0.1:$port, anonymous"
else
  broker_line="broker 127.0.0.1:$port with passwords, TLS on 127.0.0.1:$tls_port"
fi
cat <<EOF

edged is running with $nodes simulated nodes ($broker_line, state in $run).
Watch it from another terminal:

  $edgectl -s $sock status                  # broker session, nodes, rejects by reason, store
  $edgectl -s $sock devices                 # every node: state and its reason, reconnects
  $edgectl -s $sock devices --state stale   # the silent ones, after 3 missed heartbeats
  $edgectl -s $sock devices show sim-00000     # with its anomaly counts and open episodes
  $edgectl -s $sock status --json

The anomaly history (every node reports; within a minute there is something to see):

  $edgectl -s $sock anomalies stats --by hour     # counts, score percentiles, a sparkline
  $edgectl -s $sock anomalies stats --by device   # which nodes report most
  $edgectl -s $sock anomalies list --limit 20     # newest first; --format csv|jsonl exports
  $edgectl -s $sock anomalies episodes --open     # what is going on now
  $edgectl -s $sock anomalies tail                # follow new events live (Ctrl-C)

Signed models over the air (kws 1.0 and 1.1 are in the store, signed by $ota/keys/release.key):

  $edgectl -s $sock models list                   # the verified packages
  $edgectl -s $sock models fit kws@1.0            # which nodes can run it, and why not
  $edgectl -s $sock ota send kws@1.0 --to all     # to every node: campaign + repair
  $edgectl -s $sock ota status                    # per node: state, progress, rate, retransmits
  $edgectl -s $sock devices show sim-00000        # active and previous model, last outcome

Then stage kws 1.1, which makes the nodes running it report ten times as many anomalies:

  $edgectl -s $sock rollout start kws@1.1 --to all --canary 5 --waves 50%,100% --soak 3m --auto-revert on
  $edgectl -s $sock rollout status 1 --watch      # the canary's health looks halt it; the canary goes
                                                  # back to kws 1.0 from its other slot (no bytes sent)
  $edgectl -s $sock rollout revert 1              # or send nodes back by hand

Offloaded inference (kws 1.0 enabled; a fifth of the nodes send requests, every node
has one own inference in twenty checked bit-exactly by the gateway):

  $edgectl -s $sock offload status                # queue, outcomes, p50/p99 per model and node
  $edgectl -s $sock offload list                  # which stored models may be offloaded
  $edgectl -s $sock offload mismatches            # nodes whose own results differ (none here)
EOF
if ((multi_site)); then
  cat <<EOF

Many sites: this gateway ($gateway_id) forwards its history into the central PostgreSQL and
its broker bridges the nodes' reports upstream under site/$gateway_id/ (docs/multi-site.md):

  $edgectl -s $sock status                  # central: backlog, lag, last success; upstream: the bridge
  $edgectl central status --conninfo '$conninfo'
  $edgectl anomalies list --central --conninfo '$conninfo' --limit 20
  $edgectl anomalies stats --central --by gateway --conninfo '$conninfo'
  psql '$conninfo' -c 'SELECT * FROM fleet_latest'
  mosquitto_sub -h 127.0.0.1 -p $nats_mqtt_port -V mqttv311 -t 'site/#' -v   # what reaches the upstream
EOF
fi
if ((!anonymous)); then
  cat <<EOF
  $edgectl -s $sock nodes                   # identities: active and revoked${revoked_id:+ ($revoked_id)}
  $edgectl -s $sock nodes revoke sim-00001  # cut a node off: the broker refuses it at once
  cat $bundles/sim-00000.json        # what a node is given

Nodes: $plain_nodes on the plain listener (sim-*), $tls_nodes over TLS (tls-*); edged admits
provisioned nodes only. The broker's identity files: $identity
EOF
fi
cat <<EOF

The fleet: ${sim_extra[*]}

Logs: $run/edged.log  $run/sim.log  $run/mosquitto.log
Press Ctrl-C to stop everything (the simulator stops by itself after $duration s).
EOF

for pid in "${sims[@]}"; do wait "$pid" || true; done
