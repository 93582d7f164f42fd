#!/usr/bin/python3
"""End-to-end tests of QUIC and HTTP/3 with keys: captures built by
tests/gen/quiccap.py from chosen secrets, checked first with tshark (the
reference) and then read by flowaudit.

  - tshark opens every packet of every keyed QUIC capture with the key log,
    and the requests read from its decrypted stream bytes (HTTP/3 frames
    and QPACK decoded here) are the ones flowaudit reports: the first
    request's URL, and every identifier with where it was (query key,
    header name, body offset) and the frame that carried it
  - v1 and v2, AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305, a key
    update, a header block blocked until the encoder stream's insert, a
    body in three STREAM frames out of order
  - one scenario, three transports (TLS+HTTP/1.1, TLS+HTTP/2, QUIC+HTTP/3):
    one set of findings
  - without keys, or with an empty key log: no_key, and the report says
    how many QUIC flows were examined
  - a client that moves to a new port (a connection ID the server issued):
    both paths read, each identifier in the flow that carried it
  - secrets in a pcapng's Decryption Secrets Block, and the evidence file
    of a finding, which carries the connection's secrets so that tshark
    opens it without a key log
  - a flood of STREAM pieces after a hole: the memory flowaudit holds per
    QUIC connection stays within its ceiling

Usage: test_quic_keys.py BUILD/flowaudit [NAME-SUBSTRING]
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import suite  # noqa: E402

GEN = os.path.join(TOP, "tests", "gen", "quiccap.py")
POLICY = os.path.join(TOP, "tests", "fixtures", "tls-e2e", "policy.json")
DEVICE = os.path.join(TOP, "tests", "fixtures", "tls-e2e", "device.json")
PY = "/usr/bin/python3"
H3 = ["h3-aes128", "h3-aes256", "h3-chacha", "h3-v2"]
ALL = H3 + ["h3-nokey", "h3-migrate", "tls-h1", "tls-h2"]
BIN = WORK = None


class Skip(Exception):
    pass


def bind(binary, work):
    global BIN, WORK
    BIN, WORK = binary, work


def path(name, ext):
    return os.path.join(WORK, name + ext)


def setup(binary, work):
    for name in ALL:
        subprocess.run([PY, GEN, name, path(name, ".pcap"), path(name, ".keys")], check=True)
    if shutil.which("editcap"):
        subprocess.run(["editcap", "--inject-secrets", "tls," + path("h3-aes128", ".keys"),
                        path("h3-aes128", ".pcap"), path("h3-dsb", ".pcapng")], check=True,
                       capture_output=True)


def run(args, ok=(0,)):
    p = subprocess.run([BIN] + args, capture_output=True, text=True)
    if p.returncode not in ok:
        raise AssertionError("flowaudit %s: exit %d\n%s" % (" ".join(args), p.returncode, p.stderr))
    return p


def flows(name, keyed=True):
    args = ["flows", "--json", "--no-geo", "--quiet", "-r", path(name, ".pcap")]
    if keyed:
        args += ["--keylog", path(name, ".keys")]
    return [f for f in json.loads(run(args).stdout) if f["server_port"] != 53]


def audit(name, tag, keyed=True, capture=None):
    out = os.path.join(WORK, "rep-%s-%s" % (name, tag))
    shutil.rmtree(out, ignore_errors=True)
    args = ["audit", "-p", POLICY, "-d", DEVICE, "--no-geo", "-o", out, "--quiet",
            "-r", capture or path(name, ".pcap")]
    if keyed:
        args += ["--keylog", path(name, ".keys")]
    run(args, ok=(0, 1))
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f), out


def tshark(args):
    if not shutil.which("tshark"):
        raise Skip("tshark is not installed")
    p = subprocess.run(["tshark"] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("tshark %s: %s" % (" ".join(args), p.stderr))
    return p.stdout


# ---------------------------------------------------------------- HTTP/3 as tshark decrypted it

def varint(b, i):
    n = 1 << (b[i] >> 6)
    v = b[i] & 0x3F
    for k in range(1, n):
        v = v << 8 | b[i + k]
    return v, i + n


def pint(b, i, bits):
    lim = (1 << bits) - 1
    v = b[i] & lim
    i += 1
    if v < lim:
        return v, i
    m = 0
    while True:
        v += (b[i] & 0x7F) << m
        m += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i


STATIC = {0: (":authority", ""), 1: (":path", "/"), 17: (":method", "GET"), 20: (":method", "POST"),
          23: (":scheme", "https"), 25: (":status", "200")}


def qpack(block, table):
    """The field lines quiccap.py writes: static and dynamic indexed lines,
    static name references, literal names; no Huffman."""
    _, i = pint(block, 0, 8)
    _, i = pint(block, i, 7)
    out = []
    while i < len(block):
        b = block[i]
        if b & 0x80:
            idx, i = pint(block, i, 6)
            out.append(STATIC[idx] if b & 0x40 else table[len(table) - 1 - idx])
        elif b & 0x40:
            idx, i = pint(block, i, 4)
            ln, i = pint(block, i, 7)
            out.append((STATIC[idx][0], block[i:i + ln].decode()))
            i += ln
        else:
            ln, i = pint(block, i, 3)
            name = block[i:i + ln].decode()
            i += ln
            vl, i = pint(block, i, 7)
            out.append((name, block[i:i + vl].decode()))
            i += vl
    return out


def tshark_streams(name):
    """Each (direction, stream id)'s bytes as tshark decrypted them, put in
    order here by offset, and the frame each piece came in."""
    rows = tshark(["-r", path(name, ".pcap"), "-o", "tls.keylog_file:" + path(name, ".keys"),
                   "-Y", "quic", "-T", "fields", "-E", "occurrence=a", "-e", "frame.number",
                   "-e", "udp.srcport", "-e", "quic.stream.stream_id", "-e", "quic.stream.offset",
                   "-e", "quic.stream_data"])
    pieces = {}
    for line in rows.splitlines():
        f = line.split("\t")
        if len(f) < 5 or not f[2]:
            continue
        d = 1 if f[1] == "443" else 0
        for sid, off, data in zip(f[2].split(","), f[3].split(","), f[4].split(",")):
            pieces.setdefault((d, int(sid)), []).append((int(off or 0), bytes.fromhex(data), int(f[0])))
    streams = {}
    for key, ps in pieces.items():
        buf, frames = bytearray(), []
        for off, data, fr in sorted(ps):
            if off + len(data) > len(buf):
                buf[off:] = data
            frames.append((off, off + len(data), fr))
        streams[key] = (bytes(buf), frames)
    return streams


def requests(name):
    """The client's requests: fields, body, and the frame of a body offset."""
    st = tshark_streams(name)
    table = []
    for (d, sid), (data, _) in st.items():
        if d == 0 and sid % 4 == 2 and data[:1] == b"\x02":  # the client's encoder stream
            i = 1
            while i < len(data):
                if data[i] & 0xC0 == 0x40:  # Insert With Literal Name
                    ln, i = pint(data, i, 5)
                    n = data[i:i + ln].decode()
                    i += ln
                    vl, i = pint(data, i, 7)
                    table.append((n, data[i:i + vl].decode()))
                    i += vl
                else:  # Set Dynamic Table Capacity
                    _, i = pint(data, i, 5)
    out = []
    for (d, sid), (data, frames) in sorted(st.items()):
        if d != 0 or sid % 4 != 0:
            continue
        i, fields, body, body_at = 0, [], b"", None
        while i < len(data):
            t, i = varint(data, i)
            ln, i = varint(data, i)
            if t == 1:
                fields = qpack(data[i:i + ln], table)
            elif t == 0:
                body_at = body_at if body_at is not None else i
                body += data[i:i + ln]
            i += ln
        out.append({"sid": sid, "fields": fields, "body": body, "body_at": body_at, "frames": frames})
    return out


