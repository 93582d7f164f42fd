#!/usr/bin/python3
"""Builds the test and demo captures of flowaudit, packet by packet.

Every capture the test suite uses is made here, deterministically (fixed
times, addresses, sequence numbers), so a test states exactly what it
expects. Run `capgen.py --list` for the scenarios and `capgen.py NAME OUT`
to write one. Addresses are documentation-like private ones for devices and
public-looking ones for "internet" hosts; nothing is ever sent.
"""
import base64
import gzip
import hashlib
import struct
import sys

from scapy.all import (DNS, DNSQR, DNSRR, IP, IPv6, TCP, UDP, Dot1Q, Ether, Raw,
                       CookedLinux, CookedLinuxV2, wrpcap, PcapWriter)
from scapy.config import conf

T0 = 1795860000.0  # 2026-11-28T10:00:00Z

DEVICE_MAC = "02:00:00:00:00:17"
GW_MAC = "02:00:00:00:00:01"


class Capture:
    """Collects frames with timestamps; link framing chosen at write time."""

    def __init__(self, link="ether", vlan=None, t0=T0):
        self.link = link
        self.vlan = vlan
        self.t = t0
        self.frames = []

    def tick(self, dt=0.01):
        self.t += dt
        return self.t

    def add(self, ip_pkt, outbound=True):
        if self.link in ("ether", "vlan", "qinq"):
            src, dst = (DEVICE_MAC, GW_MAC) if outbound else (GW_MAC, DEVICE_MAC)
            l2 = Ether(src=src, dst=dst)
            if self.link == "vlan":
                l2 = l2 / Dot1Q(vlan=self.vlan or 42)
            elif self.link == "qinq":
                l2 = Ether(src=src, dst=dst, type=0x88a8) / Dot1Q(vlan=100, type=0x8100) / Dot1Q(vlan=self.vlan or 42)
            frame = l2 / ip_pkt
        elif self.link == "sll":
            frame = CookedLinux(pkttype=4 if outbound else 0, lladdrtype=1, lladdrlen=6,
                                src=bytes.fromhex(DEVICE_MAC.replace(":", "")) + b"\0\0") / ip_pkt
        elif self.link == "sll2":
            frame = CookedLinuxV2(pkttype=4 if outbound else 0, lladdrtype=1, lladdrlen=6,
                                  ifindex=2,
                                  src=bytes.fromhex(DEVICE_MAC.replace(":", "")) + b"\0\0") / ip_pkt
        elif self.link == "raw":
            frame = ip_pkt
        else:
            raise ValueError(self.link)
        frame.time = self.tick()
        self.frames.append(frame)

    def write(self, path):
        lt = {"ether": 1, "vlan": 1, "qinq": 1, "sll": 113, "sll2": 276, "raw": 101}[self.link]
        w = PcapWriter(path, linktype=lt, sync=True)
        for f in self.frames:
            w.write(f)
        w.close()


def ip(src, dst):
    return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)


def dns_exchange(cap, dev, resolver, name, answers, sport=40000, cname=None, qtype="A"):
    """A query and its answer; answers are the final addresses."""
    q = ip(dev, resolver) / UDP(sport=sport, dport=53) / DNS(id=sport & 0xffff, rd=1, qd=DNSQR(qname=name, qtype=qtype))
    cap.add(q, True)
    rrs = []
    owner = name
    if cname:
        rrs.append(DNSRR(rrname=name, type="CNAME", ttl=300, rdata=cname))
        owner = cname
    for a in answers:
        rrs.append(DNSRR(rrname=owner, type="AAAA" if ":" in a else "A", ttl=300, rdata=a))
    an = None
    for rr in rrs:
        an = rr if an is None else an / rr
    r = ip(resolver, dev) / UDP(sport=53, dport=sport) / DNS(id=sport & 0xffff, qr=1, rd=1, ra=1,
                                                           qd=DNSQR(qname=name, qtype=qtype), an=an, ancount=len(rrs))
    cap.add(r, False)


