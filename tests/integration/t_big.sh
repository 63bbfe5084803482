#!/usr/bin/env bash
# One 2 GiB file, default chunk size (8M), 4 streams, over TLS: byte for
# byte, manifest verifies; prints throughput and the agent's peak RSS,
# which must stay small (the agent streams chunks, it never holds a file).
. "$(dirname "$0")/lib.sh"
sl_setup

SIZE_MIB=${SIZE_MIB:-2048} RSS_MAX_KIB=$((128 * 1024))
free_kib=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt $((6 * 1024 * 1024)) ]; then
	echo "   SKIP t_big: only $((free_kib / 1024)) MiB free under $T, need 6 GiB"
	exit 77
fi

mkdir -p "$T/src/big"
# incompressible and much faster than /dev/urandom: AES-CTR keystream
if command -v openssl >/dev/null; then
	head -c $((SIZE_MIB * 1048576)) /dev/zero | openssl enc -aes-128-ctr -nosalt \
	    -pass "pass:$RANDOM$RANDOM" -pbkdf2 2>/dev/null > "$T/src/big/big.bin"
else
	head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$T/src/big/big.bin"
fi
[ "$(stat -c %s "$T/src/big/big.bin")" = $((SIZE_MIB * 1048576)) ] || { fail "cannot make the source file"; sl_done; }

port=$(sl_port)
sl_sink_conf sink "$port" tls=on
sl_agent_conf agent "$port" tls=on streams=4
sl_start sink && sl_start agent || { fail "start"; sl_done; }
out=$(sl_submit agent "$T/src/big" --name big 2>&1) || { fail "submit: $out"; sl_done; }
if sl_wait agent big 600 >/dev/null; then
	ok "2 GiB transferred ($out)"
else
	fail "2 GiB not transferred: $(tail -3 "$T/agent.log")"
fi
if cmp -s "$T/src/big/big.bin" "$T/sink.root/big/big.bin" && sl_manifest_ok "$T/sink.root/big"; then
	ok "byte-identical (cmp), manifest verifies"
else
	fail "published file differs or manifest does not verify"
fi
mbs=$(grep -o 'published=.* mb_per_s=[0-9.]*' "$T/agent.log" | tail -1 | sed 's/.*mb_per_s=//')
secs=$(grep -o 'published=.* seconds=[0-9.]*' "$T/agent.log" | tail -1 | sed 's/.*seconds=//')
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/${SL_PID[agent]}/status")
sink_hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/${SL_PID[sink]}/status")
[ -n "$mbs" ] && ok "throughput ${mbs} MB/s (${secs}s, chunk 8M, 4 streams, TLS)" || fail "no mb_per_s in the agent log"
if [ -n "$hwm" ] && [ "$hwm" -lt $RSS_MAX_KIB ]; then
	ok "agent peak RSS (VmHWM) $((hwm / 1024)) MiB < 128 MiB (sink $((sink_hwm / 1024)) MiB)"
else
	fail "agent peak RSS (VmHWM) ${hwm:-?} KiB, want < $RSS_MAX_KIB KiB"
fi
sl_stop agent; sl_stop sink
rm -rf "$T/src/big" "$T/sink.root/big"
sl_done