def expected_hits(reqs):
    """(type, where, key) of the first place each device identifier is in
    the requests (query, then headers, then body, request by request): a
    flow's finding names where each identifier was first seen."""
    dev = json.load(open(DEVICE))
    seen = []
    for r in reqs:
        f = dict(r["fields"])
        q = urllib.parse.urlsplit(f[":path"]).query
        for k, v in urllib.parse.parse_qsl(q):
            seen += [(t, "http_query", k) for t in ("imei", "android_id", "advertising_id") if v == dev[t]]
        for n, v in r["fields"]:
            seen += [(t, "http_header", n) for t in ("imei", "android_id", "advertising_id")
                     if not n.startswith(":") and v == dev[t]]
        for t in ("imei", "android_id", "advertising_id"):
            at = r["body"].find(dev[t].encode())
            if at >= 0:
                seen.append((t, "http_body", at))
    first = {}
    for h in seen:
        first.setdefault(h[0], h)
    return set(first.values())


def hits_of(report):
    got = set()
    for f in report["findings"]:
        for h in f.get("identifiers") or []:
            loc = h["location"]
            key = loc.get("key") or loc.get("header") or loc.get("offset")
            got.add((h["type"], h["where"], key))
    return got


# ---------------------------------------------------------------- tests

def test_tshark_opens_every_packet():
    """The generator's captures are sound: tshark opens every QUIC packet
    with the key log (and none without it past the Initials)."""
    for name in H3:
        rows = tshark(["-r", path(name, ".pcap"), "-o", "tls.keylog_file:" + path(name, ".keys"),
                       "-Y", "quic", "-T", "fields", "-e", "quic.packet_number",
                       "-e", "_ws.expert.message"]).splitlines()
        assert len(rows) >= 15, (name, len(rows))
        bad = [r for r in rows if not r.split("\t")[0] or "ecrypt" in r]
        assert not bad, (name, bad)