def client_hello(sni):
    """A TLS 1.2 ClientHello record carrying SNI and ALPN h2."""
    host = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(host) + 5, len(host) + 3, 0, len(host)) + host
    alpn = b"\x02h2"
    alpn_ext = struct.pack("!HHH", 16, len(alpn) + 2, len(alpn)) + alpn
    exts = sni_ext + alpn_ext
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 4) + b"\xc0\x2f\x00\x9c"
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello():
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\xc0\x2f" + b"\x00"
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs


def tcp_session(cap, cli, srv, sport, dport, client_data=(), server_data=(), isn_c=1000, isn_s=5000,
                order=None, close=True):
    """Handshake, data both ways, FIN. client_data: list of byte strings, one segment each.
    order: optional permutation of client segment indexes (out-of-order delivery)."""
    cap.add(ip(cli, srv) / TCP(sport=sport, dport=dport, flags="S", seq=isn_c), True)
    cap.add(ip(srv, cli) / TCP(sport=dport, dport=sport, flags="SA", seq=isn_s, ack=isn_c + 1), False)
    cap.add(ip(cli, srv) / TCP(sport=sport, dport=dport, flags="A", seq=isn_c + 1, ack=isn_s + 1), True)
    seq_c, seq_s = isn_c + 1, isn_s + 1
    segs = []
    for d in client_data:
        segs.append((seq_c, d))
        seq_c += len(d)
    idx = order if order is not None else range(len(segs))
    for i in idx:
        s, d = segs[i]
        cap.add(ip(cli, srv) / TCP(sport=sport, dport=dport, flags="PA", seq=s, ack=seq_s) / Raw(d), True)
    for d in server_data:
        cap.add(ip(srv, cli) / TCP(sport=dport, dport=sport, flags="PA", seq=seq_s, ack=seq_c) / Raw(d), False)
        seq_s += len(d)
    if close:
        cap.add(ip(cli, srv) / TCP(sport=sport, dport=dport, flags="FA", seq=seq_c, ack=seq_s), True)
        cap.add(ip(srv, cli) / TCP(sport=dport, dport=sport, flags="FA", seq=seq_s, ack=seq_c + 1), False)
        cap.add(ip(cli, srv) / TCP(sport=sport, dport=dport, flags="A", seq=seq_c + 1, ack=seq_s + 1), True)


def tls_flow(cap, cli, srv, sni, sport, dns=None, resolver="192.168.1.1"):
    if dns:
        dns_exchange(cap, cli, resolver, sni, [srv], sport=sport + 10000)
    tcp_session(cap, cli, srv, sport, 443, [client_hello(sni)], [server_hello(), b"\x17\x03\x03\x00\x10" + bytes(16)])


def http_request(host, path="/", headers=None, body=b"", method="GET"):
    h = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: flowaudit-test/1.0\r\n" % (method, path, host)
    for k, v in (headers or {}).items():
        h += "%s: %s\r\n" % (k, v)
    if body:
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


