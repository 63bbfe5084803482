#!/usr/bin/env bash
# A write that did not land: the sink runs under an LD_PRELOAD shim
# (lostwrite.c) whose pwrite() to a file named lost-* reports every byte
# written and writes none.  Such a file must never be published, whether
# the sink hashes small files from the received buffer (reread = off, the
# default: the file is short of its size) or re-reads them (reread = on:
# its bytes differ, a file of several chunks too); a dataset beside it
# with no such file is published byte for byte with a manifest that
# verifies (its sums were hashed from memory).
. "$(dirname "$0")/lib.sh"
sl_setup

${CC:-cc} -shared -fPIC -O2 -o "$T/lostwrite.so" "$ROOT/tests/integration/lostwrite.c" -ldl ||
    { fail "cannot build the shim"; sl_done; }
mkdir -p "$T/src/good" "$T/src/bad1" "$T/src/badn"
for i in $(seq 1 40); do
	head -c $((65536 + i * 17)) /dev/urandom > "$T/src/good/f$i.bin"
	head -c 4096 /dev/urandom > "$T/src/bad1/f$i.bin"
done
head -c 65536 /dev/urandom > "$T/src/bad1/lost-one.bin"	# one chunk
cp -r "$T/src/good/." "$T/src/badn/"
head -c 200000 /dev/urandom > "$T/src/badn/lost-many.bin"	# 4 chunks of 64 KiB

for reread in off on; do
	s=sink$reread a=agent$reread
	port=$(sl_port)
	sl_sink_conf $s "$port" tls=off reread=$reread
	sl_agent_conf $a "$port" tls=off chunk_size=64K
	LD_PRELOAD=$T/lostwrite.so sl_start $s && sl_start $a || { fail "start ($reread)"; sl_done; }
	sets="good bad1"
	[ $reread = on ] && sets="good bad1 badn"
	for ds in $sets; do
		sl_submit $a "$T/src/$ds" --name $ds >/dev/null || fail "submit $ds ($reread)"
	done
	if sl_wait $a good 60 >/dev/null && sl_same "$T/src/good" "$T/$s.root/good" &&
	    sl_manifest_ok "$T/$s.root/good"; then
		ok "reread=$reread: good published byte-identical, manifest verifies"
	else
		fail "reread=$reread: good not published intact"
	fi
	for ds in $sets; do
		[ $ds = good ] && continue
		for i in $(seq 300); do	# until the sink decides, 30 s at most
			st=$(sl_ls_field $s $ds state)
			[ "$st" = '"failed"' ] || [ "$st" = '"published"' ] && break
			sleep 0.1
		done
		if [ -e "$T/$s.root/$ds" ]; then
			fail "reread=$reread: $ds published though a write did not land (sink state $st)"
		elif [ "$st" != '"failed"' ]; then
			fail "reread=$reread: $ds at the sink is $st, not failed"
		else
			ok "reread=$reread: $ds not published, failed at the sink: $(grep -o "dataset=[0-9a-f]* name=$ds state=receiving->failed reason=.*" "$T/$s.log" | sed 's/.*reason=//' | head -1)"
		fi
	done
	sl_stop $a; sl_stop $s
done
sl_done
