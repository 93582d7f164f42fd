#!/usr/bin/python3
"""Keyed QUIC captures, and the same requests over TLS 1.3 with HTTP/1.1
and HTTP/2, built packet by packet from chosen secrets.

A real QUIC stack is not needed to test decryption: what an observer sees
is fixed by RFC 9000/9001 once the secrets are chosen. This writes the
packets a client and a server would exchange (Initial packets with the
ClientHello and ServerHello, Handshake packets with EncryptedExtensions and
the Finished messages, then 1-RTT packets carrying HTTP/3), protected with
keys derived from random secrets, and a key log with those secrets, so
that tshark (the reference) and flowaudit can both open them.

  quiccap.py SCENARIO OUT.pcap OUT.keys     one scenario
  quiccap.py --list

Scenarios (HTTP/3 unless named otherwise; the requests carry identifiers
of tests/fixtures/tls-e2e/device.json):

  h3-aes128      TLS_AES_128_GCM_SHA256; three requests: a GET whose
                 :path has the IMEI; a GET with X-Device-Id: ANDROID_ID,
                 its header block referencing the QPACK dynamic table
                 before the encoder stream's insert arrives (blocked,
                 then decoded); a POST whose JSON body (the IMEI and the
                 advertising id) comes in three STREAM frames sent out of
                 order. The client updates its keys after the first request.
  h3-aes256      the same under TLS_AES_256_GCM_SHA384
  h3-chacha      the same under TLS_CHACHA20_POLY1305_SHA256 (ChaCha20
                 header protection)
  h3-v2          the same as h3-aes128 in QUIC version 2 (RFC 9369)
  h3-nokey       h3-aes128 with an empty key log
  h3-migrate     h3-aes128 whose client, after the first request, moves to
                 a new UDP port and a connection ID the server issued in a
                 NEW_CONNECTION_ID frame (PATH_CHALLENGE, PATH_RESPONSE),
                 and sends the other two requests there
  tls-h1         the three requests over TLS 1.3 and HTTP/1.1 (one TCP
                 connection)
  tls-h2         the three requests over TLS 1.3 and HTTP/2
  h3-flood       four keyed connections, each sending 8 MB of STREAM
                 pieces after a hole on 40 streams (32,000 packets), for
                 the memory ceiling per QUIC connection

Each capture starts with a DNS lookup of the server's name. Nothing is ever
sent: the packets exist only in the file.
"""
import hashlib
import hmac
import json
import os
import random
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capgen import Capture, dns_exchange, ip  # noqa: E402
from scapy.all import TCP, UDP, Raw  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICE = json.load(open(os.path.join(HERE, "..", "fixtures", "tls-e2e", "device.json")))

CLIENT = "192.168.78.2"
SERVER = "23.94.7.80"
RESOLVER = "192.168.78.1"
HOST = "h3.example-telemetry.net"

SUITES = {
    0x1301: ("aes", 16, hashlib.sha256),
    0x1302: ("aes", 32, hashlib.sha384),
    0x1303: ("chacha", 32, hashlib.sha256),
}
SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
V1, V2 = 0x00000001, 0x6B3343CF


# ---- key schedule ----

def expand_label(secret, label, ctx, length, h):
    full = b"tls13 " + label.encode()
    info = struct.pack("!HB", length, len(full)) + full + bytes([len(ctx)]) + ctx
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), h).digest()
        out += t
        i += 1
    return out[:length]