def http_flow(cap, cli, srv, host, sport, path="/", body=b"", headers=None, method="GET", segments=None, order=None):
    req = http_request(host, path, headers, body, method)
    data = segments(req) if segments else [req]
    tcp_session(cap, cli, srv, sport, 80, data, [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"], order=order)


# ---- identifiers of the test device (tests/fixtures/device.json holds the same) ----
IMEI = "356938035643809"
ANDROID_ID = "9774d56d682e549c"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
MAC = "02:00:00:00:00:17"
EMAIL = "tester@example.org"
OTHER_IMEI = "490154203237518"
SERIAL = "SN>4711?QA"  # tests/e2e/fixtures/device-serial.json

DEV = "192.168.1.23"
DEV2 = "192.168.1.42"
DEV6 = "fd00::23"
RES = "192.168.1.1"
RES6 = "fd00::1"

# public-looking hosts; the tests' own MMDB places them (tests/fixtures/geo/test-country.txt)
ADMOB_IP = "142.250.1.10"      # US
FB_IP = "157.240.1.35"         # US
FP_IP = "47.92.1.10"           # CN  (first party)
UNK_IP = "47.92.2.20"          # CN  (unknown endpoint)
UNK_US_IP = "23.94.5.5"        # US  (unknown, abroad)
ADMOB6 = "2001:4860:4860::1010" # US
UMENG_IP = "47.92.3.30"        # CN
UNPLACED_IP = "185.199.108.153" # public, but not in the test country database

FIRST_PARTY = "api.xigeme.com"


def sc_undeclared(cap):
    """An SDK the declaration does not name (Facebook), by SNI."""
    tls_flow(cap, DEV, FB_IP, "graph.facebook.com", 50001, dns=True)


def sc_declared_in_region(cap):
    """Declared SDK (Umeng, declared by the test policy) in the declared region; first party in region."""
    tls_flow(cap, DEV, UMENG_IP, "alog.umeng.com", 50002, dns=True)
    tls_flow(cap, DEV, FP_IP, FIRST_PARTY, 50003, dns=True)


def sc_first_party(cap):
    tls_flow(cap, DEV, FP_IP, FIRST_PARTY, 50004)


def sc_unknown(cap):
    tls_flow(cap, DEV, UNK_IP, "telemetry.unlisted-vendor.cn", 50005)


def sc_cross_border(cap):
    """The declared AdMob SDK in the US, with no consent event."""
    tls_flow(cap, DEV, ADMOB_IP, "googleads.g.doubleclick.net", 50006, dns=True)


def sc_http(cap):
    """Plaintext HTTP to the first party."""
    http_flow(cap, DEV, FP_IP, FIRST_PARTY, 50007, "/v1/ping")


def sc_http_latin1(cap):
    """A request whose path and User-Agent hold Latin-1 bytes, not UTF-8."""
    req = (b"GET /caf\xe9 HTTP/1.1\r\nHost: latin1.example.com\r\n"
           b"User-Agent: Caf\xe9Browser/1.0\r\n\r\n")
    tcp_session(cap, DEV, UNK_IP, 50031, 80, [req], [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"])


def sc_tls_only(cap):
    tls_flow(cap, DEV, FP_IP, FIRST_PARTY, 50008)
    tls_flow(cap, DEV, UMENG_IP, "alog.umeng.com", 50009)


def sc_dns_named(cap):
    """A flow with no SNI or Host, named only by the earlier DNS answer."""
    dns_exchange(cap, DEV, RES, "graph.facebook.com", [FB_IP], sport=40100, cname=None)
    tcp_session(cap, DEV, FB_IP, 50010, 443, [b"\x17\x03\x03\x00\x08" + bytes(8)], [b"\x17\x03\x03\x00\x08" + bytes(8)])


def sc_dns_cname(cap):
    dns_exchange(cap, DEV, RES, "www.facebook.com", [FB_IP], sport=40101, cname="star-mini.c10r.facebook.com")
    tcp_session(cap, DEV, FB_IP, 50011, 443, [b"\x17\x03\x03\x00\x08" + bytes(8)], [])


def sc_ipv6(cap):
    dns_exchange(cap, DEV6, RES6, "googleads.g.doubleclick.net", [ADMOB6], sport=40102, qtype="AAAA")
    tls_flow(cap, DEV6, ADMOB6, "googleads.g.doubleclick.net", 50012)
    tls_flow(cap, DEV6, "2a03:2880:f003:c07:face:b00c::2", "graph.facebook.com", 50013)


def sc_multi_device(cap):
    tls_flow(cap, DEV, FB_IP, "graph.facebook.com", 50014)
    tls_flow(cap, DEV2, FB_IP, "graph.facebook.com", 50015)


def _ids_http(cap, sport, body=b"", path="/", headers=None, segments=None, order=None, method="GET"):
    http_flow(cap, DEV, UNK_IP, "collect.unlisted-vendor.cn", sport, path, body, headers, method, segments, order)


def sc_id_plain(cap):
    _ids_http(cap, 50100, path="/c?imei=" + IMEI)


def sc_id_hex(cap):
    _ids_http(cap, 50101, path="/c?d=" + ANDROID_ID.encode().hex().upper())


def sc_id_url(cap):
    _ids_http(cap, 50102, path="/c?mail=" + EMAIL.replace("@", "%40"))


def sc_id_base64(cap):
    for i, pre in enumerate(["", "a", "ab"]):
        b = base64.b64encode((pre + "gaid=" + GAID).encode()).decode()
        _ids_http(cap, 50103 + i, method="POST", body=('{"p":"%s"}' % b).encode())


def sc_id_md5(cap):
    _ids_http(cap, 50106, path="/c?h=" + hashlib.md5(IMEI.encode()).hexdigest())


def sc_id_sha256_mac(cap):
    _ids_http(cap, 50107, path="/c?m=" + hashlib.sha256(MAC.replace(":", "").upper().encode()).hexdigest().upper())


def sc_id_split(cap):
    """The IMEI split across two TCP segments."""
    _ids_http(cap, 50108, path="/c?imei=" + IMEI, segments=lambda req: [req[:30], req[30:]])


def sc_id_ooo(cap):
    """Segments delivered out of order."""
    _ids_http(cap, 50109, path="/c?imei=" + IMEI, segments=lambda req: [req[:20], req[20:40], req[40:]], order=[0, 2, 1])


def sc_id_gzip(cap):
    body = gzip.compress(('{"android_id":"%s"}' % ANDROID_ID).encode(), mtime=0)
    _ids_http(cap, 50110, method="POST", body=body, headers={"Content-Encoding": "gzip"})


def sc_id_dns_label(cap):
    dns_exchange(cap, DEV, RES, "%s.t.unlisted-vendor.cn" % ANDROID_ID, [UNK_IP], sport=40200)


def sc_id_negative(cap):
    """Random hex of the same length, another device's IMEI: must not fire."""
    _ids_http(cap, 50111, path="/c?x=" + "8f1e2d3c4b5a6978" + "&imei=" + OTHER_IMEI)


def sc_id_sha1(cap):
    _ids_http(cap, 50112, path="/c?s=" + hashlib.sha1(IMEI.encode()).hexdigest())


def b64url_token(obj_json):
    """URL-safe base64 without padding, as JWT-style tokens carry it."""
    return base64.urlsafe_b64encode(obj_json.encode()).decode().rstrip("=")


def sc_id_base64url(cap):
    """The serial number inside a URL-safe base64 token whose encoding of the
    serial holds '-' or '_' (so it cannot be read as standard base64)."""
    tok = b64url_token('{"sn":"%s"}' % SERIAL)
    assert "-" in tok or "_" in tok, tok
    _ids_http(cap, 50113, path="/c?t=" + tok)


def sc_id_response(cap):
    """The server sends the IMEI back to the device in an HTTP response body."""
    body = ('{"device":{"imei":"%s"}}' % IMEI).encode()
    resp = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    req = http_request("collect.unlisted-vendor.cn", "/v1/whoami")
    tcp_session(cap, DEV, UNK_IP, 50114, 80, [req], [resp])


def sc_id_tcp_raw(cap):
    """A line protocol on a non-HTTP TCP port carrying the IMEI in clear."""
    tcp_session(cap, DEV, UNK_IP, 50115, 7070, [b"HELLO 1\r\n", b"DEV imei=%s\r\n" % IMEI.encode()],
                [b"OK\r\n"])


def sc_id_udp_raw(cap):
    """A UDP datagram (not DNS) carrying the Android ID in clear, and its answer."""
    payload = b"\x01\x00beacon;aid=" + ANDROID_ID.encode() + b";v=3"
    cap.add(ip(DEV, UNK_IP) / UDP(sport=50116, dport=9999) / Raw(payload), True)
    cap.add(ip(UNK_IP, DEV) / UDP(sport=9999, dport=50116) / Raw(b"\x02\x00ack"), False)


def sc_id_first_party(cap):
    """The first party (declared data: device_id, ip_address) receives the IMEI
    (covered by device_id) and the e-mail address (not declared) over HTTP."""
    http_flow(cap, DEV, FP_IP, FIRST_PARTY, 50117, "/v1/register?imei=%s&mail=%s" % (IMEI, EMAIL.replace("@", "%40")))


def sc_id_sdk_declared(cap):
    """Umeng (declared data: device_id) receives the Android ID over plain HTTP."""
    http_flow(cap, DEV, UMENG_IP, "alog.umeng.com", 50118, "/app_logs?aid=" + ANDROID_ID)


def sc_unplaced(cap):
    """The declared AdMob host at a public address the test country database does not place."""
    tls_flow(cap, DEV, UNPLACED_IP, "googleads.g.doubleclick.net", 50300, dns=True)
    tls_flow(cap, DEV, ADMOB_IP, "googleads.g.doubleclick.net", 50301)


def sc_consent(cap):
    """AdMob at +0s (before grant), +10s (after grant at +5s), +20s (after withdrawal at +15s)."""
    cap.t = T0
    tls_flow(cap, DEV, ADMOB_IP, "googleads.g.doubleclick.net", 50200)
    cap.t = T0 + 10
    tls_flow(cap, DEV, ADMOB_IP, "pagead2.googlesyndication.com", 50201)
    cap.t = T0 + 20
    tls_flow(cap, DEV, ADMOB_IP, "googleads.g.doubleclick.net", 50202)


def sc_demo(cap):
    """The shipped example: a device talking to its first party, the declared
    AdMob SDK (before and after consent), an undeclared SDK, an unknown
    endpoint over plaintext HTTP carrying the device's identifiers."""
    dns_exchange(cap, DEV, RES, FIRST_PARTY, [FP_IP], sport=41000)
    tls_flow(cap, DEV, FP_IP, FIRST_PARTY, 51000)
    dns_exchange(cap, DEV, RES, "googleads.g.doubleclick.net", [ADMOB_IP], sport=41001)
    tls_flow(cap, DEV, ADMOB_IP, "googleads.g.doubleclick.net", 51001)
    cap.t += 10  # consent for advertising and cross-border transfer is granted at +5 s
    tls_flow(cap, DEV, ADMOB_IP, "pagead2.googlesyndication.com", 51002, dns=True)
    dns_exchange(cap, DEV, RES, "graph.facebook.com", [FB_IP], sport=41003)
    tls_flow(cap, DEV, FB_IP, "graph.facebook.com", 51003)
    http_flow(cap, DEV, UNK_US_IP, "collect.unlisted-analytics.com", 51004,
              "/v2/e?imei=%s&aid=%s" % (IMEI, ANDROID_ID))
    http_flow(cap, DEV, FP_IP, FIRST_PARTY, 51005, "/v1/config")


SCENARIOS = {name[3:]: fn for name, fn in globals().items() if name.startswith("sc_")}


def build(name, out, link="ether"):
    cap = Capture(link=link)
    SCENARIOS[name](cap)
    cap.write(out)
    return len(cap.frames)


def main(argv):
    if len(argv) >= 2 and argv[1] == "--list":
        for n, fn in sorted(SCENARIOS.items()):
            print("%-20s %s" % (n, (fn.__doc__ or "").strip().split("\n")[0]))
        return 0
    if len(argv) < 3:
        print("usage: capgen.py SCENARIO OUT.pcap [ether|vlan|qinq|sll|sll2|raw]", file=sys.stderr)
        return 2
    link = argv[3] if len(argv) > 3 else "ether"
    n = build(argv[1], argv[2], link)
    print("%s: %d frames (%s)" % (argv[2], n, link))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
