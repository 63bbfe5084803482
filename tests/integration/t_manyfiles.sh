#!/usr/bin/env bash
# 100,000 small files in one dataset: transferred byte-identical, and the
# memory of agent and sink stays bounded (file records are compact: no
# per-file 4 KiB path buffer), under 64 MiB peak each.
. "$(dirname "$0")/lib.sh"
sl_setup
N=${N:-100000}
python3 - "$T/src/many" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200))
    if i < 200:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "file-%06d.dat" % i), "wb") as f:
        f.write(os.urandom(i % 1000))
PY
port=$(sl_port)
sl_sink_conf sink "$port" tls=off
sl_agent_conf agent "$port" tls=off
sl_start sink && sl_start agent || { fail start; sl_done; }
t0=$(date +%s.%N)
sl_submit agent "$T/src/many" >/dev/null || fail submit
if sl_wait agent many 600 >/dev/null && sl_same "$T/src/many" "$T/sink.root/many"; then
	secs=$(echo "$(date +%s.%N) - $t0" | bc)
	ok "$N files byte-identical in ${secs}s ($(echo "$N / $secs" | bc) files/s)"
else
	fail "$N files"
fi
a=$(awk '/VmHWM/{print $2}' /proc/${SL_PID[agent]}/status)
s=$(awk '/VmHWM/{print $2}' /proc/${SL_PID[sink]}/status)
if [ -n "${ASAN_OPTIONS:-}" ]; then
	ok "peak RSS not checked under ASan (its shadow memory): agent $((a / 1024)) MiB, sink $((s / 1024)) MiB"
elif [ "$a" -lt 65536 ] && [ "$s" -lt 65536 ]; then
	ok "peak RSS: agent $((a / 1024)) MiB, sink $((s / 1024)) MiB (< 64 MiB)"
else
	fail "peak RSS: agent $((a / 1024)) MiB, sink $((s / 1024)) MiB"
fi
sl_done
