#!/bin/sh
# edged speaks the service manager's notify protocol: READY=1 once the
# control socket listens, STATUS= lines, WATCHDOG=1 pings at half of
# WATCHDOG_USEC, STOPPING=1 on SIGTERM. A small datagram listener stands in
# for systemd. Usage: test_notify.sh EDGED
# Exit codes follow meson: 0 pass, 1 fail, 77 skip.
set -u

edged=$1
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 not installed"
	exit 77
fi
tmp=$(mktemp -d /tmp/edged-notify-XXXXXX) || exit 1
listener_pid=
edged_pid=
cleanup() {
	[ -n "$edged_pid" ] && kill "$edged_pid" 2>/dev/null
	[ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- notify messages"; cat "$tmp/notify.log" 2>/dev/null
	echo "--- edged log"; cat "$tmp/edged.log" 2>/dev/null
	exit 1
}
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

# Each datagram on its own line; the listener ends by itself after 60 s.
cat > "$tmp/listen.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 60
with open(sys.argv[2], "a") as out:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        for line in msg.splitlines():
            out.write(line + "\n")
        out.flush()
PY
python3 "$tmp/listen.py" "$tmp/notify.sock" "$tmp/notify.log" &
listener_pid=$!
wait_for "notify listener" test -S "$tmp/notify.sock"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$tmp/edged.conf" <<CONF
[paths]
state_dir = $tmp/state
runtime_dir = $tmp/run
[mqtt]
host = 127.0.0.1
port = $port
CONF

env -u WATCHDOG_PID NOTIFY_SOCKET="$tmp/notify.sock" WATCHDOG_USEC=400000 \
	"$edged" -c "$tmp/edged.conf" >"$tmp/edged.log" 2>&1 &
edged_pid=$!
wait_for "READY=1" grep -q '^READY=1$' "$tmp/notify.log"
[ -S "$tmp/run/edged.sock" ] || fail "READY=1 before the control socket listened"
wait_for "a STATUS= line" grep -q '^STATUS=.*devices online' "$tmp/notify.log"
# Pings every 200 ms while the store writer makes progress (it wakes at
# least once a second, so a few pings within a few seconds).
wait_for "watchdog pings" sh -c "[ \$(grep -c '^WATCHDOG=1$' '$tmp/notify.log') -ge 3 ]"

kill -TERM "$edged_pid"
wait "$edged_pid"
rc=$?
edged_pid=
[ $rc -eq 0 ] || fail "edged exited $rc"
grep -q '^STOPPING=1$' "$tmp/notify.log" || fail "no STOPPING=1"
ready_line=$(grep -n '^READY=1$' "$tmp/notify.log" | head -1 | cut -d: -f1)
stop_line=$(grep -n '^STOPPING=1$' "$tmp/notify.log" | head -1 | cut -d: -f1)
[ "$ready_line" -lt "$stop_line" ] || fail "STOPPING=1 before READY=1"
echo "ok"
exit 0
