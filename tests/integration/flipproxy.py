#!/usr/bin/env python3
"""flipproxy.py: a TCP proxy that flips bits TCP cannot see.

    flipproxy.py LISTEN_PORT TARGET_PORT NCONN OFFSET[,OFFSET...]

Listens on 127.0.0.1:LISTEN_PORT and forwards every connection to
127.0.0.1:TARGET_PORT.  In the first NCONN connections it flips one bit
(xor 0x10) of the client->server byte stream at each byte OFFSET (counted
from the start of that connection).  Later connections pass untouched.
Every flip is reported on stdout ("flip conn=I offset=O"); "ready" is
printed once it listens.
"""
import socket
import sys

from proxylib import both_ways, say, serve

listen_port, target_port, nconn = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
offsets = sorted(int(x) for x in sys.argv[4].split(",")) if len(sys.argv) > 4 else []


def pump(src, dst, idx, flips):
    pos = 0
    try:
        while True:
            buf = src.recv(65536)
            if not buf:
                break
            if flips:
                b = bytearray(buf)
                for off in flips:
                    if pos <= off < pos + len(b):
                        b[off - pos] ^= 0x10
                        say("flip conn=%d offset=%d" % (idx, off))
                buf = bytes(b)
            dst.sendall(buf)
            pos += len(buf)
    except OSError:
        pass
    for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            s.shutdown(how)
        except OSError:
            pass


def relay(client, upstream, idx):
    flips = offsets if idx < nconn else []
    both_ways(client, upstream, lambda a, b: pump(a, b, idx, flips),
              lambda a, b: pump(a, b, idx, []))


if __name__ == "__main__":
    serve(listen_port, target_port, relay, announce=True)
