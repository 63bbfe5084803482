#!/usr/bin/env bash
# Route job (issue 20) against the real private sshd and single-node Slurm
# (scripts/testbed-up.sh): the agent submits a job over SSH (fenced), the
# job's receiver (`sluiced --pull`) dials the agent on 127.0.0.1, pulls the
# dataset into the job's scratch, reduces it (bytes per file) and stores
# the result on the "shared" directory, then reports; the agent journals
# job_submitted -> pulling -> pulled -> reducing -> done.
#   1. end to end, the result byte-checked, one job; beside it a dataset
#      on route transfer goes to the sink as usual (both routes at once);
#      the receiver's 4 streams (the default) each carried chunks
#   2. kill -9 of the agent mid-pull: resumes, one job, over 4 streams
#   3. kill -9 of the receiver mid-pull: the job starts it again, it
#      resumes from its scratch (HAVE), one job, over 4 streams
#   4. scancel mid-pull: seen by squeue, resubmitted once, done
#   5. a receiver certificate from another CA, and one with the wrong CN,
#      are refused: nothing is sent, the dataset fails once resubmit is
#      spent
#   6. a job whose receiver never reaches the agent: cancelled after
#      [job] pull_timeout, the dataset fails "pull timed out"
# (t_job_pull_streams.sh: one stream of four lost, [ingest] job_spool.)
# Skips (SKIP, exit 77) only when Slurm itself cannot start here.
. "$(dirname "$0")/job_pull_lib.sh"

# --- 1. end to end --------------------------------------------------------------
mkds ds1 20
use receiver-sluice-job "127.0.0.1:$APORT" 3 20
mkds plain 20
id1=$(submit ds1)
[[ "$id1" =~ ^[0-9a-f]{16}$ ]] && ok "submitted ds1 --route job as $id1" || fail "submit: $id1"
sl_submit agent "$T/src/plain" >/dev/null || fail "submit plain (route transfer)"
check_done "$id1" ds1 "end to end" 1
if sl_wait agent plain 60 >/dev/null && sl_same "$T/src/plain" "$T/sink.root/plain" &&
    [ ! -e "$T/sink.root/ds1" ]; then
	ok "beside it, plain (route transfer) was pushed to the sink; ds1 never went there"
else
	fail "route transfer beside route job: $("$SLUICE" -c "$T/agent.conf" show plain | head -4); $(ls "$T/sink.root")"
fi
job=$(h "$id1" | awk '/^  job:/ {print $2}')
grep -q "receiver run 1" "$D/slurm-$job.out" && ! grep -q "receiver run 2" "$D/slurm-$job.out" &&
    ok "job $job: one receiver run" || fail "job $job output: $(cat "$D/slurm-$job.out")"
streams_used "$id1" "end to end"
grep -q "route: *job" <(h "$id1") && h "$id1" | grep -q "result:  result=$D/shared/$id1.bytes" &&
    ok "show: route job, job $job, the result's path and digest" || fail "show: $(h "$id1" | head -12)"

# --- 2. kill -9 of the agent mid-pull -----------------------------------------------
mkds ds2 64
use receiver-sluice-job "127.0.0.1:$PPORT" 3 60
id2=$(submit ds2)
if wait_acked "$id2" 12; then
	w=$("$SLUICE" -c "$T/agent.conf" watch --interval 0.2 --count 1 | cat)
	echo "$w" | grep -q " ds2 pulling [0-9.]*%" && ok "watch: ds2 pulling, with its progress" ||
	    fail "watch: $w"
	"$SLUICE" -c "$T/agent.conf" status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(x["name"] == "ds2" and x["state"] == "pulling" for x in d["active"]) else 1)' &&
	    ok "status --json: ds2 active, pulling" || fail "status: $("$SLUICE" -c "$T/agent.conf" status)"
	a=$(acked "$id2")
	sl_kill9 agent
	ok "agent killed -9 mid-pull ($a of $("$SLUICE" -c "$T/agent.conf" show "$id2" | awk '/^  done:/ {split($2, a, "/"); print a[2]}') chunks acked)"
	sleep 1
	sl_start agent || fail "agent did not restart"
	check_done "$id2" ds2 "agent killed mid-pull" 1
	grep -q "dataset=$id2 receiver_holds=[1-9]" "$T/agent.log" &&
	    ok "the pull resumed from what the receiver held: $(grep -o "dataset=$id2 receiver_holds=[0-9/]*" "$T/agent.log" | tail -1)" ||
	    fail "no resume seen in the agent log"
	streams_used "$id2" "agent killed mid-pull"
else
	fail "ds2 never got going: $(h "$id2" | head -8)"
fi

