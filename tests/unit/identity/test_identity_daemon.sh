#!/bin/sh
# The identity service of a real edged with a real mosquitto reading the
# files edged writes (set up by edgectl broker-init and broker-config):
# refusals (not_configured, bad_args, exists, not_found), provisioning and
# rotation (a client with the new password gets in, the old one does not),
# revocation (passwd, ACL deny pair and CRL for a certificate node), a
# restart that rewrites nothing, files behind the database brought in step
# at start, a file that cannot be written (internal, status, retried by the
# next operation), and a stop with operations queued (each one answered).
# Usage: test_identity_daemon.sh EDGED EDGECTL. Exit codes follow meson.
set -u

edged=$1
edgectl=$2
here=$(cd "$(dirname "$0")" && pwd)
ctl="python3 $here/ctl.py"

. "$here/../control/testlib.sh"
for tool in mosquitto_pub openssl; do
	command -v $tool >/dev/null 2>&1 || fail "$tool not installed (scripts/setup.sh)"
done

sock="$tmp/run/edged.sock"
id_dir="$tmp/identity"
pki_dir="$tmp/state/pki"

# get FILE EXPR: a value from the JSON answer in FILE (d = the answer).
get() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# call CODE CMD [ARGS]: one request; CODE "ok" or the error code expected.
# The answer is in $tmp/out.
call() {
	want=$1
	shift
	$ctl "$sock" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$want" = ok ]; then
		[ $rc -eq 0 ] || fail "$* answered $(cat "$tmp/out" "$tmp/err")"
	else
		[ $rc -eq 1 ] && [ "$(get "$tmp/out" 'd["error"]["code"]')" = "$want" ] ||
			fail "$* answered $(cat "$tmp/out" "$tmp/err"), expected $want"
	fi
}

# connects ID PASSWORD: a node client with these credentials gets in.
connects() {
	mosquitto_pub -h 127.0.0.1 -p "$port" -V 5 -q 1 -u "$1" -P "$2" -i "$1" \
		-t "edge/v1/$1/report" -m x >/dev/null 2>&1
}

# write_conf IDENTITY_DIR: edged's configuration, the broker's identity
# directory IDENTITY_DIR ("" = none).
write_conf() {
	write_edged_conf
	cat >> "$tmp/edged.conf" <<CONF
username = edged
password_file = $pki_dir/mqtt-password
[broker]
identity_dir = $1
pid_file = $tmp/run/mosquitto.pid
CONF
}

stop_edged() {
	kill "$edged_pid"
	wait "$edged_pid"
	[ $? -eq 0 ] || fail "edged did not stop cleanly"
	edged_pid=
}

mkdir -p "$tmp/state" "$tmp/run" "$id_dir" "$pki_dir"
chmod 700 "$pki_dir"
# edged's broker password (broker-init reuses it)
(umask 077 && echo "gateway-secret-for-tests" > "$pki_dir/mqtt-password")

# ---- Without an identity directory, or without a CA: not_configured.
write_conf ""
start_edged
call not_configured nodes.provision '{"ids": ["a"]}'
call ok nodes
[ "$(get "$tmp/out" 'len(d["result"]["nodes"])')" = 0 ] || fail "nodes not empty"
call ok status
[ "$(get "$tmp/out" 'd["result"]["identities"]["managed"]')" = False ] || fail "managed"
stop_edged

expect 0 "$edgectl" broker-init --dir "$id_dir" --pki-dir "$pki_dir" --name test
mv "$pki_dir/ca.key" "$tmp/ca.key.away"
write_conf "$id_dir"
start_edged
call not_configured nodes.provision '{"ids": ["a"], "tls_cert": true}'
grep -q "broker-init" "$tmp/out" || fail "not_configured names broker-init"
stop_edged
mv "$tmp/ca.key.away" "$pki_dir/ca.key"

# ---- The broker on the files of broker-init.
expect 0 "$edgectl" broker-config --port "$port" --identity-dir "$id_dir" \
	--pid-file "$tmp/run/mosquitto.pid" --persistence-dir "$tmp/state"