def test_requests_agree_with_tshark():
    """Every identifier flowaudit reports is where tshark's decrypted
    streams have it, and it reports every one of them; the flow's first
    request is the first request stream's."""
    for name in H3:
        reqs = requests(name)
        assert len(reqs) == 3, (name, reqs)
        want = expected_hits(reqs)
        assert len(want) == 3, want
        rep, _ = audit(name, "agree")
        assert hits_of(rep) == want, (name, hits_of(rep), want)
        fl = flows(name)
        assert len(fl) == 1 and fl[0]["transport"] == "udp"
        f0 = dict(reqs[0]["fields"])
        assert fl[0]["http_url"] == f0[":authority"] + f0[":path"], fl[0]["http_url"]
        assert fl[0]["tls_decrypt_status"] == "decrypted" and fl[0]["tls_decrypted"] is True
        assert fl[0]["name"] == "h3.example-telemetry.net"


def test_identifier_frames():
    """The frame each identifier is reported in is the frame that carried
    its bytes: the body's piece (sent second of three), the encoder
    stream's insert for the header decoded from the dynamic table."""
    reqs = requests("h3-aes128")
    rep, _ = audit("h3-aes128", "frames")
    by_type = {}
    for f in rep["findings"]:
        for h in f.get("identifiers") or []:
            by_type[h["type"]] = h["frame"]
    post = [r for r in reqs if r["body"]][0]
    at = post["body_at"] + post["body"].find(json.load(open(DEVICE))["advertising_id"].encode())
    frame = [fr for lo, hi, fr in post["frames"] if lo <= at < hi][0]
    assert by_type["advertising_id"] == frame, (by_type, frame)
    enc = tshark_streams("h3-aes128")[(0, 6)][1]
    assert by_type["android_id"] == enc[0][2], (by_type, enc)


def test_three_transports_one_set_of_findings():
    """The same requests over TLS+HTTP/1.1, TLS+HTTP/2 and QUIC+HTTP/3
    make the same findings: rule, host, identifiers and where they were."""
    def key(rep):
        out = set()
        for f in rep["findings"]:
            ids = tuple(sorted((h["type"], h["where"], json.dumps(h["location"], sort_keys=True))
                               for h in f.get("identifiers") or []))
            out.add((f["rule"], f["host"], f["severity"], ids))
        return out
    sets = {n: key(audit(n, "three")[0]) for n in ("tls-h1", "tls-h2", "h3-aes128")}
    assert sets["tls-h1"] == sets["tls-h2"] == sets["h3-aes128"], sets
    assert any(r == "undeclared-data" for r, *_ in sets["h3-aes128"])


