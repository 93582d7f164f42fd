#!/usr/bin/python3
"""Seeds for tests/fuzz/fuzz_http2.c from an h2c capture.

Usage: h2c_fuzz_seeds.py CAPTURE OUTDIR [PORT...]

Writes one file per TCP connection to one of PORTs (default 8080 8081):
a flags byte 1 (the target adds the client preface), then each segment's
payload as records of at most 127 bytes, each behind a control byte whose
top bit is the direction (0 client to server). Needs scapy (python3-scapy),
so run it with /usr/bin/python3.
"""
import logging
import os
import sys

logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import TCP, Raw, rdpcap  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ports = {int(p) for p in sys.argv[3:]} or {8080, 8081}
    conns = {}
    for p in rdpcap(sys.argv[1]):
        if TCP not in p or Raw not in p:
            continue
        t = p[TCP]
        d = 0 if t.dport in ports else 1
        key = t.sport if d == 0 else t.dport
        conns.setdefault(key, []).append((d, bytes(p[Raw].load)))
    os.makedirs(sys.argv[2], exist_ok=True)
    for k, segs in enumerate(conns.values()):
        out = bytearray([1])
        for d, b in segs:
            if d == 0 and b.startswith(PREFACE):
                b = b[len(PREFACE):]
            for o in range(0, len(b), 127):
                chunk = b[o:o + 127]
                out.append(d << 7 | len(chunk))
                out += chunk
        with open(os.path.join(sys.argv[2], f"h2c-conn{k + 1}"), "wb") as f:
            f.write(out)


if __name__ == "__main__":
    main()
