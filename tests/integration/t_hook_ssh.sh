#!/usr/bin/env bash
# The completion hook's ssh kind against a real private sshd and a real
# single-node Slurm (scripts/testbed-up.sh), through tests/hookrun, which
# runs hook_expand + hook_run_sync from an agent config exactly as the
# agent does:
#   - sbatch --parsable over SSH returns a job id; the job runs and writes
#     its output next to the dataset
#   - hostile dataset names and metadata values do not inject
#   - a changed host key and an unknown host are refused, wrong user key
#     is refused
#   - an unreachable port fails fast, a silent server fails within
#     connect_timeout, a hanging command within timeout
# Skips (SKIP, exit 77) only when Slurm itself cannot start here (testbed-up.sh
# exit 3), saying why.
. "$(dirname "$0")/lib.sh"
set -u
HOOKRUN=${HOOKRUN:-$ROOT/tests/hookrun}
[ -n "${HOOKRUN_SET:-}" ] || make -C "$ROOT" --no-print-directory -s tests/hookrun >/dev/null || { echo "   FAIL build tests/hookrun"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "   FAIL t_hook_ssh needs root (sshd, test user, Slurm)"; exit 1; }

T=$(mktemp -d /tmp/sluice-hook.XXXXXX)
chmod 755 "$T"		# munged and the test user must reach $T/tb
TB=$T/tb
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	bash "$ROOT/scripts/testbed-down.sh" "$TB"
	rm -f "/tmp/pwned-$$" "/tmp/pwned-$$-meta" "/tmp/pwned-$$-path"
	if [ "$SL_FAILED" != 0 ] || [ "${SLUICE_KEEP:-0}" = 1 ]; then
		echo "   (files kept in $T)" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

t0=$(date +%s.%N)
sl_testbed_up "$TB"
ok "testbed up in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")s: sshd port $SSH_PORT, slurm idle"

head -c 32 /dev/urandom > "$T/secret"
chmod 600 "$T/secret"

