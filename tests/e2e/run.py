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
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

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


def test_rule_unencrypted_transport():
    p, rep, _ = audit(cap("http"), expect=None)
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


# ---------------------------------------------------------------- bad inputs

def _no_report(out):
    assert not os.path.exists(out), os.listdir(out)
    parent = os.path.dirname(out)
    assert not [d for d in os.listdir(parent) if d.startswith(os.path.basename(out) + ".tmp")]


def test_bad_inputs():
    good = cap("undeclared")
    p, rep, out = audit(os.path.join(WORK, "missing.pcap"), expect=2)
    assert "missing.pcap" in p.stderr, p.stderr
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


def main():
    global BIN, WORK
    if len(sys.argv) < 2:
        print("usage: run.py BUILD/flowaudit [FILTER]", file=sys.stderr)
        return 2
    BIN = os.path.abspath(sys.argv[1])
    flt = sys.argv[2] if len(sys.argv) > 2 else ""
    WORK = tempfile.mkdtemp(prefix="flowaudit-e2e-")
    passed = failed = skipped = 0
    try:
        build_mmdb()
        tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and flt in n]
        for name, fn in tests:
            try:
                fn()
                print("PASS %s" % name)
                passed += 1
            except Skip as e:
                print("SKIP %s: %s" % (name, e))
                skipped += 1
            except Exception:
                print("FAIL %s" % name)
                traceback.print_exc(limit=3, file=sys.stdout)
                failed += 1
    finally:
        if failed == 0:
            shutil.rmtree(WORK, ignore_errors=True)
        else:
            print("e2e work files kept in %s" % WORK)
    print("e2e: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
