#!/usr/bin/env bash
# A source file that changes while it is being sent fails its dataset with
# the change named, and is never published (not even a mix of old and new
# bytes), with chunks read ahead of the streams (posix_fadvise here; the
# reader thread of branch feat-read18 holds whole chunks): modified in
# place (same size, new mtime), replaced by a rename, shrunk, grown.  Then
# resends: the sink is killed -9 mid-transfer with two datasets in
# flight, and both still arrive byte for byte.
. "$(dirname "$0")/lib.sh"
sl_setup

MIB=${MIB:-24}
port=$(sl_port); pport=$(sl_port)
sl_sink_conf sink "$port"
# 1 MiB chunks, 4 streams (a reader thread would hold up to 6 ahead).  A
# proxy at 1 MB/s per connection keeps every dataset in flight for a few
# seconds, so that each change lands mid-transfer.
sl_agent_conf agent "$pport" chunk_size=1M streams=4 window=2 max_in_flight=2
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$port" "${RATE:-1000000}" \
    > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail "start"; sl_done; }

# wait_done DS N SECS: until the agent's journal says chunks_done >= N
wait_done() {
	local v end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		v=$(sl_ls_field agent "$1" chunks_done)
		[ -n "$v" ] && [ "$v" -ge "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

# change DS HOW WORD: one file of MIB MiB; once a few chunks are acked
# (more are read ahead meanwhile), change it by HOW; the dataset must fail
# with an error naming the file and WORD, and the sink publish nothing.
change() {
	local ds=$1 how=$2 word=$3 f out rc sent
	mkdir -p "$T/src/$ds"
	f=$T/src/$ds/data.bin
	head -c $((MIB * 1048576)) /dev/urandom > "$f"
	out=$(sl_submit agent "$T/src/$ds" --name "$ds" 2>&1) || { fail "$ds: submit: $out"; return; }
	if ! wait_done "$ds" 1 60; then
		fail "$ds: no chunk acked within 60 s"
		return
	fi
	# (the reader is ahead of the acks)
	case $how in
	inplace)	# same size, a chunk already sent: only the mtime says so
		sleep 0.01
		printf 'XXXXXXXX' | dd of="$f" bs=1 seek=4096 conv=notrunc status=none ;;
	rename)		cp "$f" "$f.new" && mv "$f.new" "$f" ;;
	shrink)		truncate -s $(((MIB - 4) * 1048576)) "$f" ;;
	grow)		head -c 1000 /dev/urandom >> "$f" ;;
	esac
	sl_wait agent "$ds" 120 >/dev/null; rc=$?
	out=$("$SLUICE" -c "$T/agent.conf" show "$ds" 2>&1)
	if [ $rc != 1 ]; then
		fail "$ds ($how): sluice wait exit $rc, want 1 (failed): $(echo "$out" | grep -m1 state)"
	elif ! echo "$out" | grep -q "error:.*data.bin.*$word"; then
		fail "$ds ($how): the error does not name the file and '$word': $(echo "$out" | grep -m1 error)"
	else
		ok "$ds ($how): failed: $(echo "$out" | grep -m1 'error:' | sed 's/^ *//')"
	fi
	# Caught by the check before a chunk is read (the reader's), not
	# only by the one before COMMIT: most chunks were never sent.
	sent=$(sl_ls_field agent "$ds" chunks_sent)
	if [ -n "$sent" ] && [ "$sent" -lt $((MIB - 4)) ]; then
		ok "$ds ($how): caught mid-send ($sent of $MIB chunks sent)"
	else
		fail "$ds ($how): caught only after ${sent:-?} of $MIB chunks were sent"
	fi
	if [ -e "$T/sink.root/$ds" ]; then
		fail "$ds ($how): published at the sink although its source changed"
	else
		ok "$ds ($how): not published at the sink"
	fi
}

change inplace inplace "modified"
change rename rename "replaced"
change shrink shrink "shrank"
change grow grow "grew"

# The agent goes on with the next datasets after those failures.
mkdir -p "$T/src/after"
head -c $((3 * 1048576 + 7)) /dev/urandom > "$T/src/after/a.bin"
sl_submit agent "$T/src/after" --name after >/dev/null 2>&1
if sl_wait agent after 120 >/dev/null && sl_same "$T/src/after" "$T/sink.root/after" &&
    sl_manifest_ok "$T/sink.root/after"; then
	ok "the next dataset is transferred intact"
else
	fail "the next dataset after the failures did not arrive intact"
fi

# Resends with read-ahead buffers outstanding: two datasets in flight
# (their chunks interleaved), the sink killed -9 twice mid-transfer.
for ds in r1 r2; do
	mkdir -p "$T/src/$ds"
	for i in 1 2 3; do head -c $((MIB * 1048576 / 3 + i)) /dev/urandom > "$T/src/$ds/f$i.bin"; done
	sl_submit agent "$T/src/$ds" --name "$ds" >/dev/null 2>&1 || fail "submit $ds"
done
for k in 1 2; do
	if wait_done r1 $((k * MIB / 4)) 60; then
		sl_kill9 sink
		sleep 0.3
		sl_start sink || { fail "restart sink #$k"; sl_done; }
		ok "sink killed -9 #$k with r1 at >= $((k * MIB / 4)) chunks acked"
	else
		fail "r1 never reached $((k * MIB / 4)) chunks acked"
	fi
done
for ds in r1 r2; do
	if sl_wait agent "$ds" 120 >/dev/null && sl_same "$T/src/$ds" "$T/sink.root/$ds" &&
	    sl_manifest_ok "$T/sink.root/$ds"; then
		ok "$ds: byte-identical after the sink's restarts, manifest verifies"
	else
		fail "$ds: not transferred intact after the sink's restarts"
	fi
done
if ls -a "$T/sink.root" | grep -q 'r[12].*partial'; then
	fail "partial dirs of r1/r2 left"
else
	ok "no partial dirs of r1/r2 left"
fi
sl_stop agent; sl_stop sink
sl_done
