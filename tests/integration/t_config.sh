#!/usr/bin/env bash
# `sluiced -n -c FILE`: a good config says OK and exits 0; every mistake is
# reported as FILE:LINE: [section] key: ... and the exit status is 2; all
# mistakes of one file are reported, not just the first; a missing config
# file is a clear error.
. "$(dirname "$0")/lib.sh"
sl_setup

# check NAME EXPECT_RC PATTERN...   run sluiced -n on $T/NAME.conf
check() {
	local name=$1 want=$2 out rc pat
	shift 2
	out=$("$SLUICED" -n -c "$T/$name.conf" 2>&1); rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$name: exit $rc, want $want: $out"
		return
	fi
	for pat in "$@"; do
		if ! grep -qE -- "$pat" <<<"$out"; then
			fail "$name: output lacks /$pat/: $out"
			return
		fi
	done
	ok "$name: exit $rc, $(head -1 <<<"$out")"
}

port=$(sl_port)
sl_sink_conf good-sink "$port" tls=off idle_timeout=2s max_connections=10
sl_agent_conf good-agent "$port" tls=on chunk_size=1M streams=2
sl_sink_conf good-sink-tls "$port"
check good-sink 0 "^$T/good-sink.conf: OK"
check good-agent 0 "OK"
check good-sink-tls 0 "OK"

# one mistake each; line numbers are where the mistake is
c=$T/good-sink.conf
f() { sed "$1" "$c" > "$T/$2.conf"; }	# f SED-EXPR NAME
n_listen=$(grep -n '^listen' "$c" | cut -d: -f1)
n_role=$(grep -n '^role' "$c" | cut -d: -f1)
n_mode=$(grep -n '^mode' "$c" | cut -d: -f1)

f "s/^role = sink/role = sinc/" bad-role
check bad-role 2 "bad-role.conf:$n_role: .*role"
f "s/^listen = .*/listen = 127.0.0.1:99999/" bad-port
check bad-port 2 "bad-port.conf:$n_listen: .*listen"
f "s/^idle_timeout = .*/idle_timeout = 0s/" bad-idle
check bad-idle 2 "bad-idle.conf:[0-9]+: .*idle_timeout"
f "s/^max_connections = .*/max_connections = lots/" bad-maxconn
check bad-maxconn 2 "bad-maxconn.conf:[0-9]+: .*max_connections"
f "${n_role}a frobnicate = 1" bad-unknown-key
check bad-unknown-key 2 "bad-unknown-key.conf:$((n_role + 1)): .*frobnicate"
printf '[nosuchsection]\nx = 1\n' | cat "$c" - > "$T/bad-section.conf"
check bad-section 2 "bad-section.conf:[0-9]+: .*nosuchsection"
f "s/^mode = off/mode = maybe/" bad-mode
check bad-mode 2 "bad-mode.conf:$n_mode: .*mode"
f "s/^listen = .*/listen 127.0.0.1:1/" bad-syntax
check bad-syntax 2 "bad-syntax.conf:$n_listen:"
f "/^journal/d" bad-missing
check bad-missing 2 "bad-missing.conf.*journal"
sed "s/^chunk_size = .*/chunk_size = 1K/" "$T/good-agent.conf" > "$T/bad-chunk.conf"
check bad-chunk 2 "bad-chunk.conf:[0-9]+: .*chunk_size"
sed "s/^streams = .*/streams = 65/" "$T/good-agent.conf" > "$T/bad-streams.conf"
check bad-streams 2 "bad-streams.conf:[0-9]+: .*streams"
# tls on without ca/cert/key
sed "/^ca = \|^cert = \|^key = /d" "$T/good-sink-tls.conf" > "$T/bad-tls.conf"
check bad-tls 2 "bad-tls.conf.*(ca|cert|key)"
# a secret file readable by others
cp "$T/secret" "$T/secret-loose"; chmod 644 "$T/secret-loose"
sed "s|^secret_file = .*|secret_file = $T/secret-loose|" "$c" > "$T/bad-secret-mode.conf"
check bad-secret-mode 2 "bad-secret-mode.conf:[0-9]+: .*secret_file"

# three mistakes in one file: all three are reported
# (the role stays valid: with a bad role the role-specific checks such as
# listen's host:port cannot apply)
sed -e "${n_role}a frobnicate = 1" -e "s/^listen = .*/listen = 127.0.0.1:99999/" \
    -e "s/^idle_timeout = .*/idle_timeout = 0s/" "$c" > "$T/bad-three.conf"
check bad-three 2 "bad-three.conf:$((n_role + 1)): .*frobnicate" "bad-three.conf:$((n_listen + 1)): .*listen" \
    "bad-three.conf:[0-9]+: .*idle_timeout"
nerr=$("$SLUICED" -n -c "$T/bad-three.conf" 2>&1 | grep -c "bad-three.conf:[0-9]*:")
[ "$nerr" -ge 3 ] && ok "bad-three: $nerr errors reported" || fail "bad-three: only $nerr errors reported"

# missing config file, with and without -n: clear error, non-zero exit, no daemon
for args in "-n -c" "-c"; do
	out=$("$SLUICED" $args "$T/does-not-exist.conf" 2>&1); rc=$?
	if [ "$rc" -ne 0 ] && grep -q "does-not-exist.conf" <<<"$out" &&
	    grep -qi "no such file" <<<"$out"; then
		ok "missing config ($args): exit $rc, $out"
	else
		fail "missing config ($args): exit $rc, $out"
	fi
done
# no -c at all: usage, exit 2
out=$("$SLUICED" 2>&1); rc=$?
[ "$rc" = 2 ] && grep -qi usage <<<"$out" && ok "no -c: usage, exit 2" || fail "no -c: exit $rc: $out"
sl_done
