#!/usr/bin/env bash
# Route job and the lanes (issue 20): the pull sessions and the push path
# share the agent's bandwidth under the lanes' policy (send_sched.c).  No
# Slurm: [job] submit starts the receiver at once ([hook] kind = exec).
# The push goes through a throttled proxy (RATE per connection), the pull
# straight to the agent, so the pull's own connections could carry far
# more than its share.
#   1. a backlog pull beside a live push: the pull takes its turn: when
#      the push is transferred, the backlog lane (the pull) has sent about
#      its share (backlog_min_share 20 %) of what the live lane sent, not
#      what its connections could carry, and it is not done; it then
#      completes, byte-identical, reduced, result checked
#   2. the accounting is visible: status --json lists the pull in flight
#      in lane backlog; the lane's sent bytes count the pull's bytes, its
#      published count the pulled dataset
#   3. a live pull beside a backlog push begun before it: both complete
#      byte-identical, the live pull first
. "$(dirname "$0")/lib.sh"
sl_setup
RATE=${RATE:-4194304}
port=$(sl_port); px=$(sl_port); lport=$(sl_port)
sl_sink_conf sink "$port"
sl_agent_conf agent "$px" chunk_size=1M streams=4 backlog_min_share=20
bash "$ROOT/scripts/mkcerts.sh" --receiver "$T/certs" sluice-job >/dev/null
mkdir -p "$T/scratch" "$T/results"
cat >> "$T/agent.conf" <<EOF
[hook]
kind = exec
state_dir = $T/fence
[job]
pull_listen = 127.0.0.1:$lport
peer_cn = sluice-job
poll = 1h
submit = mkdir -p $T/scratch/{id} && $SLUICED --pull 127.0.0.1:$lport --dataset {id} --root $T/scratch/{id} --ca $T/certs/ca.pem --cert $T/certs/receiver-sluice-job.pem --key $T/certs/receiver-sluice-job.key --reduce 'find . -type f ! -name .sluice-manifest -printf "%s %P\\n" | LC_ALL=C sort -k2' --result $T/results/{id} --timeout 60 >>$T/receiver.log 2>&1 </dev/null & echo 1
EOF
sl_start sink || { fail "sink did not start"; exit 1; }
python3 "$ROOT/tests/integration/slowproxy.py" "$px" "$port" "$RATE" 0.2 > "$T/proxy.log" 2>&1 &
PROXY=$!
trap 'kill $PROXY 2>/dev/null; sl_cleanup' EXIT
sl_start agent || { fail "agent did not start"; exit 1; }

mkds() {	# NAME MiB
	mkdir -p "$T/src/$1"
	head -c $(($2 * 1048576)) /dev/urandom > "$T/src/$1/data.bin"
	head -c 12345 /dev/urandom > "$T/src/$1/small"
}
expect() { (cd "$T/src/$1" && find . -type f -printf "%s %P\n" | LC_ALL=C sort -k2); }
lanes() {	# -> "live_sent backlog_sent backlog_published"
	"$SLUICE" -c "$T/agent.conf" status --json | python3 -c '
import json, sys
l = json.load(sys.stdin)["lanes"]
print(l["live"]["sent_bytes"], l["backlog"]["sent_bytes"], l["backlog"]["published"])'
}
state() { "$SLUICE" -c "$T/agent.conf" show "$1" | awk '/^  state:/ {print $2}'; }
acked() { "$SLUICE" -c "$T/agent.conf" show "$1" | awk '/^  done:/ {split($2, a, "/"); print a[1]}'; }
# pulled ID NAME WHAT: done, the scratch copy byte-identical, the result right
pulled() {
	if sl_wait agent "$1" 120 >/dev/null && sl_same "$T/src/$2" "$T/scratch/$1/$2" &&
	    cmp -s <(expect "$2") "$T/results/$1"; then
		ok "$3: pulled, byte-identical in the scratch, result checked"
	else
		fail "$3: $("$SLUICE" -c "$T/agent.conf" show "$1" | head -8); $(tail -3 "$T/receiver.log")"
	fi
}

