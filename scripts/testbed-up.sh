#!/usr/bin/env bash
# testbed-up.sh [DIR]: start, as root, a private sshd and a single-node
# Slurm on 127.0.0.1 for the completion-hook tests (no systemd needed).
#
#   sshd    127.0.0.1:<free port>, its own ed25519 host key, only user
#           sluicehook (created if missing) with a fresh ed25519 key, no
#           passwords; the remote shell gets SLURM_CONF via SetEnv.
#   Slurm   munged + slurmctld + slurmd started by hand with a private
#           config, munge socket and state under DIR, free ports on
#           127.0.0.1, one node, one partition "realtime".
#
# DIR (default /tmp/sluice-testbed) gets an env file to source:
#   SSH_PORT SSH_KEY KNOWN_HOSTS SSH_USER SLURM_CONF DATA_DIR
#   SSHD_PID MUNGED_PID SLURMCTLD_PID SLURMD_PID
# DATA_DIR is a directory the test user owns (job output goes there).
# Stop everything with scripts/testbed-down.sh DIR.  Exit status: 0 up,
# 1 something failed, 3 Slurm itself could not start (logs are copied to
# DIR.failed-log, and what was started is stopped).
# See /work/shared/notes/slurm-sshd.md for the recipe and its pitfalls.
set -euo pipefail
DIR=${1:-/tmp/sluice-testbed}
HERE=$(cd "$(dirname "$0")" && pwd)
USER_NAME=sluicehook

die() { echo "testbed-up: $*" >&2; exit 1; }
# Slurm itself could not start (exit 3): tests may skip on that alone
die_slurm() { echo "testbed-up: slurm: $*" >&2; exit 3; }
[ "$(id -u)" = 0 ] || die "must run as root"

# packages: install only what is missing, wait for a concurrent apt
need=()
for p in slurmctld slurmd slurm-client munge openssh-server openssh-client; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "testbed-up: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 -qq update >/dev/null
	apt-get -o DPkg::Lock::Timeout=600 -qq install -y --no-install-recommends \
	    "${need[@]}" >/dev/null
fi

# munged and non-root sbatch need every parent of DIR searchable by all
d=$(dirname "$(realpath -m "$DIR")")
while [ "$d" != / ]; do
	[ -d "$d" ] && [ $((0$(stat -c %a "$d") & 1)) = 1 ] ||
	    die "$d is not searchable by other users (chmod o+x it, or pick another DIR)"
	d=$(dirname "$d")
done
# a leftover testbed in DIR: stop it first
[ -e "$DIR/env" ] && bash "$HERE/testbed-down.sh" "$DIR" || true
rm -rf "$DIR"
mkdir -p "$DIR"/{munge,etc,state,spool,log,sshd,client,data}
chmod 755 "$DIR" "$DIR/munge" "$DIR/etc" "$DIR/log"
chmod 700 "$DIR/state" "$DIR/spool" "$DIR/sshd" "$DIR/client"
ENV=$DIR/env
: > "$ENV"
started=0
trap '[ "$started" = 1 ] && { echo "testbed-up: failed, stopping (logs in $DIR/log)" >&2;
      cp -r "$DIR/log" "$DIR.failed-log" 2>/dev/null; bash "$HERE/testbed-down.sh" "$DIR"; }' EXIT

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# start NAME CMD...: run CMD in its own session, logs to DIR/log/NAME.log,
# record NAME_PID in env
start() {
	local name=$1; shift
	setsid "$@" </dev/null >"$DIR/log/$name.log" 2>&1 &
	echo "${name^^}_PID=$!" >> "$ENV"
	eval "${name^^}_PID=$!"
	started=1
}
alive_or_die() {	# NAME PID
	kill -0 "$2" 2>/dev/null && return 0
	tail -20 "$DIR/log/$1.log" >&2
	case "$1" in sshd) die "$1 exited";; *) die_slurm "$1 exited";; esac
}

# --- test user and keys ---------------------------------------------------
if ! id "$USER_NAME" >/dev/null 2>&1; then
	useradd -m -s /bin/bash "$USER_NAME"
