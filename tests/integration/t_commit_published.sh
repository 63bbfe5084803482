#!/usr/bin/env bash
# The agent dies after the sink published its dataset but before it heard
# so (COMMITTED lost: a proxy swallows it, then kill -9 of the agent).
# The agent's journal still says committing.  On restart it OPENs the
# dataset, the sink answers HAVE "published", the agent asks where it
# went (COMMIT) and records it transferred:
#   - no DATA crosses the wire after the restart, and one COMMIT
#   - the sink holds the dataset once: one directory, no partial tree,
#     one journal record (published once in its history), the files and
#     the manifest intact (sluice verify at the sink)
#   - the hook runs exactly once (its output file has one line), also
#     after a second kill -9 and restart of the agent
#   - the agent's journal records where it was published
. "$(dirname "$0")/lib.sh"
sl_setup
port=$(sl_port); pport=$(sl_port)
while [ "$pport" = "$port" ]; do pport=$(sl_port); done
S() { "$SLUICE" -c "$T/$1.conf" "${@:2}"; }
sl_sink_conf sink "$port" tls=off
sl_agent_conf agent "$pport" tls=off chunk_size=1M streams=2
cat >> "$T/agent.conf" <<CONF
[hook]
kind = exec
command = echo {id} {dataset_path} >> $T/hook.out
retry_min = 0.1s
retry_max = 0.2s
state_dir = $T/hook-state
CONF
sl_holdproxy "$pport" "$port" || { fail "proxy did not start"; sl_done; }
sl_start sink && sl_start agent || { fail start; sl_done; }

# a few chunks, a nested file and an empty one (the sink makes that at
# COMMIT)
mkdir -p "$T/src/pub/sub/deeper"
head -c 3000000 /dev/urandom > "$T/src/pub/a.bin"
head -c 70000 /dev/urandom > "$T/src/pub/sub/deeper/b.bin"
: > "$T/src/pub/sub/empty"
if sl_held_commit agent "$T/src/pub"; then
	id=$HELD_ID
	ok "the sink's COMMITTED for $id held back, agent killed -9"
else
	fail "submit, or no COMMITTED seen for '$HELD_ID': $(cat "$T/proxy.log")"; sl_done
fi

# Durable state before the restart: published at the sink, committing at
# the agent, no hook yet.
pub=$(S sink ls | awk -v n=pub '$0 ~ n && /published/' | head -1)
[ -n "$pub" ] && ok "sink journal: published ($(echo $pub | cut -c1-60))" || fail "sink: $(S sink ls)"
ast=$(sl_ls_table agent | awk '$2 == "pub" { print $3 }')
[ "$ast" = committing ] && ok "agent journal: still $ast (it never heard COMMITTED)" ||
    fail "agent journal says '$ast', not committing: the scenario did not happen"
[ ! -e "$T/hook.out" ] && ok "no hook before the agent knows" || fail "hook ran already: $(cat "$T/hook.out")"
pdir=$(find "$T/sink.root" -maxdepth 2 -type d -name pub | head -1)
[ -n "$pdir" ] || { fail "no published directory at the sink: $(find "$T/sink.root" -maxdepth 2)"; sl_done; }
ino=$(stat -c %i "$pdir")

sl_start agent || { fail "restart agent"; sl_done; }
if sl_wait agent pub 60 --hook >/dev/null; then
	ok "after the restart: $(S agent ls | awk '$0 ~ /pub/' | head -1 | tr -s ' ' | cut -c1-70)"
else
	fail "not done after restart: $(S agent show pub | tail -5)"
fi

# What crossed the wire after the restart.
n() { grep -c "^after $1\$" "$T/proxy.log"; }
[ "$(n DATA)" = 0 ] && ok "no DATA sent again" || fail "$(n DATA) DATA frames sent again"
[ "$(n COMMIT)" = 1 ] && [ "$(n COMMITTED)" = 1 ] && [ "$(n OPEN)" -ge 1 ] &&
    [ "$(n 'HAVE PUBLISHED')" -ge 1 ] && [ "$(n 'HAVE RECEIVING')" = 0 ] &&
    ok "after the restart: OPEN x$(n OPEN), HAVE PUBLISHED x$(n 'HAVE PUBLISHED'), COMMIT x1, COMMITTED x1" ||
    fail "after the restart: $(grep '^after' "$T/proxy.log" | sort | uniq -c | tr '\n' ' ')"

# The sink holds it once.
probs=$(sl_sink_once sink "$T/src" pub 2>&1) && ok "sink holds pub once (directory, manifest, one journal record)" ||
    fail "sink: $probs"
[ "$(stat -c %i "$pdir")" = "$ino" ] && ok "published directory untouched (same inode)" || fail "published directory replaced"
sl_same "$T/src/pub" "$pdir" && ok "files byte-identical, the empty one included" || fail "files differ"
S sink verify pub >/dev/null 2>&1 && ok "sluice verify at the sink" || fail "verify: $(S sink verify pub 2>&1 | tail -3)"
np=$(S sink show pub | grep -c -- '-> published')
[ "$np" = 1 ] && ok "sink history: published once" || fail "sink history: $np publications: $(S sink show pub | tail -5)"
[ -z "$(find "$T/sink.root" -name '*.partial')" ] && ok "no partial tree left" ||
    fail "partial left: $(find "$T/sink.root" -name '*.partial')"

# The hook ran once, and the agent knows where the dataset went.
[ "$(wc -l < "$T/hook.out" 2>/dev/null)" = 1 ] && grep -q "^$id .*pub" "$T/hook.out" &&
    ok "hook ran once: $(cat "$T/hook.out")" || fail "hook runs: $(cat "$T/hook.out" 2>/dev/null)"
S agent show pub | grep -q "pub" && S agent show pub | grep -qi "published.*pub\|pub.*published" &&
    ok "agent journal: $(S agent show pub | grep -i published | head -1 | tr -s ' ')" ||
    fail "agent show: $(S agent show pub | head -12)"

# Once more: a kill -9 and restart of a done agent re-sends nothing and
# does not run the hook again.
before=$(wc -l < "$T/proxy.log")
sl_kill9 agent
sl_start agent || fail "second restart"
sleep 2
[ "$(wc -l < "$T/hook.out")" = 1 ] && ok "second restart: hook not run again" || fail "hook: $(cat "$T/hook.out")"
[ "$(tail -n +$((before + 1)) "$T/proxy.log" | grep -c 'after \(OPEN\|DATA\|COMMIT\)$')" = 0 ] &&
    ok "second restart: nothing sent for it" || fail "second restart sent: $(tail -n +$((before + 1)) "$T/proxy.log" | sort | uniq -c | tr '\n' ' ')"
sl_stop agent; sl_stop sink
sl_done
