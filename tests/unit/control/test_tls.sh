#!/bin/sh
# edged's broker connection over TLS, against a real mosquitto with a
# scratch CA: it connects, subscribes and receives node messages, and stops
# cleanly; and while a handshake waits for a peer that does not answer, the
# loop stays idle. Usage: test_tls.sh EDGED EDGECTL
# Exit codes follow meson: 0 pass, 1 fail, 77 skip.
set -u

edged=$1
edgectl=$2

. "$(dirname "$0")/testlib.sh"
for tool in openssl mosquitto_pub; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done

# A CA and a server certificate for 127.0.0.1.
(
	cd "$tmp" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout ca.key -out ca.pem -days 2 -subj /CN=edged-test-ca &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout server.key -out server.csr -subj /CN=127.0.0.1 &&
	printf 'subjectAltName=IP:127.0.0.1\n' > server.ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out server.pem -days 2 -extfile server.ext
) >"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log"; fail "cannot make test certificates"; }
# mosquitto started as root drops to its own user: it must read these.
chmod 0755 "$tmp"
chmod 0644 "$tmp/ca.pem" "$tmp/server.pem" "$tmp/server.key"
printf 'listener %s 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\n' \
	"$port" "$tmp/ca.pem" "$tmp/server.pem" "$tmp/server.key" > "$tmp/mosquitto.conf"
start_broker

cat > "$tmp/edged.conf" <<CONF
[log]
level = info
[paths]
state_dir = $tmp/state
runtime_dir = $tmp/run
[mqtt]
host = 127.0.0.1
port = $port
tls_ca_file = $tmp/ca.pem
reconnect_min_ms = 50
reconnect_max_ms = 500
CONF
sock="$tmp/run/edged.sock"

# 1. Plain TLS: connect, subscribe, receive.
start_edged
wait_for "TLS connection" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"state\": \"connected\"'"
mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$tmp/ca.pem" -q 1 -t edge/v1/node-01/hello \
	-f "$EDGE_SOURCE_ROOT/tests/unit/proto/vectors/node/hello_ok.json" || fail "publish over TLS"
wait_for "node-01 over TLS" sh -c "'$edgectl' -s '$sock' devices | grep -q '^node-01 *online'"
kill -TERM "$edged_pid"
wait "$edged_pid" || fail "edged did not stop cleanly"
edged_pid=

# 2. A handshake that waits: a listener whose accept queue is full at first
# (so edged's connect completes late, after its first TLS record could not
# be sent) and that then never answers. edged must wait quietly, not spin
# on a socket the library will not write to.
python3 - > "$tmp/silent.port" 2>"$tmp/silent.log" <<'PY' &
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
fillers = []
for _ in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fillers.append(c)
print(port, flush=True)
time.sleep(2)
held = []
s.settimeout(0.2)
end = time.time() + 30
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
PY
silent_pid=$!
trap 'kill "$silent_pid" 2>/dev/null; cleanup' EXIT
wait_for "silent listener" test -s "$tmp/silent.port"
sed -i "s/^port = .*/port = $(cat "$tmp/silent.port")/" "$tmp/edged.conf"
start_edged
# The listener accepts after 2 s; then the handshake waits for it.
sleep 3
before=$(awk '{ print $14 + $15 }' "/proc/$edged_pid/stat")
sleep 3
used=$(( $(awk '{ print $14 + $15 }' "/proc/$edged_pid/stat") - before ))
"$edgectl" -s "$sock" --json status > "$tmp/out"
kill "$silent_pid" 2>/dev/null
wait "$silent_pid" 2>/dev/null
echo "CPU used by edged in 3 s of a pending TLS handshake: $used ticks"
grep -q '"state": "connecting"' "$tmp/out" || fail "expected the broker connection to be pending"
# Waiting costs about nothing; spinning costs a core's share (well over 20
# ticks of 10 ms in 3 s even on a busy machine).
[ "$used" -le 20 ] || fail "edged spun while its TLS handshake was pending ($used ticks in 3 s)"
echo "ok: TLS connect, subscribe and receive; a pending handshake does not spin"
exit 0
