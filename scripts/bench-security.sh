#!/usr/bin/env bash
# Security benchmark: what per-node identities and TLS cost, and whether the
# password-file mechanism holds at fleet scale.
#
# In one run, each against its own private mosquitto configured by
# `edgectl broker-config` (and a fresh edged):
#   1. N simulated nodes (default 1,000) connect and register four ways:
#      anonymous over plain TCP; a password each over plain TCP with the
#      ACL (the password file and ACL of broker-config, edged with its own
#      credentials); a password each over TLS (the broker's certificate
#      checked) with the ACL; a client certificate each over mutual TLS with
#      the ACL. For each: time until all N are online in `edgectl status`, the
#      simulator's connects/s, and the ratio to anonymous.
#   2. The mechanism at fleet scale (F users, default 10,000): the time to
#      hash F passwords and write the password file (lib/pki, pki-tool);
#      the time to write that file again without one user; and, with one
#      connected node among the F users, the time from the broker's SIGHUP
#      (after the file without it is renamed into place) until the broker
#      closes that node's connection, and the slowest QoS 1 round trip
#      another connected client sees during the reload (tests/sim/revoke-probe).
#   3. The product's identity service at fleet scale (F nodes): files from
#      `edgectl broker-init`, mosquitto from `broker-config --identity-dir`,
#      edged managing them (broker.pid_file: SIGHUP after every change,
#      admission of provisioned nodes only). Provisioning F nodes with one
#      `edgectl nodes provision` (F/256 requests, bundles written); one more
#      node into the F; revoking one node of F (median of 5, each until
#      edgectl returns and until the node's live session is cut, as the
#      simulator sees it); the bytes of the identity files rewritten per
#      change, and edged's disk writes (SQLite included).
# Prints a table with limits (one revocation < 1 s) and ratios. Every wait
# is bounded; everything started is stopped by PID.
#
#   scripts/bench-security.sh [--nodes N] [--fleet F] [--rate R]
#        [--max-pending M] [--build-dir DIR] [--no-build]
#
# Takes about a minute on a 2-core machine with the defaults.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=1000
fleet=10000
rate=5000
max_pending=100
build="$root/build"
do_build=1

