#!/usr/bin/env python3
"""cutproxy.py LISTEN_PORT TARGET_PORT PIDFILE: a TCP proxy on 127.0.0.1
that can cut the link, for outage tests.

SIGUSR1: outage -- every open connection is reset and new ones are
         accepted and closed at once (like a dead route answering RST).
SIGUSR2: link back up.
SIGTERM: exit.
Prints "cuts=N" on exit.
"""
import os, selectors, signal, socket, struct, sys

listen_port, target_port, pidfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", listen_port))
ls.listen(128)
ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ, None)
pairs = {}          # sock -> peer sock
state = {"down": False, "cuts": 0, "stop": False}
rst = struct.pack("ii", 1, 0)

def kill(s):
    p = pairs.pop(s, None)
    for x in (s, p):
        if x is None:
            continue
        pairs.pop(x, None)
        try:
            sel.unregister(x)
        except Exception:
            pass
        try:
            x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
            x.close()
        except Exception:
            pass

def on_usr1(*_):
    state["down"] = True
    state["cuts"] += 1
    for s in list(pairs):
        kill(s)

def on_usr2(*_):
    state["down"] = False

def on_term(*_):
    state["stop"] = True

signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGUSR2, on_usr2)
signal.signal(signal.SIGTERM, on_term)
with open(pidfile, "w") as f:
    f.write(str(os.getpid()))

while not state["stop"]:
    try:
        events = sel.select(0.2)
    except InterruptedError:
        continue
    for key, _ in events:
        s = key.fileobj
        if s is ls:
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            if state["down"]:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
                c.close()
                continue
            t = socket.socket()
            try:
                t.connect(("127.0.0.1", target_port))
            except OSError:
                c.close()
                continue
            for x in (c, t):
                x.setblocking(False)
                sel.register(x, selectors.EVENT_READ, None)
            pairs[c] = t
            pairs[t] = c
            continue
        if s not in pairs:
            continue
        try:
            data = s.recv(262144)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if not data:
            kill(s)
            continue
        try:
            pairs[s].setblocking(True)
            pairs[s].sendall(data)
            pairs[s].setblocking(False)
        except (OSError, KeyError):
            kill(s)
print("cuts=%d" % state["cuts"])
