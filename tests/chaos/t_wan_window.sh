#!/usr/bin/env bash
# A maintenance window that opens and closes mid-transfer, through the WAN
# emulator, with one destination: when it opens the agent closes the
# session at once (no retries burned) and sends nothing; when it closes the
# agent comes back by itself and resumes from the sink's HAVE.  Checked:
# nothing acked inside the window, the transfer resumed within seconds of
# its end, the dataset byte-identical and published once (sink files and
# journal), no chunk the sink acked reported lost.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup
. "$(dirname "$0")/wan.sh"
wan_up win --rate-mbit 40 --delay-ms 10
sport=$(sl_port)
sl_sink_conf sink "$sport"
mk() { mkdir -p "$T/src/$1"; for i in $(seq 1 "$3"); do head -c "$2" /dev/urandom > "$T/src/$1/f$i"; done; }
mk big 10000000 5		# 50 MB: ~10 s at 40 Mbit/s
now=$(date +%s)
w0=$((now + 5)) w1=$((now + 11))
sl_agent_conf agent "$sport" chunk_size=1M streams=2 window=2 \
    "maintenance=10.77.0.2:$sport $w0 $w1"
wan_sink sink; wan_agent agent
sl_start sink && sl_start agent || { fail start; sl_done; }
sl_submit agent "$T/src/big" >/dev/null || fail submit

# until the window opens (and a tick has seen it)
while [ "$(date +%s)" -lt $((w0 + 2)) ]; do sleep 0.2; done
a0=$(sl_ls_field agent big chunks_done)
n=$(sl_ls_field agent big chunks)
[ "$a0" -gt 0 ] && [ "$a0" -lt "$n" ] && ok "window opened mid-transfer, at $a0/$n chunks" ||
    fail "window opened at $a0/$n chunks: not mid-transfer"
grep -q "why=maintenance" "$T/agent.log" && ok "agent closed the session for the window: $(grep -m1 'why=maintenance' "$T/agent.log" | sed 's/^.*link //' | cut -c1-90)" ||
    fail "no 'why=maintenance' in the agent log"
while [ "$(date +%s)" -lt $((w1 - 1)) ]; do sleep 0.2; done
a1=$(sl_ls_field agent big chunks_done)
[ "$a1" = "$a0" ] && ok "nothing acked inside the window ($a0 -> $a1)" || fail "chunks acked inside the window: $a0 -> $a1"
sl_wait agent big 60 >/dev/null || fail "big not transferred after the window: $(sl_ls_field agent big state)"
t_end=$(date +%s.%N)
rec=$(echo "$t_end - $w1" | bc)
ok "transferred ${rec}s after the window closed"
echo "$rec < 15" | bc | grep -q 1 || fail "too slow after the window: ${rec}s"
lost=$(wan_bytes_lost "$T/src/big" "$T/sink.root/big")
[ "$lost" = 0 ] && sl_manifest_ok "$T/sink.root/big" && ok "byte-identical, manifest verifies" || fail "$lost bytes differ"
out=$(sl_sink_once sink "$T/src" big) && ok "published once (sink files and journal)" || fail "$out"
n=$(grep -c "no longer holds" "$T/agent.log")
[ "$n" = 0 ] && ok "no chunk the sink acked was reported lost" || fail "$n 'no longer holds' warnings"
echo "   tally: window=$((w1 - w0))s acked_before=$a0 acked_in_window=$((a1 - a0)) after_window=${rec}s bytes_lost=$lost"
sl_done
