#!/bin/sh
# Checks the generated service unit: no network but the broker's Unix
# socket, hardening exposure (systemd-analyze security, offline) at or below
# a bound, the unit must pass systemd-analyze verify, systemctl reload must
# go through edgectl (it reports edged's verdict and needs no /bin/kill),
# and the broker password's credential must not fail an anonymous setup's
# start.
# Usage: check_unit.sh UNIT [EDGED_BINARY [SYSUSERS [EDGECTL_BINARY]]]
# Exit codes follow meson: 0 pass, 1 fail, 77 skip.
set -u

unit=$1
edged_bin=${2:-}
sysusers=${3:-}
edgectl_bin=${4:-}
# meson passes build-relative paths; the unit needs absolute ones
absolute() {
	case $1 in
		''|/*) echo "$1" ;;
		*) echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" ;;
	esac
}
edged_bin=$(absolute "$edged_bin")
edgectl_bin=$(absolute "$edgectl_bin")
max_exposure=1.0

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not installed"
	exit 77
fi
if [ ! -r "$unit" ]; then
	echo "FAIL: unit file $unit not found"
	exit 1
fi

# Operators in edged's group use edgectl: PrivateUsers= would map them to
# nobody in edged's view, and edged's peer check would refuse them.
if grep -Eiq '^[[:space:]]*PrivateUsers[[:space:]]*=[[:space:]]*(yes|true|on|1|self|identity)' "$unit"; then
	echo "FAIL: $unit sets PrivateUsers=; operators could no longer use edgectl"
	exit 1
fi

# A signal-based reload would report success whatever edged makes of the
# file, and /bin/kill (procps) is missing on minimal systems.
reload=$(sed -n 's/^[[:space:]]*ExecReload[[:space:]]*=[[:space:]]*//p' "$unit")
case $reload in
	/*/edgectl\ *reload) echo "ExecReload: $reload" ;;
	*)
		echo "FAIL: ExecReload is '$reload', not edgectl ... reload"
		exit 1
		;;
esac

# edged's broker password comes as credential mqtt-password (a relative
# mqtt.password_file). Its source must be a credential name (searched in
# /etc/credstore and friends, and skipped when missing), not an absolute
# path: that would fail every start of an anonymous setup without the file.
cred=$(sed -n 's/^[[:space:]]*LoadCredential[[:space:]]*=[[:space:]]*//p' "$unit")
case $cred in
	mqtt-password:/*)
		echo "FAIL: LoadCredential=$cred has an absolute source; a missing file fails the start"
		exit 1
		;;
	mqtt-password:?*|mqtt-password) echo "LoadCredential: $cred" ;;
	*)
		echo "FAIL: LoadCredential is '$cred', not mqtt-password from a credential store"
		exit 1
		;;
esac

# edged reaches the broker over its Unix socket only: no network namespace
# of its own and no IP socket at all. It writes the broker's identity files.
value() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$unit" | tail -n 1; }
[ "$(value PrivateNetwork)" = yes ] || { echo "FAIL: PrivateNetwork is '$(value PrivateNetwork)', not yes"; exit 1; }
[ "$(value RestrictAddressFamilies)" = AF_UNIX ] ||
	{ echo "FAIL: RestrictAddressFamilies is '$(value RestrictAddressFamilies)', not AF_UNIX"; exit 1; }
case " $(value ReadWritePaths) " in
	*" -/etc/mosquitto/edged "*) echo "ReadWritePaths: $(value ReadWritePaths)" ;;
	*) echo "FAIL: ReadWritePaths lacks -/etc/mosquitto/edged"; exit 1 ;;
esac

out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
rc=$?
line=$(printf '%s\n' "$out" | grep 'Overall exposure level')
if [ -z "$line" ]; then
	printf '%s\n' "$out"
	echo "FAIL: systemd-analyze security printed no exposure level (rc $rc)"
	exit 1
fi
exposure=$(printf '%s\n' "$line" | sed -n 's/.*: *\([0-9][0-9]*\.[0-9]\).*/\1/p')
echo "$line"
if [ -z "$exposure" ]; then
	echo "FAIL: cannot parse exposure from: $line"
	exit 1
fi
if ! awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
	printf '%s\n' "$out" | grep '✗'
	echo "FAIL: exposure $exposure exceeds $max_exposure"
	exit 1
fi

# verify checks that Exec binaries exist: point them at the build tree's
# edged and edgectl in a scratch copy (the unit's name must stay edged.service).
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cp "$unit" "$tmp/edged.service"
if [ -n "$edged_bin" ] && [ -x "$edged_bin" ]; then
	sed -i "s#^\(ExecStart[A-Za-z]*=\)[^ ]*/edged #\1$edged_bin #" "$tmp/edged.service"
else
	echo "note: no edged binary given; verify checks ExecStart as installed"
fi
if [ -n "$edgectl_bin" ] && [ -x "$edgectl_bin" ]; then
	sed -i "s#^\(ExecReload=\)[^ ]*/edgectl #\1$edgectl_bin #" "$tmp/edged.service"
else
	echo "note: no edgectl binary given; verify checks ExecReload as installed"
fi
if [ -n "$sysusers" ] && command -v systemd-sysusers >/dev/null 2>&1; then
	case $sysusers in /*) ;; *) sysusers=$PWD/$sysusers ;; esac
	mkdir -p "$tmp/root/etc"
	sout=$(systemd-sysusers --dry-run --root="$tmp/root" "$sysusers" 2>&1)
	if [ $? -ne 0 ] || ! printf '%s\n' "$sout" | grep -q "Creating user 'edged'"; then
		printf '%s\n' "$sout"
		echo "FAIL: sysusers snippet $sysusers does not create user edged"
		exit 1
	fi
	echo "sysusers: creates user edged"
fi

vout=$(systemd-analyze verify --man=no "$tmp/edged.service" 2>&1)
vrc=$?
if [ $vrc -ne 0 ] || [ -n "$vout" ]; then
	# Without a running systemd (containers, CI) verify may be unable to
	# load its manager; that says nothing about the unit.
	if printf '%s\n' "$vout" | grep -q -e 'Failed to initialize manager' -e 'Failed to connect to bus' \
			-e 'System has not been booted with systemd'; then
		printf '%s\n' "$vout"
		echo "note: systemd-analyze verify cannot run here; skipped that part"
		exit 0
	fi
	printf '%s\n' "$vout"
	echo "FAIL: systemd-analyze verify reported problems (rc $vrc)"
	exit 1
fi
echo "systemd-analyze verify: clean"
exit 0
