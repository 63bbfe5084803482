#!/usr/bin/env bash
# Bad inputs not covered by t_hostile/t_auth/t_config: an unknown protocol
# version, a connection flood, source datasets with symlinks, FIFOs,
# devices and unreadable files, an expired certificate, the control socket
# used by another user, a truncated or newer-format journal, and the sink
# running as an unprivileged user (docs/unprivileged.md).  Each time a
# clear error naming what is wrong, and nothing journaled or published.
# Needs root for the other-user cases (skipped with a note otherwise).
. "$(dirname "$0")/lib.sh"
sl_setup
RAW=$(dirname "$0")/rawpeer.py

alive() { kill -0 "${SL_PID[$1]}" 2>/dev/null; }
nothing_published() { [ -z "$(ls -A "$T/$1.root" 2>/dev/null | grep -v '^\.')" ]; }
in_journal() { "$SLUICE" -c "$T/$1.conf" ls --json 2>/dev/null | grep -q "\"name\": \"$2\""; }

mkdir -p "$T/src/good/d"
head -c 300000 /dev/urandom > "$T/src/good/d/x"
echo fine > "$T/src/good/y"

# ---- 1. unknown protocol version, 2. connection flood (one plaintext sink)
port=$(sl_port)
sl_sink_conf sink "$port" tls=off idle_timeout=2s max_connections=8 max_preauth=8
sl_start sink || { fail "start sink"; sl_done; }

out=$(timeout 20 python3 "$RAW" "127.0.0.1:$port" "$T/secret" bad-version 2 2>&1); rc=$?
if [ "$rc" = 0 ] && grep -q "version 2" <<<"$out" && grep -q " closed" <<<"$out"; then
	ok "HELLO version 2: $out"
else
	fail "HELLO version 2: $out"
fi
sleep 0.2
grep -q 'msg="protocol version 2 not supported' "$T/sink.log" &&
    ok "log: $(grep -m1 'protocol version 2' "$T/sink.log")" ||
    fail "sink did not log the unsupported version"
alive sink && ok "sink alive after the bad version" || fail "sink died (bad version)"

# 60 silent connections at once against max_preauth = 8 (pre-auth slots):
# each one past 8 closes the oldest (logged once a second at most), the
# last 8 are closed by idle_timeout (2s)
flood=$(timeout 20 python3 - "$port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=8) for _ in range(60)]
t0 = time.monotonic()
closed = 0
for s in socks:                 # each is closed by the sink: refused or idle
    try:
        while s.recv(4096):
            pass
        closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
print("closed=%d/60 after=%.1f" % (closed, time.monotonic() - t0))
EOF
)
nref=$(grep -c 'slots taken (max_preauth)' "$T/sink.log")
if grep -q "closed=60/60" <<<"$flood" && [ "$nref" -ge 1 ]; then
	ok "flood of 60: $flood, the surplus evicted from the pre-auth slots ($nref log line(s), once a second at most: $(grep -m1 max_preauth "$T/sink.log"))"
else
	fail "flood: $flood, refused=$nref"
fi
grep -q "idle for" "$T/sink.log" && ok "admitted silent connections freed by idle_timeout" ||
    fail "no idle close logged"
alive sink && ok "sink alive after the flood" || fail "sink died (flood)"
sl_agent_conf agent "$port" tls=off
sl_start agent || fail "start agent"
sl_submit agent "$T/src/good" --name good >/dev/null || fail "submit good"
if sl_wait agent good 20 >/dev/null && sl_same "$T/src/good" "$T/sink.root/good"; then
	ok "normal transfer after the flood: byte-identical"
else
	fail "normal transfer after the flood"
fi

