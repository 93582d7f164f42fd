#!/usr/bin/python3
"""End-to-end tests of pcapng input: files libpcap refuses, read as tshark reads them.

The capture of most tests is what Wireshark's tools make of two recordings
of one phone: the demo scenario on Ethernet (microseconds, snapshot length
65535) and, an hour later, the same SDKs (Facebook, AdMob) as raw IP
(nanoseconds, snapshot length 262144), merged by `mergecap` into one
pcapng with two interfaces. libpcap
refuses such a file ("an interface has a snapshot length ... different
from ... the first interface"); flowaudit must read it, number its frames
as tshark does, and cut evidence from it with each link type in its own
pcap. tshark is the reference throughout; without tshark/mergecap/editcap
every test is skipped.

Usage: test_pcapng.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "e2e-pcapng: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402  (its run/flows/audit helpers and test databases)

Skip = e2e.Skip
TOOLS = ("tshark", "mergecap", "editcap")
_MERGED = None


def need_tools():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise Skip("%s not installed (Wireshark's command-line tools)" % ", ".join(missing))


def sh(args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (args, p.stderr[-1000:])
    return p.stdout


def set_snaplen(path, snaplen):
    """Rewrites a classic pcap's snapshot length field (no packet is cut)."""
    with open(path, "r+b") as f:
        f.seek(16)
        f.write(struct.pack("<I", snaplen))


def blocks(path):
    """(offset, type, body) of every block of a little-endian pcapng."""
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        assert blen >= 12 and off + blen <= len(data), (path, off, blen)
        out.append((off, btype, data[off + 8:off + blen - 4]))
        off += blen
    return out


def packets(path):
    """frame number -> captured bytes of every Enhanced Packet Block, as tshark numbers them."""
    got, n = {}, 0
    for _, btype, body in blocks(path):
        if btype == 6:
            n += 1
            caplen = struct.unpack_from("<I", body, 12)[0]
            got[n] = body[20:20 + caplen]
    return got


def merged():
    """The two-interface pcapng (built once)."""
    global _MERGED
    need_tools()
    if _MERGED is None:
        eth = e2e.cap("demo", "ether")
        # the same SDKs from other ports (tshark takes a reused 5-tuple for
        # a retransmission and stops dissecting it)
        raw = os.path.join(e2e.WORK, "sdks-raw.pcap")
        sh(["mergecap", "-F", "pcap", "-w", raw, e2e.cap("undeclared", "raw"),
            e2e.cap("cross_border", "raw")])
        later = os.path.join(e2e.WORK, "sdks-raw-later.pcap")
        sh(["editcap", "-F", "nsecpcap", "-t", "3600", raw, later])
        set_snaplen(later, 262144)
        first = os.path.join(e2e.WORK, "demo-ether-65535.pcap")
        shutil.copy(eth, first)
        set_snaplen(first, 65535)
        out = os.path.join(e2e.WORK, "two-interfaces.pcapng")
        sh(["mergecap", "-F", "pcapng", "-w", out, first, later])
        # the file is what the tests claim: two interfaces that differ
        idbs = [struct.unpack_from("<HHI", body) for _, t, body in blocks(out) if t == 1]
        assert [(lt, snap) for lt, _, snap in idbs] == [(1, 65535), (101, 262144)], idbs
        _MERGED = out
    return _MERGED


