#!/usr/bin/env bash
# A hostile peer (rawpeer.py, plaintext + HMAC HELLO with the right secret)
# against a real sink: bad paths and names in OPEN, a symlink planted in the
# sink root, malformed frames, DATA before HELLO, a silent peer.  Each time
# the sink refuses (ERROR frame or close), logs it, stays up, writes nothing
# outside its root and publishes nothing; afterwards a real agent still
# transfers to it.
. "$(dirname "$0")/lib.sh"
sl_setup
RAW=$(dirname "$0")/rawpeer.py

port=$(sl_port)
sl_sink_conf sink "$port" tls=off idle_timeout=2s
sl_start sink || { fail "start sink"; sl_done; }
root=$T/sink.root
mkdir -p "$T/outside"

alive() { kill -0 "${SL_PID[sink]}" 2>/dev/null; }

# hostile CASE [ARG]: run rawpeer, then check the sink's reaction
hostile() {
	local case=$1 arg=${2:-} before out rc new
	before=$(wc -l < "$T/sink.log")
	out=$(timeout 20 python3 "$RAW" "127.0.0.1:$port" "$T/secret" "$case" $arg 2>&1); rc=$?
	sleep 0.2	# let the sink log the close
	new=$(tail -n +"$((before + 1))" "$T/sink.log" | grep -E '^(warn|error|info) (sink|stream)' |
	    grep -vE 'state=|stream=[0-9/]+ tls=' | head -3)
	if [ "$rc" != 0 ]; then
		fail "$case: sink did not refuse: $out"
	elif [ -z "$new" ]; then
		fail "$case: refused ($out) but the sink logged nothing"
	elif ! alive; then
		fail "$case: sink died"
	else
		ok "$case${arg:+ $arg}: $out"
		echo "          log: $(head -1 <<<"$new")"
	fi
}

for c in path-dotdot path-abs path-dotdot-mid path-nul path-long path-dot \
    name-dotdot name-slash truncated too-long unknown-type data-before-hello \
    bad-flags bad-magic data-unopened commit-unopened dup-path file-as-dir; do
	hostile "$c"
done

# symlinks planted in the sink root: the partial dir itself, and a file
# inside a real partial dir
ln -s "$T/outside" "$root/.evil.partial"
hostile open evil
mkdir -p "$root/.evil2.partial" "$T/outside2"
ln -s "$T/outside2/target" "$root/.evil2.partial/f"
ln -s "$T/outside2" "$root/.evil2.partial/sub"
hostile open evil2
mkdir -p "$root/.evil3.partial"
ln -s "$T/outside2" "$root/.evil3.partial/sub"
hostile open-sub evil3
[ -z "$(ls -A "$T/outside")" ] && [ -z "$(ls -A "$T/outside2")" ] &&
    ok "symlinks: nothing written outside the root" ||
    fail "symlinks: written outside the root: $(ls -lA "$T/outside" "$T/outside2")"

# silent peer: the sink's idle_timeout (2s) closes it, within a few seconds
out=$(timeout 20 python3 "$RAW" "127.0.0.1:$port" "$T/secret" silent 8 2>&1); rc=$?
after=$(sed -n 's/.*after=\([0-9.]*\).*/\1/p' <<<"$out")
if [ "$rc" = 0 ] && awk -v a="${after:-99}" 'BEGIN { exit !(a >= 1.5 && a <= 5) }'; then
	ok "silent peer closed by the sink: $out"
else
	fail "silent peer: $out (want closed after ~2s)"
fi
grep -q "idle for" "$T/sink.log" && ok "log: $(grep -m1 'idle for' "$T/sink.log")" ||
    fail "silent peer: sink did not log the idle close"

alive && ok "sink alive after all hostile peers" || fail "sink died"

# nothing outside the root, nothing published
for p in "$T/escape" "$T/b" /abs /escape; do
	[ -e "$p" ] && fail "created outside root: $p"
done
extra=$(find "$T" -mindepth 1 -maxdepth 1 | grep -vE "/(certs|secret|sink\.(conf|log|journal|root)|outside2?)$")
[ -z "$extra" ] && ok "nothing new in the test dir outside the sink root" || fail "unexpected: $extra"
published=$(ls -A "$root" | grep -v '^\.' || true)
[ -z "$published" ] && ok "nothing published in the sink root" || fail "published: $published"
pubjson=$("$SLUICE" -c "$T/sink.conf" ls --json | python3 -c '
import json,sys; print(" ".join(d["name"] for d in json.load(sys.stdin) if d["state"] == "published"))')
[ -z "$pubjson" ] && ok "sink journal: no published dataset" || fail "sink journal published: $pubjson"

# a real agent still gets through
mkdir -p "$T/src/good/d"
head -c 300000 /dev/urandom > "$T/src/good/d/x"
echo fine > "$T/src/good/y"
sl_agent_conf agent "$port" tls=off
sl_start agent || fail "start agent"
sl_submit agent "$T/src/good" --name good >/dev/null || fail "submit"
if sl_wait agent good 20 >/dev/null && sl_same "$T/src/good" "$root/good"; then
	ok "normal transfer after the hostile peers: byte-identical"
else
	fail "normal transfer after the hostile peers"
fi
alive && ok "sink still alive" || fail "sink died at the end"
sl_done