while (($#)); do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --fleet) fleet=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --max-pending) max_pending=$2; shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) sed -n '2,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-security: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$nodes" =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 10000)) ||
  { echo "bench-security: --nodes must be 1..10000" >&2; exit 2; }
[[ "$fleet" =~ ^[0-9]+$ ]] && ((fleet >= 5 && fleet <= 100000)) ||
  { echo "bench-security: --fleet must be 5..100000" >&2; exit 2; }

if ((do_build)); then
  [[ -f "$build/build.ninja" ]] || meson setup "$build" "$root" >/dev/null
  ninja -C "$build" -j2 daemon/edged/edged daemon/edgectl/edgectl tests/sim/edge-sim \
    tests/sim/revoke-probe tests/unit/pki/pki-tool >/dev/null
fi
bench="bench-security"
# shellcheck source=scripts/bench-lib.sh
. "$root/scripts/bench-lib.sh"
pki="$build/tests/unit/pki/pki-tool"
probe="$build/tests/sim/revoke-probe"
bench_binaries "$pki" "$probe"
bench_fd_limit
bench_dir

gw_pass=$("$pki" password)
keys="$dir/keys"
mkdir -p "$keys"
chmod 0755 "$keys"

# ---- identities for the N nodes: a password each, a certificate each
echo "bench-security: identities for $nodes nodes ..." >&2
"$pki" fleet-passwd "$keys/passwd" "$keys/credentials" sim "$nodes" edged "$gw_pass" ||
  fail "pki-tool fleet-passwd"
"$pki" ca "$keys" edged-bench-gateway-CA >/dev/null || fail "pki-tool ca"
"$pki" server "$keys" 127.0.0.1 >/dev/null || fail "pki-tool server"
t0=$(now)
"$pki" fleet-certs "$keys" sim "$nodes" || fail "pki-tool fleet-certs"
certs_s=$(elapsed "$t0" "$(now)")
"$edgectl" broker-config --print-acl >"$keys/acl"
# mosquitto started as root reads them as its own user
chmod 0644 "$keys/passwd" "$keys/acl" "$keys/server.key"

edged_conf() { # mode user?
  cat >"$dir/edged-$1.conf" <<EOF
[log]
level = notice

[paths]
state_dir = $dir/state-$1
runtime_dir = $dir/run

[mqtt]
host = 127.0.0.1
port = $port
client_id = edged
EOF
  if [[ -n "${2:-}" ]]; then
    printf 'username = edged\npassword = %s\n' "$gw_pass" >>"$dir/edged-$1.conf"
    chmod 0600 "$dir/edged-$1.conf"
  fi
  printf '\n[registry]\nmax_devices = %d\n' $((nodes > 10000 ? nodes : 10000)) >>"$dir/edged-$1.conf"
}

wait_broker_up() { # edged's broker session
  for _ in $(seq 1 200); do
    "$edgectl" -s "$sock" --json status 2>/dev/null | grep -q '"connected"' && return 0
    sleep 0.05
  done
  fail "edged did not connect to the broker in 10 s"
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  fail "no free port"
}

# One way to connect: broker, edged, N nodes; sets online_s, conn_s, reg_s.
run_mode() { # mode
  local mode=$1 sim_port broker_args=() sim_args=() user=
  rm -f "$dir/broker/mosquitto.db"
  case "$mode" in
    anonymous) ;;
    password)
      broker_args=(--password-file "$keys/passwd" --acl-file "$keys/acl")
      sim_args=(--credentials "$keys/credentials")
      user=edged ;;
    tls)
      tls_port=$(free_port)
      broker_args=(--password-file "$keys/passwd" --acl-file "$keys/acl"
        --tls-listener "$tls_port" --tls-bind 127.0.0.1 --cafile "$keys/ca.crt"
        --certfile "$keys/server.crt" --keyfile "$keys/server.key")
      sim_args=(--cafile "$keys/ca.crt" --credentials "$keys/credentials")
      user=edged ;;
    mtls)
      tls_port=$(free_port)
      broker_args=(--password-file "$keys/passwd" --acl-file "$keys/acl"
        --tls-listener "$tls_port" --tls-bind 127.0.0.1 --cafile "$keys/ca.crt"
        --certfile "$keys/server.crt" --keyfile "$keys/server.key" --require-certificate)
      sim_args=(--cafile "$keys/ca.crt" --cert-dir "$keys")
      user=edged ;;
  esac
  bench_start_broker "${broker_args[@]}"
  sim_port=$port
  [[ "$mode" == tls || "$mode" == mtls ]] && sim_port=$tls_port
  if [[ "$mode" == tls || "$mode" == mtls ]]; then
    for _ in $(seq 1 100); do port_in_use "$tls_port" && break; sleep 0.05; done
  fi
  edged_conf "$mode" "$user"
  bench_start_edged "$dir/edged-$mode.conf"
  wait_broker_up
  echo "bench-security: $nodes nodes, $mode ..." >&2
  "$sim" --port "$sim_port" --count "$nodes" --connect-rate "$rate" \
    --max-pending "$max_pending" --keepalive-s 60 --duration-s 900 "${sim_args[@]}" \
    </dev/null >"$dir/sim-$mode.log" 2>&1 &
  sim_pid=$!
  pids+=("$sim_pid")
  online_s=$(wait_online "$nodes" 300)
  for _ in $(seq 1 600); do grep -q "sim: registered all" "$dir/sim-$mode.log" && break; sleep 0.1; done
  conn_s=$(sed -n 's/^sim: connected all [0-9]* in \([0-9.]*\) s/\1/p' "$dir/sim-$mode.log")
  reg_s=$(sed -n 's/^sim: registered all [0-9]* in \([0-9.]*\) s/\1/p' "$dir/sim-$mode.log")
  [[ -n "$conn_s" && -n "$reg_s" ]] || fail "edge-sim did not report all $mode nodes registered"
  refused=$(grep -c "connack-refused" "$dir/sim-$mode.log" || true)
  ((refused == 0)) || fail "$refused CONNACK refusals in $mode mode"
  stop_all
}

