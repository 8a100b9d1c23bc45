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
has message_size_limit 65536
has max_packet_size 66560
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

# Anonymous unless access control is asked for; no TLS listener.
"$edgectl" broker-config > "$tmp/out" || fail "defaults"
has allow_anonymous true
grep -q '^password_file\|^acl_file\|^use_username_as_clientid\|^cafile' "$tmp/out" &&
	fail "access or TLS directives without options"

# The plain listener leaves loopback only when told to.
for addr in 0.0.0.0 192.168.1.10 :: example.org; do
	"$edgectl" broker-config --bind $addr > "$tmp/out" 2>&1
	[ $? -eq 2 ] || fail "--bind $addr without --allow-plain-network was accepted"
done
"$edgectl" broker-config --bind 127.0.0.2 > "$tmp/out" || fail "--bind 127.0.0.2"
"$edgectl" broker-config --bind 0.0.0.0 --allow-plain-network > "$tmp/out" ||
	fail "--allow-plain-network"
has listener "1883 0.0.0.0"

# Access control: no anonymous clients, the files, the client-id rule.
"$edgectl" broker-config --password-file /etc/mosquitto/edge.passwd \
	--acl-file /etc/mosquitto/edge.acl > "$tmp/out" || fail "access control"
has per_listener_settings false
has allow_anonymous false
has password_file /etc/mosquitto/edge.passwd
has acl_file /etc/mosquitto/edge.acl
has use_username_as_clientid true
has check_retain_source true

# Mutual TLS: a second listener with the CA, CN as username, its own
# client-id rule (mosquitto keeps it per listener).
"$edgectl" broker-config --password-file /p --acl-file /a --tls-listener 8883 \
	--cafile /ca.crt --certfile /b.crt --keyfile /b.key --require-certificate \
	--crlfile /ca.crl > "$tmp/out" || fail "mutual TLS"
has listener "1883 127.0.0.1"
has listener 8883
has cafile /ca.crt
has certfile /b.crt
has keyfile /b.key
has crlfile /ca.crl
has require_certificate true
has use_identity_as_username true
[ "$(grep -c '^use_username_as_clientid true$' "$tmp/out")" -eq 2 ] ||
	fail "the client-id rule is not on both listeners"
# the client-id rule follows its listener line
awk '/^listener /{l=$0} /^use_username_as_clientid/{print l}' "$tmp/out" > "$tmp/rules"
[ "$(sort -u "$tmp/rules" | wc -l)" -eq 2 ] || fail "client-id rule placement"

# TLS with passwords only: no client certificate asked for.
"$edgectl" broker-config --password-file /p --acl-file /a --tls-listener 8883 \
	--tls-bind 10.0.0.1 --cafile /ca.crt --certfile /b.crt --keyfile /b.key > "$tmp/out" ||
	fail "TLS"
has listener "8883 10.0.0.1"
grep -q '^require_certificate\|^use_identity_as_username' "$tmp/out" &&
	fail "mutual TLS without --require-certificate"

T="--tls-listener 8883 --cafile /c --certfile /d --keyfile /e"
for bad in "--password-file /p" "--acl-file /a" "--password-file p --acl-file /a" \
	"$T" "--password-file /p --acl-file /a --tls-listener 8883" \
	"--password-file /p --acl-file /a $T --crlfile /x" \
	"--password-file /p --acl-file /a --tls-listener 1883 --cafile /c --certfile /d --keyfile /e" \
	"--require-certificate" "--cafile /c" "--prefix x" "--print-acl --port 1" \
	"--print-acl --prefix edge/+" "--print-acl --prefix /edge" "--print-acl --prefix edge/" \
	"--print-acl --gateway-user a:b" "--print-acl --gateway-user a/b"; do
	# shellcheck disable=SC2086
	"$edgectl" broker-config $bad > "$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "'broker-config $bad' exited $rc, expected 2"
done

# The ACL: gateway everywhere, each node its own subtree in each type's
# direction, for clients without a user name (anonymous ones are refused;
# the broker's own bridges have none) only the bridges' state topic.
"$edgectl" broker-config --print-acl > "$tmp/out" || fail "--print-acl"
# a topic line before the first user line applies to clients without a name
before_user=$(sed -n '/^user /q;p' "$tmp/out" | grep '^topic')
[ "$before_user" = 'topic write $SYS/broker/connection/+/state' ] ||
	fail "topic lines for clients without a user name: $before_user"
