#!/usr/bin/env bash
# The live page in a real headless browser (Debian's chromium), during a
# real transfer slowed by slowproxy: the DOM the page's script built shows
# the dataset, its progress moves between two loads, the page refreshes
# itself, a hostile dataset name stays text, hook states (running,
# failed) show; the sink has its page too; a screenshot is kept in
# tests/artifacts/.  And the listener is read-only: other methods 405,
# unknown paths 404, HEAD has no body, /status.json is what
# `sluice status --json` prints.
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || { echo "SKIP chromium not installed (bash scripts/deps.sh installs it)"; exit 77; }
sl_setup
sport=$(sl_port); pport=$(sl_port); mport=$(sl_port); msport=$(sl_port)
sl_sink_conf sink "$sport"
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$msport|" "$T/sink.conf"
# one dataset at a time: the markup-named dataset waits in the queue, on the page, behind the slow one
sl_agent_conf agent "$pport" chunk_size=256K streams=1 max_in_flight=1
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$mport|" "$T/agent.conf"
python3 "$ROOT/tests/integration/slowproxy.py" "$pport" "$sport" $((1024 * 1024)) > "$T/proxy.log" 2>&1 &
SL_PID[proxy]=$!
for i in $(seq 50); do grep -q ready "$T/proxy.log" 2>/dev/null && break; sleep 0.1; done
sl_start sink && sl_start agent || { fail start; sl_done; }

evil='<img src=x onerror=alert(1)>&amp;'
mkdir -p "$T/src/beamtime-042" "$T/src/$evil"
head -c $((128 * 1024 * 1024)) /dev/urandom > "$T/src/beamtime-042/frames.h5"
echo hi > "$T/src/$evil/f"
sl_submit agent "$T/src/beamtime-042" >/dev/null || fail "submit"
sl_submit agent "$T/src/$evil" >/dev/null || fail "submit hostile name"
for i in $(seq 100); do
	d=$(sl_ls_field agent beamtime-042 bytes_done)
	[ -n "$d" ] && [ "$d" -gt 0 ] && break
	sleep 0.1
done
[ -n "$d" ] && [ "$d" -gt 0 ] && ok "transfer under way ($d bytes)" || fail "no progress before the page loads"

URL="http://127.0.0.1:$mport/"
browse() {	# browse OUT [chromium args]: the DOM after the script ran
	local out=$1
	shift
	timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
	    --user-data-dir="$T/chrome" --window-size=1400,900 \
	    --virtual-time-budget=5000 "$@" "$URL" > "$out" 2>>"$T/chrome.log"
}
# row FILE: "bytes_done state polls title" of beamtime-042 in a dumped DOM
row() {
	python3 - "$1" <<'PY'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.rows = {}; self.polls = None; self.title = ""; self.t = False
        self.cell = None; self.tags_in_name = []
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "body": self.polls = a.get("data-polls")
        if tag == "title": self.t = True
        if tag == "tr" and "data-name" in a: self.rows[a["data-name"]] = a; self.cur = a["data-name"]
        if tag == "td" and "name" in (a.get("class") or "").split(): self.cell = self.cur
        elif self.cell is not None: self.tags_in_name.append(tag)
    def handle_endtag(self, tag):
        if tag == "title": self.t = False
        if tag == "td": self.cell = None
    def handle_data(self, d):
        if self.t: self.title += d
p = P(); p.feed(open(sys.argv[1]).read())
r = p.rows.get("beamtime-042")
h = p.rows.get("<img src=x onerror=alert(1)>&amp;")
print(r["data-bytes-done"] if r else "-", r["data-state"] if r else "-", p.polls,
      "hostile-as-text" if h is not None and not p.tags_in_name else "hostile-missing-or-parsed",
      p.title.replace(" ", "_"))
PY
}
browse "$T/dom1.html" --dump-dom || fail "chromium (first load): $(tail -3 "$T/chrome.log")"
read -r b1 s1 polls1 hostile1 title1 < <(row "$T/dom1.html")
sleep 3
browse "$T/dom2.html" --dump-dom || fail "chromium (second load)"
read -r b2 s2 polls2 hostile2 title2 < <(row "$T/dom2.html")
[ "$b1" != - ] && [ "$s1" = transferring ] && ok "the page shows beamtime-042 transferring, $b1 bytes done" ||
    fail "first load: row=$b1 state=$s1 (DOM in $T/dom1.html)"
[ "$b2" != - ] && [ "$b1" != - ] && [ "$b2" -gt "$b1" ] && ok "its progress moved between two loads: $b1 -> $b2 bytes" ||
    fail "progress did not move: $b1 -> $b2"
[ "${polls1:-0}" != None ] && [ "${polls1:-0}" -ge 2 ] && ok "the page refreshed itself ($polls1 polls in one load)" ||
    fail "page polls in one load: $polls1"
