#!/usr/bin/python3
"""End-to-end tests: the real flowaudit binary on captures this suite builds.

Each test generates its capture with tests/gen/capgen.py, runs flowaudit,
and states the findings it expects and the ones it must not produce.
Geolocation comes from small MMDB files built here from
tests/e2e/fixtures/*.txt by scripts/mkmmdb.pl.

Usage: run.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "e2e: N passed, N failed, N skipped".
"""
import json
import re
import os
import shutil
import struct
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(TOP, "tests", "e2e", "fixtures")
sys.path.insert(0, os.path.join(TOP, "tests", "gen"))
import capgen  # noqa: E402

BIN = None
WORK = None
GEO = None
ASN = None


class Skip(Exception):
    pass


def run(args, expect=None, stdin=None):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, input=stdin, timeout=600)
    if expect is not None and p.returncode != expect:
        raise AssertionError("exit %d (expected %d) for %s\nstdout: %s\nstderr: %s" %
                             (p.returncode, expect, " ".join(args), p.stdout[-2000:], p.stderr[-2000:]))
    return p


def cap(scenario, link="ether"):
    path = os.path.join(WORK, "%s-%s.pcap" % (scenario, link))
    if not os.path.exists(path):
        capgen.build(scenario, path, link)
    return path


def flows(path, *extra):
    p = run(["flows", "-r", path, "--json", "-g", GEO, "--asn", ASN, "--quiet"] + list(extra), expect=0)
    return json.loads(p.stdout)


def audit(path, *extra, expect=None, policy=None):
    out = tempfile.mkdtemp(prefix="rep-", dir=WORK)
    shutil.rmtree(out)
    args = ["audit", "-r", path, "-p", policy or os.path.join(FIX, "policy.json"), "-g", GEO,
            "--asn", ASN, "-o", out, "--quiet"] + list(extra)
    p = run(args, expect=expect)
    rep = None
    if os.path.exists(os.path.join(out, "report.json")):
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
    return p, rep, out


def rules(rep):
    return sorted({(f["rule"], f["host"]) for f in rep["findings"]})


def has(rep, rule, host=None):
    return any(f["rule"] == rule and (host is None or f["host"] == host) for f in rep["findings"])


def find(rep, rule, host=None):
    for f in rep["findings"]:
        if f["rule"] == rule and (host is None or f["host"] == host):
            return f
    raise AssertionError("no %s finding for %s in %s" % (rule, host, rules(rep)))


def policy_variant(name, old, new):
    """A copy of the test policy with one text replaced, in the work directory."""
    with open(os.path.join(FIX, "policy.json")) as f:
        text = f.read()
    assert old in text, (name, old)
    path = os.path.join(WORK, "policy-%s.json" % name)
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))
    return path


def write_json(name, obj):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def flip(path, offset=None):
    """XOR one byte of a file (the middle one by default); flipping again restores it."""
    size = os.path.getsize(path)
    off = size // 2 if offset is None else offset
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 1]))
    return off


def of_rule(rep, rule):
    return [f for f in rep["findings"] if f["rule"] == rule]


# ---------------------------------------------------------------- flows

def test_flows_link_types():
    """The same TLS flow is named by its SNI under every link type we read."""
    for link in ["ether", "vlan", "qinq", "sll", "sll2", "raw"]:
        fl = flows(cap("undeclared", link))
        tls = [f for f in fl if f["server_port"] == 443]
        assert len(tls) == 1, (link, fl)
        f = tls[0]
        assert f["name"] == "graph.facebook.com", (link, f)
        assert f["name_source"] == "sni", (link, f)
        assert f["client_ip"] == "192.168.1.23" and f["server_ip"] == "157.240.1.35", f
        assert f["country"] == "US" and f["asn"] == 32934, f
        assert f["packets_out"] == 5 and f["packets_in"] == 4, f
        if link in ("vlan", "qinq"):
            assert f["vlan"] in (42, 100), f
        dnsf = [f for f in fl if f["server_port"] == 53]
        assert len(dnsf) == 1 and dnsf[0]["country"] is None, dnsf


def test_flows_fields():
    fl = flows(cap("undeclared"))
    need = ["id", "transport", "client_ip", "client_port", "server_ip", "server_port", "protocol",
            "category", "name", "name_source", "name_frame", "other_names", "country", "asn",
            "packets_out", "bytes_out", "packets_in", "bytes_in", "first_seen", "last_seen",
            "file", "first_frame"]
    for f in fl:
        for k in need:
            assert k in f, (k, f)
    tls = [f for f in fl if f["server_port"] == 443][0]
    assert tls["first_frame"] == 3 and tls["name_frame"] == 6, tls
    assert tls["first_seen"].startswith("2026-11-28T10:00:00.03"), tls


def test_flows_dns_named():
    """No SNI: the flow takes its name from the DNS answer seen before it."""
    fl = flows(cap("dns_named"))
    f = [f for f in fl if f["server_port"] == 443][0]
    assert f["name"] == "graph.facebook.com" and f["name_source"] == "dns", f
    assert f["name_frame"] == 2, f


def test_flows_dns_cname():
    fl = flows(cap("dns_cname"))
    f = [f for f in fl if f["server_port"] == 443][0]
    assert f["name"] == "www.facebook.com" and f["name_source"] == "dns", f
    assert "star-mini.c10r.facebook.com" in f["other_names"], f


def test_flows_ipv6():
    fl = flows(cap("ipv6", "sll2"))
    tls = sorted([f for f in fl if f["server_port"] == 443], key=lambda f: f["id"])
    assert [f["name"] for f in tls] == ["googleads.g.doubleclick.net", "graph.facebook.com"], tls
    assert tls[0]["country"] == "US" and tls[0]["client_ip"] == "fd00::23", tls


def test_flows_http_host():
    fl = flows(cap("http"))
    f = [f for f in fl if f["server_port"] == 80][0]
    assert f["name"] == "api.xigeme.com" and f["name_source"] == "http_host", f
    assert f["country"] == "CN", f


def test_flows_not_utf8_kept():
    # Latin-1 bytes from the wire: the members stay, each bad byte as U+FFFD,
    # in flows --json, report.json, findings.ndjson and the HTML page alike
    fl = flows(cap("http_latin1"))
    f = [f for f in fl if f["server_port"] == 80][0]
    assert f["user_agent"] == "Caf\ufffdBrowser/1.0", f
    assert f["http_url"] is not None and "\ufffd" in f["http_url"], f
    _, rep, out = audit(cap("http_latin1"))
    rf = [x for x in rep["flows"] if x["server_port"] == 80][0]
    assert rf["user_agent"] == f["user_agent"] and rf["http_url"] == f["http_url"], rf
    with open(os.path.join(out, "findings.ndjson"), encoding="utf-8") as nd:
        assert all(json.loads(line) for line in nd)


def test_summary_times_phases():
    out = tempfile.mkdtemp(prefix="rep-", dir=WORK)
    shutil.rmtree(out)
    p = run(["audit", "-r", cap("http"), "-p", os.path.join(FIX, "policy.json"), "-g", GEO,
             "--asn", ASN, "-o", out])
    lines = [l for l in p.stdout.splitlines() if l.startswith("time: ")]
    assert len(lines) == 1 and re.match(r"time: \d+\.\d\d s replay( \(the evidence pack "
                                        r"written beside it\))?, \d+\.\d\d s evidence, "
                                        r"\d+\.\d\d s report files, \d+\.\d\d s hashing$", lines[0]), p.stdout