# ---- 3. source datasets the agent refuses at submit
# refuse_submit NAME DIR WHAT: submit fails naming WHAT, nothing journaled
refuse_submit() {
	local name=$1 dir=$2 what=$3 out
	if out=$("$SLUICE" -c "$T/agent.conf" submit "$dir" --name "$name" 2>&1); then
		fail "$name: submit accepted: $out"
	elif ! grep -qF -- "$what" <<<"$out"; then
		fail "$name: refused but the message does not name $what: $out"
	elif in_journal agent "$name"; then
		fail "$name: refused but journaled"
	else
		ok "$name refused: $out"
	fi
}
mkdir -p "$T/src/symlink/sub" "$T/src/fifo" "$T/src/dev"
echo a > "$T/src/symlink/a"
ln -s /etc/passwd "$T/src/symlink/sub/link"
refuse_submit symlink "$T/src/symlink" "$T/src/symlink/sub/link"
echo a > "$T/src/fifo/a"
mkfifo "$T/src/fifo/pipe"
refuse_submit fifo "$T/src/fifo" "$T/src/fifo/pipe: not a regular file or directory (fifo)"
if mknod "$T/src/dev/null" c 1 3 2>/dev/null; then
	refuse_submit device "$T/src/dev" "$T/src/dev/null: not a regular file or directory (device)"
else
	echo "   SKIP device node: mknod not permitted here"
fi
# unreadable file: root reads anything, so the agent running as root can
# ship a mode-000 file (checked here); the refusal for an agent running as
# an unprivileged user is exercised in section 7 (runs as nobody).
mkdir -p "$T/src/m000"
echo secret > "$T/src/m000/f"; chmod 000 "$T/src/m000/f"
if [ "$(id -u)" = 0 ]; then
	if sl_submit agent "$T/src/m000" --name m000 >/dev/null && sl_wait agent m000 20 >/dev/null &&
	    cmp -s "$T/src/m000/f" "$T/sink.root/m000/f"; then
		ok "mode-000 file with the agent as root: submitted and shipped (root bypasses permissions)"
	else
		fail "mode-000 file as root"
	fi
fi
nothing_bad=$(ls -A "$T/sink.root" | grep -vE '^(good|m000)$')
[ -z "$nothing_bad" ] && ok "sink root: only the good datasets" || fail "sink root: $nothing_bad"
sl_stop agent

# ---- 4. an expired agent certificate (signed by the right CA)
mkdir -p "$T/cadb"; : > "$T/cadb/index.txt"; echo 01 > "$T/cadb/serial"
cat > "$T/cadb/ca.cnf" <<EOF
[ca]
default_ca = tca
[tca]
database = $T/cadb/index.txt
new_certs_dir = $T/cadb
serial = $T/cadb/serial
default_md = sha256
policy = pol
unique_subject = no
[pol]
commonName = supplied
organizationName = optional
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/certs/exp.key" 2>/dev/null
openssl req -new -key "$T/certs/exp.key" -subj "/O=sluice test/CN=sluice-agent" \
    -out "$T/cadb/exp.csr" 2>/dev/null
if openssl ca -batch -config "$T/cadb/ca.cnf" -cert "$T/certs/ca.pem" -keyfile "$T/certs/ca.key" \
    -in "$T/cadb/exp.csr" -out "$T/certs/exp.pem" -notext -extensions ext \
    -startdate 20200101000000Z -enddate 20200102000000Z >"$T/cadb/log" 2>&1; then
	port=$(sl_port)
	sl_sink_conf sinkx "$port"
	sl_agent_conf agentx "$port"
	sed -i -e "s|^cert = .*|cert = $T/certs/exp.pem|" -e "s|^key = .*|key = $T/certs/exp.key|" "$T/agentx.conf"
	sl_start sinkx && sl_start agentx || fail "(expired) start"
	sl_submit agentx "$T/src/good" --name exp >/dev/null 2>&1 || fail "(expired) submit"
	sl_wait agentx exp 4 >/dev/null 2>&1 && fail "(expired) dataset transferred"
	grep -qi "expired" "$T/sinkx.log" && ok "expired cert: sink log: $(grep -m1 -i expired "$T/sinkx.log")" ||
	    fail "expired cert: the sink log does not say expired: $(grep -m1 -i certif "$T/sinkx.log")"
	grep -q -- "->backoff" "$T/agentx.log" && ok "expired cert: agent backs off: $(grep -m1 -- '->backoff' "$T/agentx.log")" ||
	    fail "expired cert: agent log shows no backoff"
	nothing_published sinkx && ok "expired cert: nothing published" || fail "expired cert: published"
	alive sinkx && alive agentx && ok "expired cert: both daemons alive" || fail "expired cert: a daemon died"
	sl_stop agentx; sl_stop sinkx
