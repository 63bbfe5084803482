# lib.sh: helpers for integration tests that run real sluiced processes on
# 127.0.0.1.  Source it, then call sl_setup.  Every process started here is
# recorded and killed (by PID) on exit; the temp dir is removed unless the
# test failed and SLUICE_KEEP=1.
#
#   sl_setup                     temp dir $T, certs in $T/certs, builds nothing
#   sl_port                      print a free TCP port on 127.0.0.1
#   sl_sink_conf NAME PORT [tls=on|off] [KEY=VALUE...]   write $T/NAME.conf
#   sl_agent_conf NAME PORT [tls=on|off] [KEY=VALUE...]  (KEY goes in [agent];
#                                tls.KEY=VALUE in [tls])
#   sl_start NAME                start sluiced -c $T/NAME.conf, log $T/NAME.log
#                                (in network namespace SL_NETNS[NAME] if set;
#                                SL_HOST replaces 127.0.0.1 in the confs)
#   sl_holdproxy LISTEN TARGET [commit GO]  holdproxy.py as SL_PID[proxy]
#   sl_held_commit AGENT DIR     submit, wait for the held COMMITTED, kill -9
#   sl_kill9 NAME / sl_stop NAME
#   sl_submit NAME DIR [ARGS]    sluice submit through agent NAME
#   sl_wait NAME DATASET [SECS [--hook]]  wait for transferred (agent) /
#                                published (sink); --hook: for the hook too
#   sl_same SRC PUBLISHED        byte-identical trees (manifest excluded)
#   sl_manifest_ok DIR [sha256]  every file's xxh3-128 (and sha256 where listed)
#                                matches .sluice-manifest; sha256: must be listed
#   sl_show NAME DATASET FIELD   print a counter from `sluice show`
#   ok MSG / fail MSG

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SLUICED=${SLUICED:-$ROOT/sluiced}
SLUICE=${SLUICE:-$ROOT/sluice}
declare -A SL_PID=() SL_NETNS=()
SL_FAILED=0

sl_cleanup() {
	local n
	for n in "${!SL_PID[@]}"; do
		kill -9 "${SL_PID[$n]}" 2>/dev/null
		wait "${SL_PID[$n]}" 2>/dev/null
	done
	if [ "$SL_FAILED" != 0 ] || [ "${SLUICE_KEEP:-0}" = 1 ]; then
		echo "   (logs kept in $T)" >&2
	else
		rm -rf "$T"
	fi
}

sl_setup() {
	T=$(mktemp -d /tmp/sluice-test.XXXXXX)
	trap sl_cleanup EXIT
	bash "$ROOT/scripts/mkcerts.sh" "$T/certs" >/dev/null
	head -c 32 /dev/urandom | base64 > "$T/secret"
	chmod 600 "$T/secret"
}

sl_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# sl_agent_cert ID: a certificate with CN=ID for an agent of that id (the
# sink takes the identity from the CN): $T/certs/agent-ID.{pem,key}.
sl_agent_cert() {
	[ -f "$T/certs/agent-$1.pem" ] || bash "$ROOT/scripts/mkcerts.sh" --agent "$T/certs" "$1" >/dev/null
}

# sl_tls_block ROLE on|off [AGENT_ID]: an agent gets its own certificate
sl_tls_block() {
	local cert=$1
	if [ "$2" = off ]; then
		printf '[tls]\nmode = off\nsecret_file = %s\n' "$T/secret"
	else
		if [ -n "${3:-}" ]; then
			sl_agent_cert "$3"
			cert=agent-$3
		fi
		printf '[tls]\nmode = on\nca = %s\ncert = %s\nkey = %s\n' \
		    "$T/certs/ca.pem" "$T/certs/$cert.pem" "$T/certs/$cert.key"
	fi
}

# KEY=VALUE arguments of sl_*_conf: tls.KEY goes in [tls], tls= is the
# mode, the rest in the role's section.
sl_tls_keys() {
	local kv
	for kv in "$@"; do
		case $kv in tls.*) kv=${kv#tls.}; printf '%s = %s\n' "${kv%%=*}" "${kv#*=}";; esac
	done
}
sl_role_keys() {
	local kv
	for kv in "$@"; do
		case $kv in tls=*|tls.*) ;; *) printf '%s = %s\n' "${kv%%=*}" "${kv#*=}";; esac
	done
}

