#!/usr/bin/env bash
# Kill storm: one multi-dataset run (6 datasets of 4-8 files, ~120 MB,
# chunk_size 1M, streams 4) with KILLS (default 12) kill -9s alternating
# sink and agent, each restarted after a short random delay, while
# datasets keep being submitted (two before the storm, the others right
# after agent restarts).  A 1.25 MiB/s-per-connection proxy keeps the run
# long enough for every kill to land mid-transfer.  At the end: every
# dataset transferred, byte-identical, manifest verifies, published
# exactly once, no .partial left.  "Exactly once" is judged on what the
# sink wrote durably (sl_sink_once: one directory, a manifest listing each
# file once, one published record in the sink's journal holding every
# chunk), never on a counter: the sink journals its counters once a
# second, so a kill -9 can lose the very duplicates they would show.  The
# sink's duplicate counter is still read, as a lower bound (any count > 0
# is a failure; 0 proves nothing).  Prints a tally.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup

KILLS=${KILLS:-14} NDS=${NDS:-12} DSMIB=${DSMIB:-12} RATE=${RATE:-$((5 * 1048576 / 4))}
sport=$(sl_port); pport=$(sl_port)
sl_sink_conf sink "$sport"
sl_agent_conf agent "$pport" chunk_size=1M streams=4 window=2
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$sport" "$RATE" > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done

# datasets: ds1..dsN, 4-8 files each (some in a subdirectory), sizes not
# chunk-aligned, ~DSMIB MiB per dataset
total=0
declare -a dsbytes
for d in $(seq 1 "$NDS"); do
	dsbytes[$d]=0
	n=$((4 + RANDOM % 5))
	mkdir -p "$T/src/ds$d/sub"
	for f in $(seq 1 "$n"); do
		sz=$((DSMIB * 1048576 / n + RANDOM))
		p="$T/src/ds$d/f$f.bin"
		[ $((f % 3)) = 0 ] && p="$T/src/ds$d/sub/f$f.bin"
		head -c "$sz" /dev/urandom > "$p"
		total=$((total + sz))
		dsbytes[$d]=$((dsbytes[$d] + sz))
	done
done

# rnd LO HI: a random delay in seconds, LO..HI tenths
rnd() { awk -v lo="$1" -v hi="$2" -v r="$RANDOM" 'BEGIN { printf "%.2f", (lo + (hi - lo) * r / 32767) / 10 }'; }

# acked: bytes acked over all datasets, from the agent's journal
acked() {
	"$SLUICE" -c "$T/agent.conf" ls --json 2>/dev/null |
	    awk '$1 == "\"bytes_done\":" { v = $2; sub(/,$/, "", v); s += v } END { print s + 0 }'
}

# wait_progress BYTES SECS: until acked grows by BYTES (or SECS pass)
wait_progress() {
	local base end v
	base=$(acked) end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		v=$(acked)
		[ "$v" -ge $((base + $1)) ] && return 0
		sleep 0.05
	done
	return 1
}

sl_start sink && sl_start agent || { fail start; sl_done; }
t0=$(date +%s.%N)
submitted=0 subbytes=0
submit_next() {
	[ $submitted -ge "$NDS" ] && return 0
	submitted=$((submitted + 1))
	subbytes=$((subbytes + dsbytes[submitted]))
	sl_submit agent "$T/src/ds$submitted" --name "ds$submitted" >/dev/null ||
	    fail "submit ds$submitted"
}
submit_next; submit_next

kills=0 idle=0
for k in $(seq 1 "$KILLS"); do
	# let the restarted side get some work done, then a bit more
	wait_progress $((2 * 1048576)) 8 || true
	sleep "$(rnd 0 6)"
	# all submitted work done already (a slow restart, a fast machine):
	# give the storm more to interrupt, so that every kill lands mid-transfer
	if [ "$(acked)" -ge "$subbytes" ] && [ $submitted -lt "$NDS" ]; then
		submit_next
		wait_progress $((1 * 1048576)) 8 || true
	fi
	if [ "$(acked)" -ge "$subbytes" ]; then idle=$((idle + 1)); fi
	if [ $((k % 2)) = 1 ]; then who=sink; else who=agent; fi
	sl_kill9 $who
	kills=$((kills + 1))
	sleep "$(rnd 1 8)"
	sl_start $who || { fail "restart $who after kill $k"; sl_done; }
	# submissions go to a live agent: right after it is back
	[ $who = agent ] && submit_next
done
while [ $submitted -lt "$NDS" ]; do submit_next; done
ok "$kills kill -9s (sink and agent alternately), $((kills - idle)) of them mid-transfer; $NDS datasets submitted"
# the issue asks for >= 10 kills over the run; a late one or two may find
# everything acked already on a slow machine
if [ $((kills - idle)) -lt 10 ]; then
	fail "only $((kills - idle)) kills landed mid-transfer: slow the run down (RATE=)"
fi

# every dataset transferred, byte-identical, published exactly once
lost=0 good=0
for d in $(seq 1 "$NDS"); do
	if ! sl_wait agent "ds$d" 60 >/dev/null; then
		fail "ds$d not transferred: $(sl_ls_field agent "ds$d" state)"
	fi
	for f in $(cd "$T/src/ds$d" && find . -type f); do
		if ! cmp -s "$T/src/ds$d/$f" "$T/sink.root/ds$d/$f"; then
			lost=$((lost + $(stat -c %s "$T/src/ds$d/$f")))
		fi
	done
	if sl_same "$T/src/ds$d" "$T/sink.root/ds$d" && sl_manifest_ok "$T/sink.root/ds$d"; then
		good=$((good + 1))
	else
		fail "ds$d differs at the sink or its manifest does not verify"
	fi
done
elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[ $good = "$NDS" ] && ok "all $NDS datasets byte-identical, manifests verify (${elapsed}s)"
exp=$(seq 1 "$NDS" | sed 's/^/ds/' | sort)
got=$(ls -A "$T/sink.root" | sort)
[ "$got" = "$exp" ] || fail "sink root holds: $(echo $got)"
if out=$(sl_sink_once sink "$T/src" $(seq 1 "$NDS" | sed 's/^/ds/')) && [ "$got" = "$exp" ]; then
	ok "each dataset published exactly once (sink files, manifests and journal), no .partial left"
else
	fail "$out"
fi

# counters: agent resends; sink duplicates, a lower bound only (a kill -9
# of the sink loses up to a second of its counters)
resent=0 sent=0 dups=0
for d in $(seq 1 "$NDS"); do
	resent=$((resent + $(sl_ls_field agent "ds$d" chunks_resent)))
	sent=$((sent + $(sl_ls_field agent "ds$d" chunks_sent)))
	x=$(sl_ls_field sink "ds$d" chunks_resent)
	dups=$((dups + ${x:-0}))
	[ "${x:-0}" = 0 ] || fail "ds$d: the sink received $x duplicate chunks"
done
[ $dups = 0 ] && ok "sink's duplicate counter 0 (a lower bound: the durable check is above)"
[ $lost = 0 ] && ok "no byte lost" || fail "$lost bytes lost"
kill -0 "${SL_PID[agent]}" && kill -0 "${SL_PID[sink]}" && ok "both daemons alive at the end" || fail "a daemon died"
echo "   tally: kills=$kills datasets=$NDS bytes_moved=$total bytes_lost=$lost chunks_sent=$sent chunks_resent_by_agent=$resent sink_duplicates_counted=$dups time=${elapsed}s"
sl_stop agent; sl_stop sink
sl_done
