#!/bin/sh
# SIGTERM commits every node's latest state, also when far more nodes have
# unwritten changes than the store's queue holds (store.queue_max_ops = 1):
# heartbeats are only kept in memory between coalesced writes, so each node
# is dirty when the signal comes. Checked in the database after the stop,
# and through edgectl after a restart. Usage: test_shutdown.sh EDGED EDGECTL
# Exit codes follow meson: 0 pass, 1 fail, 77 skip.
set -u

edged=$1
edgectl=$2
nodes=12

. "$(dirname "$0")/testlib.sh"
if ! command -v mosquitto_pub >/dev/null 2>&1; then
	echo "SKIP: mosquitto_pub (mosquitto-clients) not installed"
	exit 77
fi
if ! python3 -c 'import sqlite3' 2>/dev/null; then
	echo "SKIP: python3 without sqlite3"
	exit 77
fi
start_broker

write_edged_conf
cat >> "$tmp/edged.conf" <<CONF
[store]
queue_max_ops = 1
group_commit_max_ops = 1
CONF
sock="$tmp/run/edged.sock"

stop_edged() {
	kill -TERM "$edged_pid"
	wait "$edged_pid"
	rc=$?
	edged_pid=
	[ $rc -eq 0 ] || fail "edged exited $rc on SIGTERM"
}

start_edged
wait_for "broker connection" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"state\": \"connected\"'"
i=1
while [ $i -le $nodes ]; do
	id=$(printf 'node-%02d' $i)
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "edge/v1/$id/hello" -m \
		"{\"proto\":1,\"id\":\"$id\",\"fw\":\"1.0.0\",\"runtime\":{\"name\":\"tflm\",\"version\":\"2.14.0\"},\"ops\":[\"CONV_2D\"],\"ram_bytes\":1024,\"flash_bytes\":2048,\"arena_bytes\":512,\"sensor\":\"accel\",\"heartbeat_s\":3600}" ||
		fail "publish hello $id"
	i=$((i + 1))
done
wait_for "$nodes hellos" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"hello\": $nodes'"
i=1
while [ $i -le $nodes ]; do
	id=$(printf 'node-%02d' $i)
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "edge/v1/$id/heartbeat" -m \
		"{\"proto\":1,\"seq\":$((700 + i)),\"uptime_s\":60,\"inferences\":5,\"anomalies\":0,\"mqtt_reconnects\":0,\"free_heap_bytes\":4096}" ||
		fail "publish heartbeat $id"
	i=$((i + 1))
done
wait_for "$nodes heartbeats" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"heartbeat\": $nodes'"
stop_edged

python3 - "$tmp/state/edged.db" "$nodes" <<'PY' || fail "database after SIGTERM"
import sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
rows = dict(sqlite3.connect(db).execute("SELECT n.id, COALESCE(p.hb_seq, n.hb_seq) FROM nodes n LEFT JOIN node_presence p ON p.id = n.id"))
want = {"node-%02d" % i: 700 + i for i in range(1, n + 1)}
missing = {k: (v, rows.get(k)) for k, v in want.items() if rows.get(k) != v}
if missing:
    sys.exit("not committed (id: wanted, stored): %s" % missing)
PY

# The same through the product: a restarted edged knows every heartbeat.
start_edged
wait_for "broker connection" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"state\": \"connected\"'"
expect 0 "$edgectl" -s "$sock" --json devices show node-$(printf '%02d' $nodes)
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["heartbeat"]["seq"]==int(sys.argv[2]), d' \
	"$tmp/out" $((700 + nodes)) || fail "heartbeat not known after restart"
stop_edged
echo "ok: $nodes dirty nodes committed at SIGTERM with a store queue of 1"
exit 0
