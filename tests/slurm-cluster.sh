#!/usr/bin/env bash
# slurm-cluster.sh - a one-node Slurm cluster on 127.0.0.1 in a folder of its own, for tests
# (tests/slurm.bats) and for trying SLURM=1 on one machine.  Debian's slurm-wlm and munge;
# no systemd, no files outside DIR; needs root (slurmd starts tasks as their user).
#
#   slurm-cluster.sh start DIR   munged (own key and socket), slurmctld, slurmd; prints
#                                "export SLURM_CONF=DIR/slurm.conf" once the node is idle
#   slurm-cluster.sh stop DIR    cancel every job, stop the three daemons (bounded waits)
#
# Every wait is bounded; start fails (status 1, the logs' tails on stderr) when a daemon does
# not come up within 30 s.
set -euo pipefail
me=slurm-cluster.sh
die() { echo "$me: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: $me start|stop DIR"
cmd=$1 dir=$2

# wait_for SECONDS COMMAND...: poll every 0.2 s
wait_for() {
	local n=$(($1 * 5))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.2
	done
}
# stop_pids PIDFILE...: SIGTERM to each, up to 10 s for all to end, then SIGKILL
stop_pids() {
	local f p pids=()
	for f in "$@"; do
		[ -f "$f" ] && p=$(cat "$f") && [ -n "$p" ] && kill -TERM "$p" 2>/dev/null && pids+=("$p")
	done
	[ ${#pids[@]} -gt 0 ] || return 0
	wait_for 10 all_gone "${pids[@]}" || kill -KILL "${pids[@]}" 2>/dev/null || true
}
all_gone() {
	local p
	for p; do ! kill -0 "$p" 2>/dev/null || return 1; done
}

case $cmd in
start)
	for c in munged slurmctld slurmd srun sinfo; do
		command -v "$c" >/dev/null || die "$c is not installed (slurm-wlm and munge: make deps)"
	done
	[ "$(id -u)" = 0 ] || die "slurmd needs root"
	mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
	dir=$(cd "$dir" && pwd)
	# munged insists on a socket folder that everyone may traverse but no one else may write
	chmod 755 "$dir" "$dir/munge"
	head -c 1024 /dev/urandom > "$dir/munge/munge.key"
	chmod 400 "$dir/munge/munge.key"
	munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/sock" \
		--pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
		--seed-file="$dir/munge/munged.seed" ||
		{ tail -n 5 "$dir/munge/munged.log" >&2; die "munged did not start"; }
	# two TCP ports no socket on this machine uses (/proc/net/tcp*: local address, hex port)
	used=" "
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		while read -r _ local _; do used+="$((16#${local##*:})) "; done < <(tail -n +2 "$f")
	done
	ports=()
	while [ ${#ports[@]} -lt 2 ]; do
		p=$((20000 + RANDOM % 30000))
		[[ $used == *" $p "* ]] || { ports+=("$p"); used+="$p "; }
	done
	p1=${ports[0]} p2=${ports[1]}
	node=$(slurmd -C | head -n 1)
	cat > "$dir/slurm.conf" <<-EOF
		ClusterName=dann-test
		SlurmctldHost=$(hostname -s)(127.0.0.1)
		SlurmUser=root
		SlurmctldPort=$p1
		SlurmdPort=$p2
		AuthType=auth/munge
		CredType=cred/munge
		AuthInfo=socket=$dir/munge/sock
		StateSaveLocation=$dir/state
		SlurmdSpoolDir=$dir/spool
		SlurmctldPidFile=$dir/slurmctld.pid
		SlurmdPidFile=$dir/slurmd.pid
		SlurmctldLogFile=$dir/slurmctld.log
		SlurmdLogFile=$dir/slurmd.log
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core
		SchedulerType=sched/builtin
		MpiDefault=none
		MailProg=/bin/true
		JobAcctGatherType=jobacct_gather/none
		AccountingStorageType=accounting_storage/none
		JobCompType=jobcomp/none
		ReturnToService=2
		KillWait=10
		MinJobAge=600
		$node NodeAddr=127.0.0.1 State=UNKNOWN
		PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
	EOF
	export SLURM_CONF=$dir/slurm.conf
	slurmctld -f "$SLURM_CONF" -i >/dev/null 2>&1 </dev/null
	slurmd -f "$SLURM_CONF" >/dev/null 2>&1 </dev/null
	if ! wait_for 30 eval '[ "$(sinfo -h -o %T 2>/dev/null)" = idle ]'; then
		tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
		die "the node did not become idle within 30 s"
	fi
	echo "export SLURM_CONF=$SLURM_CONF"
	;;
stop)
	[ -d "$dir" ] || exit 0
	export SLURM_CONF=$dir/slurm.conf
	if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
		timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
		wait_for 20 eval '[ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ]' || true
	fi
	stop_pids "$dir/slurmd.pid" "$dir/slurmctld.pid"
	stop_pids "$dir/munge/munged.pid"
	;;
*) die "unknown command '$cmd' (start or stop)" ;;
esac