# conf NAME KEY=VALUE...: an agent config with a [hook] section; defaults
# point at the testbed, KEY=VALUE pairs override [hook] keys
conf() {
	local name=$1 kv
	shift
	declare -A h=([kind]=ssh [host]=127.0.0.1 [port]=$SSH_PORT [user]=$SSH_USER
	    [key]=$SSH_KEY [known_hosts]=$KNOWN_HOSTS [connect_timeout]=3s
	    [timeout]=20s [remote_root]=$DATA_DIR
	    [command]='printf %s {dataset}')
	for kv in "$@"; do h[${kv%%=*}]=${kv#*=}; done
	{
		printf '[daemon]\nrole = agent\njournal = %s\n' "$T/journal"
		printf '[tls]\nmode = off\nsecret_file = %s\n' "$T/secret"
		printf '[agent]\ndestination = 127.0.0.1:1\n[hook]\n'
		for kv in "${!h[@]}"; do printf '%s = %s\n' "$kv" "${h[$kv]}"; done
	} > "$T/$name.conf"
}
# run NAME DATASET [ID [K=V...]]: hookrun, output in $T/NAME.out; sets
# R_RC R_STATUS R_MSG R_OUT R_SECS
run() {
	local name=$1 s e
	shift
	s=$(date +%s.%N)
	"$HOOKRUN" "$T/$name.conf" "$@" > "$T/$name.out" 2>&1
	e=$(date +%s.%N)
	R_SECS=$(echo "$e - $s" | bc)
	R_RC=$(sed -n 's/^rc=\(-\{0,1\}[0-9]*\) .*/\1/p' "$T/$name.out")
	R_STATUS=$(sed -n 's/^rc=.* status=\(-\{0,1\}[0-9]*\) .*/\1/p' "$T/$name.out")
	R_MSG=$(sed -n 's/^msg=//p' "$T/$name.out")
	R_OUT=$(sed -n '/^out=/,/^err=/p' "$T/$name.out" | sed '1s/^out=//; $d')
}
lt() { [ "$(echo "$1 < $2" | bc)" = 1 ]; }

# --- 1. sbatch over ssh, the job runs and writes next to the dataset ----------
conf sbatch 'command=mkdir -p {dataset_path} && cd {dataset_path} && sbatch --parsable --job-name=sluice-{id} --wrap "echo reduced {id} on \$(hostname -s) > reduced.txt"'
run sbatch scan_0001 ds-0001
jobid=$R_OUT
if [ "$R_RC" = 0 ] && [ "$R_STATUS" = 0 ] && [[ "$jobid" =~ ^[0-9]+$ ]]; then
	ok "sbatch over ssh: job id $jobid in ${R_SECS}s"
else
	fail "sbatch over ssh: rc=$R_RC status=$R_STATUS out=$jobid: $(cat "$T/sbatch.out")"
fi
out=$DATA_DIR/scan_0001/reduced.txt
for _ in $(seq 150); do [ -s "$out" ] && break; sleep 0.1; done
if [ "$(cat "$out" 2>/dev/null)" = "reduced ds-0001 on $(hostname -s)" ]; then
	ok "job $jobid ran as $(stat -c %U "$out") and wrote $out"
else
	fail "job $jobid output missing or wrong: $(cat "$out" 2>&1); $(scontrol show job -o "$jobid" 2>&1 | grep -o 'JobState=[A-Z]*')"
fi
st=$(scontrol show job -o "$jobid" 2>/dev/null | grep -o 'JobState=[A-Z]*')
for _ in $(seq 50); do [ "$st" = JobState=COMPLETED ] && break; sleep 0.1
	st=$(scontrol show job -o "$jobid" 2>/dev/null | grep -o 'JobState=[A-Z]*'); done
[ "$st" = JobState=COMPLETED ] && ok "scontrol: job $jobid $st" || fail "job $jobid: ${st:-no state}"

# --- 2. hostile names and metadata do not inject ------------------------------
hostile="a'; touch /tmp/pwned-$$; '"
meta_h='$(touch /tmp/pwned-'$$'-meta)`touch /tmp/pwned-'$$'-meta`'
conf hostile 'command=printf "%s|%s|%s" {dataset} {meta.note} {id}'
run hostile "$hostile" "x\"; touch /tmp/pwned-$$; \"" "note=$meta_h"
if [ "$R_RC" = 0 ] && [ "$R_OUT" = "$hostile|$meta_h|x\"; touch /tmp/pwned-$$; \"" ] &&
    [ ! -e "/tmp/pwned-$$" ] && [ ! -e "/tmp/pwned-$$-meta" ]; then
	ok "hostile dataset/meta/id reach the remote side verbatim, nothing injected"
else
	fail "hostile: rc=$R_RC out=[$R_OUT] pwned=$(ls /tmp/pwned-$$* 2>/dev/null)"
fi
# through a real sbatch, with the hostile name as a directory
hostile2="b'; touch /tmp/pwned-$$-path; echo '\$(id)\`id\`
line2"
run sbatch "$hostile2" ds-0002
out2=$DATA_DIR/$hostile2/reduced.txt
for _ in $(seq 150); do [ -s "$out2" ] && break; sleep 0.1; done
if [ "$R_RC" = 0 ] && [[ "$R_OUT" =~ ^[0-9]+$ ]] && [ -s "$out2" ] && [ ! -e "/tmp/pwned-$$-path" ]; then
	ok "hostile dataset name through sbatch: job $R_OUT wrote into the literal directory"
else
	fail "hostile sbatch: rc=$R_RC out=[$R_OUT] file=$(ls -d "$DATA_DIR"/b* 2>&1) pwned=$(ls /tmp/pwned-$$* 2>/dev/null)"
fi

# --- 3. host key checks --------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$T/other_host_key"
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$T/other_host_key.pub")" > "$T/changed_known_hosts"
conf changed "known_hosts=$T/changed_known_hosts" 'command=touch /tmp/pwned-'$$
run changed x
if [ "$R_RC" = -7 ] && [[ "$R_MSG" == *CHANGED* ]] && [ ! -e "/tmp/pwned-$$" ]; then
	ok "changed host key refused: $R_MSG"
else
	fail "changed host key: rc=$R_RC msg=$R_MSG"
fi
: > "$T/empty_known_hosts"
conf unknown "known_hosts=$T/empty_known_hosts" 'command=touch /tmp/pwned-'$$
run unknown x
if [ "$R_RC" = -7 ] && [[ "$R_MSG" == *"not in $T/empty_known_hosts"* ]] && [ ! -e "/tmp/pwned-$$" ]; then
	ok "unknown host refused: $R_MSG"
else
	fail "unknown host: rc=$R_RC msg=$R_MSG"
fi
# a known_hosts entry for another port does not count for this one
echo "[127.0.0.1]:1 $(cut -d' ' -f1,2 "$SSH_HOST_PUB")" > "$T/otherport_known_hosts"
conf otherport "known_hosts=$T/otherport_known_hosts"
run otherport x
[ "$R_RC" = -7 ] && ok "key known for another port only: refused" || fail "other port: rc=$R_RC msg=$R_MSG"
# wrong user key
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger_key"
conf stranger "key=$T/stranger_key"
run stranger x
if [ "$R_RC" = -7 ] && [[ "$R_MSG" == *authentication* ]]; then
	ok "unauthorised user key refused: $R_MSG"
else
	fail "stranger key: rc=$R_RC msg=$R_MSG"
fi

# --- 4. unreachable, silent, hanging ------------------------------------------
dead=$(sl_port)
conf dead "port=$dead" connect_timeout=2s
run dead x
if [ "$R_RC" = -5 ] && lt "$R_SECS" 2.5; then
	ok "unreachable port $dead: rc=$R_RC in ${R_SECS}s: $R_MSG"
else
	fail "unreachable: rc=$R_RC in ${R_SECS}s: $R_MSG"
fi
# a server that accepts and never speaks: the handshake times out
silent=$(sl_port)
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); print("up", flush=True)
c=[]
while True: c.append(s.accept())' "$silent" > "$T/silent.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q up "$T/silent.log" 2>/dev/null && break; sleep 0.05; done
conf silent "port=$silent" connect_timeout=1s
run silent x
if [ "$R_RC" = -5 ] && lt "$R_SECS" 2.0 && [[ "$R_MSG" == *"timed out"* ]]; then
	ok "silent server: rc=$R_RC in ${R_SECS}s: $R_MSG"
else
	fail "silent server: rc=$R_RC in ${R_SECS}s: $R_MSG"
fi
conf hang timeout=1s 'command=sleep 30'
run hang x
if [ "$R_RC" = -5 ] && lt "$R_SECS" 2.5 && [[ "$R_MSG" == *"timed out"* ]]; then
	ok "hanging command: rc=$R_RC in ${R_SECS}s: $R_MSG"
else
	fail "hanging command: rc=$R_RC in ${R_SECS}s: $R_MSG"
fi
# exit status and stderr tail come back
conf status 'command=echo out; echo problem >&2; exit 9'
run status x
if [ "$R_RC" = 0 ] && [ "$R_STATUS" = 9 ] && [ "$R_OUT" = out ] && grep -q '^err=problem' "$T/status.out"; then
	ok "remote exit status 9 and stderr tail returned"
else
	fail "status: $(cat "$T/status.out")"
fi

sl_done
