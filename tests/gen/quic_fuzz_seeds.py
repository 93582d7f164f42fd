#!/usr/bin/python3
"""Seeds for tests/fuzz/fuzz_quic_frames.c and fuzz_http3.c, in their
record formats (see each target's opening comment), written to
tests/fuzz/seeds/fuzz_quic_frames/ and tests/fuzz/seeds/fuzz_http3/:
STREAM frames out of order with a FIN, CRYPTO frames carrying the start of
a ClientHello and a ServerHello, ACKs with ranges and the other frame
types; SETTINGS, a QPACK encoder stream, requests with static, literal and
dynamic field lines, DATA."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quiccap import (client_hello, h3_frame, prefix_int, qpack_literal, qpack_name_ref,  # noqa: E402
                     server_hello, settings, vi)

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def rec_q(kind, d, data):
    out = b""
    for i in range(0, len(data), 255):
        piece = data[i:i + 255]
        out += bytes([(0x80 if d else 0) | kind, len(piece)]) + piece
    return out


def stream(sid, off, data, fin=False):
    return vi(0x0E | (1 if fin else 0)) + vi(sid) + vi(off) + vi(len(data)) + data


def quic_seeds():
    msg = bytes(range(200))
    s1 = rec_q(1, 0, stream(0, 100, msg[100:], True)) + rec_q(1, 0, stream(0, 0, msg[:120]))
    s1 += rec_q(1, 1, vi(2) + vi(9) + vi(0) + vi(1) + vi(2) + vi(1) + vi(3) + vi(0x1E))
    ch = client_hello(bytes(32), "a.example", b"h3")
    sh = server_hello(bytes(32), 0x1301)
    s2 = rec_q(2, 0, vi(6) + vi(0) + vi(len(ch)) + ch) + rec_q(2, 1, vi(6) + vi(0) + vi(len(sh)) + sh)
    s3 = rec_q(1, 0, vi(0x18) + vi(1) + vi(0) + bytes([4]) + b"abcd" + bytes(16) + vi(0x1A) + bytes(8)
               + vi(0x04) + vi(0) + vi(1) + vi(9) + vi(0x31) + vi(3) + b"dgm" + vi(0x1C) + vi(1) + vi(6) + vi(2) + b"no")
    return {"streams": s1, "hellos": s2, "frames": s3}


def rec_h(d, sid, data, fin=False):
    sel = (sid // 4) & 0x1F | ((sid & 3) << 5)
    out = b""
    for i in range(0, len(data), 255):
        piece = data[i:i + 255]
        last = i + 255 >= len(data)
        out += bytes([(0x80 if d else 0) | (0x40 if fin and last else 0), sel, len(piece)]) + piece
    return out


def h3_seeds():
    ctl = rec_h(0, 2, vi(0) + settings(4096)) + rec_h(1, 3, vi(0) + settings(4096))
    enc = rec_h(0, 6, vi(2) + prefix_int(4096, 5, 0x20) + prefix_int(3, 5, 0x40) + b"x-a" + prefix_int(2, 7) + b"v1")
    block = b"\x00\x00\xd1\xd7" + qpack_name_ref(0, b"h.example") + qpack_name_ref(1, b"/p?imei=1") + qpack_literal(b"user-agent", b"ua")
    dyn = b"\x02\x00\x80\xd1" + qpack_name_ref(1, b"/d")
    req = rec_h(0, 0, h3_frame(1, block) + h3_frame(0, b"body"), True)
    return {"static": ctl + req, "dynamic": ctl + rec_h(0, 4, h3_frame(1, dyn), True) + enc,
            "response": ctl + req + rec_h(1, 0, h3_frame(1, b"\x00\x00\xd9") + h3_frame(0, b"ok"), True)}


def main():
    for target, seeds in (("fuzz_quic_frames", quic_seeds()), ("fuzz_http3", h3_seeds())):
        d = os.path.join(TOP, "tests", "fuzz", "seeds", target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