def tshark_frames(path, *fields, dfilter=None):
    """Rows of tshark fields per frame, frame.number first."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-e", "frame.number"]
    for f in fields:
        cmd += ["-e", f]
    if dfilter:
        cmd += ["-Y", dfilter]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return [l.split("\t") for l in p.stdout.splitlines() if l.strip()]


def flow_key(f):
    return {(f["client_ip"], str(f["client_port"]), f["server_ip"], str(f["server_port"])),
            (f["server_ip"], str(f["server_port"]), f["client_ip"], str(f["client_port"]))}


# ---------------------------------------------------------------- tests

def check_flows_like_tshark(path):
    """flows --json of path against tshark: every flow's first, last and
    naming frame is the frame tshark gives that number, and tshark's frames
    of its 5-tuple between them are its packets. Returns {SNI: {interface}}."""
    fl = e2e.flows(path)
    rows = tshark_frames(path, "frame.interface_id", "ip.src", "tcp.srcport", "udp.srcport",
                         "ip.dst", "tcp.dstport", "udp.dstport",
                         "tls.handshake.extensions_server_name")
    by_num = {}
    for r in rows:
        num, iface, src, tsp, usp, dst, tdp, udp_, sni = (r + [""] * 9)[:9]
        by_num[int(num)] = (iface, (src, tsp or usp, dst, tdp or udp_), sni)
    ifaces = set()
    named = {}
    for f in fl:
        key = flow_key(f)
        first, last = by_num[f["first_frame"]], by_num[f["last_frame"]]
        assert first[1] in key and last[1] in key, (f["id"], first, last)
        span = [n for n, v in by_num.items()
                if f["first_frame"] <= n <= f["last_frame"] and v[1] in key]
        assert len(span) == f["packets_out"] + f["packets_in"], (f["id"], span)
        assert all(by_num[n][0] == first[0] for n in span), (f["id"], "two interfaces")
        ifaces.add(first[0])
        if f["name_source"] == "sni":
            assert by_num[f["name_frame"]][2] == f["name"], (f["id"], by_num[f["name_frame"]])
            named.setdefault(f["name"], set()).add(first[0])
    return len(by_num), ifaces, named


def test_two_interfaces_flows_like_tshark():
    """flows --json names the flows of both interfaces, each cited by tshark's frame numbers."""
    path = merged()
    n, ifaces, named = check_flows_like_tshark(path)
    assert n == len(packets(path)) > 80
    assert ifaces == {"0", "1"}, ifaces
    # the SDKs' TLS names, each seen on both interfaces
    for host in ("graph.facebook.com", "googleads.g.doubleclick.net"):
        assert named.get(host) == {"0", "1"}, (host, named)


def test_records_that_are_not_packets():
    """Custom blocks and a systemd journal entry, which tshark numbers as
    frames though they hold no packet, leave every frame number tshark's."""
    path = merged()
    with open(path, "rb") as f:
        data = f.read()
    epbs = [off for off, t, _ in blocks(path) if t == 6]

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    journal = b"__REALTIME_TIMESTAMP=1795860000000000\nMESSAGE=test\n"
    extra = {epbs[3]: block(0xbad, struct.pack("<I", 32473) + b"flowaudit test"),
             epbs[20]: block(9, journal),
             epbs[40]: block(0x40000bad, struct.pack("<I", 32473) + b"x")}
    out = os.path.join(e2e.WORK, "with-records.pcapng")
    with open(out, "wb") as f:
        last = 0
        for off in sorted(extra):
            f.write(data[last:off] + extra[off])
            last = off
        f.write(data[last:])
    n, ifaces, named = check_flows_like_tshark(out)
    assert n == len(packets(path)) + 3, n
    p = e2e.run(["flows", "-r", out, "--no-geo", "--quiet"], expect=0)
    assert "3 pcapng records that hold no packet" in p.stderr, p.stderr


def test_two_interfaces_frame_count():
    """The frames counted in report.json's inputs are tshark's, and so are the
    link types: the first interface's for the file, both in the flows."""
    path = merged()
    p, rep, out = e2e.audit(path)
    assert p.returncode in (0, 1), p.stderr
    cap = rep["inputs"]["captures"][0]
    assert cap["packets"] == len(tshark_frames(path)), cap
    assert cap["linktype"] == 1 and cap["link_name"] == "EN10MB", cap
    assert cap["error"] is None, cap
    assert "split" not in p.stderr and "interface" not in p.stderr, p.stderr


