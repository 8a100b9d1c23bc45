#!/usr/bin/env bash
# Suite 'pki' (broker): the files lib/pki writes, as a real mosquitto and
# the real OpenSSL command line see them.
#   - `openssl verify` (an independent check) accepts the broker and node
#     certificates, refuses another CA's and a revoked one;
#   - password_file + acl_file, allow_anonymous false: the right password
#     connects, a wrong one or none is refused; a node's forged publish on
#     another node's topic (or of a gateway->node type) never reaches the
#     gateway's subscriber, and a node receives only its own topics;
#   - use_username_as_clientid: another node's credentials with a node's
#     client id cannot take over its session;
#   - a mutual-TLS listener (require_certificate, use_identity_as_username,
#     crlfile) accepts our node certificate and refuses one from another
#     CA, a revoked one and a client without a certificate.
# Usage: test_pki_broker.sh PKI_TOOL. Every wait is bounded; only the broker
# and clients started here are stopped, by PID.
set -euo pipefail

tool=$1
. "$(dirname "$0")/brokerlib.sh"
broker_test_init pki openssl

# ---- certificates, checked by the openssl command line
mkdir "$dir/ca" "$dir/other"
"$tool" ca "$dir/ca" test-gw
"$tool" server "$dir/ca"
"$tool" node "$dir/ca" node-1 >/dev/null
revoked_serial=$("$tool" node "$dir/ca" node-2)
"$tool" crl "$dir/ca" "$revoked_serial"
"$tool" ca "$dir/other" test-gw
"$tool" node "$dir/other" node-1 >/dev/null

expect_ok "openssl verify: server certificate" \
  openssl verify -CAfile "$dir/ca/ca.crt" -purpose sslserver -verify_ip 127.0.0.1 "$dir/ca/server.crt"
expect_ok "openssl verify: server certificate for ::1" \
  openssl verify -CAfile "$dir/ca/ca.crt" -purpose sslserver -verify_ip ::1 "$dir/ca/server.crt"
expect_ok "openssl verify: server certificate for localhost" \
  openssl verify -CAfile "$dir/ca/ca.crt" -purpose sslserver -verify_hostname localhost "$dir/ca/server.crt"
expect_ok "openssl verify: node certificate" \
  openssl verify -CAfile "$dir/ca/ca.crt" -purpose sslclient "$dir/ca/node-1.crt"
expect_ok "openssl verify: node certificate with the CRL" \
  openssl verify -CAfile "$dir/ca/ca.crt" -CRLfile "$dir/ca/ca.crl" -crl_check "$dir/ca/node-1.crt"
expect_refused "openssl verify: revoked node certificate" \
  openssl verify -CAfile "$dir/ca/ca.crt" -CRLfile "$dir/ca/ca.crl" -crl_check "$dir/ca/node-2.crt"
expect_refused "openssl verify: node certificate of another CA" \
  openssl verify -CAfile "$dir/ca/ca.crt" "$dir/other/node-1.crt"
if openssl x509 -in "$dir/ca/node-1.crt" -noout -subject | grep -q "CN *= *node-1$"; then
  pass "node certificate CN is the node id"
else
  fail "node certificate CN is the node id"
fi
if openssl crl -in "$dir/ca/ca.crl" -noout -text | grep -q "Serial Number: $revoked_serial"; then
  pass "CRL lists the revoked serial"
else
  fail "CRL lists the revoked serial"
fi

# ---- the broker's files
pw_gw=$("$tool" password)
pw_n1=$("$tool" password)
pw_n2=$("$tool" password)
"$tool" passwd "$dir/passwd" edged "$pw_gw" node-1 "$pw_n1" node-2 "$pw_n2"
"$tool" acl "$dir/acl" edged

broker_conf() {
  {
    # mosquitto started as root would switch to its own user and could
    # not read the 0600 files of this directory.
    ((EUID == 0)) && echo "user root"
    cat <<CONF
per_listener_settings false
allow_anonymous false
password_file $dir/passwd
acl_file $dir/acl
log_dest stderr
log_type all
connection_messages true
listener $port 127.0.0.1
use_username_as_clientid true
listener $tls_port 127.0.0.1
use_username_as_clientid true
cafile $dir/ca/ca.crt
certfile $dir/ca/server.crt
keyfile $dir/ca/server.key
crlfile $dir/ca/ca.crl
require_certificate true
use_identity_as_username true
CONF
  } >"$dir/mosquitto.conf"
}
start_broker

pub() { timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 "$@"; }
tls_pub() {
  timeout 10 mosquitto_pub -h 127.0.0.1 -p "$tls_port" -q 1 -m x --cafile "$dir/ca/ca.crt" "$@"
}

# ---- passwords
expect_ok "password: node-1 with its password" pub -m x -u node-1 -P "$pw_n1" -i node-1 -t edge/v1/node-1/hello
expect_refused "password: node-1 with a wrong password" pub -m x -u node-1 -P "${pw_n1}x" -i node-1 -t edge/v1/node-1/hello
expect_refused "password: node-1 with edged's password" pub -m x -u node-1 -P "$pw_gw" -i node-1 -t edge/v1/node-1/hello
expect_refused "password: unknown user" pub -m x -u node-9 -P "$pw_n1" -i node-9 -t edge/v1/node-9/hello
expect_refused "password: anonymous" pub -m x -i anon -t edge/v1/node-1/hello

# ---- ACL: edged sees node-1's own hello, never its forgery on node-2's topic.
timeout 20 mosquitto_sub -h 127.0.0.1 -p "$port" -u edged -P "$pw_gw" -i edged -q 1 -v \
  -t 'edge/v1/#' -C 1 >"$dir/sub.out" 2>>"$dir/client.log" &