has topic 'read $SYS/broker/connection/#'
has user edged
has topic "readwrite edge/v1/#"
for t in hello status heartbeat report ota/req/# infer/req infer/verify; do has pattern "write edge/v1/%u/$t"; done
for t in registered ack ota/# infer/resp; do has pattern "read edge/v1/%u/$t"; done
# Campaign chunks: every node reads them, none writes them.
has pattern "read edge/v1/_campaign/#"
[ "$(grep -c '^pattern' "$tmp/out")" -eq 12 ] || fail "unexpected pattern lines"
"$edgectl" broker-config --print-acl --prefix site/3/edge --gateway-user gw-1 > "$tmp/out" ||
	fail "--print-acl with options"
has user gw-1
has topic "readwrite site/3/edge/#"
has pattern "write site/3/edge/%u/hello"
# --clientid-plugin: the plugin refuses a client id other than the
# username on password logins, so the rename is left out there; the
# mutual-TLS listener (no plugin runs for a certificate login) keeps it.
tls="--tls-listener 8883 --cafile /c --certfile /c2 --keyfile /k"
# shellcheck disable=SC2086
"$edgectl" broker-config --password-file /p --acl-file /a --clientid-plugin /x/e.so $tls \
	> "$tmp/out" || fail "--clientid-plugin"
grep -qx 'plugin /x/e.so' "$tmp/out" || fail "no plugin line"
grep -q '^use_username_as_clientid' "$tmp/out" && fail "rename kept with the plugin"
# shellcheck disable=SC2086
"$edgectl" broker-config --password-file /p --acl-file /a --clientid-plugin /x/e.so $tls \
	--require-certificate > "$tmp/out" || fail "--clientid-plugin with mutual TLS"
[ "$(grep -c '^use_username_as_clientid true$' "$tmp/out")" -eq 1 ] ||
	fail "the mutual-TLS listener must keep the rename"
"$edgectl" broker-config --clientid-plugin /x/e.so > /dev/null 2>&1
[ $? -eq 2 ] || fail "--clientid-plugin without access control must be refused"

# The bridge upstream: only with --bridge-address; every directive of the
# block with its value, the topics remapped under site/<id>/, heartbeats
# left out by default, the queue raised, saves every minute.
grep -q '^connection \|^address \|^topic ' "$tmp/out" && fail "a bridge without --bridge-address"
printf 'pw 1\nignored\n' > "$tmp/pw"
B="--bridge-address 127.0.0.1:4222 --bridge-address=127.0.0.2:4223 --bridge-gateway-id gw-1"
# shellcheck disable=SC2086
"$edgectl" broker-config $B --bridge-address 127.0.0.1:4224 --bridge-user gw1 \
	--bridge-password-file "$tmp/pw" > "$tmp/out" || fail "bridge"
has connection upstream
has address "127.0.0.1:4222 127.0.0.2:4223 127.0.0.1:4224"
has round_robin false
has bridge_protocol_version mqttv311
has try_private false
has cleansession false
has remote_clientid edged-gw-1
has local_clientid edged-bridge-upstream
has remote_username gw1
has remote_password "pw 1"
has keepalive_interval 30
has restart_timeout "2 30"
has start_type automatic
has notifications true
has notifications_local_only true
has notification_topic '\$SYS/broker/connection/upstream/state'
has topic "+/hello out 1 edge/v1/ site/gw-1/edge/v1/"
has topic "+/status out 1 edge/v1/ site/gw-1/edge/v1/"
has topic "+/report out 1 edge/v1/ site/gw-1/edge/v1/"
[ "$(grep -c '^topic' "$tmp/out")" -eq 3 ] || fail "unexpected topic lines"
has max_queued_messages 100000
has persistence true
has autosave_interval 60
has autosave_on_changes false
grep -q '^bridge_cafile\|^bridge_insecure\|^bridge_tls_version' "$tmp/out" &&
	fail "bridge TLS without --bridge-cafile"
# Everything after `connection` belongs to the bridge: it comes last.
[ "$(sed -n '/^connection /,$p' "$tmp/out" | grep -v '^#' |
	grep -cv '^\(connection\|address\|round_robin\|bridge_\|try_private\|cleansession\|remote_\|local_clientid\|keepalive_interval\|restart_timeout\|start_type\|notification\|topic\)')" -eq 0 ] ||
	fail "a general directive after the bridge's connection line"

# Heartbeats and registered when asked; name, prefixes, queue, TLS.
# shellcheck disable=SC2086
"$edgectl" broker-config $B --bridge-name wan --bridge-prefix fleet/eu/ --prefix acme/edge \
	--bridge-topics report,heartbeat,registered --bridge-queue 250000 \
	--bridge-address example.org:8883 --bridge-cafile /ca.crt --bridge-certfile /gw.crt \
	--bridge-keyfile /gw.key > "$tmp/out" || fail "bridge with options"
