#!/usr/bin/env bash
# A move to the second destination and back, and a per-destination pause,
# through the WAN emulator (two sinks behind one 40 Mbit/s link).
#
# Dataset X starts at A; a maintenance window on A opens mid-transfer, so
# X moves to B; while it is half-way at B, B is paused (`sluice pause
# DEST`), so X waits for the window to close and moves back to A, where it
# resumes from A's partial copy and is published.  Then A is paused: the
# agent goes to B and releases B's partial copy of X (published elsewhere);
# a new dataset Y goes to B while A is paused; A is resumed and the next
# one, Z, goes to A.
#
# Checked, durably: X published once, at A only (sink files and journal);
# it resumed from A's copy (A's HAVE held chunks); no "no longer holds"
# warning (chunks acked at B are not A's to lose); X's history names both
# moves; B's partial copy of X released by the agent; Y at B only, Z at A
# only; nothing sent to a paused destination.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup
. "$(dirname "$0")/wan.sh"
wan_up mov --rate-mbit 40 --delay-ms 10
pa=$(sl_port); pb=$(sl_port)
A=10.77.0.2:$pa B=10.77.0.2:$pb
sl_sink_conf sinka "$pa"
sl_sink_conf sinkb "$pb"
mk() { mkdir -p "$T/src/$1"; for i in $(seq 1 "$3"); do head -c "$2" /dev/urandom > "$T/src/$1/f$i"; done; }
mk X 10000000 6		# 60 MB: ~12 s at 40 Mbit/s
mk Y 3000000 2
mk Z 3000000 2
now=$(date +%s)
w0=$((now + 5)) w1=$((now + 13))
sl_agent_conf agent "$pa, $B" chunk_size=1M streams=2 window=2 failover_after=1h \
    "maintenance=$A $w0 $w1"
wan_sink sinka; wan_sink sinkb; wan_agent agent
sl_start sinka && sl_start sinkb && sl_start agent || { fail start; sl_done; }
ctl() { "$SLUICE" -c "$T/agent.conf" "$@" >/dev/null; }
sl_submit agent "$T/src/X" >/dev/null || fail "submit X"

# wait_log FILE PATTERN SECS
wait_log() {
	local i
	for i in $(seq 1 $(($3 * 10))); do grep -q "$2" "$1" && return 0; sleep 0.1; done
	return 1
}

# 1. the window opens on A mid-transfer: X moves to B
wait_log "$T/agent.log" "moved from $A to $B" 20 && ok "window on A: X moved to B" || fail "X never moved to B"
at_a=$(grep "name=X.*sink_holds=" "$T/agent.log" | head -1)
for i in $(seq 1 200); do [ "$(sl_ls_field agent X chunks_done)" -ge 5 ] && break; sleep 0.1; done
held_b=$(sl_ls_field agent X chunks_done)
# 2. pause B half-way: X waits for A's window to end and goes back to A
ctl pause "$B" && ok "sluice pause $B at $held_b/$(sl_ls_field agent X chunks) chunks acked by B" || fail "pause B"
wait_log "$T/agent.log" "moved from $B to $A" 30 && ok "B paused: X moved back to A after the window" || fail "X never moved back to A"
sl_wait agent X 60 >/dev/null || fail "X not transferred: $(sl_ls_field agent X state)"
resume=$(grep "name=X.*sink_holds=" "$T/agent.log" | tail -1 | sed 's/.*sink_holds=\([0-9]*\).*/\1/')
[ "${resume:-0}" -gt 0 ] && ok "back at A, X resumed from A's partial copy ($resume chunks held)" ||
    fail "X did not resume from A's copy (sink_holds=$resume)"
n=$(grep -c "no longer holds" "$T/agent.log")
[ "$n" = 0 ] && ok "no 'no longer holds' warning for chunks acked at the other sink" ||
    fail "$n 'no longer holds' warnings: $(grep -m1 'no longer holds' "$T/agent.log" | cut -c1-160)"
hist=$("$SLUICE" -c "$T/agent.conf" show X)
echo "$hist" | grep -q "moved from $A to $B" && echo "$hist" | grep -q "moved from $B to $A" &&
    ok "X's history records both moves" || fail "X's history lacks a move: $hist"
echo "$hist" | grep -q "never committed" && fail "X's history still says 'never committed'"
[ -e "$T/sinkb.root/.X.partial" ] && ok "B keeps its partial copy of X until told" || fail "B's copy of X vanished early"

# 3. pause A: the agent goes to B and releases B's copy of X; Y goes to B
ctl resume "$B"; ctl pause "$A"
sl_submit agent "$T/src/Y" >/dev/null || fail "submit Y"
sl_wait agent Y 40 >/dev/null || fail "Y not transferred while A paused"
wait_log "$T/sinkb.log" "released: published at $A" 10 &&
    ok "B released its copy of X: $(grep -m1 'released: published' "$T/sinkb.log" | sed 's/.*reason=//' | cut -c1-90)" ||
    fail "B was never told to release X"
[ -e "$T/sinkb.root/.X.partial" ] && fail "B still holds .X.partial" || ok "no .X.partial left at B"
# 4. resume A: the next dataset goes there
ctl resume "$A"
sleep 1.5
sl_submit agent "$T/src/Z" >/dev/null || fail "submit Z"
sl_wait agent Z 40 >/dev/null || fail "Z not transferred"

out=$(sl_sink_once sinka "$T/src" X Z) && ok "X and Z published once, at A (sink files and journal)" || fail "$out"
out=$(sl_sink_once sinkb "$T/src" Y) && ok "Y published once, at B" || fail "$out"
for ds in X Z; do [ -e "$T/sinkb.root/$ds" ] && fail "$ds also at B"; done
[ -e "$T/sinka.root/Y" ] && fail "Y also at A (paused)"
lost=0
for ds in X Z; do lost=$((lost + $(wan_bytes_lost "$T/src/$ds" "$T/sinka.root/$ds"))); done
lost=$((lost + $(wan_bytes_lost "$T/src/Y" "$T/sinkb.root/Y")))
[ "$lost" = 0 ] && ok "every byte identical" || fail "$lost bytes lost"
left=$(ls -A "$T/sinka.root" "$T/sinkb.root" | grep -c partial)
[ "$left" = 0 ] && ok "no partial copy left at either sink" || fail "$left partial copies left"
released=$(grep -c "released: published" "$T/sinkb.log")
echo "   tally: moves=$(grep -c "moved from" "$T/agent.log") resumed_at_A=$resume released_at_B=$released pauses=2 bytes_lost=$lost"
sl_done
