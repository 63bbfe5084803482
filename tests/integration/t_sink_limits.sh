#!/usr/bin/env bash
# The sink's limits against peers that lean on them (limitpeer.py, plaintext
# + HMAC HELLO), with a real agent moving data meanwhile:
#  1. before authentication: a client dripping a byte a second is closed at
#     the handshake deadline; eight 64 MiB frames announced before HELLO are
#     refused at their header; a flood of slow pre-auth connections from
#     another address (more than max_connections) does not lock the agent
#     out: its datasets complete while all of it goes on;
#  2. per-agent caps, each refusal naming the limit and its value: files
#     per OPEN, memory, datasets receiving (counting those whose peer has
#     left, whose partial directories are closed until resumed);
#  3. a symlink planted in a .partial: the DATA that meets it fails the
#     dataset for good (one fatal ERROR, a second OPEN refused), nothing is
#     written outside;
#  4. published modes come from the sink's policy, not the agent's;
#  5. the manifest's name is refused at submit, at ingest and by the sink.
. "$(dirname "$0")/lib.sh"
sl_setup
LP=$(dirname "$0")/limitpeer.py

port=$(sl_port)
sl_sink_conf sink "$port" tls=off handshake_timeout=3s max_preauth=16 max_connections=32 \
    max_datasets_per_agent=3 max_files_per_dataset=20000 max_memory_per_agent=1M
sl_start sink || { fail "start sink"; sl_done; }
root=$T/sink.root
addr=127.0.0.1:$port
alive() { kill -0 "${SL_PID[sink]}" 2>/dev/null; }
nfd() { ls "/proc/${SL_PID[sink]}/fd" | wc -l; }

mkdir -p "$T/src/big/sub" "$T/src/second"
head -c 48000000 /dev/urandom > "$T/src/big/sub/data.bin"
echo small > "$T/src/big/note"
head -c 5000000 /dev/urandom > "$T/src/second/x"

# ---- 1. pre-auth, while a real agent moves data (from 127.0.0.1; the
# attackers from 127.0.0.2-4: the eviction rule looks at addresses)
python3 "$LP" "$addr" "$T/secret" flood 48 20 127.0.0.2 > "$T/flood.out" 2>&1 &
floodpid=$!
sleep 1		# the flood holds every slot it can get
python3 "$LP" "$addr" "$T/secret" drip 12 127.0.0.3 > "$T/drip.out" 2>&1 &
drippid=$!
python3 "$LP" "$addr" "$T/secret" bigframe 8 127.0.0.4 > "$T/big.out" 2>&1 &
bigpid=$!
sleep 0.5
sl_agent_conf agent "$port" tls=off
sl_start agent || fail "start agent"
t0=$(date +%s.%N)
sl_submit agent "$T/src/big" --name big >/dev/null || fail "submit big"
sl_submit agent "$T/src/second" --name second >/dev/null || fail "submit second"
# the flood lasts 20 s: an agent locked out until it ends misses these
if sl_wait agent big 12 >/dev/null && sl_wait agent second 4 >/dev/null &&
    sl_same "$T/src/big" "$root/big" && sl_same "$T/src/second" "$root/second"; then
	ok "real agent during the flood, drip and big frames: 2 datasets published," \
	    "byte-identical, in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s"
else
	fail "real agent locked out or stalled: $(tail -3 "$T/agent.log")"
fi
kill -0 $floodpid 2>/dev/null && ok "(the flood was still going on when the agent finished)" ||
    fail "the flood ended before the agent finished: not a fair test"
wait $drippid $bigpid $floodpid
out=$(cat "$T/drip.out")
after=$(sed -n 's/.*after=\([0-9.]*\).*/\1/p' <<<"$out")
if grep -q '^closed' <<<"$out" && awk -v a="${after:-99}" 'BEGIN { exit !(a >= 2.5 && a <= 5) }'; then
	ok "slow drip (a byte a second) closed at the 3 s handshake deadline: $out"
else
	fail "slow drip: $out (want closed after ~3 s)"
fi
grep -q 'not authenticated within 3s (handshake_timeout)' "$T/sink.log" &&
    ok "log: $(grep -m1 'handshake_timeout' "$T/sink.log")" || fail "no deadline log line"