# --- 3. kill -9 of the receiver mid-pull --------------------------------------------
mkds ds3 64
id3=$(submit ds3)
if wait_acked "$id3" 12; then
	rpid=$(pgrep -f -- "--dataset $id3 " | head -1)
	if [ -n "$rpid" ]; then
		kill -9 "$rpid"
		ok "receiver (pid $rpid) killed -9 mid-pull ($(acked "$id3") chunks acked)"
	else
		fail "no receiver process for $id3"
	fi
	check_done "$id3" ds3 "receiver killed mid-pull" 1
	job=$(h "$id3" | awk '/^  job:/ {print $2}')
	grep -q "receiver run 2" "$D/slurm-$job.out" && ok "job $job started its receiver again" ||
	    fail "job $job: $(cat "$D/slurm-$job.out" | tail -5)"
	n=$(grep "dataset=$id3 receiver_holds=" "$T/agent.log" | tail -1 | sed 's/.*receiver_holds=\([0-9]*\).*/\1/')
	[ "${n:-0}" -gt 0 ] && ok "the second receiver resumed: it held $n chunks" ||
	    fail "no resume: $(grep "dataset=$id3 receiver_holds" "$T/agent.log")"
	streams_used "$id3" "receiver killed mid-pull"
else
	fail "ds3 never got going"
fi

# --- 4. scancel mid-pull: seen, resubmitted once --------------------------------------
mkds ds4 64
id4=$(submit ds4)
if wait_acked "$id4" 8; then
	job=$(h "$id4" | awk '/^  job:/ {print $2}')
	scancel "$job"
	ok "scancel $job mid-pull"
	check_done "$id4" ds4 "after scancel" 2
	h "$id4" | grep -q "job $job ended.*while pulling: submitting the job (submission 2" &&
	    ok "the journal says why it was resubmitted" ||
	    fail "no resubmission reason: $(h "$id4" | sed -n '/history:/,$p')"
	job2=$(h "$id4" | awk '/^  job:/ {print $2}')
	[ "$job2" != "$job" ] && ok "a second job $job2 did the pull" || fail "same job id $job2"
else
	fail "ds4 never got going"
fi

# --- 5. wrong receiver certificates are refused ---------------------------------------
for c in other intruder; do
	mkds "bad-$c" 1
	use "receiver-$c" "127.0.0.1:$APORT" 1 4
	id=$(submit "bad-$c")
	if sl_wait agent "$id" 90 >/dev/null; then
		fail "receiver-$c: the dataset went through"
	else
		s=$(state "$id")
		err=$(h "$id" | awk '/^  error:/' )
		if [ "$s" = failed ] && echo "$err" | grep -q "before pulling (submitted 2 times"; then
			ok "receiver-$c: failed after 2 jobs: ${err#  error:   }"
		else
			fail "receiver-$c: state $s: $err"
		fi
		h "$id" | grep -q '^  done:    0/[0-9]* chunks; sent 0, ' &&
		    ok "receiver-$c: nothing was sent" || fail "receiver-$c: $(h "$id" | grep '^  done:')"
		[ -e "$D/shared/$id.bytes" ] && fail "receiver-$c: a result exists"
	fi
done
grep -q "certificate verify failed\|certificate" "$T/agent.log" &&
    ok "agent log: $(grep -o 'conn=[^ ]* .*certificate[^"]*' "$T/agent.log" | grep -v CN | head -1 | cut -c1-150)" ||
    fail "no TLS refusal in the agent log"
grep -q "has CN \"*intruder" "$T/agent.log" &&
    ok "agent log: $(grep -o 'refused: the receiver.*' "$T/agent.log" | head -1)" ||
    fail "no CN refusal in the agent log"

# --- 6. the receiver never reaches the agent: pull timed out, job cancelled ---------
mkds lost 1
use receiver-sluice-job "127.0.0.1:$(sl_port)" 1 120	# nothing listens there
idl=$(submit lost)
if sl_wait agent "$idl" 90 >/dev/null; then
	fail "lost: went through"
else
	err=$(h "$idl" | awk '/^  error:/')
	job=$(h "$idl" | awk '/^  job:/ {print $2}')
	[ "$(state "$idl")" = failed ] && echo "$err" | grep -q "pull timed out: job $job ran for" &&
	    ok "unreachable agent: ${err#  error:   }" || fail "lost: $(state "$idl"): $err"
	st=
	for _ in $(seq 100); do
		st=$(scontrol show job -o "$job" 2>/dev/null | grep -o 'JobState=[A-Z]*')
		[ "$st" = JobState=CANCELLED ] && break
		sleep 0.1
	done
	[ "$st" = JobState=CANCELLED ] && ok "job $job was cancelled ($st)" || fail "job $job: ${st:-no state}"
	[ "$(wc -l < "$D/jobs-$idl")" = 1 ] && ok "and not resubmitted" || fail "jobs: $(cat "$D/jobs-$idl")"
fi

sl_stop agent
sl_stop sink
sl_done
