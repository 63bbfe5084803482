#!/usr/bin/env python3
"""rawpeer.py: a hostile sluice agent speaking the wire protocol
(proto/PROTOCOL.md) in plaintext mode (TLS off, HMAC-SHA256 HELLO).

    rawpeer.py HOST:PORT SECRET_FILE CASE [ARG...]

With RAWPEER_TLS=CA:CERT:KEY it speaks TLS 1.3 with that client
certificate instead (SECRET_FILE is then ignored: HELLO carries no MAC);
RAWPEER_ID sets the agent id its HELLO claims (default "rawpeer").  With a
valid certificate it is a lying agent: the impersonation cases (hello-claim,
open-id, data-id, commit-id, abandon-id) claim another agent's id or touch
another agent's dataset.

Connects to a sink, does what CASE says, and prints one line describing how
the sink answered:

    refused error dsid=D code=C msg=M [closed]   an ERROR frame (then EOF?)
    refused closed after=S                         the sink closed (EOF/RST)
    ACCEPTED <frame>                               the sink went along: bad
    open after=S                                   nothing happened: bad

Exit 0 when the sink refused (ERROR frame or close), 1 otherwise.
"""
import hashlib
import hmac
import os
import socket
import ssl
import struct
import sys
import time

MAGIC = 0x4C53
CHALLENGE, HELLO, WELCOME, OPEN, HAVE, DATA, ACK, NACK, COMMIT, COMMITTED, ERROR = range(1, 12)
SL_MAX_FRAME = 64 * 1024 * 1024 + 4096


def frame(ftype, payload, flags=0, magic=MAGIC, length=None):
    if length is None:
        length = len(payload)
    return struct.pack("<HBBI", magic, ftype, flags, length) + payload


def wstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack("<I", len(b)) + b


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_frame(sock):
    """(type, payload), or None on EOF / reset."""
    try:
        hdr = recv_exact(sock, 8)
        if hdr is None:
            return None
        magic, ftype, flags, length = struct.unpack("<HBBI", hdr)
        if magic != MAGIC:
            raise SystemExit("rawpeer: bad magic from sink")
        payload = recv_exact(sock, length)
        if payload is None:
            return None
        return ftype, payload
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        return None


def open_payload(name, files, dsid=None, chunk_size=1 << 20, meta=()):
    if dsid is None:    # one id per name
        dsid = int.from_bytes(hashlib.sha256(bytes(name)).digest()[:8], "little") | 1
    total = sum(size for _, size in files)
    p = struct.pack("<Q", dsid) + wstr(name) + struct.pack("<IQ", chunk_size, total)
    p += struct.pack("<I", len(meta))
    for k, v in meta:
        p += wstr(k) + wstr(v)
    p += struct.pack("<I", len(files))
    for path, size in files:
        p += wstr(path) + struct.pack("<QI", size, 0o644)
    return p


class Peer:
    def __init__(self, addr, secret, agent_id=b"rawpeer", tls=None):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.tls = tls is not None
        if tls:
            ca, cert, key = tls.split(":")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.load_verify_locations(ca)
            ctx.load_cert_chain(cert, key)
            self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        self.secret = secret
        self.agent_id = agent_id
        self.t0 = time.monotonic()
        self.nonce = None

    def challenge(self):
        f = recv_frame(self.sock)
        if f is None or f[0] != CHALLENGE:
            raise SystemExit("rawpeer: no CHALLENGE from sink: %r" % (f,))
        p = f[1]
        self.nonce = p[4:36]

    def hello(self, version=1, expect_welcome=True):
        stream, nstreams = 0, 1
        mac_in = (b"sluice-hello-v1" + self.nonce + struct.pack("<HHH", version, stream, nstreams)
                  + wstr(self.agent_id))
        mac = hmac.new(self.secret, mac_in, hashlib.sha256).digest()
        if self.tls:    # the certificate authenticates: no MAC
            p = struct.pack("<HHH", version, stream, nstreams) + wstr(self.agent_id) + bytes([0])
        else:
            p = struct.pack("<HHH", version, stream, nstreams) + wstr(self.agent_id) + bytes([32]) + mac
        self.sock.sendall(frame(HELLO, p))
        if not expect_welcome:
            return
        f = recv_frame(self.sock)
        if f is None or f[0] != WELCOME:
            raise SystemExit("rawpeer: HELLO not welcomed: %r" % (f,))

    def send(self, b):
        try:
            self.sock.sendall(b)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def verdict(self, timeout):
        """Read what the sink says; print and return the exit status."""
        self.sock.settimeout(timeout)
        try:
            f = recv_frame(self.sock)
        except socket.timeout:
            print("open after=%.1f" % (time.monotonic() - self.t0))
            return 1
        after = time.monotonic() - self.t0
        if f is None:
            print("refused closed after=%.1f" % after)
            return 0
        ftype, p = f
        if ftype == ERROR:
            dsid, code = struct.unpack("<QH", p[:10])
            (mlen,) = struct.unpack("<I", p[10:14])
            msg = p[14:14 + mlen].decode("utf-8", "replace")
            # a session error must be followed by a close
            closed = ""
            if dsid != 0:   # a dataset error need not end the session
                print("refused error dsid=%016x code=%d msg=%r" % (dsid, code, msg))
                return 0
            try:
                self.sock.settimeout(timeout)
                if recv_frame(self.sock) is None:
                    closed = " closed"
            except socket.timeout:
                closed = " still-open"
            print("refused error dsid=%016x code=%d msg=%r%s" % (dsid, code, msg, closed))
            if dsid == 0 and closed != " closed":
                return 1
            return 0
        print("ACCEPTED type=%d len=%d" % (ftype, len(p)))
        return 1


