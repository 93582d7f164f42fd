#!/usr/bin/python3
"""Writes the seeds of tests/fuzz/fuzz_tls_record.c from tests/fixtures/tls.

Each seed is one connection of a fixture session in the target's input
format: a selector byte, the session's key log (2-byte length, text), then
the stream's segments in capture order (a direction byte, 2-byte length,
bytes), read from tshark's follow,tcp,raw output. Sessions whose long line
fits a record (the 2000-byte ones) are used, so that seeds stay small.

    python3 tests/gen/tls_fuzz_seeds.py [FIXTURES] [OUTDIR]
"""
import gzip
import os
import struct
import sys

FIX = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tls"
OUT = sys.argv[2] if len(sys.argv) > 2 else "tests/fuzz/seeds/fuzz_tls_record"


def segments(path):
    segs = []
    with gzip.open(path, "rt") as f:
        for line in f:
            line = line.rstrip("\n")
            d = 1 if line.startswith("\t") else 0
            h = line.strip()
            if h and all(c in "0123456789abcdef" for c in h):
                segs.append((d, bytes.fromhex(h)))
    return segs


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, stream in (("t12-aes256gcm", 0), ("t12-chacha20", 0), ("t12-cbc-sha1-etm", 0),
                         ("t12-cbc-sha256", 0), ("t13-aes256gcm", 0), ("t13-chacha20", 0),
                         ("t13-resumed", 1), ("t13-hrr", 0), ("t13-early", 1)):
        keys = open(os.path.join(FIX, name + ".keys"), "rb").read()
        segs = segments(os.path.join(FIX, "%s.tcp.%d.txt.gz" % (name, stream)))
        for sel in (1, 0):
            out = bytearray([sel]) + struct.pack(">H", len(keys)) + keys
            for d, b in segs:
                out += bytes([d]) + struct.pack(">H", len(b)) + b
            with open(os.path.join(OUT, "%s.%d-%d" % (name, stream, sel)), "wb") as f:
                f.write(out)


main()
