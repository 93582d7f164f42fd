#!/usr/bin/python3
"""Seed corpora for the packet-level fuzz targets, cut from real captures.

Usage: seeds.py OUTDIR CORPUS_DIR

Writes OUTDIR/fuzz_packet/ (one frame per file: link-type selector byte,
then the frame), OUTDIR/fuzz_engine/ (runs of up to 24 consecutive frames
of one capture, each with a 2-byte big-endian length) and OUTDIR/fuzz_pcap/
(capture files under 64 KiB from the corpus edge/ folders, as they are).
The selector byte indexes the link-type table in fuzz_common.h. Frames are
de-duplicated and capped so a run starts from a corpus of a few thousand
files, not hundreds of thousands. Needs scapy (python3-scapy), so run it with
/usr/bin/python3.
"""
import hashlib
import os
import shutil
import sys

import logging

logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.utils import RawPcapNgReader, RawPcapReader  # noqa: E402

LINKTYPES = [1, 113, 276, 101, 0, 108, 228, 229]
MAX_FILE = 64 * 1024
MAX_FRAMES_PER_FILE = 40
MAX_PACKET_SEEDS = 4000
ENGINE_RUN = 24
MAX_ENGINE_SEEDS = 600
# Captures with names, TLS, HTTP, QUIC and DNS in them, beyond the edge cases.
RICH = [
    "ndpi/pcap/android.pcap",
    "ndpi/pcap/KakaoTalk_chat.pcap",
    "ndpi/pcap/http_ipv6.pcap",
    "ndpi/pcap/dns_long_domainname.pcap",
    "ndpi/pcap/tls_verylong_certificate.pcap",
    "ndpi/pcap/quic-29.pcap",
    "ndpi/pcap/gquic.pcap",
    "ndpi/pcap/chrome.pcap",
]


def frames(path):
    """(linktype, [frame bytes]) of a capture; an unreadable file gives []."""
    out = []
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        reader = RawPcapNgReader if magic == b"\x0a\x0d\x0d\x0a" else RawPcapReader
        r = reader(path)
        lt = getattr(r, "linktype", None)
        for pkt, meta in r:
            if reader is RawPcapNgReader:
                lt = getattr(meta, "linktype", lt)
            out.append(bytes(pkt))
            if len(out) >= MAX_FRAMES_PER_FILE * 4:
                break
        r.close()
    except Exception:  # a broken capture is a pcap seed, not a frame source
        return None, []
    return lt, out


def save(d, data):
    name = hashlib.sha1(data).hexdigest()
    p = os.path.join(d, name)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
        return True
    return False


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: seeds.py OUTDIR CORPUS_DIR")
    out, corpus = sys.argv[1], sys.argv[2]
    dirs = {t: os.path.join(out, t) for t in ("fuzz_packet", "fuzz_engine", "fuzz_pcap")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)

    small = []
    for root in ("edge/tcpdump", "edge/libpcap"):
        for dp, _, fs in os.walk(os.path.join(corpus, root)):
            for fn in sorted(fs):
                p = os.path.join(dp, fn)
                if fn.endswith((".pcap", ".pcapng", ".cap")) and os.path.getsize(p) < MAX_FILE:
                    small.append(p)
    small.sort()
    n_pcap = sum(save(dirs["fuzz_pcap"], open(p, "rb").read()) for p in small)

    n_pkt = n_eng = 0
    sources = [os.path.join(corpus, r) for r in RICH if os.path.exists(os.path.join(corpus, r))]
    for p in sources + small:
        if n_pkt >= MAX_PACKET_SEEDS and n_eng >= MAX_ENGINE_SEEDS:
            break
        lt, fr = frames(p)
        if lt not in LINKTYPES or not fr:
            continue
        sel = bytes([LINKTYPES.index(lt)])
        for b in fr[:MAX_FRAMES_PER_FILE]:
            if n_pkt < MAX_PACKET_SEEDS and save(dirs["fuzz_packet"], sel + b[:4096]):
                n_pkt += 1
        for i in range(0, len(fr), ENGINE_RUN):
            if n_eng >= MAX_ENGINE_SEEDS:
                break
            blob = sel + b"".join(len(b[:4096]).to_bytes(2, "big") + b[:4096]
                                  for b in fr[i:i + ENGINE_RUN])
            if save(dirs["fuzz_engine"], blob):
                n_eng += 1
    print(f"seeds: fuzz_packet {n_pkt}, fuzz_engine {n_eng}, fuzz_pcap {n_pcap}")


if __name__ == "__main__":
    main()
