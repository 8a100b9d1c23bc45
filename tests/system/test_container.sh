#!/bin/sh
# edged under a real systemd: boots a minimal Debian 12 container with
# systemd-nspawn, installs the build into it with meson install, and checks
# what the unit promises, reading the outcome from systemctl and the journal
# inside the container: start and READY, edged without a network reaching
# Debian's mosquitto over its Unix socket (the shipped mosquitto drop-in),
# edgectl for root, a member of edged's group and an outsider, systemctl
# reload with a good and a bad file, restart after kill -9, watchdog restart
# of a hung edged, a clean stop, and then the production recipe of
# docs/production.md: broker-init, broker-config, edged logging in with its
# credential, a provisioned node registering over TCP, and its revocation
# reloading mosquitto through edged-broker-reload.path so that the node's
# next connect is refused.
#
# The Debian root is built once (make_rootfs.sh, needs Debian's mirror) and
# cached in $EDGE_ROOTFS_CACHE (default /var/cache/edged-test-rootfs); each
# run boots a throw-away overlay of it with no network but loopback.
# Nodes are played from the host in the container's network namespace: the
# build's edge-sim and the host's mosquitto_pub (host files, container
# network). Needs root. Usage: test_container.sh BUILD_ROOT MESON SYSCONFDIR BINDIR
# Exit codes follow meson: 0 pass, 1 fail.
set -u

build=$1
meson=$2
sysconfdir=$3
bindir=$4
here=$(cd "$(dirname "$0")" && pwd)
case $build in /*) ;; *) build=$PWD/$build ;; esac

work=
root=
overlay=0
nspawn_pid=
sim_pid=
leader=
machine=edged-test-$$
started=$(date +%s)

say() { echo "$*"; }
elapsed() { echo $(($(date +%s) - started)); }

# Run a command inside the container (all of PID 1's namespaces, its root).
in_ct() {
	nsenter -t "$leader" -m -u -i -n -p -C -r -w \
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}
# As another user, with that user's groups from the container's /etc/group.
as_user() {
	user=$1
	shift
	in_ct setpriv --reuid="$user" --regid="$user" --init-groups "$@"
}
prop() { in_ct systemctl show --value -p "$2" "$1"; }

diagnose() {
	[ -n "$leader" ] || { [ -n "$work" ] && tail -n 40 "$work/console.log" 2>/dev/null; return; }
	echo "--- systemctl status edged"
	in_ct systemctl status --no-pager --lines=0 edged 2>&1
	echo "--- journal (edged, mosquitto, the reload units; info and above, last 60 lines)"
	in_ct journalctl -b --no-pager -o short-monotonic -p info -u edged -u mosquitto \
		-u edged-broker-reload.path -u edged-broker-reload.service 2>&1 | tail -n 60
	[ -s "$work/sim.log" ] && { echo "--- edge-sim"; tail -n 20 "$work/sim.log"; }
}
fail() {
	echo "FAIL: $*"
	diagnose
	exit 1
}
ok() { echo "ok - $*"; }

# Polls a command until it succeeds; every wait is bounded.
wait_until() { # SECONDS WHAT COMMAND...
	limit=$1 what=$2
	shift 2
	deadline=$(($(date +%s) + limit))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "timed out after $limit s waiting for $what"
		if [ -n "$nspawn_pid" ] && ! kill -0 "$nspawn_pid" 2>/dev/null; then
			tail -n 40 "$work/console.log"
			nspawn_pid=
			leader=
			fail "the container stopped while waiting for $what"
		fi
		sleep 0.2
	done
}

cleanup() {
	trap - EXIT INT TERM
	if [ -n "$sim_pid" ]; then
		kill -TERM "$sim_pid" 2>/dev/null
		wait "$sim_pid" 2>/dev/null
	fi
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# nspawn turns SIGTERM into an orderly poweroff of the container.
		kill -TERM "$nspawn_pid" 2>/dev/null
		i=0
		while kill -0 "$nspawn_pid" 2>/dev/null && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$nspawn_pid" 2>/dev/null; then
			echo "note: container did not power off within 30 s; killing it"
			kill -KILL "$nspawn_pid" 2>/dev/null
		fi
		wait "$nspawn_pid" 2>/dev/null
	fi
	if [ -n "$work" ]; then
		if [ $overlay -eq 1 ]; then
			umount "$root" 2>/dev/null || umount -l "$root" 2>/dev/null
		fi
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" -eq 0 ] || fail "the system test boots a container and must run as root"
for tool in systemd-nspawn debootstrap nsenter flock mount mosquitto_pub; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool not installed (scripts/setup.sh installs it)"
done

# 1. The cached Debian root, and a throw-away copy of it to install into.
base=$("$here/make_rootfs.sh" "${EDGE_ROOTFS_CACHE:-/var/cache/edged-test-rootfs}") ||
	fail "cannot build the Debian root file system"
say "# Debian root ready after $(elapsed) s: $base"

mkdir -p "$build/tests/system"
work=$(mktemp -d "$build/tests/system/run-XXXXXX") || fail "mktemp"
root=$work/root
mkdir -p "$root" "$work/upper" "$work/wd"
if mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/wd" "$root" 2>/dev/null; then
	overlay=1
else
	cp -a "$base/." "$root/" || fail "cannot copy the Debian root"
fi

"$meson" install -C "$build" --no-rebuild --destdir "$root" >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; fail "meson install into the container failed"; }
[ -x "$root$bindir/edgectl" ] || fail "edgectl not installed at $bindir"
for f in edged-broker-reload.path edged-broker-reload.service mosquitto.service.d/edged.conf; do
	[ -n "$(find "$root/lib/systemd/system" "$root/usr/lib/systemd/system" \
		"$root/usr/local/lib/systemd/system" -path "*/$f" 2>/dev/null)" ] ||
		fail "meson install did not install $f"
