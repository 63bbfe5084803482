#!/usr/bin/env bash
# testbed-down.sh [DIR]: stop what testbed-up.sh started in DIR (default
# /tmp/sluice-testbed), by the PIDs in DIR/env only, then remove DIR and
# this testbed's line in the test user's authorized keys.  Running jobs
# are cancelled first so no slurmstepd is left behind.  Safe to run twice.
set -u
DIR=${1:-/tmp/sluice-testbed}
ENV=$DIR/env
[ -d "$DIR" ] || exit 0

pids=
if [ -f "$ENV" ]; then
	if [ -f "$DIR/etc/slurm.conf" ] && command -v scancel >/dev/null; then
		SLURM_CONF=$DIR/etc/slurm.conf timeout 5 scancel --quiet --full \
		    --user=sluicehook 2>/dev/null || true
	fi
	while IFS='=' read -r k v; do
		case "$k" in *_PID) [[ "$v" =~ ^[0-9]+$ ]] && pids="$pids $v";; esac
	done < "$ENV"
fi
# only processes that are still what we started (command line names DIR or
# is one of our daemons), never by name
mine=
for p in $pids; do
	[ -r "/proc/$p/cmdline" ] || continue
	cmd=$(tr '\0' ' ' < "/proc/$p/cmdline")
	case "$cmd" in
	*"$DIR"*|/usr/sbin/slurmctld*|/usr/sbin/slurmd*) mine="$mine $p";;
	esac
done
# with their descendants (sshd sessions and the commands they run,
# slurmstepd), found through /proc/PID/task/*/children
descend() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"; descend "$c"
	done
}
kids=
for p in $mine; do kids="$kids $(descend "$p")"; done
mine="$mine $(echo $kids)"
mine=$(echo $mine)
[ -n "$mine" ] && kill -TERM $mine 2>/dev/null
for _ in $(seq 100); do
	alive=
	for p in $mine; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
	[ -z "$alive" ] && break
	sleep 0.1
done
[ -n "${alive:-}" ] && kill -KILL $alive 2>/dev/null
rm -rf "$DIR"
home=$(getent passwd sluicehook | cut -d: -f6)
# only this testbed's key line (testbed-up.sh appends one per DIR)
if [ -n "$home" ] && [ -f "$home/.ssh/authorized_keys" ]; then
	(
		flock 9
		awk -v me="sluicehook@testbed:$DIR" '$NF != me' \
		    "$home/.ssh/authorized_keys" > "$home/.ssh/authorized_keys.tmp"
		chown sluicehook:sluicehook "$home/.ssh/authorized_keys.tmp"
		chmod 600 "$home/.ssh/authorized_keys.tmp"
		mv -f "$home/.ssh/authorized_keys.tmp" "$home/.ssh/authorized_keys"
	) 9>"$home/.ssh/.testbed.lock"
fi
exit 0
