#!/usr/bin/env bash
# Lanes under a backlog, through a throttled link (a proxy per stream):
#   1. lane order: a backlog is draining (submitted --lane backlog); a
#      fresh dataset (lane by age: live) submitted while the first backlog
#      dataset is part-way is published before it, and before every
#      backlog dataset queued ahead of it
#   2. no starvation: while live data keeps arriving (more than the link
#      carries), a backlog dataset still finishes, at about its minimum
#      share (backlog_min_share)
#   3. sluice submit --lane refuses a lane that does not exist; the lane
#      is in the journal (ls --json), and an ingest spool's lane
#      ([ingest] backlog_spool) is given to its datasets
# Order is judged by the journal's completion times, not by logs.
. "$(dirname "$0")/lib.sh"
sl_setup
RATE=${RATE:-2500000}
port=$(sl_port); px=$(sl_port)
mkdir -p "$T/spool/live" "$T/spool/bulk"
sl_sink_conf sink "$port"
sl_agent_conf agent "$px" chunk_size=1M streams=2 window=1 max_in_flight=${MIF:-3} \
    backlog_min_share=20
printf '[ingest]\nspool = %s, %s\nbacklog_spool = %s\n' "$T/spool/live" "$T/spool/bulk" \
    "$T/spool/bulk" >> "$T/agent.conf"