nclosed=$(grep -c '^closed' "$T/big.out")
maxsent=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^sent=/) { v = substr($i, 6); if (v > m) m = v } } END { print m + 0 }' "$T/big.out")
if [ "$nclosed" = 8 ] && [ "$maxsent" -lt 33554432 ]; then
	ok "8 x 64 MiB frames before HELLO: all closed, at most $maxsent bytes taken by the sink"
else
	fail "64 MiB pre-auth frames: $(tr '\n' ' ' < "$T/big.out")"
fi
grep -q 'frame of 67108864 bytes is over the limit of 4096 bytes' "$T/sink.log" &&
    ok "log: $(grep -m1 'over the limit of 4096' "$T/sink.log" | cut -c1-120)" ||
    fail "no log line for the pre-auth frame limit"
opened=$(sed -n 's/opened=//p' "$T/flood.out")
nev=$(grep -c 'max_preauth' "$T/sink.log")
if [ "${opened:-0}" -gt 48 ] && [ "$nev" -gt 0 ]; then
	ok "flood of 48 slow pre-auth connections from 127.0.0.2 (max_preauth=16): $opened opened," \
	    "$nev eviction log lines, one a second at most ($(grep -m1 max_preauth "$T/sink.log" | cut -c1-110)...)"
else
	fail "flood: opened=$opened evictions=$nev"
fi
grep -q 'conn=127.0.0.1:[0-9]* closed before authenticating' "$T/sink.log" &&
    fail "a connection from the agent's address was evicted" ||
    ok "no connection from the agent's address was evicted"
alive && ok "sink alive after the pre-auth abuse" || fail "sink died (pre-auth)"
sl_stop agent

# ---- 2. per-agent caps
out=$(python3 "$LP" "$addr" "$T/secret" open files-agent manyfiles 20001)
grep -q "code=3 .*max_files_per_dataset = 20000" <<<"$out" &&
    ok "20,001 files in one OPEN: $out" || fail "files cap: $out"
out=$(python3 "$LP" "$addr" "$T/secret" open mem-agent bigtable 19000)
grep -q "code=3 .*max_memory_per_agent = 1048576" <<<"$out" &&
    ok "19,000-file table over 1 MiB: $out" || fail "memory cap: $out"
fd0=$(nfd)
out=$(python3 "$LP" "$addr" "$T/secret" opens capper lim 4 2)
if [ "$(grep -c ' have$' <<<"$out")" = 3 ] &&
    grep -q "^lim-3 error .*code=3 .*already has 3 datasets receiving .*max_datasets_per_agent = 3" <<<"$out"; then
	ok "4th dataset in flight refused: $(tail -1 <<<"$out")"
else
	fail "datasets cap: $out"
fi
sleep 0.5
fd1=$(nfd)
grep -q 'agent=capper has no connection left: closed the partial directories of its 3' "$T/sink.log" &&
    [ "$fd1" -le "$fd0" ] &&
    ok "peer gone: its 3 partial directories closed (descriptors $fd0 before, $fd1 after)" ||
    fail "partial directories still pinned: fds $fd0 -> $fd1; $(grep 'no connection left' "$T/sink.log")"
out=$(python3 "$LP" "$addr" "$T/secret" open capper lim-9 1)
grep -q "code=3 .*max_datasets_per_agent = 3" <<<"$out" &&
    ok "its datasets still count after it left: $out" || fail "left datasets not counted: $out"
out=$(python3 "$LP" "$addr" "$T/secret" open capper lim-0 2)
[ "$out" = have ] && ok "resume of lim-0: HAVE (partial directory reopened)" ||
    fail "resume lim-0: $out"
alive && ok "sink alive after the caps" || fail "sink died (caps)"

# ---- 3. a symlink planted in a .partial
mkdir -p "$T/outside"
echo precious > "$T/outside/target"
out=$(python3 "$LP" "$addr" "$T/secret" symlink sym-agent sym "$root/.sym.partial" "$T/outside/target")
if grep -q "^error .*code=15 .*symlink" <<<"$out"; then
	ok "DATA meets a planted symlink: fatal for the dataset: $(head -1 <<<"$out")"
else
	fail "symlink in .partial: $out"
fi
grep -q "^again error .*code=16 .*failed at the sink earlier" <<<"$out" &&
    ok "OPEN of it again is refused for good: $(tail -1 <<<"$out" | cut -c1-140)" ||
    fail "second OPEN of sym: $out"
[ "$(cat "$T/outside/target")" = precious ] && ok "nothing written through the symlink" ||
    fail "written through the symlink"
