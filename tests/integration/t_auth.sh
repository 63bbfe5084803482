#!/usr/bin/env bash
# Authentication: a wrong CA, a wrong shared secret and a TLS on/off
# mismatch are refused (nothing arrives, both daemons stay up, the logs say
# why); the right setups transfer.
. "$(dirname "$0")/lib.sh"
sl_setup

mkdir -p "$T/src/ds"
head -c 200000 /dev/urandom > "$T/src/ds/a.bin"
echo hello > "$T/src/ds/b.txt"

alive() { kill -0 "${SL_PID[$1]}" 2>/dev/null; }
nothing_published() { [ -z "$(ls -A "$T/$1.root" 2>/dev/null | grep -v partial)" ]; }

# refused SINK AGENT: the submit never arrives, nothing is published
refused() {
	local sk=$1 ag=$2
	sl_submit "$ag" "$T/src/ds" --name ds >/dev/null 2>&1 || { fail "$ag: submit"; return 1; }
	if sl_wait "$ag" ds 4 >/dev/null 2>&1; then
		fail "$ag: dataset transferred although it should be refused"
		return 1
	fi
	nothing_published "$sk" && ok "$ag: nothing published at $sk" ||
	    fail "$ag: something published at $sk: $(ls -A "$T/$sk.root")"
}

# (a) agent certificate from another CA
port=$(sl_port)
sl_sink_conf sinka "$port"
sl_agent_conf agenta "$port"
sed -i -e "s|^cert = .*|cert = $T/certs/other-agent.pem|" \
    -e "s|^key = .*|key = $T/certs/other-agent.key|" "$T/agenta.conf"
sl_start sinka && sl_start agenta || fail "(a) start"
refused sinka agenta
if grep -qiE "certificate verify failed|unknown ca|certificate" "$T/sinka.log"; then
	ok "(a) sink log: $(grep -iE 'certificate' "$T/sinka.log" | head -1)"
else
	fail "(a) sink log does not name the certificate failure"
fi
# an attempt to get in (or a setup mistake) is a warning, as a wrong secret is
grep -q '^warn tls refused: TLS handshake with .*certificate verify failed' "$T/sinka.log" &&
    ok "(a) sink warns: $(grep -m1 '^warn tls refused' "$T/sinka.log")" ||
    fail "(a) sink does not warn about the refused certificate: $(grep -i certificate "$T/sinka.log" | head -2)"
# and the agent's status says what happened, not just how the connection closed
st=$("$SLUICE" -c "$T/agenta.conf" status 2>&1)
echo "$st" | grep -q "^link: .*\(the sink refused this agent's TLS certificate\|may have refused this agent's TLS certificate\)" &&
    ok "(a) agent status: $(echo "$st" | grep -o 'the sink [a-z ]*refused this agent.s TLS certificate' | head -1)" ||
    fail "(a) agent status does not say the certificate was refused: $st"
if grep -q "state=connecting->backoff" "$T/agenta.log" && grep -q "retry_in=" "$T/agenta.log"; then
	ok "(a) agent log: link backoff ($(grep -c retry_in= "$T/agenta.log") retries)"
else
	fail "(a) agent log shows no link backoff"
fi
alive sinka && alive agenta && ok "(a) both daemons alive" || fail "(a) a daemon died"
sl_stop agenta; sl_stop sinka

# (b) TLS off on both sides, different secrets
head -c 32 /dev/urandom | base64 > "$T/secret2"; chmod 600 "$T/secret2"
port=$(sl_port)
sl_sink_conf sinkb "$port" tls=off
sl_agent_conf agentb "$port" tls=off
sed -i "s|^secret_file = .*|secret_file = $T/secret2|" "$T/agentb.conf"
sl_start sinkb && sl_start agentb || fail "(b) start"
refused sinkb agentb
grep -q "authentication failed" "$T/sinkb.log" &&
    ok "(b) sink log: $(grep -m1 'authentication failed' "$T/sinkb.log")" ||
    fail "(b) sink log does not say authentication failed"
grep -q '^warn sink .*authentication failed: HELLO MAC does not match' "$T/sinkb.log" &&
    ok "(b) sink warns about the wrong secret" || fail "(b) wrong secret not at warn: $(grep -m1 'HELLO MAC' "$T/sinkb.log")"
st=$("$SLUICE" -c "$T/agentb.conf" status 2>&1)
echo "$st" | grep -q "^link: .*authentication failed: wrong secret" &&
    ok "(b) agent status: $(echo "$st" | grep -o 'authentication failed: wrong secret.*' | head -1)" ||
    fail "(b) agent status does not say wrong secret: $st"
grep -q "state=connecting->backoff\|->backoff" "$T/agentb.log" &&
    ok "(b) agent backs off: $(grep -m1 -- '->backoff' "$T/agentb.log")" ||
    fail "(b) agent log shows no backoff"
alive sinkb && alive agentb && ok "(b) both daemons alive" || fail "(b) a daemon died"
sl_stop agentb; sl_stop sinkb

# (c) mismatch: agent plaintext vs TLS sink, and TLS agent vs plaintext sink
# (the plaintext agent waits for CHALLENGE while the TLS sink waits for a
# ClientHello: the sink's idle_timeout ends it, the agent backs off)
port=$(sl_port)
sl_sink_conf sinkc "$port" tls=on idle_timeout=1s
sl_agent_conf agentc "$port" tls=off
sl_start sinkc && sl_start agentc || fail "(c) start"
refused sinkc agentc
alive sinkc && alive agentc && ok "(c) agent tls=off vs sink tls=on: both alive" ||
    fail "(c) agent tls=off vs sink tls=on: a daemon died"
grep -q -- "->backoff" "$T/agentc.log" && ok "(c) agent backs off: $(grep -m1 -- '->backoff' "$T/agentc.log")" ||
    fail "(c) agent log shows no backoff"
sl_stop agentc; sl_stop sinkc

port=$(sl_port)
sl_sink_conf sinkc2 "$port" tls=off
sl_agent_conf agentc2 "$port" tls=on
sl_start sinkc2 && sl_start agentc2 || fail "(c2) start"
refused sinkc2 agentc2
alive sinkc2 && alive agentc2 && ok "(c2) agent tls=on vs sink tls=off: both alive" ||
    fail "(c2) agent tls=on vs sink tls=off: a daemon died"
sl_stop agentc2; sl_stop sinkc2

# (d) the right setups work
for tls in on off; do
	port=$(sl_port)
	sl_sink_conf sinkd$tls "$port" tls=$tls
	sl_agent_conf agentd$tls "$port" tls=$tls
	sl_start sinkd$tls && sl_start agentd$tls || fail "(d) start tls=$tls"
	sl_submit agentd$tls "$T/src/ds" --name ds >/dev/null || fail "(d) submit tls=$tls"
	if sl_wait agentd$tls ds 20 >/dev/null && sl_same "$T/src/ds" "$T/sinkd$tls.root/ds"; then
		ok "(d) tls=$tls: transferred, byte-identical"
	else
		fail "(d) tls=$tls: not transferred"
	fi
	sl_stop agentd$tls; sl_stop sinkd$tls
done
sl_done
