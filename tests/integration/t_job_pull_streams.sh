#!/usr/bin/env bash
# Route job (issue 20) against the real private sshd and single-node Slurm,
# set up as t_job_pull.sh (job_pull_lib.sh): the receiver's streams and the
# route from the ingest spool.
#   3b. one of the 4 TCP connections killed mid-pull (ss -K): the receiver
#      closes the other three, dials a new set, resumes; one receiver run,
#      one job, the final session again over 4 streams
#   7. [ingest] job_spool: a dataset sealed there takes route job (pulled,
#      reduced, result checked), one in another spool and one in the job
#      spool whose sidecar says route transfer go to the sink; a job_spool
#      that is no spool, or without [job], is refused naming the key
# Skips (SKIP, exit 77) only when Slurm itself cannot start here.
. "$(dirname "$0")/job_pull_lib.sh"

use receiver-sluice-job "127.0.0.1:$PPORT" 3 60
# --- 3b. one of the four connections killed mid-pull -------------------------------
mkds ds3b 64
id3b=$(submit ds3b)
if wait_acked "$id3b" 12; then
	# the receiver's end of one connection to the proxy (its local port)
	lp=$(ss -tnH state established dst "127.0.0.1:$PPORT" | awk '{print $3}' | head -1 | sed 's/.*://')
	if [ -n "$lp" ] && ss -K -tn src 127.0.0.1 sport = ":$lp" >/dev/null; then
		ok "one connection (receiver port $lp) killed mid-pull ($(acked "$id3b") chunks acked)"
	else
		fail "no connection of the receiver to kill: $(ss -tnH dst "127.0.0.1:$PPORT")"
	fi
	check_done "$id3b" ds3b "one stream killed mid-pull" 1
	job=$(h "$id3b" | awk '/^  job:/ {print $2}')
	grep -q "dataset=$id3b [0-3] of 4 streams left: closing them" "$D/slurm-$job.out" &&
	    ! grep -q "receiver run 2" "$D/slurm-$job.out" &&
	    ok "the receiver closed the other three and dialled again, in its first run" ||
	    fail "job $job: $(grep -v ' ok ' "$D/slurm-$job.out" | tail -5)"
	n=$(grep "dataset=$id3b receiver_holds=" "$T/agent.log" | tail -1 | sed 's/.*receiver_holds=\([0-9]*\).*/\1/')
	[ "$(grep -c "dataset=$id3b receiver_holds=" "$T/agent.log")" -ge 2 ] && [ "${n:-0}" -gt 0 ] &&
	    ok "a second session resumed: the receiver held $n chunks" ||
	    fail "no resume: $(grep "dataset=$id3b receiver_holds" "$T/agent.log")"
	streams_used "$id3b" "one stream killed mid-pull"
else
	fail "ds3b never got going"
fi

# --- 7. the route from the ingest spool ([ingest] job_spool) --------------------------
use receiver-sluice-job "127.0.0.1:$APORT" 3 20
for n in sp1 sp2 sp3; do mkds "$n" 3; done
printf '{"route": "transfer"}' > "$T/src/sp3/metadata.json"
cp -r "$T/src/sp1" "$T/src/sp3" "$T/spool/count/"
cp -r "$T/src/sp2" "$T/spool/plain/"
for n in count/sp1 plain/sp2 count/sp3; do touch "$T/spool/$n/.sealed"; done
idsp=
for _ in $(seq 300); do
	idsp=$("$SLUICE" -c "$T/agent.conf" ls 2>/dev/null | awk '$2 == "sp1" {print $1}')
	[ -n "$idsp" ] && break
	sleep 0.1
done
if [ -n "$idsp" ]; then
	h "$idsp" | grep -q "route: *job" && ok "sp1, sealed in the job_spool, is on route job ($idsp)" ||
	    fail "sp1: $(h "$idsp" | head -6)"
	check_done "$idsp" sp1 "job_spool" 1
else
	fail "sp1 was never ingested: $("$SLUICE" -c "$T/agent.conf" ls)"
fi
for n in sp2 sp3; do
	if sl_wait agent "$n" 60 >/dev/null && [ -d "$T/sink.root/$n" ] &&
	    ! h "$n" | grep -q "route: *job"; then
		ok "$n went to the sink on route transfer ($([ $n = sp2 ] && echo 'another spool' || echo 'its sidecar says so'))"
	else
		fail "$n: $(h "$n" | head -6); sink: $(ls "$T/sink.root")"
	fi
done
sl_stop agent
cp "$T/agent.conf" "$T/agent.conf.good"
sed -i "s|^job_spool = .*|job_spool = $T/elsewhere|" "$T/agent.conf"
out=$("$SLUICED" -c "$T/agent.conf" 2>&1 | head -3)
grep -q "job_spool: $T/elsewhere is not one of the spool directories" <<<"$out" &&
    ok "a job_spool that is no spool is refused: $(grep -o 'job_spool.*' <<<"$out" | head -1)" ||
    fail "bad job_spool: $out"
sed -e '/^\[hook\]/,/^\[ingest\]/{/^\[ingest\]/!d}' "$T/agent.conf.good" > "$T/agent.conf"
out=$("$SLUICED" -c "$T/agent.conf" 2>&1 | head -3)
grep -q "job_spool: route job is not configured here" <<<"$out" &&
    ok "a job_spool without [job] is refused: $(grep -o 'job_spool.*' <<<"$out" | head -1)" ||
    fail "job_spool without [job]: $out"
cp "$T/agent.conf.good" "$T/agent.conf"
sl_stop sink
sl_done
