#!/usr/bin/env bash
# The exec kind of completion hook (a local command, for sites where the
# sink host triggers the reduction): run once per published dataset with
# quoted variables; a failing command is retried, then hook_failed with
# its exit status and stderr; retry-hook runs it again.
. "$(dirname "$0")/lib.sh"
sl_setup
port=$(sl_port)
mkdir -p "$T/out"
sl_sink_conf sink "$port"
sl_agent_conf agent "$port"
cat >> "$T/agent.conf" <<CONF
[hook]
kind = exec
command = printf '%s|%s|%s|%s' {dataset} {files} {bytes} {meta.run} > $T/out/{id}; test ! -e $T/out/fail-{dataset} || {{ printf 'reduction refused %s\\n' {dataset} >&2; exit 3; }
retry_min = 0.1s
retry_max = 0.2s
attempts = 2
state_dir = $T/hook-state
CONF
sl_start sink && sl_start agent || { fail start; sl_done; }
mk() { mkdir -p "$T/src/$1"; head -c 100000 /dev/urandom > "$T/src/$1/x"; }
id_of() { "$SLUICE" -c "$T/agent.conf" show "$1" | sed -n '1s/.*(\([0-9a-f]*\)).*/\1/p'; }

mk ok1
sl_submit agent "$T/src/ok1" --meta 'run=r 1; $(id)' >/dev/null
if sl_wait agent ok1 30 --hook >/dev/null; then
	got=$(cat "$T/out/$(id_of ok1)" 2>/dev/null)
	[ "$got" = 'ok1|1|100000|r 1; $(id)' ] && ok "exec hook ran once with quoted variables: $got" || fail "hook output: [$got]"
else
	fail "ok1: $("$SLUICE" -c "$T/agent.conf" show ok1 | tail -3)"
fi

mk bad1
touch "$T/out/fail-bad1"
sl_submit agent "$T/src/bad1" --meta run=2 >/dev/null
sl_wait agent bad1 30 --hook >/dev/null
show=$("$SLUICE" -c "$T/agent.conf" show bad1)
grep -q 'state:   hook_failed' <<<"$show" && grep -q 'exit status 3' <<<"$show" &&
    grep -q 'reduction refused bad1' <<<"$show" && grep -q '2 attempts' <<<"$show" &&
    ok "failing hook: retried, then hook_failed with status 3 and stderr" || fail "bad1: $show"
"$SLUICE" -c "$T/agent.conf" status >/dev/null; [ $? = 1 ] && ok "status: degraded" || fail "status exit"
rm -f "$T/out/fail-bad1"
"$SLUICE" -c "$T/agent.conf" retry-hook bad1 >/dev/null && sl_wait agent bad1 30 --hook >/dev/null &&
    ok "retry-hook after the cause is fixed: done" || fail "retry-hook bad1"
"$SLUICE" -c "$T/agent.conf" retry-hook ok1 >/dev/null 2>&1; [ $? != 0 ] && ok "retry-hook refuses a dataset whose hook succeeded" || fail "retry-hook ok1 accepted"
sl_done
