#!/usr/bin/env bash
# The completion hook driven by a real agent: a dataset published at a
# real sink submits a real sbatch job over real SSH (private sshd and a
# single-node Slurm from scripts/testbed-up.sh), exactly once:
#   - the job runs and writes its output next to the dataset; the job id
#     is in the journal (sluice show)
#   - hostile dataset names and metadata do not inject
#   - without the fence (state_dir = none; t_hook_fence.sh tests the
#     fence): kill -9 of the agent while the hook runs does not submit
#     twice (the [hook] query resolves it); without a query the dataset
#     is hook_failed with the reason, and sluice retry-hook runs it
#   - a wrong host key retries, then fails visibly; an unreachable host
#     is waited for without counting attempts, and once it is back the
#     hook runs once
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "   FAIL needs root (sshd, test user, Slurm)"; exit 1; }
sl_setup
chmod 755 "$T"
TB=$T/tb
trap 'bash "$ROOT/scripts/testbed-down.sh" "$TB"; rm -f /tmp/pwned-$$*; sl_cleanup' EXIT
sl_testbed_up "$TB"
ok "testbed: sshd on 127.0.0.1:$SSH_PORT, Slurm up"

# The reduction: a script owned by the test user, writing next to the dataset.
cat > "$DATA_DIR/reduce.sh" <<'SH'
#!/bin/sh
# reduce.sh DATASET_PATH ID: what a beamline's reduction job would do
sleep "${REDUCE_SLEEP:-0}"
{ echo "reduced $2"; ls "$1" | wc -l; } > "$1.reduced.txt"
SH
chmod 755 "$DATA_DIR/reduce.sh"; chown "$SSH_USER" "$DATA_DIR/reduce.sh"

port=$(sl_port)
sl_sink_conf sink "$port"
sed -i "s|^root = .*|root = $DATA_DIR|" "$T/sink.conf"
CMD="sbatch --parsable --job-name=sluice-{id} --output=/dev/null --comment={meta.note} $DATA_DIR/reduce.sh {dataset_path} {id}"
QUERY="squeue -h -n sluice-{id} -o %i | grep . || test -e {dataset_path}.reduced.txt"
agent_conf() {	# agent_conf NAME [extra [hook] lines...]
	local n=$1; shift
	sl_agent_conf "$n" "$port"
	{
		printf '[hook]\nkind = ssh\nhost = 127.0.0.1\nport = %s\nuser = %s\nkey = %s\n' \
		    "$SSH_PORT" "$SSH_USER" "$SSH_KEY"
		printf 'known_hosts = %s\nremote_root = %s\nconnect_timeout = 2s\ntimeout = 20s\n' \
		    "$KNOWN_HOSTS" "$DATA_DIR"
		printf 'retry_min = 0.2s\nretry_max = 1s\nattempts = 3\n'
		for l in "$@"; do echo "$l"; done
	} >> "$T/$n.conf"
}
jobs_named() { scontrol show job -o 2>/dev/null | grep -c "JobName=sluice-$1 " || true; }
dsid() { "$SLUICE" -c "$T/$1.conf" ls --json | python3 -c '
import json,sys
for d in json.load(sys.stdin):
    if d["name"] == sys.argv[1]: print(d["id"])' "$2"; }
mk() { mkdir -p "$T/src/$1"; for i in 1 2 3; do head -c 200000 /dev/urandom > "$T/src/$1/f$i"; done; }

sl_start sink || { fail "sink"; sl_done; }
agent_conf agent "command = $CMD" "query = $QUERY"
sl_start agent || { fail "agent"; sl_done; }

# 1. a transfer submits a real job, exactly once, output next to the dataset
mk scan1
sl_submit agent "$T/src/scan1" --meta note=plain >/dev/null
if sl_wait agent scan1 60 --hook >/dev/null; then
	id=$(dsid agent scan1)
	job=$("$SLUICE" -c "$T/agent.conf" show scan1 | sed -n 's/^  hook out: //p')
	for _ in $(seq 100); do [ -s "$DATA_DIR/scan1.reduced.txt" ] && break; sleep 0.1; done
	if [[ "$job" =~ ^[0-9]+$ ]] && grep -q "reduced $id" "$DATA_DIR/scan1.reduced.txt" 2>/dev/null; then
		ok "scan1: job $job (id in the journal) ran and wrote scan1.reduced.txt next to the dataset"
	else
		fail "scan1: job=[$job] output: $(cat "$DATA_DIR/scan1.reduced.txt" 2>&1)"
	fi
	[ "$(jobs_named "$id")" = 1 ] && ok "scan1: exactly one job named sluice-$id" || fail "scan1: $(jobs_named "$id") jobs"
else
	fail "scan1 hook: $("$SLUICE" -c "$T/agent.conf" show scan1 | tail -5)"
fi

# 2. hostile dataset name and metadata (a name cannot hold '/', so the
# payloads cd to the remote user's home and touch pwned-* there)
uhome=$(getent passwd "$SSH_USER" | cut -d: -f6)
rm -f "$uhome"/pwned-$$*
hn="x'; cd; touch pwned-$$; echo '\$(cd; touch pwned-$$-b)\`cd; touch pwned-$$-c\`"
mk hostile
sl_submit agent "$T/src/hostile" --name "$hn" --meta "note=\$(touch /tmp/pwned-$$-m)\`touch /tmp/pwned-$$-m\`" >/dev/null ||
    fail "submit hostile"
if sl_wait agent "$hn" 60 --hook >/dev/null && [ -z "$(ls "$uhome"/pwned-$$* 2>/dev/null)" ] &&
    [ ! -e /tmp/pwned-$$-m ]; then
	for _ in $(seq 100); do [ -s "$DATA_DIR/$hn.reduced.txt" ] && break; sleep 0.1; done
	[ -s "$DATA_DIR/$hn.reduced.txt" ] && ok "hostile name and metadata: job ran on the literal path, nothing injected" ||
	    fail "hostile: no output at the literal path"
else
	fail "hostile: $(ls /tmp/pwned-$$* "$uhome"/pwned-$$* 2>/dev/null) $("$SLUICE" -c "$T/agent.conf" show "$hn" | tail -3)"
fi

# 3. kill -9 the agent while the hook runs (the remote command sleeps 2 s first)
sl_stop agent
agent_conf agent "command = sleep 2; $CMD" "query = $QUERY" "state_dir = none"
sl_start agent
mk crash1
sl_submit agent "$T/src/crash1" --meta note=crash >/dev/null
for _ in $(seq 200); do
	st=$(sl_ls_field agent crash1 state | tr -d '"'); [ "$st" = hook_running ] && break; sleep 0.05
done
sl_kill9 agent
ok "kill -9 agent while crash1 is $st"
sleep 3		# whatever the remote side does with the dropped session
sl_start agent
if sl_wait agent crash1 60 --hook >/dev/null; then
	id=$(dsid agent crash1)
	for _ in $(seq 100); do [ -s "$DATA_DIR/crash1.reduced.txt" ] && break; sleep 0.1; done
	n=$(jobs_named "$id")
	[ "$n" = 1 ] && ok "crash1: after the restart the query resolved it: exactly 1 job ($(grep -o 'query says[^"]*' "$T/agent.log" | tail -1))" ||
	    fail "crash1: $n jobs named sluice-$id"