[ "$hostile1" = hostile-as-text ] && ok "a name with markup is shown as text" || fail "hostile name: $hostile1"
case $title1 in sluice_agent_agent:_*) ok "title: ${title1//_/ }";; *) fail "title: $title1";; esac
# The same page left open, read in real time over the DevTools protocol:
# it polls by itself, and measures a rate and an ETA between its polls.
timeout 300 chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$T/chrome-live" --window-size=1400,900 \
    --remote-debugging-port=0 about:blank 2>"$T/chrome-live.log" &
SL_PID[chrome]=$!
for i in $(seq 100); do
	dport=$(sed -n 's,^DevTools listening on ws://127.0.0.1:\([0-9]*\)/.*,\1,p' "$T/chrome-live.log")
	[ -n "$dport" ] && break
	sleep 0.1
done
python3 "$ROOT/tests/integration/cdp.py" "$dport" "$URL" "$T" wait:5 dom:live1.html \
    wait:4 dom:live2.html shot:live.png 2>>"$T/chrome-live.log" || fail "DevTools session: $(tail -2 "$T/chrome-live.log")"
kill "${SL_PID[chrome]}" 2>/dev/null; wait "${SL_PID[chrome]}" 2>/dev/null; unset "SL_PID[chrome]"
read -r l1 _ lp1 _ _ < <(row "$T/live1.html")
read -r l2 ls2 lp2 _ _ < <(row "$T/live2.html")
[ "$l1" != - ] && [ "$l2" != - ] && [ "$l2" -gt "$l1" ] && [ "${lp2:-0}" -gt "${lp1:-0}" ] &&
    ok "one open page: $lp1 -> $lp2 polls, $l1 -> $l2 bytes ($ls2)" || fail "open page: polls $lp1 -> $lp2, bytes $l1 -> $l2"
cell() {	# cell FILE CLASS: that cell of beamtime-042's row
	python3 -c 'import re,sys
h = open(sys.argv[1]).read()
r = re.search(r"<tr data-id=\"[0-9a-f]*\" data-name=\"beamtime-042\".*?</tr>", h)
c = re.search(r"<td class=\"num %s\">([^<]*)<" % sys.argv[2], r.group(0)) if r else None
print(c.group(1) if c else "")' "$1" "$2"
}
rate=$(cell "$T/live2.html" rate)
eta=$(cell "$T/live2.html" eta)
case "$rate/$eta" in [0-9]*" "*"iB/s/"[0-9]*) ok "rate and ETA measured by the page: $rate, ETA $eta";;
	*) fail "rate/ETA: [$rate] [$eta]";; esac
grep -q 'id="link"><div><span>state</span><b class="st-up">up</b>' "$T/live2.html" && ok "link state shown: up" ||
    fail "link state not in the DOM"

