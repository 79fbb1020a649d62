#!/bin/sh
# Dependency step for `make`, `make test`, `make run`, `make bench`: checks that every Debian
# package vqhammer needs is installed; installs what is missing when root, otherwise prints the
# exact apt-get line and fails.
set -u
PKGS="gcc make binutils nasm gnu-efi mtools qemu-system-x86 qemu-utils ovmf gdb libjansson-dev libcmocka-dev pkg-config jq"
# The lab mode (tools/lab/): matrix files, results database, the report's charts, its browser test,
# and the single-node Slurm test.
PKGS="$PKGS libyaml-dev libsqlite3-dev libjs-chart.js chromium slurm-wlm munge"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
    echo "vqhammer: missing Debian packages:$missing" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "vqhammer: run as root:  apt-get install -y$missing" >&2
        exit 1
    fi
    # An old or absent package list makes apt-get fail on a fresh machine: refresh it first.
    apt-get update -q >&2 || { echo "vqhammer: apt-get update failed" >&2; exit 1; }
    apt-get install -y -q $missing >&2 || { echo "vqhammer: apt-get install failed for:$missing" >&2; exit 1; }
fi
exec "$(dirname "$0")/deps_qemu10.sh"
