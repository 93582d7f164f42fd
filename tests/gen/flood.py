#!/usr/bin/python3
"""Writes a capture meant to exhaust state: a SYN scan plus a UDP flood.

Usage: flood.py OUT.pcap [--packets N] [--scan N]

The scan: one client (10.9.0.5) sends one SYN to each of N destinations
(--scan, default 200,000): 2,000 addresses in 198.18.0.0/15 times 100
ports, so every SYN opens a flow that never sees a reply. The flood: UDP
datagrams to 203.0.113.53:53 from random sources in 100.64.0.0/10 with
random ports until the capture holds --packets frames in all (default
1,000,000); nearly every datagram is a new flow too. Frames are 10 us
apart, so the whole capture spans a few seconds and no flow idles out:
only eviction can keep the flow table at --max-flows.

Ethernet, IPv4 without checksums (flowaudit does not verify them), classic
pcap, microsecond timestamps. Plain struct packing, no scapy: a million
frames take a few seconds. The random generator is seeded, so the file is
the same every time.
"""
import argparse
import random
import struct
import sys

ETH = bytes.fromhex("020000000001" "020000000017") + b"\x08\x00"
T0 = 1767225600  # 2026-01-01T00:00:00Z
STEP_US = 10


def ipv4(proto, src, dst, payload_len):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000, 64, proto, 0,
                       src, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--scan", type=int, default=200_000)
    a = ap.parse_args()
    if a.packets < 1 or a.scan < 0:
        sys.exit("flood.py: --packets must be at least 1 and --scan at least 0")
    scan = min(a.scan, a.packets)
    rnd = random.Random(20260101)
    out = open(a.out, "wb")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    rec = struct.Struct("<IIII")
    n = 0

    def frame(data):
        nonlocal n
        t = n * STEP_US
        out.write(rec.pack(T0 + t // 1_000_000, t % 1_000_000, len(data), len(data)))
        out.write(data)
        n += 1

    client = bytes([10, 9, 0, 5])
    for i in range(scan):
        host, port = divmod(i, 100)
        dst = bytes([198, 18 + (host >> 16 & 1), host >> 8 & 0xFF, host & 0xFF])
        tcp = struct.pack(">HHIIBBHHH", 40000 + i % 20000, 1 + port * 11, i, 0, 5 << 4, 0x02,
                          64240, 0, 0)
        frame(ETH + ipv4(6, client, dst, len(tcp)) + tcp)

    server = bytes([203, 0, 113, 53])
    query = bytes(12)
    for _ in range(a.packets - scan):
        src = struct.pack(">I", (100 << 24 | 64 << 16) + rnd.getrandbits(22))
        udp = struct.pack(">HHHH", 1024 + rnd.getrandbits(15), 53, 8 + len(query), 0) + query
        frame(ETH + ipv4(17, src, server, len(udp)) + udp)
    out.close()
    print(f"flood.py: {n} frames ({scan} SYN scan, {n - scan} UDP flood) in {a.out}")


if __name__ == "__main__":
    main()