else
	fail "crash1: $("$SLUICE" -c "$T/agent.conf" show crash1 | tail -4)"
fi

# 3a. the crash after sbatch returned but before the agent recorded it
# (the command sleeps after submitting): the query sees the job, no second one
sl_stop agent
agent_conf agent "command = $CMD; sleep 3" "query = $QUERY" "state_dir = none"
sl_start agent
mk crash1b
sl_submit agent "$T/src/crash1b" --meta note=crash >/dev/null
for _ in $(seq 200); do
	st=$(sl_ls_field agent crash1b state | tr -d '"'); [ "$st" = hook_running ] && break; sleep 0.05
done
sleep 1.5	# sbatch has returned; the command is in its sleep
sl_kill9 agent; sl_start agent
if sl_wait agent crash1b 60 --hook >/dev/null; then
	id=$(dsid agent crash1b)
	n=$(jobs_named "$id")
	[ "$n" = 1 ] && grep -q 'confirms the interrupted hook ran' "$T/agent.log" &&
	    ok "crash1b: the query found the job already submitted: done, still exactly 1 job" ||
	    fail "crash1b: $n jobs named sluice-$id"
else
	fail "crash1b: $("$SLUICE" -c "$T/agent.conf" show crash1b | tail -4)"
fi

# 3b. the same crash with no query configured: hook_failed, never resubmitted blindly
sl_stop agent
agent_conf agent "command = sleep 2; $CMD" "state_dir = none"
sl_start agent
mk crash2
sl_submit agent "$T/src/crash2" --meta note=crash2 >/dev/null
for _ in $(seq 200); do
	st=$(sl_ls_field agent crash2 state | tr -d '"'); [ "$st" = hook_running ] && break; sleep 0.05
