#!/usr/bin/env bash
# Every name POSIX allows is shipped, and every directory that appears is
# shipped or visibly failed.
#  1. A spool dataset whose files are named with a tab, a newline, a
#     backslash, a carriage return, a leading dash, spaces, quotes, control
#     bytes and bytes that are not UTF-8 arrives byte-identical; its
#     manifest is checked by the real xxh128sum and sha256sum and by
#     `sluice verify`; `sluice submit` takes a directory whose own name has
#     a tab, a newline and a byte that is not UTF-8.  No log line is split.
#  2. Datasets the agent cannot journal (a symlink inside, a path longer
#     than the agent can open) get a failed record naming the file: seen in
#     ls, status (text and JSON, not healthy) and /metrics, logged once and
#     not again after a restart; `sluice retry` after the source is fixed
#     walks it again and ships it.
#  3. A name the sink's file system cannot hold (a dataset name whose
#     ".NAME.partial" directory is longer than 255 bytes) fails the dataset
#     at once, permanently, naming it; it is not retried forever.
. "$(dirname "$0")/lib.sh"
sl_setup
port=$(sl_port); ma=$(sl_port)
S() { "$SLUICE" -c "$T/$1.conf" "${@:2}"; }
mkdir -p "$T/spool" "$T/src"
sl_sink_conf sink "$port" sha256=on
sl_agent_conf agent "$port"
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$ma|" "$T/agent.conf"
printf '[ingest]\nspool = %s\nquiet = 0\n' "$T/spool" >> "$T/agent.conf"
sl_start sink && sl_start agent || { fail start; sl_done; }

# ---- 1. hostile but legal names --------------------------------------------
w=$T/src/weird
mkdir -p "$w/sub dir" "$w/dir"$'\n'"with newline"
names=($'tab\there' $'new\nline' 'back\slash' 'trailing\' $'cr\rname' '-leading-dash'
    'with  spaces ' $'quote"d \'single\'' $'latin1-\xe9t\xe9' $'\xff\xfe' $'ctrl\x01\x1f\x7f'
    '--' 'a\nb-literal' "sub dir/"$'\t' "dir"$'\n'"with newline/f"$'\n')
i=0
for n in "${names[@]}"; do
	head -c $((1000 + i * 777)) /dev/urandom > "$w/$n"
	i=$((i + 1))