def test_migration():
    """A client that moves to a new port with a connection ID the server
    issued is followed there: tshark opens the packets of both paths, and
    flowaudit decrypts both flows and finds the requests sent on the new
    path, each identifier in the flow that carried it."""
    rows = tshark(["-r", path("h3-migrate", ".pcap"), "-o",
                   "tls.keylog_file:" + path("h3-migrate", ".keys"), "-Y", "quic", "-T", "fields",
                   "-e", "udp.srcport", "-e", "quic.packet_number"]).splitlines()
    moved = [r for r in rows if r.startswith("51001")]
    assert len(moved) >= 5 and all(r.split("\t")[1] for r in rows), rows
    fl = flows("h3-migrate")
    assert len(fl) == 2, fl
    assert all(f["tls_decrypt_status"] == "decrypted" for f in fl), fl
    assert fl[1]["client_port"] == 51001 and fl[1]["http_url"].endswith("/s/h3/h"), fl[1]
    rep, _ = audit("h3-migrate", "moved")
    reqs = requests("h3-aes128")  # the same requests; the first path carries stream 0
    want = expected_hits(reqs[:1]) | expected_hits(reqs[1:])  # each flow names its own first places
    assert hits_of(rep) == want, (hits_of(rep), want)
    flow_of = {(h["type"], h["flow"]) for f in rep["findings"] for h in f.get("identifiers") or []}
    assert flow_of == {("imei", fl[0]["id"]), ("imei", fl[1]["id"]), ("android_id", fl[1]["id"]),
                       ("advertising_id", fl[1]["id"])}, flow_of
    assert rep["summary"]["tls"]["quic"] == {"flows": 2, "decrypted": 2}


def test_no_keys():
    """Without --keylog, and with a key log that lacks the connection:
    no_key, no identifier, and summary.tls.quic says none was examined."""
    for keyed, name in ((False, "h3-aes128"), (True, "h3-nokey")):
        fl = flows(name, keyed)
        assert fl[0]["tls_decrypt_status"] == "no_key", fl[0]
        assert fl[0]["http_url"] is None
        rep, _ = audit(name, "nokey", keyed)
        assert not hits_of(rep)
        q = rep["summary"]["tls"]["quic"]
        assert q == {"flows": 1, "decrypted": 0}, q
    rep, _ = audit("h3-aes128", "keyed")
    assert rep["summary"]["tls"]["quic"] == {"flows": 1, "decrypted": 1}
    assert any("1 of 1 QUIC flows were decrypted" in n for n in rep["notes"]), rep["notes"]


def test_pcapng_secrets_and_evidence():
    """Secrets in a Decryption Secrets Block decrypt without --keylog; the
    evidence of an identifier finding carries them, and tshark opens it
    with no key log."""
    if not os.path.exists(path("h3-dsb", ".pcapng")):
        raise Skip("editcap is not installed")
    rep, out = audit("h3-aes128", "dsb", keyed=False, capture=path("h3-dsb", ".pcapng"))
    assert len(hits_of(rep)) == 3, hits_of(rep)
    f = [f for f in rep["findings"] if f["rule"] == "undeclared-data"][0]
    ev = os.path.join(out, f["evidence"])
    rows = tshark(["-r", ev, "-Y", "quic.stream.stream_id == 8", "-T", "fields",
                   "-e", "quic.stream.stream_id"]).split()
    assert len(rows) >= 3, rows


def test_flood_memory_ceiling():
    """Four keyed connections each send 8 MB of STREAM pieces after a hole:
    flowaudit holds at most its ceiling per connection (1 MiB of pieces,
    plus the connection's fixed state), so its peak memory with the keys
    exceeds its peak without them by less than 4 x 1.5 MiB + 4 MiB."""
    cap, keys = path("flood", ".pcap"), path("flood", ".keys")
    subprocess.run([PY, GEN, "h3-flood", cap, keys], check=True)

    # a small ASan quarantine in a sanitizer build: otherwise freed pieces count as held
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=1"]))

    def peak(extra):
        p = subprocess.Popen([BIN, "flows", "--json", "--no-geo", "--quiet", "-r", cap] + extra,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return ru.ru_maxrss  # KiB
    base, keyed = peak([]), peak(["--keylog", keys])
    assert keyed - base < 4 * 1536 + 4096, (base, keyed)
    fl = json.loads(run(["flows", "--json", "--no-geo", "--quiet", "-r", cap, "--keylog", keys]).stdout)
    quic = [f for f in fl if f["transport"] == "udp"]
    assert len(quic) == 4 and all(f["tls_decrypt_status"] == "decrypted" for f in quic)


if __name__ == "__main__":
    sys.exit(suite.main("quic-keys", globals(), setup, (Skip,), bind=bind,
                        order=suite.in_file_order(globals())))