done
sl_kill9 agent; sleep 3; sl_start agent
sleep 1
st=$(sl_ls_field agent crash2 state | tr -d '"')
[ "$st" = hook_failed ] && "$SLUICE" -c "$T/agent.conf" show crash2 | grep -q 'outcome is unknown' &&
    ok "crash2 without a query: hook_failed, outcome unknown, not resubmitted" || fail "crash2 is $st"
"$SLUICE" -c "$T/agent.conf" status >/dev/null; [ $? = 1 ] && ok "status degraded (exit 1) with a failed hook" || fail "status exit"
"$SLUICE" -c "$T/agent.conf" retry-hook crash2 >/dev/null && sl_wait agent crash2 60 --hook >/dev/null &&
    ok "sluice retry-hook crash2: done" || fail "retry-hook crash2"

# 4. wrong host key and unreachable host: retried, then hook_failed with the reason
ssh-keygen -q -t ed25519 -N '' -f "$T/other_key"
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$T/other_key.pub")" > "$T/bad_known_hosts"
sl_stop agent
agent_conf agent "command = $CMD"
sed -i "s|^known_hosts = .*|known_hosts = $T/bad_known_hosts|" "$T/agent.conf"
sl_start agent
mk badkey
sl_submit agent "$T/src/badkey" --meta note=x >/dev/null
sl_wait agent badkey 60 --hook >/dev/null
show=$("$SLUICE" -c "$T/agent.conf" show badkey)
grep -q 'state:   hook_failed' <<<"$show" && grep -q 'CHANGED' <<<"$show" && grep -q '3 attempts' <<<"$show" &&
    ok "changed host key: refused 3 times, hook_failed: $(grep -m1 -o 'host key[^(]*CHANGED' <<<"$show")" ||
    fail "badkey: $show"
sl_stop agent
agent_conf agent "command = $CMD"
gate=$(sl_port)	# the host is reached on this port (nothing listens yet)
echo "[127.0.0.1]:$gate $(cut -d' ' -f1,2 "$SSH_HOST_PUB")" > "$T/gate_known_hosts"
sed -i "s|^port = .*|port = $gate|; s|^known_hosts = .*|known_hosts = $T/gate_known_hosts|" "$T/agent.conf"
sl_start agent
mk unreach
sl_submit agent "$T/src/unreach" --meta note=x >/dev/null
# nothing listens on the hook's port: more tries than attempts (3), none counted
for _ in $(seq 300); do
	[ "$(grep -c 'name=unreach.*hook host unreachable' "$T/agent.log")" -ge 5 ] && break
	sleep 0.1
done
show=$("$SLUICE" -c "$T/agent.conf" show unreach)
n=$(grep -c 'name=unreach.*hook host unreachable' "$T/agent.log")
grep -q 'state:   hook_pending' <<<"$show" && [ "$n" -ge 5 ] &&
    ok "unreachable hook host: $n tries, still hook_pending, no attempt counted ($(grep -m1 -o 'hook host unreachable: [^(]*' <<<"$show" | cut -c1-70))" ||
    fail "unreach after $n tries: $show"
id=$(dsid agent unreach)
[ "$(jobs_named "$id")" = 0 ] && ok "no job submitted while the host is away" || fail "a job while unreachable"
# the host comes back (a plain TCP relay to the real sshd on that port)
python3 "$ROOT/tests/integration/slowproxy.py" "$gate" "$SSH_PORT" 1000000000 > "$T/gate.out" 2>&1 &
gatepid=$!
sl_wait agent unreach 60 --hook >/dev/null
show=$("$SLUICE" -c "$T/agent.conf" show unreach)
for _ in $(seq 100); do [ -e "$DATA_DIR/unreach.reduced.txt" ] && break; sleep 0.2; done
grep -q 'state:   done' <<<"$show" && grep -q 'name=unreach state=hook_running attempt=1' "$T/agent.log" &&
    ! grep -q 'name=unreach state=hook_running attempt=2' "$T/agent.log" &&
    [ "$(jobs_named "$id")" = 1 ] && [ -e "$DATA_DIR/unreach.reduced.txt" ] &&
    ok "host back: the hook ran once, as attempt 1, and its job's output is there" ||
    fail "after the host came back: jobs=$(jobs_named "$id") $show"
kill "$gatepid" 2>/dev/null; wait "$gatepid" 2>/dev/null
grep -q 'name=unreach.*retry in' "$T/agent.log" && ok "retries logged: $(grep -m1 'name=unreach.*retry in' "$T/agent.log" | cut -c1-120)" || fail "no retry log"
sl_done