done
escaped_want=0
for n in "${names[@]}"; do case $n in *$'\n'*|*$'\r'*|*\\*) escaped_want=$((escaped_want + 1));; esac; done
cp -a "$w" "$T/expect-weird"
mv "$w" "$T/spool/weird"
touch "$T/spool/weird/.sealed"
if sl_wait agent weird 30 >/dev/null && sl_same "$T/expect-weird" "$T/sink.root/weird" &&
    [ "$(find "$T/sink.root/weird" -type f ! -name .sluice-manifest -printf x | wc -c)" = ${#names[@]} ]; then
	ok "spool dataset with ${#names[@]} hostile names (tab, newline, CR, backslash, dash, quotes, control, not UTF-8) published byte-identical"
else
	fail "weird: $(S agent ls | tail -3)"
fi
m=$T/sink.root/weird/.sluice-manifest
[ "$(grep -c '^\\' "$m")" = "$escaped_want" ] && [ "$(grep -vc '^#' "$m")" = ${#names[@]} ] &&
    ok "manifest: one line per file, $escaped_want escaped (a leading backslash)" ||
    fail "manifest lines: $(grep -vc '^#' "$m"), escaped $(grep -c '^\\' "$m") (want $escaped_want)"
if sum=$(python3 "$ROOT/tests/integration/manifest_check.py" "$T/sink.root/weird" sha256); then
	ok "real checksum tools: $sum"
else
	fail "manifest check: $sum"
fi
v=$(S sink verify weird); rc=$?
[ $rc = 0 ] && grep -q "^OK .*${#names[@]} files" <<<"$v" && ok "sluice verify at the sink: $(cut -c1-90 <<<"$v")" ||
    fail "verify (rc=$rc): $v"
# corrupt the file with a newline in its name: both verify and the tools see it
printf 'X' | dd of="$T/sink.root/weird/new"$'\n'"line" bs=1 seek=10 conv=notrunc status=none
v=$(S sink verify weird); rc=$?
[ $rc = 1 ] && grep -q '^[a-z]* *new\\nline' <<<"$v" && ! python3 "$ROOT/tests/integration/manifest_check.py" "$T/sink.root/weird" >/dev/null &&
    ok "a corrupted file with a newline in its name is found and named on one line: $(grep 'new\\nline' <<<"$v" | head -1 | cut -c1-60)" ||
    fail "corruption not seen (rc=$rc): $v"
out=$(S agent show weird)
grep -q 'new\\nline' <<<"$out" && grep -q 'tab\\there' <<<"$out" && grep -q 'latin1-\\xe9t\\xe9' <<<"$out" &&
    ! grep -qx 'line' <<<"$out" && ok "sluice show escapes names (one line each)" || fail "show: $out"
S agent ls --json | python3 -c 'import json,sys; json.load(sys.stdin)' && ok "ls --json parses" || fail "ls --json"

# sluice submit: a directory whose own name has a tab, a newline and a byte
# that is not UTF-8, holding more such files
sname=$'odd\tset\nname-\xe9'
mkdir -p "$T/src/$sname"
head -c 5000 /dev/urandom > "$T/src/$sname/"$'f\n1'
head -c 6000 /dev/urandom > "$T/src/$sname/"'f\2'
if out=$(S agent submit "$T/src/$sname") && sl_wait agent "$sname" 30 >/dev/null &&
    sl_same "$T/src/$sname" "$T/sink.root/$sname" && sl_manifest_ok "$T/sink.root/$sname" sha256 &&
    [ "$(wc -l <<<"$out")" = 1 ]; then
	ok "sluice submit of a directory named with a tab, a newline and Latin-1: $(cut -c1-70 <<<"$out")"
else
	fail "submit odd name: $out; $(S agent ls | tail -2)"
fi
[ "$(S sink verify "$sname" | grep -c '^OK')" = 1 ] && ok "verify of the odd dataset name" || fail "verify odd name"

# ---- 2. datasets that cannot be journaled ---------------------------------
b=$T/spool/bad-link
mkdir -p "$b"; echo data > "$b/good"; ln -s /etc/passwd "$b/the link"
# a path the agent cannot open (spool path + '/' + path >= PATH_MAX)
l=$T/spool/bad-long
mkdir -p "$l"
leaf=leaf$(printf 'x%.0s' $(seq 1 70))	# 16 x 251 + 74 = 4090 bytes: within 4096, not with the spool path
(cd "$l" && for k in $(seq 1 16); do d=$(printf 'd%.0s' $(seq 1 250)); mkdir "$d" && cd "$d" || exit 1; done; echo x > "$leaf") ||
    fail "cannot build the long path"
touch "$b/.sealed" "$l/.sealed"
for k in $(seq 1 100); do
	[ "$(S agent ls --json | python3 -c 'import json,sys; print(sum(d["state"] == "failed" for d in json.load(sys.stdin)))')" = 2 ] && break
	sleep 0.1
done
lsout=$(S agent ls)
grep -q 'bad-link .*failed' <<<"$lsout" && grep -q 'error: not journaled: .*the link: not a regular file' <<<"$lsout" &&
    grep -q 'bad-long .*failed' <<<"$lsout" && grep -q "error: not journaled: .*dddd/$leaf: path longer than" <<<"$lsout" &&
    ok "ls: both failed, each naming its file" || fail "ls: $lsout"
st=$(S agent status); rc=$?
[ $rc = 1 ] && grep -q 'DEGRADED' <<<"$st" && grep -q ', 2 failed' <<<"$st" && grep -q 'bad-link' <<<"$st" &&
    ok "status: DEGRADED, 2 failed, names them (exit 1)" || fail "status (rc=$rc): $st"
js=$(S agent status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["health"], d["failed"])')
[ "${js%% *}" != healthy ] && [ "${js##* }" = 2 ] && ok "status --json: health=${js%% *}, failed=${js##* }" ||
    fail "status --json: $js"
met=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$ma/metrics', timeout=5).read().decode())")
grep -qE '^sluice_datasets\{state="failed"\} 2(\.0*)?$' <<<"$met" && ok "metrics: sluice_datasets{state=\"failed\"} 2" ||
    fail "metrics: $(grep 'sluice_datasets{' <<<"$met" | tr '\n' ' ')"
n1=$(grep -c 'name=bad-link state=failed' "$T/agent.log"); n2=$(grep -c 'name=bad-long state=failed' "$T/agent.log")
sl_stop agent; sl_start agent || fail "restart"
sleep 2	# the start-up scan offers every spool directory again
n1b=$(grep -c 'name=bad-link state=failed' "$T/agent.log"); n2b=$(grep -c 'name=bad-long state=failed' "$T/agent.log")
cnt=$(S agent ls | grep -c '^[0-9a-f]\{16\}  bad-l')
[ "$n1" = 1 ] && [ "$n2" = 1 ] && [ "$n1b" = 1 ] && [ "$n2b" = 1 ] && [ "$cnt" = 2 ] &&
    ! grep -q 'cannot journal' "$T/agent.log" &&
    ok "logged once each, not again after a restart; still one record each" ||
    fail "log lines before/after restart: $n1/$n1b $n2/$n2b, records $cnt; $(grep -c 'cannot journal' "$T/agent.log") 'cannot journal'"
# retry before the fix: still failed, the reason said again
out=$(S agent retry bad-link 2>&1); rc=$?
[ $rc = 1 ] && grep -q 'still cannot journal: .*the link' <<<"$out" && S agent ls | grep -q 'bad-link .*failed' &&
    ok "retry before the fix: refused with the reason (exit 1)" || fail "retry unfixed (rc=$rc): $out"
rm "$T/spool/bad-link/the link"
cp -a "$T/spool/bad-link" "$T/expect-bad-link"; rm "$T/expect-bad-link/.sealed"
out=$(S agent retry bad-link); rc=$?
if [ $rc = 0 ] && sl_wait agent bad-link 30 >/dev/null && sl_same "$T/expect-bad-link" "$T/sink.root/bad-link"; then
	ok "fixed, sluice retry walks it again and ships it: $out"
else
	fail "retry fixed (rc=$rc): $out; $(S agent ls | grep bad-link)"
fi
S agent show bad-link | grep -q 'failed -> queued: source walked again' && ok "history: new -> failed, failed -> queued" ||
    fail "history: $(S agent show bad-link | tail -4)"

# ---- 3. a name the sink's file system cannot hold -------------------------
long=$(printf 'n%.0s' $(seq 1 250))
mkdir -p "$T/src/$long"; echo x > "$T/src/$long/f"
S agent submit "$T/src/$long" >/dev/null || fail "submit long name"
for k in $(seq 1 100); do
	S agent ls | grep -q "${long:0:24} .*failed" && break
	sleep 0.1
done
err=$(S agent ls | grep -A1 "${long:0:24}")
grep -q failed <<<"$err" && grep -q 'File name too long' <<<"$err" && grep -q "cannot hold this name" <<<"$err" &&
    ok "sink cannot hold the name: failed at once, naming it: $(grep -o 'mkdir.*' <<<"$err" | cut -c1-40)...$(grep -o 'File name.*' <<<"$err" | cut -c1-60)" ||
    fail "long name: $err"
sleep 1
S agent ls | grep -q "${long:0:24} .*failed" && ! grep -q 'dest=.*File name too long' "$T/agent.log" &&
    ok "permanent: still failed, the link was not cycled for it" || fail "long name retried: $(grep -c 'File name too long' "$T/agent.log") log lines"

# ---- every log line is one line of text ------------------------------------
bad=$(cat "$T/agent.log" "$T/sink.log" | grep -avcE '^([0-9T:.Z-]+ )?(err|warn|info|debug) ')
[ "$bad" = 0 ] && ok "no log line split by a name ($(cat "$T/agent.log" "$T/sink.log" | wc -l) lines)" ||
    fail "$bad log lines do not start with a level: $(cat "$T/agent.log" "$T/sink.log" | grep -avE '^([0-9T:.Z-]+ )?(err|warn|info|debug) ' | head -3)"
bad=$(cat "$T/agent.log" "$T/sink.log" | LC_ALL=C.UTF-8 grep -caxv '.*')
[ "$bad" = 0 ] && grep -q 'odd\\tset\\nname-\\xe9' "$T/agent.log" "$T/sink.log" &&
    ok "logs are valid UTF-8: a byte that is not is written \\xNN" ||
    fail "$bad log lines are not valid UTF-8"
sl_done
