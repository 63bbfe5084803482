#!/usr/bin/env bash
# The alerts and the dashboard that ship in etc/:
#  - promtool check rules, and promtool test rules on synthetic series
#    (tests/prom/sluice-alerts.test.yml); a copy with one threshold turned
#    around must fail those tests (they can fail);
#  - every metric the rules and the Grafana dashboard name is in a real
#    /metrics scrape (an agent with a spool, a sink) and in the README;
#  - a real Prometheus (Debian's) scrapes a real agent every second with
#    the shipped rules ("for" shortened to 5 s); the sink is stopped and
#    SluiceLinkDown goes pending, then firing, seen through its HTTP API.
. "$(dirname "$0")/lib.sh"
for c in promtool prometheus; do
	command -v $c >/dev/null || { echo "SKIP $c not installed (bash scripts/deps.sh installs it)"; exit 77; }
done
sl_setup
RULES=$ROOT/etc/sluice-alerts.yml
DASH=$ROOT/etc/sluice-dashboard.json

out=$(promtool check rules "$RULES" 2>&1) && ok "promtool check rules: $(grep -o '[0-9]* rules found' <<<"$out")" ||
    fail "promtool check rules: $out"
out=$(promtool test rules "$ROOT/tests/prom/sluice-alerts.test.yml" 2>&1) && ok "promtool test rules: SUCCESS" ||
    fail "promtool test rules: $out"
mkdir -p "$T/mut/etc" "$T/mut/tests/prom"
sed 's/sluice_queue_oldest_age_seconds > 3600/sluice_queue_oldest_age_seconds > 36000/' "$RULES" > "$T/mut/etc/sluice-alerts.yml"
cp "$ROOT/tests/prom/sluice-alerts.test.yml" "$T/mut/tests/prom/"
cmp -s "$RULES" "$T/mut/etc/sluice-alerts.yml" && fail "mutation did not apply"
promtool test rules "$T/mut/tests/prom/sluice-alerts.test.yml" >/dev/null 2>&1 &&
    fail "a rule with a wrong threshold passed the rule tests" || ok "a rule with a wrong threshold fails the rule tests"

# A real agent (spool watched, so the spool metrics exist) and sink.
sport=$(sl_port); ma=$(sl_port); ms=$(sl_port); pp=$(sl_port)
mkdir -p "$T/spool"
sl_sink_conf sink "$sport"
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$ms|" "$T/sink.conf"
sl_agent_conf agent "$sport"
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$ma|" "$T/agent.conf"
printf '[ingest]\nspool = %s\n' "$T/spool" >> "$T/agent.conf"
sl_start sink && sl_start agent || { fail start; sl_done; }
mkdir -p "$T/src/d1"; head -c 100000 /dev/urandom > "$T/src/d1/f"
sl_submit agent "$T/src/d1" >/dev/null && sl_wait agent d1 30 >/dev/null || fail "transfer"
for i in $(seq 50); do	# the spool is measured once a second
	curl_out=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$ma/metrics', timeout=5).read().decode())")
	grep -q '^sluice_spool_level ' <<<"$curl_out" && break
	sleep 0.2
done
names() {	# the metric names a scrape exposes
	python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$1/metrics', timeout=5).read().decode())" |
	    sed -n 's/^\(sluice_[a-zA-Z0-9_]*\).*/\1/p' | sort -u
}
{ names "$ma"; names "$ms"; } | sort -u > "$T/scraped"
grep -o 'sluice_[a-z0-9_]*' "$RULES" "$DASH" | sed 's/.*://' | sort -u > "$T/used"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['panels'] and d['title']" "$DASH" &&
    ok "dashboard JSON parses ($(grep -c '"expr"' "$DASH") queries)" || fail "dashboard JSON"
missing=$(comm -23 "$T/used" "$T/scraped" | tr '\n' ' ')
[ -s "$T/used" ] && [ -z "$missing" ] && ok "all $(wc -l < "$T/used") metrics the rules and dashboard use are in real scrapes" ||
    fail "used but not exported: $missing"
undoc=$(while read -r n; do grep -q "\`$n\`\|\`$n{" "$ROOT/README.md" || echo "$n"; done < "$T/used" | tr '\n' ' ')
[ -z "$undoc" ] && ok "and all are in the README's metric table" || fail "not in the README: $undoc"
grep -q '^sluice_queue_oldest_age_seconds [0-9]' <<<"$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$ma/metrics', timeout=5).read().decode())")" &&
    ok "sluice_queue_oldest_age_seconds exported" || fail "oldest age"

# A real Prometheus against the agent.
sed 's/^\( *for:\) .*/\1 5s/' "$RULES" > "$T/rules.yml"
cat > "$T/prom.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$T/rules.yml"]
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ["127.0.0.1:$ma"]
EOF
prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/promdata" \
    --web.listen-address="127.0.0.1:$pp" > "$T/prom.log" 2>&1 &
SL_PID[prom]=$!
api() {	# api PATH: GET from Prometheus's HTTP API, the JSON on stdout
	python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$pp' + sys.argv[1], timeout=5).read().decode())" "$1" 2>/dev/null
}
alert_state() {	# the state of SluiceLinkDown, or "none"
	api /api/v1/alerts | python3 -c '
import json, sys
try: a = json.load(sys.stdin)["data"]["alerts"]
except Exception: print("noapi"); sys.exit()
s = [x["state"] for x in a if x["labels"].get("alertname") == "SluiceLinkDown"]
print(s[0] if s else "none")'
}
up=""
for i in $(seq 150); do
	up=$(api '/api/v1/query?query=sluice_link_up' | python3 -c 'import json,sys
try: print(json.load(sys.stdin)["data"]["result"][0]["value"][1])
except Exception: pass' 2>/dev/null)
	[ "$up" = 1 ] && break
	sleep 0.2
done
[ "$up" = 1 ] && ok "Prometheus scrapes the agent: sluice_link_up = 1" || fail "Prometheus has no sluice_link_up (log: $(tail -3 "$T/prom.log"))"
sleep 3
st=$(alert_state)
[ "$st" = none ] && ok "link up: SluiceLinkDown not active" || fail "link up, alert state: $st"
t0=$(date +%s.%N)
sl_stop sink
# One poller (a python start per poll is slow on a loaded machine): until
# the alert fires; then Prometheus's own ALERTS series says whether it was
# pending first (it records every pending and firing evaluation).
st=$(python3 - "$pp" <<'PY'
import json, sys, time, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
def get(path):
    return json.load(urllib.request.urlopen(base + path, timeout=5))["data"]
state, deadline = "none", time.time() + 90
while time.time() < deadline:
    a = [x["state"] for x in get("/api/v1/alerts")["alerts"] if x["labels"].get("alertname") == "SluiceLinkDown"]
    state = a[0] if a else "none"
    if state == "firing":
        break
    time.sleep(0.2)
q = urllib.request.quote('max_over_time(ALERTS{alertname="SluiceLinkDown",alertstate="pending"}[5m])')
r = get("/api/v1/query?query=" + q)["result"]
print(state, "pending-recorded" if r and r[0]["value"][1] == "1" else "never-pending")
PY
)
took=$(echo "$(date +%s.%N) - $t0" | bc)
case $st in
*" pending-recorded") ok "sink stopped: SluiceLinkDown went pending (ALERTS{alertstate=\"pending\"})";;
*) fail "never pending: $st";;
esac
case $st in
"firing "*) ok "then firing, $(printf %.1f "$took") s after the sink stopped";;
*) fail "not firing after ${took}s: $st";;
esac
sl_done