declare -A on cs rs
for mode in anonymous password tls mtls; do
  run_mode "$mode"
  on[$mode]=$online_s
  cs[$mode]=$conn_s
  rs[$mode]=$reg_s
done

# ---- 2. the mechanism at fleet scale
echo "bench-security: password file of $fleet users ..." >&2
fdir="$dir/fleet"
mkdir -p "$fdir"
chmod 0755 "$fdir"
t0=$(now)
"$pki" fleet-passwd "$fdir/passwd" "$fdir/credentials" node "$fleet" edged "$gw_pass" ||
  fail "pki-tool fleet-passwd $fleet"
hash_s=$(elapsed "$t0" "$(now)")
pw_bytes=$(stat -c %s "$fdir/passwd")
chmod 0644 "$fdir/passwd"
victim=$(sed -n '1p' "$fdir/credentials")
witness=$(sed -n '2p' "$fdir/credentials")
# The file without the victim, written as its writer would (temp file,
# fsync, then the rename happens at the revocation).
t0=$(now)
grep -v "^${victim%%:*}:" "$fdir/passwd" >"$fdir/passwd.new"
sync "$fdir/passwd.new"
rewrite_s=$(elapsed "$t0" "$(now)")
chmod 0644 "$fdir/passwd.new"
nodes=$fleet bench_start_broker --password-file "$fdir/passwd" --acl-file "$keys/acl"
broker_rss=$(status_kib "$broker_pid" VmRSS)
echo "bench-security: revoking one node among $fleet ..." >&2
probe_out=$("$probe" --port "$port" --victim "$victim" --witness "$witness" \
  --broker-pid "$broker_pid" --new-file "$fdir/passwd.new" --password-file "$fdir/passwd" \
  2>"$dir/probe.err") || fail "revoke-probe: $(cat "$dir/probe.err")"
revoke_ms=$(sed -n 's/^probe: revoked_ms=\([0-9.]*\)/\1/p' <<<"$probe_out")
base_med=$(sed -n 's/^probe: baseline .*median_ms=\([0-9.]*\).*/\1/p' <<<"$probe_out")
base_max=$(sed -n 's/^probe: baseline .*max_ms=\([0-9.]*\).*/\1/p' <<<"$probe_out")
stall_max=$(sed -n 's/^probe: reload .*max_ms=\([0-9.]*\).*/\1/p' <<<"$probe_out")
stall_n=$(sed -n 's/^probe: reload round_trips=\([0-9]*\).*/\1/p' <<<"$probe_out")
broker_rss2=$(status_kib "$broker_pid" VmRSS)
stop_all

# ---- 3. the identity service at fleet scale
echo "bench-security: identity service, $fleet nodes ..." >&2
idir="$dir/identity"
istate="$dir/state-identity"
mkdir -p "$istate"
"$edgectl" broker-init --dir "$idir" --pki-dir "$istate/pki" --name edged-bench-CA \
  --san 127.0.0.1 --gateway-user edged --gateway-secret "$dir/gateway-secret" \
  >"$dir/broker-init.log" 2>&1 || fail "edgectl broker-init: $(cat "$dir/broker-init.log")"
