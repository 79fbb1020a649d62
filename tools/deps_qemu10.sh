#!/bin/sh
# The second QEMU the tests and the soak run against: Debian bookworm-backports' QEMU 10.0.2,
# unpacked (dpkg -x, not installed) into QEMU10_ROOT beside Debian's 7.2, which stays the system
# QEMU. It runs with the installed libraries and firmware. Idempotent: does nothing when the
# unpacked QEMU already says it is 10.0.2. Run by tools/deps.sh.
set -u
QEMU10_ROOT=${QEMU10_ROOT:-/opt/qemu10/root}
QEMU10_VERSION="1:10.0.2+ds-2+deb13u1~bpo12+1"
QEMU10_PKGS="qemu-system-x86 qemu-system-common qemu-system-data qemu-utils"
BACKPORTS_LIST=/etc/apt/sources.list.d/vqhammer-backports.list

fail() {
    echo "vqhammer: QEMU 10.0.2 into $QEMU10_ROOT: $*" >&2
    exit 1
}

if "$QEMU10_ROOT/usr/bin/qemu-system-x86_64" --version 2>/dev/null | grep -q "version 10\\.0\\.2" &&
   [ -x "$QEMU10_ROOT/usr/bin/qemu-img" ] && [ -x "$QEMU10_ROOT/usr/bin/qemu-storage-daemon" ] &&
   [ -x "$QEMU10_ROOT/usr/bin/qemu-nbd" ]; then
    exit 0
fi
echo "vqhammer: QEMU 10.0.2 is not unpacked in $QEMU10_ROOT: fetching it from bookworm-backports" >&2
if [ "$(id -u)" != 0 ]; then
    fail "needs root (an apt source, apt-get update, a directory in /opt): run  sudo $0"
fi
# bookworm-backports is where Debian 12 carries 10.0.2; add it unless some source names it already.
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" >"$BACKPORTS_LIST" ||
        fail "cannot write $BACKPORTS_LIST"
    echo "vqhammer: added the apt source $BACKPORTS_LIST" >&2
fi
apt-get update -q >&2 || fail "apt-get update failed (network? the bookworm-backports source?)"
work=$(mktemp -d /tmp/vqh-qemu10.XXXXXX) || fail "mktemp failed"
trap 'rm -rf "$work"' EXIT
pkgs=""
for p in $QEMU10_PKGS; do
    pkgs="$pkgs $p=$QEMU10_VERSION"
done
# apt-get download writes into the current directory; root's downloads run as _apt, which must
# be able to write there.
chmod 0777 "$work"
(cd "$work" && apt-get download -q $pkgs >&2) ||
    fail "apt-get download of$pkgs failed (is $QEMU10_VERSION still in bookworm-backports? apt-cache policy qemu-system-x86)"
# Unpack into a fresh directory, then move it into place: an interrupted run leaves no half tree.
mkdir -p "$(dirname "$QEMU10_ROOT")" || fail "cannot create $(dirname "$QEMU10_ROOT")"
stage="$QEMU10_ROOT.new.$$"
rm -rf "$stage"
for deb in "$work"/*.deb; do
    dpkg -x "$deb" "$stage" || { rm -rf "$stage"; fail "dpkg -x $deb failed"; }
done
"$stage/usr/bin/qemu-system-x86_64" --version 2>&1 | grep -q "version 10\\.0\\.2" ||
    { rm -rf "$stage"; fail "the unpacked qemu-system-x86_64 does not run or is not 10.0.2 (missing libraries?)"; }
rm -rf "$QEMU10_ROOT.old"
[ -e "$QEMU10_ROOT" ] && { mv "$QEMU10_ROOT" "$QEMU10_ROOT.old" || fail "cannot move the old $QEMU10_ROOT aside"; }
mv "$stage" "$QEMU10_ROOT" || fail "cannot move $stage to $QEMU10_ROOT"
rm -rf "$QEMU10_ROOT.old"
echo "vqhammer: QEMU 10.0.2 unpacked in $QEMU10_ROOT" >&2