def test_two_interfaces_evidence():
    """Evidence cut from the two-interface pcapng: a finding whose flows came
    in on both interfaces gets one pcap per link type, tshark reads each,
    and together they hold exactly the bytes of the frames the finding cites."""
    path = merged()
    p, rep, out = e2e.audit(path)
    assert p.returncode == 1, p.stderr
    frames = packets(path)
    both = 0
    for fd in rep["findings"]:
        files = fd.get("evidence_files") or [fd["evidence"]]
        cited = [n for x in fd["frames"] for n in x["numbers"]]
        assert all(x["file"] == path for x in fd["frames"]), fd["frames"]
        linktypes, got = [], []
        for ev in files:
            evp = os.path.join(out, ev)
            with open(evp, "rb") as f:
                head = f.read(24)
            linktypes.append(struct.unpack_from("<I", head, 20)[0])
            n = len(tshark_frames(evp))
            assert n > 0, (fd["id"], ev)
            got += [b for _, _, b in e2e.read_pcap(evp)]
            assert n == len(e2e.read_pcap(evp)), (fd["id"], ev)
        assert sorted(got) == sorted(frames[n] for n in cited), fd["id"]
        if len(files) == 2:
            both += 1
            assert sorted(linktypes) == [1, 101], (fd["id"], linktypes)
            assert files[1].endswith("-2.pcap"), files
    assert both > 0, "no finding spans both interfaces"


def test_pcapng_from_a_pipe():
    """The two-interface pcapng piped in reads as the file does."""
    path = merged()
    want = e2e.flows(path)
    with open(path, "rb") as f:
        data = f.read()
    p = subprocess.Popen([e2e.BIN, "flows", "-r", "/dev/stdin", "--json", "-g", e2e.GEO,
                          "--asn", e2e.ASN, "--quiet"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(data, timeout=120)
    assert p.returncode == 0, err
    strip = lambda fl: [{k: v for k, v in f.items() if k != "file"} for f in fl]
    assert strip(json.loads(out)) == strip(want)


def test_pcapng_cut_short():
    """A pcapng cut inside a packet: the frames before it count (as many as
    tshark reads), and the message names the frame and the block's offset."""
    path = merged()
    blks = blocks(path)
    epbs = [(off, body) for off, t, body in blks if t == 6]
    off, body = epbs[len(epbs) // 2]
    cut = os.path.join(e2e.WORK, "cut.pcapng")
    with open(path, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[:off + 30])
    p = e2e.run(["flows", "-r", cut, "--json", "--no-geo", "--quiet"], expect=0)
    want = len(tshark_frames(cut))
    assert want == len(epbs) // 2, want
    line = "read stopped after frame %d: the Enhanced Packet Block at byte %d" % (want, off)
    assert line in p.stderr and "left in the file" in p.stderr, p.stderr
    assert "cut short" in p.stderr, p.stderr
    p, rep, out = e2e.audit(cut)
    cap = rep["inputs"]["captures"][0]
    assert cap["packets"] == want and line in cap["error"], cap


def test_pcapng_decryption_secrets_not_frames():
    """A Decryption Secrets Block (editcap --inject-secrets) is kept, not
    counted as a frame: the numbering stays tshark's."""
    path = merged()
    keys = os.path.join(e2e.WORK, "keys.txt")
    with open(keys, "w") as f:
        f.write("CLIENT_RANDOM %s %s\n" % ("ab" * 32, "cd" * 48))
    withkeys = os.path.join(e2e.WORK, "with-keys.pcapng")
    sh(["editcap", "--inject-secrets", "tls," + keys, path, withkeys])
    assert any(t == 10 for _, t, _ in blocks(withkeys)), "editcap wrote no DSB"
    a = e2e.flows(path)
    b = e2e.flows(withkeys)
    strip = lambda fl: [{k: v for k, v in f.items() if k != "file"} for f in fl]
    assert strip(a) == strip(b)
    assert len(tshark_frames(withkeys)) == len(tshark_frames(path))


def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    return suite.main("e2e-pcapng", globals(), lambda b, w: e2e.build_mmdb(), (Skip,), bind)


if __name__ == "__main__":
    sys.exit(main())
