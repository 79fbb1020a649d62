#!/bin/sh
# insn-count.sh: guest instructions per request on null-co, by function (`make insn-count`).
#
# Under TCG the guest's CPU time follows the guest instructions it executes, and that count does
# not move with the machine's load the way wall-clock figures do (a fifth from run to run on our
# build machine): speed work on the guest is measured with it. The load is the bench's null-co
# boot: PVH, 2 vCPUs, virtio-blk with 4 queues of 256 on an iothread over null-co
# (read-zeroes=on), 4 KiB random reads; QEMU runs it for --seconds with the counting plugin
# (plugin.c), the guest ends itself and reports how many requests completed, and the blocks'
# instruction counts are mapped to the guest's functions with addr2line (inlined code is charged
# to the innermost function).
#
# Usage: insn-count.sh [--seconds N] [--top N] [--qemu PATH] [--plugin-dir DIR] [KERNEL]
#   KERNEL        the guest (default build/kernel.elf)
#   --seconds N   length of the load (default 6)
#   --top N       functions listed (default 25; 0: only the total)
#   --qemu PATH   qemu-system-x86_64 with TCG plugin support (default: the one on PATH)
#   --plugin-dir  where insn-count-api1.so and insn-count-api2.so are (default build/)
# Output: "guest instructions per request: N", then per function: instructions per request.
# Exit status 0, or 1 with a message naming what failed.
set -eu

top=$(cd "$(dirname "$0")/../../.." && pwd)
kernel=$top/build/kernel.elf
secs=6 ntop=25 qemu=qemu-system-x86_64 plugins=$top/build

fail() {
    echo "insn-count: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --seconds | --top | --qemu | --plugin-dir)
        [ $# -ge 2 ] || fail "$1 needs a value"
        case $1 in
        --seconds) secs=$2 ;;
        --top) ntop=$2 ;;
        --qemu) qemu=$2 ;;
        --plugin-dir) plugins=$2 ;;
        esac
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) fail "unknown option '$1' (see --help)" ;;
    *)
        kernel=$1
        shift
        ;;
    esac
done
case $secs in '' | *[!0-9]*) fail "--seconds '$secs': want a whole number of seconds, 1 or more" ;; esac
case $ntop in '' | *[!0-9]*) fail "--top '$ntop': want a number of functions, 0 or more" ;; esac
[ "$secs" -ge 1 ] || fail "--seconds '$secs': want a whole number of seconds, 1 or more"
[ -f "$kernel" ] || fail "no guest kernel at $kernel (run make first, or name one)"
for p in 1 2; do
    [ -f "$plugins/insn-count-api$p.so" ] || fail "no $plugins/insn-count-api$p.so (run make insn-count)"
done
command -v addr2line >/dev/null || fail "addr2line not found (apt-get install binutils)"
command -v "$qemu" >/dev/null || fail "QEMU '$qemu' not found (--qemu PATH)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/vqh-insn.XXXXXX") || fail "cannot create a temporary directory"
chmod 700 "$dir"
qpid=
cleanup() {
    [ -z "$qpid" ] || kill -9 "$qpid" 2>/dev/null || true
    [ -z "$qpid" ] || wait "$qpid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The bench's null-co guest configuration (tools/bench/cmd_bench.c), ending by itself.
printf 'duration=%s\nreport_ms=1000\nwatchdog_ms=30000\nmin_blocks=8\nmax_blocks=8\nmix_read=1\nmix_write=0\nmix_flush=0\nmix_discard=0\nmix_write_zeroes=0\n' \
    "$secs" >"$dir/guest.cfg"

# One run with the plugin of API version $1; QEMU's exit status in $dir/status.
run() {
    "$qemu" -name vqh-insn,debug-threads=on -machine q35 -accel tcg -smp 2 -m 256 -nodefaults \
        -no-user-config -display none -no-reboot \
        -plugin "$plugins/insn-count-api$1.so,out=$dir/blocks.txt" \
        -serial "file:$dir/serial.log" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -fw_cfg "name=opt/vqhammer/config,file=$dir/guest.cfg" -kernel "$kernel" \
        -object iothread,id=iothread0 \
        -blockdev driver=null-co,node-name=null0,read-zeroes=on,size=268435456 \
        -device virtio-blk-pci,drive=null0,id=disk0,serial=vqh0,num-queues=4,queue-size=256,iothread=iothread0 \
        2>"$dir/qemu.err" &
    qpid=$!
    # Every wait has a timeout: boot, the load, the drain and the plugin's dump.
    limit=$((secs + 60)) waited=0
    while kill -0 "$qpid" 2>/dev/null; do
        if [ "$waited" -ge $((limit * 10)) ]; then
            kill -9 "$qpid" 2>/dev/null || true
            wait "$qpid" 2>/dev/null || true
            qpid=
            fail "QEMU ran past ${limit} s for a ${secs} s load: the guest never ended (its serial log: $(tail -n 3 "$dir/serial.log" 2>/dev/null))"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    status=0
    wait "$qpid" || status=$?
    qpid=
}

run 1
if [ ! -s "$dir/blocks.txt" ] && grep -q 'minimum version' "$dir/qemu.err"; then
    run 2 # a QEMU of API version 2 or later (QEMU 10 wants at least 2)
fi
[ -s "$dir/blocks.txt" ] || fail "QEMU wrote no block counts (exit status $status): $(head -n 3 "$dir/qemu.err")"
# The guest's summary: requests completed over the whole run (isa-debug-exit then ends QEMU).
grep -q '"type":"verdict","verdict":"pass"' "$dir/serial.log" ||
    fail "the guest did not pass: $(grep -o '"type":"verdict"[^}]*' "$dir/serial.log" | head -n 1) (serial log tail: $(tail -n 2 "$dir/serial.log"))"
ops=$(grep '"type":"summary"' "$dir/serial.log" | head -n 1 | sed -n 's/.*"type":"summary","t_ms":[0-9]*,"ops":\([0-9]*\),.*/\1/p')
case $ops in '' | *[!0-9]* | 0) fail "no request count in the guest's summary line" ;; esac

# Map each block's address to its innermost function (addr2line -i prints the inline chain,
# innermost first, after the address line).
cut -d' ' -f1 "$dir/blocks.txt" | sed 's/^/0x/' | addr2line -a -f -i -e "$kernel" >"$dir/lines.txt" ||
    fail "addr2line failed on $kernel"
awk -v ops="$ops" -v ntop="$ntop" '
    FILENAME == ARGV[1] {
        if ($0 ~ /^0x/) { addr = $0; sub(/^0x0*/, "", addr); want = 1; next }
        if (want && $0 !~ /^\//) { fn[addr] = ($0 == "??" ? "(unknown)" : $0); want = 0 }
        next
    }
    {
        a = $1; sub(/^0*/, "", a)
        f = (a in fn) ? fn[a] : "(unknown)"
        n = $2 * $3; by[f] += n; total += n
    }
    END {
        printf "guest instructions per request: %.0f (%d requests, %.0f instructions, inlined code charged to the innermost function)\n", total / ops, ops, total
        if (ntop > 0) {
            k = 0
            for (f in by) { k++; name[k] = f; val[k] = by[f] }
            for (i = 1; i <= k && i <= ntop; i++) {
                m = i
                for (j = i + 1; j <= k; j++) if (val[j] > val[m]) m = j
                t = name[i]; name[i] = name[m]; name[m] = t
                t = val[i]; val[i] = val[m]; val[m] = t
                printf "%10.1f  %s\n", val[i] / ops, name[i]
            }
        }
    }' "$dir/lines.txt" "$dir/blocks.txt"
