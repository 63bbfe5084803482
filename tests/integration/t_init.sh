#!/usr/bin/env bash
# sluice init: one command per side writes a config that works as it is.
# On fresh directories, for plain TCP with a shared secret and for TLS
# with a test CA: init the sink and the agent, start both daemons with
# nothing but those configs, move a dataset end to end and compare it
# byte for byte.  Also: init refuses to overwrite without --force, says
# what is missing, and the default ids of a sink and an agent on one
# host differ.
. "$(dirname "$0")/lib.sh"
sl_setup

I() { local n=$1; shift; "$SLUICE" -c "$T/$n.conf" init "$@"; }

# ---- argument errors ----------------------------------------------------------
mkdir -p "$T/plain" "$T/tls" "$T/src/ds1/sub"
out=$(I plain/agent agent 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q -- "--sink HOST:PORT is required" &&
    ok "init agent without --sink: exit 2, names --sink" || fail "init agent no sink (rc=$rc): $out"
out=$(I plain/sink sink --make-ca "$T/ca" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q -- "--root DIR is required" &&
    ok "init sink without --root: exit 2, names --root" || fail "init sink no root (rc=$rc): $out"
out=$(I plain/sink sink --root "$T/r" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q -- "--make-ca DIR" && [ ! -e "$T/plain/sink.conf" ] &&
    ok "init without credentials: exit 2, names the choices, writes nothing" || fail "init no creds (rc=$rc): $out"
out=$("$SLUICE" -c "$T/x.conf" init bogus 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "init agent" && ok "init bogus: exit 2" || fail "init bogus (rc=$rc): $out"

# ---- plain TCP, shared secret ---------------------------------------------------
p1=$(sl_port)
out=$(I plain/sink sink --root "$T/plain/root" --listen "127.0.0.1:$p1" --no-tls \
    --secret-file "$T/plain/secret"); rc=$?
if [ $rc = 0 ] && [ -f "$T/plain/sink.conf" ] && echo "$out" | grep -q "^next:" &&
    [ "$(stat -c %a "$T/plain/secret")" = 600 ]; then
	ok "init sink --no-tls: config, secret (0600), next step printed"
else
	fail "init sink plain (rc=$rc): $out"
fi
out=$(I plain/agent agent --sink "127.0.0.1:$p1" --no-tls --secret-file "$T/plain/secret"); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "submit DIR" && ok "init agent --no-tls" || fail "init agent plain (rc=$rc): $out"
# never overwrite
cp "$T/plain/agent.conf" "$T/agent.conf.before"
out=$(I plain/agent agent --sink "127.0.0.1:1" --no-tls --secret-file "$T/plain/secret" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q -- "--force" && cmp -s "$T/agent.conf.before" "$T/plain/agent.conf" &&
    ok "init again: exit 1, names --force, config unchanged" || fail "init overwrite (rc=$rc): $out"
# default ids differ by role
ida=$(sed -n 's/^id = //p' "$T/plain/agent.conf"); ids=$(sed -n 's/^id = //p' "$T/plain/sink.conf")
[ -n "$ida" ] && [ "$ida" != "$ids" ] && [ "$ida" = "$(hostname)-agent" ] &&
    ok "default ids: $ida and $ids" || fail "ids: agent=$ida sink=$ids"

for i in 1 2 3; do head -c $((i * 300000)) /dev/urandom > "$T/src/ds1/f$i.bin"; done
echo note > "$T/src/ds1/sub/n.txt"
cp -r "$T/src/ds1" "$T/src/ds2"

sl_start plain/sink && sl_start plain/agent || { fail "start plain"; sl_done; }
sl_submit plain/agent "$T/src/ds1" >/dev/null && sl_wait plain/agent ds1 60 >/dev/null &&
    sl_same "$T/src/ds1" "$T/plain/root/$ida/ds1" &&
    ok "plain: ds1 moved end to end with the init configs (published as $ida/ds1)" ||
    fail "plain transfer: $(ls -R "$T/plain/root" | head) $(tail -3 "$T/plain/agent.log")"
sl_stop plain/agent; sl_stop plain/sink

# ---- TLS, a test CA made by the first init and reused by the second --------------
p2=$(sl_port)
out=$(I tls/sink sink --root "$T/tls/root" --listen "127.0.0.1:$p2" --make-ca "$T/tls/ca" --id sink1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "made a test CA" && [ "$(stat -c %a "$T/tls/ca/ca.key")" = 600 ] &&
    ok "init sink --make-ca: CA made (key 0600)" || fail "init sink tls (rc=$rc): $out"
out=$(I tls/agent agent --sink "127.0.0.1:$p2" --make-ca "$T/tls/ca" --id beamline7); rc=$?
[ $rc = 0 ] && ! echo "$out" | grep -q "made a test CA" &&
    openssl x509 -in "$T/tls/ca/agent-beamline7.pem" -noout -subject | grep -q "CN *= *beamline7" &&
    openssl verify -CAfile "$T/tls/ca/ca.pem" "$T/tls/ca/agent-beamline7.pem" >/dev/null &&
    ok "init agent --make-ca: the same CA, certificate CN=beamline7" || fail "init agent tls (rc=$rc): $out"
"$SLUICED" -n -c "$T/tls/agent.conf" >/dev/null 2>&1 && "$SLUICED" -n -c "$T/tls/sink.conf" >/dev/null 2>&1 &&
    ok "sluiced -n accepts both" || fail "sluiced -n: $("$SLUICED" -n -c "$T/tls/agent.conf" 2>&1)"
sl_start tls/sink && sl_start tls/agent || { fail "start tls"; sl_done; }
sl_submit tls/agent "$T/src/ds2" >/dev/null && sl_wait tls/agent ds2 60 >/dev/null &&
    sl_same "$T/src/ds2" "$T/tls/root/beamline7/ds2" && grep -q "tls=on\|TLS" "$T/tls/sink.log" &&
    ok "tls: ds2 moved end to end with the init configs" ||
    fail "tls transfer: $(ls -R "$T/tls/root" | head) $(tail -3 "$T/tls/agent.log")"
out=$("$SLUICE" -c "$T/tls/sink.conf" verify ds2); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "^OK .*/beamline7/ds2: 4 files" && ok "verify at the per-agent sink finds <root>/<agent>/ds2" ||
    fail "verify per-agent (rc=$rc): $out"
"$SLUICE" -c "$T/tls/agent.conf" status >/dev/null && ok "status healthy with the init config" ||
    fail "status: $("$SLUICE" -c "$T/tls/agent.conf" status)"
# --force replaces
out=$(I tls/agent agent --sink "127.0.0.1:$p2" --make-ca "$T/tls/ca" --id beamline7 --spool "$T/spool" --force); rc=$?
[ $rc = 0 ] && grep -q "^spool = $T/spool" "$T/tls/agent.conf" && ok "init --force replaces the config" ||
    fail "init --force (rc=$rc): $out"
sl_done