sub_pid=$!
wait_subscribed edged
pub -u node-1 -P "$pw_n1" -i node-1 -t edge/v1/node-2/status -m forged >>"$dir/client.log" 2>&1 || true
pub -u node-1 -P "$pw_n1" -i node-1 -t edge/v1/node-2/registered -m forged >>"$dir/client.log" 2>&1 || true
pub -u node-1 -P "$pw_n1" -i node-1 -t edge/v1/node-1/registered -m forged >>"$dir/client.log" 2>&1 || true
pub -u node-1 -P "$pw_n1" -i node-1 -t edge/v1/node-1/hello -m own >>"$dir/client.log" 2>&1 || true
if wait "$sub_pid"; then
  sub_pid=
  if [[ $(cat "$dir/sub.out") == "edge/v1/node-1/hello own" ]]; then
    pass "ACL: only node-1's own node->gateway message reached edged"
  else
    fail "ACL: edged received: $(cat "$dir/sub.out")"
  fi
else
  sub_pid=
  fail "ACL: edged's subscriber received nothing within 20 s"
fi

# ---- ACL: node-1 receives its own registered, never node-2's (a wildcard
# subscription is granted only where the patterns allow).
: >"$dir/sub.out"
timeout 20 mosquitto_sub -h 127.0.0.1 -p "$port" -u node-1 -P "$pw_n1" -i node-1 -q 1 -v \
  -t 'edge/v1/+/registered' -t 'edge/v1/node-2/#' -C 1 >"$dir/sub.out" 2>>"$dir/client.log" &
sub_pid=$!
wait_subscribed node-1
# node-2's credentials with node-1's client id: the broker replaces the
# client id with the username, so node-1's session is not taken over.
pub -u node-2 -P "$pw_n2" -i node-1 -t edge/v1/node-2/hello -m x >>"$dir/client.log" 2>&1 || true
pub -u edged -P "$pw_gw" -i edged -t edge/v1/node-2/registered -m other >>"$dir/client.log" 2>&1 || true
pub -u edged -P "$pw_gw" -i edged -t edge/v1/node-2/ack -m other >>"$dir/client.log" 2>&1 || true
pub -u edged -P "$pw_gw" -i edged -t edge/v1/node-1/registered -m mine >>"$dir/client.log" 2>&1 || true
if wait "$sub_pid"; then
  sub_pid=
  if [[ $(cat "$dir/sub.out") == "edge/v1/node-1/registered mine" ]]; then
    pass "ACL: node-1 received only its own gateway->node message"
  else
    fail "ACL: node-1 received: $(cat "$dir/sub.out")"
  fi
else
  sub_pid=
  fail "ACL: node-1's subscriber received nothing within 20 s"
fi
if grep -q "Client node-1 already connected" "$dir/broker.log"; then
  fail "client id: another node's credentials took over node-1's session"
elif grep -q "New client connected from 127.0.0.1:[0-9]* as node-2 .*u'node-2'" "$dir/broker.log"; then
  pass "client id: the username replaced a client id that differs from it"
else
  fail "client id: node-2 did not connect as itself"
fi

# ---- ACL: campaign frames (edge/v1/_campaign/#) reach every node; no node
# may publish there, only edged.
: >"$dir/sub.out"
timeout 20 mosquitto_sub -h 127.0.0.1 -p "$port" -u node-1 -P "$pw_n1" -i node-1 -q 1 -v \
  -t 'edge/v1/_campaign/#' -C 1 >"$dir/sub.out" 2>>"$dir/client.log" &
sub_pid=$!
wait_subscribed node-1
pub -u node-2 -P "$pw_n2" -i node-2 -t edge/v1/_campaign/00000001/frame -m forged \
  >>"$dir/client.log" 2>&1 || true
pub -u edged -P "$pw_gw" -i edged -t edge/v1/_campaign/00000001/frame -m chunk \
  >>"$dir/client.log" 2>&1 || true
if wait "$sub_pid"; then
  sub_pid=
  if [[ $(cat "$dir/sub.out") == "edge/v1/_campaign/00000001/frame chunk" ]]; then
    pass "ACL: a node reads campaign frames, and only edged's"
  else
    fail "ACL: node-1 received on the campaign topic: $(cat "$dir/sub.out")"
  fi
else
  sub_pid=
  fail "ACL: node-1's campaign subscriber received nothing within 20 s"
fi

# ---- mutual TLS
expect_ok "TLS: node-1 with our certificate" \
  tls_pub --cert "$dir/ca/node-1.crt" --key "$dir/ca/node-1.key" -i node-1 -t edge/v1/node-1/hello
expect_refused "TLS: certificate from another CA" \
  tls_pub --cert "$dir/other/node-1.crt" --key "$dir/other/node-1.key" -i node-1 -t edge/v1/node-1/hello
expect_refused "TLS: revoked certificate" \
  tls_pub --cert "$dir/ca/node-2.crt" --key "$dir/ca/node-2.key" -i node-2 -t edge/v1/node-2/hello
expect_refused "TLS: no client certificate" \
  tls_pub -u node-1 -P "$pw_n1" -i node-1 -t edge/v1/node-1/hello
# Another client id: the CN becomes the username, and the username the
# client id.
lines=$(wc -l <"$dir/broker.log")
tls_pub --cert "$dir/ca/node-1.crt" --key "$dir/ca/node-1.key" -i cn-probe -t edge/v1/node-1/hello \
  >>"$dir/client.log" 2>&1 || true
if tail -n +"$((lines + 1))" "$dir/broker.log" |
  grep -q "New client connected from 127.0.0.1:[0-9]* as node-1 .*u'node-1'"; then
  pass "TLS: the certificate's CN became username and client id"
else
  fail "TLS: the certificate's CN became username and client id"
fi

broker_test_finish "all broker checks passed"
