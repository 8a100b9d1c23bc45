#!/usr/bin/env bash
# Suite 'pki' (broker-init): `edgectl broker-init` and `edgectl broker-config
# --identity-dir` give a real mosquitto everything it needs.
#   - the files, their modes, the summary; a second run (existing CA or
#     identity files) is refused with exit 1 and changes nothing; a bad
#     --san leaves nothing behind; --owner/--broker-group: applied as root,
#     refused for another user without root;
#   - mosquitto started with the generated mosquitto.conf (plain listener
#     and a mutual-TLS listener, pid_file): edged's user logs in with the
#     generated secret; a node certificate from the same CA connects over
#     TLS (the broker's certificate verified for 127.0.0.1) and its message
#     reaches edged's subscriber; no certificate, another CA's or a wrong
#     gateway password are refused.
# Usage: test_broker_init.sh EDGECTL PKI_TOOL. Every wait is bounded; only
# the broker and clients started here are stopped, by PID.
# The checks given to eval expand their variables when they run.
# shellcheck disable=SC2016
set -euo pipefail

edgectl=$1
tool=$2
. "$(dirname "$0")/brokerlib.sh"
broker_test_init init openssl stat

check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
mode_is() { [[ $(stat -c %a "$1") == "$2" ]] || { echo "  $1: mode $(stat -c %a "$1"), want $2"; return 1; }; }

id=$dir/broker-identity
pki=$dir/state/pki
secret=$pki/mqtt-password

# ---- broker-init
rc=0
"$edgectl" broker-init --dir "$id" --pki-dir "$pki" --name test-gw --san gw.example \
  --san 192.0.2.7 >"$dir/init.out" 2>"$dir/init.err" || rc=$?
check "broker-init exits 0" test "$rc" -eq 0
for f in ca.crt broker.crt broker.key ca.crl passwd acl; do
  check "identity dir holds $f" test -f "$id/$f"
done
check "pki dir holds ca.key and ca.crt" test -f "$pki/ca.key" -a -f "$pki/ca.crt"
check "modes: identity dir 2750 (set-group-ID), pki dir 0700" \
  eval 'mode_is "$id" 2750 && mode_is "$pki" 700'
check "modes: keys and secret" eval 'mode_is "$pki/ca.key" 600 && mode_is "$secret" 600 &&
  mode_is "$id/broker.key" 640'
check "modes: passwd, acl 0640; certificates, CRL 0644" eval 'mode_is "$id/passwd" 640 &&
  mode_is "$id/acl" 640 && mode_is "$id/ca.crt" 644 && mode_is "$id/broker.crt" 644 &&
  mode_is "$id/ca.crl" 644'
check "the identity dir's ca.crt is the CA's" cmp -s "$id/ca.crt" "$pki/ca.crt"
check "passwd has the gateway user only" \
  eval '[[ $(cut -d: -f1 "$id/passwd") == edged && $(grep -c "^edged:[$]7[$]101[$]" "$id/passwd") == 1 ]]'
check "the acl is broker-config --print-acl's" \
  eval 'cmp -s "$id/acl" <("$edgectl" broker-config --print-acl)'
check "the secret is one line" eval '[[ $(wc -l <"$secret") == 1 && $(head -c 24 "$secret" | wc -c) == 24 ]]'
fp=$(openssl x509 -in "$pki/ca.crt" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
  tr 'A-F' 'a-f')
check "summary names the CA fingerprint" grep -q "$fp" "$dir/init.out"
check "summary names the next commands" eval 'grep -q "broker-config --identity-dir $id" "$dir/init.out" &&
  grep -q "identity_dir = $id" "$dir/init.out" && grep -q "password_file = $secret" "$dir/init.out"'
expect_ok "openssl: the broker certificate for 127.0.0.1" \
  openssl verify -CAfile "$id/ca.crt" -purpose sslserver -verify_ip 127.0.0.1 "$id/broker.crt"
expect_ok "openssl: the broker certificate for --san gw.example" \
  openssl verify -CAfile "$id/ca.crt" -purpose sslserver -verify_hostname gw.example "$id/broker.crt"
