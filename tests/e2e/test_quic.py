#!/usr/bin/python3
"""QUIC names and the ECH flag, on captures built here and on the corpus.

Built here (no corpus needed): a QUIC v1 connection whose ClientHello is
spread over three Initial packets in three datagrams, its CRYPTO frames
out of order, protected by an implementation independent of flowaudit's
(Python's cryptography package, RFC 9001 5); and TLS over TCP with and
without an encrypted_client_hello extension. tshark, when installed,
confirms the QUIC capture's name.

On the corpus: for each capture the MANIFEST lists with SNI(quic)>0, tshark 4.0 names each
UDP conversation from its Initial packets (it decrypts them and puts split
ClientHellos back together); `flowaudit flows --json` must give every one
of those conversations the same name, learned from QUIC (name_source
quic_sni, from flowaudit's own Initial decryption or nDPI's) or TLS. The
same capture with --threads 2 must give the same flows, byte for byte.
gQUIC captures whose hello is not TLS give tshark no server name and so
are not compared.

Without ../shared/corpus (a user's clone) every test is skipped with a
message.

Usage: test_quic.py BUILD/flowaudit (with /usr/bin/python3: scapy, cryptography)
Last line: "quic: N passed, N failed, N skipped".
"""
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.environ.get("FLOWAUDIT_CORPUS", os.path.join(os.path.dirname(TOP), "shared", "corpus"))
sys.path.insert(0, os.path.join(TOP, "tests", "gen"))

LONG_SNI = ("an-uncommonly-long-label-for-a-content-delivery-edge-node-0042."
            "europe-west.video.example.com")  # 93 characters: nDPI keeps 79


# ---- a QUIC v1 client Initial, built without flowaudit's code (RFC 9001) ----

SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")


def expand_label(secret, label, length):
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def client_initial_keys(dcid):
    initial = hmac.new(SALT_V1, dcid, hashlib.sha256).digest()
    client = expand_label(initial, b"client in", 32)
    return (expand_label(client, b"quic key", 16), expand_label(client, b"quic iv", 12),
            expand_label(client, b"quic hp", 16))


def quic_initial(dcid, pn, frames, pad_to=1162):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key, iv, hp = client_initial_keys(dcid)
    payload = frames + bytes(max(0, pad_to - len(frames)))
    header = bytearray(b"\xc1" + struct.pack("!I", 1) + bytes([len(dcid)]) + dcid + b"\x00\x00"
                       + struct.pack("!H", 0x4000 | (2 + len(payload) + 16)) + struct.pack("!H", pn))
    nonce = bytes(a ^ b for a, b in zip(iv, bytes(4) + struct.pack("!Q", pn)))
    ct = AESGCM(key).encrypt(nonce, payload, bytes(header))
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(ct[2:18]) + enc.finalize()
    header[0] ^= mask[0] & 0x0F
    header[-2] ^= mask[1]
    header[-1] ^= mask[2]
    return bytes(header) + ct


def tls_hello_message(sni, alpn=b"h3", ech=False):
    """A ClientHello handshake message (no record layer)."""
    host = sni.encode()
    exts = struct.pack("!HHHBH", 0, len(host) + 5, len(host) + 3, 0, len(host)) + host
    exts += struct.pack("!HHHB", 16, len(alpn) + 3, len(alpn) + 1, len(alpn)) + alpn
    if ech:
        body = b"\x00" + struct.pack("!HH", 1, 1) + b"\x07" + struct.pack("!H", 32) + bytes(32) \
            + struct.pack("!H", 64) + bytes(range(64))
        exts += struct.pack("!HH", 0xFE0D, len(body)) + body
    exts += struct.pack("!HH", 21, 600) + bytes(600)  # padding: a hello of about 900 bytes
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 2) + b"\x13\x01"
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    return b"\x01" + struct.pack("!I", len(body))[1:] + body


def crypto_frame(hello, lo, hi):
    return b"\x06" + struct.pack("!HH", 0x4000 | lo, 0x4000 | (hi - lo)) + hello[lo:hi]


