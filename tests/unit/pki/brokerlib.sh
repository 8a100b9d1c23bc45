# shellcheck shell=bash
# Shared by the pki suite's broker scripts (sourced, not run): a real
# mosquitto on free 127.0.0.1 ports (plain and TLS), a scratch directory,
# ok/FAIL reporting and bounded waits. The sourcing script calls
# broker_test_init, defines broker_conf and calls start_broker.

# broker_test_init NAME CMD...: $mosq ($EDGE_MOSQUITTO, else the installed
# one), every CMD on PATH, the scratch directory $dir (edge-NAME-XXXXXX);
# on exit the broker and the subscriber started here are stopped by PID.
broker_test_init() {
  local c name=$1
  shift
  mosq=${EDGE_MOSQUITTO:-}
  for c in /usr/sbin/mosquitto /usr/local/sbin/mosquitto /usr/bin/mosquitto; do
    [[ -n $mosq ]] && break
    [[ -x $c ]] && mosq=$c
  done
  [[ -x $mosq ]] || { echo "no mosquitto binary (package mosquitto)"; exit 1; }
  for c in mosquitto_pub mosquitto_sub python3 timeout "$@"; do
    command -v "$c" >/dev/null || { echo "missing $c"; exit 1; }
  done
  dir=$(mktemp -d "${TMPDIR:-/tmp}/edge-$name-XXXXXX")
  broker_pid=
  sub_pid=
  failures=0
  trap cleanup EXIT
}

cleanup() {
  [[ -n $sub_pid ]] && kill "$sub_pid" 2>/dev/null && wait "$sub_pid" 2>/dev/null
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$dir"
}

pass() { echo "ok - $1"; }
fail() { echo "FAIL - $1"; failures=$((failures + 1)); }
expect_ok() { local what=$1; shift; if "$@" >>"$dir/client.log" 2>&1; then pass "$what"; else fail "$what"; fi; }
expect_refused() { local what=$1; shift; if "$@" >>"$dir/client.log" 2>&1; then fail "$what"; else pass "$what"; fi; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_broker: mosquitto on $port and $tls_port, configured by the
# caller's broker_conf (which writes $dir/mosquitto.conf for them), logging
# to $dir/broker.log; retried with new ports if it exits (a port got taken).
start_broker() {
  local deadline
  for _ in 1 2 3; do
    port=$(free_port)
    tls_port=$(free_port)
    [[ $port != "$tls_port" ]] || continue
    broker_conf
    "$mosq" -c "$dir/mosquitto.conf" >>"$dir/broker.log" 2>&1 &
    broker_pid=$!
    deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)); do
      if ! kill -0 "$broker_pid" 2>/dev/null; then
        wait "$broker_pid" || true
        broker_pid=
        break
      fi
      port_open "$port" && port_open "$tls_port" && return 0
      sleep 0.05
    done
    if [[ -n $broker_pid ]]; then
      echo "mosquitto did not listen within 10 s"; cat "$dir/broker.log"; exit 1
    fi
  done
  echo "mosquitto exited at start-up three times"; cat "$dir/broker.log"; exit 1
}

# wait_subscribed CLIENT: the broker logged CLIENT's SUBSCRIBE (at most 10 s;
# a FAIL otherwise).
wait_subscribed() {
  local deadline=$((SECONDS + 10))
  until grep -q "Received SUBSCRIBE from $1" "$dir/broker.log"; do
    ((SECONDS < deadline)) || { fail "$1 subscribed within 10 s"; break; }
    sleep 0.05
  done
}

# broker_test_finish MESSAGE: MESSAGE and exit 0 when every check passed,
# else the broker and client logs and exit 1.
broker_test_finish() {
  if ((failures > 0)); then
    echo "---- broker log"; tail -n 60 "$dir/broker.log"
    echo "---- client log"; tail -n 40 "$dir/client.log"
    exit 1
  fi
  echo "$1"
}
