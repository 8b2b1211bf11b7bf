#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the Slurm tests and `make demo-slurm` (test/demo infra,
# not part of campaignops). Installs nothing: the Debian packages `slurm-wlm munge` must be there
# (`make slurm-packages` installs them as root). Everything lives in $SLURM_STATE_DIR (default
# /var/tmp/campaignops-slurm): slurm.conf, state, spool, logs, pid files, the jobcomp log.
#
#   tests/cluster/slurm.sh start    # munged (if none answers), slurmctld, slurmd; waits until the node is idle
#   tests/cluster/slurm.sh stop     # stops only the daemons whose pid files are in the state dir
#   tests/cluster/slurm.sh status   # prints "running" and exits 0 when sinfo answers
#   tests/cluster/slurm.sh env      # SLURM_CONF=... for the shell (eval "$(tests/cluster/slurm.sh env)")
#
# Finished jobs' states come from JobCompType=jobcomp/filetxt ($SLURM_STATE_DIR/jobcomp.log): there is no
# slurmdbd here, so `sacct` has nothing to say. No cgroups (TaskPlugin=task/none): memory is not enforced.
set -euo pipefail

STATE=${SLURM_STATE_DIR:-/var/tmp/campaignops-slurm}
CONF=$STATE/slurm.conf
NODE=$(hostname -s)

die() { echo "slurm.sh: $*" >&2; exit 2; }

need() {
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd runs jobs as their users; munged needs /etc/munge)"
  local missing=()
  for exe in munged slurmctld slurmd sinfo squeue; do
    command -v "$exe" >/dev/null || [ -x "/usr/sbin/$exe" ] || missing+=("$exe")
  done
  [ ${#missing[@]} = 0 ] || die "missing ${missing[*]}: install them with 'apt-get install -y slurm-wlm munge' (or 'make slurm-packages')"
  [ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing: reinstall munge"
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))   # MB, leave some for the OS
  mkdir -p "$STATE/state" "$STATE/spool" "$STATE/log"
  cat > "$CONF" <<CONF
ClusterName=campaignops
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmdTimeout=30
MinJobAge=300
NodeName=$NODE CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  need
  [ -f "$CONF" ] || write_conf
  export SLURM_CONF=$CONF
  if ! munge -n </dev/null >/dev/null 2>&1; then
    mkdir -p /run/munge "$STATE/munge" && chown munge: /run/munge "$STATE/munge"
    # munged writes its own pid file; ours says it was started here, so `stop` may stop it.
    runuser -u munge -- /usr/sbin/munged --pid-file="$STATE/munge/munged.pid"
  fi
  alive "$STATE/slurmctld.pid" || /usr/sbin/slurmctld -f "$CONF"
  alive "$STATE/slurmd.pid" || /usr/sbin/slurmd -f "$CONF"
  for _ in $(seq 1 60); do
    if sinfo -h -n "$NODE" -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "slurm: node $NODE up (SLURM_CONF=$CONF)"; return 0
    fi
    scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  die "node $NODE did not become idle in 60 s: see $STATE/log/"
}

stop() {
  for name in slurmd slurmctld munge/munged; do
    local pidfile=$STATE/$name.pid
    if alive "$pidfile"; then
      local pid; pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    [ "$name" = munge/munged ] && rm -f "$pidfile"
  done
  echo "slurm: stopped what $STATE's pid files named"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF=$CONF sinfo -h >/dev/null 2>&1 && echo running || { echo "not running"; exit 1; } ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) die "usage: $0 start|stop|status|env" ;;
esac
