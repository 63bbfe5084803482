#!/usr/bin/env python3
"""manifest_check.py DIR [sha256]: check DIR/.sluice-manifest with the real
checksum tools, the way a user would.

Each line "[\\]SIZE<TAB>SHA256<TAB>XXH3-128<TAB>PATH" becomes "[\\]DIGEST  PATH",
which is what `xxh128sum -c` and `sha256sum -c` read (a leading backslash:
the path holds "\\n", "\\r" or "\\\\" escapes, as coreutils and xxhsum >= 0.8.2
write them).  XXH3-128: every line through `xxh128sum -c`; an xxh128sum that
reads no escaped line (xxhsum 0.8.1, Debian 12) checks the escaped ones by
hashing the file on its standard input instead, still with the real tool.
SHA-256 (where listed, or on every line with "sha256"): `sha256sum -c`.
Prints one summary line; exit 0 when everything matches.
"""
import os
import subprocess
import sys
import tempfile


def unescape(p):
    out, i = bytearray(), 0
    while i < len(p):
        c = p[i]
        if c == 0x5C:
            i += 1
            e = p[i:i + 1]
            if e == b"n":
                out += b"\n"
            elif e == b"r":
                out += b"\r"
            elif e == b"\\":
                out += b"\\"
            else:
                raise ValueError("bad escape in %r" % p)
        else:
            out.append(c)
        i += 1
    return bytes(out)


def xxh_reads_escapes():
    with tempfile.TemporaryDirectory() as d:
        name = b"a\\b"
        with open(os.path.join(d.encode(), name), "wb") as f:
            f.write(b"x")
        h = subprocess.run(["xxh128sum", "-"], input=b"x", capture_output=True).stdout.split()[0]
        r = subprocess.run(["xxh128sum", "-c", "--quiet", "-"], cwd=d,
                           input=b"\\" + h + b"  a\\\\b\n", capture_output=True)
        return r.returncode == 0


def check(tool, cwd, lines):
    if not lines:
        return True
    r = subprocess.run([tool, "-c", "--quiet", "-"], cwd=cwd, input=b"".join(lines),
                       capture_output=True)
    if r.returncode != 0:
        sys.stdout.write("%s -c failed: %s %s\n" % (tool, r.stdout.decode(errors="replace"),
                                                    r.stderr.decode(errors="replace")))
    return r.returncode == 0


def main():
    d = os.fsencode(sys.argv[1])
    need_sha = len(sys.argv) > 2 and sys.argv[2] == "sha256"
    body = [l for l in open(os.path.join(d, b".sluice-manifest"), "rb").read().split(b"\n")
            if l and not l.startswith(b"#")]
    xxh, xxh_esc, sha = [], [], []
    for l in body:
        esc = l.startswith(b"\\")
        f = (l[1:] if esc else l).split(b"\t", 3)
        lead = b"\\" if esc else b""
        if f[1] == b"-":
            if need_sha:
                print("no SHA-256 for %r" % f[3])
                return 1
        else:
            sha.append(lead + f[1] + b"  " + f[3] + b"\n")
        (xxh_esc if esc else xxh).append((lead + f[2] + b"  " + f[3] + b"\n", f[2], f[3]))
    ok = True
    reads = xxh_reads_escapes()
    if reads:
        xxh, xxh_esc = xxh + xxh_esc, []
    ok &= check("xxh128sum", d, [x[0] for x in xxh])
    for _, digest, path in xxh_esc:
        with open(os.path.join(d, unescape(path)), "rb") as f:
            got = subprocess.run(["xxh128sum", "-"], stdin=f, capture_output=True).stdout.split()[0]
        if got != digest:
            print("xxh128sum of %r: %s, manifest says %s" % (unescape(path), got, digest))
            ok = False
    ok &= check("sha256sum", d, sha)
    print("%d lines (%d escaped): xxh128sum -c checked %d%s; sha256sum -c checked %d"
          % (len(body), sum(1 for l in body if l.startswith(b"\\")), len(xxh),
             "" if reads else ", xxh128sum of stdin %d (this xxh128sum -c reads no "
             "escaped line)" % len(xxh_esc), len(sha)))
    return 0 if ok else 1


sys.exit(main())
