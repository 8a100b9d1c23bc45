#!/bin/sh
# `edgectl broker-config`: the options land in the right directives, the
# limits follow the fleet size, bad values are usage errors (exit 2), and no
# daemon is needed. mosquitto itself reads the output in every integration
# test. Usage: test_broker_config.sh EDGECTL
set -u

edgectl=$1
tmp=$(mktemp -d /tmp/edged-broker-config-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*"
	cat "$tmp/out" 2>/dev/null
	exit 1
}

# has DIRECTIVE VALUE: exactly one such line in $tmp/out
has() {
	n=$(grep -c "^$1 $2\$" "$tmp/out")
	[ "$n" -eq 1 ] || fail "expected one line '$1 $2', found $n"
}

# Defaults: loopback, the node protocol's payload limit, 10,000 nodes.
EDGECTL_SOCKET=/nonexistent "$edgectl" broker-config > "$tmp/out" || fail "defaults"
has listener "1883 127.0.0.1"
has persistence true
has persistence_location /var/lib/mosquitto/
has max_queued_messages 21000
has max_inflight_messages 200
has message_size_limit 4096
has max_packet_size 5120
has set_tcp_nodelay true
grep -q '^# ' "$tmp/out" || fail "no comments"

"$edgectl" broker-config --port 18830 --bind ::1 --max-nodes 100 \
	--persistence-dir /srv/mqtt --message-size-limit=110000000 > "$tmp/out" || fail "options"
has listener "18830 ::1"
has persistence_location /srv/mqtt/
has max_queued_messages 1200
has max_inflight_messages 20
has message_size_limit 110000000
has max_packet_size 110001024

for bad in "--port 0" "--port 70000" "--max-nodes 0" "--max-nodes x" \
	"--message-size-limit -1" "--bind" "--frobnicate 1" "extra"; do
	# shellcheck disable=SC2086
	"$edgectl" broker-config $bad > "$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "'broker-config $bad' exited $rc, expected 2"
done
"$edgectl" broker-config --bind "1.2.3.4 x" > "$tmp/out" 2>&1
[ $? -eq 2 ] || fail "a bind address with a blank was accepted"
echo "ok: broker-config"
exit 0
