#!/usr/bin/env bash
# Bulk data over TLS with one chunk in flight at a time: every chunk ends
# in a burst the sink must drain from OpenSSL's read-ahead buffer while the
# socket has nothing more to say.  (Regression: records buffered by
# read-ahead were not seen as pending, and the transfer hung until the
# idle timeout.)
. "$(dirname "$0")/lib.sh"
sl_setup

mkdir -p "$T/src/bulk"
head -c $((96 * 1048576 + 4097)) /dev/urandom > "$T/src/bulk/a.bin"
for streams in 1 3; do
	port=$(sl_port)
	sl_sink_conf "sink$streams" "$port" tls=on idle_timeout=60s
	sl_agent_conf "agent$streams" "$port" tls=on streams=$streams window=1 chunk_size=8M
	sl_start "sink$streams" && sl_start "agent$streams" || { fail "start"; sl_done; }
	t0=$SECONDS
	sl_submit "agent$streams" "$T/src/bulk" --name bulk >/dev/null || fail "submit"
	if sl_wait "agent$streams" bulk 40 >/dev/null &&
	    sl_same "$T/src/bulk" "$T/sink$streams.root/bulk"; then
		ok "streams=$streams window=1: 96 MiB over TLS in $((SECONDS - t0))s, byte-identical"
	else
		fail "streams=$streams window=1: not transferred within 40 s (hung?)"
	fi
	sl_stop "agent$streams"; sl_stop "sink$streams"
done
sl_done
