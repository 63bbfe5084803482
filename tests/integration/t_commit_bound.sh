#!/usr/bin/env bash
# A dataset whose COMMIT went to the secondary while the primary was down
# waits for the secondary's answer: only it can say COMMITTED.  The agent
# must go and ask it, even when the primary is back and up (t_wan_storm
# found an agent on the primary with such a dataset "committing" for
# good).  The secondary sits behind a proxy that swallows its COMMITTED;
# the agent is killed -9 there and restarted once the primary is up:
#   - the agent visits the secondary once nothing is in flight, hears
#     that the dataset was published there and records it transferred
#   - published once, at the secondary only; nothing of it at the primary
#   - then it goes back to the primary: the next dataset is published there
. "$(dirname "$0")/lib.sh"
sl_setup
pa=$(sl_port); pb=$(sl_port); pp=$(sl_port)
S() { "$SLUICE" -c "$T/$1.conf" "${@:2}"; }
sl_sink_conf sinka "$pa" tls=off
sl_sink_conf sinkb "$pb" tls=off
sl_agent_conf agent "$pa" tls=off chunk_size=1M streams=2 failover_after=1s
sed -i "s|^destination = .*|destination = 127.0.0.1:$pa, 127.0.0.1:$pp|" "$T/agent.conf"
sl_holdproxy "$pp" "$pb" || { fail "proxy did not start"; sl_done; }

# the primary is down: the agent fails over to the secondary
sl_start sinkb && sl_start agent || { fail start; sl_done; }
mkdir -p "$T/src/s1/sub"
head -c 3000000 /dev/urandom > "$T/src/s1/a.bin"
head -c 70000 /dev/urandom > "$T/src/s1/sub/b.bin"
if sl_held_commit agent "$T/src/s1"; then
	ok "s1 went to the secondary; its COMMITTED held back, agent killed -9"
else
	fail "submit, or no COMMITTED seen for '$HELD_ID': $(cat "$T/proxy.log")"; sl_done
fi
[ "$(sl_ls_table agent | awk '$2 == "s1" { print $3 }')" = committing ] &&
    ok "agent journal: s1 committing (bound to the secondary)" ||
    fail "agent journal: $(sl_ls_table agent)"

# the primary comes back; the agent restarts and works from it
sl_start sinka && sl_start agent || { fail restart; sl_done; }
if sl_wait agent s1 30 >/dev/null; then
	ok "s1 transferred: the agent asked the secondary"
else
	fail "s1 still $(sl_ls_table agent | awk '$2 == "s1" { print $3 }') after 30 s"
fi
grep -q "a dataset waits for its COMMIT's answer there" "$T/agent.log" &&
    ok "the agent logs why it left the primary" || fail "no such switch in the agent log"
[ "$(find "$T/sinkb.root" -maxdepth 1 -name s1 | wc -l)" = 1 ] && sl_same "$T/src/s1" "$T/sinkb.root/s1" &&
    sl_manifest_ok "$T/sinkb.root/s1" && ok "published once at the secondary, byte-identical" ||
    fail "s1 at the secondary: $(ls -a "$T/sinkb.root")"
[ -z "$(ls -A "$T/sinka.root" 2>/dev/null)" ] && ok "nothing of s1 at the primary" ||
    fail "the primary has: $(ls -a "$T/sinka.root")"
[ "$(S sinkb ls | grep -c 's1 .*published')" = 1 ] && [ -z "$(S sinka ls | grep ' s1 ')" ] &&
    ok "sink journals: s1 published at the secondary, unknown at the primary" ||
    fail "journals: secondary $(S sinkb ls); primary $(S sinka ls)"

# and back to the primary for what comes next
mkdir -p "$T/src/s2"
head -c 1000000 /dev/urandom > "$T/src/s2/c.bin"
sl_submit agent "$T/src/s2" >/dev/null || fail "submit s2"
sl_wait agent s2 30 >/dev/null && sl_same "$T/src/s2" "$T/sinka.root/s2" &&
    ok "s2 published at the primary: the agent went back" ||
    fail "s2: $(sl_ls_table agent); at the primary: $(ls -a "$T/sinka.root")"
sl_done
