#!/usr/bin/env bash
# The centre goes away mid-dataset (a proxy resets every connection and
# refuses new ones), new datasets keep arriving and are journaled, the
# agent is even killed during the outage; when the link is back it
# resumes from the sink's HAVE and everything arrives once, complete.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup
sport=$(sl_port); pport=$(sl_port)
sl_sink_conf sink "$sport"
sl_agent_conf agent "$pport" chunk_size=1M streams=2 window=1
python3 "$(dirname "$0")/cutproxy.py" "$pport" "$sport" "$T/proxy.pid" > "$T/proxy.out" 2>&1 &
SL_PID[proxy]=$!
sleep 0.5
sl_start sink && sl_start agent || { fail start; sl_done; }
mk() { mkdir -p "$T/src/$1"; for i in $(seq 1 ${3:-4}); do head -c ${2:-10000000} /dev/urandom > "$T/src/$1/f$i"; done; }

mk big 12000000 6
sl_submit agent "$T/src/big" >/dev/null
for i in $(seq 1 200); do
	done_=$(sl_ls_field agent big chunks_done); [ "${done_:-0}" -ge 20 ] && break; sleep 0.05
done
kill -USR1 "${SL_PID[proxy]}"; t_down=$(date +%s.%N)
ok "outage begins at $done_/$(sl_ls_field agent big chunks) chunks"
# new datasets keep arriving and are journaled while the centre is away
for n in 1 2; do mk new$n 2000000 3; sl_submit agent "$T/src/new$n" >/dev/null || fail "submit new$n during outage"; done
sleep 1
st=$(sl_ls_field agent new1 state | tr -d '"')
[ "$st" = queued ] && ok "during the outage new datasets are journaled (new1 $st)" || fail "new1 is $st"
grep -q 'state=up->backoff' "$T/agent.log" && ok "agent noticed: $(grep -m1 'up->backoff' "$T/agent.log" | cut -c1-100)" || fail "no backoff"
# crash the agent during the outage, restart it: it must lose nothing
sl_kill9 agent; sl_start agent || fail "restart agent"
sleep 1.5
kill -USR2 "${SL_PID[proxy]}"; t_up=$(date +%s.%N)
for ds in big new1 new2; do
	sl_wait agent $ds 60 >/dev/null && sl_same "$T/src/$ds" "$T/sink.root/$ds" && sl_manifest_ok "$T/sink.root/$ds" ||
	    fail "$ds after the outage"
done
t_end=$(date +%s.%N)
back=$(grep 'state=connecting->up' "$T/agent.log" | tail -1)
ok "all 3 datasets byte-identical after the outage; link back $(grep -c 'connecting->up' "$T/agent.log") times"
dups=0; for ds in big new1 new2; do dups=$((dups + $(sl_ls_field sink $ds chunks_resent))); done
out=$(sl_sink_once sink "$T/src" big new1 new2) && ok "each dataset published once (sink files, manifests, journal)" || fail "$out"
[ "$dups" = 0 ] && ok "sink's duplicate counter 0 (a lower bound)" || fail "sink duplicates: $dups"
printf '   ok   tally: outage %.1fs, recovery after link up: all done in %.1fs; resent by agent: %s\n' \
    "$(echo "$t_up - $t_down" | bc)" "$(echo "$t_end - $t_up" | bc)" "$(sl_ls_field agent big chunks_resent)"
n=$(ls -A "$T/sink.root" | grep -c partial); [ "$n" = 0 ] && ok "no partial left" || fail "$n partial dirs"
kill "${SL_PID[proxy]}"; wait "${SL_PID[proxy]}" 2>/dev/null; unset "SL_PID[proxy]"
sl_done
