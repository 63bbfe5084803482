#!/usr/bin/env python3
"""slowproxy.py: a TCP proxy that limits the client->server byte rate.

    slowproxy.py LISTEN_PORT TARGET_PORT BYTES_PER_SECOND [BURST_SECONDS] [reverse]

Listens on 127.0.0.1:LISTEN_PORT, forwards every connection to
127.0.0.1:TARGET_PORT, and lets at most BYTES_PER_SECOND through per
connection towards the server (replies pass untouched), so that a
transfer stays in flight long enough to be watched.  A connection that
was idle may send faster until it is back on the average; BURST_SECONDS
caps that credit (default: no cap).  With "reverse" the limit is on the
replies instead (a pull: the client dials, the server sends the data).
Prints "ready".
"""
import sys
import time

from proxylib import both_ways, hang_up, serve

listen_port, target_port, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
extra = sys.argv[4:]
reverse = "reverse" in extra
burst = next((float(x) for x in extra if x != "reverse"), None)


def pump(src, dst, limit):
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            sent += len(data)
            if limit and burst is not None:
                # idle credit is capped: start no earlier than burst behind
                start = max(start, time.monotonic() - sent / limit - burst)
            if limit:
                ahead = sent / limit - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    hang_up(src, dst)


serve(listen_port, target_port, lambda c, s, _: both_ways(
    c, s, lambda a, b: pump(a, b, 0 if reverse else rate),
    lambda a, b: pump(a, b, rate if reverse else 0)))