done
mode=$(stat -c %a "$root$sysconfdir/edged")
[ "$mode" = 750 ] || fail "meson install made $sysconfdir/edged mode $mode, not 750"
mode=$(stat -c %a "$root$sysconfdir/edged/edged.conf")
[ "$mode" = 640 ] || fail "meson install made edged.conf mode $mode, not 640"
ok "meson install: $sysconfdir/edged 0750, edged.conf 0640"
# What a minimal system lacks: reload must not depend on procps' kill.
[ ! -e "$root/bin/kill" ] && [ ! -e "$root/usr/bin/kill" ] ||
	fail "the container has /bin/kill (procps); it should be a minimal system"

# A fresh machine id (no first-boot prompts), the broker on the Unix socket
# edged's default mqtt.host names (anonymous for now), an operator in
# edged's group and an outsider, and a short watchdog.
systemd-id128 new >"$root/etc/machine-id" 2>/dev/null ||
	tr -d '-' </proc/sys/kernel/random/uuid >"$root/etc/machine-id"
mkdir -p "$root/etc/mosquitto/conf.d" "$root/etc/sysusers.d" \
	"$root/etc/systemd/system/edged.service.d"
sock=/run/mosquitto-edged/mqtt.sock
cat >"$root/etc/mosquitto/conf.d/edged-test.conf" <<EOF
listener 0 $sock
allow_anonymous true
EOF
cat >"$root/etc/sysusers.d/zz-edged-test.conf" <<'EOF'
u edgeop - "edged operator" /
m edgeop edged
u outsider - "not an edged operator" /
EOF
cat >"$root/etc/systemd/system/edged.service.d/test.conf" <<'EOF'
[Service]
WatchdogSec=3s
TimeoutAbortSec=10s
EOF
cp "$root$sysconfdir/edged/edged.conf" "$work/edged.conf.orig"

# 2. Boot. Without systemd on the host there is no bus to ask for a scope
# and no machined: keep nspawn in the cgroup it runs in, register nothing.
nspawn_opts="--register=no"
[ -d /run/systemd/system ] || nspawn_opts="$nspawn_opts --keep-unit"
# shellcheck disable=SC2086
systemd-nspawn --quiet --boot --directory="$root" --machine="$machine" $nspawn_opts \
	--private-network --link-journal=no --console=read-only \
	</dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!

