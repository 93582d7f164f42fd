#!/usr/bin/python3
"""mkworkload.py - the benchmark workload: a long Ethernet pcap.

Usage: mkworkload.py OUTDIR [--min-packets N] [--scales 1,2,4] [--corpus DIR]
                            [--synthetic] [--slice N]

Base set: every Ethernet capture of CORPUS/ndpi/pcap, CORPUS/mobile/matousp
and CORPUS/mobile/matousp-mobile-profiling (pcap, pcapng, and the Red Hat
"modified" pcap libpcap also reads) that the corpus MANIFEST.tsv marks as
read by ndpiReader ("ok"). Without the corpus (or with
--synthetic) a synthetic base set is generated instead: DNS queries and
answers, TLS ClientHellos with SNI, HTTP GETs with Host, plain UDP.

Time: inside each capture the packets keep their order and spacing, with
gaps capped at GAP_CAP (test captures are often merged from runs years
apart, or go backwards). The captures play side by side, longest first,
their starts spread evenly over REP_SLOTS (10 minutes): a steady load of
about a dozen devices at a time. One such replay of the base set is one
"rep"; its span is its last packet rounded up to a minute (11 minutes for
the corpus), and rep r starts r spans after T0, so the timeline is
monotonic and flows of rep r end idle (300 s TCP, 60 s UDP in flowaudit)
while later reps run: the live flow count levels off within the first
two reps and stays there however long the workload.

Hosts: the 1x workload is R = ceil(N / base) reps (at least N packets).
In rep r the client of every address pair (the source of the pair's first
packet in its capture) gets (r mod R) * SHIFT added to its last 16 bits
(IPv4) or to bits 96-111 (IPv6): R sets of devices ("pools"). Servers stay
as they are, so SNI, Host and DNS answers keep naming them. IPv4 header,
TCP, UDP and ICMPv6 checksums are updated incrementally (RFC 1624).
Tunnelled inner headers are left alone; multicast, broadcast and
unspecified addresses are never shifted.

The 2x and 4x workloads are the first 2R and 4R reps of the same sequence
(1x is a prefix of 2x, 2x of 4x): the same R pools of devices and the same
destinations, two and four times as long in time. A pool's flows come back
R reps (110 minutes for the corpus) after they ended idle, so every flow is
new to every tool, and what a tool keeps should depend on the devices and
destinations seen, not on the length of the capture.

Outputs are cached as OUTDIR/workload-HASH-Sx.pcap, HASH covering this
script, the parameters and every input file's bytes, and described by
OUTDIR/workload-HASH.json (whose path is the last line printed); building
a new set removes the previous one (they are GBs).

--slice N also writes OUTDIR/workload-HASH-slice-N.pcap, the first N
packets of the 1x workload (for profiling under valgrind).
"""
import argparse
import hashlib
import json
import os
import random
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.environ.get(
    "FLOWAUDIT_CORPUS", os.path.join(os.path.dirname(TOP), "shared", "corpus"))
CORPUS_DIRS = ("ndpi/pcap", "mobile/matousp", "mobile/matousp-mobile-profiling")
CAP_EXT = (".pcap", ".pcapng", ".cap")

T0 = 1700000000 * 1000000       # 2023-11-14T22:13:20Z, in microseconds
GAP_CAP = 1000000               # longest gap kept inside one capture
REP_SLOTS = 600 * 1000000       # capture i of n starts at i * REP_SLOTS / n
REP_GAP = 1000000               # after a rep's last packet
REP_ALIGN = 60 * 1000000        # a rep's span is rounded up to this
SHIFT = 7919                    # added to the client's word per rep
MAX_CAPLEN = 262144
LINKTYPE_ETHERNET = 1


class BadCapture(Exception):
    pass


# ---------------------------------------------------------------- reading

