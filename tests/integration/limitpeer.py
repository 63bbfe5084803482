#!/usr/bin/env python3
"""limitpeer.py: peers that lean on the sink's limits (t_sink_limits.sh,
scripts/bench --open-storm), in plaintext mode (HMAC HELLO, rawpeer.py).

    limitpeer.py HOST:PORT SECRET_FILE CASE [ARGS...]

  drip SECS [SRC]    before authenticating, send one byte a second (a HELLO
                     that never ends); print "closed after=S" or "open after=S"
  bigframe N [SRC]   N connections at once, each announces a 64 MiB frame
                     before HELLO and pushes its bytes; print, per
                     connection, how many bytes the sink took before it
                     closed: "closed sent=B after=S" (or "open")
  flood N SECS SRC   keep N pre-auth connections from source address SRC
                     open for SECS seconds, a byte a second on each, a new
                     one for each the sink closes; print "opened=K"
  open AGENT NAME NFILES [DSID]
                     authenticate as AGENT, OPEN dataset NAME of NFILES
                     one-byte files; print "have" or "error code=C msg=M"
  openfiles AGENT NAME PATH...
                     OPEN dataset NAME with these one-byte files
  opens AGENT PREFIX N NFILES
                     the same, N datasets PREFIX-0..N-1 in turn on one
                     connection; one line each
  symlink AGENT NAME PARTIAL OUTSIDE
                     OPEN NAME (files f, g of 10 bytes), then plant
                     PARTIAL/f as a symlink to OUTSIDE and send f's DATA;
                     print the answer, then OPEN it again: "again ANSWER"
  storm AGENT NAME NFILES COUNT
                     COUNT OPENs of NFILES files in turn (names NAME-i),
                     each waiting for its HAVE; print seconds per OPEN
"""
import os
import selectors
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rawpeer import (DATA, ERROR, HAVE, HELLO, OPEN, Peer,  # noqa: E402
                     frame, open_payload, recv_frame)


def answer(peer, timeout=30.0):
    peer.sock.settimeout(timeout)
    try:
        f = recv_frame(peer.sock)
    except socket.timeout:
        return "timeout"
    if f is None:
        return "closed"
    ftype, p = f
    if ftype == HAVE:
        return "have"
    if ftype == ERROR:
        dsid, code = struct.unpack("<QH", p[:10])
        (mlen,) = struct.unpack("<I", p[10:14])
        return "error dsid=%016x code=%d msg=%r" % (dsid, code, p[14:14 + mlen].decode("utf-8", "replace"))
    return "frame type=%d" % ftype


def open_fast(name, files, dsid=None, chunk_size=1 << 20):
    """open_payload (rawpeer.py) for 100,000 files: joined once, not
    concatenated file by file."""
    if dsid is None:
        dsid = dsid_of(name)
    total = sum(size for _, size in files)
    parts = [struct.pack("<Q", dsid), struct.pack("<I", len(name)), name,
             struct.pack("<IQ", chunk_size, total), struct.pack("<I", 0),
             struct.pack("<I", len(files))]
    for path, size in files:
        parts.append(struct.pack("<I", len(path)))
        parts.append(path)
        parts.append(struct.pack("<QI", size, 0o644))
    return b"".join(parts)


