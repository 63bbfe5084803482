# job_pull_lib.sh: the set-up shared by t_job_pull.sh and
# t_job_pull_streams.sh (sourced): the private sshd and single-node Slurm
# (scripts/testbed-up.sh), receiver credentials on the "shared" directory,
# the job script, a sink, an agent with [job] and an [ingest] job_spool,
# the slow proxy, and the helpers (mkds, submit, check_done, ...).
# Exits 77 (SKIP) only when Slurm itself cannot start here.
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

sl_testbed_up "$TB"
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

