#!/usr/bin/env bash
# Hooks run concurrently ([hook] concurrency), each exactly once:
#   - one dataset's hook hangs (its command sleeps, as a remote whose
#     connect hangs would hold its runner thread until the timeout): the
#     hooks of the datasets published after it run and finish meanwhile
#   - kill -9 of the agent while several hooks run (fenced, kind exec):
#     after the restart each is probed at the fence, none runs twice, the
#     one still running is waited for and recorded done when it ends
# Judged by what the commands wrote (one line per start in a log file) and
# by the journal, never by counters.
. "$(dirname "$0")/lib.sh"
sl_setup
port=$(sl_port)
mkdir -p "$T/out"
sl_sink_conf sink "$port"
hook_conf() {	# hook_conf CONCURRENCY
	sl_agent_conf agent "$port"
	cat >> "$T/agent.conf" <<CONF
[hook]
kind = exec
command = echo {dataset} >> $T/out/runs; case {dataset} in hang*) sleep 12;; slow*) sleep 3;; esac; echo done > $T/out/{dataset}
timeout = 60s
retry_min = 0.2s
retry_max = 1s
concurrency = $1
state_dir = $T/hook-state
CONF
}
hook_conf 3
sl_start sink && sl_start agent || { fail start; sl_done; }
mk() { mkdir -p "$T/src/$1"; head -c 50000 /dev/urandom > "$T/src/$1/x"; }
state() { sl_ls_field agent "$1" state | tr -d '"'; }
runs() { grep -cx "$1" "$T/out/runs" 2>/dev/null || echo 0; }

# 1. one hook hangs: the others run beside it
mk hang1
sl_submit agent "$T/src/hang1" >/dev/null
for _ in $(seq 200); do [ "$(state hang1)" = hook_running ] && break; sleep 0.05; done
t0=$(date +%s.%N)
for n in ok1 ok2 ok3 ok4; do mk $n; sl_submit agent "$T/src/$n" >/dev/null; done
all=1
for n in ok1 ok2 ok3 ok4; do sl_wait agent $n 30 --hook >/dev/null || all=0; done
dt=$(echo "$(date +%s.%N) - $t0" | bc)
st=$(state hang1)
if [ $all = 1 ] && [ "$st" = hook_running ] && [ ! -e "$T/out/hang1" ]; then
	ok "4 hooks done in ${dt}s while hang1's hook still runs ($st)"
else
	fail "others behind the hanging hook: all=$all hang1=$st after ${dt}s"
fi
sl_wait agent hang1 40 --hook >/dev/null && [ -e "$T/out/hang1" ] &&
    ok "hang1's hook finished in its own time: done" || fail "hang1: $(state hang1)"

# 2. kill -9 with several hooks running: each resolved at the fence, once
for n in slow1 slow2 hang2; do mk $n; sl_submit agent "$T/src/$n" >/dev/null; done
for _ in $(seq 300); do
	[ "$(state slow1)" = hook_running ] && [ "$(state slow2)" = hook_running ] &&
	    [ "$(state hang2)" = hook_running ] && break
	sleep 0.05
done
running="$(state slow1) $(state slow2) $(state hang2)"
sl_kill9 agent
[ "$running" = "hook_running hook_running hook_running" ] &&
    ok "kill -9 agent with 3 hooks running at once" || fail "not all running at the kill: $running"
sl_start agent || fail "restart"
for n in slow1 slow2 hang2; do
	sl_wait agent $n 60 --hook >/dev/null || fail "$n after restart: $(state $n)"
done
bad=""
for n in hang1 ok1 ok2 ok3 ok4 slow1 slow2 hang2; do
	[ "$(runs $n)" = 1 ] || bad="$bad $n:$(runs $n)"
	[ -e "$T/out/$n" ] || bad="$bad $n:no-output"
done
[ -z "$bad" ] && ok "every hook ran exactly once (8 datasets, a kill -9 among them)" ||
    fail "runs per dataset:$bad"
grep -q 'the fence says the hook ran' "$T/agent.log" &&
    ok "after the restart the fence answered for the interrupted runs" ||
    fail "no fence answer in the log"
sl_done