class Keys:
    """Packet protection of one direction and one key phase."""

    def __init__(self, secret, suite, prefix):
        self.kind, self.klen, self.h = SUITES[suite]
        self.secret, self.suite, self.prefix = secret, suite, prefix
        self.key = expand_label(secret, prefix + "key", b"", self.klen, self.h)
        self.iv = expand_label(secret, prefix + "iv", b"", 12, self.h)
        self.hp = expand_label(secret, prefix + "hp", b"", self.klen, self.h) if prefix else None

    def updated(self):
        n = Keys(expand_label(self.secret, self.prefix + "ku", b"", self.h().digest_size, self.h),
                 self.suite, self.prefix)
        n.hp = self.hp  # header protection keeps its key (RFC 9001 6)
        return n

    def seal(self, seq, aad, plain):
        nonce = bytes(a ^ b for a, b in zip(self.iv, seq.to_bytes(12, "big")))
        aead = AESGCM(self.key) if self.kind == "aes" else ChaCha20Poly1305(self.key)
        return aead.encrypt(nonce, plain, aad)

    def mask(self, sample):
        if self.kind == "aes":
            return Cipher(algorithms.AES(self.hp), modes.ECB()).encryptor().update(sample)[:5]
        return Cipher(algorithms.ChaCha20(self.hp, sample), None).encryptor().update(bytes(5))


def initial_keys(dcid, version):
    salt, prefix = (SALT_V2, "quicv2 ") if version == V2 else (SALT_V1, "quic ")
    initial = hmac.new(salt, dcid, hashlib.sha256).digest()
    c = expand_label(initial, "client in", b"", 32, hashlib.sha256)
    s = expand_label(initial, "server in", b"", 32, hashlib.sha256)
    return Keys(c, 0x1301, prefix), Keys(s, 0x1301, prefix)


# ---- encodings ----

def vi(n):
    if n < 0x40:
        return bytes([n])
    if n < 0x4000:
        return struct.pack("!H", n | 0x4000)
    if n < 0x40000000:
        return struct.pack("!I", n | 0x80000000)
    return struct.pack("!Q", n | 0xC000000000000000)


def prefix_int(v, bits, high=0):
    """An HPACK/QPACK integer with an N-bit prefix; high holds the bits above it."""
    lim = (1 << bits) - 1
    if v < lim:
        return bytes([high | v])
    out = [high | lim]
    v -= lim
    while v >= 128:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def ext(t, body):
    return struct.pack("!HH", t, len(body)) + body


def hs_msg(t, body):
    return bytes([t]) + struct.pack("!I", len(body))[1:] + body


def client_hello(rnd, host, alpn, tp=b""):
    h = host.encode()
    exts = ext(0, struct.pack("!HBH", len(h) + 3, 0, len(h)) + h)
    a = bytes([len(alpn)]) + alpn
    exts += ext(16, struct.pack("!H", len(a)) + a)
    exts += ext(10, b"\x00\x02\x00\x1d")
    exts += ext(13, b"\x00\x04\x04\x03\x08\x04")
    exts += ext(43, b"\x02\x03\x04")
    exts += ext(51, struct.pack("!HHH", 36, 0x1D, 32) + bytes(range(32)))
    if tp:
        exts += ext(0x39, tp)
    body = (b"\x03\x03" + rnd + b"\x00" + b"\x00\x06\x13\x01\x13\x02\x13\x03" + b"\x01\x00"
            + struct.pack("!H", len(exts)) + exts)
    return hs_msg(1, body)


def server_hello(rnd, suite):
    exts = ext(43, b"\x03\x04") + ext(51, struct.pack("!HH", 0x1D, 32) + bytes(range(32, 64)))
    body = b"\x03\x03" + rnd + b"\x00" + struct.pack("!H", suite) + b"\x00" + struct.pack("!H", len(exts)) + exts
    return hs_msg(2, body)


def encrypted_extensions(alpn, tp=b""):
    a = bytes([len(alpn)]) + alpn
    exts = ext(16, struct.pack("!H", len(a)) + a)
    if tp:
        exts += ext(0x39, tp)
    return hs_msg(8, struct.pack("!H", len(exts)) + exts)


def finished(n):
    return hs_msg(20, bytes(range(n)))


def qpack_literal(name, value):
    """A field line with a literal name, no Huffman (RFC 9204 4.5.6)."""
    return prefix_int(len(name), 3, 0x20) + name + prefix_int(len(value), 7) + value


def qpack_name_ref(index, value):
    """A field line with a static name reference (4.5.4)."""
    return prefix_int(index, 4, 0x50) + prefix_int(len(value), 7) + value


