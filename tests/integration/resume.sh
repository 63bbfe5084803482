# resume.sh: sourced by t_resume_agent.sh and t_resume_sink.sh with
# VICTIM=agent or VICTIM=sink: kill -9 that side several times
# mid-transfer and restart it; the dataset still arrives byte for byte, and
# no chunk the sink made durable is sent to it again (the sink counts
# duplicate DATA frames as chunks_resent).
. "$(dirname "$0")/lib.sh"
sl_setup

NFILES=${NFILES:-8} MIB=${MIB:-24} STREAMS=${STREAMS:-4} WINDOW=${WINDOW:-1} KILLS=${KILLS:-3} TLS=${TLS:-on}
# KIB=N: files of N KiB (under 1 MiB: one chunk each, small files) instead
# of MIB MiB
KIB=${KIB:-}
mkdir -p "$T/src/ds"
for i in $(seq 1 "$NFILES"); do
	if [ -n "$KIB" ]; then
		head -c $((KIB * 1024 + i % 7)) /dev/urandom > "$T/src/ds/f$i.bin"
	else
		head -c $((MIB * 1048576)) /dev/urandom > "$T/src/ds/f$i.bin"
	fi
done
nchunks=$((NFILES * MIB))
[ -n "$KIB" ] && nchunks=$NFILES

# wait_done NAME DS N SECS: until the journal of NAME says chunks_done >= N
wait_done() {
	local v end=$((SECONDS + $4))
	while [ $SECONDS -lt $end ]; do
		v=$(sl_ls_field "$1" "$2" chunks_done)
		[ -n "$v" ] && [ "$v" -ge "$3" ] && { echo "$v"; return 0; }
		sleep 0.01
	done
	echo "${v:-?}"
	return 1
}

# Through a rate-limiting proxy (RATE bytes/s per connection), so that
# every kill lands mid-transfer however fast the disk is: progress is read
# from the agent's journal, which trails the acks by up to half a second.
port=$(sl_port); pport=$(sl_port)
sl_sink_conf sink "$port" tls=$TLS
sl_agent_conf agent "$pport" tls=$TLS chunk_size=1M streams=$STREAMS window=$WINDOW
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$port" "${RATE:-6000000}" \
    > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail "start"; sl_done; }
t0=$(date +%s.%N)
out=$(sl_submit agent "$T/src/ds" --name ds 2>&1) || { fail "submit: $out"; sl_done; }

kills=0
for k in $(seq 1 $KILLS); do
	thr=$((nchunks * k / (KILLS + 1)))
	if got=$(wait_done agent ds "$thr" 30); then
		sl_kill9 "$VICTIM"
		kills=$((kills + 1))
		left=$(sl_ls_field agent ds chunks_done)
		if [ "$left" -ge "$nchunks" ]; then
			fail "kill $k landed after the last ack ($left/$nchunks): slow the transfer"
		else
			ok "kill -9 $VICTIM #$k at $got/$nchunks chunks acked"
		fi
		sleep 0.3
		sl_start "$VICTIM" || { fail "restart $VICTIM #$k"; sl_done; }
	else
		fail "chunks_done never reached $thr (at $got)"
	fi
done

if sl_wait agent ds 60 >/dev/null && sl_same "$T/src/ds" "$T/sink.root/ds" &&
    sl_manifest_ok "$T/sink.root/ds"; then
	ok "transferred after $kills kills: byte-identical, manifest verifies ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s)"
else
	fail "dataset not transferred intact after $kills kills"
fi

sent=$(sl_ls_field agent ds chunks_sent) resent=$(sl_ls_field agent ds chunks_resent)
rcvd=$(sl_ls_field sink ds chunks_sent) dups=$(sl_ls_field sink ds chunks_resent)
# in flight per stream: window x chunk_size bytes (send_xfer.c), so
# window chunks of 1 MiB, or that many bytes of KIB KiB files (+1: the
# last one sent below the cap)
per=$WINDOW
[ -n "$KIB" ] && per=$((WINDOW * 1024 / KIB + 1))
bound=$((nchunks + kills * STREAMS * per))
if [ "$dups" = 0 ]; then
	ok "sink got no duplicate of a chunk it held: chunks=$nchunks sink_received=$rcvd duplicates=$dups"
else
	fail "sink received $dups duplicate chunks (chunks=$nchunks received=$rcvd)"
fi
if [ "$sent" -le "$bound" ]; then
	ok "agent sent=$sent resent=$resent <= chunks + kills*streams*in-flight = $bound"
else
	fail "agent sent=$sent resent=$resent > $bound (chunks=$nchunks)"
fi
if ls -a "$T/sink.root" | grep -q partial; then fail "partial dir left"; else ok "no partial dirs left"; fi
sl_stop agent; sl_stop sink
sl_done