state=$("$SLUICE" -c "$T/sink.conf" ls --json | python3 -c '
import json,sys
for d in json.load(sys.stdin):
    if d["name"] == "sym": print(d["state"], d.get("error", ""))')
grep -q "^failed .*symlink" <<<"$state" && ok "sink journal: sym $state" ||
    fail "sink journal: sym is '$state'"

# ---- 4. published modes: the sink's policy (0644 / 0755), not the agent's
sl_start agent || fail "restart agent"
mkdir -p "$T/src/modes/open/deep"
echo a > "$T/src/modes/rw-all"; chmod 0666 "$T/src/modes/rw-all"
echo b > "$T/src/modes/run.sh"; chmod 0777 "$T/src/modes/run.sh"
echo c > "$T/src/modes/open/deep/private"; chmod 0600 "$T/src/modes/open/deep/private"
chmod 0777 "$T/src/modes/open" "$T/src/modes/open/deep"
sl_submit agent "$T/src/modes" --name modes >/dev/null || fail "submit modes"
if sl_wait agent modes 20 >/dev/null; then
	got=$(cd "$root/modes" && stat -c '%a %n' . rw-all run.sh open open/deep open/deep/private .sluice-manifest | tr '\n' ' ')
	want="755 . 644 rw-all 755 run.sh 755 open 755 open/deep 644 open/deep/private 644 .sluice-manifest "
	[ "$got" = "$want" ] && ok "published modes from the policy: $got" ||
	    fail "published modes: got '$got' want '$want'"
else
	fail "modes dataset not transferred"
fi

# ---- 5. the manifest's name
mkdir -p "$T/src/withman"
echo data > "$T/src/withman/a"
echo fake > "$T/src/withman/.sluice-manifest"
if out=$("$SLUICE" -c "$T/agent.conf" submit "$T/src/withman" --name withman 2>&1); then
	fail "submit of a dataset with .sluice-manifest accepted: $out"
else
	grep -q 'reserved' <<<"$out" && ok "submit refused: $out" || fail "submit: unclear error: $out"
fi
mkdir -p "$T/src/withman/sub" && echo ok > "$T/src/withman/sub/.sluice-manifest" && rm "$T/src/withman/.sluice-manifest"
sl_submit agent "$T/src/withman" --name withman-sub >/dev/null &&
    sl_wait agent withman-sub 20 >/dev/null && sl_same "$T/src/withman" "$root/withman-sub" &&
    cmp -s "$T/src/withman/sub/.sluice-manifest" "$root/withman-sub/sub/.sluice-manifest" &&
    ok "a .sluice-manifest below the top level is plain data: shipped" ||
    fail "withman-sub"
out=$(python3 "$LP" "$addr" "$T/secret" openfiles man-agent shipman a .sluice-manifest)
grep -q "code=15 .*reserved for the manifest" <<<"$out" && ok "sink refuses OPEN: $out" ||
    fail "sink OPEN with .sluice-manifest: $out"
[ -e "$root/shipman" ] && fail "shipman published" || ok "nothing published for it"
sl_stop agent
mkdir -p "$T/spool/scan-man"
echo x > "$T/spool/scan-man/a"; echo y > "$T/spool/scan-man/.sluice-manifest"
printf '[ingest]\nspool = %s\n' "$T/spool" >> "$T/agent.conf"
sl_start agent || fail "agent with ingest"
touch "$T/spool/scan-man/.sealed"
for i in $(seq 50); do grep -q 'scan-man.*reserved' "$T/agent.log" && break; sleep 0.1; done
if grep -q 'scan-man.*reserved' "$T/agent.log"; then
	ok "ingest refuses it: $(grep -m1 'scan-man.*reserved' "$T/agent.log" | cut -c1-150)"
else
	fail "ingest did not refuse scan-man: $(tail -3 "$T/agent.log")"
fi
# Visibly failed (every directory that appears is shipped or failed), never shipped.
st=$("$SLUICE" -c "$T/agent.conf" ls --json | python3 -c 'import json,sys
print(" ".join(d["state"] for d in json.load(sys.stdin) if d["name"] == "scan-man"))')
[ "$st" = failed ] && ok "scan-man visibly failed, not shipped" || fail "scan-man state: '$st'"
[ -e "$root/scan-man" ] && fail "scan-man published" || ok "nothing published for scan-man"
alive && ok "sink alive at the end" || fail "sink died"
sl_done