expect_ok "openssl: the broker certificate for --san 192.0.2.7" \
  openssl verify -CAfile "$id/ca.crt" -purpose sslserver -verify_ip 192.0.2.7 "$id/broker.crt"
expect_ok "openssl: the CRL is the CA's and empty" \
  eval 'openssl crl -in "$id/ca.crl" -CAfile "$id/ca.crt" -noout 2>&1 | grep -q "verify OK" &&
    ! openssl crl -in "$id/ca.crl" -noout -text | grep -q "Serial Number"'

# ---- never overwrite
sum_before=$(cat "$pki/ca.key" "$id"/* "$secret" | sha256sum)
rc=0
"$edgectl" broker-init --dir "$id" --pki-dir "$pki" >/dev/null 2>"$dir/again.err" || rc=$?
check "a second run exits 1" test "$rc" -eq 1
check "a second run says how to start over" grep -q "gateway CA exists in $pki.*" "$dir/again.err"
rc=0
"$edgectl" broker-init --dir "$id" --pki-dir "$dir/other-pki" >/dev/null 2>"$dir/again.err" || rc=$?
check "existing identity files: exit 1" test "$rc" -eq 1
check "existing identity files are named" grep -q "already holds ca.crt, broker.crt" "$dir/again.err"
check "existing identity files: no new CA" test ! -e "$dir/other-pki/ca.key"
check "nothing changed" test "$(cat "$pki/ca.key" "$id"/* "$secret" | sha256sum)" = "$sum_before"
rc=0
"$edgectl" broker-init --dir "$dir/bad/id" --pki-dir "$dir/bad/pki" --san 'not a name' \
  >/dev/null 2>&1 || rc=$?
check "a bad --san: exit 2" test "$rc" -eq 2
check "a bad --san leaves nothing behind" test ! -e "$dir/bad"
rc=0
"$edgectl" broker-init --dir "$dir/same" --pki-dir "$dir/same" >/dev/null 2>&1 || rc=$?
check "--pki-dir equal to --dir: exit 2" test "$rc" -eq 2

# ---- ownership
if ((EUID == 0)) && getent passwd nobody >/dev/null && getent group nogroup >/dev/null; then
  "$edgectl" broker-init --dir "$dir/own/id" --pki-dir "$dir/own/pki" --owner nobody \
    --broker-group nogroup >/dev/null
  check "root --owner: identity dir nobody:nogroup" \
    test "$(stat -c %U:%G "$dir/own/id")" = nobody:nogroup
  check "root --owner: passwd and broker.key nobody:nogroup" \
    test "$(stat -c %U:%G "$dir/own/id/passwd" "$dir/own/id/broker.key" | sort -u)" = nobody:nogroup
  check "root --owner: identity dir keeps set-group-ID" mode_is "$dir/own/id" 2750
  touch "$dir/own/id/later"
  check "root --owner: a file written later gets the broker group" \
    test "$(stat -c %G "$dir/own/id/later")" = nogroup
  check "root --owner: CA key and secret belong to nobody" \
    test "$(stat -c %U "$dir/own/pki" "$dir/own/pki/ca.key" "$dir/own/pki/mqtt-password" |
      sort -u)" = nobody
elif ((EUID != 0)); then
  rc=0
  "$edgectl" broker-init --dir "$dir/own/id" --pki-dir "$dir/own/pki" --owner root \
    >/dev/null 2>&1 || rc=$?
  check "--owner another user without root: exit 2" test "$rc" -eq 2
  check "--owner refused: nothing written" test ! -e "$dir/own"
  me=$(id -un)
  "$edgectl" broker-init --dir "$dir/own/id" --pki-dir "$dir/own/pki" --owner "$me" \
    --broker-group "$(id -gn)" >/dev/null
  check "--owner self without root" test "$(stat -c %U "$dir/own/id/passwd")" = "$me"
fi

# ---- broker-config --identity-dir: the names, an explicit option wins
conf=$("$edgectl" broker-config --identity-dir "$id/" --acl-file /etc/other.acl \
  --tls-listener 8883)
check "--identity-dir: password file, TLS files" eval 'grep -qx "password_file $id/passwd" <<<"$conf" &&
  grep -qx "cafile $id/ca.crt" <<<"$conf" && grep -qx "keyfile $id/broker.key" <<<"$conf"'
check "--identity-dir: an explicit --acl-file wins" grep -qx "acl_file /etc/other.acl" <<<"$conf"
check "--identity-dir: no crlfile without --require-certificate" eval '! grep -q "^crlfile" <<<"$conf"'
check "--identity-dir without --tls-listener: no TLS files" \
  eval '! "$edgectl" broker-config --identity-dir "$id" | grep -q "^cafile"'
rc=0
"$edgectl" broker-config --identity-dir relative/dir >/dev/null 2>&1 || rc=$?
check "--identity-dir must be absolute: exit 2" test "$rc" -eq 2

# ---- a real mosquitto with the generated configuration
mkdir -p "$dir/persist"
broker_conf() {
  "$edgectl" broker-config --identity-dir "$id" --port "$port" --tls-listener "$tls_port" \
    --tls-bind 127.0.0.1 --require-certificate --persistence-dir "$dir/persist" \
    --pid-file "$dir/mosquitto.pid" >"$dir/mosquitto.conf"
  # mosquitto started as root would switch to its own user and could
  # not read this private directory.
  ((EUID == 0)) && echo "user root" >>"$dir/mosquitto.conf"
  echo "log_type all" >>"$dir/mosquitto.conf"
}
start_broker
check "the configuration uses the identity dir" \
  eval 'grep -qx "password_file $id/passwd" "$dir/mosquitto.conf" &&
    grep -qx "crlfile $id/ca.crl" "$dir/mosquitto.conf" &&
    grep -qx "certfile $id/broker.crt" "$dir/mosquitto.conf"'
check "the broker wrote its pid_file" eval '[[ $(cat "$dir/mosquitto.pid" 2>/dev/null) == "$broker_pid" ]]'

pw=$(head -n 1 "$secret")
"$tool" node "$pki" node-1 >/dev/null
mkdir "$dir/other"
"$tool" ca "$dir/other" other-gw
"$tool" node "$dir/other" node-1 >/dev/null
tls_pub() {
  timeout 10 mosquitto_pub -h 127.0.0.1 -p "$tls_port" -q 1 --cafile "$id/ca.crt" "$@"
}

expect_ok "gateway user logs in with the generated secret" \
  timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u edged -P "$pw" -i edged \
  -t edge/v1/node-1/registered -m x
expect_refused "gateway user with a wrong password" \
  timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -u edged -P "${pw}x" -i edged \
  -t edge/v1/node-1/registered -m x
expect_refused "TLS: a client without a certificate" \
  tls_pub -u edged -P "$pw" -i edged -t edge/v1/node-1/registered -m x
expect_refused "TLS: a node certificate of another CA" \
  tls_pub --cert "$dir/other/node-1.crt" --key "$dir/other/node-1.key" -i node-1 \
  -t edge/v1/node-1/hello -m x

# edged's subscriber sees the node's message sent over mutual TLS.
timeout 20 mosquitto_sub -h 127.0.0.1 -p "$port" -u edged -P "$pw" -i edged -q 1 -v \
  -t 'edge/v1/#' -C 1 >"$dir/sub.out" 2>>"$dir/client.log" &
sub_pid=$!
wait_subscribed edged
expect_ok "TLS: a node certificate from the same CA connects (broker verified)" \
  tls_pub --cert "$pki/node-1.crt" --key "$pki/node-1.key" -i node-1 -t edge/v1/node-1/hello \
  -m over-tls
if wait "$sub_pid"; then
  sub_pid=
  check "edged received the node's message" test "$(cat "$dir/sub.out")" = "edge/v1/node-1/hello over-tls"
else
  sub_pid=
  fail "edged's subscriber received nothing within 20 s"
fi

if ((failures > 0)); then
  echo "---- broker-init output"; cat "$dir/init.out" "$dir/init.err"
fi
broker_test_finish "all broker-init checks passed"