fi
usermod -p '*' "$USER_NAME"		# '!' counts as locked with UsePAM no
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)
install -d -m 700 -o "$USER_NAME" -g "$USER_NAME" "$HOME_DIR/.ssh"
# one line per testbed, named after DIR, so that testbeds started in
# parallel (other tests, other worktrees) do not lock each other out;
# testbed-down.sh removes only its own line
ssh-keygen -q -t ed25519 -N '' -C "$USER_NAME@testbed:$DIR" -f "$DIR/client/id_ed25519"
(
	flock 9
	ak=$HOME_DIR/.ssh/authorized_keys
	cat "$DIR/client/id_ed25519.pub" >> "$ak"
	chown "$USER_NAME:$USER_NAME" "$ak"; chmod 600 "$ak"
) 9>"$HOME_DIR/.ssh/.testbed.lock"
chown "$USER_NAME:$USER_NAME" "$DIR/data"
chmod 755 "$DIR/data"

# --- Slurm --------------------------------------------------------------
NODE=$(hostname -s)
CPUS=$(nproc)
CTLD_PORT=$(freeport)
SLURMD_PORT=$(freeport)
while [ "$SLURMD_PORT" = "$CTLD_PORT" ]; do SLURMD_PORT=$(freeport); done
cat > "$DIR/etc/slurm.conf" <<EOF
ClusterName=sluice
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket.2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=1000 State=UNKNOWN
PartitionName=realtime Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
chmod 644 "$DIR/etc/slurm.conf"
export SLURM_CONF=$DIR/etc/slurm.conf
echo "SLURM_CONF=$SLURM_CONF" >> "$ENV"

mungekey -c -k "$DIR/munge/munge.key"
start munged /usr/sbin/munged -F --socket="$DIR/munge/munge.socket.2" \
    --key-file="$DIR/munge/munge.key" --log-file="$DIR/log/munged.file.log" \
    --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed"
for _ in $(seq 100); do [ -S "$DIR/munge/munge.socket.2" ] && break; sleep 0.05; done
alive_or_die munged "$MUNGED_PID"
[ -S "$DIR/munge/munge.socket.2" ] || die_slurm "munged made no socket"
start slurmctld /usr/sbin/slurmctld -D
start slurmd /usr/sbin/slurmd -D

# --- sshd ---------------------------------------------------------------
mkdir -p /run/sshd && chmod 755 /run/sshd
ssh-keygen -q -t ed25519 -N '' -C testbed-host -f "$DIR/sshd/ssh_host_ed25519_key"
SSH_PORT=$(freeport)
cat > "$DIR/sshd/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $DIR/sshd/ssh_host_ed25519_key
PidFile $DIR/sshd/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $USER_NAME
StrictModes yes
X11Forwarding no
AllowTcpForwarding no
SetEnv SLURM_CONF=$SLURM_CONF
LogLevel VERBOSE
EOF
/usr/sbin/sshd -t -f "$DIR/sshd/sshd_config" || die "sshd_config rejected"
start sshd /usr/sbin/sshd -D -e -f "$DIR/sshd/sshd_config"
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$DIR/sshd/ssh_host_ed25519_key.pub")" \
    > "$DIR/client/known_hosts"
cat >> "$ENV" <<EOF
SSH_PORT=$SSH_PORT
SSH_USER=$USER_NAME
SSH_KEY=$DIR/client/id_ed25519
KNOWN_HOSTS=$DIR/client/known_hosts
SSH_HOST_PUB=$DIR/sshd/ssh_host_ed25519_key.pub
DATA_DIR=$DIR/data
TESTBED_DIR=$DIR
EOF

# --- readiness: sshd listening, node idle ---------------------------------
for _ in $(seq 200); do
	(exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null && break
	alive_or_die sshd "$SSHD_PID"
	sleep 0.05
done
alive_or_die sshd "$SSHD_PID"
state=
for _ in $(seq 300); do
	state=$(sinfo -h -N -o '%T' 2>/dev/null || true)
	[ "$state" = idle ] && break
	alive_or_die slurmctld "$SLURMCTLD_PID"
	alive_or_die slurmd "$SLURMD_PID"
	sleep 0.05
done
[ "$state" = idle ] || { tail -20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2;
    die_slurm "node not idle after 15s (state: ${state:-none})"; }

started=0
trap - EXIT
echo "testbed-up: sshd 127.0.0.1:$SSH_PORT, slurm node $NODE idle, env in $ENV" >&2
