# Shared by the control suite's shell tests (sourced, not run): a scratch
# directory, a real mosquitto on a free 127.0.0.1 port, and bounded waits.
# The sourcing script sets nothing beforehand; it gets $tmp, $port and the
# helpers below, and cleanup on exit stops what was started here by PID.

for tool in mosquitto python3; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done

tmp=$(mktemp -d /tmp/edged-test-XXXXXX) || exit 1
mosq_pid=
edged_pid=
# KEEP_TMP=1 keeps the scratch directory (logs, configs) for a look after.
cleanup() {
	[ -n "$edged_pid" ] && kill "$edged_pid" 2>/dev/null
	[ -n "$mosq_pid" ] && kill "$mosq_pid" 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	echo "--- edged log"
	cat "$tmp/edged.log" 2>/dev/null
	exit 1
}

# expect CODE CMD...: run CMD, check its exit code; stdout in $tmp/out,
# stderr in $tmp/err
expect() {
	want=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	[ "$got" -eq "$want" ] || { cat "$tmp/out" "$tmp/err"; fail "'$*' exited $got, expected $want"; }
}

# wait_for DESCRIPTION CMD...: retry CMD every 0.1 s, at most 10 s
wait_for() {
	what=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "timed out waiting for $what"
		sleep 0.1
	done
}

# start_broker: a mosquitto of our own on $port (chosen once), configured by
# $tmp/mosquitto.conf (plain MQTT unless the test rewrites it)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$tmp/mosquitto.conf"
start_broker() {
	mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
	mosq_pid=$!
}

# start_edged: edged -c $tmp/edged.conf in the background (log appended to
# $tmp/edged.log), once its control socket $sock is there.
start_edged() {
	"$edged" -c "$tmp/edged.conf" >>"$tmp/edged.log" 2>&1 &
	edged_pid=$!
	wait_for "control socket" sh -c "test -S '$sock' || ! kill -0 $edged_pid"
	kill -0 "$edged_pid" 2>/dev/null || fail "edged did not start"
}

# write_edged_conf: $tmp/edged.conf for an edged with its state and runtime
# directories in $tmp ($tmp/state, $tmp/run) and the broker on 127.0.0.1
# $port, quick to reconnect. It ends in the [mqtt] section: the caller may
# append more of it (cat >>), then further sections.
write_edged_conf() {
	cat > "$tmp/edged.conf" <<CONF
[log]
level = info
[paths]
state_dir = $tmp/state
runtime_dir = $tmp/run
[mqtt]
host = 127.0.0.1
port = $port
reconnect_min_ms = 50
reconnect_max_ms = 500
CONF
}