def main():
    addr, secret_file, case = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    args = sys.argv[4:]
    tls = os.environ.get("RAWPEER_TLS")
    secret = b""
    if not tls:
        with open(secret_file, "rb") as fh:
            secret = fh.read()
        if secret.endswith(b"\n"):
            secret = secret[:-1]
    peer = Peer(addr, secret, os.environ.get("RAWPEER_ID", "rawpeer").encode(), tls)
    timeout = 6.0

    bad_paths = {
        "path-dotdot": b"../escape",
        "path-abs": b"/abs",
        "path-dotdot-mid": b"a/../../b",
        "path-nul": b"a\0b",
        "path-long": (b"d" * 200 + b"/") * 20 + b"e" * 77,   # 4097 bytes
        # not UTF-8 is a name POSIX allows (t_names.sh ships it); the "."
        # component is what is refused
        "path-dot": b"bad\xff\xfe\xc3(name/./x",
    }
    assert len(bad_paths["path-long"]) == 4097
    bad_names = {"name-dotdot": b"..", "name-slash": b"a/b"}

    if case == "silent":
        peer.challenge()
        # say nothing; the sink's idle_timeout should close us
        return peer.verdict(float(arg or 10))
    if case == "bad-version":
        # a correctly authenticated HELLO for protocol version ARG (default 2)
        peer.challenge()
        peer.hello(version=int(arg or 2), expect_welcome=False)
        return peer.verdict(timeout)
    if case == "data-before-hello":
        peer.challenge()
        p = struct.pack("<QIIQI", 1, 0, 0, 0, 4) + b"evil"
        peer.send(frame(DATA, p))
        return peer.verdict(timeout)
    if case == "bad-flags":
        peer.challenge()
        peer.hello()
        peer.send(frame(OPEN, open_payload(b"flags", [(b"f", 1)]), flags=1))
        return peer.verdict(timeout)
    if case == "hello-claim":
        # HELLO with the id of RAWPEER_ID: refused unless it is ours
        peer.challenge()
        peer.hello(expect_welcome=False)
        f = recv_frame(peer.sock)
        if f is not None and f[0] == WELCOME:
            print("ACCEPTED WELCOME")
            return 1
        if f is None:
            print("refused closed")
            return 0
        dsid, code = struct.unpack("<QH", f[1][:10])
        (mlen,) = struct.unpack("<I", f[1][10:14])
        print("refused error dsid=%016x code=%d msg=%r" % (dsid, code,
              f[1][14:14 + mlen].decode("utf-8", "replace")))
        return 0
    if case == "bad-magic":
        peer.challenge()
        peer.hello()
        peer.send(frame(OPEN, open_payload(b"magic", [(b"f", 1)]), magic=0x4141))
        return peer.verdict(timeout)

    peer.challenge()
    peer.hello()
    if case in bad_paths:
        peer.send(frame(OPEN, open_payload(case.encode(), [(bad_paths[case], 10)])))
    elif case in bad_names:
        peer.send(frame(OPEN, open_payload(bad_names[case], [(b"f", 10)])))
    elif case == "open":
        # OPEN dataset ARG with one file "f" (and "sub/g"): the symlink cases
        peer.send(frame(OPEN, open_payload(arg.encode(), [(b"f", 10), (b"sub/g", 10)])))
    elif case == "open-sub":
        # OPEN dataset ARG with one file "sub/g": the directory symlink case
        peer.send(frame(OPEN, open_payload(arg.encode(), [(b"sub/g", 10)])))
    elif case == "dup-path":
        # the same path twice: two entries would share bytes on disk
        peer.send(frame(OPEN, open_payload(b"dup", [(b"f", 10), (b"f", 10)])))
    elif case == "file-as-dir":
        # "a" is a file and also the directory of "a/b"
        peer.send(frame(OPEN, open_payload(b"fad", [(b"a", 10), (b"a-x", 1), (b"a/b", 10)])))
    elif case == "truncated":
        # a header promising 100 bytes, 10 of them, then EOF
        peer.send(frame(OPEN, b"x" * 10, length=100))
        peer.sock.shutdown(socket.SHUT_WR)
    elif case == "too-long":
        peer.send(frame(DATA, b"", length=SL_MAX_FRAME + 1))
    elif case == "unknown-type":
        peer.send(frame(99, b"hello"))
    elif case == "data-unopened":
        p = struct.pack("<QIIQI", 77, 0, 0, 0, 4) + b"evil"
        peer.send(frame(DATA, p))
    elif case == "open-id":
        # OPEN with another agent's dataset id ARG1 (hex) under name ARG2
        peer.send(frame(OPEN, open_payload(args[1].encode(), [(b"f", 10)],
                                           dsid=int(args[0], 16))))
    elif case == "data-id":
        # DATA into another agent's dataset ARG (hex): file 0, chunk 0
        p = struct.pack("<QIIQI", int(arg, 16), 0, 0, 0, 4) + b"evil"
        peer.send(frame(DATA, p))
    elif case == "commit-id":
        # COMMIT another agent's dataset ARG1 (hex) of ARG2 files
        n = int(args[1])
        peer.send(frame(COMMIT, struct.pack("<QI", int(args[0], 16), n) + bytes(16 * n)))
    elif case == "abandon-id":
        # ERROR for another agent's dataset ARG (hex): "abandon it"
        peer.send(frame(ERROR, struct.pack("<QH", int(arg, 16), 16) + wstr(b"gone")))
    elif case == "commit-unopened":
        peer.send(frame(COMMIT, struct.pack("<QI", 77, 0)))
    else:
        raise SystemExit("rawpeer: unknown case " + case)
    return peer.verdict(timeout)


if __name__ == "__main__":
    sys.exit(main())