# The container's PID 1: nspawn's child that is PID 1 in its own namespace.
find_leader() {
	for st in /proc/[0-9]*/status; do
		l=$(awk -v p="$nspawn_pid" '
			/^PPid:/ { pp = $2 } /^NSpid:/ { ns = $NF; n = NF }
			END { if (pp == p && n == 3 && ns == 1) print "y" }' "$st" 2>/dev/null)
		if [ "$l" = y ]; then
			leader=${st#/proc/}
			leader=${leader%/status}
			return 0
		fi
	done
	return 1
}
wait_until 30 "the container's PID 1" find_leader
booted() {
	s=$(in_ct systemctl is-system-running 2>/dev/null)
	case $s in running|degraded) return 0 ;; esac
	return 1
}
wait_until 120 "the container to finish booting" booted
say "# booted after $(elapsed) s ($(in_ct systemctl is-system-running))"
wait_until 30 "mosquitto" in_ct systemctl is-active --quiet mosquitto
# Debug level makes the manager log every notify message edged sends.
in_ct systemctl log-level debug || fail "systemctl log-level debug"

# Journal entries after a cursor, as "host ident[pid]: message". No field
# matches: combined with --after-cursor, journalctl 252 skips entries.
cursor() { in_ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'; }
journal_since() { in_ct journalctl -q --no-pager -o short --after-cursor="$1"; }
# systemd's own lines about edged.service.
manager_says() { # CURSOR PATTERN
	journal_since "$1" | grep -q -- " systemd\[1\]: edged\.service: .*$2"
}
# Lines one program logged (edged itself, or ExecReload's edgectl).
says() { # IDENTIFIER CURSOR PATTERN [-m1]
	journal_since "$2" | grep ${4:--q} -- " $1\[[0-9]*\]: .*$3"
}

# 3. Start: systemctl start of a Type=notify unit returns once READY=1 came.
# No broker password is set up: the unit's LoadCredential= must not need one.
in_ct test ! -e /etc/credstore/edged-mqtt-password ||
	fail "the container already has a credential file"
c0=$(cursor)
in_ct timeout 90 systemctl start edged || fail "systemctl start edged failed"
[ "$(prop edged Type)" = notify ] || fail "Type is $(prop edged Type), not notify"
[ "$(prop edged ActiveState)/$(prop edged SubState)" = active/running ] ||
	fail "after start: $(prop edged ActiveState)/$(prop edged SubState)"
wait_until 10 "READY=1 in the journal" manager_says "$c0" 'Got notification message.*READY=1'
[ -n "$(prop edged StatusText)" ] || fail "no STATUS= text from edged"
ok "start: active/running, READY=1, status '$(prop edged StatusText)'"
connected() { in_ct edgectl --json status | grep -q '"state": "connected"'; }
wait_until 30 "edged to connect to the container's mosquitto" connected
in_ct edgectl --json status | grep -q "\"address\": \"$sock\"" ||
	fail "edged's broker address is not $sock"
[ "$(prop edged PrivateNetwork)" = yes ] || fail "PrivateNetwork is $(prop edged PrivateNetwork)"
[ "$(prop edged RestrictAddressFamilies)" = AF_UNIX ] ||
	fail "RestrictAddressFamilies is $(prop edged RestrictAddressFamilies)"
# The mosquitto drop-in's directory: setgid group edged, so the socket
# mosquitto makes (0770, as its own user) is edged's group's and no one else's.
owner=$(in_ct stat -c '%a %U %G' /run/mosquitto-edged)
[ "$owner" = "2750 mosquitto edged" ] || fail "/run/mosquitto-edged is '$owner', not '2750 mosquitto edged'"
owner=$(in_ct stat -c '%a %U %G' "$sock")
[ "$owner" = "770 mosquitto edged" ] || fail "$sock is '$owner', not '770 mosquitto edged'"
as_user outsider test -e "$sock" 2>/dev/null && fail "an outsider can reach $sock"
ok "edged (PrivateNetwork=yes, AF_UNIX only) connected over $sock (0770 mosquitto:edged in a 2750 directory)"

# systemd checks the mode before it moves the child into the unit's cgroup,
# so its warning is not tagged with the unit: search the whole boot.
if in_ct journalctl -b -q --no-pager -o cat | grep 'ConfigurationDirectory.*mode is different'; then
	fail "systemd warns about the configuration directory's mode"
fi
owner=$(in_ct stat -c '%a %U %G' "$sysconfdir/edged")
[ "$owner" = "750 root edged" ] || fail "$sysconfdir/edged is '$owner', not '750 root edged'"
owner=$(in_ct stat -c '%a %U %G' "$sysconfdir/edged/edged.conf")
[ "$owner" = "640 root edged" ] || fail "edged.conf is '$owner', not '640 root edged'"
ok "no mode warning; $sysconfdir/edged 0750 root:edged, edged.conf 0640 root:edged"

# 4. The control socket: root and edged's group are served, others refused.
in_ct edgectl status >/dev/null || fail "edgectl status as root failed"
ok "edgectl as root"
in_ct id -nG edgeop | grep -qw edged || fail "edgeop is not in group edged"
as_user edgeop edgectl status >/dev/null || fail "edgectl status as a member of group edged failed"
ok "edgectl as a member of group edged"
as_user outsider edgectl status >/dev/null 2>&1
rc=$?
[ $rc -eq 4 ] || fail "edgectl as an outsider exited $rc, not 4"
ok "edgectl as an outsider: exit 4"

# 5. systemctl reload: a good file applies; a bad one fails the reload while
# edged keeps running its configuration.
max_clients() { in_ct edgectl config | awk '$1 == "control.max_clients" { print $NF }'; }
pid=$(prop edged MainPID)
printf '[control]\nmax_clients = 8\n' >"$root$sysconfdir/edged/edged.conf"
c1=$(cursor)
in_ct timeout 60 systemctl reload edged || fail "systemctl reload with a good file failed"
[ "$(max_clients)" = 8 ] || fail "after reload control.max_clients is '$(max_clients)', not 8"
[ "$(prop edged MainPID)" = "$pid" ] || fail "reload changed the main PID"
wait_until 10 "'configuration reloaded' in the journal" says edged "$c1" 'configuration reloaded'
ok "systemctl reload, good file: exit 0, applied, same PID"

printf '[control]\nmax_clients = many\n' >"$root$sysconfdir/edged/edged.conf"
c2=$(cursor)
in_ct timeout 60 systemctl reload edged 2>"$work/reload.err"
rc=$?
[ $rc -ne 0 ] || fail "systemctl reload with a bad file exited 0"
[ "$(prop edged ActiveState)" = active ] || fail "edged is $(prop edged ActiveState) after a refused reload"
[ "$(prop edged MainPID)" = "$pid" ] || fail "a refused reload changed the main PID"
[ "$(max_clients)" = 8 ] || fail "a refused reload changed control.max_clients to '$(max_clients)'"
# edged logs the refusal with its reason; edgectl (ExecReload) reports it too.
wait_until 10 "edged's refusal in the journal" says edged "$c2" 'reload failed.*max_clients'
says edgectl "$c2" 'max_clients' || fail "ExecReload's edgectl did not report the reason"
ok "systemctl reload, bad file: exit $rc, edged still active, journal: $(says edged "$c2" 'reload failed' -m1 | sed 's/^[^]]*\]: //')"
cp "$work/edged.conf.orig" "$root$sysconfdir/edged/edged.conf"
in_ct timeout 60 systemctl reload edged || fail "reload back to the installed file failed"

# 6. kill -9: Restart=on-failure brings edged back, READY again.
restarted() { # OLD_PID OLD_NRESTARTS
	[ "$(prop edged NRestarts)" -gt "$2" ] && [ "$(prop edged ActiveState)" = active ] &&
		p=$(prop edged MainPID) && [ "$p" != 0 ] && [ "$p" != "$1" ]
}
pid=$(prop edged MainPID)
n=$(prop edged NRestarts)
c3=$(cursor)
in_ct sh -c "kill -KILL $pid" || fail "kill -9 $pid"
wait_until 60 "a restart after kill -9" restarted "$pid" "$n"
[ "$(prop edged NRestarts)" -eq $((n + 1)) ] || fail "NRestarts went from $n to $(prop edged NRestarts)"
manager_says "$c3" 'status=9/KILL' || fail "the journal does not show the SIGKILL"
wait_until 10 "READY=1 after the restart" manager_says "$c3" 'Got notification message.*READY=1'
in_ct edgectl status >/dev/null || fail "edgectl status after the restart failed"
ok "kill -9: restarted (NRestarts $n -> $((n + 1)), PID $pid -> $(prop edged MainPID)), READY again"

# 7. A hung edged (SIGSTOP) stops pinging: the watchdog (3 s here) restarts it.
pid=$(prop edged MainPID)
n=$(prop edged NRestarts)
c4=$(cursor)
in_ct sh -c "kill -STOP $pid" || fail "kill -STOP $pid"
wait_until 60 "a watchdog restart" restarted "$pid" "$n"
manager_says "$c4" 'Watchdog timeout' || fail "the journal does not show a watchdog timeout"
wait_until 10 "READY=1 after the watchdog restart" manager_says "$c4" 'Got notification message.*READY=1'
in_ct edgectl status >/dev/null || fail "edgectl status after the watchdog restart failed"
ok "hung edged: watchdog restart (NRestarts $n -> $(prop edged NRestarts)), READY again"

# 8. A clean stop: STOPPING=1, exit status 0, unit inactive with result success.
c5=$(cursor)
in_ct timeout 60 systemctl stop edged || fail "systemctl stop edged failed"
[ "$(prop edged ActiveState)" = inactive ] || fail "after stop: $(prop edged ActiveState)"
[ "$(prop edged Result)" = success ] || fail "stop result $(prop edged Result)"
[ "$(prop edged ExecMainStatus)" = 0 ] || fail "edged exited $(prop edged ExecMainStatus)"
wait_until 10 "STOPPING=1 in the journal" manager_says "$c5" 'Got notification message.*STOPPING=1'
manager_says "$c5" 'Deactivated successfully' || fail "no 'Deactivated successfully' in the journal"
ok "systemctl stop: STOPPING=1, exit 0, result success"

# 9. The production recipe (docs/production.md). The broker's identity
# files from edgectl broker-init (edged's password as a systemd credential),
# mosquitto.conf from edgectl broker-config (the Unix socket for edged, a
# TLS listener for nodes, no anonymous client), the reload path unit, and
# edged admitting provisioned nodes only.
idir=/etc/mosquitto/edged
in_ct sh -c 'umask 077 && mkdir -p /etc/credstore' || fail "mkdir /etc/credstore"
in_ct edgectl broker-init --dir "$idir" --pki-dir /var/lib/edged/pki --name ct-gateway \
	--owner edged --broker-group mosquitto \
	--gateway-secret /etc/credstore/edged-mqtt-password >"$work/init.log" 2>&1 ||
	{ cat "$work/init.log"; fail "edgectl broker-init"; }
# edged's client-id plugin, where meson install put it (<libdir>/edged/).
plugin=$(cd "$root" && find usr -path '*/edged/edged_clientid.so' 2>/dev/null | head -n 1)
[ -n "$plugin" ] || fail "meson install did not install edged_clientid.so"
in_ct sh -c "edgectl broker-config --identity-dir $idir --unix-socket $sock --clientid-plugin /$plugin --tls-listener 8883 >/etc/mosquitto/mosquitto.conf" ||
	fail "edgectl broker-config"
in_ct systemctl enable --now edged-broker-reload.path >/dev/null 2>&1 ||
	fail "systemctl enable --now edged-broker-reload.path"
in_ct timeout 60 systemctl restart mosquitto || fail "restarting mosquitto with the generated configuration"
printf '[mqtt]\nusername = edged\npassword_file = mqtt-password\n[registry]\nadmission = provisioned\n[broker]\nidentity_dir = %s\nnode_url = mqtts://127.0.0.1:8883\n' \
	"$idir" >"$root$sysconfdir/edged/edged.conf"
c6=$(cursor)
in_ct timeout 90 systemctl start edged || fail "systemctl start edged (production recipe)"
# No anonymous client gets in: connected means logged in as user edged.
wait_until 30 "edged to log in to the broker over $sock" connected
in_ct edgectl config | grep -q '^mqtt\.password_file.*mqtt-password' ||
	fail "edgectl config does not show mqtt.password_file = mqtt-password"
pw=$(head -n 1 "$root/etc/credstore/edged-mqtt-password")
[ -n "$pw" ] || fail "broker-init wrote no gateway secret"
if journal_since "$c6" | grep -F -- "$pw" || in_ct edgectl config | grep -F -- "$pw"; then
	fail "the broker password appears in the journal or in edgectl config"
fi
ok "production recipe: edged logged in over $sock with credential mqtt-password; the password is in no log"

# 10. A node provisioned through edged registers over TLS with its bundle.
node=ct-00000
in_ct sh -c 'umask 077 && mkdir -p /root/bundles' || fail "mkdir /root/bundles"
# The broker knows the node once the path unit has reloaded it: edged's
# answer comes before that (it only touched the reload file).
reload_ran() { journal_since "$1" | grep -q ' systemd\[1\]: edged-broker-reload\.service: Deactivated successfully'; }
c_prov=$(cursor)
in_ct edgectl nodes provision "$node" --out /root/bundles >"$work/provision.log" 2>&1 ||
	{ cat "$work/provision.log"; fail "edgectl nodes provision $node"; }
bundle=$root/root/bundles/$node.json
[ -s "$bundle" ] || fail "no bundle $bundle"
npw=$(tr -d '\n' <"$bundle" | sed -n 's/.*"password": *"\([^"]*\)".*/\1/p')
[ -n "$npw" ] || fail "the bundle has no password"
wait_until 15 "edged-broker-reload.service to run after the provisioning" reload_ran "$c_prov"
# The node's credentials as the broker sees them (host client, container network).
node_connects() {
	nsenter -t "$leader" -n mosquitto_pub -h 127.0.0.1 -V 5 -i "$node" -u "$node" \
		-P "$npw" -q 0 -t "edge/v1/$node/probe" -m x \
		-p 8883 --cafile "$root$idir/ca.crt"
}
# SIGHUP is handled by mosquitto's main loop a moment later.
wait_until 10 "the broker to accept $node" node_connects
# edged's client-id plugin: the node's password with another client id.
if nsenter -t "$leader" -n mosquitto_pub -h 127.0.0.1 -V 5 -i "$node-twin" -u "$node" \
	-P "$npw" -q 0 -t "edge/v1/$node/probe" -m x -p 8883 --cafile "$root$idir/ca.crt" \
	>"$work/pub-id.log" 2>&1; then
	fail "the broker accepted client id $node-twin with $node's password"
fi
grep -qi 'not authori[sz]ed' "$work/pub-id.log" ||
	{ cat "$work/pub-id.log"; fail "client id $node-twin: not refused as not authorised"; }
ok "the broker refuses $node's password with another client id (edged_clientid plugin)"
nsenter -t "$leader" -n "$build/tests/sim/edge-sim" --bundle-dir "$root/root/bundles" \
	--id-prefix ct --count 1 --duration-s 120 --reconnect-s 0 >"$work/sim.log" 2>&1 &
sim_pid=$!
node_state() { in_ct edgectl --json devices show "$node" | grep -q "\"state\": \"$1\""; }
wait_until 30 "$node to register" node_state online
kill -TERM "$sim_pid" 2>/dev/null
wait "$sim_pid" 2>/dev/null
sim_pid=
ok "edgectl nodes provision: $node registered over TLS (mqtts://127.0.0.1:8883) with its bundle"

# 11. Revocation: edged rewrites the broker's files and touches reload; the
# path unit reloads mosquitto; the node's next connect is refused.
c7=$(cursor)
in_ct edgectl --json nodes revoke "$node" >"$work/revoke.json" 2>&1 ||
	{ cat "$work/revoke.json"; fail "edgectl nodes revoke $node"; }
grep -q '"reload": "path-unit"' "$work/revoke.json" || { cat "$work/revoke.json"; fail "the revocation did not go through the path unit"; }
wait_until 15 "edged-broker-reload.service to run after the revocation" reload_ran "$c7"
refused() {
	node_connects >"$work/pub.log" 2>&1 && return 1
	grep -qi 'not authori[sz]ed' "$work/pub.log"
}
wait_until 15 "the broker to refuse $node" refused
node_state revoked || fail "$node is not 'revoked' in edged's registry"
ok "edgectl nodes revoke: edged-broker-reload.path reloaded mosquitto; $node refused ($(tr -d '\n' <"$work/pub.log"))"

in_ct timeout 60 systemctl stop edged || fail "systemctl stop edged (production recipe)"

# 12. The TCP drop-in of docs/production.md (a broker reached over TCP):
# the shipped unit alone cannot even open an IP socket, with the drop-in
# edged reaches 127.0.0.1.
printf '[mqtt]\nhost = 127.0.0.1\nport = 1883\nusername = edged\npassword_file = mqtt-password\n' \
	>"$root$sysconfdir/edged/edged.conf"
in_ct timeout 90 systemctl start edged || fail "systemctl start edged (TCP, no drop-in)"
tcp_refused() { in_ct edgectl --json status | grep -q '"last_error": "connect: Address family not supported'; }
wait_until 30 "edged to be refused an IP socket" tcp_refused
in_ct timeout 60 systemctl stop edged || fail "systemctl stop edged (TCP, no drop-in)"
cat >"$root/etc/systemd/system/edged.service.d/tcp-broker.conf" <<'EOF'
[Service]
PrivateNetwork=no
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
IPAddressAllow=localhost
EOF
in_ct systemctl daemon-reload || fail "systemctl daemon-reload"
in_ct timeout 90 systemctl start edged || fail "systemctl start edged (TCP drop-in)"
wait_until 30 "edged to log in over TCP with the drop-in" connected
in_ct edgectl --json status | grep -q '"address": "127.0.0.1"' || fail "edged's broker address is not 127.0.0.1"
in_ct timeout 60 systemctl stop edged || fail "systemctl stop edged (TCP drop-in)"
ok "TCP drop-in: without it no IP socket (address family not supported), with it edged logs in over TCP"

say "# all checks passed after $(elapsed) s"
exit 0
