#!/usr/bin/env python3
"""holdproxy.py: a TCP proxy that swallows the first COMMITTED (plaintext
frames: TLS off), so that an agent never hears that its dataset was
published; or that holds the first COMMIT back until told.

    holdproxy.py LISTEN_PORT TARGET_PORT
    holdproxy.py LISTEN_PORT TARGET_PORT commit GO_FILE

Listens on 127.0.0.1:LISTEN_PORT and forwards every connection to
127.0.0.1:TARGET_PORT, reading the frames both ways (proto/PROTOCOL.md:
an 8-byte header, magic, type, flags, length).  The first COMMITTED the
sink sends is not forwarded: "held COMMITTED dsid=D" is printed and that
connection passes nothing more towards the agent.  From then on every
connection passes everything, and each OPEN, DATA, COMMIT the agent
sends and each HAVE, COMMITTED the sink sends is printed as "after TYPE"
("after HAVE PUBLISHED" or "after HAVE RECEIVING"),
so that a test sees what crossed the wire once the agent came back.
With "commit", the first COMMIT the agent sends is held ("held COMMIT
dsid=D") until GO_FILE exists (at most 120 s), then forwarded, and
nothing else is changed: a test can do something to the sink's partial
tree between the last ACK and the COMMIT.
Prints "ready" once listening.
"""
import os
import struct
import sys
import threading
import time

from proxylib import both_ways, hang_up, say, serve

MAGIC = 0x4C53
NAMES = {4: "OPEN", 5: "HAVE", 6: "DATA", 9: "COMMIT", 10: "COMMITTED", 11: "ERROR"}
COMMIT, COMMITTED = 9, 10

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
hold_commit = len(sys.argv) > 4 and sys.argv[3] == "commit"
go_file = sys.argv[4] if hold_commit else None
lock = threading.Lock()
state = {"held": False}


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            return None
        buf += b
    return buf


def pump(src, dst, to_agent):
    muted = False
    try:
        while True:
            hdr = recv_exact(src, 8)
            if hdr is None:
                break
            magic, ftype, _, length = struct.unpack("<HBBI", hdr)
            if magic != MAGIC:
                raise SystemExit("holdproxy: not a sluice frame (TLS on?)")
            body = recv_exact(src, length)
            if body is None:
                break
            if hold_commit:
                with lock:
                    first = not to_agent and ftype == COMMIT and not state["held"]
                    state["held"] = state["held"] or first
                if first:
                    say("held COMMIT dsid=%016x" % struct.unpack("<Q", body[:8])[0])
                    end = time.monotonic() + 120
                    while not os.path.exists(go_file) and time.monotonic() < end:
                        time.sleep(0.05)
                    say("COMMIT forwarded")
                dst.sendall(hdr + body)
                continue
            with lock:
                hold = to_agent and ftype == COMMITTED and not state["held"]
                if hold:
                    state["held"] = True
                after = state["held"] and not hold
            if hold:
                say("held COMMITTED dsid=%016x" % struct.unpack("<Q", body[:8])[0])
                muted = True
                continue
            if after and not muted and ftype in NAMES:
                if ftype == 5 and len(body) > 8:    # HAVE: dsid, status
                    say("after HAVE %s" % ("PUBLISHED" if body[8] == 1 else "RECEIVING"))
                else:
                    say("after %s" % NAMES[ftype])
            if not muted:
                dst.sendall(hdr + body)
    except OSError:
        pass
    hang_up(src, dst)


serve(listen_port, target_port, lambda c, s, _: both_ways(
    c, s, lambda a, b: pump(a, b, False), lambda a, b: pump(a, b, True)))
