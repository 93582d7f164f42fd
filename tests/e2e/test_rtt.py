#!/usr/bin/python3
"""Round-trip times and the location check of cross-border findings.

Captures built here with chosen delays (scapy, through tests/gen/capgen.py)
and a country database built here (scripts/mkmmdb.pl): 142.250.0.0/15 is
registered in US, 47.92.0.0/14 in CN. The policy (tests/e2e/fixtures)
stores data in CN only and allows transfers abroad with consent, of which
there is none: every flow to 142.250.1.10 is a cross-border finding.

- a TLS handshake answered in 3 ms, seen from a CN vantage point: the US
  is at least 2,600 km from China, the bound is 300 km, so the check
  contradicts; the finding drops to low and the cross_border statement is
  kept. The same at 180 ms: supports, high, broken. The vantage given as
  a point (Beijing) and in the device profile; a bad one is refused.
- no vantage point: cannot_judge, the bound still in km, a note says so;
- a capture that starts mid-stream: no RTT anywhere, cannot_judge;
- retransmitted SYNs: the SYN the SYN-ACK answers, by timestamp echo
  (the first of two) or, without timestamps, the latest;
- DNS query to response, QUIC Initial to the server's first packet;
- rtt_ms against tshark's tcp.analysis.initial_rtt on the captures built
  here, and on the phone captures of ../shared/corpus/mobile (skipped when
  absent), where at least 99% of the streams both time must agree to the
  microsecond. FLOWAUDIT_RTT_CORPUS=all compares every capture of the
  corpus instead (about half an hour: tshark reads each one);
  docs/architecture.md has the last full numbers and why the few
  streams differ.

Usage: test_rtt.py BUILD/flowaudit [FILTER]
Last line: "rtt: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "gen"))
sys.path.insert(0, HERE)

import rtt_tshark  # noqa: E402

POLICY = os.path.join(HERE, "fixtures", "policy.json")
DEV, US_SRV, RESOLVER = "192.168.1.23", "142.250.1.10", "8.8.8.8"
BIN = WORK = GEO = None


class Skip(Exception):
    pass


# ---- captures ----

def capture():
    import capgen
    return capgen, capgen.Capture()


def at(cap, pkt, out, t):
    """pkt at time t (seconds after the capture's start)."""
    cap.add(pkt, out)
    cap.frames[-1].time = T0 + t
    cap.t = T0 + t


T0 = 1795860000.0


def tls_connection(cap, capgen, t, delay, sport=40000, srv=US_SRV, syns=(0.0,), ts=None):
    """SYNs at t + each of syns, the SYN-ACK delay after the last (ts: the
    TSval of each SYN and the TSecr of the SYN-ACK), the ACK, a ClientHello."""
    from scapy.all import TCP, Raw
    last = t + syns[-1]
    for i, s in enumerate(syns):
        opts = [("Timestamp", (ts[0][i], 0))] if ts else []
        at(cap, capgen.ip(DEV, srv) / TCP(sport=sport, dport=443, flags="S", seq=1000, options=opts),
           True, t + s)
    opts = [("Timestamp", (77, ts[1]))] if ts else []
    at(cap, capgen.ip(srv, DEV) / TCP(sport=443, dport=sport, flags="SA", seq=5000, ack=1001,
                                      options=opts), False, last + delay)
    at(cap, capgen.ip(DEV, srv) / TCP(sport=sport, dport=443, flags="A", seq=1001, ack=5001),
       True, last + delay + 0.0002)
    hello = capgen.client_hello("ads.example.com")
    at(cap, capgen.ip(DEV, srv) / TCP(sport=sport, dport=443, flags="PA", seq=1001, ack=5001)
       / Raw(hello), True, last + delay + 0.0003)


def handshake_capture(name, delay, **kw):
    capgen, cap = capture()
    tls_connection(cap, capgen, 0.0, delay, **kw)
    path = os.path.join(WORK, name)
    cap.write(path)
    return path


def mid_stream_capture():
    """A TLS connection whose handshake happened before the capture began."""
    from scapy.all import TCP, Raw
    capgen, cap = capture()
    hello = capgen.client_hello("ads.example.com")
    at(cap, capgen.ip(DEV, US_SRV) / TCP(sport=40000, dport=443, flags="PA", seq=1001, ack=5001)
       / Raw(hello), True, 0.0)
    at(cap, capgen.ip(US_SRV, DEV) / TCP(sport=443, dport=40000, flags="A", seq=5001,
                                         ack=1001 + len(hello)), False, 0.003)
    at(cap, capgen.ip(DEV, US_SRV) / TCP(sport=40000, dport=443, flags="A", seq=1001 + len(hello),
                                         ack=5001), True, 0.0031)
    path = os.path.join(WORK, "mid-stream.pcap")
    cap.write(path)
    return path


def dns_quic_capture():
    """A DNS query answered in 25 ms, then a QUIC Initial answered in 40 ms."""
    from scapy.all import DNS, DNSQR, DNSRR, UDP, Raw
    capgen, cap = capture()
    q = DNS(id=0x4242, rd=1, qd=DNSQR(qname="ads.example.com"))
    at(cap, capgen.ip(DEV, RESOLVER) / UDP(sport=53000, dport=53) / q, True, 0.0)
    a = DNS(id=0x4242, qr=1, rd=1, ra=1, qd=DNSQR(qname="ads.example.com"),
            an=DNSRR(rrname="ads.example.com", rdata=US_SRV), ancount=1)
    at(cap, capgen.ip(RESOLVER, DEV) / UDP(sport=53, dport=53000) / a, False, 0.025)
    initial = b"\xc3\x00\x00\x00\x01\x08" + bytes(range(8)) + b"\x00" + bytes(1200)
    at(cap, capgen.ip(DEV, US_SRV) / UDP(sport=53001, dport=443) / Raw(initial), True, 0.1)
    server = b"\xc1\x00\x00\x00\x01\x00\x08" + bytes(range(8)) + bytes(100)
    at(cap, capgen.ip(US_SRV, DEV) / UDP(sport=443, dport=53001) / Raw(server), False, 0.14)
    path = os.path.join(WORK, "dns-quic.pcap")
    cap.write(path)
    return path


# ---- running flowaudit ----

def flows(path):
    p = subprocess.run([BIN, "flows", "-r", path, "--json", "-g", GEO, "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def audit(path, name, *extra, want_rc=1):
    out = os.path.join(WORK, name)
    p = subprocess.run([BIN, "audit", "-r", path, "-p", POLICY, "-g", GEO, "-o", out, "--quiet"]
                       + list(extra), capture_output=True, text=True, timeout=120)
    assert p.returncode == want_rc, (p.returncode, p.stderr)
    with open(os.path.join(out, "report.json")) as f:
        doc = json.load(f)
    return doc, out


def cross_border(doc, address=US_SRV):
    xb = [f for f in doc["findings"] if f["rule"] == "cross-border-without-consent"
          and address in f["addresses"]]
    assert len(xb) == 1, [(f["rule"], f["addresses"]) for f in doc["findings"]]
    return xb[0]


def statement(doc, sid):
    return [s for s in doc["statements"] if s["id"] == sid][0]


def ndjson_line(out, fid):
    with open(os.path.join(out, "findings.ndjson")) as f:
        for line in f:
            o = json.loads(line)
            if o["id"] == fid:
                return o
    raise AssertionError("finding %s not in findings.ndjson" % fid)


# ---- tests ----

def test_contradicts_at_3ms_from_cn():
    path = handshake_capture("h3.pcap", 0.003)
    fl = [f for f in flows(path) if f["transport"] == "tcp"][0]
    assert fl["server_rtt_ms"] == 3.0 and fl["rtt_ms"] == 3.2, fl
    assert fl["rtt_frames"] == {"measured": "tcp_handshake", "request": 1, "answer": 2, "syn": 1,
                                "ack": 3}, fl["rtt_frames"]
    doc, out = audit(path, "r3", "--vantage", "CN")
    f = cross_border(doc)
    loc = f["location"]
    assert f["location_check"] == "contradicts", f
    assert f["severity"] == "low", f["severity"]
    assert "ads.example.com in US" not in f["title"] and "registered in US" in f["title"], f["title"]
    assert loc["rtt_ms"] == 3.0 and loc["frames"] == [1, 2] and loc["bound_km"] == 300, loc
    assert loc["measured"] == "tcp_handshake" and loc["address"] == US_SRV, loc
    assert 2600 < loc["distance_km"] < 2750, loc
    assert loc["vantage"] == "CN" and doc["inputs"]["vantage"] == "CN"
    assert statement(doc, "cross_border")["verdict"] == "kept"
    assert doc["summary"]["findings_by_severity"]["high"] == 0, doc["summary"]
    line = ndjson_line(out, f["id"])
    assert line["location_check"] == "contradicts" and line["location"] == loc
    with open(os.path.join(out, "report.html"), encoding="utf-8") as h:
        html = h.read()
    assert "Where the server is" in html and "contradicts" in html
    assert "does not break statement" in html


def test_supports_at_180ms_from_cn():
    path = handshake_capture("h180.pcap", 0.180)
    doc, out = audit(path, "r180", "--vantage", "cn")
    f = cross_border(doc)
    assert f["location_check"] == "supports", f
    assert f["severity"] == "high"
    assert f["location"]["bound_km"] == 18000 and f["location"]["rtt_ms"] == 180.0
    assert "consistent" in f["location"]["reasoning"]
    assert statement(doc, "cross_border")["verdict"] == "broken"


def test_vantage_point_and_device_profile():
    path = handshake_capture("h3b.pcap", 0.003)
    doc, _ = audit(path, "rpoint", "--vantage", "39.9042,116.4074")  # Beijing
    f = cross_border(doc)
    assert f["location_check"] == "contradicts" and f["location"]["vantage"] == "39.9042,116.4074"
    assert 4300 < f["location"]["distance_km"] < 4500, f["location"]  # to Attu Island
    prof = os.path.join(WORK, "device-vantage.json")
    with open(prof, "w") as fh:
        json.dump({"imei": "490154203237518", "vantage": "CN"}, fh)
    doc, _ = audit(path, "rprofile", "-d", prof)
    assert cross_border(doc)["location_check"] == "contradicts"
    assert doc["inputs"]["vantage"] == "CN"
    # the option wins over the profile: from Washington, the US is where the server may be
    doc, _ = audit(path, "rboth", "-d", prof, "--vantage", "38.9,-77.03")
    assert cross_border(doc)["location_check"] == "supports"
    for bad in ("ZZ", "91,0", "Beijing"):
        p = subprocess.run([BIN, "audit", "-r", path, "-p", POLICY, "-g", GEO, "--vantage", bad,
                            "-o", os.path.join(WORK, "rbad")], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2 and "--vantage" in p.stderr and bad in p.stderr, (bad, p.stderr)
    with open(prof, "w") as fh:
        json.dump({"imei": "490154203237518", "vantage": "48.8,200"}, fh)
    p = subprocess.run([BIN, "audit", "-r", path, "-p", POLICY, "-g", GEO, "-d", prof,
                        "-o", os.path.join(WORK, "rbad2")], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "vantage" in p.stderr and prof in p.stderr, p.stderr


def test_no_vantage_cannot_judge():
    path = handshake_capture("h3c.pcap", 0.003)
    doc, _ = audit(path, "rnov")
    f = cross_border(doc)
    loc = f["location"]
    assert f["location_check"] == "cannot_judge" and f["severity"] == "high", f
    assert loc["bound_km"] == 300 and loc["distance_km"] is None and loc["vantage"] is None, loc
    assert "no country can be ruled out" in loc["reasoning"]
    assert doc["inputs"]["vantage"] is None
    assert any("no vantage point" in n for n in doc["notes"]), doc["notes"]


def test_mid_stream_no_rtt_no_claim():
    path = mid_stream_capture()
    fl = [f for f in flows(path) if f["transport"] == "tcp"]
    assert len(fl) == 1, fl
    assert fl[0]["rtt_ms"] is None and fl[0]["server_rtt_ms"] is None and fl[0]["rtt_frames"] is None
    doc, _ = audit(path, "rmid", "--vantage", "CN")
    f = cross_border(doc)
    assert f["location_check"] == "cannot_judge" and f["severity"] == "high", f
    assert f["location"]["rtt_ms"] is None and f["location"]["frames"] == []
    assert f["location"]["bound_km"] is None and "no round trip" in f["location"]["reasoning"]
    assert statement(doc, "cross_border")["verdict"] == "broken"


def test_retransmitted_syns():
    # timestamps: the SYN-ACK echoes the first SYN's TSval; it answers the first
    path = handshake_capture("syn-ts.pcap", 0.003, syns=(0.0, 1.0), ts=((1000, 2000), 1000))
    f = [x for x in flows(path) if x["transport"] == "tcp"][0]
    assert f["server_rtt_ms"] == 1003.0 and f["rtt_frames"]["request"] == 1, f
    assert f["rtt_ms"] == 3.2 and f["rtt_frames"]["syn"] == 2, f  # tshark's: the latest SYN
    # echoing the second: from the second
    path = handshake_capture("syn-ts2.pcap", 0.003, syns=(0.0, 1.0), ts=((1000, 2000), 2000))
    f = [x for x in flows(path) if x["transport"] == "tcp"][0]
    assert f["server_rtt_ms"] == 3.0 and f["rtt_frames"]["request"] == 2, f
    # no timestamps: the latest SYN before the SYN-ACK
    path = handshake_capture("syn-nots.pcap", 0.005, syns=(0.0, 1.0, 3.0))
    f = [x for x in flows(path) if x["transport"] == "tcp"][0]
    assert f["server_rtt_ms"] == 5.0 and f["rtt_frames"]["request"] == 3, f
    assert f["rtt_ms"] == 5.2 and f["rtt_frames"]["ack"] == 5, f


def test_dns_and_quic_rtt():
    path = dns_quic_capture()
    by_port = {f["server_port"]: f for f in flows(path)}
    d, q = by_port[53], by_port[443]
    assert d["server_rtt_ms"] == 25.0 and d["rtt_ms"] is None, d
    assert d["rtt_frames"] == {"measured": "dns", "request": 1, "answer": 2, "syn": None,
                               "ack": None}, d["rtt_frames"]
    assert q["server_rtt_ms"] == 40.0 and q["rtt_frames"]["measured"] == "quic", q
    assert (q["rtt_frames"]["request"], q["rtt_frames"]["answer"]) == (3, 4)
    # from a CN vantage: a QUIC answer in 40 ms (4,000 km) leaves the US within
    # reach, a DNS answer in 25 ms (2,500 km) does not
    doc, _ = audit(path, "rquic", "--vantage", "CN")
    f = cross_border(doc)
    assert f["location_check"] == "supports" and f["location"]["measured"] == "quic", f
    assert f["location"]["frames"] == [3, 4], f["location"]
    f = cross_border(doc, RESOLVER)
    assert f["location_check"] == "contradicts" and f["location"]["measured"] == "dns", f
    assert f["location"]["frames"] == [1, 2] and f["location"]["bound_km"] == 2500, f["location"]


def need_tshark():
    if shutil.which("tshark") is None:
        raise Skip("tshark is not installed")


def test_tshark_agrees_on_generated():
    need_tshark()
    paths = [handshake_capture("t1.pcap", 0.0123), handshake_capture("t2.pcap", 0.25),
             handshake_capture("t3.pcap", 0.004, syns=(0.0, 1.0, 3.0)),
             handshake_capture("t4.pcap", 0.003, syns=(0.0, 1.0), ts=((1000, 2000), 1000))]
    n, bad = rtt_tshark.compare(BIN, paths)
    assert n["streams"] == 4 and n["agree"] == 4, (n, bad)


def test_tshark_agrees_on_corpus():
    need_tshark()
    if not os.path.isdir(rtt_tshark.CORPUS):
        raise Skip("%s is absent: the corpus comparison needs the shared captures"
                   % rtt_tshark.CORPUS)
    paths = rtt_tshark.corpus_captures()
    if os.environ.get("FLOWAUDIT_RTT_CORPUS") != "all":
        paths = [p for p in paths if os.sep + "mobile" + os.sep in p]
    n, bad = rtt_tshark.compare(BIN, paths)
    print("  corpus: %s" % json.dumps(n))
    for b in bad[:20]:
        print("  differs: %s %s tshark %s flowaudit %s" % b)
    assert n["streams"] > 0
    assert n["agree"] >= 0.99 * n["streams"], (n, bad[:20])


def setup(binary, work):
    global BIN, WORK, GEO
    BIN, WORK = binary, work
    GEO = os.path.join(work, "country.mmdb")
    r = subprocess.run(["perl", os.path.join(TOP, "scripts", "mkmmdb.pl"), "country", GEO,
                        "--line", "142.250.0.0/15 US", "--line", "47.92.0.0/14 CN",
                        "--line", "8.8.8.0/24 US"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("mkmmdb.pl failed: " + r.stderr)


def main():
    import suite
    return suite.main("rtt", globals(), setup, (Skip,), order=suite.in_file_order(globals()))


if __name__ == "__main__":
    sys.exit(main())
