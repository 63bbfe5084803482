#!/usr/bin/env bash
# A dataset that failed at the sink keeps its partial copy and its name
# for an operator to look at; then it is released, by the operator
# (`sluice release` at the sink) or by [sink] partial_ttl:
#  1. A real agent's dataset fails at COMMIT (a file of its partial tree
#     truncated between the last ACK and the COMMIT, held by a proxy).
#     The agent's retry is refused ("failed at the sink earlier") and
#     the partial tree and the name stay.  `sluice release` at the sink
#     removes the partial tree, frees the name and forgets the dataset
#     (journal, log); the agent's `sluice retry` then sends it afresh and
#     it is published, byte-identical, once.
#  2. release refuses what it must: a dataset being received from a
#     connected agent (cancel it there), a published dataset, an unknown one,
#     an agent's config, no terminal without --yes; it takes an id and
#     --agent (a raw peer's dataset, its agent gone).
#  3. partial_ttl (3 s on a second sink): a dataset failed by a planted
#     symlink is removed and forgotten that long after it failed, and
#     its name is free for a new dataset.
. "$(dirname "$0")/lib.sh"
sl_setup
LP=$ROOT/tests/integration/limitpeer.py
port=$(sl_port); pport=$(sl_port); port2=$(sl_port)
S() { "$SLUICE" -c "$T/$1.conf" "${@:2}"; }
sl_sink_conf sink "$port" tls=off
sl_agent_conf agent "$pport" tls=off chunk_size=1M streams=2
sl_holdproxy "$pport" "$port" commit "$T/go" || { fail "proxy did not start"; sl_done; }
sl_start sink && sl_start agent || { fail start; sl_done; }

# ---- 1. failed at COMMIT, released, sent afresh -----------------------------
mkdir -p "$T/src/bad/sub"
head -c 3000000 /dev/urandom > "$T/src/bad/a.bin"
head -c 5000 /dev/urandom > "$T/src/bad/sub/b.txt"
sl_submit agent "$T/src/bad" >/dev/null || fail "submit bad"
id=$(S agent show bad | sed -n '1s/.*(\([0-9a-f]*\)).*/\1/p')
for i in $(seq 300); do grep -q "^held COMMIT dsid=$id" "$T/proxy.log" && break; sleep 0.05; done
part=$(find "$T/sink.root" -maxdepth 2 -type d -name .bad.partial | head -1)
if grep -q "^held COMMIT dsid=$id" "$T/proxy.log" && [ -n "$part" ] && [ -f "$part/a.bin" ]; then
	out=$(S sink release bad --yes 2>&1); rc=$?
	[ $rc = 1 ] && grep -q "agent agent is connected" <<<"$out" && [ -f "$part/a.bin" ] &&
	    ok "receiving from a connected agent: refused: $out" || fail "release while receiving (rc=$rc): $out"
	# made by their first chunk: the sink's own mode until published
	m=$(stat -c %a "$part/a.bin" "$part/sub/b.txt" | xargs)
	[ "$m" = "600 600" ] && ok "partial files made by their chunks, mode 600" || fail "partial file modes: $m"
	truncate -s 1000 "$part/a.bin"
	ok "COMMIT of $id held; $part/a.bin truncated at the sink"
else
	fail "no COMMIT held or no partial tree: $(cat "$T/proxy.log"); $(find "$T/sink.root")"
fi
touch "$T/go"
sl_wait agent bad 30 >/dev/null
err=$(S agent ls | grep -A1 bad | tr -s ' ')
grep -q failed <<<"$err" && grep -q 'size is 1000' <<<"$err" && ok "agent: bad failed: $(grep -o 'publish failed.*' <<<"$err" | cut -c1-80)" ||
    fail "agent: $(S agent ls)"
[ "$(sl_ls_table sink | awk '$2 == "bad" { print $3 }')" = failed ] && ok "sink journal: bad failed" || fail "sink: $(sl_ls_table sink)"
[ -d "$part" ] && ok "partial tree kept for a look" || fail "partial tree gone already"
# before the release: the agent's retry is refused for good
S agent retry bad >/dev/null || fail "retry bad"
for i in $(seq 100); do grep -q "dataset=$id.*failed at the sink earlier" "$T/agent.log" && break; sleep 0.1; done
grep -q "dataset=$id.*failed at the sink earlier" "$T/agent.log" && [ -d "$part" ] &&
    ok "retry before the release: refused (failed at the sink earlier), partial kept" ||
    fail "retry before release: $(grep "dataset=$id" "$T/agent.log" | tail -2)"
sl_wait agent bad 10 >/dev/null

out=$(S sink release bad --yes 2>&1); rc=$?
[ $rc = 0 ] && grep -q "released bad ($id)" <<<"$out" && ok "sluice release: $out" || fail "release (rc=$rc): $out"
[ ! -e "$part" ] && ok "partial tree removed" || fail "partial tree still there: $(ls -la "$part")"
[ -z "$(sl_ls_table sink | awk '$2 == "bad"')" ] && ok "sink journal: bad forgotten" || fail "sink journal: $(sl_ls_table sink)"
grep -q "dataset=$id .*released by the operator (was failed: publish failed\|dataset=$id .*released by the operator (was failed" "$T/sink.log" &&
    ok "sink log: $(grep "dataset=$id .*released by the operator" "$T/sink.log" | cut -c1-120)..." || fail "no log line for the release"