has connection wan
has local_clientid edged-bridge-wan
has notification_topic '\$SYS/broker/connection/wan/state'
has topic "+/report out 1 acme/edge/ fleet/eu/acme/edge/"
has topic "+/heartbeat out 1 acme/edge/ fleet/eu/acme/edge/"
has topic "+/registered out 1 acme/edge/ fleet/eu/acme/edge/"
[ "$(grep -c '^topic' "$tmp/out")" -eq 3 ] || fail "unexpected topic lines"
has max_queued_messages 250000
has bridge_cafile /ca.crt
has bridge_insecure false
has bridge_tls_version tlsv1.2
has bridge_certfile /gw.crt
has bridge_keyfile /gw.key
grep -q '^remote_username\|^remote_password' "$tmp/out" && fail "credentials without --bridge-user"
# The fleet's own need wins when it is the larger.
# shellcheck disable=SC2086
"$edgectl" broker-config $B --max-nodes 100000 > "$tmp/out" || fail "bridge, big fleet"
has max_queued_messages 201000

# Refusals: each a usage error (exit 2).
L="--bridge-address 127.0.0.1:1"
for bad in "--bridge-gateway-id gw1" "$L" "$L --bridge-gateway-id g.1" \
	"$L --bridge-gateway-id g/1" "$L --bridge-gateway-id 01234567890123456789012345678901234567890123456789012345678901234" \
	"--bridge-address 10.0.0.1:1883 --bridge-gateway-id g1" \
	"--bridge-address example.org:1883 --bridge-gateway-id g1" \
	"--bridge-address 127.0.0.1 --bridge-gateway-id g1" \
	"--bridge-address 127.0.0.1:0 --bridge-gateway-id g1" \
	"--bridge-address ::1:1883 --bridge-gateway-id g1" \
	"$L --bridge-gateway-id g1 --bridge-topics report,ack" \
	"$L --bridge-gateway-id g1 --bridge-topics report," \
	"$L --bridge-gateway-id g1 --bridge-topics ota" \
	"$L --bridge-gateway-id g1 --bridge-queue 1000" \
	"$L --bridge-gateway-id g1 --bridge-queue x" \
	"$L --bridge-gateway-id g1 --bridge-prefix site/g1" \
	"$L --bridge-gateway-id g1 --bridge-prefix site/+/" \
	"$L --bridge-gateway-id g1 --bridge-prefix site.x/" \
	"$L --bridge-gateway-id g1 --prefix edge/" \
	"$L --bridge-gateway-id g1 --bridge-name a.b" \
	"$L --bridge-gateway-id g1 --bridge-user u" \
	"$L --bridge-gateway-id g1 --bridge-user u --bridge-password-file $tmp/none" \
	"$L --bridge-gateway-id g1 --bridge-certfile /c --bridge-keyfile /k" \
	"$L --bridge-gateway-id g1 --bridge-cafile /ca --bridge-certfile /c" \
	"$L --bridge-gateway-id g1 --bridge-cafile ca.crt" \
	"--bridge-gateway-id g1 --bridge-queue 5000" "--bridge-allow-plain" \
	"--print-acl $L"; do
	# shellcheck disable=SC2086
	"$edgectl" broker-config $bad > "$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "'broker-config $bad' exited $rc, expected 2"
done
"$edgectl" broker-config --bridge-address 10.0.0.1:1883 --bridge-gateway-id g1 \
	> "$tmp/out" 2>&1
grep -q 'not a loopback address' "$tmp/out" || fail "no reason for a plain bridge refused"
"$edgectl" broker-config $L --bridge-gateway-id g1 --bridge-topics report,ack > "$tmp/out" 2>&1
grep -q "unknown type 'ack'" "$tmp/out" || fail "no reason for an unknown topic"
"$edgectl" broker-config --bridge-address 10.0.0.1:1883 --bridge-gateway-id g1 \
	--bridge-allow-plain > "$tmp/out" || fail "--bridge-allow-plain"
has address 10.0.0.1:1883
printf '\n' > "$tmp/pw"
"$edgectl" broker-config $L --bridge-gateway-id g1 --bridge-user u \
	--bridge-password-file "$tmp/pw" > "$tmp/out" 2>&1
[ $? -eq 2 ] || fail "an empty bridge password was accepted"
A=""
for i in 1 2 3 4 5 6 7 8 9; do A="$A --bridge-address 127.0.0.1:$i"; done
# shellcheck disable=SC2086
"$edgectl" broker-config $A --bridge-gateway-id g1 > "$tmp/out" 2>&1
[ $? -eq 2 ] || fail "nine bridge addresses were accepted"
echo "ok: broker-config"
exit 0
