#!/usr/bin/env bash
# make demo: install dependencies, build, then run a sink and an agent on
# 127.0.0.1 with configs and a test CA from `sluice init` in a temp dir, move a
# sample dataset through them, show status, verify, and stop both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s all

D=$(mktemp -d /tmp/sluice-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$D"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$D/spool"
# one command per side: a commented config, a test CA and certificates
echo "== sluice init sink / sluice init agent"
./sluice -c "$D/sink.conf" init sink --root "$D/incoming" --listen "127.0.0.1:$port" \
    --id demo-sink --make-ca "$D/tls" | sed -n 1p
./sluice -c "$D/agent.conf" init agent --sink "127.0.0.1:$port" --id demo-agent \
    --make-ca "$D/tls" | sed -n 1p
P="$D/incoming/demo-agent/scan-0001"	# [sink] layout = per-agent

echo "== sample dataset: 4 x 64 MiB frames + 500 small files + metadata"
S="$D/spool/scan-0001"
mkdir -p "$S/frames" "$S/thumbs"
for i in 0 1 2 3; do head -c 64M /dev/urandom > "$S/frames/frame$i.raw"; done
for i in $(seq -w 1 500); do head -c 4096 /dev/urandom > "$S/thumbs/t$i.png"; done
echo '{"instrument": "4D-STEM", "sample": "demo"}' > "$S/metadata.json"

echo "== starting sink and agent on 127.0.0.1:$port (TLS 1.3, mutual auth)"
./sluiced -c "$D/sink.conf" 2> "$D/sink.log" & pids+=($!)
./sluiced -c "$D/agent.conf" 2> "$D/agent.log" & pids+=($!)
for i in $(seq 50); do
	[ -S "$D/agent.journal/control.sock" ] && [ -S "$D/sink.journal/control.sock" ] && break
	sleep 0.1
done
sleep 0.3

echo "== sluice submit"
./sluice -c "$D/agent.conf" submit "$S" --meta proposal=demo-42
./sluice -c "$D/agent.conf" wait scan-0001 --timeout 300

echo; echo "== sluice status (agent)"
./sluice -c "$D/agent.conf" status || true
echo; echo "== sluice show scan-0001 (agent)"
./sluice -c "$D/agent.conf" show scan-0001 | sed -n '1,7p;/history/,$p'
echo; echo "== sluice status (sink)"
./sluice -c "$D/sink.conf" status || true
echo; echo "== agent log (transfer line)"
grep 'published=' "$D/agent.log" || true

echo; echo "== verify: byte-identical tree, and every file's XXH3-128 against .sluice-manifest"
diff -r "$S" "$P" --exclude=.sluice-manifest && echo "trees identical"
# the manifest's XXH3-128 column, as xxh128sum (Debian's xxhash) checks it
# (a leading backslash, kept: the path is escaped as sha256sum/xxhsum do)
(cd "$P" && grep -av '^#' .sluice-manifest | sed -E 's/^(\\?)[^\t]*\t[^\t]*\t([0-9a-f]{32})\t/\1\2  /' | xxh128sum -c --quiet - && echo "manifest verifies with xxh128sum: $(grep -vc '^#' .sluice-manifest) files")
./sluice -c "$D/sink.conf" verify scan-0001
echo; echo "demo OK (stopping sink and agent, removing $D)"
