# wan.sh: a WAN for a chaos scenario, through the shared userspace emulator
# (../shared/tools/wanem, README there).  Source it after lib.sh and
# sl_setup, then call wan_up TAG [wan-up.sh options].
#
#   wan_up TAG [OPTS]  namespaces sl<TAG>A (agent side, 10.77.0.1) and
#                      sl<TAG>B (sink side, 10.77.0.2) joined by wanem;
#                      SL_HOST=10.77.0.2 so that sl_*_conf point there;
#                      sinks go in B, agents in A (wan_sink / wan_agent);
#                      torn down on exit (after lib.sh's cleanup killed
#                      the daemons)
#   wan_sink NAME      mark sluiced NAME to run in the sink namespace
#   wan_agent NAME     mark sluiced NAME to run in the agent namespace
#   wan_ctl ARGS       wan-ctl.sh for this link (down, up, set k=v, get x)
#   wan_get LINE.KEY   one stats value (a2b.corrupted, a2b.drop_outage)
#
# Each scenario uses its own namespace names (never wanA/wanB or the
# bench's), so scenarios and the bench can run side by side.  Needs root
# and /dev/net/tun; wan_need prints why not and exits 77 (tests/run.sh
# counts that as skipped, and as a failure unless the scenario is on its
# list of what cannot run on this machine).

if [ -z "${WANEM:-}" ]; then
	WANEM=$ROOT/../shared/tools/wanem
	[ -d "$WANEM" ] || WANEM=/work/shared/tools/wanem
fi

wan_need() {
	local why=""
	[ "$(id -u)" = 0 ] || why="needs root (network namespaces)"
	[ -z "$why" ] && [ ! -c /dev/net/tun ] && why="no /dev/net/tun"
	[ -z "$why" ] && [ ! -x "$WANEM/wan-up.sh" ] && why="no wanem at $WANEM"
	[ -z "$why" ] && ! command -v ip >/dev/null && why="no iproute2"
	if [ -n "$why" ]; then
		echo "   SKIP $why"
		exit 77
	fi
}

wan_cleanup() {
	sl_cleanup			# the daemons first: they live in the namespaces
	"$WANEM/wan-down.sh" >/dev/null 2>&1
	rm -rf "$WANEM_RUN"
}

wan_up() {
	local tag=$1
	shift
	wan_need
	export WANEM_NS_A="sl${tag}A" WANEM_NS_B="sl${tag}B"
	export WANEM_RUN="/run/sluice-wanem-$tag.$$"
	"$WANEM/wan-down.sh" >/dev/null 2>&1	# a leftover from a killed run
	trap wan_cleanup EXIT
	if ! "$WANEM/wan-up.sh" "$@" > "$T/wan-up.log" 2>&1; then
		cat "$T/wan-up.log"
		fail "wan-up.sh $*"
		exit 1
	fi
	SL_HOST=10.77.0.2
}

wan_sink() { SL_NETNS[$1]=$WANEM_NS_B; }
wan_agent() { SL_NETNS[$1]=$WANEM_NS_A; }
wan_ctl() { "$WANEM/wan-ctl.sh" "$@"; }
wan_get() { "$WANEM/wan-ctl.sh" get "$1"; }

# wan_bytes_lost SRC DST: bytes of the files under SRC that are not
# byte-identical under DST
wan_bytes_lost() {
	local f n=0
	while IFS= read -r f; do
		cmp -s "$1/$f" "$2/$f" || n=$((n + $(stat -c %s "$1/$f")))
	done < <(cd "$1" && find . -type f)
	echo $n
}