else
	fail "could not make an expired certificate: $(tail -2 "$T/cadb/log")"
fi

# ---- 5. the control socket is not usable by another user
if [ "$(id -u)" != 0 ]; then
	echo "   SKIP not root: the other-user cases cannot run"
	sl_done
fi
U=nobody G=$(id -gn nobody)
asu() { setpriv --reuid="$U" --regid="$G" --clear-groups -- "$@"; }
chmod 0711 "$T"	# traversable, not listable: the other user reaches files it is given
sl_start agent || fail "restart agent"
sock=$T/agent.journal/control.sock
# the CLI reads the config and its secret_file: give the other user its
# own copies, so that what is refused is the socket alone
install -m 0600 -o "$U" "$T/secret" "$T/usecret"
sed "s|^secret_file = .*|secret_file = $T/usecret|" "$T/agent.conf" > "$T/agent-pub.conf"
chmod 0644 "$T/agent-pub.conf"
mode=$(stat -c %a "$sock")
[ "$mode" = 600 ] && ok "control socket mode $mode, journal dir $(stat -c %a "$T/agent.journal")" ||
    fail "control socket mode $mode"
# a) as deployed (journal dir 0700): status and submit are refused
out=$(asu "$SLUICE" -c "$T/agent-pub.conf" status 2>&1); rc1=$?
out2=$(asu "$SLUICE" -c "$T/agent-pub.conf" submit "$T/src/good" --name asnobody 2>&1); rc2=$?
if [ "$rc1" != 0 ] && [ "$rc2" != 0 ] && grep -q "Permission denied" <<<"$out$out2"; then
	ok "user $U: status refused: $(head -1 <<<"$out")"
	ok "user $U: submit refused: $(head -1 <<<"$out2")"
else
	fail "user $U: status rc=$rc1 ($out) submit rc=$rc2 ($out2)"
fi
# b) journal dir opened up: the socket's own mode 0600 refuses
chmod 0755 "$T/agent.journal"
out=$(asu "$SLUICE" -c "$T/agent-pub.conf" submit "$T/src/good" --name asnobody 2>&1); rc=$?
[ "$rc" != 0 ] && grep -q "control.sock: Permission denied" <<<"$out" &&
    ok "socket mode 0600 refuses $U: $out" || fail "socket 0600: rc=$rc $out"
# c) socket opened up as well: SO_PEERCRED refuses, and the daemon logs it
chmod 0666 "$sock"
out=$(asu "$SLUICE" -c "$T/agent-pub.conf" submit "$T/src/good" --name asnobody 2>&1); rc=$?
sleep 0.2
if [ "$rc" != 0 ] && grep -q "control socket: permission denied" <<<"$out" &&
    grep -q "refused client uid=$(id -u "$U")" "$T/agent.log"; then
	ok "SO_PEERCRED refuses $U: cli: $out"
	ok "log: $(grep -m1 'refused client uid' "$T/agent.log")"
else
	fail "SO_PEERCRED: rc=$rc $out"
fi
chmod 0600 "$sock"; chmod 0700 "$T/agent.journal"
in_journal agent asnobody && fail "dataset submitted by $U was journaled" ||
    ok "nothing journaled by $U"
"$SLUICE" -c "$T/agent.conf" status >/dev/null 2>&1; [ $? -ne 3 ] && ok "root still uses the socket" ||
    fail "root: status says down"

