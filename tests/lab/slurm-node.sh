#!/bin/sh
# slurm-node.sh start|stop DIR: a private single-node Slurm cluster on this host for the lab's
# Slurm test (Debian's slurm-wlm and munge): its own munge key and socket, slurm.conf, state and
# logs, all in DIR (created 0700), on ports above 16000. `start` prints the SLURM_CONF to use
# and waits until the node is idle; `stop` ends exactly the daemons it started (pid files).
# Exit status: 0 done, 1 failed (the reason and the daemons' logs on stderr), 77 Slurm or munge
# not installed.
set -u
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 1; }

stop() {
    for d in slurmd slurmctld munged; do
        [ -f "$dir/$d.pid" ] || continue
        pid=$(cat "$dir/$d.pid")
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null
        rm -f "$dir/$d.pid"
    done
}

fail() {
    echo "slurm-node.sh: $*" >&2
    for l in munged slurmctld slurmd; do
        [ -f "$dir/$l.log" ] && { echo "--- $l.log (last lines)" >&2; tail -n 15 "$dir/$l.log" >&2; }
    done
    stop
    exit 1
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 1; }
for b in munged mungekey slurmctld slurmd sbatch sinfo; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || { echo "slurm-node.sh: $b is not installed (apt-get install slurm-wlm munge)" >&2; exit 77; }
done
PATH=$PATH:/usr/sbin
mkdir -p "$dir" && chmod 0700 "$dir" || fail "cannot create $dir"
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 0700 "$dir/munge"
mungekey --create --keyfile="$dir/munge/munge.key" --force 2>"$dir/mungekey.log" || fail "mungekey failed"
chmod 0600 "$dir/munge/munge.key"
munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" --log-file="$dir/munged.log" \
    --pid-file="$dir/munged.pid" --seed-file="$dir/munge/munged.seed" || fail "munged did not start"
host=$(hostname -s)
# Ports from the pid, so that two test runs on one host do not collide.
port=$((16000 + ($$ % 4000) * 2))
cpus=$(nproc)
user=$(id -un)
cat > "$dir/slurm.conf" <<CONF
ClusterName=vqhlab
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MaxArraySize=1001
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=lab Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -i -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" -N "$host" || fail "slurmd did not start"
i=0
while [ $i -lt 60 ]; do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
    [ "$state" = idle ] && { echo "$SLURM_CONF"; exit 0; }
    sleep 0.5
    i=$((i + 1))
done
fail "the node did not become idle in 30 s (state: ${state:-none})"
