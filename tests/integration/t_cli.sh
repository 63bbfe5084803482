#!/usr/bin/env bash
# The operator surface against real processes: status and status --json
# while a dataset flows (through a rate-limiting proxy, so it stays in
# flight), with the sink down (degraded, exit 1) and with the agent
# stopped (down, exit 3, datasets still listed from the journal); watch
# in a pseudo-terminal (tmux) and piped; verify at the sink and at the
# agent, before and after a file is corrupted; per-command --help; the
# control commands the daemon may not know yet; man pages.
. "$(dirname "$0")/lib.sh"
sl_setup

S() { local n=$1; shift; "$SLUICE" -c "$T/$n.conf" "$@"; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# ---- help ---------------------------------------------------------------
out=$("$SLUICE" --help) && echo "$out" | grep -q "watch" && echo "$out" | grep -q "verify" &&
    ok "sluice --help lists the commands" || fail "sluice --help: $out"
good=1
for c in status watch ls show submit wait verify pause resume retry retry-hook cancel; do
	out=$("$SLUICE" -c /nonexistent "$c" --help 2>&1) && echo "$out" | grep -q "^usage: sluice .*$c" || { good=0; echo "   $c --help: $out"; }
done
[ $good = 1 ] && ok "every command answers --help without a config" || fail "per-command --help"

# ---- a sink, a slow proxy, an agent --------------------------------------
sport=$(sl_port); pport=$(sl_port)
sl_sink_conf sink "$sport" tls=on sha256=on	# verify checks both digests
sl_agent_conf agent "$pport" tls=on chunk_size=256K streams=2
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$sport" $((3 * 1024 * 1024)) > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail start; sl_done; }

# a small dataset that goes through first (for verify), then a big one
mkdir -p "$T/src/small/sub" "$T/src/big"
for i in 1 2 3; do head -c $((i * 100000)) /dev/urandom > "$T/src/small/f$i.bin"; done
echo hello > "$T/src/small/sub/note.txt"
head -c $((120 * 1024 * 1024)) /dev/urandom > "$T/src/big/data.bin"	# in flight through every check below
sl_submit agent "$T/src/small" --name small >/dev/null && sl_wait agent small 60 >/dev/null ||
    fail "small dataset not transferred"
sl_submit agent "$T/src/big" --name big >/dev/null || fail "submit big"
# wait until big is moving
for i in $(seq 100); do
	[ "$(sl_ls_field agent big bytes_done)" ] && [ "$(sl_ls_field agent big bytes_done)" -gt 0 ] && break
	sleep 0.1
done

# ---- flowing --------------------------------------------------------------
out=$(S agent status); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^link: *up to 127.0.0.1:$pport since" &&
    echo "$out" | grep -q "oldest unsent" && echo "$out" | grep -q "big .*transferring"; then
	ok "status flowing: exit 0, link up since T, oldest unsent, big in flight"
else
	fail "status flowing (rc=$rc): $out"
fi
json=$(S agent status --json); rc=$?
if [ $rc = 0 ] && echo "$json" | jget 'd["health"] == "healthy" and d["link"]["state"] == "up" and d["link"]["since"] > 0 and d["pending_bytes"] > 0 and d["active"][0]["name"] == "big" and d["schema"] == 1 and d["oldest_pending_age"] >= 0' | grep -q True; then
	ok "status --json flowing parses: healthy, link up, pending bytes, active big"
else
	fail "status --json flowing (rc=$rc): $json"
fi
out=$(S sink status); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^receiving:" && echo "$out" | grep -q "big .*receiving" &&
    echo "$out" | grep -q "^root: .* free of"; then
	ok "sink status: receiving big with progress, root free space"
else
	fail "sink status (rc=$rc): $out"
fi
S sink status --json | jget 'd["sink"]["connections"] >= 2 and d["active"][0]["state"] == "receiving" and d["root"]["free_bytes"] > 0' | grep -q True &&
    ok "sink status --json parses" || fail "sink status --json: $(S sink status --json)"

# a daemon that does not know a request (the sink has no "pause"): exit 1, said clearly
out=$(S sink pause 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q 'does not support "pause" (it answered: unknown command)' &&
    ok "unknown control command: exit 1 with a clear message" || fail "unknown command (rc=$rc): $out"

# ---- watch: piped, then in a pseudo-terminal -------------------------------
out=$(S agent watch --interval 0.3 --count 3 | cat)
n=$(echo "$out" | grep -c " big transferring [0-9.]*% .*rate=.* eta=")
if [ "$n" = 3 ] && ! echo "$out" | grep -q $'\033'; then
	ok "watch piped: 3 plain lines, no escapes"
else
	fail "watch piped ($n lines): $out"
fi
if command -v tmux >/dev/null; then
	sock="$T/tmux.sock"
	tmux -S "$sock" new-session -d -x 120 -y 30 "$SLUICE -c $T/agent.conf watch --interval 0.5; echo WATCH-EXIT=\$?; stty -a | grep -o -- '-\{0,1\}icanon'; sleep 30"
	sleep 2
	screen=$(tmux -S "$sock" capture-pane -p)
	if echo "$screen" | grep -q "big .*transferring *\[#*\.*\] *[0-9.]*% .*/s ETA" &&
	    echo "$screen" | grep -q "^link: up to "; then
		ok "watch on a tty draws a progress bar with rate and ETA"
	else
		fail "watch tty screen: $screen"
	fi
	tmux -S "$sock" send-keys q
	for _ in $(seq 30); do
		screen=$(tmux -S "$sock" capture-pane -p 2>/dev/null)
		echo "$screen" | grep -qx "icanon" && break; sleep 0.1
	done
	if echo "$screen" | grep -q "WATCH-EXIT=0" && echo "$screen" | grep -qx "icanon"; then
		ok "watch quits on q and restores the terminal (icanon back)"
	else
		fail "watch q: $screen"
	fi
	tmux -S "$sock" kill-server 2>/dev/null
	# a fresh server on its own socket: the old one may still be exiting
	sock="$T/tmux2.sock"
	tmux -S "$sock" new-session -d -x 120 -y 30 "$SLUICE -c $T/agent.conf watch; echo WATCH-EXIT=\$?; stty -a | grep -ow -- '-\{0,1\}echo'; sleep 30"
	# wait for watch to draw, then Ctrl-C; poll for its exit (a loaded CI
	# machine may be slow to start tmux)
	for _ in $(seq 100); do
		tmux -S "$sock" capture-pane -p 2>/dev/null | grep -q "sluice watch\|link: " && break; sleep 0.1
	done
	tmux -S "$sock" send-keys C-c
	for _ in $(seq 50); do
		screen=$(tmux -S "$sock" capture-pane -p 2>/dev/null)
		echo "$screen" | grep -qx "echo" && break; sleep 0.1
	done
	if echo "$screen" | grep -q "WATCH-EXIT=0" && echo "$screen" | grep -qx "echo"; then
		ok "watch quits on Ctrl-C and restores echo"
	else
		fail "watch Ctrl-C: $screen"
	fi
	tmux -S "$sock" kill-server 2>/dev/null
else
	script -q -c "$SLUICE -c $T/agent.conf watch --interval 0.3 --count 2" /dev/null > "$T/watch.tty" </dev/null
	grep -q $'\033\[H' "$T/watch.tty" && grep -q "big .*\[#*\.*\]" "$T/watch.tty" &&
	    ok "watch under script(1) draws in place" || fail "watch under script: $(cat -v "$T/watch.tty")"
fi

# ---- sink down: degraded ------------------------------------------------------
sl_stop sink
for i in $(seq 50); do S agent status >/dev/null 2>&1; [ $? = 1 ] && break; sleep 0.1; done
out=$(S agent status); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "DEGRADED" && ! echo "$out" | grep -q "^link: *up "; then
	ok "sink down: status exit 1, DEGRADED, link not up"
else
	fail "sink down (rc=$rc): $out"
fi
json=$(S agent status --json); rc=$?
if [ $rc = 1 ] && echo "$json" | jget 'd["health"] == "degraded" and d["link"]["state"] != "up" and d["daemon"] == "up"' | grep -q True; then
	ok "sink down: --json degraded, parsed"
else
	fail "sink down --json (rc=$rc): $json"
fi

# ---- control commands the daemon does not know yet -------------------------
out=$(S agent pause 2>&1); rc=$?
if [ $rc = 0 ] || { [ $rc = 1 ] && echo "$out" | grep -q "unknown command"; }; then
	ok "pause: done or a clear \"unknown command\" (rc=$rc)"
else
	fail "pause (rc=$rc): $out"
fi
out=$(S agent cancel big </dev/null 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q -- "--yes" && ok "cancel without a tty asks for --yes" || fail "cancel no tty (rc=$rc): $out"
S agent resume >/dev/null 2>&1

# ---- agent stopped: down -------------------------------------------------------
sl_stop agent
out=$(S agent status); rc=$?
if [ $rc = 3 ] && echo "$out" | grep -q "DOWN" && echo "$out" | grep -Eq "[12] transferred"; then
	ok "agent stopped: exit 3, DOWN, datasets still read from the journal"
else
	fail "agent stopped (rc=$rc): $out"
fi
json=$(S agent status --json); rc=$?
if [ $rc = 3 ] && echo "$json" | jget 'd["health"] == "down" and d["link"] is None and d["counts"]["transferred"] >= 1' | grep -q True; then
	ok "agent stopped: --json down, parsed"
else
	fail "agent stopped --json (rc=$rc): $json"
fi
out=$(S agent pause 2>&1); rc=$?
[ $rc = 3 ] && ok "pause with the agent down: exit 3" || fail "pause down (rc=$rc): $out"

# ---- verify -----------------------------------------------------------------------
out=$(S sink verify small); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "^OK .*4 files" && ok "verify at the sink: good dataset passes" ||
    fail "verify good (rc=$rc): $out"
out=$(S agent verify small); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "^OK small" && ok "verify at the agent: source unchanged" ||
    fail "verify agent good (rc=$rc): $out"
printf 'X' | dd of="$T/sink.root/small/f2.bin" bs=1 seek=1000 conv=notrunc 2>/dev/null
echo extra > "$T/sink.root/small/sub/extra.txt"
rm "$T/sink.root/small/f1.bin"
out=$(S sink verify small); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "^digest *f2.bin: sha256 and xxh3-128 differs" &&
    echo "$out" | grep -q "^extra *sub/extra.txt" && echo "$out" | grep -q "^missing *f1.bin" &&
    echo "$out" | grep -q "^FAILED"; then
	ok "verify at the sink reports the corrupted, extra and missing files"
else
	fail "verify corrupted (rc=$rc): $out"
fi
# change byte 5 for sure: the file is random, so it may already be 'Y'
b5=$(dd if="$T/src/small/f3.bin" bs=1 skip=5 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
[ "$b5" = 89 ] && nb=Z || nb=Y
printf '%s' "$nb" | dd of="$T/src/small/f3.bin" bs=1 seek=5 conv=notrunc 2>/dev/null
out=$(S agent verify small); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^changed *f3.bin: chunk 0" && ok "verify at the agent reports the changed source file" ||
    fail "verify agent changed (rc=$rc): $out"

# ---- man pages -----------------------------------------------------------------------
if command -v man >/dev/null; then
	good=1
	for m in agent/cli/sluice.1 agent/daemon/sluiced.8 agent/daemon/sluice.conf.5; do
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$ROOT/$m" 2>&1 >/dev/null)
		[ -z "$w" ] || { good=0; echo "   $m: $w"; }
	done
	[ $good = 1 ] && ok "man pages render without warnings" || fail "man warnings"
	good=1
	for k in $(sed -n 's/^\t{ "\([a-z]*\)", "\([a-z_]*\)",.*/\1.\2/p' "$ROOT/agent/base/config_keys.c"); do
		grep -q "^\.It Cm ${k#*.}\b" "$ROOT/agent/daemon/sluice.conf.5" || { good=0; echo "   sluice.conf.5 lacks $k"; }
	done
	[ $good = 1 ] && ok "sluice.conf.5 documents every key of config_keys.c" || fail "sluice.conf.5 keys"
fi
sl_done
