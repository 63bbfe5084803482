#!/usr/bin/env bash
# Prometheus /metrics of a running agent and sink, scraped over HTTP and
# parsed; status on both sides names destinations and connected agents.
. "$(dirname "$0")/lib.sh"
sl_setup
port=$(sl_port); spare=$(sl_port); ma=$(sl_port); ms=$(sl_port)
sl_sink_conf sink "$port"
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$ms|" "$T/sink.conf"
sl_agent_conf agent "$port, 127.0.0.1:$spare"
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$ma|" "$T/agent.conf"
sl_start sink && sl_start agent || { fail start; sl_done; }
mkdir -p "$T/src/m1"; head -c 5000000 /dev/urandom > "$T/src/m1/a"; head -c 123 /dev/urandom > "$T/src/m1/b"
sl_submit agent "$T/src/m1" >/dev/null && sl_wait agent m1 30 >/dev/null || fail "transfer"

scrape() {	# scrape PORT: parse the exposition, print name{labels}=value lines
	python3 - "$1" <<'PY'
import re, sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
pat = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')
for line in body.splitlines():
    if not line or line.startswith("#"):
        assert line == "" or line.startswith("# HELP ") or line.startswith("# TYPE "), line
        continue
    m = pat.match(line)
    assert m, "bad exposition line: " + line
    print("%s%s=%s" % (m.group(1), m.group(2) or "", float(m.group(3))))
PY
}
a=$(scrape "$ma") && ok "agent /metrics parsed: $(wc -l <<<"$a") samples" || fail "agent scrape"
s=$(scrape "$ms") && ok "sink /metrics parsed: $(wc -l <<<"$s") samples" || fail "sink scrape"
grep -qx 'sluice_bytes_acked_total=5000123.0' <<<"$a" && ok "agent: bytes acked = dataset size" || fail "bytes acked: $(grep bytes_acked <<<"$a")"
grep -qx 'sluice_datasets{state="transferred"}=1.0' <<<"$a" && ok "agent: datasets by state" || fail "datasets: $(grep datasets <<<"$a")"
grep -qx "sluice_link_up{dest=\"127.0.0.1:$port\"}=1.0" <<<"$a" && grep -qx "sluice_link_up{dest=\"127.0.0.1:$spare\"}=0.0" <<<"$a" &&
    ok "agent: link up per destination" || fail "link_up: $(grep link_up <<<"$a")"
grep -qx 'sluice_sink_bytes_durable_total=5000123.0' <<<"$s" && grep -qx 'sluice_sink_datasets{state="published"}=1.0' <<<"$s" &&
    ok "sink: durable bytes and published datasets" || fail "sink metrics: $s"
code=$(python3 -c "import urllib.request,sys
try: urllib.request.urlopen('http://127.0.0.1:$ma/nope', timeout=5)
except urllib.error.HTTPError as e: print(e.code)")
[ "$code" = 404 ] && ok "other paths: 404" || fail "404: $code"

st=$("$SLUICE" -c "$T/agent.conf" status); rc=$?
[ $rc = 0 ] && grep -q "^ *127.0.0.1:$port (current): up$" <<<"$st" && grep -q "^ *127.0.0.1:$spare: standby$" <<<"$st" &&
    ok "agent status lists both destinations" || fail "agent status (rc=$rc): $st"
st=$("$SLUICE" -c "$T/sink.conf" status); rc=$?
[ $rc = 0 ] && grep -q "^agent: *agent: 4 streams from " <<<"$st" && ok "sink status names the connected agent: $(grep '^agent:' <<<"$st")" ||
    fail "sink status (rc=$rc): $st"
sl_done
