#!/usr/bin/env bash
# status and watch as an on-call person reads them (issue 21), against
# real processes: the header first and no dataset row twice, nothing raw
# from the daemon; planned states (pause, a maintenance window) are exit
# 0 with the state named; a hook_failed dataset is degraded and the hint
# is retry-hook; the text's counts are the JSON's; a dataset's `updated`
# moves while its chunks do; the rate's window is what the daemon has
# seen; a SIGSTOPped daemon is "not responding" (its pid, exit 4), apart
# from "not running" (exit 3); show after a hook interrupted by kill -9;
# ls --state checks the state; verify on an empty dataset; the JSON's
# keys are exactly docs/status-json.md's; the sample configs list every
# key of the config table.
. "$(dirname "$0")/lib.sh"
sl_setup

S() { local n=$1; shift; "$SLUICE" -c "$T/$n.conf" "$@"; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# ---- the sample configs list every key of config_keys.c ----------------------
good=1
for role in agent sink; do
	f="$ROOT/etc/sluice-$role.conf"
	for k in $(sed -n 's/^\t{ "\([a-z]*\)", "\([a-z_]*\)",.*/\1.\2/p' "$ROOT/agent/base/config_keys.c"); do
		sect=${k%%.*}; key=${k#*.}
		case "$role.$sect" in agent.sink|sink.agent|sink.ingest|sink.hook|sink.job) continue;; esac
		# the key, set or commented out, inside its [section]
		awk -v s="$sect" -v k="$key" '
		    /^#?\[/ { cur = $0; gsub(/[#\[\]]/, "", cur) }
		    cur == s && $0 ~ "^#?" k " = " { found = 1 }
		    END { exit !found }' "$f" || { good=0; echo "   $f lacks [$sect] $key"; }
	done
	# and nothing else: every "key =" line is a key of the table
	for k in $(awk '/^#?\[/ { cur = $0; gsub(/[#\[\]]/, "", cur) }
	    /^#?[a-z_]+ = / { k = $1; sub(/^#/, "", k); print cur "." k }' "$f"); do
		grep -q "^	{ \"${k%%.*}\", \"${k#*.}\"," "$ROOT/agent/base/config_keys.c" ||
		    { good=0; echo "   $f lists $k, not a key of config_keys.c"; }
	done
	out=$("$SLUICED" -n -c "$f" 2>&1 | grep -v "No such file or directory")
	[ -z "$out" ] || { good=0; echo "   sluiced -n $f: $out"; }
done
[ $good = 1 ] && ok "etc/sluice-{agent,sink}.conf list every key of config_keys.c, in its section, and parse" ||
    fail "sample configs vs config_keys.c"

# ---- a sink, a slow proxy, an agent with an exec hook and a spool -----------------
sport=$(sl_port); pport=$(sl_port)
mkdir -p "$T/spool" "$T/mark"
sl_sink_conf sink "$sport" tls=on
sl_agent_conf agent "$pport" tls=on chunk_size=256K streams=2
write_agent_conf() {
	sl_agent_conf agent "$pport" tls=on chunk_size=256K streams=2 "$@"
	cat >> "$T/agent.conf" <<CONF
[ingest]
spool = $T/spool
[hook]
kind = exec
command = test ! -e $T/mark/slow-{dataset} || sleep 20; test ! -e $T/mark/fail-{dataset} || {{ echo reduction refused {dataset} >&2; exit 3; }
attempts = 1
state_dir = none
CONF
}
write_agent_conf
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$sport" $((3 * 1024 * 1024)) > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail start; sl_done; }

mk() { mkdir -p "$T/src/$1"; head -c "$2" /dev/urandom > "$T/src/$1/data.bin"; }
mk small 200000
sl_submit agent "$T/src/small" >/dev/null && sl_wait agent small 60 --hook >/dev/null || fail "small"
mk big $((48 * 1024 * 1024))
sl_submit agent "$T/src/big" >/dev/null
for i in $(seq 100); do
	b=$(sl_ls_field agent big bytes_done); [ -n "$b" ] && [ "$b" -gt 0 ] && break; sleep 0.1
done

# updated moves while chunks move: sampled (without python: fast) while
# big is transferring
vals=
for i in $(seq 40); do
	st=$(sl_ls_field agent big state | tr -d '"')
	[ "$st" = transferring ] || break
	u=$(sl_ls_field agent big updated); c=$(sl_ls_field agent big created)
	vals=$(printf '%s\n%s' "$vals" "$(awk -v u="$u" -v c="$c" 'BEGIN { printf "%.3f", u - c }')" | grep . | uniq)
	[ "$(echo "$vals" | grep -c .)" -ge 3 ] && break
	sleep 0.2
done
n=$(echo "$vals" | grep -c .)
if [ "$n" -ge 2 ] && [ "$(echo "$vals" | sort -n)" = "$vals" ]; then
	ok "big's updated moves with its chunks: $(echo $vals) s after created"
else
	fail "updated while transferring: [$(echo $vals)] (state $st)"
fi
# ---- flowing: layout ----------------------------------------------------------------
out=$(S agent status); rc=$?
first=$(echo "$out" | head -1)
nbig=$(echo "$out" | grep -c "big")
if [ $rc = 0 ] && [ "$first" = "sluice agent agent: healthy" ] && [ "$nbig" = 1 ] &&
    ! echo "$out" | grep -Eq '^[0-9a-f]{16} ' && ! echo "$out" | grep -Eq 'dest=|down_since=|paused_until=|current=[01]|role=agent'; then
	ok "status: header first, big once (in flight), no ls rows, no raw daemon fields"
else
	fail "status layout (rc=$rc, big x$nbig): $out"
fi
# the rate's window is the daemon's uptime while under 5 minutes
echo "$out" | grep -Eq '^rate: .* over the last [0-9]+s \(since the daemon started\)$' &&
    ok "rate: the average's window is the uptime, said so" || fail "rate line: $(echo "$out" | grep ^rate)"
S agent status --json | jget 'd["rate"]["window"] < 300 and d["rate"]["window"] <= d["time"] - d["daemon_started"] + 2' | grep -q True &&
    ok "json rate.window within the daemon's uptime" || fail "rate.window: $(S agent status --json | grep -A4 '"rate"')"
# watch on a terminal: the daemon for people, no raw reply
if command -v script >/dev/null; then
	COLUMNS=100 script -q -c "stty cols 100 rows 30; $SLUICE -c $T/agent.conf watch --interval 0.3 --count 2" /dev/null > "$T/watch.tty" </dev/null 2>&1
	scr=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$T/watch.tty" | tr -d '\r')
	if echo "$scr" | grep -q "^daemon up, pid ${SL_PID[agent]}" && echo "$scr" | grep -q "^link: up to 127.0.0.1:$pport since" &&
	    ! echo "$scr" | grep -Eq 'role=agent|rate_5s=|since=[0-9]'; then
		ok "watch: daemon and link in words, no raw reply or epoch"
	else
		fail "watch screen: $scr"
	fi
	# a narrow terminal: the link line wraps instead of being cut off
	script -q -c "stty cols 40 rows 30; $SLUICE -c $T/agent.conf watch --interval 0.3 --count 1" /dev/null > "$T/watch40.tty" </dev/null 2>&1
	scr=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$T/watch40.tty" | tr -d '\r')
	long=$(echo "$scr" | sed -n '/^daemon /,/^$/p' | awk 'length > 40' | head -2)
	joined=$(echo "$scr" | sed -n '/^link: /,/^$/p' | sed '/^lanes /,$d' | tr -d '\n')
	if [ -z "$long" ] && echo "$joined" | grep -q "^link: up to 127.0.0.1:$pport since [-0-9]* [0-9:]* ([0-9]*[smh])$"; then
		ok "watch at 40 columns: the link line wraps, whole"
	else
		fail "watch at 40 columns: long lines [$long], link [$joined]"
	fi
fi
sl_wait agent big 120 --hook >/dev/null || fail "big not done"

# ---- pause: planned, exit 0 ---------------------------------------------------------
S agent pause >/dev/null
for i in $(seq 50); do S agent status --json 2>/dev/null | grep -q '"health": "paused"' && break; sleep 0.1; done
out=$(S agent status); rc=$?
json=$(S agent status --json); jrc=$?
if [ $rc = 0 ] && [ $jrc = 0 ] && echo "$out" | head -1 | grep -q "^sluice agent agent: PAUSED" &&
    echo "$out" | grep -q "^link: *waiting" && echo "$json" | jget 'd["health"] == "paused" and d["link"]["state"] == "waiting" and d["link"]["destinations"][0]["state"] == "paused"' | grep -q True; then
	ok "paused: exit 0, PAUSED, link waiting (text and json)"
else
	fail "paused (rc=$rc/$jrc): $out"
fi
echo "$json" > "$T/json.paused"
S agent resume >/dev/null
for i in $(seq 50); do S agent status >/dev/null 2>&1 && S agent status | head -1 | grep -q healthy && break; sleep 0.1; done
S agent status | head -1 | grep -q "^sluice agent agent: healthy" && ok "resume: healthy again" || fail "resume: $(S agent status)"
# one destination paused by name (here the only one): paused too, not maintenance
S agent pause "127.0.0.1:$pport" >/dev/null
for i in $(seq 50); do S agent status --json 2>/dev/null | grep -q '"health": "paused"' && break; sleep 0.1; done
out=$(S agent status); rc=$?
[ $rc = 0 ] && echo "$out" | head -1 | grep -q "^sluice agent agent: PAUSED" && ok "pause DEST: exit 0, PAUSED" ||
    fail "pause DEST (rc=$rc): $out"
S agent resume "127.0.0.1:$pport" >/dev/null
for i in $(seq 50); do S agent status | head -1 | grep -q healthy && break; sleep 0.1; done

# ---- a maintenance window: planned, exit 0 ------------------------------------------
sl_stop agent
now=$(date +%s)
write_agent_conf "maintenance=127.0.0.1:$pport $((now - 60)) $((now + 3600))"
sl_start agent || fail "start agent (maintenance)"
for i in $(seq 50); do S agent status --json 2>/dev/null | grep -q '"health": "maintenance"' && break; sleep 0.1; done
out=$(S agent status); rc=$?
json=$(S agent status --json)
if [ $rc = 0 ] && echo "$out" | head -1 | grep -q "^sluice agent agent: MAINTENANCE" &&
    echo "$json" | jget 'd["health"] == "maintenance" and d["link"]["destinations"][0]["maintenance_end"] > d["time"]' | grep -q True; then
	ok "maintenance window: exit 0, MAINTENANCE, window end in json"
else
	fail "maintenance (rc=$rc): $out"
fi
sl_stop agent
write_agent_conf
sl_start agent || fail "start agent again"

# ---- a failed hook: degraded, retry-hook, counts agree ---------------------------------
mk bad 100000
touch "$T/mark/fail-bad"
sl_submit agent "$T/src/bad" >/dev/null
sl_wait agent bad 60 --hook >/dev/null
out=$(S agent status); rc=$?
json=$(S agent status --json); jrc=$?
if [ $rc = 1 ] && [ $jrc = 1 ] && echo "$out" | head -1 | grep -q "^sluice agent agent: DEGRADED (1 hook_failed)" &&
    echo "$out" | grep -q "retry-hook DATASET" && ! echo "$out" | grep -q "sluice retry DATASET" &&
    echo "$out" | grep -q "bad .*hook_failed .*reduction refused bad"; then
	ok "hook_failed: exit 1, DEGRADED (1 hook_failed), the hook's error, hint is retry-hook"
else
	fail "hook_failed (rc=$rc): $out"
fi
# every "N name" of the datasets: and hooks: lines is counts[name] in the JSON
if python3 - "$out" "$json" <<'PY'
import json, re, sys
text, d = sys.argv[1], json.loads(sys.argv[2])
seen = {}
for line in text.splitlines():
    if line.startswith(("datasets:", "hooks:", "jobs:")):
        for n, name in re.findall(r"(\d+) ([a-z_]+)", line):
            seen[name] = int(n)
# the jobs: line (route job) is left out while all its states are 0
job = {"job_submitting", "job_submitted", "pulling", "pulled", "reducing"}
unseen = {k: v for k, v in d["counts"].items() if k not in seen}
assert set(unseen) <= job and not any(unseen.values()), (seen, d["counts"])
assert all(d["counts"][k] == v for k, v in seen.items()), (seen, d["counts"])
assert d["failed"] == d["counts"]["failed"] + d["counts"]["hook_failed"] == 1
assert d["recent_failures"][0]["state"] == "hook_failed"
PY
then ok "text counts = json counts (every state, by the same names); failed = failed + hook_failed"
else fail "counts differ: $out"; fi
echo "$json" > "$T/json.degraded"
rm "$T/mark/fail-bad"
S agent retry-hook bad >/dev/null && sl_wait agent bad 60 --hook >/dev/null && S agent status >/dev/null &&
    ok "retry-hook: done, healthy" || fail "retry-hook: $(S agent status)"

# ---- ls --state -------------------------------------------------------------------------
out=$(S agent ls --state bogus 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "no such state" && echo "$out" | grep -q "hook_failed" &&
    ok "ls --state bogus: exit 2, lists the valid states" || fail "ls --state bogus (rc=$rc): $out"
out=$(S agent ls --state done); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q " bad " && ! echo "$out" | grep -q " queued " &&
    ok "ls --state done lists bad" || fail "ls --state done (rc=$rc): $out"

# ---- verify an empty dataset ---------------------------------------------------------------
mkdir -p "$T/src/empty"
if sl_submit agent "$T/src/empty" >/dev/null 2>&1 && sl_wait agent empty 60 --hook >/dev/null; then
	out=$(S sink verify empty); rc=$?
	[ $rc = 0 ] && echo "$out" | grep -q "0 files" && ! echo "$out" | grep -qi "sha256\|xxh3" &&
	    ok "verify an empty dataset names no digest: $out" || fail "verify empty (rc=$rc): $out"
else
	fail "empty dataset: $(S agent show empty 2>&1 | tail -3)"
fi

# ---- the sink, and the JSON of every shape for the doc check --------------------------------
S sink status --json > "$T/json.sink"
S sink ls --json > "$T/json.ls-sink"
S sink status > "$T/sink.txt"; rc=$?
[ $rc = 0 ] && head -1 "$T/sink.txt" | grep -q "^sluice sink sink: healthy" && grep -q "^agent: *agent: " "$T/sink.txt" &&
    ok "sink status: header first, agents in words" || fail "sink status (rc=$rc): $(cat "$T/sink.txt")"

# ---- a hung daemon (SIGSTOP) is not responding, apart from not running ----------------------
apid=${SL_PID[agent]}
kill -STOP "$apid"
out=$(S agent status); rc=$?
json=$(S agent status --json); jrc=$?
kill -CONT "$apid"
if [ $rc = 4 ] && [ $jrc = 4 ] && echo "$out" | head -1 | grep -q "NOT RESPONDING" && echo "$out" | grep -q "pid $apid" &&
    echo "$json" | jget "d['daemon'] == 'not_responding' and d['health'] == 'not_responding' and d['daemon_pid'] == $apid and d['counts']['done'] >= 2" | grep -q True; then
	ok "SIGSTOPped agent: exit 4, NOT RESPONDING with pid $apid, journal still read"
else
	fail "stopped (rc=$rc/$jrc): $out"
fi
echo "$json" > "$T/json.hung"

# ---- show after a hook interrupted by kill -9 -------------------------------------------------
mk slow 100000
touch "$T/mark/slow-slow"
sl_submit agent "$T/src/slow" >/dev/null
for _ in $(seq 300); do [ "$(sl_ls_field agent slow state | tr -d '"')" = hook_running ] && break; sleep 0.1; done
sl_kill9 agent
out=$(S agent show slow); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "hook: *interrupted: started .*the agent stopped before it finished" && ! echo "$out" | grep -q -- "status -1"; then
	ok "show after kill -9 during the hook: $(echo "$out" | grep 'hook:' | head -1 | sed 's/^ *//')"
else
	fail "show interrupted (rc=$rc): $out"
fi
out=$(S agent status); rc=$?
json=$(S agent status --json)
[ $rc = 3 ] && echo "$out" | head -1 | grep -q "DOWN (daemon not running)" && echo "$out" | grep -q "^daemon: *NOT RUNNING" &&
    echo "$json" | jget 'd["daemon"] == "down" and d["daemon_pid"] is None and d["link"] is None' | grep -q True &&
    ok "killed agent: exit 3, not running" || fail "not running (rc=$rc): $out"
echo "$json" > "$T/json.down"
sl_stop sink
S sink status --json > "$T/json.sinkdown"

# ---- docs/status-json.md names exactly the keys status --json emits -------------------------------
if python3 - "$ROOT/docs/status-json.md" "$T"/json.* <<'PY'
import json, re, sys
doc = open(sys.argv[1]).read()
status_tab = doc.split("## The status object")[1].split("## A dataset object")[0]
ds_tab = doc.split("## A dataset object")[1].split("Example")[0]
def names(tab):
    out = set()
    for line in tab.splitlines():
        if line.startswith("| `"):
            out |= set(re.findall(r"`([a-z_\[\].]+)`", line.split("|")[1]))
    return out
doc_status, doc_ds = names(status_tab), names(ds_tab)
got_status, got_ds = set(), set()
def walk(o, p):
    if isinstance(o, dict):
        for k, v in o.items():
            q = p + "." + k if p else k
            got_status.add(q)
            if q in ("active", "datasets"):
                for x in v:
                    got_ds.update(x.keys())
            else:
                walk(v, q)
    elif isinstance(o, list):
        for x in o:
            walk(x, p + "[]")
for f in sys.argv[2:]:
    o = json.load(open(f))
    if isinstance(o, list):		# sluice ls --json: dataset objects
        for x in o:
            got_ds.update(x.keys())
    else:
        walk(o, "")
bad = []
bad += ["emitted, not documented: " + k for k in sorted(got_status - doc_status)]
bad += ["documented, never emitted: " + k for k in sorted(doc_status - got_status)]
bad += ["dataset key emitted, not documented: " + k for k in sorted(got_ds - doc_ds)]
bad += ["dataset key documented, never emitted: " + k for k in sorted(doc_ds - got_ds)]
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
then ok "docs/status-json.md and status --json name the same keys (agent up/paused/degraded/hung/down, sink up/down)"
else fail "docs/status-json.md vs status --json"; fi
sl_done