def quic_capture(path):
    """Three client datagrams: the hello's last third (with a PING), its middle
    (after an ACK), then its first third; a server datagram in between."""
    import capgen
    from scapy.all import UDP, Raw
    cap = capgen.Capture()
    dcid = bytes.fromhex("c0ffee0123456789")
    hello = tls_hello_message(LONG_SNI, ech=True)
    a, b = len(hello) // 3, 2 * len(hello) // 3
    cli, srv = "192.168.1.23", "203.0.113.80"
    dgrams = [quic_initial(dcid, 0, b"\x01" + crypto_frame(hello, b, len(hello))),
              quic_initial(dcid, 1, b"\x02\x00\x00\x00\x00" + crypto_frame(hello, a - 40, b)),
              quic_initial(dcid, 2, crypto_frame(hello, 0, a))]
    for i, d in enumerate(dgrams):
        cap.add(capgen.ip(cli, srv) / UDP(sport=51000, dport=443) / Raw(d), True)
        if i == 0:
            cap.add(capgen.ip(srv, cli) / UDP(sport=443, dport=51000) / Raw(b"\xc0" + bytes(60)), False)
    cap.write(path)
    return 4  # the frame that completes the hello


def ech_capture(path):
    """Two TLS connections: one ClientHello with encrypted_client_hello, one without."""
    import capgen
    cap = capgen.Capture()
    for sport, ech in ((40001, True), (40002, False)):
        hs = tls_hello_message("public.example.net", alpn=b"h2", ech=ech)
        rec = b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs
        capgen.tcp_session(cap, "192.168.1.23", "198.51.100.7", sport, 443, [rec],
                           [capgen.server_hello()])
    cap.write(path)


def generated_tests(binary, work):
    """[(name, problem or None)] for the captures built here."""
    results = []
    path = os.path.join(work, "quic-split-hello.pcap")
    want_frame = quic_capture(path)
    problems = []
    flows = json.loads(flowaudit_flows(binary, path))
    udp = [f for f in flows if f["transport"] == "udp"]
    if len(udp) != 1:
        problems.append("%d UDP flows, expected 1" % len(udp))
    else:
        f = udp[0]
        for key, want in (("name", LONG_SNI), ("name_source", "quic_sni"),
                          ("name_frame", want_frame), ("alpn", "h3"), ("ech", True)):
            if f.get(key) != want:
                problems.append("%s %r, expected %r" % (key, f.get(key), want))
    if shutil.which("tshark"):
        p = subprocess.run(["tshark", "-r", path, "-Y", "tls.handshake.extensions_server_name",
                            "-T", "fields", "-e", "frame.number",
                            "-e", "tls.handshake.extensions_server_name"],
                           capture_output=True, text=True, timeout=120)
        if p.stdout.split() != [str(want_frame), LONG_SNI]:
            problems.append("tshark reads %r" % p.stdout.split())
    results.append(("generated QUIC hello over three out-of-order Initials",
                    "; ".join(problems) or None))

    path = os.path.join(work, "tls-ech.pcap")
    ech_capture(path)
    problems = []
    flows = json.loads(flowaudit_flows(binary, path))
    got = sorted((f["client_port"], f["name"], f["name_source"], f.get("ech")) for f in flows)
    want = [(40001, "public.example.net", "sni", True), (40002, "public.example.net", "sni", False)]
    if got != want:
        problems.append("flows %r, expected %r" % (got, want))
    p = subprocess.run([binary, "flows", "-r", path, "--no-geo"], capture_output=True, text=True,
                       timeout=120)
    rows = [l.split() for l in p.stdout.splitlines() if l.split()[:2] in (["1", "tcp"], ["2", "tcp"])]
    if sorted(r[6] for r in rows) != ["sni", "sni+ech"]:
        problems.append("table sources %r" % [r[6] for r in rows])
    results.append(("TLS ClientHello with and without ECH", "; ".join(problems) or None))
    return results


def quic_captures():
    out = []
    with open(os.path.join(CORPUS, "MANIFEST.tsv"), encoding="utf-8", errors="replace") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 8 or cols[0] == "path":
                continue
            for word in cols[7].replace(";", " ").split():
                if word.startswith("SNI(quic)=") and word[len("SNI(quic)="):] not in ("", "0"):
                    out.append(cols[0])
    return out


def last(field):
    """The innermost value of a field tshark repeats for tunnels."""
    return field.split(",")[-1] if field else ""


