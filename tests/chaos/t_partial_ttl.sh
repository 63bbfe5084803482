#!/usr/bin/env bash
# The rule for a partial copy left behind that nobody releases: sink A has
# [sink] partial_ttl = 3s.  Dataset Q starts at A (through a slow proxy),
# A is paused (`sluice pause DEST`) so Q moves to B, then B is paused too:
# nobody touches A's copy.  A must remove it and forget the dataset after
# about 3 s; when A is resumed Q goes back there, starts afresh (A holds
# nothing, and the agent reports no acked chunk lost: those were B's), and
# is published.  B's copy is released when the agent next reaches B.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup
pa=$(sl_port); pb=$(sl_port); xa=$(sl_port); xb=$(sl_port)
A=127.0.0.1:$xa B=127.0.0.1:$xb
sl_sink_conf sinka "$pa" partial_ttl=3s
sl_sink_conf sinkb "$pb"
sl_agent_conf agent "$xa, $B" chunk_size=1M streams=2 window=1 failover_after=1h
for p in "$xa $pa" "$xb $pb"; do
	set -- $p
	python3 "$ROOT/tests/integration/slowproxy.py" "$1" "$2" 1048576 > "$T/proxy$1.log" 2>&1 &
	SL_PID[proxy$1]=$!
done
sleep 0.5
sl_start sinka && sl_start sinkb && sl_start agent || { fail start; sl_done; }
ctl() { "$SLUICE" -c "$T/agent.conf" "$@" >/dev/null; }
mkdir -p "$T/src/Q"
for i in 1 2 3 4; do head -c 6000000 /dev/urandom > "$T/src/Q/f$i"; done
sl_submit agent "$T/src/Q" >/dev/null || fail "submit Q"
wait_chunks() {
	local i
	for i in $(seq 1 300); do [ "$(sl_ls_field agent Q chunks_done)" -ge "$1" ] && return 0; sleep 0.05; done
	return 1
}
wait_chunks 3 || fail "Q never reached 3 chunks at A"
ctl pause "$A"
for i in $(seq 1 100); do grep -q "moved from $A to $B" "$T/agent.log" && break; sleep 0.1; done
wait_chunks 2 || fail "Q never reached 2 chunks at B"
ctl pause "$B"
t0=$(date +%s.%N)
ok "Q left at A with a partial copy, moved to B, B paused too"
for i in $(seq 1 100); do grep -q "partial copy expired" "$T/sinka.log" && break; sleep 0.1; done
if grep -q "partial copy expired" "$T/sinka.log"; then
	ok "A expired its copy $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4)s after Q left: $(grep -m1 'partial copy expired' "$T/sinka.log" | sed 's/.*held=/held=/' | cut -c1-70)"
else
	fail "A never expired its partial copy of Q"
fi
[ -e "$T/sinka.root/.Q.partial" ] && fail "A still has .Q.partial" || ok "no .Q.partial at A"
"$SLUICE" -c "$T/sinka.conf" ls --json | grep -q '"name": "Q"' && fail "A's journal still has Q" ||
    ok "A's journal forgot Q"
# back to A: a fresh start there
ctl resume "$A"
sl_wait agent Q 60 >/dev/null || fail "Q not transferred after A resumed"
held=$(grep "name=.*Q.*sink_holds=" "$T/agent.log" | tail -1 | sed 's/.*sink_holds=\([0-9]*\).*/\1/')
[ "$held" = 0 ] && ok "back at A, Q started afresh (A held 0 chunks)" || fail "A held $held chunks of Q"
n=$(grep -c "no longer holds" "$T/agent.log")
[ "$n" = 0 ] && ok "no 'no longer holds' warning (B's acks are not A's)" || fail "$n 'no longer holds' warnings"
out=$(sl_sink_once sinka "$T/src" Q) && ok "Q published once at A, byte-identical: $(sl_same "$T/src/Q" "$T/sinka.root/Q" && echo yes)" || fail "$out"
sl_same "$T/src/Q" "$T/sinka.root/Q" || fail "Q differs at A"
# B's copy: released at the next session with B
[ -e "$T/sinkb.root/.Q.partial" ] && ok "B still holds its copy of Q (not reached since)" || fail "B's copy went early"
ctl resume "$B"; ctl pause "$A"
for i in $(seq 1 100); do grep -q "released: published at $A" "$T/sinkb.log" && break; sleep 0.1; done
grep -q "released: published at $A" "$T/sinkb.log" && [ ! -e "$T/sinkb.root/.Q.partial" ] &&
    ok "B released its copy once the agent reached it" || fail "B's copy of Q not released"
sl_done
