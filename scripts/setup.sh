#!/usr/bin/env bash
# Install every Debian 12 package that building, running and testing edged needs.
# Idempotent: when everything is present it does not touch apt at all.
# Works as root or through sudo; never prompts (safe with no stdin, as in CI).
set -euo pipefail

packages=(
  # build
  gcc pkg-config meson ninja-build
  # libraries edged links
  libuv1-dev libmosquitto-dev libsqlite3-dev libjansson-dev libssl-dev
  libsystemd-dev
  # the broker plugin's headers (mosquitto_plugin.h, mosquitto_broker.h)
  mosquitto-dev
  # tests: unit framework, the real broker, sanitizers/fuzzing, tools
  check mosquitto mosquitto-clients python3 clang libclang-rt-14-dev sqlite3 openssl
  procps util-linux groff-base
  # central anomaly history (libpq) and the multi-site tests: a private
  # PostgreSQL and a 3-node NATS cluster (the upstream broker) on loopback
  libpq-dev postgresql nats-server
  # runtime supervision (unit files, systemd-analyze verify)
  systemd
  # the system test: a Debian 12 root built once with debootstrap, booted
  # with systemd-nspawn
  systemd-container debootstrap
  # the aarch64 cross build of the INT8 engine, run under qemu
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  # the device SDK built for a Cortex-M4 with newlib nano (scripts/sdk-size.sh)
  gcc-arm-none-eabi libnewlib-arm-none-eabi
)

missing=()
for p in "${packages[@]}"; do
  # One line per installed architecture (arm64 may sit beside amd64).
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx "install ok installed" ||
    missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# The Debian package enables a system-wide broker on port 1883; edged's tests
# and scripts start their own private brokers and do not need it.
echo "setup: done"
