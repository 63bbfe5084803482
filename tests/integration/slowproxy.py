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
import socket
import sys
import threading
import time

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
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        try:
            s = socket.create_connection(("127.0.0.1", target_port))
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, s, 0 if reverse else rate), daemon=True).start()
        threading.Thread(target=pump, args=(s, c, rate if reverse else 0), daemon=True).start()


serve()
