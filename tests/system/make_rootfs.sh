#!/bin/sh
# Builds (once) a minimal Debian 12 root file system that boots under
# systemd-nspawn, with systemd, dbus, mosquitto and the run-time libraries
# edged links, and without procps. The root is cached under CACHE_DIR keyed
# on the suite, mirror and package list, so only the first run downloads
# anything; later runs reuse it. Prints the root's path on stdout.
# Usage: make_rootfs.sh CACHE_DIR
set -eu

cache=$1
suite=bookworm
# minbase + what the system test boots and runs. Keep procps out: the unit
# must work without /bin/kill.
packages="systemd,systemd-sysv,dbus,libuv1,libmosquitto1,libsqlite3-0,libjansson4,libssl3,libsystemd0,libpq5,mosquitto"

# The mirror this machine's apt uses for the suite (deb822 or one-line
# sources), so the one-time download goes where apt goes.
mirror() {
	if [ -n "${EDGE_DEBIAN_MIRROR:-}" ]; then
		echo "$EDGE_DEBIAN_MIRROR"
		return
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '
			/^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
			END { if (uri != "" && ok) print uri }' "$f"
	done | head -n 1 | grep . && return
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '$1 == "deb" && $0 !~ /\[/ && $3 == s { print $2; exit }
			$1 == "deb" && $0 ~ /\[/ { for (i = 2; i <= NF; i++) if ($i ~ /\]$/) break;
				if ($(i + 2) == s) { print $(i + 1); exit } }' "$f"
	done | head -n 1 | grep . && return
	echo http://deb.debian.org/debian
}

url=$(mirror)
key=$(printf '%s\n' 2 "$suite" "$url" "$packages" | sha256sum | cut -c1-16)
root=$cache/debian-$suite-$key
mkdir -p "$cache"

# One builder at a time; a second caller waits and then reuses the result.
exec 9>"$cache/.lock"
flock -w 1800 9 || { echo "make_rootfs: timed out waiting for $cache/.lock" >&2; exit 1; }

if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi

tmp=$cache/.build-$key
rm -rf "$tmp"
echo "make_rootfs: debootstrap $suite from $url into $root (one time)" >&2
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$tmp" "$url" >"$cache/.debootstrap-$key.log" 2>&1; then
	tail -n 30 "$cache/.debootstrap-$key.log" >&2
	[ -f "$tmp/debootstrap/debootstrap.log" ] && tail -n 30 "$tmp/debootstrap/debootstrap.log" >&2
	rm -rf "$tmp"
	echo "make_rootfs: debootstrap failed" >&2
	exit 1
fi
# Reproducible first boot: no machine id yet (systemd makes one each boot),
# no cached package lists.
rm -f "$tmp/etc/machine-id"
: >"$tmp/etc/machine-id"
rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*
touch "$tmp/.complete"
rm -rf "$root"
mv "$tmp" "$root"
# Roots for an older package list or another mirror are not used again
# (unless a running test has one mounted).
for old in "$cache"/debian-$suite-*; do
	[ "$old" = "$root" ] || grep -qF "lowerdir=$old," /proc/mounts || rm -rf "$old"
done
echo "$root"