# --- 1. a backlog pull beside a live push ---------------------------------------------
# The push (256 MiB through the proxy, 4 x RATE) takes ~16 s; the pull
# alone would take ~2 s.  Taking its turn, the pull gets a quarter of the
# live lane's bytes while the push has chunks to send, and the rest only
# then: it is pulled about when the push is transferred, not seconds
# before.  Judged from the journal's times (and the lanes' byte counts).
mkds push1 256
mkds pull1 128
sl_submit agent "$T/src/push1" --lane live >/dev/null || fail "submit push1"
for _ in $(seq 300); do [ "$(acked push1)" -ge 4 ] 2>/dev/null && break; sleep 0.05; done
id1=$(sl_submit agent "$T/src/pull1" --route job --lane backlog --name pull1 | awk '{print $2}')
[[ "$id1" =~ ^[0-9a-f]{16}$ ]] || fail "submit pull1: $id1"
# the receiver starts, dials, OPENs (slow on a loaded machine); once it
# has chunks acked, count both datasets' acked chunks (1 MiB each, from
# the journal) over 3 s while both send
for _ in $(seq 600); do [ "$(acked "$id1")" -ge 1 ] 2>/dev/null && break; sleep 0.1; done
a0=$(acked push1); b0=$(acked "$id1")
sleep 3
a1=$(acked push1); b1=$(acked "$id1")
st=$(state push1)
"$SLUICE" -c "$T/agent.conf" status --json > "$T/status.json"
python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))["lanes"]
sys.exit(0 if {"id": sys.argv[2], "lane": "backlog"} in l["in_flight"] else 1)' "$T/status.json" "$id1" &&
    ok "status --json: the pull $id1 in flight in lane backlog" ||
    fail "the pull not in flight in lane backlog: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("lanes"))' "$T/status.json")"
dl=$((a1 - a0)); db=$((b1 - b0))
[ "$st" != transferred ] && [ "$dl" -gt 0 ] && [ $((db * 10)) -le $((dl * 6)) ] &&
    ok "over 3 s the live push got $dl chunks acked, the backlog pull $db ($((db * 100 / (dl ? dl : 1)))%; its share is 20/80 = 25%)" ||
    fail "the backlog pull did not take its turn: over 3 s push1 ($st) $dl chunks acked, the pull $db"
sl_wait agent push1 120 >/dev/null && sl_same "$T/src/push1" "$T/sink.root/push1" &&
    ok "push1 published at the sink, byte-identical" || fail "push1: $(state push1)"
pulled "$id1" pull1 "backlog pull"
tx=$(date -d "$("$SLUICE" -c "$T/agent.conf" show push1 | grep -- '-> transferred' | awk '{print $1}' | tail -1)" +%s)
tp=$(date -d "$("$SLUICE" -c "$T/agent.conf" show "$id1" | grep -- '-> pulled' | awk '{print $1}' | tail -1)" +%s)
[ -n "$tx" ] && [ -n "$tp" ] && [ "$tp" -ge $((tx - 3)) ] &&
    ok "the backlog pull was pulled $((tp - tx))s after the live push was transferred (alone it takes ~2 s)" ||
    fail "the backlog pull was pulled at ${tp:-?}, the live push transferred at ${tx:-?}: it did not wait its turn"
read -r l2 b2 p2 <<<"$(lanes)"
[ "$b2" -ge $((128 * 1048576)) ] && [ "$p2" -ge 1 ] &&
    ok "lane backlog: $((b2 / 1048576)) MiB sent (the pull's 128 MiB counted), $p2 published" ||
    fail "lane backlog accounting: sent $b2, published $p2"

# --- 3. a live pull beside a backlog push ------------------------------------------------
mkds push2 160
mkds pull2 32
sl_submit agent "$T/src/push2" --lane backlog >/dev/null || fail "submit push2"
for _ in $(seq 300); do [ "$(acked push2)" -ge 4 ] 2>/dev/null && break; sleep 0.05; done
id2=$(sl_submit agent "$T/src/pull2" --route job --lane live --name pull2 | awk '{print $2}')
pulled "$id2" pull2 "live pull"
sl_wait agent push2 120 >/dev/null && sl_same "$T/src/push2" "$T/sink.root/push2" &&
    ok "push2 published at the sink, byte-identical" || fail "push2: $(state push2)"
tx=$(date -d "$("$SLUICE" -c "$T/agent.conf" show push2 | grep -- '-> transferred' | awk '{print $1}' | tail -1)" +%s)
tp=$(date -d "$("$SLUICE" -c "$T/agent.conf" show "$id2" | grep -- '-> pulled' | awk '{print $1}' | tail -1)" +%s)
[ -n "$tx" ] && [ -n "$tp" ] && [ "$tp" -le "$tx" ] &&
    ok "the live pull was pulled before the backlog push (begun first) was transferred ($((tx - tp))s)" ||
    fail "the backlog push was transferred at ${tx:-?}, before the live pull at ${tp:-?}"
grep -q "dataset=$id2 name=.* pulled=.* streams=4" "$T/agent.log" || fail "pull2 did not use 4 streams"
sl_stop agent
sl_stop sink
sl_done