def tshark_names(path):
    """{(endpoint, endpoint): set of SNIs} for every UDP conversation tshark names."""
    p = subprocess.run(["tshark", "-r", path, "-Y", "quic and tls.handshake.extensions_server_name",
                        "-T", "fields", "-E", "separator=\t",
                        "-e", "udp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport",
                        "-e", "ip.dst", "-e", "ipv6.dst", "-e", "udp.dstport",
                        "-e", "tls.handshake.extensions_server_name"],
                       capture_output=True, text=True, timeout=600)
    conns = {}
    for line in p.stdout.splitlines():
        stream, s4, s6, sp, d4, d6, dp, sni = (line.split("\t") + [""] * 8)[:8]
        src = (last(s6) or last(s4), int(last(sp) or 0))
        dst = (last(d6) or last(d4), int(last(dp) or 0))
        names = {n.strip().lower().rstrip(".") for n in sni.split(",") if n.strip()}
        if names:
            conns.setdefault((stream, frozenset((src, dst))), set()).update(names)
    return conns


def flowaudit_flows(binary, path, *extra):
    p = subprocess.run([binary, "flows", "-r", path, "--json", "--no-geo", "--quiet"] + list(extra),
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError("flowaudit exit %d on %s: %s" % (p.returncode, path, p.stderr[-500:]))
    return p.stdout


def main():
    if len(sys.argv) < 2:
        print("usage: test_quic.py BUILD/flowaudit", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    passed = failed = skipped = 0
    work = tempfile.mkdtemp(prefix="flowaudit-quic-")
    try:
        for name, problem in generated_tests(binary, work):
            if problem:
                failed += 1
                print("FAIL %s: %s" % (name, problem))
            else:
                passed += 1
                print("ok   %s" % name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not os.path.isfile(os.path.join(CORPUS, "MANIFEST.tsv")):
        print("quic: corpus tests skipped: no corpus at %s (it is not part of a clone)" % CORPUS)
        print("quic: %d passed, %d failed, 1 skipped" % (passed, failed))
        return 1 if failed else 0
    if shutil.which("tshark") is None:
        print("quic: corpus tests skipped: tshark is not installed")
        print("quic: %d passed, %d failed, 1 skipped" % (passed, failed))
        return 1 if failed else 0
    total = both = mismatched = unnamed = 0
    by_own = 0
    for rel in quic_captures():
        path = os.path.join(CORPUS, rel)
        if not os.path.isfile(path):
            skipped += 1
            print("skip %s: missing" % rel)
            continue
        try:
            one = flowaudit_flows(binary, path)
            two = flowaudit_flows(binary, path, "--threads", "2")
        except AssertionError as e:
            failed += 1
            print("FAIL %s: %s" % (rel, e))
            continue
        flows = json.loads(one)
        ref = tshark_names(path)
        problems = []
        for (stream, ends), names in sorted(ref.items(), key=lambda kv: int(kv[0][0] or 0)):
            total += 1
            cands = [f for f in flows if f["transport"] == "udp" and
                     frozenset(((f["client_ip"], f["client_port"]),
                                (f["server_ip"], f["server_port"]))) == ends]
            got = [f for f in cands if f["name"] in names and
                   f["name_source"] in ("quic_sni", "sni")]
            if got:
                both += 1
                continue
            named = [f["name"] for f in cands if f["name"]]
            if named:
                mismatched += 1
                problems.append("udp.stream %s: tshark %s, flowaudit %s" %
                                (stream, sorted(names), named))
            else:
                unnamed += 1
                problems.append("udp.stream %s: tshark %s, flowaudit no name" %
                                (stream, sorted(names)))
        by_own += sum(1 for f in flows if f["name_source"] == "quic_sni")
        if one != two:
            problems.append("--threads 2 gives different flows")
        if problems:
            failed += 1
            print("FAIL %s: %s" % (rel, "; ".join(problems)))
        else:
            passed += 1
            print("ok   %s (%d named)" % (rel, len(ref)))
    print("quic: %d connections tshark names, %d named alike by flowaudit, %d named otherwise, "
          "%d not named; %d flows with name_source quic_sni" % (total, both, mismatched, unnamed, by_own))
    print("quic: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
