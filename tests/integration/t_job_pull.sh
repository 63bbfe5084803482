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
#   3b. one of the 4 TCP connections killed mid-pull (ss -K): the receiver
#      closes the other three, dials a new set, resumes; one receiver run
#   4. scancel mid-pull: seen by squeue, resubmitted once, done
#   5. a receiver certificate from another CA, and one with the wrong CN,
#      are refused: nothing is sent, the dataset fails once resubmit is
#      spent
#   6. a job whose receiver never reaches the agent: cancelled after
#      [job] pull_timeout, the dataset fails "pull timed out"
#   7. [ingest] job_spool: a dataset sealed there takes route job (pulled,
#      reduced, result checked), one in another spool and one in the job
#      spool whose sidecar says route transfer go to the sink; a job_spool
#      that is no spool, or without [job], is refused naming the key
# Skips (SKIP, exit 77) only when Slurm itself cannot start here.
. "$(dirname "$0")/lib.sh"
set -u
[ "$(id -u)" = 0 ] || { echo "   FAIL t_job_pull needs root (sshd, test user, Slurm)"; exit 1; }
sl_setup
chmod 755 "$T"		# munged and the test user must reach $T/tb
TB=$T/tb
PROXY=
tb_down() {
	[ -n "$PROXY" ] && { kill "$PROXY" 2>/dev/null; wait "$PROXY" 2>/dev/null; }
	[ -e "$TB/env" ] && bash "$ROOT/scripts/testbed-down.sh" "$TB" >/dev/null 2>&1
	sl_cleanup
}
trap tb_down EXIT

bash "$ROOT/scripts/testbed-up.sh" "$TB" 2>"$T/testbed-up.log"
rc=$?
if [ "$rc" = 3 ]; then
	echo "   SKIP Slurm cannot start on this machine: $(grep 'slurm:' "$T/testbed-up.log" | tail -1)"
	exit 77
elif [ "$rc" != 0 ]; then
	cat "$T/testbed-up.log"
	fail "testbed-up.sh exit $rc"
	exit 1
fi
set -a; . "$TB/env"; set +a
ok "testbed up: sshd port $SSH_PORT, slurm idle"

# --- credentials on the "shared file system" (DATA_DIR), read by the job -----
D=$DATA_DIR
mkdir -p "$D/creds" "$D/shared" "$D/scratch"
bash "$ROOT/scripts/mkcerts.sh" --receiver "$T/certs" sluice-job
bash "$ROOT/scripts/mkcerts.sh" --receiver "$T/certs" sluice-job other-ca
mv "$T/certs/receiver-sluice-job.pem" "$T/certs/receiver-other.pem"
mv "$T/certs/receiver-sluice-job.key" "$T/certs/receiver-other.key"
bash "$ROOT/scripts/mkcerts.sh" --receiver "$T/certs" intruder
bash "$ROOT/scripts/mkcerts.sh" --receiver "$T/certs" sluice-job
for c in receiver-sluice-job receiver-other receiver-intruder; do
	cp "$T/certs/$c.pem" "$T/certs/$c.key" "$D/creds/"