cp "$tmp/out" "$tmp/mosquitto.conf"
[ "$(id -u)" -eq 0 ] && echo "user root" >> "$tmp/mosquitto.conf"
start_broker
wait_for "broker pid file" test -s "$tmp/run/mosquitto.pid"
sums() { (cd "$id_dir" && md5sum passwd acl ca.crl); }
sums > "$tmp/sums.init"
start_edged
wait_for "edged's broker login" sh -c "$ctl '$sock' status | grep -q '\"state\": \"connected\"'"
# Nothing changed: broker-init's files stay as they are, no reload asked.
sums | cmp -s - "$tmp/sums.init" || fail "start rewrote broker-init's files"
[ ! -e "$id_dir/reload" ] || fail "reload touched with nothing changed"

# ---- Refusals.
call bad_args nodes.provision '{"ids": []}'
call bad_args nodes.provision '{"ids": ["a", "a"]}'
call bad_args nodes.provision '{"ids": ["edged"]}'
call bad_args nodes.provision '{"ids": ["bad/id"]}'
call bad_args nodes.provision '{"ids": ["a"], "rotate": "yes"}'
call bad_args nodes.revoke '{}'
call not_found nodes.revoke '{"id": "nobody"}'

# ---- Provisioning: the broker takes the new passwords.
call ok nodes.provision '{"ids": ["n1", "n2", "n3"]}'
[ "$(get "$tmp/out" 'd["result"]["reload"]')" = signal ] || fail "reload kind"
[ "$(get "$tmp/out" 'd["result"]["broker_reloaded"]')" = True ] || fail "broker reloaded"
[ "$(get "$tmp/out" 'd["result"]["ca_fingerprint"] is not None')" = True ] || fail "CA in the bundle"
pw1=$(get "$tmp/out" 'd["result"]["nodes"][0]["password"]')
pw2=$(get "$tmp/out" 'd["result"]["nodes"][1]["password"]')
[ -s "$id_dir/reload" ] || fail "reload file not written"
grep -q "^n1:[$]7[$]" "$id_dir/passwd" || fail "n1 not in passwd"
grep -qF -- "$pw1" "$id_dir/passwd" "$tmp/edged.log" "$tmp/state/edged.db" &&
	fail "a password was stored or logged"
wait_for "n1 logs in" connects n1 "$pw1"
call exists nodes.provision '{"ids": ["n4", "n2", "n1"]}'
grep -q "n2, n1" "$tmp/out" || fail "exists names the ids: $(cat "$tmp/out")"
call ok nodes
[ "$(get "$tmp/out" 'd["result"]["active"]')" = 3 ] || fail "3 active"

# ---- Rotation: the old password stops working, the new one works.
call ok nodes.provision '{"ids": ["n2"], "rotate": true}'
[ "$(get "$tmp/out" 'd["result"]["nodes"][0]["rotated"]')" = True ] || fail "rotated"
new2=$(get "$tmp/out" 'd["result"]["nodes"][0]["password"]')
wait_for "new n2 password" connects n2 "$new2"
connects n2 "$pw2" && fail "old n2 password still accepted"

# ---- Revocation of a password node.
call ok nodes.revoke '{"id": "n1"}'
[ "$(get "$tmp/out" 'd["result"]["already"]')" = False ] || fail "already"
grep -q "^n1:" "$id_dir/passwd" && fail "n1 still in passwd"
wait_for "n1 refused" sh -c "! mosquitto_pub -h 127.0.0.1 -p $port -V 5 -u n1 -P '$pw1' -i n1 -t edge/v1/n1/report -m x"
call ok nodes.revoke '{"id": "n1"}'
[ "$(get "$tmp/out" 'd["result"]["already"]')" = True ] || fail "second revoke: already"
call exists nodes.provision '{"ids": ["n1"]}'
grep -q "node n1 revoked by control client uid $(id -u) (password)" "$tmp/edged.log" ||
	fail "audit line"

# ---- A certificate node: revoked, its serial in the CRL, a deny pair in the ACL.
call ok nodes.provision '{"ids": ["c1"], "tls_cert": true}'
serial=$(get "$tmp/out" 'd["result"]["nodes"][0]["serial"]')
get "$tmp/out" 'd["result"]["nodes"][0]["cert_pem"]' > "$tmp/c1.crt"
openssl x509 -in "$tmp/c1.crt" -noout -subject | grep -q "CN *= *c1" || fail "CN = c1"
openssl verify -CAfile "$id_dir/ca.crt" "$tmp/c1.crt" >/dev/null || fail "c1 not signed by the CA"
call ok nodes.revoke '{"id": "c1"}'
[ "$(get "$tmp/out" 'd["result"]["serial"]')" = "$serial" ] || fail "revoke serial"
grep -q "^topic deny edge/v1/c1/#" "$id_dir/acl" || fail "no deny pair for c1"
openssl crl -in "$id_dir/ca.crl" -noout -text | grep -q "Serial Number: *$serial" ||
	fail "c1's serial not in the CRL"
