#!/bin/sh
# bench.sh: `make bench`: vqhammer's own figures (`vqhammer bench`, also written to
# build/bench.json), then the host-side ceiling of the same kind of image (`qemu-img bench`), so
# the two can be set side by side. Figures only: never part of a timed test.
# Extra arguments go to `vqhammer bench` (e.g. tools/bench/bench.sh --accel auto --run-seconds 10).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)

fail() {
    echo "bench.sh: $*" >&2
    exit 1
}

# Figures on a shared machine are only as good as its quiet: say what else was running.
others=$(pgrep -c qemu-system || true)
load=$(cut -d' ' -f1 /proc/loadavg)

rc=0
"$top/build/vqhammer" bench --json "$top/build/bench.json" "$@" || rc=$?
[ "$rc" -eq 0 ] || fail "vqhammer bench failed (exit status $rc; its messages are above)"

# The image lives where vqhammer's scratch image did ($TMPDIR, else /tmp): the same filesystem.
# Fully allocated, so reads do not hit holes and writes do not allocate: a steady-state image.
dir=$(mktemp -d "${TMPDIR:-/tmp}/vqh-bench.XXXXXX") || fail "cannot create a temporary directory"
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
img=$dir/bench.img
out=$(qemu-img create -q -f raw -o preallocation=full "$img" 256M 2>&1) || fail "qemu-img create $img: $out"

# qemu-img bench prints only the elapsed time: IOPS = requests / seconds.
run() {
    what=$1 count=$2
    shift 2
    out=$(qemu-img bench -c "$count" -d 64 -s 4096 "$@" 2>&1) ||
        fail "qemu-img bench $* failed: $out"
    secs=$(printf '%s\n' "$out" | sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p')
    [ -n "$secs" ] || fail "qemu-img bench $*: no 'Run completed in N seconds.' in its output: $out"
    awk -v w="$what" -v n="$count" -v s="$secs" \
        'BEGIN { printf "  %-42s %10.0f IOPS  (%d requests in %.2f s)\n", w, n / s, n, s }'
}

echo
echo "Host-side ceiling: qemu-img bench, 4 KiB sequential requests, queue depth 64"
echo "(a guest cannot beat the backend it runs on; note qemu-img bench is sequential, the guest random)"
run "raw 256 MiB, cache=none aio=threads, writes" 100000 -t none -i threads -f raw -w "$img"
run "raw 256 MiB, cache=none aio=threads, reads" 200000 -t none -i threads -f raw "$img"
run "null-co read-zeroes=on, reads" 1000000 --image-opts driver=null-co,size=256M,read-zeroes=on

echo
echo "Host: $(nproc) CPUs, load average $load before the bench, ${others:-0} other QEMU process(es) running then"
busy=$(awk -v l="$load" -v n="$(nproc)" 'BEGIN { print (l > n) ? 1 : 0 }')
if [ "${others:-0}" -gt 0 ] || [ "$busy" -eq 1 ]; then
    echo "(other work competed for the same CPUs: treat these figures as lower bounds)"
fi
