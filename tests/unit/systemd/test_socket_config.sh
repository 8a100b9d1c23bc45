#!/bin/sh
# edged --check-config on mqtt.host as the broker's Unix socket (what the
# shipped unit needs): the default is a socket path and draws no warning; a
# path longer than sun_path is refused; a socket is no address for nodes,
# so broker.identity_dir needs broker.node_url; a TCP broker elsewhere is
# valid with a warning that points to the TCP drop-in.
# Usage: test_socket_config.sh EDGED
# Exit codes follow meson: 0 pass, 1 fail.
set -u

edged=$1
tmp=$(mktemp -d /tmp/edged-sockcfg-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*"
	cat "$tmp/err" 2>/dev/null
	exit 1
}
check() { # EXPECTED_RC CONF_TEXT
	printf '%b' "$2" >"$tmp/edged.conf"
	"$edged" --check-config "$tmp/edged.conf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq "$1" ] || fail "--check-config exited $rc, not $1, for: $2"
}

check 0 ''
grep -q warning "$tmp/err" && fail "a warning about the default configuration"
"$edged" -c "$tmp/edged.conf" --dump-config 2>/dev/null | grep -q '^host = /run/mosquitto-edged/mqtt.sock$' ||
	fail "the default mqtt.host is not /run/mosquitto-edged/mqtt.sock"
echo "ok - default mqtt.host is the broker's socket, no warning"

long=/$(printf '%0106d' 0)
check 0 "[mqtt]\nhost = $long\n"
check 1 "[mqtt]\nhost = ${long}0\n"
grep -q "edged.conf:2: mqtt.host: a Unix socket path must fit in 107 bytes" "$tmp/err" ||
	fail "no clear message for a 108-byte socket path"
echo "ok - a socket path of 107 bytes passes, 108 is refused"

check 1 "[mqtt]\nhost = /run/b.sock\n[broker]\nidentity_dir = /etc/mosquitto/edged\n"
grep -q "broker.node_url is needed" "$tmp/err" || fail "no message about broker.node_url"
check 0 "[mqtt]\nhost = /run/b.sock\n[broker]\nidentity_dir = /etc/mosquitto/edged\nnode_url = mqtts://192.0.2.1:8883\n"
check 0 "[mqtt]\nhost = 127.0.0.1\n[broker]\nidentity_dir = /etc/mosquitto/edged\n"
echo "ok - a socket with broker.identity_dir needs broker.node_url"

check 0 "[mqtt]\nhost = 192.0.2.7\n"
grep -q "warning: mqtt.host = 192.0.2.7 is not a loopback address.*docs/production.md" "$tmp/err" ||
	fail "no warning pointing to the TCP drop-in"
echo "ok - a broker on another host: a warning naming the TCP drop-in"

check 0 "[mqtt]\nusername = edged\nclient_id = edged-1\n"
grep -q "warning: mqtt.client_id (edged-1) differs from mqtt.username (edged).*client-id plugin" \
	"$tmp/err" || fail "no warning about a client id other than the username"
check 0 "[mqtt]\nusername = edged\n"
grep -q warning "$tmp/err" && fail "a warning although client_id = username"
echo "ok - a client id other than the username draws a warning"

check 0 "[central]\nconninfo = host=192.0.2.9 dbname=edged\ngateway_id = site-1\n"
grep -q "warning: central.conninfo is set: the edged service has no network.*docs/production.md" \
	"$tmp/err" || fail "no warning naming the central drop-in"
check 1 "[central]\nconninfo = host=192.0.2.9 dbname=edged\n"
grep -q "central.conninfo needs central.gateway_id" "$tmp/err" ||
	fail "no error about the missing gateway id"
echo "ok - central forwarding: a warning naming its drop-in, a gateway id required"
exit 0