sl_sink_conf() {
	local name=$1 port=$2 tls=on kv
	shift 2
	mkdir -p "$T/$name.root"
	{
		printf '[daemon]\nrole = sink\nid = %s\njournal = %s\n' "$name" "$T/$name.journal"
		for kv in "$@"; do [ "${kv%%=*}" = tls ] && tls=${kv#tls=}; done
		sl_tls_block sink "$tls"
		sl_tls_keys "$@"
		printf '[sink]\nlisten = %s:%s\nroot = %s\n' "${SL_HOST:-127.0.0.1}" "$port" "$T/$name.root"
		sl_role_keys "$@"
	} > "$T/$name.conf"
}

sl_agent_conf() {
	local name=$1 port=$2 tls=on kv
	shift 2
	{
		printf '[daemon]\nrole = agent\nid = %s\njournal = %s\n' "$name" "$T/$name.journal"
		for kv in "$@"; do [ "${kv%%=*}" = tls ] && tls=${kv#tls=}; done
		sl_tls_block agent "$tls" "$name"
		sl_tls_keys "$@"
		printf '[agent]\ndestination = %s:%s\nreconnect_min = 0.1s\nreconnect_max = 1s\n' "${SL_HOST:-127.0.0.1}" "$port"
		sl_role_keys "$@"
	} > "$T/$name.conf"
}

sl_start() {
	local name=$1 i
	# SL_NETNS[name]: run it in that network namespace (ip netns exec
	# execs, so $! is sluiced itself)
	if [ -n "${SL_NETNS[$name]:-}" ]; then
		ip netns exec "${SL_NETNS[$name]}" "$SLUICED" -c "$T/$name.conf" >>"$T/$name.log" 2>&1 &
	else
		"$SLUICED" -c "$T/$name.conf" >>"$T/$name.log" 2>&1 &
	fi
	SL_PID[$name]=$!
	for i in $(seq 1 100); do
		[ -S "$T/$name.journal/control.sock" ] && "$SLUICE" -c "$T/$name.conf" status >/dev/null 2>&1
		[ $? -ne 3 ] && [ -S "$T/$name.journal/control.sock" ] && return 0
		kill -0 "${SL_PID[$name]}" 2>/dev/null || { echo "sluiced $name exited:" >&2; tail -5 "$T/$name.log" >&2; return 1; }
		sleep 0.05
	done
	echo "sluiced $name did not come up" >&2
	return 1
}

# sl_holdproxy ARGS...: tests/integration/holdproxy.py ARGS (LISTEN TARGET
# [commit GO_FILE]) as SL_PID[proxy], output in $T/proxy.log; 1 if it
# did not say "ready" within 5 s.
sl_holdproxy() {
	local i
	python3 -u "$ROOT/tests/integration/holdproxy.py" "$@" > "$T/proxy.log" 2>&1 &
	SL_PID[proxy]=$!
	for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

# sl_held_commit AGENT DIR: submit DIR through AGENT (its sink behind
# sl_holdproxy), wait until the proxy holds that dataset's COMMITTED, then
# kill -9 AGENT.  HELD_ID is the dataset's id; 1 if the submit failed or
# no COMMITTED of it was held within 15 s (the agent is left running).
sl_held_commit() {
	local i
	HELD_ID=
	sl_submit "$1" "$2" >/dev/null || return 1
	HELD_ID=$("$SLUICE" -c "$T/$1.conf" show "$(basename "$2")" | sed -n '1s/.*(\([0-9a-f]*\)).*/\1/p')
	for i in $(seq 300); do grep -q "^held COMMITTED" "$T/proxy.log" && break; sleep 0.05; done
	grep -q "^held COMMITTED dsid=$HELD_ID" "$T/proxy.log" || return 1
	sl_kill9 "$1"
}

sl_kill9() {
	kill -9 "${SL_PID[$1]}" 2>/dev/null
	wait "${SL_PID[$1]}" 2>/dev/null
	unset "SL_PID[$1]"
}

sl_stop() {
	kill "${SL_PID[$1]}" 2>/dev/null
	wait "${SL_PID[$1]}" 2>/dev/null
	unset "SL_PID[$1]"
}

sl_submit() {
	local name=$1
	shift
	"$SLUICE" -c "$T/$name.conf" submit "$@"
}

sl_wait() {
	"$SLUICE" -c "$T/$1.conf" wait "$2" --timeout "${3:-60}" "${@:4}"
}

sl_same() {
	diff -r --exclude=.sluice-manifest "$1" "$2" >/dev/null
}

sl_manifest_ok() {
	local dir=$1 need_sha=${2:-}
	[ -f "$dir/.sluice-manifest" ] || return 1
	# XXH3-128 on every line, as xxh128sum checks it; SHA-256 where the
	# sink computed it ("-": [sink] sha256 = off), as sha256sum does;
	# escaped paths included (manifest_check.py)
	python3 "$ROOT/tests/integration/manifest_check.py" "$dir" $need_sha >/dev/null
}

# sl_show NAME DATASET resent|sent|nacked
sl_show() {
	"$SLUICE" -c "$T/$1.conf" ls --json | python3 -c '
import json,sys
name, field = sys.argv[1], sys.argv[2]
for d in json.load(sys.stdin):
    if d["name"] == name: print(d["chunks_" + field]); break
' "$2" "$3"
}

# sl_testbed_up TB: the private sshd and single-node Slurm of
# scripts/testbed-up.sh in TB, its env sourced (SSH_PORT, SSH_USER,
# SSH_KEY, KNOWN_HOSTS, DATA_DIR...).  Slurm that cannot start on this
# machine (exit 3) is a SKIP (exit 77: CI fails it unless the scenario is
# on its short named list); any other failure fails the scenario.
sl_testbed_up() {
	local rc
	bash "$ROOT/scripts/testbed-up.sh" "$1" 2>"$T/testbed-up.log"
	rc=$?
	if [ "$rc" = 3 ]; then
		echo "   SKIP Slurm cannot start on this machine: $(grep 'slurm:' "$T/testbed-up.log" | tail -1)"
		tail -20 "$T/testbed-up.log" | sed 's/^/        /'
		exit 77
	elif [ "$rc" != 0 ]; then
		cat "$T/testbed-up.log"
		fail "testbed-up.sh exit $rc"
		exit 1
	fi
	set -a; . "$1/env"; set +a
}

ok() { echo "   ok   $*"; }
fail() { echo "   FAIL $*"; SL_FAILED=1; }
sl_done() { exit "$SL_FAILED"; }

# sl_ls_field NAME DATASET FIELD: a numeric field of `sluice ls --json`
# without python (fast enough to poll a transfer in progress).
sl_ls_field() {
	"$SLUICE" -c "$T/$1.conf" ls --json 2>/dev/null | awk -v ds="$2" -v f="$3" '
	    /"name": / { cur = $2; gsub(/[",]/, "", cur) }
	    cur == ds && $1 == "\"" f "\":" { v = $2; sub(/,$/, "", v); print v; exit }'
}

# sl_ls_table NAME: one line per dataset in NAME's journal (sluice ls
# --json, without python: its start-up costs seconds on a loaded machine):
# id name state chunks chunks_done bytes bytes_done
sl_ls_table() {
	"$SLUICE" -c "$T/$1.conf" ls --json 2>/dev/null | awk '
	    function val(s) { sub(/^[^:]*: */, "", s); sub(/,$/, "", s); gsub(/"/, "", s); return s }
	    $1 == "\"id\":" { id = val($0) }
	    $1 == "\"name\":" { name = val($0) }
	    $1 == "\"state\":" { state = val($0) }
	    $1 == "\"chunks\":" { ch = val($0) }
	    $1 == "\"chunks_done\":" { cd = val($0) }
	    $1 == "\"bytes\":" { by = val($0) }
	    $1 == "\"bytes_done\":" { bd = val($0) }
	    /^  }/ { print id, name, state, ch, cd, by, bd }'
}

# sl_sink_once SINK SRCDIR DS...: each dataset is at the sink exactly once,
# judged only by what the sink wrote durably (never by a counter a kill -9
# can lose): one directory <root>/DS and no .DS.partial; its manifest
# lists every file of SRCDIR/DS exactly once and nothing else; the sink's
# journal holds exactly one record named DS, published, with every chunk
# recorded (chunks_done = chunks, bytes_done = bytes).  Prints one line
# per problem; returns 1 if there was any.
sl_sink_once() {
	local sink=$1 src=$2 ds bad=0 want got recs
	shift 2
	sl_ls_table "$sink" > "$T/$sink.ls.txt"
	for ds in "$@"; do
		[ -d "$T/$sink.root/$ds" ] || { echo "$ds: not published at $sink"; bad=1; continue; }
		[ -e "$T/$sink.root/.$ds.partial" ] && { echo "$ds: .$ds.partial left at $sink"; bad=1; }
		want=$(cd "$src/$ds" && find . -type f | sed 's|^\./||' | sort)
		got=$(grep -v '^#' "$T/$sink.root/$ds/.sluice-manifest" | awk -F'\t' '{print $4}' | sort)
		[ "$want" = "$got" ] || { echo "$ds: manifest does not list each file once"; bad=1; }
		recs=$(awk -v n="$ds" '$2 == n' "$T/$sink.ls.txt")
		if [ "$(echo "$recs" | grep -c .)" != 1 ] || [ "$(echo "$recs" | awk '{print $3}')" != published ]; then
			echo "$ds: the sink's journal has these records: $(echo $recs)"; bad=1
		elif ! echo "$recs" | awk '$4 == $5 && $6 == $7 { ok = 1 } END { exit !ok }'; then
			echo "$ds: the sink's journal does not hold every chunk: $recs"; bad=1
		fi
	done
	return $bad
}
