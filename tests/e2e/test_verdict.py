#!/usr/bin/python3
"""End-to-end tests of the verdict: no input makes `audit` exit 0 unless it
examined the devices' traffic it was given.

A capture with no frame exits 2. An audit that could not look at what it
was asked to (no device traffic, a capture cut short, time stamps out of
order or unusable while consent is judged by time, a device's traffic left
out) is "inconclusive" and exits 4, unless findings make it fail; the
reasons are in report.json (verdict_reasons, notes), junit.xml (an errored
case) and the summary. Devices are found by the device profile's MAC as
well as by address, so a phone on a global IPv6 address is audited.

The captures are the e2e suite's (tests/gen/capgen.py), some rewritten
here with scapy: to IPv6, with their time stamps reversed, zeroed or one
of them out of range, cut short, or IPv4 and IPv6 together.

Usage: test_verdict.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "verdict: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402  (the e2e suite's helpers: capgen captures, MMDB files)

from scapy.all import (DNS, DNSRR, IP, IPv6, TCP, UDP, Ether, PcapWriter,  # noqa: E402
                       rdpcap)
from scapy.config import conf  # noqa: E402

conf.verb = 0

FIX = e2e.FIX
DEV_PROFILE = os.path.join(FIX, "device.json")       # mac 02:00:00:00:00:17, the capgen device's
EVENTS = os.path.join(FIX, "events-consent.json")
DEV6 = "2a01:e0a:1::23"                              # a global address, as a phone on IPv6 has

# The demo's IPv4 addresses and their IPv6 counterparts: the resolver on a
# ULA (local, as 192.168.1.1 is), the servers in prefixes the country and
# ASN files below place as their IPv4 addresses are placed.
V6 = {"192.168.1.23": DEV6, "192.168.1.1": "fd00::1", "47.92.1.10": "240e::10",
      "47.92.3.30": "240e::330", "142.250.1.10": "2001:4860::10",
      "157.240.1.35": "2a03:2880::35", "23.94.5.5": "2a00:5e00::5"}
EXTRA_COUNTRY = "2a00:5e00::/32 US\n"
EXTRA_ASN = "2a00:5e00::/32 36352 AS-COLOCROSSING\n240e::/20 37963 Hangzhou Alibaba Advertising Co.,Ltd.\n"


class Skip(Exception):
    pass


def work(name):
    return os.path.join(e2e.WORK, name)


def build_mmdb():
    """The e2e suite's country and ASN files, with the IPv6 prefixes above."""
    script = os.path.join(e2e.TOP, "scripts", "mkmmdb.pl")
    for kind, src, extra, dst in (("country", "e2e-country.txt", EXTRA_COUNTRY, "country6.mmdb"),
                                  ("asn", "e2e-asn.txt", EXTRA_ASN, "asn6.mmdb")):
        txt = work(kind + "6.txt")
        with open(os.path.join(FIX, src)) as f, open(txt, "w") as o:
            o.write(f.read().rstrip("\n") + "\n" + extra)
        r = subprocess.run(["perl", script, kind, work(dst), txt], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("mkmmdb.pl failed: " + r.stderr)
    e2e.GEO, e2e.ASN = work("country6.mmdb"), work("asn6.mmdb")


def audit(path, *extra, expect=None, policy=None):
    """e2e.audit with the summary on stdout (no --quiet)."""
    out = tempfile.mkdtemp(prefix="rep-", dir=e2e.WORK)
    shutil.rmtree(out)
    args = ["audit", "-r", path, "-p", policy or os.path.join(FIX, "policy.json"), "-g", e2e.GEO,
            "--asn", e2e.ASN, "-o", out] + list(extra)
    p = e2e.run(args, expect=expect)
    rep = None
    if os.path.exists(os.path.join(out, "report.json")):
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
    return p, rep, out


def codes(rep):
    """The reason codes, after checking rep against docs/report-schema.json."""
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        with open(os.path.join(e2e.TOP, "docs", "report-schema.json")) as f:
            jsonschema.validate(rep, json.load(f))
    return [r["code"] for r in rep["verdict_reasons"]]


def reason(rep, code):
    for r in rep["verdict_reasons"]:
        if r["code"] == code:
            return r["text"]
    raise AssertionError("no reason %s in %s" % (code, rep["verdict_reasons"]))


def write(frames, path):
    w = PcapWriter(path, linktype=1, sync=True)
    for f in frames:
        w.write(f)
    w.close()
    return path


def to_ipv6(src, dst, shift=0.0):
    """Every IPv4 packet of src as IPv6 (addresses by V6), DNS A answers as
    AAAA, the same MACs, times and payloads; shift moves the times."""
    out = []
    for p in rdpcap(src):
        ip = p[IP]
        l4 = ip.payload.copy()
        if TCP in l4 or UDP in l4:
            del l4.chksum
        if UDP in l4:
            del l4.len
        if DNS in l4 and l4[DNS].ancount:
            d = l4[DNS]
            an = d.an if isinstance(d.an, list) else [d.an[j] for j in range(d.ancount)]
            rrs = [DNSRR(rrname=rr.rrname, type="AAAA", ttl=rr.ttl, rdata=V6[rr.rdata])
                   if rr.type == 1 else rr for rr in an]
            chain = rrs[0]
            for rr in rrs[1:]:
                chain = chain / rr
            d.an = chain
        n = Ether(src=p[Ether].src, dst=p[Ether].dst) / IPv6(src=V6[ip.src], dst=V6[ip.dst],
                                                             hlim=ip.ttl) / l4
        n.time = p.time + shift
        out.append(n)
    return write(out, dst)


def retimed(src, name, fn):
    """src with each frame's time replaced by fn(index, times)."""
    pk = rdpcap(src)
    times = [p.time for p in pk]
    for i, p in enumerate(pk):
        p.time = fn(i, times)
    return write(pk, work(name))


def finding_keys(rep):
    return sorted((f["rule"], f["host"], f["severity"], f["country"], f["recipient"]["kind"],
                   f["recipient"]["id"], len(f["flows"]),
                   tuple(sorted((i["type"], i["encoding"], i["direction"]) for i in f["identifiers"])),
                   (f["consent"] or {}).get("state"))
                  for f in rep["findings"])


def demo():
    return e2e.cap("demo")


# ------------------------------------------------------------ no frame, no device

def test_header_only_exits_2():
    """A capture with a file header and no frame: exit 2 naming the file, no report."""
    hdr = work("header-only.pcap")
    with open(demo(), "rb") as f, open(hdr, "wb") as o:
        o.write(f.read(24))
    p, rep, out = audit(hdr, expect=2)
    assert rep is None and not os.path.exists(out), out
    assert "header-only.pcap" in p.stderr and "no frame" in p.stderr, p.stderr
    p = e2e.run(["flows", "-r", hdr], expect=2)
    assert "header-only.pcap" in p.stderr and "no frame" in p.stderr, p.stderr


def test_device_matches_nothing():
    """--device that matches nothing: inconclusive, exit 4, in report.json, the
    summary, junit.xml (an errored case) and findings.ndjson (no line)."""
    p, rep, out = audit(demo(), "--device", "10.9.9.9", expect=4)
    assert rep["verdict"] == "inconclusive", rep["verdict"]
    assert codes(rep) == ["no-device-traffic"], rep["verdict_reasons"]
    assert "--device 10.9.9.9" in reason(rep, "no-device-traffic"), rep["verdict_reasons"]
    assert reason(rep, "no-device-traffic") in rep["notes"], rep["notes"]
    assert rep["summary"]["device_flows"] == 0 and rep["findings"] == [], rep["summary"]
    assert "verdict: INCONCLUSIVE (fail-on low)" in p.stdout, p.stdout
    assert "no-device-traffic: no flow came from --device 10.9.9.9" in p.stdout, p.stdout
    root, suites = e2e._junit(out)
    assert root.get("errors") == "1", root.attrib
    cov = suites["audit coverage"]
    assert cov.get("errors") == "1", cov.attrib
    err = cov.find("testcase").find("error")
    assert err is not None and err.get("type") == "inconclusive", cov
    assert "no-device-traffic" in err.get("message") and "10.9.9.9" in err.text, (err.attrib, err.text)
    with open(os.path.join(out, "findings.ndjson")) as f:
        assert f.read() == ""
    e2e.run(["verify", out], expect=0)


def test_device_left_out_named():
    """--device elsewhere, and the profile's MAC sending from 192.168.1.23: the
    report names the traffic it left out."""
    p, rep, _ = audit(demo(), "--device", "10.9.9.9", "-d", DEV_PROFILE, expect=4)
    assert codes(rep) == ["no-device-traffic", "device-traffic-left-out"], rep["verdict_reasons"]
    t = reason(rep, "device-traffic-left-out")
    assert "192.168.1.23" in t and "02:00:00:00:00:17" in t and "10 flows" in t, t
    assert t in rep["notes"], rep["notes"]


def test_no_device_flow_without_profile():
    """A phone on a global IPv6 address, no --device and no profile: no flow is
    taken as a device's, and that is not a pass."""
    v6 = to_ipv6(demo(), work("demo6.pcap"))
    p, rep, _ = audit(v6, expect=4)
    assert rep["verdict"] == "inconclusive" and codes(rep) == ["no-device-traffic"], rep["verdict_reasons"]
    assert rep["summary"]["flows"] == 10 and rep["summary"]["device_flows"] == 0, rep["summary"]


# ------------------------------------------------------------ IPv6 and dual stack

def test_ipv6_demo_same_findings():
    """The demo on IPv6 (device 2a01:e0a:1::23, the profile's MAC): the same
    findings as on IPv4, the IMEI in clear included."""
    v6 = to_ipv6(demo(), work("demo6.pcap"))
    _, rep4, _ = audit(demo(), "-d", DEV_PROFILE, "-e", EVENTS, expect=1)
    _, rep6, _ = audit(v6, "-d", DEV_PROFILE, "-e", EVENTS, expect=1)
    assert rep6["summary"]["device_flows"] == 10, rep6["summary"]
    assert {f["device"] for f in rep6["findings"]} == {DEV6}, rep6["findings"]
    a, b = finding_keys(rep4), finding_keys(rep6)
    assert a and a == b, [x for x in a if x not in b] + ["--"] + [x for x in b if x not in a]
    imei = [f for f in rep6["findings"] if f["rule"] == "cleartext-identifier"]
    assert imei and any(i["type"] == "imei" for f in imei for i in f["identifiers"]), imei
    assert rep6["verdict_reasons"] == [] and rep6["verdict"] == "fail", rep6["verdict_reasons"]


def dual_stack():
    """A clean IPv4 session (declared SDK and first party in the declared
    region), then the same phone (same MAC) on IPv6 talking to an undeclared SDK."""
    path = work("dual.pcap")
    if not os.path.exists(path):
        v4 = e2e.cap("declared_in_region")
        v6 = to_ipv6(e2e.cap("undeclared"), work("undeclared6.pcap"), shift=60.0)
        write(list(rdpcap(v4)) + list(rdpcap(v6)), path)
    return path


def test_dual_stack_with_profile():
    """The profile's MAC takes both sides: the IPv6 side's finding is reported."""
    p, rep, _ = audit(dual_stack(), "-d", DEV_PROFILE, expect=1)
    ur = e2e.find(rep, "undeclared-recipient", "graph.facebook.com")
    assert ur["device"] == DEV6, ur
    assert rep["summary"]["device_flows"] == rep["summary"]["flows"], rep["summary"]
    assert "device-traffic-left-out" not in codes(rep), rep["verdict_reasons"]


def test_dual_stack_left_out():
    """Without the profile, the IPv6 side is not a private address: the clean
    IPv4 side no longer passes, the report names the address it left out."""
    # control: the IPv4 side alone passes
    e2e.audit(e2e.cap("declared_in_region"), expect=0)
    p, rep, _ = audit(dual_stack(), expect=4)
    assert rep["verdict"] == "inconclusive" and codes(rep) == ["device-traffic-left-out"], rep["verdict_reasons"]
    t = reason(rep, "device-traffic-left-out")
    assert DEV6 in t and "02:00:00:00:00:17" in t, t
    assert t in rep["notes"], rep["notes"]
    assert "device-traffic-left-out: " in p.stdout and DEV6 in p.stderr, (p.stdout, p.stderr)


def test_left_out_busiest_named():
    """Five hosts, each with a flow on a private address and k flows on a
    global one: the three busiest MACs named with their counts, the rest summed."""
    frames, t = [], 1795860000.0
    for k in range(1, 6):
        mac = "02:00:00:00:01:%02x" % k
        for pkt in [IP(src="192.168.1.%d" % (10 + k), dst="192.168.1.1") / UDP(sport=40000, dport=53)] + \
                   [IPv6(src="2a01:e0a:1::%x" % k, dst="2a03:2880::35") / TCP(sport=50000 + n, dport=443, flags="S")
                    for n in range(k)]:
            f = Ether(src=mac, dst="02:00:00:00:00:01") / pkt
            t += 0.01
            f.time = t
            frames.append(f)
    path = write(frames, work("five-hosts.pcap"))
    p, rep, _ = audit(path, expect=4)
    assert codes(rep) == ["device-traffic-left-out"], rep["verdict_reasons"]
    t = reason(rep, "device-traffic-left-out")
    assert t.startswith("5 flows from 02:00:00:00:01:05 (the MAC of audited device traffic; client "
                        "address 2a01:e0a:1::5); 4 flows from 02:00:00:00:01:04"), t
    assert "; 3 flows from 02:00:00:00:01:03 " in t and "; and 3 flows from 2 more MACs were not audited" in t, t


# ------------------------------------------------------------ captures cut short

def test_truncated_inconclusive():
    """Cut inside an early frame (head -c 1038): inconclusive, exit 4, and the
    truncation in report.json's notes and reasons, not only on stderr."""
    cut = work("cut.pcap")
    with open(demo(), "rb") as f, open(cut, "wb") as o:
        o.write(f.read(1038))
    p, rep, _ = audit(cut, expect=4)
    assert codes(rep) == ["capture-truncated"], rep["verdict_reasons"]
    t = reason(rep, "capture-truncated")
    assert t.startswith(cut + ": ") and "frame 11" in t, t
    assert t in rep["notes"], rep["notes"]
    assert rep["inputs"]["captures"][0]["error"], rep["inputs"]["captures"]


def test_truncated_fail_stays_fail():
    """Cut short after findings: FAIL stays FAIL (exit 1), the reason still listed."""
    cut = work("cut-late.pcap")
    with open(demo(), "rb") as f:
        data = f.read()
    with open(cut, "wb") as o:
        o.write(data[:len(data) - 30])
    p, rep, out = audit(cut, expect=1)
    assert rep["verdict"] == "fail" and codes(rep) == ["capture-truncated"], rep["verdict_reasons"]
    assert "verdict: FAIL" in p.stdout and "capture-truncated:" in p.stdout, p.stdout
    root, suites = e2e._junit(out)
    assert suites["audit coverage"].find("testcase").find("error").get("type") == "fail"


# ------------------------------------------------------------ time stamps

def test_timestamps_reversed():
    """The demo with its times reversed: consent findings change, so the
    reversal is a verdict reason (consent events given), a note and a warning."""
    rev = retimed(demo(), "reversed.pcap", lambda i, t: t[len(t) - 1 - i])
    _, base, _ = audit(demo(), "-e", EVENTS, expect=1)
    p, rep, _ = audit(rev, "-e", EVENTS, expect=1)
    assert e2e.rules(rep) != e2e.rules(base), "the reversal changed nothing: the test shows nothing"
    assert codes(rep) == ["timestamps-unordered"], rep["verdict_reasons"]
    t = reason(rep, "timestamps-unordered")
    assert t.startswith("59 frames are more than 1 ms earlier") and "frame 2 of " + rev in t, t
    assert t in rep["notes"] and t in p.stderr, (rep["notes"], p.stderr)


def test_timestamps_reversed_clean_inconclusive():
    """A clean audit whose consent judgement rests on reversed time: exit 4;
    without consent events the time order decides nothing: a note, exit 0."""
    rev = retimed(e2e.cap("declared_in_region"), "clean-reversed.pcap", lambda i, t: t[len(t) - 1 - i])
    p, rep, _ = audit(rev, "-e", EVENTS, expect=4)
    assert codes(rep) == ["timestamps-unordered"], rep["verdict_reasons"]
    p, rep, _ = audit(rev, expect=0)
    assert rep["verdict"] == "pass" and rep["verdict_reasons"] == [], rep["verdict_reasons"]
    assert any("earlier than a frame before them" in n for n in rep["notes"]), rep["notes"]


def test_timestamps_zero():
    """Every time stamp 0: no usable time, a verdict reason with consent events."""
    zero = retimed(demo(), "zero.pcap", lambda i, t: 0)
    p, rep, _ = audit(zero, "-e", EVENTS, expect=1)
    assert codes(rep) == ["timestamps-clamped"], rep["verdict_reasons"]
    t = reason(rep, "timestamps-clamped")
    assert t.startswith("60 frames carry no usable time stamp") and "no frame has a usable time" in t, t


def test_timestamp_out_of_range_kept_sane():
    """One frame stamped 2100-01-01 (past what a pcap's 32-bit field holds: read
    as before 1970 and clamped): it takes the time of the frame before it, so
    no time in report.json leaves the capture's real range, and the findings
    are those of the untouched capture."""
    bad = retimed(demo(), "one-bad.pcap", lambda i, t: 4102444800 if i == 20 else t[i])
    _, base, _ = audit(demo(), "-e", EVENTS, expect=1)
    p, rep, _ = audit(bad, "-e", EVENTS, expect=1)
    assert rep["inputs"]["captures"][0]["bad_timestamps"] == 1, rep["inputs"]["captures"]
    assert codes(rep) == ["timestamps-clamped"], rep["verdict_reasons"]
    assert "frame 21 of " + bad in reason(rep, "timestamps-clamped")
    assert finding_keys(rep) == finding_keys(base)
    s, b = rep["summary"], base["summary"]
    assert (s["first_seen"], s["last_seen"]) == (b["first_seen"], b["last_seen"]), (s, b)
    c, bc = rep["inputs"]["captures"][0], base["inputs"]["captures"][0]
    assert (c["first_seen"], c["last_seen"]) == (bc["first_seen"], bc["last_seen"]), (c, bc)
    for f in rep["findings"] + rep["flows"]:
        assert f["first_seen"].startswith("2026-11-28T") and f["last_seen"].startswith("2026-11-28T"), f
    # nDPI in a thread of its own sees the same repaired times
    p, rep2, _ = audit(bad, "-e", EVENTS, "--threads", "2", expect=1)
    assert finding_keys(rep2) == finding_keys(rep) and rep2["summary"] == rep["summary"]


# ------------------------------------------------------------ --fail-on never, live

def test_fail_on_never():
    """--fail-on never: findings reported, exit 0, nothing failing in junit.xml;
    an inconclusive audit still exits 4."""
    p, rep, out = audit(demo(), "--fail-on", "never", expect=0)
    assert rep["findings"] and rep["verdict"] == "pass" and rep["fail_on"] == "never", rep["verdict"]
    assert "verdict: pass (fail-on never)" in p.stdout, p.stdout
    root, suites = e2e._junit(out)
    assert root.get("failures") == "0" and root.get("errors") == "0", root.attrib
    p, rep, _ = audit(demo(), "--fail-on", "never", "--device", "10.9.9.9", expect=4)
    assert rep["verdict"] == "inconclusive", rep["verdict"]
    p, _, _ = audit(demo(), "--fail-on", "sometimes", expect=2)
    assert "never" in p.stderr, p.stderr


def test_capture_saw_nothing():
    """A live capture that saw no packet: inconclusive, exit 4, reason no-frames."""
    if os.geteuid() != 0:
        raise Skip("needs root to capture")
    out = work("live-empty")
    p = e2e.run(["capture", "-i", "lo", "-f", "udp and host 203.0.113.99 and port 9", "--duration", "1",
                 "-w", work("live-empty.pcapng"), "-p", os.path.join(FIX, "policy.json"),
                 "--no-geo", "-o", out, "--quiet"])
    if p.returncode == 3 and "lo" in p.stderr:
        raise Skip("cannot capture on lo: " + p.stderr.strip())
    assert p.returncode == 4, (p.returncode, p.stderr)
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    assert rep["verdict"] == "inconclusive" and codes(rep) == ["no-frames"], rep["verdict_reasons"]
    assert rep["summary"]["packets"] == 0, rep["summary"]
    assert "no frame was captured" in p.stderr, p.stderr


# ------------------------------------------------------------ harness

def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    return suite.main("verdict", globals(), lambda b, w: build_mmdb(), (Skip, e2e.Skip), bind)


if __name__ == "__main__":
    sys.exit(main())