def read_pcap(data):
    """Classic pcap, nanosecond pcap and Kuznetzov's modified pcap."""
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1, 16), b"\xa1\xb2\xc3\xd4": (">", 1, 16),
        b"\x4d\x3c\xb2\xa1": ("<", 1000, 16), b"\xa1\xb2\x3c\x4d": (">", 1000, 16),
        b"\x34\xcd\xb2\xa1": ("<", 1, 24), b"\xa1\xb2\xcd\x34": (">", 1, 24),
    }
    if magic not in formats or len(data) < 24:
        raise BadCapture("not a pcap file")
    e, div, rec = formats[magic]
    linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x03FFFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise BadCapture("link type %d" % linktype)
    out = []
    off = 24
    hdr = struct.Struct(e + "IIII")
    while off + rec <= len(data):
        sec, frac, caplen, _ = hdr.unpack_from(data, off)
        off += rec
        if caplen > MAX_CAPLEN or off + caplen > len(data):
            break  # truncated or corrupt tail: libpcap stops here too
        out.append((sec * 1000000 + frac // div, data[off:off + caplen]))
        off += caplen
    return out


def _tsresol(v):
    return 2 ** (v & 0x7F) if v & 0x80 else 10 ** v


def read_pcapng(data):
    out = []
    off = 0
    e = "<"
    ifaces = []  # (linktype, snaplen, units per second, offset seconds)
    while off + 12 <= len(data):
        btype = struct.unpack_from(e + "I", data, off)[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                e = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                e = ">"
            else:
                break
            ifaces = []
        blen = struct.unpack_from(e + "I", data, off + 4)[0]
        if blen < 12 or blen % 4 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        off += blen
        if btype == 1 and len(body) >= 8:  # interface description
            lt, _, snap = struct.unpack_from(e + "HHI", body, 0)
            res, tsoff = 1000000, 0
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from(e + "HH", body, o)
                val = body[o + 4:o + 4 + olen]
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    res = _tsresol(val[0])
                elif code == 14 and olen >= 8:
                    tsoff = struct.unpack_from(e + "q", val, 0)[0]
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((lt, snap, res, tsoff))
        elif btype in (6, 2) and len(body) >= 20:  # enhanced / obsolete packet
            if btype == 6:
                iface, hi, lo, caplen, _ = struct.unpack_from(e + "IIIII", body, 0)
            else:
                iface, _, hi, lo, caplen, _ = struct.unpack_from(e + "HHIIII", body, 0)
            if iface >= len(ifaces) or caplen > len(body) - 20 or caplen > MAX_CAPLEN:
                continue
            lt, _, res, tsoff = ifaces[iface]
            if lt != LINKTYPE_ETHERNET:
                continue
            units = (hi << 32) | lo
            ts = tsoff * 1000000 + units * 1000000 // res
            out.append((ts, body[20:20 + caplen]))
        elif btype == 3 and len(body) >= 4 and ifaces:  # simple packet
            lt, snap, _, _ = ifaces[0]
            if lt != LINKTYPE_ETHERNET:
                continue
            olen = struct.unpack_from(e + "I", body, 0)[0]
            caplen = min(olen, len(body) - 4, snap or MAX_CAPLEN, MAX_CAPLEN)
            ts = out[-1][0] if out else 0
            out.append((ts, body[4:4 + caplen]))
    if not out:
        raise BadCapture("no Ethernet packets")
    return out


def read_capture(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data), data
    return read_pcap(data), data


# ------------------------------------------------------------ addressing

def shiftable(addr):
    if len(addr) == 4:
        return not (addr[0] == 0 or addr[0] >= 224)
    return addr[0] != 0xFF and addr != bytes(16)


def locate(frame):
    """(src offset, dst offset, address length, [(checksum offset, is_udp4)])
    of the outer IP header of an Ethernet frame, or None."""
    n = len(frame)
    if n < 14:
        return None
    off = 12
    et = (frame[off] << 8) | frame[off + 1]
    while et in (0x8100, 0x88A8, 0x9100) and off + 6 <= n:
        off += 4
        et = (frame[off] << 8) | frame[off + 1]
    off += 2
    if et == 0x0800:
        if off + 20 > n or frame[off] >> 4 != 4:
            return None
        ihl = (frame[off] & 15) * 4
        if ihl < 20:
            return None
        sums = [(off + 10, False)]
        proto = frame[off + 9]
        frag = ((frame[off + 6] & 0x1F) << 8) | frame[off + 7]
        l4 = off + ihl
        if frag == 0:
            if proto == 6 and l4 + 18 <= n:
                sums.append((l4 + 16, False))
            elif proto == 17 and l4 + 8 <= n:
                sums.append((l4 + 6, True))
        return off + 12, off + 16, 4, sums
    if et == 0x86DD:
        if off + 40 > n or frame[off] >> 4 != 6:
            return None
        nh = frame[off + 6]
        p = off + 40
        sums = []
        while True:
            if nh in (0, 43, 60) and p + 8 <= n:
                nh, p = frame[p], p + 8 * (frame[p + 1] + 1)
            elif nh == 44 and p + 8 <= n:
                if ((frame[p + 2] << 8) | frame[p + 3]) & 0xFFF8:
                    nh = None  # not the first fragment: no L4 header
                    break
                nh, p = frame[p], p + 8
            else:
                break
        if nh == 6 and p + 18 <= n:
            sums.append((p + 16, False))
        elif nh == 17 and p + 8 <= n:
            sums.append((p + 6, False))
        elif nh == 58 and p + 4 <= n:
            sums.append((p + 2, False))
        return off + 8, off + 24, 16, sums
    return None


def plan_capture(pkts):
    """Per packet: None, or (word offset, word, [(checksum offset, is_udp4)])
    for the word of the client address that each rep shifts."""
    clients = {}
    plans = []
    for _, frame in pkts:
        loc = locate(frame)
        if loc is None:
            plans.append(None)
            continue
        so, do, alen, sums = loc
        src, dst = frame[so:so + alen], frame[do:do + alen]
        key = (src, dst) if src < dst else (dst, src)
        client = clients.get(key)
        if client is None:
            client = src if shiftable(src) else (dst if shiftable(dst) else b"")
            clients[key] = client
        if not client:
            plans.append(None)
            continue
        base = so if src == client else do
        wo = base + (2 if alen == 4 else 12)
        plans.append((wo, (frame[wo] << 8) | frame[wo + 1],
                      [s for s in sums if s[0] + 2 <= len(frame)]))
    return plans


def csum_adjust(c, old, new):
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')."""
    s = (~c & 0xFFFF) + (~old & 0xFFFF) + new
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


# ------------------------------------------------------------- synthetic

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Synth:
    """A base set of app-like traffic from a few hundred private clients."""
    HOSTS = [
        "graph.facebook.com", "app-measurement.com", "firebaselogging-pa.googleapis.com",
        "settings.crashlytics.com", "api.mixpanel.com", "t.appsflyer.com",
        "api2.amplitude.com", "sdk.iad-01.braze.com", "www.google-analytics.com",
        "googleads.g.doubleclick.net", "api.segment.io", "sessions.bugsnag.com",
        "o123.ingest.sentry.io", "api.onesignal.com", "log.tiktokv.com",
        "www.example.com", "cdn.example.net", "api.example.org", "static.example.com",
        "media.example.net", "speech.example.com", "upload.example.org",
    ]

    def __init__(self, seed=1):
        self.rng = random.Random(seed)
        self.out = []
        self.t = 0
        self.servers = {h: bytes([23 + i % 180, 40 + i, (i * 37) % 250 + 1, 10 + i])
                        for i, h in enumerate(self.HOSTS)}
        self.dns = bytes([192, 168, 1, 1])

    def tick(self, us):
        self.t += us

    def frame(self, src, dst, proto, l4):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self.rng.randrange(65536),
                         0x4000, 64, proto, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
        co = 16 if proto == 6 else 6
        c = csum(pseudo + l4) or 0xFFFF
        l4 = l4[:co] + struct.pack("!H", c) + l4[co + 2:]
        eth = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
        self.out.append((self.t, eth + ip + l4))

    def udp(self, src, dst, sp, dp, payload):
        self.frame(src, dst, 17, struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload)

    def tcp(self, src, dst, sp, dp, seq, ack, flags, payload=b""):
        self.frame(src, dst, 6, struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF,
                                            ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0) + payload)

    @staticmethod
    def qname(host):
        return b"".join(bytes([len(p)]) + p.encode() for p in host.split(".")) + b"\0"

    def dns_pair(self, cli, host):
        qid = self.rng.randrange(65536)
        sp = self.rng.randrange(20000, 60000)
        q = self.qname(host) + struct.pack("!HH", 1, 1)
        self.udp(cli, self.dns, sp, 53, struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q)
        self.tick(self.rng.randrange(2000, 30000))
        ans = q + struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + self.servers[host]
        self.udp(self.dns, cli, 53, sp, struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + ans)

    def tcp_session(self, cli, host, request, responses):
        srv = self.servers[host]
        sp, dp = self.rng.randrange(30000, 60000), 443 if request[:1] == b"\x16" else 80
        cs, ss = self.rng.randrange(1 << 32), self.rng.randrange(1 << 32)
        rtt = self.rng.randrange(5000, 80000)
        self.tcp(cli, srv, sp, dp, cs, 0, 0x02)
        self.tick(rtt)
        self.tcp(srv, cli, dp, sp, ss, cs + 1, 0x12)
        self.tick(200)
        cs += 1
        ss += 1
        self.tcp(cli, srv, sp, dp, cs, ss, 0x10)
        self.tcp(cli, srv, sp, dp, cs, ss, 0x18, request)
        cs += len(request)
        self.tick(rtt)
        noise = bytes(self.rng.randrange(256) for _ in range(64)) * 20
        if dp == 80:
            body = noise * responses
            data = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" \
                   b"Content-Length: %d\r\n\r\n" % len(body) + body
        else:  # TLS application data records
            data = (b"\x17\x03\x03" + struct.pack("!H", len(noise) - 5) + noise[5:]) * responses
        for i in range(responses):
            seg = data[i * len(noise):(i + 1) * len(noise) if i + 1 < responses else None]
            self.tcp(srv, cli, dp, sp, ss, cs, 0x10, seg)
            ss += len(seg)
            if i % 2:
                self.tick(300)
                self.tcp(cli, srv, sp, dp, cs, ss, 0x10)
        self.tick(rtt)
        self.tcp(cli, srv, sp, dp, cs, ss, 0x11)
        self.tick(rtt)
        self.tcp(srv, cli, dp, sp, ss, cs + 1, 0x11)
        self.tick(200)
        self.tcp(cli, srv, sp, dp, cs + 1, ss + 1, 0x10)

    def client_hello(self, host):
        name = host.encode()
        sni = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
        alpn = struct.pack("!HHHB", 16, 5, 3, 2) + b"h2"
        exts = sni + alpn
        body = (b"\x03\x03" + bytes(self.rng.randrange(256) for _ in range(32)) + b"\x00" +
                struct.pack("!H", 4) + b"\x13\x01\xc0\x2f" + b"\x01\x00" +
                struct.pack("!H", len(exts)) + exts)
        hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
        return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs

    def http_get(self, host, n):
        return ("GET /v1/collect?event=open&seq=%d&adid=38400000-8cf0-11bd-b23e-10b96e40000d "
                "HTTP/1.1\r\nHost: %s\r\nUser-Agent: okhttp/4.9.0\r\nAccept: */*\r\n\r\n"
                % (n, host)).encode()

    def build(self, packets):
        n = 0
        while len(self.out) < packets:
            cli = bytes([192, 168, 1 + n % 4, 10 + n % 200])
            host = self.rng.choice(self.HOSTS)
            self.dns_pair(cli, host)
            self.tick(self.rng.randrange(1000, 20000))
            kind = n % 4
            if kind in (0, 1):
                self.tcp_session(cli, host, self.client_hello(host), self.rng.randrange(2, 12))
            elif kind == 2:
                self.tcp_session(cli, host, self.http_get(host, n), self.rng.randrange(1, 6))
            else:
                srv, sp = self.servers[host], self.rng.randrange(30000, 60000)
                for i in range(self.rng.randrange(4, 20)):
                    self.udp(cli, srv, sp, 50000, b"seq=%d;" % i + bytes(
                        self.rng.randrange(256) for _ in range(16)) * 10)
                    self.tick(self.rng.randrange(1000, 20000))
            self.tick(self.rng.randrange(10000, 200000))
            n += 1
        return self.out


# ---------------------------------------------------------------- driver

def corpus_files(corpus):
    ok = None
    manifest = os.path.join(corpus, "MANIFEST.tsv")
    if os.path.exists(manifest):
        ok = set()
        with open(manifest) as f:
            for line in f:
                cols = line.rstrip("\n").split("\t")
                if len(cols) >= 8 and cols[6].startswith("ether") and \
                        "ndpiReader4.2=ok" in cols[7]:
                    ok.add(cols[0])
    files = []
    for d in CORPUS_DIRS:
        for dp, _, names in os.walk(os.path.join(corpus, d)):
            for name in names:
                path = os.path.join(dp, name)
                rel = os.path.relpath(path, corpus)
                if name.endswith(CAP_EXT) and (ok is None or rel in ok):
                    files.append((rel, path))
    return sorted(files)


def base_from_corpus(corpus, h):
    """[(rel_us, frame, plan)] in timeline order, and the capture names."""
    caps, used = [], []
    for rel, path in corpus_files(corpus):
        try:
            pkts, raw = read_capture(path)
        except (BadCapture, OSError, struct.error):
            continue
        h.update(rel.encode() + b"\0" + hashlib.sha256(raw).digest())
        used.append(rel)
        plans = plan_capture(pkts)
        t, prev, times = 0, pkts[0][0], []
        for ts, _ in pkts:
            t += min(max(ts - prev, 0), GAP_CAP)
            prev = ts
            times.append(t)
        caps.append((t, rel, times, pkts, plans))
    # Longest first, starts spread evenly over REP_SLOTS: a steady load of
    # about a dozen captures (devices) at a time.
    caps.sort(key=lambda c: (-c[0], c[1]))
    base = []
    for i, (_, _, times, pkts, plans) in enumerate(caps):
        start = i * REP_SLOTS // len(caps)
        for j, (t, (_, frame), plan) in enumerate(zip(times, pkts, plans)):
            base.append((start + t, i, j, frame, plan))
    base.sort(key=lambda b: b[:3])
    return [(t, frame, plan) for t, _, _, frame, plan in base], used


def base_synthetic(packets):
    pkts = Synth().build(packets)
    plans = plan_capture(pkts)
    return [(t, f, p) for (t, f), p in zip(pkts, plans)]


def rep_records(base, r, span, pools):
    """The pcap records (bytes) of rep r, its clients from pool r % pools."""
    d = ((r % pools) * SHIFT) & 0xFFFF
    t0 = T0 + r * span
    hdr = struct.Struct("<IIII")
    out = []
    for t, frame, plan in base:
        ts = t0 + t
        if plan is not None and d:
            wo, w, sums = plan
            nw = (w + d) & 0xFFFF
            b = bytearray(frame)
            b[wo] = nw >> 8
            b[wo + 1] = nw & 0xFF
            for co, udp4 in sums:
                c = (b[co] << 8) | b[co + 1]
                if udp4 and c == 0:
                    continue
                c = csum_adjust(c, w, nw)
                if udp4 and c == 0:
                    c = 0xFFFF
                b[co] = c >> 8
                b[co + 1] = c & 0xFF
            frame = bytes(b)
        out.append(hdr.pack(ts // 1000000, ts % 1000000, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, MAX_CAPLEN, LINKTYPE_ETHERNET)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--min-packets", type=int, default=1000000)
    ap.add_argument("--scales", default="1,2,4")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--slice", type=int, default=0)
    a = ap.parse_args()
    scales = sorted({int(s) for s in a.scales.split(",")} | {1})

    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    h.update(repr((a.min_packets, scales)).encode())
    synthetic = a.synthetic or not os.path.isdir(os.path.join(a.corpus, CORPUS_DIRS[0]))
    if synthetic:
        h.update(b"synthetic")
        base, used = None, ["synthetic"]
    else:
        base, used = base_from_corpus(a.corpus, h)
        if not base:
            synthetic = True
            h.update(b"synthetic")
            used = ["synthetic"]
    if synthetic:
        base = base_synthetic(100000)
    key = h.hexdigest()[:16]
    os.makedirs(a.outdir, exist_ok=True)
    meta_path = os.path.join(a.outdir, "workload-%s.json" % key)
    reps1 = -(-a.min_packets // len(base))
    span = -(-(base[-1][0] + REP_GAP) // REP_ALIGN) * REP_ALIGN
    files = {s: os.path.join(a.outdir, "workload-%s-%dx.pcap" % (key, s)) for s in scales}
    slice_path = os.path.join(a.outdir, "workload-%s-slice-%d.pcap" % (key, a.slice))

    meta = None
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if not all(os.path.exists(p) for p in files.values()):
            meta = None
    if meta is None:
        for name in os.listdir(a.outdir):  # one cached workload at a time: they are GBs
            if name.startswith("workload-") and not name.startswith("workload-%s" % key):
                os.remove(os.path.join(a.outdir, name))
        sys.stderr.write("mkworkload: building %s workloads of %d reps x %d packets "
                         "(%s)\n" % ("/".join("%dx" % s for s in scales), reps1, len(base),
                                     "synthetic" if synthetic else
                                     "%d corpus captures" % len(used)))
        tmp = {s: p + ".tmp" for s, p in files.items()}
        outs = {s: open(p, "wb") for s, p in tmp.items()}
        for f in outs.values():
            f.write(PCAP_HEADER)
        for r in range(reps1 * scales[-1]):
            chunk = rep_records(base, r, span, reps1)
            for s, f in outs.items():
                if r < reps1 * s:
                    f.write(chunk)
        for s, f in outs.items():
            f.close()
            os.replace(tmp[s], files[s])
        meta = {
            "key": key,
            "source": "synthetic" if synthetic else "corpus",
            "captures": len(used) if not synthetic else 0,
            "base_packets": len(base),
            "rep_span_s": span / 1e6,
            "workloads": {"%dx" % s: {"path": files[s], "reps": reps1 * s,
                                      "packets": reps1 * s * len(base),
                                      "bytes": os.path.getsize(files[s]),
                                      "span_s": reps1 * s * span / 1e6}
                          for s in scales},
            "inputs": used,
        }
        with open(meta_path + ".tmp", "w") as f:
            json.dump(meta, f, indent=1)
        os.replace(meta_path + ".tmp", meta_path)
    if a.slice and not os.path.exists(slice_path):
        with open(files[1], "rb") as src, open(slice_path + ".tmp", "wb") as dst:
            dst.write(src.read(24))
            for _ in range(a.slice):
                hdr = src.read(16)
                if len(hdr) < 16:
                    break
                caplen = struct.unpack_from("<I", hdr, 8)[0]
                dst.write(hdr + src.read(caplen))
        os.replace(slice_path + ".tmp", slice_path)
    if a.slice:
        meta["slice"] = {"path": slice_path, "packets": a.slice}
        with open(meta_path + ".tmp", "w") as f:
            json.dump(meta, f, indent=1)
        os.replace(meta_path + ".tmp", meta_path)
    print(meta_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
