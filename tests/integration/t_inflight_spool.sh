#!/usr/bin/env bash
# Spool retention and the high-water mark with several datasets in flight:
# the spool is over spool_high (retention runs early, every pass), datasets
# are sealed in it while others are on the wire, and retention = delete
# with retention_after = 0 removes each source as soon as it may, never
# earlier: at every look, a source that is gone belongs to a dataset the
# journal says is published.  Every dataset arrives byte-identical to a
# copy taken before it was sealed.
. "$(dirname "$0")/lib.sh"
sl_setup
port=$(sl_port); px=$(sl_port)
mkdir -p "$T/spool" "$T/copy"
sl_sink_conf sink "$port"
sl_agent_conf agent "$px" chunk_size=1M streams=2 window=2 max_in_flight=4 \
    retention=delete retention_after=0s spool_warn=1 spool_high=1
printf '[ingest]\nspool = %s\n' "$T/spool" >> "$T/agent.conf"
python3 "$ROOT/tests/integration/slowproxy.py" "$px" "$port" 3000000 0.2 > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for _ in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail start; sl_done; }
N=6
for i in $(seq 1 $N); do
	mkdir -p "$T/spool/s$i"
	head -c $(( (4 + i) * 1048576 )) /dev/urandom > "$T/spool/s$i/data"
	cp -r "$T/spool/s$i" "$T/copy/s$i"
done
for i in $(seq 1 $N); do touch "$T/spool/s$i/.sealed"; sleep 0.3; done
bad=""; looks=0; both=0; end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
	gone=""
	for i in $(seq 1 $N); do [ -e "$T/spool/s$i" ] || gone="$gone s$i"; done
	snap=$(sl_ls_table agent)	# read after: a deletion is journaled first
	looks=$((looks + 1))
	for ds in $gone; do
		awk -v n="$ds" '$2 == n && $3 == "transferred" { ok = 1 } END { exit !ok }' <<<"$snap" ||
		    bad="$bad $ds:$(awk -v n="$ds" '$2 == n { print $3 }' <<<"$snap")"
	done
	[ "$(awk '$3 == "transferring" || $3 == "committing"' <<<"$snap" | wc -l)" -ge 2 ] && both=$((both + 1))
	[ "$(echo $gone | wc -w)" = $N ] && break
	sleep 0.1
done
[ -z "$bad" ] && ok "over spool_high, $looks looks: every source gone was published first" ||
    fail "a source deleted before its dataset was published:$bad"
[ $both -gt 0 ] && ok "several in flight while retention ran ($both looks with 2 or more)" ||
    fail "never two datasets in flight at once"
left=""
for i in $(seq 1 $N); do [ -e "$T/spool/s$i" ] && left="$left s$i"; done
[ -z "$left" ] && ok "retention removed all $N sources once published" || fail "sources left:$left"
diffs=""
for i in $(seq 1 $N); do sl_same "$T/copy/s$i" "$T/sink.root/s$i" || diffs="$diffs s$i"; done
[ -z "$diffs" ] && ok "all $N published byte-identical to their copies" || fail "differ:$diffs"
grep -q 'SPOOL HIGH' "$T/agent.log" && ok "the high-water mark was reported" || fail "no SPOOL HIGH warning"
sl_done
