#!/usr/bin/env python3
"""cdp.py: drive a headless chromium over the DevTools protocol, stdlib only.

    cdp.py DEVTOOLS_PORT URL OUTDIR STEP...

Opens URL in a new tab of the chromium listening on DEVTOOLS_PORT
(--remote-debugging-port), then runs the steps in real time:
    wait:SECONDS      sleep
    dom:NAME          write document.documentElement.outerHTML to OUTDIR/NAME
    shot:NAME         write a PNG screenshot to OUTDIR/NAME
Real time matters: the page measures rates between its polls, which
--virtual-time-budget would squeeze into milliseconds.  Exits non-zero
with a sentence on the first thing that fails.
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.request


class WS:
    """A minimal RFC 6455 client: text frames out (masked), frames in."""

    def __init__(self, url):
        assert url.startswith("ws://"), url
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(4096)
            if not chunk:
                raise SystemExit("cdp: websocket handshake: connection closed")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise SystemExit("cdp: websocket handshake refused: %r" % head[:200])
        self.next_id = 0

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise SystemExit("cdp: connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = b"\x81" + (bytes([0x80 | n]) if n < 126 else
                          b"\xfe" + struct.pack(">H", n) if n < 65536 else
                          b"\xff" + struct.pack(">Q", n))
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0f
            if op == 8:
                raise SystemExit("cdp: the browser closed the websocket")
            if op in (0, 1, 2):
                msg += payload
                if b0 & 0x80:
                    return json.loads(msg)

    def call(self, method, **params):
        self.next_id += 1
        self.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = self.recv()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise SystemExit("cdp: %s: %s" % (method, m["error"]))
                return m["result"]


def main():
    port, url, outdir, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    req = urllib.request.Request("http://127.0.0.1:%s/json/new?%s" % (port, url), method="PUT")
    target = json.load(urllib.request.urlopen(req, timeout=30))
    ws = WS(target["webSocketDebuggerUrl"])
    for step in steps:
        what, arg = step.split(":", 1)
        if what == "wait":
            time.sleep(float(arg))
        elif what == "dom":
            r = ws.call("Runtime.evaluate", expression="document.documentElement.outerHTML",
                        returnByValue=True)
            with open(os.path.join(outdir, arg), "w") as f:
                f.write(r["result"]["value"])
        elif what == "shot":
            r = ws.call("Page.captureScreenshot", format="png")
            with open(os.path.join(outdir, arg), "wb") as f:
                f.write(base64.b64decode(r["data"]))
        else:
            raise SystemExit("cdp: unknown step %r" % step)


if __name__ == "__main__":
    main()
