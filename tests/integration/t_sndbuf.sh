#!/usr/bin/env bash
# t_sndbuf.sh: the agent's socket send buffer (issue 18, WAN lever).
# Autotuning stops at tcp_wmem's maximum; with [agent] sndbuf = 0 the
# agent asks for net.core.wmem_max (at most 32 MiB; the kernel doubles
# it) where that is more than half of tcp_wmem's maximum.  tcp_wmem is
# per network namespace, wmem_max is the host's (read-only in a child
# namespace), so a namespace of our own puts the host on either side:
#   1. tcp_wmem max just below 2 x wmem_max: the agent logs sndbuf=auto:W
#      and its sockets' send buffers (ss: skmem tb) are 2 x W
#   2. tcp_wmem max just above: sndbuf=auto:0, the buffers autotuned
#      (at most tcp_wmem's maximum, never exactly 2 x W)
#   3. sndbuf = 1M in the config: that, as before (2 x min(1M, wmem_max))
# each with a dataset published through the session.
. "$(dirname "$0")/lib.sh"
sl_setup
ns=slsnd$$
ip netns add "$ns" || { echo "FAIL: ip netns add"; exit 1; }
trap 'sl_cleanup; ip netns del "$ns" 2>/dev/null' EXIT
ip -n "$ns" link set lo up
W=$(sysctl -n net.core.wmem_max)
[ "$W" -gt $((32 << 20)) ] && W=$((32 << 20))
echo "host: net.core.wmem_max $(sysctl -n net.core.wmem_max) (counted as $W)"

port=$(sl_port)
SL_NETNS[sink]=$ns
sl_sink_conf sink "$port" tls=off
sl_start sink || exit 1

# tb ...: the send buffer (skmem tb) of each of the agent's connections
agent_tb() {
	ip netns exec "$ns" ss -tmnH state established "( dport = :$port )" |
	    grep -o 'tb[0-9]*' | tr -d tb
}

n=0
run_case() {	# run_case LABEL TCP_WMEM_MAX [sndbuf=...]: start, log line, tb, one dataset
	local label=$1 tmax=$2 i tbs
	n=$((n + 1))
	ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_wmem="4096 16384 $tmax"
	SL_NETNS[ag$n]=$ns
	sl_agent_conf "ag$n" "$port" tls=off streams=2 chunk_size=256K "${@:3}"
	sl_start "ag$n" || exit 1
	for i in $(seq 100); do
		[ "$(agent_tb | wc -l)" = 2 ] && break
		sleep 0.1
	done
	tbs=$(agent_tb | sort -u | tr '\n' ' ')
	echo "$label: tcp_wmem max $tmax, agent log: $(grep -o 'sndbuf=[a-z:]*[0-9]*' "$T/ag$n.log"), tb $tbs"
	mkdir -p "$T/src$n/ds$n"
	head -c 3000000 /dev/urandom > "$T/src$n/ds$n/f"
	sl_submit "ag$n" "$T/src$n/ds$n" >/dev/null || fail "$label: submit"
	sl_wait "ag$n" "ds$n" 60 >/dev/null && sl_same "$T/src$n/ds$n" "$T/sink.root/ds$n" &&
	    ok "$label: dataset published byte-identical" || fail "$label: dataset not published"
	sl_stop "ag$n"
	TBS=$tbs
}

run_case "wmem_max above half of tcp_wmem" $((2 * W - 4096))
grep -q "sndbuf=auto:$W\b" "$T/ag1.log" && ok "agent logs sndbuf=auto:$W" ||
    fail "agent log: $(grep -o 'sndbuf=[^ ]*' "$T/ag1.log")"
[ "$TBS" = "$((2 * W)) " ] && ok "both sockets' send buffers are 2 x wmem_max ($((2 * W)))" ||
    fail "send buffers: '$TBS', expected $((2 * W))"

run_case "tcp_wmem above twice wmem_max" $((2 * W + 4096))
grep -q "sndbuf=auto:0\b" "$T/ag2.log" && ok "agent logs sndbuf=auto:0 (autotuning)" ||
    fail "agent log: $(grep -o 'sndbuf=[^ ]*' "$T/ag2.log")"
# (autotuning may reach tcp_wmem's maximum, just above 2 x W: what it
# never gives is exactly the doubled SO_SNDBUF)
for tb in $TBS; do
	[ "$tb" != $((2 * W)) ] && [ "$tb" -le $((2 * W + 4096)) ] ||
	    fail "send buffer $tb: SO_SNDBUF's $((2 * W)) or above tcp_wmem's maximum"
done
[ -n "$TBS" ] && ok "send buffers left to autotuning ($TBS, not $((2 * W)))" || fail "no sockets seen"

run_case "sndbuf = 1M" $((2 * W - 4096)) sndbuf=1M
want=$((1 << 20)); [ "$W" -lt "$want" ] && want=$W
grep -q "sndbuf=1048576\b" "$T/ag3.log" && ok "agent logs sndbuf=1048576" ||
    fail "agent log: $(grep -o 'sndbuf=[^ ]*' "$T/ag3.log")"
[ "$TBS" = "$((2 * want)) " ] && ok "an explicit sndbuf is used as before ($((2 * want)))" ||
    fail "send buffers: '$TBS', expected $((2 * want))"
sl_done
