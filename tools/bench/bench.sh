#!/bin/sh
# bench.sh: `make bench`, everything in one run so the figures can be set side by side:
#   1. the host's ceiling: qemu-img bench on the same kind of image (and on null-co)
#   2. the Linux + fio baseline, ../shared/linux-fio/run.sh beside the checkout (VQH_LINUX_FIO=DIR
#      names another place; skipped, saying so, when absent); its results go to build/linux-fio/
#   3. `vqhammer bench`: its boots, `make run`'s hops per hour, then the table of every figure
#      with the baseline, the ceiling, the ratios and the goals (also build/bench.json)
#   4. the guest's instructions per null-co request (tools/bench/insncount/insn-count.sh): the
#      one figure the machine's load does not move, to compare builds (build/insn-count.txt)
# Figures only: never part of a timed test. Extra arguments go to `vqhammer bench`
# (e.g. tools/bench/bench.sh --run-seconds 10 --hops 10).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
fio_dir=${VQH_LINUX_FIO:-$top/../shared/linux-fio}

fail() {
    echo "bench.sh: $*" >&2
    exit 1
}

# Figures on a shared machine are only as good as its quiet: say what else was running.
others=$(pgrep -c qemu-system || true)
load=$(cut -d' ' -f1 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

# The image lives where vqhammer's scratch image will ($TMPDIR, else /tmp): the same filesystem.
# Fully allocated, so reads do not hit holes and writes do not allocate: a steady-state image.
dir=$(mktemp -d "${TMPDIR:-/tmp}/vqh-bench.XXXXXX") || fail "cannot create a temporary directory"
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
img=$dir/bench.img
out=$(qemu-img create -q -f raw -o preallocation=full "$img" 256M 2>&1) || fail "qemu-img create $img: $out"

# qemu-img bench prints only the elapsed time: IOPS = requests / seconds.
iops() {
    what=$1 count=$2
    shift 2
    out=$(qemu-img bench -c "$count" -d 64 -s 4096 "$@" 2>&1) ||
        fail "qemu-img bench $* failed: $out"
    secs=$(printf '%s\n' "$out" | sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p')
    [ -n "$secs" ] || fail "qemu-img bench $*: no 'Run completed in N seconds.' in its output: $out"
    n=$(awk -v n="$count" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    printf '  %-42s %10s IOPS  (%d requests in %s s)\n' "$what" "$n" "$count" "$secs" >&2
    echo "$n"
}

echo "Host-side ceiling: qemu-img bench, 4 KiB sequential requests, queue depth 64" >&2
echo "(a guest cannot beat the backend it runs on; qemu-img bench is sequential, the guest random)" >&2
w=$(iops "raw 256 MiB, cache=none aio=threads, writes" 100000 -t none -i threads -f raw -w "$img")
r=$(iops "raw 256 MiB, cache=none aio=threads, reads" 200000 -t none -i threads -f raw "$img")
z=$(iops "null-co read-zeroes=on, reads" 1000000 --image-opts driver=null-co,size=256M,read-zeroes=on)
printf '{"raw_read_iops": %s, "raw_write_iops": %s, "null_read_iops": %s}\n' "$r" "$w" "$z" >"$dir/ceiling.json"
rm -f "$img"

# The Linux + fio baseline: the same device, the same load, booted the same way (its README).
# --wait-idle 0: on a shared machine waiting for quiet could take minutes; the load is reported.
set -- --ceiling "$dir/ceiling.json" "$@"
if [ -x "$fio_dir/run.sh" ]; then
    echo "Linux + fio baseline: $fio_dir/run.sh (its first run builds its guest with apt-get, minutes)" >&2
    # Kept beside build/bench.json: its result.json, serial log and QEMU's time -v.
    out=$top/build/linux-fio
    rm -rf "$out"
    if OUT="$out" "$fio_dir/run.sh" --wait-idle 0 >"$dir/linux-fio.log" 2>&1 && [ -f "$out/result.json" ]; then
        sed -n 's/^/  /; /^  boot->\|^  fio:\|^  qemu:/p' "$dir/linux-fio.log" >&2
        set -- --baseline "$out/result.json" "$@"
    else
        echo "  the Linux + fio baseline failed; its output:" >&2
        tail -n 20 "$dir/linux-fio.log" | sed 's/^/  | /' >&2
    fi
else
    echo "Linux + fio baseline: skipped, no $fio_dir/run.sh (set VQH_LINUX_FIO=DIR to name it)" >&2
fi

rc=0
"$top/build/vqhammer" bench --json "$top/build/bench.json" "$@" || rc=$?
[ "$rc" -eq 0 ] || fail "vqhammer bench failed (exit status $rc; its messages are above)"

# Skipped, saying why, where QEMU cannot load TCG plugins: the other figures stand without it.
echo
if "$top/tools/bench/insncount/insn-count.sh" --top 15 >"$top/build/insn-count.txt" 2>"$dir/insn.err"; then
    echo "Guest instructions per null-co request (make insn-count; steady whatever the machine's load):"
    sed 's/^/  /' "$top/build/insn-count.txt"
else
    echo "Guest instructions per null-co request: skipped ($(head -n 1 "$dir/insn.err"))"
fi

echo
echo "Measured $started on $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1))"
echo "Load average $load before the bench, ${others:-0} other QEMU process(es) running then"
busy=$(awk -v l="$load" -v n="$(nproc)" 'BEGIN { print (l > n) ? 1 : 0 }')
if [ "${others:-0}" -gt 0 ] || [ "$busy" -eq 1 ]; then
    echo "(other work competed for the same CPUs: treat these figures as lower bounds)"
fi
