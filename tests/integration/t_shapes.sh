#!/usr/bin/env bash
# Every dataset shape the issue lists, through a real agent and sink, once
# over TLS and once in plaintext with the HMAC'd HELLO.  Byte for byte.
. "$(dirname "$0")/lib.sh"
sl_setup

mk_shapes() {
	local s=$1 i
	mkdir -p "$s/empty-ds" "$s/edge" "$s/nested" "$s/utf8" "$s/small"
	# edge: 1 byte, empty, exactly on and just off a 64 KiB chunk boundary
	mkdir -p "$s/edge/d"
	printf x > "$s/edge/one"
	: > "$s/edge/zero"
	head -c 65536 /dev/urandom > "$s/edge/on"
	head -c 65535 /dev/urandom > "$s/edge/under"
	head -c 65537 /dev/urandom > "$s/edge/over"
	head -c 196608 /dev/urandom > "$s/edge/d/three"
	head -c 1000000 /dev/urandom > "$s/edge/d/big"
	# from 1 MiB up the sink writes with O_DIRECT (direct_io = on): whole
	# aligned chunks, a 1-byte tail, an unaligned 65436-byte tail
	head -c 1048576 /dev/urandom > "$s/edge/d/dio-exact"
	head -c 1048577 /dev/urandom > "$s/edge/d/dio-tail1"
	head -c $((3 * 1048576 - 100)) /dev/urandom > "$s/edge/d/dio-odd"
	mkdir -p "$s/nested/a/b/c/d/e"
	echo deep > "$s/nested/a/b/c/d/e/f.txt"
	echo top > "$s/nested/top.txt"
	echo "with spaces" > "$s/utf8/name with spaces.dat"
	mkdir -p "$s/utf8/données"
	echo "utf8" > "$s/utf8/données/日本語 ファイル.h5"
	echo "ümlaut" > "$s/utf8/Grüße-ß.txt"
	python3 - "$s/small" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(10000):
    d = os.path.join(root, "d%02d" % (i % 50))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(i % 700))
PY
}

mk_shapes "$T/src"
# TLS on with the sink's defaults (O_DIRECT chunks written by 2 writer
# threads, hashed from memory, no SHA-256); TLS off with direct_io = off
# (every chunk through the page cache, re-read) and SHA-256; TLS off with
# one writer and reread = on (O_DIRECT chunks read back from the disk for
# the digests) and SHA-256.
for pass in on:on:off:2:off off:off:off:2:on off2:on:on:1:on; do
	IFS=: read -r tls dio reread writers sha <<< "$pass"
	mode=${tls%2}
	port=$(sl_port)
	sl_sink_conf sink$tls "$port" tls=$mode direct_io=$dio reread=$reread writers=$writers sha256=$sha
	sl_agent_conf agent$tls "$port" tls=$mode chunk_size=64K
	sl_start sink$tls && sl_start agent$tls || { fail "start tls=$tls"; continue; }
	for ds in empty-ds edge nested utf8 small; do
		out=$(sl_submit agent$tls "$T/src/$ds" --name "$ds" --meta shape="$ds" 2>&1) || { fail "submit $ds tls=$tls: $out"; continue; }
	done
	for ds in empty-ds edge nested utf8 small; do
		if sl_wait agent$tls "$ds" 120 >/dev/null && sl_same "$T/src/$ds" "$T/sink$tls.root/$ds" &&
		    sl_manifest_ok "$T/sink$tls.root/$ds" "$([ $sha = on ] && echo sha256)" &&
		    grep -qx "# meta shape=$ds" "$T/sink$tls.root/$ds/.sluice-manifest"; then
			ok "tls=$mode direct_io=$dio reread=$reread writers=$writers sha256=$sha $ds byte-identical, manifest verifies, metadata shipped"
		else
			fail "tls=$tls $ds"
		fi
	done
	# sha256 = off lists "-", and `sluice verify` checks the XXH3-128
	# alone, under valgrind (it once hex-encoded an unset SHA-256 buffer)
	m=$T/sink$tls.root/edge/.sluice-manifest
	if [ $sha = off ]; then
		nodash=$(grep -v '^#' "$m" | awk -F'\t' '$2 != "-"' | head -1)
		vg=; [ -z "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ] && command -v valgrind >/dev/null &&
		    vg="valgrind -q --error-exitcode=99"	# not over a sanitizer build
		out=$($vg "$SLUICE" -c "$T/sink$tls.conf" verify edge 2>"$T/verify.err")
		rc=$?
		[ -z "$nodash" ] && [ $rc -eq 0 ] && echo "$out" | grep -q "^OK .*(xxh3-128)$" &&
		    ok "tls=$mode sha256=off: manifest lists no SHA-256, verify checks xxh3-128${vg:+ (valgrind clean)}: $out" ||
		    fail "tls=$mode sha256=off: line '$nodash', verify rc=$rc: $out $(grep '==' "$T/verify.err" | head -3)"
	fi
	# in-order hashing from memory did not give up on anything here
	if [ "$dio" = on ] && [ "$reread" = off ] && grep -q 're-read at commit' "$T/sink$tls.log"; then
		fail "tls=$mode: a file fell back to the re-read: $(grep 're-read at commit' "$T/sink$tls.log" | head -1)"
	fi
	# nothing left half-way at the sink
	if ls -a "$T/sink$tls.root" | grep -q partial; then fail "tls=$tls partial dir left"; else ok "tls=$tls no partial dirs left"; fi
	sl_stop agent$tls; sl_stop sink$tls
done
sl_done
