#!/usr/bin/env bash
# Silent outages mid-transfer, through the WAN emulator: wanem `down` drops
# every packet both ways (nothing is reset, no FIN, no RST: what a real WAN
# outage looks like, unlike t_outage's proxy).  A short one (3 s) and a long
# one (15 s) hit the same dataset while it moves at 40 Mbit/s with 10 ms
# each way.  The agent must notice the long one by itself (the TCP
# connections stay "established" for minutes), and after `up` resume from
# the sink's HAVE within seconds.  Checked at the end, durably: every
# dataset byte-identical, published once (sink files and journal), no
# chunk the sink acked reported lost.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup
. "$(dirname "$0")/wan.sh"
wan_up out --rate-mbit 40 --delay-ms 10
sport=$(sl_port)
sl_sink_conf sink "$sport"
STALL=${STALL-4s}	# STALL= runs without stall_timeout (to see the kernel's own)
sl_agent_conf agent "$sport" chunk_size=1M streams=2 window=2 ${STALL:+stall_timeout=$STALL}
wan_sink sink; wan_agent agent
sl_start sink && sl_start agent || { fail start; sl_done; }
mk() { mkdir -p "$T/src/$1"; for i in $(seq 1 "$3"); do head -c "$2" /dev/urandom > "$T/src/$1/f$i"; done; }
mk big 9000000 5		# 45 MB: ~9 s at 40 Mbit/s
mk small 2000000 2
sl_submit agent "$T/src/big" >/dev/null && sl_submit agent "$T/src/small" >/dev/null || fail submit

# wait_chunks DS N: until the agent has N chunks of DS acked (30 s at most)
wait_chunks() {
	local i
	for i in $(seq 1 600); do
		[ "$(sl_ls_field agent "$1" chunks_done)" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# 1. short outage: TCP may ride it out on the same connections
wait_chunks big 8 || fail "big never reached 8 chunks"
at=$(sl_ls_field agent big chunks_done)
wan_ctl down >/dev/null; sleep 3; wan_ctl up >/dev/null
ok "short silent outage (3 s) at $at/$(sl_ls_field agent big chunks) chunks of big"

# 2. long outage, mid-transfer again
wait_chunks big $((at + 6)) || fail "big did not move after the short outage"
at=$(sl_ls_field agent big chunks_done)
wan_ctl down >/dev/null; t_down=$(date +%s.%N)
sleep 15
drops=$(wan_get a2b.drop_outage)
wan_ctl up >/dev/null; t_up=$(date +%s.%N)
[ "$at" -lt "$(sl_ls_field agent big chunks)" ] && ok "long silent outage (15 s) at $at chunks, $drops packets dropped silently agent->sink" ||
    fail "big was complete before the long outage: not mid-transfer"
if grep -q "Connection timed out" "$T/agent.log"; then
	ok "agent noticed by itself: $(grep -m1 'Connection timed out' "$T/agent.log" | cut -c1-120)"
else
	fail "agent never noticed the silent outage (no 'timed out' line: stall_timeout)"
fi

for ds in big small; do
	sl_wait agent "$ds" 60 >/dev/null || fail "$ds not transferred: $(sl_ls_field agent "$ds" state)"
done
t_end=$(date +%s.%N)
rec=$(echo "$t_end - $t_up" | bc)
if echo "$rec < 15" | bc | grep -q 1; then
	ok "all done ${rec}s after the link came back"
else
	fail "took ${rec}s after the link came back (TCP's own retransmission backoff?)"
fi
lost=0
for ds in big small; do
	lost=$((lost + $(wan_bytes_lost "$T/src/$ds" "$T/sink.root/$ds")))
	sl_manifest_ok "$T/sink.root/$ds" || fail "$ds: manifest does not verify"
done
[ "$lost" = 0 ] && ok "byte-identical, manifests verify" || fail "$lost bytes lost"
out=$(sl_sink_once sink "$T/src" big small) && ok "each dataset published once (sink files and journal)" || fail "$out"
n=$(grep -c "no longer holds" "$T/agent.log")
[ "$n" = 0 ] && ok "no chunk the sink acked was reported lost" || fail "$n 'no longer holds' warnings"
echo "   tally: outages=2 (3s, 15s) silent_drops=$drops recovery=${rec}s bytes_lost=$lost"
sl_done