def files_of(n, size=1):
    return [(b"d%03d/f%06d" % (i // 1000, i), size) for i in range(n)]


def dsid_of(name):
    import hashlib
    return int.from_bytes(hashlib.sha256(name).digest()[:8], "little") | 1


def authed(addr, secret, agent):
    p = Peer(addr, secret, agent_id=agent.encode())
    p.challenge()
    p.hello()
    return p


def xxh3_64(data):
    """XXH3-64 of data, through xxhsum -H3 (no Python module here)."""
    out = subprocess.run(["xxhsum", "-H3", "-"], input=data, capture_output=True,
                         check=True).stdout.decode()
    return int(out.split()[-1], 16)     # "XXH3 (stdin) = 6de3431b05f7c11f"


def drip(addr, secs, src):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5, source_address=(src, 0))
    t0 = time.monotonic()
    hello = frame(HELLO, b"\x01\x00" + b"x" * 200)
    i = 0
    s.settimeout(1.0)
    while time.monotonic() - t0 < secs:
        try:
            s.send(hello[i % len(hello):i % len(hello) + 1])
            i += 1
            while True:          # drain CHALLENGE; EOF or RST = closed
                b = s.recv(4096)
                if not b:
                    print("closed after=%.1f bytes=%d" % (time.monotonic() - t0, i))
                    return 0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            print("closed after=%.1f bytes=%d" % (time.monotonic() - t0, i))
            return 0
    print("open after=%.1f bytes=%d" % (time.monotonic() - t0, i))
    return 1


def bigframe(addr, n, src):
    host, port = addr.rsplit(":", 1)
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=5, source_address=(src, 0))
        s.setblocking(False)
        socks.append([s, 0, None])
    hdr = struct.pack("<HBBI", 0x4C53, DATA, 0, 64 << 20)
    blob = b"\0" * (1 << 20)
    t0 = time.monotonic()
    for e in socks:
        e[0].send(hdr)
        e[1] = len(hdr)
    while time.monotonic() - t0 < 30 and any(e[2] is None for e in socks):
        for e in socks:
            if e[2] is not None:
                continue
            try:
                k = e[0].send(blob)
                e[1] += k
                if e[1] >= (64 << 20) + len(hdr):
                    e[2] = "sent-all"
            except BlockingIOError:
                pass
            except (ConnectionResetError, BrokenPipeError):
                e[2] = "closed"
            if e[2] is None:
                try:
                    if e[0].recv(65536, socket.MSG_DONTWAIT) == b"":
                        e[2] = "closed"
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    e[2] = "closed"
            if e[2] is not None:
                e.append(time.monotonic() - t0)
        time.sleep(0.01)
    bad = 0
    for e in socks:
        if e[2] == "closed":
            print("closed sent=%d after=%.1f" % (e[1], e[3]))
        else:
            print("%s sent=%d" % (e[2] or "open", e[1]))
            bad = 1
    return bad


def flood(addr, n, secs, src):
    host, port = addr.rsplit(":", 1)
    sel = selectors.DefaultSelector()
    opened = 0
    hello = frame(HELLO, b"\x01\x00" + b"x" * 200)   # never finished

    def one():
        nonlocal opened
        s = socket.socket()
        s.bind((src, 0))
        s.setblocking(False)
        try:
            s.connect((host, int(port)))
        except BlockingIOError:
            pass
        sel.register(s, selectors.EVENT_READ, data=[0])
        opened += 1

    for _ in range(n):
        one()
    t0 = time.monotonic()
    last = 0
    while time.monotonic() - t0 < secs:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                gone = s.recv(4096) == b""
            except (ConnectionResetError, ConnectionRefusedError, OSError):
                gone = True
            if gone:
                sel.unregister(s)
                s.close()
                one()
        if time.monotonic() - last >= 1.0:     # a byte a second on each
            last = time.monotonic()
            for key in list(sel.get_map().values()):
                i = key.data[0]
                try:
                    key.fileobj.send(hello[i:i + 1])
                    key.data[0] = (i + 1) % len(hello)
                except (BlockingIOError, OSError):
                    pass
    print("opened=%d" % opened)
    return 0


def do_open(addr, secret, agent, name, nfiles, dsid=None):
    p = authed(addr, secret, agent)
    name = name.encode()
    p.send(frame(OPEN, open_fast(name, files_of(nfiles), dsid=dsid)))
    print(answer(p))
    return 0


def do_opens(addr, secret, agent, prefix, n, nfiles):
    p = authed(addr, secret, agent)
    for i in range(n):
        name = ("%s-%d" % (prefix, i)).encode()
        p.send(frame(OPEN, open_fast(name, files_of(nfiles))))
        print("%s %s" % (name.decode(), answer(p)))
    return 0


def do_symlink(addr, secret, agent, name, partial, outside):
    p = authed(addr, secret, agent)
    bname = name.encode()
    dsid = dsid_of(bname)
    body = b"0123456789"
    p.send(frame(OPEN, open_payload(bname, [(b"f", 10), (b"g", 10)], dsid=dsid)))
    a = answer(p)
    if a != "have":
        print("open: " + a)
        return 1
    # the sink makes f at its first chunk: plant the symlink where it
    # would be (or replace it, were it there already)
    try:
        os.unlink(os.path.join(partial, "f"))
    except FileNotFoundError:
        pass
    os.symlink(outside, os.path.join(partial, "f"))
    p.send(frame(DATA, struct.pack("<QIIQI", dsid, 0, 0, xxh3_64(body), len(body)) + body))
    print(answer(p, 10))
    # the agent would retry: a second OPEN of it, as after a reconnect
    p.send(frame(OPEN, open_payload(bname, [(b"f", 10), (b"g", 10)], dsid=dsid)))
    print("again " + answer(p, 10))
    return 0


def do_storm(addr, secret, agent, name, nfiles, count):
    """Each OPEN as a new agent (AGENT-i), so that no per-agent cap ends
    the storm; frames built before the first is sent."""
    files = files_of(nfiles)
    frames = [frame(OPEN, open_fast(("%s-%d" % (name, i)).encode(), files))
              for i in range(count)]
    print("ready", flush=True)
    for i in range(count):
        p = authed(addr, secret, "%s-%d" % (agent, i))
        t0 = time.monotonic()
        p.send(frames[i])
        a = answer(p, 300)
        print("open %d %s %.2f" % (i, a, time.monotonic() - t0), flush=True)
        p.sock.close()
    return 0


def main():
    addr, secret_file, case = sys.argv[1:4]
    args = sys.argv[4:]
    with open(secret_file, "rb") as fh:
        secret = fh.read().rstrip(b"\n")
    if case == "drip":
        return drip(addr, float(args[0]), args[1] if len(args) > 1 else "127.0.0.1")
    if case == "bigframe":
        return bigframe(addr, int(args[0]), args[1] if len(args) > 1 else "127.0.0.1")
    if case == "flood":
        return flood(addr, int(args[0]), float(args[1]), args[2])
    if case == "open":
        return do_open(addr, secret, args[0], args[1], int(args[2]),
                       int(args[3], 16) if len(args) > 3 else None)
    if case == "openfiles":
        p = authed(addr, secret, args[0])
        p.send(frame(OPEN, open_payload(args[1].encode(), [(a.encode(), 1) for a in args[2:]])))
        print(answer(p))
        return 0
    if case == "opens":
        return do_opens(addr, secret, args[0], args[1], int(args[2]), int(args[3]))
    if case == "symlink":
        return do_symlink(addr, secret, args[0], args[1], args[2], args[3])
    if case == "storm":
        return do_storm(addr, secret, args[0], args[1], int(args[2]), int(args[3]))
    raise SystemExit("limitpeer: unknown case " + case)


if __name__ == "__main__":
    sys.exit(main())
