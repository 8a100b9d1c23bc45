#!/bin/sh
# edgectl against a real edged (and a real mosquitto on a free 127.0.0.1
# port): commands, --json, exit codes, reload by signal and by command, and
# a clean stop on SIGTERM. Usage: test_edgectl.sh EDGED EDGECTL
# Exit codes follow meson: 0 pass, 1 fail, 77 skip.
set -u

edged=$1
edgectl=$2
vectors=${EDGE_SOURCE_ROOT:-}/tests/unit/proto/vectors/node

. "$(dirname "$0")/testlib.sh"
start_broker

# Operators under other identities (needs root to switch): a user that
# /etc/group lists in a group other than its primary one stands in for an
# operator in group edged.
member_uid=
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 && command -v getent >/dev/null 2>&1; then
	for entry in $(getent group | awk -F: '$4 != "" { print $1 ":" $3 ":" $4 }'); do
		g_name=${entry%%:*}
		rest=${entry#*:}
		g_gid=${rest%%:*}
		for user in $(printf '%s\n' "${rest#*:}" | tr ',' ' '); do
			pw=$(getent passwd "$user") || continue
			u_uid=$(printf '%s\n' "$pw" | cut -d: -f3)
			u_gid=$(printf '%s\n' "$pw" | cut -d: -f4)
			if [ "$u_uid" != 0 ] && [ "$u_gid" != "$g_gid" ]; then
				member_uid=$u_uid member_gid=$u_gid member_group=$g_name
				break 2
			fi
		done
	done
fi

write_edged_conf
if [ -n "$member_uid" ]; then
	# The socket group reads; administering takes group root (or root).
	printf '[control]\nsocket_group = %s\nadmin_group = root\n' "$member_group" >> "$tmp/edged.conf"
fi
sock="$tmp/run/edged.sock"

# Not running yet: exit code 3. Bad usage: 2.
expect 3 "$edgectl" -s "$sock" status
EDGECTL_SOCKET="$sock" expect 3 "$edgectl" devices
expect 2 "$edgectl" -s "$sock" frobnicate
expect 2 "$edgectl" -s "$sock" devices --state sideways
expect 0 "$edgectl" status --help
grep -q "Usage: edgectl status" "$tmp/out" || fail "status --help"
expect 0 "$edgectl" --help
grep -q "3  edged is not running" "$tmp/out" || fail "--help lacks exit codes"
for sub in status devices config reload model; do
	expect 0 "$edgectl" $sub --help
	grep -qi "usage: edgectl $sub" "$tmp/out" || fail "$sub --help prints no usage"
done
expect 0 "$edgectl" devices show --help

# --check-config: 0/1 with the reason on stderr.
expect 0 "$edged" --check-config "$tmp/edged.conf"
printf '[mqtt]\nport = 70000\n' > "$tmp/bad.conf"
expect 1 "$edged" --check-config "$tmp/bad.conf"
grep -q "bad.conf:2" "$tmp/err" || fail "--check-config did not name file:line"
# A broker that is not on a loopback address is valid, but the unit's
# IPAddressAllow=localhost blocks it: a warning, exit 0.
grep -q "warning" "$tmp/err" && fail "--check-config warned about the test config"
for host in 127.0.0.1 127.3.2.1 ::1 ::ffff:127.0.0.2 localhost LocalHost localhost.; do
	printf '[mqtt]\nhost = %s\n' "$host" > "$tmp/host.conf"
	expect 0 "$edged" --check-config "$tmp/host.conf"
	grep -q "warning" "$tmp/err" && fail "--check-config warned about loopback host $host"
done
for host in 10.0.0.5 192.168.1.20 fe80::1 ::2 broker.example.org localhost.example.org 128.0.0.1; do
	printf '[mqtt]\nhost = %s\n' "$host" > "$tmp/host.conf"
	expect 0 "$edged" --check-config "$tmp/host.conf"
	grep -q "warning: mqtt.host = $host is not a loopback address" "$tmp/err" ||
		fail "--check-config did not warn about host $host"
	grep -q "IPAddressAllow=" "$tmp/err" || fail "the warning does not say how to allow $host"
	grep -q "configuration ok" "$tmp/out" || fail "--check-config with host $host not ok"
done

"$edged" -c "$tmp/edged.conf" >"$tmp/edged.log" 2>&1 &
edged_pid=$!
wait_for "control socket" test -S "$sock"
wait_for "broker connection" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"state\": \"connected\"'"

# A second edged on the same directories must refuse to start, and leave
# the first one alone.
expect 1 "$edged" -c "$tmp/edged.conf"
grep -q "another edged is running" "$tmp/err" || fail "second instance: no clear message"
expect 0 "$edgectl" -s "$sock" --json status
grep -q '"reconnects": 0' "$tmp/out" || fail "second instance disturbed the first"

# edged itself decides who may control it: a member of control.socket_group
# by the group database (with no supplementary groups in its process) gets
# the read role (admin_group is set), anybody else gets not_authorised
# (exit 4). The socket file is opened up here so that only edged's check is
# tested.
if [ -n "$member_uid" ]; then
	chmod 0755 "$tmp" "$tmp/run"
	chmod 0666 "$sock"
	as_member() {
		setpriv --reuid="$member_uid" --regid="$member_gid" --clear-groups "$edgectl" -s "$sock" "$@"
	}
	expect 0 as_member status
	expect 0 as_member devices
	expect 0 as_member config
	# An admin command: refused with the group it needs, exit 4.
	expect 4 as_member reload
	grep -q "reload needs the admin role (group root, or root) (not_authorised)" "$tmp/err" ||
		{ cat "$tmp/err"; fail "reload refusal does not name the admin group"; }
	expect 4 as_member devices remove node-x
	grep -q "devices.remove needs the admin role" "$tmp/err" || fail "remove not refused by role"
	expect 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$edgectl" -s "$sock" status
	grep -q "not_authorised" "$tmp/err" || fail "refusal does not say not_authorised"
	expect 0 "$edgectl" -s "$sock" --json status
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["control"]; assert c["refused_role"]==2 and c["refused_auth"]==1, c' \
		"$tmp/out" || fail "role refusals not counted"
	echo "peer check: uid $member_uid (group $member_group) reads, may not administer; nobody refused"
else
	echo "note: not root, no setpriv or no supplementary group member: peer check by other users skipped"
fi

# Nodes through the real broker.
if ! command -v mosquitto_pub >/dev/null 2>&1; then
	echo "note: mosquitto_pub (mosquitto-clients) missing: node messages not exercised"
elif [ -r "$vectors/hello_ok.json" ]; then
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t edge/v1/node-01/hello -f "$vectors/hello_ok.json" ||
		fail "publish hello"
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t edge/v1/node-02/hello -m '{"proto":1' || fail "publish"
	wait_for "node-01 registered" sh -c "'$edgectl' -s '$sock' devices | grep -q '^node-01 *online'"
	expect 0 "$edgectl" -s "$sock" devices show node-01
	grep -q "^fw  *1.4.2" "$tmp/out" || fail "devices show: no firmware line"
	expect 0 "$edgectl" -s "$sock" --json devices show node-01
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["id"]=="node-01" and d["ram_bytes"]==262144' \
		"$tmp/out" || fail "devices show --json"
	wait_for "bad_json counted" sh -c "'$edgectl' -s '$sock' status | grep -q 'bad_json 1'"
fi
expect 1 "$edgectl" -s "$sock" devices show no-such-node
expect 0 "$edgectl" -s "$sock" devices --state stale --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"]==0' "$tmp/out" ||
	fail "devices --state stale --json"
expect 0 "$edgectl" -s "$sock" config
grep -q "mqtt.port" "$tmp/out" || fail "config lacks mqtt.port"
# Output that cannot be written is an error, in both forms.
if [ -w /dev/full ]; then
	expect 1 sh -c "'$edgectl' -s '$sock' status > /dev/full"
	expect 1 sh -c "'$edgectl' -s '$sock' --json config > /dev/full"
fi

# The broker goes away and comes back: edged reconnects by itself and
# queues what it publishes meanwhile.
kill "$mosq_pid"
wait "$mosq_pid" 2>/dev/null
mosq_pid=
wait_for "broker loss noticed" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"state\": \"disconnected\"'"
start_broker
wait_for "reconnect" sh -c "'$edgectl' -s '$sock' --json status | grep -q '\"reconnects\": 1'"
expect 0 "$edgectl" -s "$sock" --json status
grep -q '"state": "connected"' "$tmp/out" || fail "not connected after the broker came back"

# Reload: a reloadable change applies, a restart-only one is reported, a
# broken file is refused and the daemon keeps running.
sed -i 's/^level = info/level = debug/' "$tmp/edged.conf"
expect 0 "$edgectl" -s "$sock" reload
expect 0 "$edgectl" -s "$sock" --json config
grep -q '"value": "debug"' "$tmp/out" || fail "log.level not reloaded"
printf '[registry]\nmax_devices = 7\n' >> "$tmp/edged.conf"
expect 0 "$edgectl" -s "$sock" reload
grep -q "registry.max_devices" "$tmp/out" || fail "restart-only key not reported"
# A refused file: edgectl reload tells the truth (exit 1, the file:line
# reason), edged logs it as a warning and keeps running on the old
# configuration; SIGHUP reports the same way.
cp "$tmp/edged.conf" "$tmp/good.conf"
echo "nonsense" >> "$tmp/edged.conf"
bad_line=$(wc -l < "$tmp/edged.conf")
expect 1 "$edgectl" -s "$sock" reload
grep -q "edged.conf:$bad_line" "$tmp/err" || { cat "$tmp/err"; fail "reload refusal lacks file:line"; }
grep -q "<4>edged: reload failed, keeping the running configuration: .*edged.conf:$bad_line" \
	"$tmp/edged.log" || fail "refused edgectl reload not logged as a warning"
expect 0 "$edgectl" -s "$sock" --json status
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["reloads"]; assert d["failed"]==1 and d["ok"]==2 and "edged.conf" in d["last_error"], d' \
	"$tmp/out" || fail "status after a refused reload"
expect 0 "$edgectl" -s "$sock" --json config
grep -q '"value": "debug"' "$tmp/out" || fail "old configuration not kept after a refused reload"
kill -HUP "$edged_pid"
wait_for "refused SIGHUP reload logged" sh -c "[ \$(grep -c '<4>edged: reload failed.*edged.conf:$bad_line' '$tmp/edged.log') -eq 2 ]"
expect 0 "$edgectl" -s "$sock" status
# Fixed again: reloaded, exit 0.
cp "$tmp/good.conf" "$tmp/edged.conf"
expect 0 "$edgectl" -s "$sock" reload
grep -q "configuration reloaded" "$tmp/out" || fail "good reload not reported"
# The control connections are in status.
expect 0 "$edgectl" -s "$sock" status
grep -q "^control .*1/16 clients (+2 reserved), refused busy 0, timeouts 0" "$tmp/out" ||
	{ cat "$tmp/out"; fail "status lacks the control line"; }

# Clean stop: exit 0, socket removed.
kill -TERM "$edged_pid"
wait "$edged_pid"
rc=$?
edged_pid=
[ $rc -eq 0 ] || fail "edged exited $rc on SIGTERM"
[ ! -e "$sock" ] || fail "socket left behind"
grep -q "stopped" "$tmp/edged.log" || fail "no stop message"

# Start-up failure: clear message, nonzero exit.
printf '[paths]\nstate_dir = /proc/edged-cannot-exist\nruntime_dir = %s/run\n' "$tmp" > "$tmp/nostate.conf"
expect 1 "$edged" -c "$tmp/nostate.conf"
grep -q "cannot create state directory" "$tmp/err" || fail "no clear start-up error"
echo "ok"
exit 0
