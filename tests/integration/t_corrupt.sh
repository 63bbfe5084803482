#!/usr/bin/env bash
# Bit flips TCP cannot see: a proxy between agent and sink (plaintext + HMAC
# HELLO, so the flips reach the sink's XXH3 check) flips bits inside DATA
# payloads of the first connections.  The sink NACKs, the agent resends,
# the dataset arrives byte-identical and both sides count the NACKs.
. "$(dirname "$0")/lib.sh"
sl_setup

# 8 MiB + 3 MiB + a bit: with chunk_size 1M the first connection's first
# ~6 MB are whole 1 MiB DATA frames (8-byte header + 28-byte prefix + 1 MiB)
mkdir -p "$T/src/ds"
head -c $((8 << 20)) /dev/urandom > "$T/src/ds/big.bin"
head -c $(((3 << 20) + 12345)) /dev/urandom > "$T/src/ds/second.bin"
echo small > "$T/src/ds/small.txt"

sport=$(sl_port)
pport=$(sl_port)
while [ "$pport" = "$sport" ]; do pport=$(sl_port); done
sl_sink_conf sink "$sport" tls=off
sl_agent_conf agent "$pport" tls=off chunk_size=1M streams=2 window=4
sl_start sink || { fail "start sink"; sl_done; }

# offsets 300000 + k*1000003: each lands ~50 KB earlier in successive 1 MiB
# frames, always well inside a payload; only the first 2 connections (the
# agent's 2 streams of its first session) are touched
offs=$(python3 -c 'print(",".join(str(300000 + k * 1000003) for k in range(5)))')
python3 -u "$(dirname "$0")/flipproxy.py" "$pport" "$sport" 2 "$offs" > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 1 100); do grep -q ready "$T/proxy.log" && break; sleep 0.05; done
grep -q ready "$T/proxy.log" || { fail "proxy did not start"; sl_done; }

sl_start agent || { fail "start agent"; sl_done; }
sl_submit agent "$T/src/ds" --name ds >/dev/null || fail "submit"
if sl_wait agent ds 60 >/dev/null; then
	ok "transferred through the bit-flipping proxy"
else
	fail "not transferred"
fi
nflips=$(grep -c '^flip' "$T/proxy.log")
echo "          proxy: $nflips flips in $(grep -c '^conn=' "$T/proxy.log") connections"
[ "$nflips" -gt 0 ] || fail "the proxy flipped nothing"
if sl_same "$T/src/ds" "$T/sink.root/ds" && sl_manifest_ok "$T/sink.root/ds"; then
	ok "dataset byte-identical, manifest verifies"
else
	fail "dataset differs from the source"
fi
a_nack=$(sl_show agent ds nacked)
s_nack=$(sl_show sink ds nacked)
a_resent=$(sl_show agent ds resent)
echo "          counts: agent chunks_nacked=$a_nack chunks_resent=$a_resent; sink chunks_nacked=$s_nack"
[ "${a_nack:-0}" -gt 0 ] && ok "agent chunks_nacked=$a_nack > 0" || fail "agent chunks_nacked=${a_nack:-?}"
[ "${s_nack:-0}" -gt 0 ] && ok "sink chunks_nacked=$s_nack > 0" || fail "sink chunks_nacked=${s_nack:-?}"
n=$(grep -c "checksum mismatch" "$T/sink.log")
[ "$n" -gt 0 ] && ok "sink logged $n checksum mismatches" || fail "sink logged no checksum mismatch"
# every flip either was NACKed or broke a session (header hit): none slipped through
drops=$(grep -c -- "->backoff" "$T/agent.log")
echo "          agent session drops: $drops"
[ $((n + drops)) -ge "$nflips" ] && ok "every flip caught (nacks $n + drops $drops >= flips $nflips)" ||
    fail "flips $nflips > nacks $n + drops $drops"
# a refused chunk comes again after chunks its stream sent meanwhile: the
# sink stops hashing that file from memory and re-reads it at COMMIT (the
# manifest check above covers the result)
if grep -q 'a chunk was refused and comes again out of order; it is re-read at commit' "$T/sink.log"; then
	ok "refused chunk: its file left to the re-read at commit"
else
	fail "no file given up after a NACK (sink log)"
fi
sl_done