mkdir -p "$ROOT/tests/artifacts"
shot="$ROOT/tests/artifacts/t_livepage.png"
if [ -s "$T/live.png" ] && [ "$(head -c 8 "$T/live.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
	cp "$T/live.png" "$shot"
	ok "screenshot kept: $shot ($(stat -c %s "$shot") bytes)"
else
	fail "no screenshot"
fi

# The sink's page: its listener, connections and root.
URL="http://127.0.0.1:$msport/" browse "$T/sinkdom.html" --dump-dom || fail "chromium (sink page)"
grep -q '<title>sluice sink sink: ' "$T/sinkdom.html" && grep -q '<span>listen</span><b>127.0.0.1:'"$sport"'</b>' "$T/sinkdom.html" &&
    grep -q '<span>root free</span><b>[0-9.]* [KMGT]*i*B of ' "$T/sinkdom.html" &&
    ok "the sink's page: $(sed -n 's,.*<title>\([^<]*\)</title>.*,\1,p' "$T/sinkdom.html"), listen and root shown" ||
    fail "sink page (DOM in $T/sinkdom.html)"

# Read-only: methods, paths, HEAD, and the JSON is the CLI's.
python3 - "$mport" > "$T/http.out" <<'PY'
import http.client, json, sys
port = int(sys.argv[1])
def req(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data
for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
    for p in ("/", "/status.json", "/metrics"):
        st, h, _ = req(m, p, body=b"x=1")
        print("method", m, p, st, h.get("Allow", "-").replace(" ", ""))
for p in ("/nope", "/status.json/..", "/metrics/x", "/index.htm", "/%2e%2e/etc/passwd"):
    print("path", p, req("GET", p)[0])
st, h, data = req("HEAD", "/")
print("head", st, len(data), h.get("Content-Type", "-").replace(" ", ""))
import base64, hashlib, re
st, h, data = req("GET", "/")
page = data.decode()
want = ["'sha256-%s'" % base64.b64encode(hashlib.sha256(re.search(r"<%s>(.*?)</%s>" % (t, t), page, re.S)
        .group(1).encode()).digest()).decode() for t in ("script", "style")]
csp = h.get("Content-Security-Policy", "")
print("csp", "ok" if "script-src %s;" % want[0] in csp and "style-src %s;" % want[1] in csp
      and "unsafe" not in csp and csp.startswith("default-src 'none';") else "bad:" + csp.replace(" ", "_"))
st, h, data = req("GET", "/status.json")
print("status", st, h.get("Content-Type", "-"))
j = json.loads(data)
print("keys", " ".join(sorted(j)))
print("ds", " ".join(sorted(d["name"] for d in j.get("datasets", []))).replace(" ", "|"))
PY
[ $? = 0 ] || fail "HTTP checks: $(tail -3 "$T/http.out")"
bad=$(awk '$1 == "method" && !($4 == 405 && $5 == "GET,HEAD")' "$T/http.out")
[ -z "$bad" ] && [ "$(grep -c '^method' "$T/http.out")" = 15 ] && ok "POST, PUT, DELETE, PATCH, OPTIONS: 405 with Allow: GET, HEAD" ||
    fail "methods: $bad"
bad=$(awk '$1 == "path" && $3 != 404' "$T/http.out")
[ -z "$bad" ] && ok "unknown paths: 404" || fail "paths: $bad"
grep -qx 'head 200 0 text/html;charset=utf-8' "$T/http.out" && ok "HEAD /: 200, no body" || fail "HEAD: $(grep ^head "$T/http.out")"
grep -qx 'csp ok' "$T/http.out" && ok "CSP allows only the page's own script and style, by SHA-256 (and the browser ran it)" ||
    fail "CSP: $(grep ^csp "$T/http.out")"
cli_keys=$("$SLUICE" -c "$T/agent.conf" status --json | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin))))')
http_keys=$(sed -n 's/^keys //p' "$T/http.out")
[ -n "$cli_keys" ] && [ "$cli_keys" = "$http_keys" ] && grep -q '^status 200 application/json' "$T/http.out" &&
    ok "/status.json has the fields of sluice status --json" || fail "status.json keys: [$http_keys] vs [$cli_keys]"
grep -q '^ds .*beamtime-042' "$T/http.out" && ok "/status.json lists the dataset" || fail "status.json datasets: $(grep ^ds "$T/http.out")"
# Hook state: a second agent straight to the sink, whose exec hook runs
# until told to stop (a file), and fails for a dataset named bad.
hport=$(sl_port)
sl_agent_conf hooker "$sport"
sed -i "s|^\[daemon\]|[daemon]\nmetrics = 127.0.0.1:$hport|" "$T/hooker.conf"
cat >> "$T/hooker.conf" <<CONF
[hook]
kind = exec
command = test {dataset} != bad || exit 3; while [ ! -e $T/hook-go ]; do sleep 0.1; done
retry_min = 0.1s
retry_max = 0.2s
attempts = 1
state_dir = $T/hook-state
CONF
sl_start hooker || fail "start hooker"
mkdir -p "$T/src/reduce-me" "$T/src/bad"; echo a > "$T/src/reduce-me/a"; echo b > "$T/src/bad/b"
sl_submit hooker "$T/src/reduce-me" >/dev/null && sl_submit hooker "$T/src/bad" >/dev/null || fail "submit to hooker"
for i in $(seq 100); do
	st=$("$SLUICE" -c "$T/hooker.conf" ls --json | python3 -c 'import json,sys; print(" ".join(sorted(d["name"]+"="+d["state"] for d in json.load(sys.stdin))))')
	[ "$st" = "bad=hook_failed reduce-me=hook_running" ] && break
	sleep 0.2
done
URL="http://127.0.0.1:$hport/" browse "$T/hookdom.html" --dump-dom || fail "chromium (hook page)"
python3 - "$T/hookdom.html" > "$T/hook.out" <<'PY'
import re, sys
h = open(sys.argv[1]).read()
for name in ("reduce-me", "bad"):
    r = re.search(r'<tr data-id="[0-9a-f]*" data-name="%s".*?</tr>' % name, h)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", r.group(0)) if r else []
    print(name, "|".join(cells))
f = re.search(r'<table id="failures">.*?</table>', h, re.S)
print("failures", "bad" in f.group(0) if f else False)
PY
grep -q '^reduce-me .*|hook_running|.*|hook running$' "$T/hook.out" && grep -q '^bad .*|hook_failed|.*|hook failed$' "$T/hook.out" &&
    grep -qx 'failures True' "$T/hook.out" && ok "hook state on the page: running, failed (and in the last failures)" ||
    fail "hook states ($st): $(cat "$T/hook.out")"
touch "$T/hook-go"

sl_done
