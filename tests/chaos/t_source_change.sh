#!/usr/bin/env bash
# A source file changes while its dataset is being sent: same size but
# new content (mtime), grown, truncated, deleted.  Policy (README "Source
# changes"): the agent fails the dataset with a reason naming the file;
# nothing is published at the sink; the operator resubmits under a new
# name.  The transfer is held mid-way by a 4 MiB/s proxy (window=1
# streams=1 chunk_size=64K) and the change lands once >= 512 KiB is acked.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup

sport=$(sl_port); pport=$(sl_port)
sl_sink_conf sink "$sport"
sl_agent_conf agent "$pport" chunk_size=64K streams=1 window=1
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$sport" $((4 * 1048576)) > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail start; sl_done; }
t0=$SECONDS

# mk NAME: a.bin (5 MiB, the file that changes) and z.bin (1 MiB)
mk() {
	mkdir -p "$T/src/$1"
	head -c $((5 * 1048576)) /dev/urandom > "$T/src/$1/a.bin"
	head -c 1048576 /dev/urandom > "$T/src/$1/z.bin"
}

# wait_bytes DS N SECS: until the agent has N bytes acked for DS
wait_bytes() {
	local v end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		v=$(sl_ls_field agent "$1" bytes_done)
		[ -n "$v" ] && [ "$v" -ge "$2" ] && { echo "$v"; return 0; }
		sleep 0.02
	done
	echo "${v:-?}"
	return 1
}

# case NAME PATTERN MUTATION...: submit, mutate a.bin mid-transfer, expect
# the dataset failed with a reason matching PATTERN and naming a.bin
case_change() {
	local name=$1 pat=$2 got st reason total
	shift 2
	mk "$name"
	total=$((6 * 1048576))
	sl_submit agent "$T/src/$name" --name "$name" >/dev/null || { fail "$name: submit"; return; }
	if ! got=$(wait_bytes "$name" 524288 20); then
		fail "$name: transfer did not start (bytes_done=$got)"
		return
	fi
	if [ "$got" -ge "$total" ]; then
		fail "$name: change landed after the transfer ($got/$total)"
		return
	fi
	sleep 0.05
	"$@"
	if sl_wait agent "$name" 30 >/dev/null 2>&1; then
		fail "$name: transferred although a.bin changed at $got/$total bytes"
		return
	fi
	st=$(sl_ls_field agent "$name" state | tr -d '"')
	reason=$("$SLUICE" -c "$T/agent.conf" show "$name" 2>&1 | grep -m1 "a\.bin")
	if [ "$st" = failed ] && echo "$reason" | grep -Eq "$pat"; then
		ok "$name: failed at $got/$total bytes; show: $(echo "$reason" | sed 's/^ *//' | cut -c1-130)"
	else
		fail "$name: state=$st, show reason: '${reason}' (want /$pat/)"
		"$SLUICE" -c "$T/agent.conf" show "$name" | sed 's/^/      /'
	fi
	if [ -e "$T/sink.root/$name" ]; then
		fail "$name: published at the sink"
	else
		ok "$name: not published at the sink"
	fi
}

case_change changed 'a\.bin.*(changed|modified)' \
    dd if=/dev/urandom of="$T/src/changed/a.bin" bs=64K count=4 seek=40 conv=notrunc status=none
case_change grew 'a\.bin.*(changed|grew)' \
    sh -c "head -c 1048576 /dev/urandom >> '$T/src/grew/a.bin'"
case_change truncated 'a\.bin.*(shrank|changed)' \
    truncate -s 2M "$T/src/truncated/a.bin"
case_change deleted 'a\.bin.*(No such file|vanished|deleted|changed)' \
    rm -f "$T/src/deleted/a.bin"
# replaced: a new file (new inode) renamed over the old one, same size
case_change replaced 'a\.bin.*(changed|replaced)' \
    sh -c "head -c 5242880 /dev/urandom > '$T/src/replaced/a.tmp' && mv '$T/src/replaced/a.tmp' '$T/src/replaced/a.bin'"

# status: degraded (exit 1) with failed datasets, listing a reason
out=$("$SLUICE" -c "$T/agent.conf" status 2>&1); rc=$?
if [ "$rc" = 1 ] && echo "$out" | grep -q "a\.bin"; then
	ok "sluice status exits 1 (degraded) and lists the failures"
else
	fail "sluice status rc=$rc"
	echo "$out" | sed 's/^/      /'
fi

# the documented way out: resubmit the changed tree under a new name
sl_submit agent "$T/src/changed" --name changed-2 >/dev/null
if sl_wait agent changed-2 30 >/dev/null && sl_same "$T/src/changed" "$T/sink.root/changed-2" &&
    sl_manifest_ok "$T/sink.root/changed-2"; then
	ok "resubmitted as changed-2: published byte-identical"
else
	fail "resubmission changed-2 did not arrive intact"
fi
pub=$(ls "$T/sink.root")
[ "$pub" = changed-2 ] && ok "sink publishes only changed-2" || fail "sink root: $pub"
# the agent told the sink it abandoned them: no partial copy lingers
left=$(ls -A "$T/sink.root" | grep partial || true)
[ -z "$left" ] && ok "abandoned datasets' partial dirs removed at the sink ($(grep -c 'removed \.' "$T/sink.log") removed)" ||
	fail "partial dirs left at the sink: $left"
kill -0 "${SL_PID[agent]}" && ok "agent alive" || fail "agent died"
echo "   ($((SECONDS - t0))s)"
sl_stop agent; sl_stop sink
sl_done
