#!/usr/bin/env bash
# Unattended ingest: datasets appear in a spool directory, are sealed by a
# marker file or by a quiet period, their sidecar metadata is shipped and
# parsed, and confirmed datasets are removed from the spool by the
# retention policy (never one that is not confirmed, never one outside the
# spool).  Spool use above the warning mark is logged and reported.
. "$(dirname "$0")/lib.sh"
sl_setup
port=$(sl_port)
mkdir -p "$T/spool" "$T/elsewhere"
sl_sink_conf sink "$port"
sl_agent_conf agent "$port" retention=delete retention_after=2s spool_warn=1 spool_high=100
printf '[ingest]\nspool = %s\nquiet = 1s\n' "$T/spool" >> "$T/agent.conf"
sl_start sink && sl_start agent || { fail start; sl_done; }

# 1. marker: written in place, sealed by .sealed, with a sidecar
d=$T/spool/scan-001
mkdir -p "$d/raw"
head -c 3000000 /dev/urandom > "$d/raw/frames.bin"
printf '{"proposal": "p-42", "energy_kev": 300, "detector": {"name": "4D", "gain": 2}}' > "$d/metadata.json"
cp -r "$d" "$T/expect-001"	# what arrives: the data, not the marker
touch "$d/.sealed"
if sl_wait agent scan-001 30 >/dev/null && sl_same "$T/expect-001" "$T/sink.root/scan-001"; then
	ok "marker: scan-001 sealed by .sealed, transferred byte-identical"
else
	fail "scan-001"
fi
m=$T/sink.root/scan-001/.sluice-manifest
grep -qx '# meta proposal=p-42' "$m" && grep -qx '# meta energy_kev=300' "$m" &&
    grep -q '^# meta detector={' "$m" &&
    ok "sidecar metadata parsed and shipped: $(grep -c '^# meta' "$m") pairs" ||
    fail "sidecar metadata: $(grep '^# meta' "$m" | tr '\n' ' ')"

# 2. quiet period: no marker; sealed once nothing changed for 1 s
d=$T/spool/scan-002
mkdir -p "$d"
for i in 1 2 3; do head -c 500000 /dev/urandom > "$d/part$i"; sleep 0.4; done
echo '{not json' > "$d/metadata.json"
cp -r "$d" "$T/expect-002"
if sl_wait agent scan-002 30 >/dev/null && sl_same "$T/expect-002" "$T/sink.root/scan-002"; then
	ok "quiet: scan-002 sealed after 1 s without changes, transferred"
else
	fail "scan-002"
fi
grep -q 'metadata not used' "$T/agent.log" && ok "bad sidecar: logged, data still shipped" ||
    fail "bad sidecar not logged"

# 3. a hidden (in-progress) directory is not picked up
mkdir -p "$T/spool/.incoming"; echo x > "$T/spool/.incoming/f"; touch "$T/spool/.incoming/.sealed"
# 4. a dataset submitted by hand from outside the spool: never deleted
mkdir -p "$T/elsewhere/manual"; echo manual > "$T/elsewhere/manual/f"
sl_submit agent "$T/elsewhere/manual" >/dev/null
sl_wait agent manual 30 >/dev/null || fail "manual"

# retention: confirmed spool datasets go after 2 s; the rest stay
for i in $(seq 1 40); do
	[ ! -e "$T/spool/scan-001" ] && [ ! -e "$T/spool/scan-002" ] && break
	sleep 0.25
done
[ ! -e "$T/spool/scan-001" ] && [ ! -e "$T/spool/scan-002" ] &&
    ok "retention: confirmed datasets deleted from the spool" ||
    fail "retention: spool still has $(ls "$T/spool")"
[ -e "$T/elsewhere/manual/f" ] && ok "retention: a dataset outside the spool is kept" ||
    fail "retention deleted a dataset outside the spool"
[ -e "$T/spool/.incoming/f" ] && ! "$SLUICE" -c "$T/agent.conf" ls | grep -q incoming &&
    ok "hidden directory ignored" || fail "hidden directory picked up"
"$SLUICE" -c "$T/agent.conf" show scan-001 | grep -q 'source deleted by retention' &&
    ok "history records the deletion" || fail "no history note"
grep -q 'SPOOL WARNING' "$T/agent.log" && ok "spool warning: $(grep -m1 'SPOOL' "$T/agent.log" | cut -c1-110)" ||
    fail "no spool warning"
"$SLUICE" -c "$T/agent.conf" status --json | grep -q 'spool_level=warn' &&
    ok "status reports the spool level" || fail "status has no spool level"
sl_done