done
cp "$T/certs/ca.pem" "$D/creds/"
chown -R "$SSH_USER" "$D"
chmod 600 "$D"/creds/*.key

APORT=$(sl_port)		# the agent's pull_listen
PPORT=$(sl_port)		# a proxy that slows the pull down (per connection)

# The job: the receiver, started again (up to 3 runs) if it dies; which
# credentials and which address come from files the test sets per case.
cat > "$D/pull-job.sh" <<EOF
#!/bin/sh
ID=\$1
S=$D/scratch/\$ID
mkdir -p "\$S"
echo "\$SLURM_JOB_ID" >> "$D/jobs-\$ID"
CERT=\$(cat "$D/creds/use")
n=0
while [ \$n -lt \$(cat "$D/creds/runs") ]; do
	n=\$((n + 1))
	echo "receiver run \$n"
	"$SLUICED" --pull "\$(cat "$D/agent-addr")" --dataset "\$ID" --root "\$S" \\
	    --ca "$D/creds/ca.pem" --cert "$D/creds/\$CERT.pem" --key "$D/creds/\$CERT.key" \\
	    --reduce 'find . -type f ! -name .sluice-manifest -printf "%s %P\\n" | LC_ALL=C sort -k2' \\
	    --result "$D/shared/\$ID.bytes" --timeout "\$(cat "$D/creds/timeout")" && exit 0
	sleep 0.5
done
exit 1
EOF
chmod 755 "$D/pull-job.sh"
use() {	# use CERT ADDR RUNS TIMEOUT
	echo "$1" > "$D/creds/use"
	echo "$2" > "$D/agent-addr"
	echo "$3" > "$D/creds/runs"
	echo "$4" > "$D/creds/timeout"
	chown "$SSH_USER" "$D/creds/use" "$D/agent-addr" "$D/creds/runs" "$D/creds/timeout"
}

sl_agent_cert jobagent
SPORT=$(sl_port)
sl_sink_conf sink "$SPORT"
sl_start sink || { fail "sink did not start"; exit 1; }
cat > "$T/agent.conf" <<EOF
[daemon]
role = agent
id = jobagent
journal = $T/agent.journal
[tls]
mode = on
ca = $T/certs/ca.pem
cert = $T/certs/agent-jobagent.pem
key = $T/certs/agent-jobagent.key
[agent]
destination = 127.0.0.1:$SPORT
chunk_size = 1M
[hook]
kind = ssh
host = 127.0.0.1
port = $SSH_PORT
user = $SSH_USER
key = $SSH_KEY
known_hosts = $KNOWN_HOSTS
connect_timeout = 5s
timeout = 30s
retry_min = 0.5s
[job]
pull_listen = 127.0.0.1:$APORT
peer_cn = sluice-job
submit = sbatch --parsable --job-name=sluice-{id} --output=$D/slurm-%j.out $D/pull-job.sh {id}
poll = 1s
resubmit = 1
pull_timeout = 25s
[ingest]
spool = $T/spool/count, $T/spool/plain
job_spool = $T/spool/count
EOF
mkdir -p "$T/spool/count" "$T/spool/plain"
"$SLUICED" -n -c "$T/agent.conf" >/dev/null || fail "agent config: $("$SLUICED" -n -c "$T/agent.conf" 2>&1)"
sl_start agent || { fail "agent did not start"; exit 1; }

python3 "$ROOT/tests/integration/slowproxy.py" "$PPORT" "$APORT" $((1024 * 1024)) reverse \
    > "$T/proxy.log" 2>&1 &
PROXY=$!

# mkds NAME MB: a source tree with files of several sizes (one empty)
mkds() {
	local s=$T/src/$1
	mkdir -p "$s/sub dir"
	head -c $(($2 * 1024 * 1024)) /dev/urandom > "$s/big.bin"
	head -c 1234567 /dev/urandom > "$s/sub dir/mid file.dat"
	head -c 10 /dev/urandom > "$s/small"
	: > "$s/empty"
}
# expect NAME: the reduction computed here, from the source
expect() {
	(cd "$T/src/$1" && find . -type f -printf "%s %P\n" | LC_ALL=C sort -k2)
}
submit() {	# submit NAME -> prints the id
	sl_submit agent "$T/src/$1" --route job | awk '{print $2}'
}
state() { "$SLUICE" -c "$T/agent.conf" show "$1" | awk '/^  state:/ {print $2}'; }
acked() { "$SLUICE" -c "$T/agent.conf" show "$1" | awk '/^  done:/ {split($2, a, "/"); print a[1]}'; }
# wait_for ID STATE [SECS]
wait_for() {
	local i
	for i in $(seq $((${3:-60} * 10))); do
		[ "$(state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_acked ID N: at least N chunks acked (mid-pull)
wait_acked() {
	local i a
	for i in $(seq 600); do
		a=$(acked "$1")
		[ "${a:-0}" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# check_done ID NAME WHAT JOBS: done, result byte-checked, history, job count
check_done() {
	local id=$1 name=$2 what=$3 jobs=$4 h
	if ! sl_wait agent "$id" 120 >/dev/null; then
		fail "$what: not done: $("$SLUICE" -c "$T/agent.conf" show "$id" | head -12)"
		return
	fi
	if cmp -s <(expect "$name") "$D/shared/$id.bytes"; then
		ok "$what: result on the shared directory matches the source ($(wc -l < "$D/shared/$id.bytes") files)"
	else
		fail "$what: result differs: $(diff <(expect "$name") "$D/shared/$id.bytes" 2>&1 | head -5)"
	fi
	ls "$D/shared/" | grep -q sluice-tmp && fail "$what: a temp result file is left"
	if sl_same "$T/src/$name" "$D/scratch/$id/$name" && sl_manifest_ok "$D/scratch/$id/$name"; then
		ok "$what: the scratch copy is byte-identical, its manifest verifies"
	else
		fail "$what: the scratch copy differs from the source"
	fi
	h=$("$SLUICE" -c "$T/agent.conf" show "$id")
	if echo "$h" | grep -q -- '-> job_submitted' && echo "$h" | grep -q -- '-> pulling' &&
	    echo "$h" | grep -q -- '-> pulled' && echo "$h" | grep -q -- '-> reducing' &&
	    echo "$h" | grep -q -- '-> done'; then
		ok "$what: journal job_submitted -> pulling -> pulled -> reducing -> done"
	else
		fail "$what: history: $(echo "$h" | sed -n '/history:/,$p')"
	fi
	if [ "$(wc -l < "$D/jobs-$id")" = "$jobs" ] &&
	    echo "$h" | grep -q "submission $jobs)"; then
		ok "$what: $jobs job(s) ran for it ($(tr '\n' ' ' < "$D/jobs-$id")), the journal says submission $jobs"
	else
		fail "$what: jobs $(tr '\n' ' ' < "$D/jobs-$id"), want $jobs; $(echo "$h" | grep 'job:')"
	fi
}
h() { "$SLUICE" -c "$T/agent.conf" show "$1"; }
# streams_used ID WHAT: the dataset's last pull session (the one that got
# its HAVE) had 4 streams and each carried chunks (the agent logs every
# stream as it closes, with the DATA frames it queued on it)
streams_used() {
	local id=$1 what=$2 s n
	s=$(grep -o "session=[0-9a-f]* dataset=$id receiver_holds" "$T/agent.log" | tail -1 |
	    sed 's/session=\([0-9a-f]*\).*/\1/')
	n=$(grep -c "dataset=$id stream=[0-3]/4 session=$s closed .*chunks_sent=[1-9]" "$T/agent.log")
	if [ -n "$s" ] && [ "$n" = 4 ] && grep -q "dataset=$id name=.* pulled=.* streams=4" "$T/agent.log"; then
		ok "$what: its last session $s used 4 streams: $(grep "dataset=$id stream=[0-3]/4 session=$s closed" "$T/agent.log" | grep -o 'stream=[0-9/]* .*chunks_sent=[0-9]*' | sed 's/ session.*chunks_sent=/:/' | tr '\n' ' ')"
	else
		fail "$what: session ${s:-none}: $n streams carried chunks: $(grep "dataset=$id stream=" "$T/agent.log" | tail -4)"
	fi
}

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
