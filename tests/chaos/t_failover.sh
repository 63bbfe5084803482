#!/usr/bin/env bash
# Two destinations.  The primary is down: after failover_after the agent
# sends to the secondary; when the primary is back, new datasets go to it
# again.  A maintenance window on the primary sends datasets to the
# secondary at once, without burning retries.  No dataset is published
# twice.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup
p1=$(sl_port); p2=$(sl_port)
sl_sink_conf prim "$p1"
sl_sink_conf sec "$p2"
sl_agent_conf agent "$p1, 127.0.0.1:$p2" failover_after=2s
mk() { mkdir -p "$T/src/$1"; head -c ${2:-3000000} /dev/urandom > "$T/src/$1/data.bin"; }

# 1. primary down from the start: fail over after ~2 s
sl_start sec; sl_start agent
mk ds1
sl_submit agent "$T/src/ds1" >/dev/null
t0=$(date +%s.%N)
if sl_wait agent ds1 30 >/dev/null && sl_same "$T/src/ds1" "$T/sec.root/ds1"; then
	ok "primary down: ds1 published at the secondary after $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4)s"
else
	fail "ds1 not at the secondary"
fi
grep -q "failing over" "$T/agent.log" && ok "log: $(grep -m1 'failing over' "$T/agent.log" | cut -c1-120)" || fail "no failover log line"

# 2. primary comes back: the agent returns to it for the next dataset
sl_start prim
sleep 2.5	# one probe interval (reconnect_max = 1s in lib.sh)
mk ds2
sl_submit agent "$T/src/ds2" >/dev/null
if sl_wait agent ds2 30 >/dev/null && sl_same "$T/src/ds2" "$T/prim.root/ds2"; then
	ok "primary back: ds2 published at the primary"
else
	fail "ds2 not at the primary (sec has: $(ls "$T/sec.root"))"
fi

# 3. a maintenance window on the primary, now: straight to the secondary
now=$(date +%s)
sl_stop agent
sl_agent_conf agent "$p1, 127.0.0.1:$p2" failover_after=1h \
    "maintenance=127.0.0.1:$p1 $((now - 10)) $((now + 3600))"
sl_start agent
mk ds3
sl_submit agent "$T/src/ds3" >/dev/null
if sl_wait agent ds3 20 >/dev/null && sl_same "$T/src/ds3" "$T/sec.root/ds3"; then
	ok "maintenance window: ds3 went to the secondary though failover_after is 1h"
else
	fail "ds3 not at the secondary during the primary's maintenance"
fi

# 4. pause at run time
"$SLUICE" -c "$T/agent.conf" pause >/dev/null && ok "sluice pause" || fail "sluice pause"
mk ds4
sl_submit agent "$T/src/ds4" >/dev/null
sleep 2
st=$(sl_ls_field agent ds4 state 2>/dev/null | tr -d '"' || true)
[ "$st" = queued ] && ok "paused: ds4 stays queued" || fail "paused: ds4 is $st"
"$SLUICE" -c "$T/agent.conf" resume >/dev/null
sl_wait agent ds4 20 >/dev/null && ok "resumed: ds4 transferred" || fail "ds4 after resume"

# never published twice
once=1
for ds in ds1 ds2 ds3 ds4; do
	n=$(ls -d "$T/prim.root/$ds" "$T/sec.root/$ds" 2>/dev/null | wc -l)
	[ "$n" = 1 ] || { fail "$ds published $n times"; once=0; }
done
[ $once = 1 ] && ok "every dataset published exactly once"
sl_done
