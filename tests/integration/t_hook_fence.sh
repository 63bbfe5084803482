#!/usr/bin/env bash
# The hook's remote fence (include/fence.h) against a real private sshd
# (scripts/testbed-up.sh): a slow remote command
#	echo {id} >> $LOG; sleep 5; echo job-{id}
# and kill -9 of the agent at every point of a hook's life, restarted at
# once.  The remote log is the durable count: exactly one line per dataset,
# every time, and `sluice show` says "running since" while it runs, then
# done with the real output (never "last exit status -1"):
#   - before the command starts (the SSH handshake still going, slowed by
#     a rate-limiting proxy)
#   - during it, several datasets queued behind it, restarted at once
#   - during it, restarted only after it ended
#   - after it ended but before the agent recorded it (agent stopped with
#     SIGSTOP until the marker has its status, then killed)
#   - kill timings 0.2 .. 4.8 s into the command
#   - a command longer than [hook] timeout: probed, not killed nor re-run
#   - kind exec: the same fence, local; a graceful stop mid-hook too
#   - a real sbatch: one Slurm job per dataset, counted with scontrol
# FENCE_OFF=1 runs it with state_dir = none and a query that looks for
# the job (the situation of issue 17): it must fail.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "   FAIL needs root (sshd, test user, Slurm)"; exit 1; }
sl_setup
chmod 755 "$T"
TB=$T/tb
PROXY=
trap '[ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null; bash "$ROOT/scripts/testbed-down.sh" "$TB"; sl_cleanup' EXIT
bash "$ROOT/scripts/testbed-up.sh" "$TB" 2>"$T/testbed-up.log"
rc=$?
# Slurm is part of the testbed; if it cannot start here that is a failure
# of this scenario, not a skip (the sbatch case is its last part).
if [ "$rc" != 0 ]; then
	cat "$T/testbed-up.log"; fail "testbed-up exit $rc"; sl_done
fi
set -a; . "$TB/env"; set +a
[ -n "${SSH_PORT:-}" ] || { fail "no sshd in the testbed"; sl_done; }
ok "testbed: sshd on 127.0.0.1:$SSH_PORT"

uhome=$(getent passwd "$SSH_USER" | cut -d: -f6)
LOG=$DATA_DIR/hooklog
: > "$LOG"; chown "$SSH_USER" "$LOG"
CMD="echo {id} >> $LOG; sleep 5; echo job-{id}"
port=$(sl_port)
sl_sink_conf sink "$port"
sed -i "s|^root = .*|root = $DATA_DIR|" "$T/sink.conf"
agent_conf() {	# agent_conf NAME SSH_PORT COMMAND
	local n=$1 p=$2 c=$3
	sl_agent_conf "$n" "$port"
	{
		printf '[hook]\nkind = ssh\nhost = 127.0.0.1\nport = %s\nuser = %s\nkey = %s\n' \
		    "$p" "$SSH_USER" "$SSH_KEY"
		printf 'command = %s\n' "$c"
		printf 'known_hosts = %s\nremote_root = %s\nconnect_timeout = 10s\ntimeout = 20s\n' \
		    "$KNOWN_HOSTS" "$DATA_DIR"
		printf 'retry_min = 0.3s\nretry_max = 1s\nattempts = 3\n'
		if [ "${FENCE_OFF:-0}" = 1 ]; then
			printf 'state_dir = none\nquery = false\n'
		fi
	} >> "$T/$n.conf"
}
dsid() { "$SLUICE" -c "$T/$1.conf" show "$2" | sed -n '1s/.*(\([0-9a-f]*\)).*/\1/p'; }
mk() { mkdir -p "$T/src/$1"; head -c 100000 /dev/urandom > "$T/src/$1/f"; }
state() { sl_ls_field "$1" "$2" state | tr -d '"'; }
wait_state() {	# wait_state AGENT DS STATE SECS
	local i
	for i in $(seq $(( $4 * 20 ))); do [ "$(state "$1" "$2")" = "$3" ] && return 0; sleep 0.05; done
	return 1
}
runs() { grep -c "^$1\$" "$LOG" || true; }
# check AGENT DS WHAT: done, exactly one invocation, the real output
check() {
	local a=$1 ds=$2 what=$3 id show n
	id=$(dsid "$a" "$ds")
	if ! sl_wait "$a" "$ds" 60 --hook >/dev/null; then
		fail "$what: $ds not done: $("$SLUICE" -c "$T/$a.conf" show "$ds" | sed -n '2p;/hook/p;/error/p')"
		return
	fi
	show=$("$SLUICE" -c "$T/$a.conf" show "$ds")
	n=$(runs "$id")
	if [ "$n" = 1 ] && grep -q "^  hook out: job-$id\$" <<<"$show" &&
	    grep -q "last exit status 0" <<<"$show" && ! grep -q -- "-1" <<<"$(grep '^  hook:' <<<"$show")"; then
		ok "$what: $ds ran exactly once (remote log), done, hook out job-$id"
	else
		fail "$what: $ds: $n invocations; $(grep '^  hook' <<<"$show" | tr '\n' ' ')"
	fi
}
# the marker of DS's first attempt at the remote
marker() { echo "$uhome/.sluice/hook-state/$1-$(dsid "$1" "$2")-0.1"; }