S agent retry bad >/dev/null || fail "retry bad after the release"
if sl_wait agent bad 60 >/dev/null; then
	ok "agent retry after the release: bad transferred"
else
	fail "bad after release: $(S agent show bad | tail -4)"
fi
probs=$(sl_sink_once sink "$T/src" bad 2>&1) && ok "bad published once, whole" || fail "sink: $probs"
sl_same "$T/src/bad" "$T/sink.root/bad" && ok "byte-identical" || fail "published bad differs"

# ---- 2. what release refuses, and --agent / an id ---------------------------
out=$(S sink release bad --yes 2>&1); rc=$?
[ $rc = 1 ] && grep -q "published" <<<"$out" && ok "published: refused: $out" || fail "published (rc=$rc): $out"
out=$(S sink release nosuch --yes 2>&1); rc=$?
[ $rc = 1 ] && grep -q "no such dataset" <<<"$out" && ok "unknown: refused: $out" || fail "unknown (rc=$rc): $out"
out=$(S agent release bad --yes 2>&1); rc=$?
[ $rc = 2 ] && grep -q "sink's command" <<<"$out" && ok "at an agent: $out" || fail "at the agent (rc=$rc): $out"
out=$(S sink release bad </dev/null 2>&1); rc=$?
[ $rc = 2 ] && grep -q -- "--yes" <<<"$out" && ok "no terminal, no --yes: $out" || fail "no --yes (rc=$rc): $out"
a=$(python3 "$LP" "127.0.0.1:$port" "$T/secret" open rawagent orphan 3)
[ "$a" = have ] && [ -d "$T/sink.root/.orphan.partial" ] && ok "raw peer opened orphan and left" ||
    fail "raw open: $a"
oid=$(sl_ls_table sink | awk '$2 == "orphan" { print $1 }')
out=$(S sink release orphan --agent someoneelse --yes 2>&1); rc=$?
[ $rc = 1 ] && [ -d "$T/sink.root/.orphan.partial" ] && ok "--agent of another: not found: $out" || fail "--agent other (rc=$rc): $out"
out=$(S sink release "$oid" --agent rawagent --yes 2>&1); rc=$?
[ $rc = 0 ] && [ ! -e "$T/sink.root/.orphan.partial" ] && ok "by id and --agent, its agent gone: $out" ||
    fail "release orphan (rc=$rc): $out"
a=$(python3 "$LP" "127.0.0.1:$port" "$T/secret" open rawagent2 orphan 2)
[ "$a" = have ] && ok "the name orphan is free: another agent's new dataset takes it" || fail "orphan again: $a"

# ---- 3. partial_ttl releases a failed dataset's copy ------------------------
sl_sink_conf sink2 "$port2" tls=off partial_ttl=3s
sl_start sink2 || { fail "start sink2"; sl_done; }
mkdir -p "$T/outside"; echo precious > "$T/outside/target"
out=$(python3 "$LP" "127.0.0.1:$port2" "$T/secret" symlink symagent sym "$T/sink2.root/.sym.partial" "$T/outside/target")
grep -q "^error .*code=15 .*symlink" <<<"$out" && ok "sym failed by a planted symlink: $(head -1 <<<"$out" | cut -c1-90)" ||
    fail "symlink: $out"
[ "$(sl_ls_table sink2 | awk '$2 == "sym" { print $3 }')" = failed ] && [ -d "$T/sink2.root/.sym.partial" ] &&
    ok "sym failed, partial kept" || fail "sym: $(sl_ls_table sink2)"
t0=$SECONDS
for i in $(seq 150); do grep -q "failed dataset's partial copy kept" "$T/sink2.log" && break; sleep 0.1; done
if grep -q "failed dataset's partial copy kept" "$T/sink2.log"; then
	ok "after ~$((SECONDS - t0 + 1)) s: $(grep -o "name=sym.*partial copy kept.*" "$T/sink2.log" | head -1 | cut -c1-120)"
else
	fail "sym's partial copy not released by partial_ttl"
fi
[ ! -e "$T/sink2.root/.sym.partial" ] && [ -z "$(sl_ls_table sink2 | awk '$2 == "sym"')" ] &&
    ok "partial tree removed, dataset forgotten" || fail "sym left: $(ls -a "$T/sink2.root"); $(sl_ls_table sink2)"
[ "$(cat "$T/outside/target")" = precious ] && ok "nothing outside touched" || fail "outside changed"
a=$(python3 "$LP" "127.0.0.1:$port2" "$T/secret" open otheragent sym 2)
[ "$a" = have ] && ok "name sym free for a new dataset" || fail "sym again: $a"
sl_stop agent; sl_stop sink; sl_stop sink2
sl_done