openssl verify -crl_check -CAfile "$id_dir/ca.crt" -CRLfile "$id_dir/ca.crl" "$tmp/c1.crt" \
	>/dev/null 2>&1 && fail "c1 still verifies against the CRL"
call ok status
[ "$(get "$tmp/out" 'd["result"]["identities"]["revoked"]')" = 2 ] || fail "status revoked"
[ "$(get "$tmp/out" 'd["result"]["identities"]["files_in_sync"]')" = True ] || fail "in sync"

# ---- A restart rewrites nothing.
stop_edged
sums > "$tmp/sums.before"
cp "$id_dir/reload" "$tmp/reload.before"
start_edged
call ok nodes
[ "$(get "$tmp/out" 'd["result"]["revoked"]')" = 2 ] || fail "revoked after restart"
sums | cmp -s - "$tmp/sums.before" || fail "restart rewrote files"
cmp -s "$id_dir/reload" "$tmp/reload.before" || fail "restart asked for a reload"

# ---- Files behind the database (a crash before they were written): the
# start brings them in step.
stop_edged
grep -v "^n3:" "$id_dir/passwd" > "$tmp/passwd.old"
cp "$tmp/passwd.old" "$id_dir/passwd"
start_edged
wait_for "passwd restored" grep -q "^n3:" "$id_dir/passwd"
sums | cmp -s - "$tmp/sums.before" || fail "files not as before the crash"

# ---- A file that cannot be written: internal, status, retried next time.
mv "$id_dir/acl" "$tmp/acl.saved"
mkdir "$id_dir/acl"
call internal nodes.revoke '{"id": "n3"}'
grep -q "identity/acl" "$tmp/out" || fail "the error names the file: $(cat "$tmp/out")"
call ok status
[ "$(get "$tmp/out" 'd["result"]["identities"]["files_in_sync"]')" = False ] || fail "not in sync"
rmdir "$id_dir/acl"
mv "$tmp/acl.saved" "$id_dir/acl"
grep -q "^n3:" "$id_dir/passwd" && fail "n3 still in passwd"
call ok nodes.revoke '{"id": "n3"}'
[ "$(get "$tmp/out" 'd["result"]["already"]')" = True ] || fail "n3 already revoked"
call ok status
[ "$(get "$tmp/out" 'd["result"]["identities"]["files_in_sync"]')" = True ] || fail "in sync again"

# ---- Stop with operations queued: each one answered, nothing left over.
# Eight requests at once: one runs, seven wait (unless a fast machine is done
# with some before the stop). Certificates, 256 each: an answer (~290 KB)
# larger than a socket buffer, written whole after the stop began.
ids='{"ids": ['$(python3 -c "print(', '.join('\"q{i}-%03d\"' % k for k in range(256)))")'], "tls_cert": true}'
call ok status
base=$(get "$tmp/out" 'd["result"]["identities"]["provisioned"]')
$ctl "$sock" --burst 8 "$tmp/q" nodes.provision "$ids" &
burst=$!
# Every request is with the service: waiting, running, or done.
accounted() {
	$ctl "$sock" status > "$tmp/st" || return 1
	n=$(get "$tmp/st" '(d["result"]["identities"]["queued"] + d["result"]["identities"]["running"]
	    + (d["result"]["identities"]["provisioned"] - '"$base"') // 256)')
	[ "$n" -eq 8 ]
}
wait_for "operations queued" accounted
stop_edged
wait "$burst"
for f in "$tmp"/q[0-7]; do
	grep -q '"ok": true\|"code": "unavailable"' "$f" || fail "unanswered: $(cat "$f")"
done
start_edged
call ok nodes
active=$(get "$tmp/out" 'sum(n["state"] == "active" and n["kind"] == "password" for n in d["result"]["nodes"])')
[ "$(grep -c . "$id_dir/passwd")" -eq $((active + 1)) ] || fail "passwd has not every active node"
grep -q '"code": "unavailable"' "$tmp"/q[0-7] ||
	echo "note: every queued operation finished before the stop"

echo "ok: identity service"