sl_start sink || { fail "sink"; sl_done; }
agent_conf agent "$SSH_PORT" "$CMD"
sl_start agent || { fail "agent"; sl_done; }

# 1. during the command: kill -9 at 1 s, restart at once; show says
# running since, then done
mk during
sl_submit agent "$T/src/during" >/dev/null
wait_state agent during hook_running 30 || fail "during never hook_running"
sleep 1
sl_kill9 agent; sl_start agent
sawrun=0
for _ in $(seq 60); do
	s=$("$SLUICE" -c "$T/agent.conf" show during)
	grep -q '^  hook:    running since' <<<"$s" && { sawrun=1; break; }
	grep -q 'state:   done' <<<"$s" && break
	sleep 0.1
done
[ $sawrun = 1 ] && ok "during: after the restart show says: $(grep '^  hook:' <<<"$s" | sed 's/^ *//')" ||
    fail "during: show never said running since: $(grep '^  hook' <<<"$s")"
check agent during "kill -9 1 s into the command, restarted at once"
grep -q 'name=during hook still running' "$T/agent.log" && ok "during: the agent waited for the running command ($(grep -m1 -o 'name=during hook still running since[^;]*' "$T/agent.log"))" ||
    fail "during: no 'still running' in the log"

# 2. several datasets queued, kill -9 while the first one's command runs
for d in many1 many2 many3; do mk $d; sl_submit agent "$T/src/$d" >/dev/null; done
for _ in $(seq 600); do
	for d in many1 many2 many3; do [ "$(state agent $d)" = hook_running ] && break 2; done
	sleep 0.05
done
sleep 1
sl_kill9 agent; sl_start agent
for d in many1 many2 many3; do check agent $d "three datasets, kill -9 during the first hook"; done

# 3. during, but restarted only after the command ended (probe: ran)
mk late
sl_submit agent "$T/src/late" >/dev/null
wait_state agent late hook_running 30 || fail "late never hook_running"
sleep 1
sl_kill9 agent
m=$(marker agent late)
for _ in $(seq 100); do [ -e "$m/status" ] && break; sleep 0.1; done
[ -e "$m/status" ] && ok "late: the remote command finished with no agent: marker $(basename "$m") has status $(cut -d' ' -f1 "$m/status")" ||
    fail "late: no status in $m"
sl_start agent
check agent late "kill -9 during, restarted after the command ended"

# 4. after it ended but before the agent recorded it: stop the agent,
# let the command finish (status in the marker), then kill -9
mk ended
sl_submit agent "$T/src/ended" >/dev/null
wait_state agent ended hook_running 30 || fail "ended never hook_running"
sleep 1
kill -STOP "${SL_PID[agent]}"
m=$(marker agent ended)
for _ in $(seq 100); do [ -e "$m/status" ] && break; sleep 0.1; done
sleep 0.5
[ -e "$m/status" ] && [ "$(state agent ended)" = hook_running ] &&
    ok "ended: the command ended (status in the marker), the journal still says hook_running" ||
    fail "ended: status $(ls "$m" 2>&1) state $(state agent ended)"
sl_kill9 agent; sl_start agent
check agent ended "kill -9 after the command ended, before the agent recorded it"
grep -q 'name=ended the fence says the hook ran' "$T/agent.log" && ok "ended: the probe found it ran, not re-run" ||
    fail "ended: no 'the fence says the hook ran' in the log"

# 5. before the command starts: the SSH handshake crawls through a
# proxy that lets 500 bytes/s through towards sshd, the kill lands before
# the exec request is sent; restarted at once, straight to sshd
pport=$(sl_port)
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$SSH_PORT" 500 > "$T/proxy.out" 2>&1 &
PROXY=$!
for _ in $(seq 50); do grep -q ready "$T/proxy.out" && break; sleep 0.1; done
sl_stop agent
agent_conf agent "$pport" "$CMD"
# the proxy's port needs its own known_hosts line (same host key)
{ cat "$KNOWN_HOSTS"; echo "[127.0.0.1]:$pport $(cut -d' ' -f1,2 "$SSH_HOST_PUB")"; } > "$T/proxy_known_hosts"
sed -i "s|^known_hosts = .*|known_hosts = $T/proxy_known_hosts|" "$T/agent.conf"
sl_start agent
mk before
sl_submit agent "$T/src/before" >/dev/null
wait_state agent before hook_running 30 || fail "before never hook_running"
sleep 1
sl_kill9 agent
sleep 1
id=$(dsid agent before)
grep -q 'name=before attempt=1 failed' "$T/agent.log" && fail "before: the first attempt failed: $(grep -m1 'name=before attempt=1 failed' "$T/agent.log")"
[ "$(runs "$id")" = 0 ] && [ ! -e "$(marker agent before)" ] &&
    ok "before: killed 1 s into the handshake: no marker, no invocation at the remote" ||
    fail "before: the command had started ($(runs "$id") lines)"