def test_flows_from_a_pipe():
    # a capture piped in (tcpdump -w - | flowaudit ... -r /dev/stdin) reads as the file does
    # larger than stdio's buffers, as a pipe's reader would notice a second reader
    with open(cap("demo"), "rb") as f:
        head, body = f.read(24), f.read()
    recs, off = [], 0
    while off + 16 <= len(body):
        sec, usec, incl, orig = struct.unpack_from("<IIII", body, off)
        recs.append((sec, usec, incl, orig, body[off + 16:off + 16 + incl]))
        off += 16 + incl
    path = os.path.join(WORK, "piped.pcap")
    with open(path, "wb") as f:
        f.write(head)
        for rep in range(40):  # the same exchange, an hour later each time
            for sec, usec, incl, orig, data in recs:
                f.write(struct.pack("<IIII", sec + 3600 * rep, usec, incl, orig) + data)
    assert os.path.getsize(path) > 200000
    want = flows(path)
    with open(path, "rb") as f:
        data = f.read()
    p = subprocess.Popen([BIN, "flows", "-r", "/dev/stdin", "--json", "-g", GEO, "--asn", ASN,
                          "--quiet"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(data, timeout=120)
    assert p.returncode == 0, err
    got = json.loads(out)
    strip = lambda fl: [{k: v for k, v in f.items() if k != "file"} for f in fl]
    assert strip(got) == strip(want) and len(want) > 0, (err[-300:], len(got), len(want))

    def audit_pipe(*extra):
        out = os.path.join(WORK, "rep-pipe-%d" % len(extra))
        q = subprocess.Popen([BIN, "audit", "-r", "/dev/stdin", "-p", os.path.join(FIX, "policy.json"),
                              "-g", GEO, "--asn", ASN, "-o", out, "--quiet"] + list(extra),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, e = q.communicate(data, timeout=120)
        return q.returncode, e.decode(), out

    # evidence needs a second read: refused up front, naming the way out
    rc, e, out = audit_pipe()
    assert rc == 2 and "--format json,html,ndjson,junit" in e and not os.path.exists(out), (rc, e)
    # without it the report is made, and says the capture has no digest
    rc, e, out = audit_pipe("--format", "json,ndjson")
    assert rc in (0, 1), e
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    assert rep["inputs"]["captures"][0]["sha256"] is None
    assert any("pipe" in n for n in rep["notes"]), rep["notes"]
    with open(os.path.join(out, "MANIFEST.sha256")) as f:
        assert "/dev/stdin" not in f.read()
    assert run(["verify", out]).returncode == 0


def test_flows_private_never_located():
    """The test database places 192.168/16 in AU: private addresses must never be looked up."""
    fl = flows(cap("undeclared"))
    for f in fl:
        if f["server_ip"].startswith("192.168."):
            assert f["country"] is None, f


def test_flows_missing_file():
    p = run(["flows", "-r", os.path.join(WORK, "nope.pcap")], expect=2)
    assert "nope.pcap" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_flows_not_a_capture():
    bad = os.path.join(WORK, "not-a-capture.pcap")
    with open(bad, "w") as f:
        f.write("hello\n" * 10)
    p = run(["flows", "-r", bad], expect=2)
    assert "not-a-capture.pcap" in p.stderr, p.stderr


# ---------------------------------------------------------------- audit rules

def test_rule_undeclared_recipient():
    p, rep, _ = audit(cap("undeclared"), expect=1)
    f = find(rep, "undeclared-recipient", "graph.facebook.com")
    assert f["recipient"]["kind"] == "sdk" and f["device"] == "192.168.1.23", f
    assert f["name_source"] == "sni" and f["clause"], f
    assert f["frames"] and f["frames"][0]["numbers"][0] == 3, f
    assert not has(rep, "unknown-endpoint"), rules(rep)


def test_silent_declared_in_region():
    """A declared SDK and the first party, both in the declared region, over TLS: no finding."""
    p, rep, _ = audit(cap("declared_in_region"), expect=0)
    assert rep["findings"] == [], rules(rep)
    verdicts = {s["id"]: s["verdict"] for s in rep["statements"]}
    assert verdicts.get("recipient:umeng") == "kept", verdicts
    assert verdicts.get("first_party") == "kept", verdicts


def test_rule_unknown_endpoint():
    p, rep, _ = audit(cap("unknown"), expect=1)
    f = find(rep, "unknown-endpoint", "telemetry.unlisted-vendor.cn")
    assert f["recipient"]["kind"] == "unknown" and f["severity"] == "low", f
    assert not has(rep, "cross-border-without-consent"), rules(rep)


def test_rule_cross_border_without_consent():
    p, rep, _ = audit(cap("cross_border"), expect=1)
    f = find(rep, "cross-border-without-consent", "googleads.g.doubleclick.net")
    assert f["country"] == "US" and f["recipient"]["id"] == "admob", f
    assert not has(rep, "undeclared-recipient"), rules(rep)


# grant for every purpose AdMob serves and for cross_border itself, before the first flow
GRANT_ALL = [{"time": "2026-11-28T09:59:00Z", "event": "consent_granted", "purposes": ["cross_border", "advertising"]}]


def test_cross_border_never_despite_consent():
    """rule never: a consent grant changes nothing, every flow abroad is a finding."""
    ev = write_json("events-grant-all.json", GRANT_ALL)
    # control: the same grant under with_consent covers every flow
    p, rep, _ = audit(cap("consent"), "-e", ev, expect=0)
    assert not has(rep, "cross-border-without-consent"), rules(rep)
    never = policy_variant("never", '"rule": "with_consent"', '"rule": "never"')
    p, rep, _ = audit(cap("consent"), "-e", ev, policy=never, expect=1)
    cb = of_rule(rep, "cross-border-without-consent")
    assert sorted(sum((f["flows"] for f in cb), [])) == [1, 2, 3], [(f["host"], f["flows"]) for f in cb]
    assert {f["host"] for f in cb} == {"googleads.g.doubleclick.net", "pagead2.googlesyndication.com"}, cb
    assert not has(rep, "before-consent") and not has(rep, "after-withdrawal"), rules(rep)
    verdicts = {s["id"]: s["verdict"] for s in rep["statements"]}
    assert verdicts.get("cross_border") == "broken", verdicts


def test_cross_border_allowed_silent():
    """rule allowed: no consent at all, destinations abroad, and still no cross-border finding."""
    allowed = policy_variant("allowed", '"rule": "with_consent"', '"rule": "allowed"')
    p, rep, _ = audit(cap("consent"), policy=allowed, expect=1)
    assert not has(rep, "cross-border-without-consent"), rules(rep)
    assert has(rep, "before-consent", "googleads.g.doubleclick.net"), rules(rep)
    assert {f["country"] for f in rep["flows"] if f["server_port"] == 443} == {"US"}, rep["flows"]
    p, rep, _ = audit(cap("cross_border"), policy=allowed, expect=1)
    assert not has(rep, "cross-border-without-consent"), rules(rep)
    verdicts = {s["id"]: s["verdict"] for s in rep["statements"]}
    assert verdicts.get("cross_border") != "broken", verdicts


def test_unknown_country_not_judged():
    """A public address the country database does not place: country null, counted, noted, not judged."""
    p, rep, _ = audit(cap("unplaced"), expect=1)
    unplaced = [f for f in rep["flows"] if f["server_ip"] == capgen.UNPLACED_IP]
    placed = [f for f in rep["flows"] if f["server_ip"] == capgen.ADMOB_IP]
    assert len(unplaced) == 1 and len(placed) == 1, rep["flows"]
    assert unplaced[0]["country"] is None and unplaced[0]["scope"] == "public", unplaced
    assert rep["summary"]["unknown_country_flows"] == 1, rep["summary"]
    assert any("does not place" in n or "country" in n for n in rep["notes"]), rep["notes"]
    cb = of_rule(rep, "cross-border-without-consent")
    cb_flows = sum((f["flows"] for f in cb), [])
    assert unplaced[0]["id"] not in cb_flows, cb
    assert placed[0]["id"] in cb_flows, cb  # control: the same host at a US address is judged
    bc = sum((f["flows"] for f in of_rule(rep, "before-consent")), [])
    assert unplaced[0]["id"] in bc, rules(rep)  # other rules still see the flow
    fl = flows(cap("unplaced"))
    assert [f["country"] for f in fl if f["server_ip"] == capgen.UNPLACED_IP] == [None], fl


def test_rule_unencrypted_transport():
    p, rep, _ = audit(cap("http"), expect=1)
    f = find(rep, "unencrypted-transport", "api.xigeme.com")
    assert f["recipient"]["kind"] == "first_party", f
    p, rep, _ = audit(cap("tls_only"), expect=0)
    assert not has(rep, "unencrypted-transport"), rules(rep)


def test_rule_dns_named_finding():
    p, rep, _ = audit(cap("dns_named"), expect=1)
    f = find(rep, "undeclared-recipient", "graph.facebook.com")
    assert f["name_source"] == "dns" and f["name_frame"] == 2, f


def test_audit_ipv6_and_sll2():
    p, rep, _ = audit(cap("ipv6", "sll2"), expect=1)
    assert has(rep, "undeclared-recipient", "graph.facebook.com"), rules(rep)
    assert has(rep, "cross-border-without-consent", "googleads.g.doubleclick.net"), rules(rep)
    assert find(rep, "undeclared-recipient")["device"] == "fd00::23"


def test_audit_vlan():
    p, rep, _ = audit(cap("undeclared", "vlan"), expect=1)
    assert has(rep, "undeclared-recipient", "graph.facebook.com"), rules(rep)


def _finding_keys(rep):
    return sorted((f["rule"], f["host"], f["device"], f["severity"], tuple(f["flows"]),
                   tuple(n for fr in f["frames"] for n in fr["numbers"]), f["name_source"], f["name_frame"],
                   tuple((i["type"], i["encoding"], i["frame"], i["offset"], i["direction"]) for i in f["identifiers"]))
                  for f in rep["findings"])


def test_audit_sll_same_as_ether():
    """Linux cooked capture v1 (DLT 113) gives the same findings as Ethernet."""
    dev = os.path.join(FIX, "device.json")
    ev = os.path.join(FIX, "events-consent.json")
    p, eth, _ = audit(cap("demo"), "-d", dev, "-e", ev, expect=1)
    p, sll, _ = audit(cap("demo", "sll"), "-d", dev, "-e", ev, expect=1)
    assert sll["inputs"]["captures"][0]["linktype"] == 113, sll["inputs"]["captures"]
    assert eth["findings"], rules(eth)
    a, b = _finding_keys(eth), _finding_keys(sll)
    assert a == b, [x for x in a if x not in b] + ["--"] + [x for x in b if x not in a]
    assert sll["summary"]["decode"]["ok"] == sll["summary"]["decode"]["frames"], sll["summary"]["decode"]


def test_several_captures():
    """Several -r: frame numbers restart at 1 in each file and every flow names its own file."""
    a, b = cap("demo"), cap("undeclared")  # demo has 60 frames: numbering across files would show
    fl = flows(a, "-r", b)
    tls_b = [f for f in fl if f["file"] == b and f["server_port"] == 443]
    assert len(tls_b) == 1, fl
    assert tls_b[0]["first_frame"] == 3 and tls_b[0]["name_frame"] == 6, tls_b
    assert tls_b[0]["name"] == "graph.facebook.com", tls_b
    files = {f["file"] for f in fl}
    assert files == {a, b}, files
    single_a = flows(a)
    assert len([f for f in fl if f["file"] == a]) == len(single_a), (len(fl), len(single_a))
    assert sorted(f["first_frame"] for f in fl if f["file"] == a) == sorted(f["first_frame"] for f in single_a)
    dnsb = [f for f in fl if f["file"] == b and f["server_port"] == 53]
    assert len(dnsb) == 1 and dnsb[0]["first_frame"] == 1, dnsb

    p, rep, out = audit(b, "-r", cap("cross_border"), expect=1)
    assert [c["path"] for c in rep["inputs"]["captures"]] == [b, cap("cross_border")], rep["inputs"]["captures"]
    ur = find(rep, "undeclared-recipient", "graph.facebook.com")
    assert ur["frames"] == [{"file": b, "numbers": list(range(3, 12))}], ur["frames"]
    cb = find(rep, "cross-border-without-consent", "googleads.g.doubleclick.net")
    assert cb["frames"] == [{"file": cap("cross_border"), "numbers": list(range(3, 12))}], cb["frames"]
    assert cb["name_file"] == cap("cross_border") and cb["name_frame"] == 6, cb
    for f in rep["flows"]:
        want = b if f["client_port"] in (50001, 60001) else cap("cross_border")
        assert f["file"] == want, f
        assert 1 <= f["first_frame"] <= 12, f
    with open(os.path.join(out, "MANIFEST.sha256")) as f:
        man = f.read()
    assert "input:" + b in man and "input:" + cap("cross_border") in man, man


def test_audit_several_devices():
    p, rep, _ = audit(cap("multi_device"), expect=1)
    devs = sorted(f["device"] for f in rep["findings"] if f["rule"] == "undeclared-recipient")
    assert devs == ["192.168.1.23", "192.168.1.42"], devs
    p, rep, _ = audit(cap("multi_device"), "--device", "192.168.1.42", expect=1)
    devs = sorted({f["device"] for f in rep["findings"]})
    assert devs == ["192.168.1.42"], devs


def test_fail_on():
    audit(cap("unknown"), "--fail-on", "high", expect=0)
    audit(cap("unknown"), "--fail-on", "low", expect=1)


# ---------------------------------------------------------------- consent

def test_consent_timeline():
    ev = os.path.join(FIX, "events-consent.json")
    p, rep, _ = audit(cap("consent"), "-e", ev, expect=1)
    bc = [f for f in rep["findings"] if f["rule"] == "before-consent"]
    aw = [f for f in rep["findings"] if f["rule"] == "after-withdrawal"]
    assert len(bc) == 1 and bc[0]["flows"] == [1], rules(rep)
    assert len(aw) == 1 and aw[0]["flows"] == [3], rules(rep)
    assert aw[0]["consent"]["state"] == "withdrawn" and aw[0]["consent"]["event"] == 1, aw
    # the grant covers advertising, which AdMob serves, so it also covers the transfer abroad:
    # the flows before the grant and after the withdrawal are cross-border without consent
    cb = [f for f in rep["findings"] if f["rule"] == "cross-border-without-consent"]
    assert sorted(sum((f["flows"] for f in cb), [])) == [1, 3], [(f["host"], f["flows"]) for f in cb]
    assert all(f["country"] == "US" for f in cb), cb
    assert not any(2 in f["flows"] for f in rep["findings"] if f["rule"] in
                   ("before-consent", "after-withdrawal", "cross-border-without-consent")), rep["findings"]
    assert len(rep["consent_events"]) == 2


def test_consent_no_events():
    p, rep, _ = audit(cap("consent"), expect=1)
    bc = [f for f in rep["findings"] if f["rule"] == "before-consent"]
    assert len(bc) >= 1 and sorted(sum((f["flows"] for f in bc), [])) == [1, 2, 3], bc
    assert not has(rep, "after-withdrawal")


def test_consent_other_purpose():
    ev = os.path.join(WORK, "events-analytics.json")
    with open(ev, "w") as f:
        json.dump([{"time": "2026-11-28T10:00:01Z", "event": "consent_granted", "purposes": ["analytics"]}], f)
    p, rep, _ = audit(cap("consent"), "-e", ev, expect=1)
    bc = [f for f in rep["findings"] if f["rule"] == "before-consent"]
    assert sorted(sum((f["flows"] for f in bc), [])) == [1, 2, 3], bc


# ---------------------------------------------------------------- identifiers

ID_CASES = [
    ("id_plain", "imei", "plain"),
    ("id_hex", "android_id", "hex"),
    ("id_url", "email", "url"),
    ("id_base64", "advertising_id", "base64"),
    ("id_md5", "imei", "md5"),
    ("id_sha256_mac", "mac", "sha256"),
    ("id_split", "imei", "plain"),
    ("id_ooo", "imei", "plain"),
    ("id_gzip", "android_id", "plain"),
    ("id_dns_label", "android_id", "plain"),
    ("id_sha1", "imei", "sha1"),
    ("id_tcp_raw", "imei", "plain"),
    ("id_udp_raw", "android_id", "plain"),
]


def test_identifiers():
    dev = os.path.join(FIX, "device.json")
    for scen, typ, enc in ID_CASES:
        p, rep, _ = audit(cap(scen), "-d", dev, expect=1)
        cl = [f for f in rep["findings"] if f["rule"] == "cleartext-identifier"]
        assert cl, (scen, rules(rep))
        ids = [(i["type"], i["encoding"]) for f in cl for i in f["identifiers"]]
        assert (typ, enc) in ids, (scen, ids)
        for f in cl:
            for i in f["identifiers"]:
                assert i["frame"] > 0 and "*" in i["masked"], i
        if scen != "id_dns_label":
            assert has(rep, "undeclared-data"), (scen, rules(rep))


def test_identifiers_base64_alignments():
    dev = os.path.join(FIX, "device.json")
    p, rep, _ = audit(cap("id_base64"), "-d", dev, expect=1)
    cl = [f for f in rep["findings"] if f["rule"] == "cleartext-identifier"]
    flows_hit = {i["flow"] for f in cl for i in f["identifiers"] if i["type"] == "advertising_id"}
    assert len(flows_hit) == 3, flows_hit


def test_identifiers_negative():
    dev = os.path.join(FIX, "device.json")
    p, rep, _ = audit(cap("id_negative"), "-d", dev, expect=None)
    assert not has(rep, "cleartext-identifier"), rules(rep)
    assert not has(rep, "undeclared-data"), rules(rep)


def _id_findings(rep, rule="cleartext-identifier"):
    return [(i["type"], i["encoding"], i["direction"]) for f in of_rule(rep, rule) for i in f["identifiers"]]


def test_identifiers_base64url():
    """A URL-safe base64 token whose encoding holds '-' or '_': reported as base64url."""
    dev = os.path.join(FIX, "device-serial.json")
    p, rep, _ = audit(cap("id_base64url"), "-d", dev, expect=1)
    ids = _id_findings(rep)
    assert ("serial", "base64url", "out") in ids, (ids, rules(rep))
    f = find(rep, "cleartext-identifier", "collect.unlisted-vendor.cn")
    assert f["identifiers"][0]["masked"].endswith(capgen.SERIAL[-4:]), f["identifiers"]


def test_identifiers_server_to_client():
    """The IMEI in an HTTP response body: found, direction in; the device did not send it."""
    dev = os.path.join(FIX, "device.json")
    p, rep, _ = audit(cap("id_response"), "-d", dev, expect=1)
    ids = _id_findings(rep)
    assert ("imei", "plain", "in") in ids, (ids, rules(rep))
    assert all(d == "in" for _, _, d in ids), ids
    i = find(rep, "cleartext-identifier")["identifiers"][0]
    assert i["frame"] == 5, i  # SYN, SYN-ACK, ACK, request, then the response
    # undeclared-data is about identifiers the device sends (docs/rules.md)
    assert not has(rep, "undeclared-data"), rules(rep)


def test_identifiers_non_http():
    """Plain TCP on a non-HTTP port, and a non-DNS UDP datagram, are scanned too."""
    dev = os.path.join(FIX, "device.json")
    for scen, transport, port, typ in (("id_tcp_raw", "tcp", 7070, "imei"), ("id_udp_raw", "udp", 9999, "android_id")):
        p, rep, _ = audit(cap(scen), "-d", dev, expect=1)
        fl = [f for f in rep["flows"] if f["server_port"] == port]
        assert len(fl) == 1 and fl[0]["transport"] == transport, (scen, rep["flows"])
        assert fl[0]["protocol"] not in ("HTTP", "DNS"), (scen, fl)
        cl = of_rule(rep, "cleartext-identifier")
        hits = [i for f in cl for i in f["identifiers"] if i["flow"] == fl[0]["id"]]
        assert [(i["type"], i["encoding"], i["direction"]) for i in hits] == [(typ, "plain", "out")], (scen, hits)
        assert hits[0]["where"] == "payload", hits


# ---------------------------------------------------------------- undeclared-data

def test_undeclared_data_first_party():
    """The first party declares device_id and ip_address: the IMEI is covered, the e-mail is not."""
    dev = os.path.join(FIX, "device.json")
    p, rep, _ = audit(cap("id_first_party"), "-d", dev, expect=1)
    ud = find(rep, "undeclared-data", capgen.FIRST_PARTY)
    assert ud["recipient"]["kind"] == "first_party", ud["recipient"]
    assert [i["type"] for i in ud["identifiers"]] == ["email"], ud["identifiers"]
    assert ud["severity"] == "medium", ud
    cl = find(rep, "cleartext-identifier", capgen.FIRST_PARTY)
    assert {i["type"] for i in cl["identifiers"]} == {"imei", "email"}, cl["identifiers"]
    assert len(of_rule(rep, "undeclared-data")) == 1, rules(rep)
    # docs/outputs.md: clause is "the policy text contradicted" -- here the first party's data clause
    assert ud["clause"] == "test §1: our servers at xigeme.com", ud["clause"]


def test_undeclared_data_declared_sdk_silent():
    """Umeng declares device_id: the Android ID reaching it is declared (but still in clear)."""
    dev = os.path.join(FIX, "device.json")
    p, rep, _ = audit(cap("id_sdk_declared"), "-d", dev, expect=1)
    assert not has(rep, "undeclared-data"), rules(rep)
    cl = find(rep, "cleartext-identifier", "alog.umeng.com")
    assert cl["recipient"]["kind"] == "sdk" and cl["recipient"]["id"] == "umeng", cl["recipient"]
    assert [i["type"] for i in cl["identifiers"]] == ["android_id"], cl["identifiers"]
    assert not has(rep, "undeclared-recipient"), rules(rep)
    # control: the same capture against a declaration whose Umeng entry lacks device_id
    nodev = policy_variant("umeng-no-device-id", '"data": ["device_id"], "clause": "test §3',
                           '"data": ["crash_data"], "clause": "test §3')
    p, rep, _ = audit(cap("id_sdk_declared"), "-d", dev, policy=nodev, expect=1)
    ud = find(rep, "undeclared-data", "alog.umeng.com")
    assert [i["type"] for i in ud["identifiers"]] == ["android_id"], ud
    assert ud["clause"] == "test §3: we integrate Umeng analytics", ud["clause"]  # the clause contradicted


# ---------------------------------------------------------------- bad inputs

def _no_report(out):
    assert not os.path.exists(out), os.listdir(out)
    parent = os.path.dirname(out)
    assert not [d for d in os.listdir(parent) if d.startswith(os.path.basename(out) + ".tmp")]


def test_bad_inputs():
    good = cap("undeclared")
    p, rep, out = audit(os.path.join(WORK, "missing.pcap"), expect=2)
    assert "missing.pcap" in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.endswith("\n"), p.stderr
    _no_report(out)
    cases = {
        "unknown-sdk": ('"sdk": "admob"', '"sdk": "admobb"', "admobb"),
        "bad-country": ('["CN"]', '["XX"]', "storage_regions"),
        "bad-rule": ('"with_consent"', '"sometimes"', "cross_border"),
        "unknown-field": ('"storage_regions"', '"storage_region"', "storage_region"),
        "wrong-type": ('"promised": true', '"promised": "yes"', "promised"),
        "bad-json": ('"schema":', '"schema"', "bad-json.json"),
    }
    with open(os.path.join(FIX, "policy.json")) as f:
        text = f.read()
    for name, (old, new, must) in cases.items():
        assert old in text, name
        path = os.path.join(WORK, name + ".json")
        with open(path, "w") as f:
            f.write(text.replace(old, new, 1))
        p, rep, out = audit(good, policy=path, expect=2)
        assert name + ".json" in p.stderr and must in p.stderr, (name, p.stderr)
        assert p.stderr.strip().count("\n") == 0, (name, p.stderr)
        _no_report(out)


def test_missing_capture_one_line():
    """Without --quiet too: a missing capture is one line on stderr, exit 2, no report."""
    out = os.path.join(WORK, "rep-missing-loud")
    p = run(["audit", "-r", os.path.join(WORK, "absent.pcap"), "-p", os.path.join(FIX, "policy.json"),
             "-g", GEO, "--asn", ASN, "-o", out], expect=2)
    assert "absent.pcap" in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.endswith("\n"), p.stderr
    _no_report(out)
    p = run(["flows", "-r", os.path.join(WORK, "absent.pcap"), "-g", GEO], expect=2)
    assert p.stderr.count("\n") == 1, p.stderr


def test_output_dir_not_creatable():
    """-o under a regular file: exit 3 (runtime failure), a message naming the place."""
    regular = os.path.join(WORK, "regular-file")
    with open(regular, "w") as f:
        f.write("not a directory\n")
    out = os.path.join(regular, "out")
    p = run(["audit", "-r", cap("undeclared"), "-p", os.path.join(FIX, "policy.json"), "-g", GEO,
             "--asn", ASN, "-o", out, "--quiet"], expect=3)
    assert "regular-file" in p.stderr, p.stderr
    with open(regular) as f:
        assert f.read() == "not a directory\n"


# ---------------------------------------------------------------- report outputs

def test_report_outputs():
    dev = os.path.join(FIX, "device.json")
    p, rep, out = audit(cap("demo"), "-d", dev, expect=1)
    for name in ["report.json", "report.html", "findings.ndjson", "junit.xml", "MANIFEST.sha256"]:
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "findings.ndjson")) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    assert len(lines) == len(rep["findings"]), (len(lines), len(rep["findings"]))
    import xml.etree.ElementTree as ET
    root = ET.parse(os.path.join(out, "junit.xml")).getroot()
    failures = sum(int(s.get("failures", "0")) for s in root.iter("testsuite"))
    assert failures >= len([f for f in rep["findings"]]) or failures > 0, failures
    with open(os.path.join(out, "report.html")) as f:
        html = f.read()
    for fd in rep["findings"]:
        assert fd["id"] in html, fd["id"]


def test_report_schema():
    try:
        import jsonschema
    except ImportError:
        raise Skip("python3-jsonschema not installed")
    p, rep, out = audit(cap("demo"), "-d", os.path.join(FIX, "device.json"), expect=1)
    with open(os.path.join(TOP, "docs", "report-schema.json")) as f:
        schema = json.load(f)
    jsonschema.validate(rep, schema)


def test_evidence_pcaps():
    """Each finding's evidence pcap, read again, holds exactly the finding's flows."""
    p, rep, out = audit(cap("demo"), expect=1)
    for fd in rep["findings"]:
        ev = os.path.join(out, fd["evidence"])
        fl = flows(ev)
        got = sorted((f["client_port"], f["server_ip"], f["server_port"]) for f in fl)
        want = sorted((x["client_port"], x["server_ip"], x["server_port"])
                      for x in rep["flows"] if x["id"] in fd["flows"])
        assert got == want, (fd["id"], got, want)
        nums = sum((len(x["numbers"]) for x in fd["frames"]), 0)
        assert nums == sum(f["packets_out"] + f["packets_in"] for f in fl), fd
    # findings of the same flows share one file; others never do
    groups = {}
    for fd in rep["findings"]:
        ino = os.stat(os.path.join(out, fd["evidence"])).st_ino
        groups.setdefault(tuple(fd["flows"]), set()).add(ino)
    assert all(len(v) == 1 for v in groups.values()), groups
    inodes = [next(iter(v)) for v in groups.values()]
    assert len(set(inodes)) == len(inodes), groups
    assert len(groups) < len(rep["findings"]), "the demo has findings on the same flows"


def report_files(out):
    """Every file of a report, by its path in the report, with its bytes."""
    files = {}
    for dp, _, fns in os.walk(out):
        for fn in fns:
            path = os.path.join(dp, fn)
            with open(path, "rb") as f:
                files[os.path.relpath(path, out)] = f.read()
    return files


def same_epoch(fn):
    """Runs fn with SOURCE_DATE_EPOCH set, so that reports carry one time."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = "1764547200"
    try:
        return fn()
    finally:
        if old is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


def test_reproducible_report():
    """With SOURCE_DATE_EPOCH, two runs on the same inputs give the same report,
    byte for byte, and say that time."""
    _, rep1, out1 = same_epoch(lambda: audit(cap("demo"), expect=1))
    _, rep2, out2 = same_epoch(lambda: audit(cap("demo"), expect=1))
    assert rep1["generated_at"] == "2025-12-01T00:00:00Z", rep1["generated_at"]
    assert report_files(out1) == report_files(out2)


def test_threads_same_report():
    """--threads 2 (nDPI in its own thread) gives the report of one thread, file for
    file and byte for byte: several captures, devices, consent events, identifiers."""
    caps = [cap(n) for n in ("demo", "multi_device", "consent", "id_sdk_declared", "http",
                             "dns_named", "cross_border", "undeclared")]
    extra = []
    for c in caps[1:]:
        extra += ["-r", c]
    extra += ["-d", os.path.join(FIX, "device.json"), "-e", os.path.join(FIX, "events-consent.json")]
    _, rep1, out1 = same_epoch(lambda: audit(caps[0], *extra, expect=1))
    _, rep2, out2 = same_epoch(lambda: audit(caps[0], "--threads", "2", *extra, expect=1))
    assert rep1["findings"], "no finding to compare"
    a, b = report_files(out1), report_files(out2)
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    differ = [n for n in a if a[n] != b[n]]
    assert not differ, differ
    f1 = run(["flows", "--json", "--quiet", "-g", GEO, "-r", caps[0]] + extra[:2 * (len(caps) - 1)],
             expect=0).stdout
    f2 = run(["flows", "--json", "--quiet", "-g", GEO, "--threads", "2", "-r", caps[0]]
             + extra[:2 * (len(caps) - 1)], expect=0).stdout
    assert f1 == f2 and json.loads(f1), "flows --json differs with --threads 2"


def test_count_suffixes():
    """Counts take k/M/G (powers of 1000) and Ki/Mi/Gi (powers of 1024)."""
    c = cap("demo")
    base = run(["flows", "-r", c, "--json", "--quiet", "--stream-limit", "262144"], expect=0).stdout
    assert run(["flows", "-r", c, "--json", "--quiet", "--stream-limit", "256Ki"], expect=0).stdout == base
    p = run(["flows", "-r", c, "--max-flows", "5Gi"], expect=2)
    assert "out of range" in p.stderr, p.stderr  # 5 * 2^30 is past the cap of 2^32
    for bad in ("1Kx", "1i", "Ki"):
        p = run(["flows", "-r", c, "--stream-limit", bad], expect=2)
        assert "not a number" in p.stderr, p.stderr


def test_threads_refused():
    """--threads takes 1 or 2, and only where captures are replayed."""
    for bad in ("0", "3", "x"):
        p = run(["flows", "-r", cap("demo"), "--threads", bad], expect=2)
        assert "--threads" in p.stderr, p.stderr
    p = run(["capture", "-i", "lo", "--threads", "2", "-p", os.path.join(FIX, "policy.json")], expect=2)
    assert "does not apply" in p.stderr, p.stderr


def read_pcap(path):
    """(sec, nsec, bytes) of every record of a classic pcap, either precision."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
    scale = 1 if magic == 0xa1b23c4d else 1000
    recs, off = [], 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        recs.append((sec, frac * scale, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return recs


def test_evidence_nanosecond_timestamps():
    """A nanosecond capture's evidence keeps every packet's time stamp to the
    nanosecond and its bytes unchanged."""
    import struct
    src = read_pcap(cap("demo"))
    ns = os.path.join(WORK, "demo-ns.pcap")
    with open(ns, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))
        for k, (sec, nsec, b) in enumerate(src):
            f.write(struct.pack("<IIII", sec, nsec + 123 + k, len(b), len(b)) + b)
    p, rep, out = audit(ns, expect=1)
    orig = {b: (sec, nsec) for sec, nsec, b in read_pcap(ns)}
    n = 0
    for fd in rep["findings"]:
        for sec, nsec, b in read_pcap(os.path.join(out, fd["evidence"])):
            assert b in orig, fd["id"]
            assert (sec, nsec) == orig[b], (fd["id"], (sec, nsec), orig[b])
            n += 1
    assert n > 0


def test_interrupted_run_keeps_previous_report():
    """A run killed at any moment (SIGKILL, so nothing can tidy up) leaves
    OUTDIR holding the previous complete report, which still verifies, or
    the new complete one: never half a report."""
    import signal
    import subprocess
    import time
    big = os.path.join(WORK, "interrupt.pcap")
    subprocess.run(["/usr/bin/python3", os.path.join(TOP, "tests", "gen", "flood.py"), big,
                    "--packets", "60000", "--scan", "30000"], check=True, capture_output=True)
    out = os.path.join(WORK, "interrupted-report")
    args = [BIN, "audit", "-r", cap("demo"), "-r", big, "-p", os.path.join(FIX, "policy.json"),
            "-g", GEO, "--asn", ASN, "-o", out, "--quiet"]
    assert subprocess.run(args, capture_output=True).returncode == 1
    run(["verify", out], expect=0)
    # the ASan build takes about 3.5 s here: the later kills fall in the report
    for delay in (0.3, 1.5, 2.6, 3.0, 3.3):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        p = run(["verify", out])
        assert p.returncode == 0, "after SIGKILL at %.2f s: %s%s" % (delay, p.stdout[-500:],
                                                                    p.stderr)
        with open(os.path.join(out, "report.json")) as f:
            assert json.load(f)["schema"] == "flowaudit-report/1"
    # the next run clears what the killed ones left beside the report
    assert subprocess.run(args, capture_output=True).returncode == 1
    left = [n for n in os.listdir(WORK) if n.startswith("interrupted-report.")]
    assert left == [], left


def test_verify():
    p, rep, out = audit(cap("demo"), expect=1)
    run(["verify", out], expect=0)
    path = os.path.join(out, "report.json")
    with open(path, "r+b") as f:
        f.seek(10)
        b = f.read(1)
        f.seek(10)
        f.write(bytes([b[0] ^ 1]))
    p = run(["verify", out], expect=1)
    assert "report.json" in p.stdout + p.stderr, p.stdout


def test_verify_input_changed():
    src = cap("undeclared")
    copy = os.path.join(WORK, "verify-input.pcap")
    shutil.copy(src, copy)
    p, rep, out = audit(copy, expect=1)
    run(["verify", out], expect=0)
    with open(copy, "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    p = run(["verify", out], expect=1)
    assert "verify-input.pcap" in p.stdout + p.stderr, p.stdout


RULE_IDS = ["undeclared-recipient", "unknown-endpoint", "cross-border-without-consent", "before-consent",
            "after-withdrawal", "cleartext-identifier", "undeclared-data", "unencrypted-transport"]


def _junit(out):
    import xml.etree.ElementTree as ET
    root = ET.parse(os.path.join(out, "junit.xml")).getroot()
    assert root.tag == "testsuites", root.tag
    return root, {s.get("name"): s for s in root.findall("testsuite")}


def test_junit_cases():
    """A test case per declared statement and per rule; failures carry the finding ids."""
    dev = os.path.join(FIX, "device.json")
    ev = os.path.join(FIX, "events-consent.json")
    p, rep, out = audit(cap("demo"), "-d", dev, "-e", ev, expect=1)
    root, suites = _junit(out)
    assert set(suites) == set(["audit coverage", "declared statements"] + RULE_IDS), sorted(suites)
    for s in root.findall("testsuite"):
        cases = s.findall("testcase")
        assert int(s.get("tests")) == len(cases), (s.get("name"), s.get("tests"), len(cases))
        assert int(s.get("failures")) == len([c for c in cases if c.find("failure") is not None]), s.get("name")
    assert int(root.get("failures")) == sum(int(s.get("failures")) for s in suites.values()), root.attrib
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites.values()), root.attrib

    st = {}
    for c in suites["declared statements"].findall("testcase"):
        sid = c.get("name").split(": ", 1)[0]
        assert sid not in st, ("statement twice", sid)
        st[sid] = c
    with open(os.path.join(FIX, "policy.json")) as f:
        pol = json.load(f)
    declared = ["recipient:" + r["sdk"] for r in pol["recipients"]] + ["cross_border", "encryption_in_transit"]
    for sid in declared:
        assert sid in st, (sid, sorted(st))
    for s in rep["statements"]:
        c = st.get(s["id"])
        assert c is not None, (s["id"], sorted(st))
        fail, skip = c.find("failure"), c.find("skipped")
        if s["verdict"] == "broken":
            assert fail is not None, s
            for fid in s["findings"]:
                assert fid in fail.get("message"), (s["id"], fid, fail.get("message"))
        elif s["verdict"] == "not_exercised":
            assert skip is not None and fail is None, s
        else:
            assert fail is None and skip is None, s
    assert st["cross_border"].find("failure") is not None
    assert st["recipient:umeng"].find("skipped") is not None  # umeng is not in the demo capture

    for rule in RULE_IDS:
        cases = suites[rule].findall("testcase")
        want = [f for f in rep["findings"] if f["rule"] == rule]
        if not want:
            assert len(cases) == 1 and cases[0].find("failure") is None, (rule, [c.attrib for c in cases])
            continue
        assert len(cases) == len(want), (rule, len(cases), len(want))
        byid = {c.get("name").split(" ", 1)[0]: c for c in cases}
        for f in want:
            c = byid.get(f["id"])
            assert c is not None, (rule, f["id"], sorted(byid))
            assert f["host"] in c.get("name"), (f["host"], c.get("name"))
            fail = c.find("failure")
            assert fail is not None and fail.get("type") == f["severity"], (f["id"], c.attrib)
    assert not of_rule(rep, "after-withdrawal")  # so the "no findings" case above was exercised


def test_junit_fail_on():
    """--fail-on high: medium findings pass (details in system-out), and so does a statement they alone break."""
    dev = os.path.join(FIX, "device.json")
    p, rep, out = audit(cap("demo"), "-d", dev, "--fail-on", "high", expect=1)
    root, suites = _junit(out)
    for c in suites["unencrypted-transport"].findall("testcase"):
        assert c.find("failure") is None and c.find("system-out") is not None, c.attrib
    for c in suites["cleartext-identifier"].findall("testcase"):
        assert c.find("failure") is not None, c.attrib
    data = [c for c in suites["declared statements"].findall("testcase") if c.get("name").startswith("data:")]
    verdicts = {s["id"]: s for s in rep["statements"]}
    assert verdicts["data"]["verdict"] == "broken", verdicts["data"]
    assert all(f["severity"] == "medium" for f in rep["findings"] if f["id"] in verdicts["data"]["findings"])
    assert len(data) == 1 and data[0].find("failure") is None, [c.attrib for c in data]


def test_verify_every_file():
    """Flipping one byte in each input and each output makes verify exit 1 naming it; restoring passes."""
    d = os.path.join(WORK, "verify-all")
    os.makedirs(d)
    ins = {}
    for key, src in (("capture", cap("demo")), ("policy", os.path.join(FIX, "policy.json")),
                     ("events", os.path.join(FIX, "events-consent.json")),
                     ("device", os.path.join(FIX, "device.json")), ("geo", GEO), ("asn", ASN)):
        ins[key] = os.path.join(d, os.path.basename(src))
        shutil.copy(src, ins[key])
    sigdir = os.path.join(d, "sigset")
    shutil.copytree(os.path.join(TOP, "signatures"), sigdir)
    out = os.path.join(d, "report")
    run(["audit", "-r", ins["capture"], "-p", ins["policy"], "-e", ins["events"], "-d", ins["device"],
         "-s", sigdir, "-g", ins["geo"], "--asn", ins["asn"], "-o", out, "--quiet"], expect=1)
    run(["verify", out], expect=0)
    with open(os.path.join(out, "MANIFEST.sha256")) as f:
        manifest = f.read()
    evidence = sorted(os.listdir(os.path.join(out, "evidence")))
    assert evidence, "no evidence pcap"
    # (what, file to flip, names verify may report it under)
    cases = [(k, p, ["input:" + p]) for k, p in sorted(ins.items())]
    sigfile = os.path.join(sigdir, "admob.json")
    cases.append(("signature file", sigfile, ["input:" + sigfile, "input:" + sigdir + "/*.json"]))
    for name in ["report.json", "report.html", "findings.ndjson", "junit.xml", "evidence/" + evidence[0]]:
        cases.append((name, os.path.join(out, name), [name]))
    # evidence of findings with the same packets is one file under several
    # names (hard links): a byte flipped in it changes every one of them
    def same_file(path):
        st = os.stat(path)
        edir = os.path.join(out, "evidence")
        return sorted("evidence/" + n for n in evidence
                      if os.path.samestat(os.stat(os.path.join(edir, n)), st))
    problems = []
    for what, path, named in cases:
        flip(path)
        p = run(["verify", out])
        said = p.stdout + p.stderr
        changed = [l for l in said.splitlines() if l.startswith("CHANGED ")]
        if p.returncode != 1 or not any(l[len("CHANGED "):] in named for l in changed):
            msg = "%s (%s): verify exit %d, expected a line CHANGED %s; output %r" % (
                what, path, p.returncode, named[0], said[-300:])
            if what == "signature file" and sigdir not in manifest:
                msg += (" -- the signature set (-s %s) is not covered by MANIFEST.sha256; "
                        "expected once src/cli/cmd_audit.c adds it" % sigdir)
            problems.append(msg)
        elif what.startswith("evidence/") and sorted(l[len("CHANGED "):] for l in changed) != same_file(path):
            problems.append("%s: one byte flipped; CHANGED %r, expected its names %r"
                            % (what, changed, same_file(path)))
        elif not what.startswith("evidence/") and len(changed) != (2 if what == "signature file" else 1):
            # a signature file counts on its own and as part of the set
            problems.append("%s: one byte flipped but %d CHANGED lines: %r" % (what, len(changed), changed))
        flip(path)
        p = run(["verify", out])
        if p.returncode != 0:
            problems.append("%s restored: verify exit %d: %s" % (what, p.returncode, p.stdout + p.stderr))
    # a file added to the signature set changes what is matched: it must show
    extra = os.path.join(sigdir, "zz-added.json")
    shutil.copy(sigfile, extra)
    p = run(["verify", out])
    if p.returncode != 1 or ("CHANGED input:%s/*.json" % sigdir) not in p.stdout:
        problems.append("signature file added: verify exit %d: %r" % (p.returncode, p.stdout[-300:]))
    os.unlink(extra)
    if run(["verify", out]).returncode != 0:
        problems.append("signature file removed again: verify does not pass")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- signatures

SIGS = os.path.join(TOP, "signatures")


def _catalogue():
    """id -> entry, read straight from the signature files."""
    cat = {}
    for name in sorted(os.listdir(SIGS)):
        if name.endswith(".json"):
            with open(os.path.join(SIGS, name)) as f:
                e = json.load(f)
            cat[e["id"]] = e
    return cat


def _expected_match(cat, inp):
    """What docs/signatures.md says a name or address matches: most specific domain, longest prefix."""
    import ipaddress
    try:
        addr = ipaddress.ip_address(inp)
    except ValueError:
        addr = None
    best, blen = None, -1
    for e in cat.values():
        if addr is not None:
            for n in e.get("networks", []):
                net = ipaddress.ip_network(n)
                if addr.version == net.version and addr in net and net.prefixlen > blen:
                    best, blen = e["id"], net.prefixlen
        else:
            h = inp.lower().rstrip(".")
            for d in e.get("domains", []):
                if (h == d or h.endswith("." + d)) and len(d) > blen:
                    best, blen = e["id"], len(d)
    return best


def _match_table(stdout):
    lines = [l for l in stdout.splitlines() if l.strip()]
    assert lines and lines[0].split()[:2] == ["INPUT", "ID"], lines[:1]
    return [(l.split()[0], l.split()[1]) for l in lines[1:]]


def test_sigs_check_ok():
    n = len([x for x in os.listdir(SIGS) if x.endswith(".json")])
    p = run(["sigs", "check", SIGS], expect=0)
    assert ("%d entries" % n) in p.stdout, (n, p.stdout)
    assert p.stdout.strip().endswith("ok"), p.stdout


def test_sigs_check_broken():
    """Each broken copy of the catalogue exits 2 naming the file and the field."""
    cases = [
        ("bad-cidr", "cloudflare.json", lambda e: e["networks"].__setitem__(0, "104.16.0.0/33"), "networks[0]"),
        ("host-bits", "cloudflare.json", lambda e: e["networks"].__setitem__(0, "104.16.0.1/13"), "networks[0]"),
        ("bad-purpose", "admob.json", lambda e: e["purposes"].__setitem__(0, "advertisng"), "purposes[0]"),
        ("dup-domain", "facebook-sdk.json", lambda e: e["domains"].append("googleads.g.doubleclick.net"), "domains["),
    ]
    for name, fname, change, field in cases:
        d = os.path.join(WORK, "sigs-" + name)
        shutil.copytree(SIGS, d)
        path = os.path.join(d, fname)
        with open(path) as f:
            e = json.load(f)
        change(e)
        with open(path, "w") as f:
            json.dump(e, f, indent=2)
        p = run(["sigs", "check", d], expect=2)
        err = p.stdout + p.stderr
        if name == "dup-domain":
            # either file may be the one reported, but both must be named
            assert "facebook-sdk.json" in err and "admob.json" in err, (name, err)
            assert "googleads.g.doubleclick.net" in err, (name, err)
        else:
            assert path in err, (name, err)
        assert "field '" + field in err, (name, field, err)


def test_sigs_match():
    cat = _catalogue()
    inputs = ["graph.facebook.com", "157.240.1.35", "evil-admob.com"]
    p = run(["sigs", "match", "-s", SIGS] + inputs, expect=1)  # evil-admob.com matches nothing
    rows = _match_table(p.stdout)
    assert [r[0] for r in rows] == inputs, rows
    want = [_expected_match(cat, i) or "-" for i in inputs]
    assert want[0] == "facebook-sdk" and want[2] == "-", want
    assert [r[1] for r in rows] == want, (rows, want)
    # all matched: exit 0; most specific domain wins, case and a trailing dot ignored, networks by prefix
    inputs = ["googleads.g.doubleclick.net", "cm.g.doubleclick.net", "GRAPH.Facebook.com.", "104.16.0.1"]
    p = run(["sigs", "match", "-s", SIGS] + inputs, expect=0)
    rows = _match_table(p.stdout)
    want = [_expected_match(cat, i) for i in inputs]
    assert want[:3] == ["admob", "google-marketing-platform", "facebook-sdk"] and want[3], want
    assert [r[1] for r in rows] == want, (rows, want)


def test_sigs_match_stdin():
    p = run(["sigs", "match", "-s", SIGS, "-"], stdin="graph.facebook.com\nevil-admob.com\n", expect=1)
    assert _match_table(p.stdout) == [("graph.facebook.com", "facebook-sdk"), ("evil-admob.com", "-")], p.stdout
    p = run(["sigs", "match", "-s", SIGS, "-"], stdin="googleads.g.doubleclick.net\n", expect=0)
    assert _match_table(p.stdout) == [("googleads.g.doubleclick.net", "admob")], p.stdout


def test_sigs_match_json():
    cat = _catalogue()
    p = run(["sigs", "match", "-s", SIGS, "--json", "graph.facebook.com", "evil-admob.com"], expect=1)
    objs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    assert len(objs) == 2, p.stdout
    for o in objs:
        assert set(o) >= {"input", "id", "name", "entity", "kind", "pattern"}, o
    fb = cat["facebook-sdk"]
    assert objs[0] == dict(objs[0], input="graph.facebook.com", id="facebook-sdk", name=fb["name"],
                           entity=fb["entity"], kind="sdk", pattern="graph.facebook.com"), objs[0]
    assert objs[1]["input"] == "evil-admob.com", objs[1]
    assert all(objs[1][k] is None for k in ("id", "name", "entity", "kind", "pattern")), objs[1]
    p = run(["sigs", "match", "-s", SIGS, "--json", "-"], stdin="alog.umeng.com\n", expect=0)
    o = json.loads(p.stdout)
    assert o["id"] == "umeng" and o["input"] == "alog.umeng.com", o


def test_sigs_list():
    cat = _catalogue()
    p = run(["sigs", "list", "-s", SIGS], expect=0)
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    assert lines[0].split()[:2] == ["ID", "KIND"], lines[0]
    rows = {l.split()[0]: l for l in lines[1:]}
    assert len(lines) - 1 == len(cat), (len(lines) - 1, len(cat))
    assert set(rows) == set(cat), sorted(set(cat) ^ set(rows))
    for i, e in cat.items():
        assert rows[i].split()[1] == e["kind"], (i, rows[i])
        assert e["entity_country"] in rows[i].split(), (i, rows[i])


# ---------------------------------------------------------------- harness

def build_mmdb():
    global GEO, ASN
    GEO = os.path.join(WORK, "country.mmdb")
    ASN = os.path.join(WORK, "asn.mmdb")
    script = os.path.join(TOP, "scripts", "mkmmdb.pl")
    for kind, src, dst in (("country", "e2e-country.txt", GEO), ("asn", "e2e-asn.txt", ASN)):
        r = subprocess.run(["perl", script, kind, dst, os.path.join(FIX, src)], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("mkmmdb.pl failed: " + r.stderr)


def bind(binary, work_dir):
    global BIN, WORK
    BIN, WORK = binary, work_dir


def main():
    import suite
    return suite.main("e2e", globals(), lambda b, w: build_mmdb(), (Skip,), bind)


if __name__ == "__main__":
    sys.exit(main())