mport=$(sl_port)
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$mport|" "$T/agent.conf"
python3 "$ROOT/tests/integration/slowproxy.py" "$px" "$port" "$RATE" 0.2 > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for _ in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail start; sl_done; }
mk() { mkdir -p "$T/src/$1"; head -c $(($2 * 1048576)) /dev/urandom > "$T/src/$1/data"; }
# completed DS: completion time in the agent's journal (0 while not)
completed() {
	"$SLUICE" -c "$T/agent.conf" ls --json 2>/dev/null | awk -v ds="$1" '
	    /"name": / { cur = $2; gsub(/[",]/, "", cur) }
	    cur == ds && $1 == "\"completed\":" { v = $2; sub(/,$/, "", v); print v; exit }'
}
field() { sl_ls_field agent "$1" "$2"; }

# 1. lane order
for b in bk1 bk2 bk3; do mk $b 16; done
mk live1 3
for b in bk1 bk2 bk3; do sl_submit agent "$T/src/$b" --lane backlog >/dev/null; done
end=$((SECONDS + 30))
while [ $SECONDS -lt $end ] && [ "$(field bk1 chunks_done)" -lt 1 ] 2>/dev/null; do sleep 0.05; done
sl_submit agent "$T/src/live1" >/dev/null
ok "live1 submitted with bk1 at $(field bk1 chunks_done)/16 chunks"
for d in live1 bk1 bk2 bk3; do sl_wait agent $d 90 >/dev/null || fail "$d not transferred"; done
tl=$(completed live1); t1=$(completed bk1); t2=$(completed bk2); t3=$(completed bk3)
if awk -v l="$tl" -v a="$t1" -v b="$t2" -v c="$t3" 'BEGIN { exit !(l > 0 && l < a && l < b && l < c) }'; then
	ok "live1 published first: $(awk -v l="$tl" -v a="$t1" 'BEGIN { printf "%.1fs before bk1", a - l }')"
else
	fail "lane order: live1 at $tl, bk1 $t1, bk2 $t2, bk3 $t3"
fi
[ "$(field live1 lane)" = '"auto"' ] && [ "$(field bk1 lane)" = '"backlog"' ] &&
    ok "lanes in the journal: live1 auto (young: live), bk1 backlog" ||
    fail "lanes in ls --json: live1 $(field live1 lane) bk1 $(field bk1 lane)"

# 2. no starvation: live data arrives faster than the link carries it
mk bkS 12
mk lv0 4
for i in $(seq 1 300); do mkdir -p "$T/src/lv$i"; ln "$T/src/lv0/data" "$T/src/lv$i/data"; done
sl_submit agent "$T/src/bkS" --lane backlog >/dev/null
t0=$(date +%s.%N)
n=0; end=$((SECONDS + 90))
while [ $SECONDS -lt $end ] && [ $n -lt 300 ]; do
	n=$((n + 1))
	sl_submit agent "$T/src/lv$n" --lane live >/dev/null
	st=$(field bkS state | tr -d '"')
	[ "$st" = transferred ] && break
	if [ $n = 8 ]; then	# mid-way: what status, status --json and /metrics say
		"$SLUICE" -c "$T/agent.conf" status > "$T/status.txt" 2>&1
		"$SLUICE" -c "$T/agent.conf" status --json > "$T/status.json" 2>&1
		curl -s "http://127.0.0.1:$mport/metrics" > "$T/metrics.txt" 2>&1
	fi
	sleep 0.2
done
dt=$(echo "$(date +%s.%N) - $t0" | bc)
live_left=0
for i in $(seq 1 $n); do [ "$(field lv$i state | tr -d '"')" = transferred ] || live_left=$((live_left + 1)); done
live_done=$((n - live_left))
if [ "$st" = transferred ] && [ $live_left -ge 2 ]; then
	ok "bkS (12 MiB, backlog) finished in ${dt}s while live data kept arriving ($n live datasets submitted, $live_done published, $live_left still waiting)"
else
	fail "backlog starved: bkS $st after ${dt}s; live: $n submitted, $live_left not yet published"
fi
# 12 MiB at 20 % of ~5 MB/s is ~12 s; the live lane got most of the link meanwhile
[ $live_done -ge 4 ] && ok "the live lane kept most of the link: $live_done x 4 MiB published meanwhile" ||
    fail "live lane: only $live_done published while bkS ran"
if python3 - "$T/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
l = s["lanes"]
assert l["backlog"]["in_flight"] == 1, l
assert l["live"]["in_flight"] == 2, l
assert l["live"]["waiting"] >= 1 and l["live"]["oldest_waiting_age"] >= 0, l
assert l["backlog"]["share_pct"] == 20 and l["live"]["share_pct"] == 80, l
assert l["max_in_flight"] == 3 and len(l["in_flight"]) == 3, l
assert sorted(x["lane"] for x in l["in_flight"]) == ["backlog", "live", "live"], l
PY
then
	ok "status --json: lanes (backlog 1 in flight, live 2 in flight and more waiting, shares 80/20)"
else
	fail "status --json lanes: $(cat "$T/status.json" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("lanes"))' 2>&1)"
fi
grep -q '^lanes:    live ' "$T/status.txt" && grep -q '^          backlog  1 in flight' "$T/status.txt" &&
    grep -q 'bkS .*\[backlog\]' "$T/status.txt" && ok "status text: lanes and [lane] of each dataset in flight" ||
    fail "status text: $(cat "$T/status.txt")"
grep -q '^sluice_lane_in_flight{lane="backlog"} 1' "$T/metrics.txt" &&
    grep -q '^sluice_lane_waiting_datasets{lane="live"} [1-9]' "$T/metrics.txt" &&
    grep -q '^sluice_lane_sent_bytes_total{lane="backlog"} [1-9]' "$T/metrics.txt" &&
    ok "metrics per lane" || fail "metrics: $(grep lane "$T/metrics.txt")"
for i in $(seq 1 $n); do sl_wait agent lv$i 120 >/dev/null || fail "lv$i not transferred"; done
"$SLUICE" -c "$T/agent.conf" show bkS | grep -q '^  lane:    backlog$' &&
    "$SLUICE" -c "$T/agent.conf" show bkS | grep -q '^  timing:  published [0-9]*s after it was sealed' &&
    ok "show: $("$SLUICE" -c "$T/agent.conf" show bkS | grep timing:)" ||
    fail "show bkS: $("$SLUICE" -c "$T/agent.conf" show bkS | head -12)"
bad=$(sl_sink_once sink "$T/src" bkS lv1 lv$n) && ok "bkS lv1 lv$n published once, whole" || fail "$bad"

# 3. the lane from the command line and from a spool
out=$(sl_submit agent "$T/src/bkS" --lane fast 2>&1); rc=$?
[ $rc = 2 ] && grep -q 'want live, backlog or auto' <<<"$out" && ok "--lane fast refused: $out" || fail "--lane fast: rc=$rc $out"
mkdir -p "$T/spool/bulk/night1" "$T/spool/live/scan1"
head -c 100000 /dev/urandom > "$T/spool/bulk/night1/x"; touch "$T/spool/bulk/night1/.sealed"
head -c 100000 /dev/urandom > "$T/spool/live/scan1/x"; touch "$T/spool/live/scan1/.sealed"
sl_wait agent night1 30 >/dev/null && sl_wait agent scan1 30 >/dev/null || fail "spool datasets not transferred"
[ "$(field night1 lane)" = '"backlog"' ] && [ "$(field scan1 lane)" = '"auto"' ] &&
    ok "ingest: night1 from the backlog spool is lane backlog, scan1 auto" ||
    fail "ingest lanes: night1 $(field night1 lane) scan1 $(field scan1 lane)"
sl_stop agent
printf 'live_spool = %s\n' "$T/elsewhere" >> "$T/agent.conf"
out=$("$SLUICED" -c "$T/agent.conf" 2>&1 | head -3)
grep -q 'live_spool: .*elsewhere is not one of the spool directories' <<<"$out" &&
    ok "a live_spool that is no spool is refused: $(grep -o 'live_spool.*' <<<"$out" | head -1)" || fail "bad live_spool: $out"
sl_done