kill "$PROXY"; PROXY=
agent_conf agent "$SSH_PORT" "$CMD"
sl_start agent
check agent before "kill -9 before the command started"
grep -q 'name=before the fence says the interrupted hook never started' "$T/agent.log" && ok "before: the probe said never started, and it ran once" ||
    fail "before: no 'never started' in the log"

# 6. kill timings through the whole command, restarted at once
for t in 0.2 0.5 2 3.5 4.8; do
	d=t$t
	mk "$d"
	sl_submit agent "$T/src/$d" >/dev/null
	wait_state agent "$d" hook_running 30 || fail "$d never hook_running"
	sleep "$t"
	sl_kill9 agent; sl_start agent
	check agent "$d" "kill -9 $t s into the hook"
done

# 6b. a command that outlives [hook] timeout: the agent lets go of the
# connection and probes; the command is neither killed nor run again
sl_stop agent
agent_conf agent "$SSH_PORT" "$CMD"
sed -i 's/^timeout = .*/timeout = 2s/' "$T/agent.conf"
sl_start agent
mk slow
sl_submit agent "$T/src/slow" >/dev/null
check agent slow "command longer than timeout = 2s"
grep -q 'name=slow no answer from the fence' "$T/agent.log" &&
    ok "slow: after the timeout the agent probed instead of re-running" ||
    fail "slow: no probe after the timeout in the log"

# 7. kind exec: the same fence on the local host
sl_stop agent
sl_agent_conf local "$port"
cat >> "$T/local.conf" <<CONF
[hook]
kind = exec
command = echo {id} >> $LOG; sleep 5; echo job-{id}
state_dir = $T/local-state
retry_min = 0.3s
retry_max = 1s
CONF
[ "${FENCE_OFF:-0}" = 1 ] && sed -i "s|^state_dir = .*|state_dir = none\nquery = false|" "$T/local.conf"
sl_start local || fail "local agent"
for d in loc1 loc2; do
	mk "$d"
	sl_submit local "$T/src/$d" --name "$d" >/dev/null
	wait_state local "$d" hook_running 30 || fail "$d never hook_running"
	sleep 1.5
	sl_kill9 local; sl_start local
	check local "$d" "kind exec, kill -9 1.5 s into the hook"
done
# a graceful stop mid-hook no longer kills the local command
mk loc3
sl_submit local "$T/src/loc3" >/dev/null
wait_state local loc3 hook_running 30 || fail "loc3 never hook_running"
sleep 1
sl_stop local; sl_start local
check local loc3 "kind exec, agent stopped (SIGTERM) 1 s into the hook"
sl_stop local

# 8. a real sbatch: one job per dataset, counted by Slurm itself
{
	jobs_named() { scontrol show job -o 2>/dev/null | grep -c "JobName=sluice-$1 " || true; }
	agent_conf agent "$SSH_PORT" \
	    "echo {id} >> $LOG; sleep 3; sbatch --parsable --job-name=sluice-{id} --output=/dev/null --wrap true"
	sl_start agent
	for d in job1 job2; do
		mk "$d"
		sl_submit agent "$T/src/$d" >/dev/null
		wait_state agent "$d" hook_running 30 || fail "$d never hook_running"
		sleep 1
		sl_kill9 agent; sl_start agent
		id=$(dsid agent "$d")
		if sl_wait agent "$d" 60 --hook >/dev/null; then
			out=$("$SLUICE" -c "$T/agent.conf" show "$d" | sed -n 's/^  hook out: //p')
			n=$(jobs_named "$id")
			[ "$n" = 1 ] && [ "$(runs "$id")" = 1 ] && [[ "$out" =~ ^[0-9]+$ ]] &&
			    ok "sbatch $d: killed 1 s in, exactly 1 Slurm job (id $out in the journal)" ||
			    fail "sbatch $d: $n jobs, $(runs "$id") invocations, out [$out]"
		else
			fail "sbatch $d: $("$SLUICE" -c "$T/agent.conf" show "$d" | grep -E 'state|hook|error')"
		fi
	done
}
sl_done
