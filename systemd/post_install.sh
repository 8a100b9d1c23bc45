#!/bin/sh
# meson install hook: on a live install as root, create user edged and give
# its configuration directory the group and mode the unit expects, as a
# package's postinst would. Staged installs (DESTDIR) leave that to the
# target's first boot (systemd-sysusers and systemd-tmpfiles run then).
# Usage: post_install.sh SYSUSERS_CONF TMPFILES_CONF
set -eu

[ -z "${DESTDIR:-}" ] || exit 0
[ "$(id -u)" -eq 0 ] || {
	echo "edged: not root; run systemd-sysusers $1 and systemd-tmpfiles --create $2 as root"
	exit 0
}
command -v systemd-sysusers >/dev/null 2>&1 || exit 0
systemd-sysusers "$1"
systemd-tmpfiles --create "$2"