def requests():
    """The three requests: (method, path, extra headers, body)."""
    d = DEVICE
    body = json.dumps({"event": "open", "imei": d["imei"], "ad_id": d["advertising_id"],
                       "pad": "x" * 3000}).encode()
    return [
        ("GET", "/s/h3/q?imei=" + d["imei"], [], b""),
        ("GET", "/s/h3/h", [(b"x-device-id", d["android_id"].encode())], b""),
        ("POST", "/s/h3/j", [(b"content-type", b"application/json")], body),
    ]


# ---- QUIC packets ----

class QuicConn:
    def __init__(self, cap, suite, version, keyed=True, seed=1):
        self.cap, self.suite, self.version = cap, suite, version
        rng = random.Random(seed)
        self.rnd = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
        self.client_random = self.rnd(32)
        self.dcid0 = self.rnd(8)   # the client's first DCID: Initial keys
        self.ccid = self.rnd(5)    # the client's SCID
        self.scid = self.rnd(8)    # the server's SCID
        self.sport = 50000 + seed
        hl = SUITES[suite][2]().digest_size
        self.secrets = {k: self.rnd(hl) for k in ("CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                                                   "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                                   "CLIENT_TRAFFIC_SECRET_0",
                                                   "SERVER_TRAFFIC_SECRET_0")}
        self.keyed = keyed
        prefix = "quicv2 " if version == V2 else "quic "
        self.init = initial_keys(self.dcid0, version)
        s = self.secrets
        self.hs = (Keys(s["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], suite, prefix),
                   Keys(s["SERVER_HANDSHAKE_TRAFFIC_SECRET"], suite, prefix))
        self.app = [Keys(s["CLIENT_TRAFFIC_SECRET_0"], suite, prefix),
                    Keys(s["SERVER_TRAFFIC_SECRET_0"], suite, prefix)]
        self.phase = [0, 0]
        self.pn = {}
        self.server_seen = False
        self.migrated_cid = None

    def keylog(self):
        if not self.keyed:
            return ""
        r = self.client_random.hex()
        return "".join("%s %s %s\n" % (k, r, v.hex()) for k, v in self.secrets.items())

    def next_pn(self, space, d):
        n = self.pn.get((space, d), 0)
        self.pn[(space, d)] = n + 1
        return n

    def long_type(self, t):
        if self.version == V2:
            return {"initial": 1, "0rtt": 2, "handshake": 3, "retry": 0}[t]
        return {"initial": 0, "0rtt": 1, "handshake": 2, "retry": 3}[t]

    def long_packet(self, d, t, payload, pad_to=0):
        keys = (self.init if t == "initial" else self.hs)[d]
        pn = self.next_pn(t, d)
        dcid, scid = (self.dcid0, self.ccid) if d == 0 else (self.ccid, self.scid)
        if d == 0 and self.server_seen:
            dcid = self.scid  # after the server's first packet, its SCID (RFC 9000 7.2)
        if d == 1:
            self.server_seen = True
        pn_len = 2
        head = bytes([0xC0 | (self.long_type(t) << 4) | (pn_len - 1)]) + struct.pack("!I", self.version)
        head += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
        if t == "initial":
            head += vi(0)
        if pad_to:
            base = len(head) + 2 + pn_len + 16
            if base + len(payload) < pad_to:
                payload += bytes(pad_to - base - len(payload))
        if len(payload) < 4:
            payload += bytes(4 - len(payload))
        head += struct.pack("!H", 0x4000 | (pn_len + len(payload) + 16))
        return self.protect(keys, head, pn, pn_len, payload, True)

    def short_packet(self, d, payload):
        keys = self.app[d]
        pn = self.next_pn("app", d)
        dcid = self.scid if d == 0 else self.ccid
        if d == 0 and self.migrated_cid:
            dcid = self.migrated_cid
        pn_len = 2
        if len(payload) < 4:
            payload += bytes(4 - len(payload))
        head = bytes([0x40 | (self.phase[d] << 2) | (pn_len - 1)]) + dcid
        return self.protect(keys, head, pn, pn_len, payload, False)

    def protect(self, keys, head, pn, pn_len, payload, long_form):
        header = head + pn.to_bytes(pn_len, "big")
        ct = keys.seal(pn, header, payload)
        sample = ct[4 - pn_len:20 - pn_len]
        mask = keys.mask(sample)
        first = header[0] ^ (mask[0] & (0x0F if long_form else 0x1F))
        pn_off = len(head)
        pnb = bytes(header[pn_off + i] ^ mask[1 + i] for i in range(pn_len))
        return bytes([first]) + header[1:pn_off] + pnb + ct

    def key_update(self, d):
        self.app[d] = self.app[d].updated()
        self.phase[d] ^= 1

    def send(self, d, datagram):
        if hasattr(self.cap, "udp"):
            if d == 0:
                self.cap.udp(CLIENT, SERVER, self.sport, 443, datagram)
            else:
                self.cap.udp(SERVER, CLIENT, 443, self.sport, datagram)
            return
        if d == 0:
            pkt = ip(CLIENT, SERVER) / UDP(sport=self.sport, dport=443) / Raw(datagram)
        else:
            pkt = ip(SERVER, CLIENT) / UDP(sport=443, dport=self.sport) / Raw(datagram)
        self.cap.add(pkt, d == 0)


def crypto(off, data):
    return vi(6) + vi(off) + vi(len(data)) + data


def stream(sid, off, data, fin=False):
    return vi(0x08 | 0x04 | 0x02 | (1 if fin else 0)) + vi(sid) + vi(off) + vi(len(data)) + data


def ack(largest):
    return vi(2) + vi(largest) + vi(0) + vi(0) + vi(0)


def h3_frame(t, payload):
    return vi(t) + vi(len(payload)) + payload


def settings(cap):
    return h3_frame(0x04, vi(0x01) + vi(cap) + vi(0x07) + vi(16))


def quic_scenario(cap, suite, version, keyed=True, migrate=False):
    dns_exchange(cap, CLIENT, RESOLVER, HOST, [SERVER], sport=40100)
    c = QuicConn(cap, suite, version, keyed)
    hl = SUITES[suite][2]().digest_size
    tp = b"\x0f" + bytes([len(c.ccid)]) + c.ccid
    ch = client_hello(c.client_random, HOST, b"h3", tp)
    # the ClientHello in two Initials, the second sent first
    half = len(ch) // 2
    p2 = c.long_packet(0, "initial", crypto(half, ch[half:]), pad_to=1200)
    p1 = c.long_packet(0, "initial", crypto(0, ch[:half]), pad_to=1200)
    c.send(0, p2)
    c.send(0, p1)
    sh = server_hello(c.rnd(32), suite)
    stp = b"\x0f" + bytes([len(c.scid)]) + c.scid
    ee = encrypted_extensions(b"h3", stp) + finished(hl)
    # the server's Initial and Handshake coalesced in one datagram
    c.send(1, c.long_packet(1, "initial", ack(1) + crypto(0, sh)) + c.long_packet(1, "handshake", crypto(0, ee)))
    c.send(0, c.long_packet(0, "initial", ack(0)) + c.long_packet(0, "handshake", ack(0) + crypto(0, finished(hl))))
    c.send(1, c.short_packet(1, vi(0x1E)))  # HANDSHAKE_DONE
    # control and QPACK streams: each side allows a 4096-byte dynamic table
    c.send(0, c.short_packet(0, stream(2, 0, vi(0x00) + settings(4096)) + stream(10, 0, vi(0x03))))
    c.send(1, c.short_packet(1, stream(3, 0, vi(0x00) + settings(4096)) + stream(11, 0, vi(0x03))))
    reqs = requests()
    # request 0: static table and literals
    m, path, extra, body = reqs[0]
    c.send(0, c.short_packet(0, stream(0, 0, h3_frame(0x01, fields(m, path, extra)), fin=True)))
    c.send(1, c.short_packet(1, stream(0, 0, h3_frame(0x01, b"\x00\x00\xd9"), fin=True)))
    c.key_update(0)
    if migrate:
        # the server issues a second connection ID; the client moves to a new
        # port (a NAT rebinding) and uses it there, checking the path first
        new = c.rnd(8)
        c.send(1, c.short_packet(1, vi(0x18) + vi(1) + vi(0) + bytes([len(new)]) + new + c.rnd(16)))
        c.sport += 1000
        c.migrated_cid = new
        challenge = c.rnd(8)
        c.send(0, c.short_packet(0, vi(0x1A) + challenge))
        c.send(1, c.short_packet(1, vi(0x1B) + challenge + vi(0x1A) + challenge[::-1]))
        c.send(0, c.short_packet(0, vi(0x1B) + challenge[::-1]))
    # request 4: its header block needs dynamic entry 0, which the encoder stream inserts later
    m, path, extra, body = reqs[1]
    name, value = extra[0]
    blocked = b"\x02\x00" + b"\x80" + fields(m, path, [], prefix=False)
    c.send(0, c.short_packet(0, stream(4, 0, h3_frame(0x01, blocked), fin=True)))
    enc = vi(0x02) + prefix_int(4096, 5, 0x20) + prefix_int(len(name), 5, 0x40) + name + prefix_int(len(value), 7) + value
    c.send(0, c.short_packet(0, stream(6, 0, enc)))
    c.send(1, c.short_packet(1, stream(4, 0, h3_frame(0x01, b"\x00\x00\xd9"), fin=True)))
    # request 8: a POST whose body arrives in three STREAM frames, out of order
    m, path, extra, body = reqs[2]
    data = h3_frame(0x01, fields(m, path, extra)) + h3_frame(0x00, body)
    a, b = len(data) // 3, 2 * len(data) // 3
    c.send(0, c.short_packet(0, stream(8, b, data[b:], fin=True)))
    c.send(0, c.short_packet(0, stream(8, 0, data[:a])))
    c.send(0, c.short_packet(0, stream(8, a, data[a:b])))
    c.send(1, c.short_packet(1, stream(8, 0, h3_frame(0x01, b"\x00\x00\xd9"), fin=True)))
    c.send(0, c.short_packet(0, vi(0x1C) + vi(0) + vi(0) + vi(0)))  # CONNECTION_CLOSE
    return c.keylog()


class RawPcap:
    """A pcap of Ethernet/IPv4/UDP frames written without scapy, for the
    flood, whose tens of thousands of packets scapy would take minutes on."""

    def __init__(self, path, t0=1795860000.0):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.t = t0

    def udp(self, src, dst, sport, dport, payload):
        self.t += 0.0001
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        ip_h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                           bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
        cs = sum(struct.unpack("!10H", ip_h))
        cs = (cs & 0xFFFF) + (cs >> 16)
        cs = ~((cs & 0xFFFF) + (cs >> 16)) & 0xFFFF
        ip_h = ip_h[:10] + struct.pack("!H", cs) + ip_h[12:]
        out = src == CLIENT
        macs = bytes.fromhex("020000000001020000000017") if out else bytes.fromhex("020000000017020000000001")
        frame = macs + b"\x08\x00" + ip_h + udp
        sec = int(self.t)
        self.f.write(struct.pack("<IIII", sec, int((self.t - sec) * 1e6), len(frame), len(frame)) + frame)

    def close(self):
        self.f.close()


def flood(path, conns=4, streams=40, per_stream=200):
    """Connections whose client sends only STREAM pieces after a hole (never
    offset 0), streams x per_stream pieces of 1000 bytes each: far more than
    flowaudit holds for a connection. Returns the key log."""
    cap = RawPcap(path)
    keys = ""
    chunk = bytes(1000)
    for n in range(conns):
        c = QuicConn(cap, 0x1301, V1, seed=100 + n)
        hl = 32
        ch = client_hello(c.client_random, HOST, b"h3")
        c.send(0, c.long_packet(0, "initial", crypto(0, ch), pad_to=1200))
        c.send(1, c.long_packet(1, "initial", crypto(0, server_hello(c.rnd(32), 0x1301))))
        c.send(1, c.long_packet(1, "handshake", crypto(0, encrypted_extensions(b"h3") + finished(hl))))
        for k in range(streams * per_stream):
            sid = 4 * (k // per_stream)
            off = 1000 * (1 + k % per_stream)
            c.send(0, c.short_packet(0, stream(sid, off, chunk)))
        keys += c.keylog()
    cap.close()
    return keys


def fields(method, path, extra, prefix=True):
    out = b"\x00\x00" if prefix else b""
    out += bytes([0xC0 | {"GET": 17, "POST": 20}[method]])  # :method, static
    out += b"\xd7"                                           # :scheme https, static 23
    out += qpack_name_ref(0, HOST.encode())                  # :authority
    out += qpack_name_ref(1, path.encode())                  # :path
    out += qpack_literal(b"user-agent", b"quiccap/1 h3")
    for n, v in extra:
        out += qpack_literal(n, v)
    return out


# ---- TLS 1.3 over TCP: the same requests over HTTP/1.1 and HTTP/2 ----

class TlsConn:
    def __init__(self, suite=0x1301, seed=7):
        rng = random.Random(seed)
        self.rnd = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
        self.client_random = self.rnd(32)
        hl = SUITES[suite][2]().digest_size
        self.suite = suite
        self.secrets = {k: self.rnd(hl) for k in ("CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                                                   "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                                   "CLIENT_TRAFFIC_SECRET_0",
                                                   "SERVER_TRAFFIC_SECRET_0")}
        s = self.secrets
        self.keys = {"hs": [Keys(s["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], suite, ""),
                            Keys(s["SERVER_HANDSHAKE_TRAFFIC_SECRET"], suite, "")],
                     "app": [Keys(s["CLIENT_TRAFFIC_SECRET_0"], suite, ""),
                             Keys(s["SERVER_TRAFFIC_SECRET_0"], suite, "")]}
        self.seq = {}

    def keylog(self):
        r = self.client_random.hex()
        return "".join("%s %s %s\n" % (k, r, v.hex()) for k, v in self.secrets.items())

    def record(self, d, epoch, ctype, data):
        k = self.keys[epoch][d]
        n = self.seq.get((epoch, d), 0)
        self.seq[(epoch, d)] = n + 1
        inner = data + bytes([ctype])
        head = b"\x17\x03\x03" + struct.pack("!H", len(inner) + 16)
        return head + k.seal(n, head, inner)


def tls_scenario(cap, http2):
    dns_exchange(cap, CLIENT, RESOLVER, HOST, [SERVER], sport=40101)
    t = TlsConn()
    hl = SUITES[t.suite][2]().digest_size
    alpn = b"h2" if http2 else b"http/1.1"
    ch = client_hello(t.client_random, HOST, alpn)
    c_data = [b"\x16\x03\x01" + struct.pack("!H", len(ch)) + ch]
    sh = server_hello(t.rnd(32), t.suite)
    s_data = [b"\x16\x03\x03" + struct.pack("!H", len(sh)) + sh + b"\x14\x03\x03\x00\x01\x01"
              + t.record(1, "hs", 22, encrypted_extensions(alpn) + finished(hl))]
    c_data.append(b"\x14\x03\x03\x00\x01\x01" + t.record(0, "hs", 22, finished(hl)))
    if http2:
        c_data.append(t.record(0, "app", 23, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"")))
        s_data.append(t.record(1, "app", 23, h2_frame(4, 0, 0, b"") + h2_frame(4, 1, 0, b"")))
    sid = 1
    for m, path, extra, body in requests():
        if http2:
            block = hpack(m, path, extra)
            flags = 0x04 | (0 if body else 0x01)
            msg = h2_frame(1, flags, sid, block)
            if body:
                msg += h2_frame(0, 0x01, sid, body)
            sid += 2
        else:
            lines = ["%s %s HTTP/1.1" % (m, path), "Host: " + HOST, "User-Agent: quiccap/1 h1"]
            lines += ["%s: %s" % (n.decode(), v.decode()) for n, v in extra]
            if body:
                lines.append("Content-Length: %d" % len(body))
            msg = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        c_data.append(t.record(0, "app", 23, msg))
    tcp_exchange(cap, c_data, s_data)
    return t.keylog()


def tcp_exchange(cap, c_data, s_data, sport=50443):
    isn_c, isn_s = 1000, 5000
    cap.add(ip(CLIENT, SERVER) / TCP(sport=sport, dport=443, flags="S", seq=isn_c), True)
    cap.add(ip(SERVER, CLIENT) / TCP(sport=443, dport=sport, flags="SA", seq=isn_s, ack=isn_c + 1), False)
    sc, ss = isn_c + 1, isn_s + 1
    cap.add(ip(CLIENT, SERVER) / TCP(sport=sport, dport=443, flags="A", seq=sc, ack=ss), True)
    # the client's hello, the server's flight, then the client's records one segment each
    order = [("c", c_data[0]), ("s", s_data[0])] + [("c", d) for d in c_data[1:]] + [("s", d) for d in s_data[1:]]
    for who, d in order:
        for i in range(0, len(d), 1400):
            seg = d[i:i + 1400]
            if who == "c":
                cap.add(ip(CLIENT, SERVER) / TCP(sport=sport, dport=443, flags="PA", seq=sc, ack=ss) / Raw(seg), True)
                sc += len(seg)
            else:
                cap.add(ip(SERVER, CLIENT) / TCP(sport=443, dport=sport, flags="PA", seq=ss, ack=sc) / Raw(seg), False)
                ss += len(seg)
    cap.add(ip(CLIENT, SERVER) / TCP(sport=sport, dport=443, flags="FA", seq=sc, ack=ss), True)
    cap.add(ip(SERVER, CLIENT) / TCP(sport=443, dport=sport, flags="FA", seq=ss, ack=sc + 1), False)
    cap.add(ip(CLIENT, SERVER) / TCP(sport=sport, dport=443, flags="A", seq=sc + 1, ack=ss + 1), True)


def h2_frame(t, flags, sid, payload):
    return struct.pack("!I", len(payload))[1:] + bytes([t, flags]) + struct.pack("!I", sid) + payload


def hpack(method, path, extra):
    """Literal header fields without indexing, new names (RFC 7541 6.2.2)."""
    def lit(n, v):
        return b"\x00" + prefix_int(len(n), 7) + n + prefix_int(len(v), 7) + v
    out = lit(b":method", method.encode()) + lit(b":scheme", b"https")
    out += lit(b":authority", HOST.encode()) + lit(b":path", path.encode())
    out += lit(b"user-agent", b"quiccap/1 h2")
    for n, v in extra:
        out += lit(n, v)
    return out


SCENARIOS = {
    "h3-aes128": lambda cap: quic_scenario(cap, 0x1301, V1),
    "h3-aes256": lambda cap: quic_scenario(cap, 0x1302, V1),
    "h3-chacha": lambda cap: quic_scenario(cap, 0x1303, V1),
    "h3-v2": lambda cap: quic_scenario(cap, 0x1301, V2),
    "h3-nokey": lambda cap: quic_scenario(cap, 0x1301, V1, keyed=False),
    "h3-migrate": lambda cap: quic_scenario(cap, 0x1301, V1, migrate=True),
    "tls-h1": lambda cap: tls_scenario(cap, False),
    "tls-h2": lambda cap: tls_scenario(cap, True),
}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(list(SCENARIOS) + ["h3-flood"]))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "h3-flood":
        keys = flood(sys.argv[2])
        with open(sys.argv[3], "w") as f:
            f.write(keys)
        return 0
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        sys.stderr.write("usage: quiccap.py SCENARIO OUT.pcap OUT.keys | --list\n")
        return 2
    cap = Capture()
    keys = SCENARIOS[sys.argv[1]](cap)
    cap.write(sys.argv[2])
    with open(sys.argv[3], "w") as f:
        f.write(keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
