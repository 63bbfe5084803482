#!/usr/bin/env bash
# Everything at once, through the WAN emulator: silent corruption (wanem
# flips payload bits and fixes the TCP checksum, so only sluice's XXH3 can
# see it: TLS is off here so that the corruption reaches the chunks
# instead of failing a TLS record), kill -9 of the sink and of the agent,
# silent outages, and one pause of the primary that moves the current
# dataset to the secondary, over NDS datasets submitted in waves, with a
# completion hook (kind = exec, on the agent host) that appends the dataset id to a file.
#
# Checked at the end only on durable outcomes: every dataset published
# exactly once over both sinks (their files and journals), byte-identical,
# manifests verify; the hook ran exactly once per dataset (lines in the
# file it appends to).  Prints the tally: kills, outages, corrupted
# segments, moves, bytes lost, hooks per dataset.
. "$(dirname "$0")/../integration/lib.sh"
sl_setup
. "$(dirname "$0")/wan.sh"
NDS=${NDS:-6} DSMB=${DSMB:-8} CORRUPT=${CORRUPT:-0.004}
wan_up stm --rate-mbit 24 --delay-ms 5 --corrupt "$CORRUPT"
pa=$(sl_port); pb=$(sl_port)
A=10.77.0.2:$pa B=10.77.0.2:$pb
sl_sink_conf sinka "$pa" tls=off
sl_sink_conf sinkb "$pb" tls=off
sl_agent_conf agent "$pa, $B" tls=off chunk_size=1M streams=2 window=2 \
    stall_timeout=3s failover_after=1h
cat >> "$T/agent.conf" <<EOF
[hook]
kind = exec
command = echo {id} >> $T/hooks.log
query = touch $T/hooks.log; grep -qx {id} $T/hooks.log
retry_min = 0.2s
EOF
touch "$T/hooks.log"
wan_sink sinka; wan_sink sinkb; wan_agent agent
sl_start sinka && sl_start sinkb && sl_start agent || { fail start; sl_done; }
ctl() { "$SLUICE" -c "$T/agent.conf" "$@" >/dev/null; }
for d in $(seq 1 "$NDS"); do
	mkdir -p "$T/src/s$d/sub"
	for f in 1 2 3; do
		p="$T/src/s$d/f$f"; [ $f = 3 ] && p="$T/src/s$d/sub/f$f"
		head -c $((DSMB * 1000000 / 3 + RANDOM)) /dev/urandom > "$p"
	done
done
submitted=0
submit() {
	while [ $submitted -lt "$1" ] && [ $submitted -lt "$NDS" ]; do
		submitted=$((submitted + 1))
		sl_submit agent "$T/src/s$submitted" >/dev/null || fail "submit s$submitted"
	done
}
acked() {
	"$SLUICE" -c "$T/agent.conf" ls --json 2>/dev/null |
	    awk '$1 == "\"bytes_done\":" { v = $2; sub(/,$/, "", v); s += v } END { print s + 0 }'
}
progress() {	# BYTES SECS: until acked grows by BYTES
	local base end
	base=$(acked) end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do [ "$(acked)" -ge $((base + $1)) ] && return 0; sleep 0.1; done
	return 1
}
moving() {	# datasets submitted and not yet published
	"$SLUICE" -c "$T/agent.conf" ls --json 2>/dev/null |
	    grep -cE '"state": "(queued|transferring|committing)"'
}

submit 3
kills=0 outages=0 pauses=0 mid=0
events="kill:sinka outage kill:agent kill:sinka pause outage kill:agent kill:sinka outage kill:agent"
for ev in $events; do
	progress 1000000 4 || true
	[ "$(moving)" -gt 0 ] && mid=$((mid + 1))
	case $ev in
	kill:*)
		who=${ev#kill:}
		sl_kill9 "$who"; kills=$((kills + 1))
		sleep 0.$((RANDOM % 8 + 1))
		sl_start "$who" || { fail "restart $who"; sl_done; }
		[ "$who" = agent ] && submit $((submitted + 2));;
	outage)
		wan_ctl down >/dev/null; outages=$((outages + 1))
		sleep 4
		wan_ctl up >/dev/null;;
	pause)	# the current dataset moves to B, comes back to A afterwards
		ctl pause "$A"; pauses=$((pauses + 1))
		progress 1000000 4 || true
		ctl resume "$A";;
	esac
done
submit "$NDS"
ok "$kills kill -9s, $outages silent outages, $pauses pause of A: $mid of $((kills + outages + pauses)) events with a dataset in flight"
[ "$mid" -ge $(( (kills + outages + pauses) * 2 / 3 )) ] || fail "only $mid events hit a dataset in flight"

# the end: every dataset transferred and its hook done
for d in $(seq 1 "$NDS"); do
	sl_wait agent "s$d" 90 --hook >/dev/null || fail "s$d: $(sl_ls_field agent "s$d" state)"
done
lost=0 once=1
sl_ls_table sinka > "$T/a.txt"; sl_ls_table sinkb > "$T/b.txt"; sl_ls_table agent > "$T/agent.txt"
for d in $(seq 1 "$NDS"); do
	if [ -d "$T/sinka.root/s$d" ]; then at=sinka other=b; else at=sinkb other=a; fi
	out=$(sl_sink_once "$at" "$T/src" "s$d") || { fail "$out"; once=0; }
	[ -e "$T/sink$other.root/s$d" ] && { fail "s$d published at both sinks"; once=0; }
	awk -v n="s$d" '$2 == n && $3 == "published" { f = 1 } END { exit f }' "$T/$other.txt" ||
	    { fail "s$d published in sink$other's journal too"; once=0; }
	lost=$((lost + $(wan_bytes_lost "$T/src/s$d" "$T/$at.root/s$d")))
	sl_manifest_ok "$T/$at.root/s$d" || fail "s$d manifest does not verify"
done
[ $once = 1 ] && ok "every dataset published exactly once over both sinks (files and journals)"
[ "$lost" = 0 ] && ok "no byte lost" || fail "$lost bytes lost"
hooks_bad=0
for d in $(seq 1 "$NDS"); do
	id=$(awk -v n="s$d" '$2 == n { print $1 }' "$T/agent.txt")
	n=$(grep -cx "$id" "$T/hooks.log")
	[ -n "$id" ] && [ "$n" = 1 ] || { fail "hook of s$d ($id) ran $n times"; hooks_bad=1; }
done
[ $hooks_bad = 0 ] && ok "hook ran exactly once per dataset ($(wc -l < "$T/hooks.log") lines for $NDS datasets)"
corrupted=$(( $(wan_get a2b.corrupted) + $(wan_get b2a.corrupted) ))
nacked=0
for d in $(seq 1 "$NDS"); do nacked=$((nacked + $(sl_ls_field agent "s$d" chunks_nacked))); done
[ "$corrupted" -gt 0 ] && ok "$corrupted segments corrupted silently; the agent counted $nacked chunks NACKed" ||
    fail "no segment was corrupted: raise CORRUPT"
moves=$(grep -c "moved from" "$T/agent.log")
hpd=$([ $hooks_bad = 0 ] && echo 1 || echo "not 1")
echo "   tally: kills=$kills outages=$outages corruptions=$corrupted moves=$moves datasets=$NDS bytes_lost=$lost hooks_per_dataset=$hpd"
sl_done
