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
# direction, nothing for anonymous clients (no topic line before "user").
"$edgectl" broker-config --print-acl > "$tmp/out" || fail "--print-acl"
# a topic line before the first user line would apply to anonymous clients
before_user=$(sed -n '/^user /q;p' "$tmp/out" | grep -c '^topic')
[ "$before_user" -eq 0 ] || fail "a topic line applies to anonymous clients"
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
echo "ok: broker-config"
exit 0
