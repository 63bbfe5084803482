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
# [tls] threads: 2 (the default: DATA encrypted and decrypted on worker
# threads) and 0 (on the event loops).
tls_cpu() {	# PID: CPU ms of its "sluice-tls" threads (schedstat: ns run)
	local t n=0
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm")" = sluice-tls ] && n=$((n + $(awk '{print $1}' "$t/schedstat")))
	done
	echo $((n / 1000000))
}
for threads in 2 0; do
	for streams in 1 3; do
		port=$(sl_port)
		n=$streams.$threads
		sl_sink_conf "sink$n" "$port" tls=on tls.threads=$threads idle_timeout=60s
		sl_agent_conf "agent$n" "$port" tls=on tls.threads=$threads streams=$streams window=1 chunk_size=8M
		sl_start "sink$n" && sl_start "agent$n" || { fail "start"; sl_done; }
		t0=$SECONDS
		sl_submit "agent$n" "$T/src/bulk" --name bulk >/dev/null || fail "submit"
		if sl_wait "agent$n" bulk 40 >/dev/null &&
		    sl_same "$T/src/bulk" "$T/sink$n.root/bulk"; then
			ok "threads=$threads streams=$streams window=1: 96 MiB over TLS in $((SECONDS - t0))s, byte-identical"
		else
			fail "threads=$threads streams=$streams window=1: not transferred within 40 s (hung?)"
		fi
		# the crypto ran where the setting says: 96 MiB of AES-GCM is
		# 20 ms or more each side, none of it there with threads = 0
		ca=$(tls_cpu "${SL_PID[agent$n]}"); cs=$(tls_cpu "${SL_PID[sink$n]}")
		if { [ $threads = 0 ] && [ "$ca" = 0 ] && [ "$cs" = 0 ]; } ||
		    { [ $threads != 0 ] && [ "$ca" -ge 5 ] && [ "$cs" -ge 5 ]; }; then
			ok "threads=$threads: TLS worker threads ran agent $ca ms, sink $cs ms"
		else
			fail "threads=$threads: TLS worker threads ran agent $ca ms, sink $cs ms"
		fi
		sl_stop "agent$n"; sl_stop "sink$n"
	done
done
sl_done
