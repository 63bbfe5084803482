#!/usr/bin/env bash
# Sink disk full.  The sink root is a 24 MiB tmpfs mounted here; a 40 MiB
# dataset cannot fit.  The sink refuses cleanly (ERROR SL_ENOSPC, "No space
# left" in its log), the agent backs off and keeps retrying (daemon alive),
# nothing is published and no file appears under a published name.  Then
# the tmpfs is remounted at 128 MiB and the dataset completes on its own,
# byte-identical.  Needs root (mount); skipped otherwise.
. "$(dirname "$0")/../integration/lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "   SKIP t_enospc: needs root to mount a tmpfs"
	exit 77
fi
sl_setup

MNT=""
enospc_cleanup() {
	local n
	# processes first (open files keep the tmpfs busy), then unmount, then
	# lib.sh removes $T
	for n in "${!SL_PID[@]}"; do
		kill -9 "${SL_PID[$n]}" 2>/dev/null
		wait "${SL_PID[$n]}" 2>/dev/null
	done
	if [ -n "$MNT" ] && mountpoint -q "$MNT"; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	sl_cleanup
}
trap enospc_cleanup EXIT
trap 'exit 143' TERM INT HUP

port=$(sl_port)
sl_sink_conf sink "$port"
sl_agent_conf agent "$port" chunk_size=1M streams=2
MNT="$T/sink.root"
mount -t tmpfs -o size=24m sluicetmp "$MNT" || { MNT=""; fail "mount tmpfs"; sl_done; }
ok "sink root on a 24 MiB tmpfs"

mkdir -p "$T/src/big"
for i in 1 2 3 4; do head -c $((10 * 1048576)) /dev/urandom > "$T/src/big/f$i.bin"; done
sl_start sink && sl_start agent || { fail "start"; sl_done; }
t0=$SECONDS
sl_submit agent "$T/src/big" --name big >/dev/null || { fail "submit"; sl_done; }

# the sink refuses with ENOSPC
for i in $(seq 1 200); do
	grep -q "No space left" "$T/sink.log" && break
	sleep 0.05
done
if grep -q "error=.*no space left at the sink.*No space left" "$T/sink.log"; then
	ok "sink: $(grep -m1 'No space left' "$T/sink.log" | cut -c1-160)"
else
	fail "sink log has no ENOSPC error line"
fi

# ... and keeps refusing while the agent backs off and retries
sleep 3
n_err=$(grep -c "No space left" "$T/sink.log")
n_retry=$(grep -c "retry_in=" "$T/agent.log")
if [ "$n_retry" -ge 2 ] && [ "$n_err" -ge 2 ]; then
	ok "agent backs off and retries: $n_retry retry lines, sink refused $n_err times"
else
	fail "agent retry lines=$n_retry, sink ENOSPC lines=$n_err"
fi
# the backoff must grow while the sink keeps refusing (reconnect_min 0.1s,
# reconnect_max 1s in lib.sh): not a reconnect every 0.1 s forever
maxd=$(grep -o 'retry_in=[0-9.]*' "$T/agent.log" | cut -d= -f2 | sort -g | tail -1)
if awk -v m="${maxd:-0}" 'BEGIN { exit !(m >= 0.4) }'; then
	ok "agent backoff grows under repeated ENOSPC (longest retry_in=${maxd}s)"
else
	fail "agent backoff does not grow under repeated ENOSPC: $n_retry reconnects in ~3 s, longest retry_in=${maxd}s (link_up resets it)"
fi
grep -q "no space left at the sink" "$T/agent.log" &&
	ok "agent log names the cause: $(grep -m1 'no space left at the sink' "$T/agent.log" | cut -c1-140)" ||
	fail "agent log does not mention the sink's ENOSPC"
kill -0 "${SL_PID[agent]}" 2>/dev/null && kill -0 "${SL_PID[sink]}" 2>/dev/null &&
	ok "both daemons alive" || fail "a daemon died on ENOSPC"
st=$(sl_ls_field agent big state | tr -d '"')
[ "$st" != failed ] && [ "$st" != transferred ] && ok "dataset still pending at the agent (state $st)" ||
	fail "dataset is $st while the sink is full"

# nothing published, nothing under a published name
vis=$(ls "$MNT")
if [ -z "$vis" ] && [ ! -e "$MNT/big" ]; then
	ok "nothing visible under a published name (root holds: $(ls -A "$MNT" | tr '\n' ' '))"
else
	fail "visible under the sink root while full: $vis"
fi

# free space: the dataset completes without anyone touching the daemons
mount -o remount,size=128m "$MNT" || fail "remount"
t1=$(date +%s.%N)
if sl_wait agent big 40 >/dev/null && sl_same "$T/src/big" "$MNT/big" && sl_manifest_ok "$MNT/big"; then
	ok "space freed: published byte-identical, manifest verifies, $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s after remount"
else
	fail "dataset did not complete after space was freed"
fi
ls -A "$MNT" | grep -q partial && fail "partial dir left: $(ls -A "$MNT")" || ok "no partial dir left"
[ "$(ls -A "$MNT")" = big ] && ok "published once" || fail "sink root: $(ls -A "$MNT")"
echo "   ($((SECONDS - t0))s)"
sl_stop agent; sl_stop sink
sl_done