# ---- 6. a truncated journal, and one from a newer format
sl_stop agent
jcheck() { (cd "$1" && sha256sum data.mdb && stat -c '%n %s %Y' data.mdb); }
start_refused() {	# start_refused LABEL JOURNAL WANT
	local before after rc out
	before=$(jcheck "$2")
	out=$(timeout 10 "$SLUICED" -c "$T/agent.conf" 2>&1); rc=$?
	after=$(jcheck "$2")
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		fail "$1: sluiced started (rc=$rc): $out"
	elif ! grep -q "$2" <<<"$out" || ! grep -qi "$3" <<<"$out"; then
		fail "$1: refused without naming the journal/$3: $out"
	elif [ "$before" != "$after" ]; then
		fail "$1: journal modified"
	else
		ok "$1: exit $rc, data.mdb untouched: $(tail -1 <<<"$out")"
	fi
}
cp -a "$T/agent.journal" "$T/journal.orig"
# newer format: rewrite meta "format" (u32) with a big value
mdb_dump -s meta "$T/agent.journal" > "$T/meta.dump"
python3 - "$T/meta.dump" <<'EOF'
import sys, struct
p = sys.argv[1]
lines = open(p).read().split("\n")
key = b"format".hex()
for i, l in enumerate(lines):
    if l.strip() == key:
        lines[i + 1] = " " + struct.pack("<I", 99).hex()
        break
else:
    sys.exit("no format key in meta dump")
# mdb_load does not know every header keyword mdb_dump writes
open(p, "w").write("\n".join(l for l in lines if not l.startswith("db_pagesize=")))
EOF
mdb_load -s meta -f "$T/meta.dump" "$T/agent.journal" || fail "mdb_load"
start_refused "newer-format journal" "$T/agent.journal" "format 99"
rm -rf "$T/agent.journal"; cp -a "$T/journal.orig" "$T/agent.journal"
truncate -s 100 "$T/agent.journal/data.mdb"
start_refused "data.mdb truncated to 100 bytes" "$T/agent.journal" "journal"
rm -rf "$T/agent.journal"; cp -a "$T/journal.orig" "$T/agent.journal"
sz=$(stat -c %s "$T/agent.journal/data.mdb")
truncate -s $((sz / 2)) "$T/agent.journal/data.mdb"
start_refused "data.mdb truncated to half ($((sz / 2)) bytes)" "$T/agent.journal" "truncated"

# ---- 7. the sink as an unprivileged user (docs/unprivileged.md), and an
# agent as that user refusing an unreadable source file
rm -rf "$T/agent.journal"; cp -a "$T/journal.orig" "$T/agent.journal"
port=$(sl_port)
sl_sink_conf usink "$port" tls=off
sed -i "s|^secret_file = .*|secret_file = $T/usecret|" "$T/usink.conf"
mkdir -p "$T/usink.journal"; chown "$U" "$T/usink.journal" "$T/usink.root"; chmod 0644 "$T/usink.conf"
setpriv --reuid="$U" --regid="$G" --clear-groups -- "$SLUICED" -c "$T/usink.conf" >>"$T/usink.log" 2>&1 &
SL_PID[usink]=$!
for i in $(seq 1 100); do [ -S "$T/usink.journal/control.sock" ] && break; sleep 0.05; done
uid=$(stat -c %U /proc/"${SL_PID[usink]}" 2>/dev/null)
[ "$uid" = "$U" ] && alive usink && ok "sink runs as $U" || fail "sink as $U: $(tail -3 "$T/usink.log")"
sl_agent_conf agent2 "$port" tls=off
sl_start agent2 || fail "start agent2"
sl_submit agent2 "$T/src/good" --name good >/dev/null || fail "submit to the $U sink"
if sl_wait agent2 good 20 >/dev/null && sl_same "$T/src/good" "$T/usink.root/good"; then
	ok "transfer to the sink running as $U: byte-identical, owner $(stat -c %U "$T/usink.root/good/y")"