# mosquitto started as root reads the files as its own user
chmod 0755 "$idir"
chmod 0644 "$idir"/*
nodes=$fleet bench_start_broker --identity-dir "$idir"
echo "$broker_pid" >"$dir/mosquitto.pid"
cat >"$dir/edged-identity.conf" <<CONF
[log]
level = notice

[paths]
state_dir = $istate
runtime_dir = $dir/run

[mqtt]
host = 127.0.0.1
port = $port
client_id = edged
username = edged
password_file = $dir/gateway-secret

[registry]
max_devices = $((fleet + 16))
admission = provisioned

[broker]
identity_dir = $idir
pki_dir = $istate/pki
pid_file = $dir/mosquitto.pid
file_mode = 0644
CONF
bench_start_edged "$dir/edged-identity.conf"
wait_broker_up

# The identity files' state, "name size mtime" a line; the bytes of the
# files rewritten between two states (edged rewrites whole files: temp file
# and rename).
files_state() { stat -c '%n %s %.9Y' "$idir"/* 2>/dev/null | sort; }
changed_bytes() { # before after
  join -a 2 <(printf '%s\n' "$1") <(printf '%s\n' "$2") |
    awk 'NF == 3 { sum += $2; next } $3 != $5 { sum += $4 } END { print sum + 0 }'
}
edged_writes() { write_bytes "$edged_pid"; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }

seq -f 'n-%05g' 0 $((fleet - 1)) >"$dir/ids"
bundles="$dir/bundles"
mkdir -p "$bundles"
f0=$(files_state); w0=$(edged_writes); t0=$(now)
"$edgectl" -s "$sock" nodes provision --ids-from "$dir/ids" --out "$bundles" \
  >"$dir/provision.log" 2>&1 || fail "nodes provision $fleet: $(tail -n 3 "$dir/provision.log")"
prov_s=$(elapsed "$t0" "$(now)")
prov_bytes=$(changed_bytes "$f0" "$(files_state)")
prov_writes=$(($(edged_writes) - w0))
reloads=$(status_int broker_reloads)

f0=$(files_state); w0=$(edged_writes); t0=$(now)
"$edgectl" -s "$sock" nodes provision "$(printf 'n-%05d' "$fleet")" --out "$bundles" \
  >>"$dir/provision.log" 2>&1 || fail "nodes provision one more"
one_s=$(elapsed "$t0" "$(now)")
one_bytes=$(changed_bytes "$f0" "$(files_state)")
one_writes=$(($(edged_writes) - w0))

# Five live nodes of the fleet, with their bundles; each is revoked in turn.
"$sim" --port "$port" --id-prefix n --count 5 --bundle-dir "$bundles" --reconnect-s 0 \
  --keepalive-s 60 --duration-s 300 </dev/null >"$dir/sim-identity.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 1 300); do
  grep -q "sim: registered all 5 " "$dir/sim-identity.log" && break
  sleep 0.1
done
grep -q "sim: registered all 5 " "$dir/sim-identity.log" || fail "5 provisioned nodes did not register"
rev_cmd=() rev_cut=() rev_bytes=() rev_writes=()
for i in 0 1 2 3 4; do
  id=$(printf 'n-%05d' "$i")
  f0=$(files_state); w0=$(edged_writes); t0=$(now)
  "$edgectl" -s "$sock" nodes revoke "$id" >>"$dir/revoke.log" 2>&1 || fail "nodes revoke $id"
  t1=$(now)
  cut=
  for _ in $(seq 1 1000); do # 10 s, in steps of 10 ms
    grep -q "sim: lost node=$id " "$dir/sim-identity.log" && { cut=$(now); break; }
    sleep 0.01
  done
  [[ -n "$cut" ]] || fail "the session of revoked $id was not cut within 10 s"
  rev_cmd+=("$(ms_between "$t0" "$t1")")
  rev_cut+=("$(ms_between "$t0" "$cut")")
  rev_bytes+=("$(changed_bytes "$f0" "$(files_state)")")
  rev_writes+=("$(($(edged_writes) - w0))")
done
rev_cmd_ms=$(median "${rev_cmd[@]}")
rev_cut_ms=$(median "${rev_cut[@]}")
rev_bytes_med=$(median "${rev_bytes[@]}")
rev_writes_med=$(median "${rev_writes[@]}")
reload_failures=$(status_int reload_failures)
stop_all

# ---- the table
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
per_s() { awk -v n="$nodes" -v t="$1" 'BEGIN { if (t > 0) printf "%.0f/s", n / t; else print "n/a" }'; }
row() { printf '%-60s %-26s %-10s %s\n' "$@"; }
printf '\nedged security benchmark: %d nodes (connect rate %s/s, at most %s pending); fleet %d users\n' \
  "$nodes" "$rate" "$max_pending" "$fleet"
row "metric" "value" "limit" "ratio (to anonymous or to the limit)"
row "------------------------------------------------------------" "--------------------------" "----------" "-----"
declare -A label=([anonymous]="anonymous, TCP" [password]="password + ACL, TCP"
  [tls]="password + ACL, TLS" [mtls]="certificate + ACL, mutual TLS")
for mode in anonymous password tls mtls; do
  row "all $nodes online in edged: ${label[$mode]}" "${on[$mode]} s" "" \
    "$(ratio "${on[$mode]}" "${on[anonymous]}")"
  row "  connects at the sim: ${label[$mode]}" "${cs[$mode]} s = $(per_s "${cs[$mode]}")" "" \
    "$(ratio "${cs[$mode]}" "${cs[anonymous]}")"
  row "  all registered at the sim: ${label[$mode]}" "${rs[$mode]} s" "" ""
done
row "issue $nodes node certificates (pki-tool fleet-certs)" "$certs_s s" "" ""
row "hash + write a $fleet-user password file" "$hash_s s ($((pw_bytes / 1024)) KiB)" "" ""
row "write it again without one user (+ fsync)" "$rewrite_s s" "" ""
row "revoke one node of $fleet: SIGHUP -> its connection closed" "$revoke_ms ms" "< 1000 ms" \
  "$(ratio "$revoke_ms" 1000)"
row "another client's QoS 1 round trip, baseline (median/max)" "$base_med / $base_max ms" "" ""
row "  slowest during the reload ($stall_n round trips)" "$stall_max ms" "< 1000 ms" \
  "$(ratio "$stall_max" 1000)"
row "mosquitto RSS with the $fleet-user file (before/after)" "$(mib "$broker_rss") / $(mib "$broker_rss2")" "" ""
row "edged: provision $fleet nodes: 1 edgectl call, $(((fleet + 255) / 256)) requests" "$prov_s s" "" ""
row "  identity files (end) / edged disk writes, $(((fleet + 255) / 256)) changes" "$(kib "$prov_bytes") / $(kib "$prov_writes")" "" ""
row "  broker reloads (SIGHUP) so far" "${reloads:-?}" "" ""
row "edged: provision 1 more node into $fleet" "$one_s s" "" ""
row "  identity files rewritten / edged disk writes" "$(kib "$one_bytes") / $(kib "$one_writes")" "" ""
row "edged: revoke 1 node of $fleet: edgectl returns (median of 5)" "$rev_cmd_ms ms (${rev_cmd[*]})" "< 1000 ms" \
  "$(ratio "$rev_cmd_ms" 1000)"
row "  until its live session is cut (median of 5)" "$rev_cut_ms ms (${rev_cut[*]})" "< 1000 ms" \
  "$(ratio "$rev_cut_ms" 1000)"
row "  identity files rewritten / edged disk writes (median)" "$(kib "$rev_bytes_med") / $(kib "$rev_writes_med")" "" ""
row "  broker reload failures" "${reload_failures:-?}" "0" ""
awk -v r="$revoke_ms" 'BEGIN { exit !(r < 1000) }' ||
  { echo "bench-security: revocation took $revoke_ms ms, over the 1 s limit" >&2; exit 1; }
awk -v r="$rev_cut_ms" 'BEGIN { exit !(r < 1000) }' ||
  { echo "bench-security: edged's revocation cut the session after $rev_cut_ms ms, over the 1 s limit" >&2; exit 1; }
