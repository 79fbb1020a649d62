#!/bin/sh
# soak.sh: `make soak`: the false-alarm figure. Runs `vqhammer migrate` over a fixed mix of
# configurations (plain, cancel and kill-dst hops; postcopy, multifd, xbzrle and auto-converge
# hops; PVH and UEFI boots) until at least SOAK_HOPS hops (default 300) have run, and counts the
# FAIL and ERROR verdicts. On a healthy QEMU every one of them is a false alarm: the goal is 0.
# A figure, not a test. Environment: SOAK_HOPS, SOAK_QEMU (a QEMU binary), SOAK_LOCK (a lock file
# taken around each run, for machines shared with other QEMU workloads), SOAK_DIR (where each
# run's --json and output go; default a new directory under $TMPDIR or /tmp), SOAK_SEED (the first
# run's seed, default 1; each next run takes the next one).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
want=${SOAK_HOPS:-300}
dir=${SOAK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/vqh-soak.XXXXXX")}
mkdir -p "$dir"
qemu=${SOAK_QEMU:+--qemu $SOAK_QEMU}

# One round: 80 hops. Each line: a name and the flags of one run.
mix() {
    cat <<'MIX'
pvh-plain-cancel-kill --boot pvh --migrations 20 --cancel-every 4 --kill-dst-every 5
pvh-postcopy --boot pvh --migrations 10 --postcopy
pvh-multifd --boot pvh --migrations 10 --multifd=4
pvh-xbzrle --boot pvh --migrations 10 --xbzrle
pvh-auto-converge --boot pvh --migrations 10 --auto-converge
uefi-plain-cancel-kill --boot uefi --migrations 20 --cancel-every 4 --kill-dst-every 5
MIX
}

hops=0 runs=0 fails=0 errors=0 unexercised=0 seed=${SOAK_SEED:-1}
start=$(date -u +%Y-%m-%dT%H:%MZ)
while [ "$hops" -lt "$want" ]; do
    mix > "$dir/mix.txt"
    while read -r name flags; do
        [ "$hops" -lt "$want" ] || break
        runs=$((runs + 1))
        out=$dir/run$runs-$name
        # shellcheck disable=SC2086 # flags are words
        set -- "$top/build/vqhammer" migrate $flags --seed "$seed" $qemu --quiet --json "$out.json"
        [ -z "${SOAK_LOCK:-}" ] || set -- flock "$SOAK_LOCK" "$@"
        rc=0
        "$@" > "$out.txt" 2>&1 || rc=$?
        seed=$((seed + 1))
        n=$(jq '.hops | length' "$out.json" 2>/dev/null || echo 0)
        u=$(jq '.unexercised_hops // 0' "$out.json" 2>/dev/null || echo 0)
        verdict=$(jq -r '.verdict' "$out.json" 2>/dev/null || echo "ERROR (no --json written)")
        hops=$((hops + n))
        unexercised=$((unexercised + u))
        case $rc in
        0) ;;
        1) fails=$((fails + 1)) ;;
        *) errors=$((errors + 1)) ;;
        esac
        printf '%-24s %3d hops  %s%s\n' "$name" "$n" "$verdict" \
            "$([ "$rc" -eq 0 ] || printf ' - %s (%s)' "$(jq -r .reason "$out.json" 2>/dev/null)" "$out.txt")"
    done < "$dir/mix.txt"
done

machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
version=$("${SOAK_QEMU:-qemu-system-x86_64}" --version | head -1)
echo "soak: $hops hops in $runs runs, $fails FAIL and $errors ERROR verdicts, $unexercised hops that did not" \
     "exercise a mode asked for; started $start, ended $(date -u +%Y-%m-%dT%H:%MZ); $machine; $version;" \
     "results in $dir"
[ "$fails" -eq 0 ] && [ "$errors" -eq 0 ]