else
	fail "transfer to the sink running as $U: $(tail -3 "$T/usink.log")"
fi
sl_stop agent2
# an agent running as nobody: a mode-000 file is refused at submit
mkdir -p "$T/uagent.journal" "$T/usrc"
cp -r "$T/src/good" "$T/usrc/unread"; cp -r "$T/src/good" "$T/usrc/ok"
chmod 000 "$T/usrc/unread/d/x"
chown -R "$U" "$T/uagent.journal" "$T/usrc"
sl_agent_conf uagent "$port" tls=off
sed -i "s|^secret_file = .*|secret_file = $T/usecret|" "$T/uagent.conf"; chmod 0644 "$T/uagent.conf"
setpriv --reuid="$U" --regid="$G" --clear-groups -- "$SLUICED" -c "$T/uagent.conf" >>"$T/uagent.log" 2>&1 &	# not asu: $! must be the daemon
SL_PID[uagent]=$!
for i in $(seq 1 100); do asu "$SLUICE" -c "$T/uagent.conf" status >/dev/null 2>&1; [ $? -ne 3 ] && break; sleep 0.05; done
out=$(asu "$SLUICE" -c "$T/uagent.conf" submit "$T/usrc/unread" --name unread 2>&1); rc=$?
if [ "$rc" != 0 ] && grep -qF "$T/usrc/unread/d/x" <<<"$out" && grep -q "Permission denied" <<<"$out"; then
	ok "unreadable file (agent as $U) refused: $out"
else
	fail "unreadable file (agent as $U): rc=$rc $out"
fi
asu "$SLUICE" -c "$T/uagent.conf" ls --json 2>/dev/null | grep -q '"name": "unread"' &&
    fail "unreadable dataset journaled" || ok "unreadable dataset not journaled"
asu "$SLUICE" -c "$T/uagent.conf" submit "$T/usrc/ok" --name uok >/dev/null 2>&1 &&
    asu "$SLUICE" -c "$T/uagent.conf" wait uok --timeout 20 >/dev/null 2>&1 &&
    sl_same "$T/usrc/ok" "$T/usink.root/uok" &&
    ok "agent and sink both as $U: transfer byte-identical" || fail "agent as $U: transfer"
[ -e "$T/usink.root/unread" ] && fail "unreadable dataset published"
# a file that becomes unreadable after submit: the dataset fails naming it,
# and the queue behind it goes on (it used to retry forever)
cp -r "$T/src/good" "$T/usrc/later"; cp -r "$T/src/good" "$T/usrc/after"; chown -R "$U" "$T/usrc"
asu "$SLUICE" -c "$T/uagent.conf" pause >/dev/null 2>&1
asu "$SLUICE" -c "$T/uagent.conf" submit "$T/usrc/later" --name later >/dev/null 2>&1 || fail "submit later"
asu "$SLUICE" -c "$T/uagent.conf" submit "$T/usrc/after" --name after >/dev/null 2>&1 || fail "submit after"
chmod 000 "$T/usrc/later/d/x"
asu "$SLUICE" -c "$T/uagent.conf" resume >/dev/null 2>&1
out=$(asu "$SLUICE" -c "$T/uagent.conf" wait later --timeout 20 2>&1); rc=$?
if [ "$rc" = 1 ] && grep -q "later/d/x: cannot read: Permission denied" <<<"$out"; then
	ok "file unreadable after submit: dataset failed, named: $(cut -c1-90 <<<"$out")"
else
	fail "unreadable after submit: rc=$rc $out"
fi
asu "$SLUICE" -c "$T/uagent.conf" wait after --timeout 20 >/dev/null 2>&1 && sl_same "$T/usrc/after" "$T/usink.root/after" &&
    ok "the next dataset still goes" || fail "queue stuck behind the unreadable dataset"
alive usink && ok "sink ($U) alive" || fail "sink ($U) died"
chown -R root "$T" 2>/dev/null	# so the cleanup's rm -rf is not surprised
sl_done
