#!/usr/bin/python3
"""End-to-end tests of what spans several runs: `flowaudit diff` between two
audits of one scenario, and signed reports (`audit --sign`, `verify --key`).

The captures are built here from tests/gen/capgen.py's pieces: one app's
traffic, replayed a second time from another device address, to other
server addresses in the same networks, from other ports, days later, so
that nothing but what the diff is meant to match on stays the same.

Usage: test_runs.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "runs: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402
from clickhouse_server import (CH_PASSWORD, CH_USER, Relay, _ch, clickhouse,  # noqa: E402
                               free_port, stop_clickhouse)

capgen = e2e.capgen
FIX = e2e.FIX
DEVICE = os.path.join(FIX, "device.json")
NEW_SDK = "app-measurement.com"


# ---------------------------------------------------------------- captures

def app_traffic(cap, dev, srv, base):
    """The app of the scenario: its first party over TLS and HTTP, the
    declared AdMob and Umeng SDKs (Umeng gets the Android ID in clear) and
    an analytics endpoint no signature names (it gets the IMEI)."""
    capgen.tls_flow(cap, dev, srv["fp"], capgen.FIRST_PARTY, base + 1, dns=True,
                    resolver=srv["dns"])
    capgen.tls_flow(cap, dev, srv["admob"], "googleads.g.doubleclick.net", base + 2, dns=True,
                    resolver=srv["dns"])
    capgen.http_flow(cap, dev, srv["umeng"], "alog.umeng.com", base + 3,
                     "/app_logs?aid=" + capgen.ANDROID_ID)
    capgen.http_flow(cap, dev, srv["unk"], "collect.unlisted-analytics.com", base + 4,
                     "/v2/e?imei=" + capgen.IMEI)
    capgen.http_flow(cap, dev, srv["fp"], capgen.FIRST_PARTY, base + 6, "/v1/config")


RUNS = [
    {"dev": "192.168.1.23", "base": 41000, "t0": capgen.T0 + 17.25,
     "srv": {"fp": "47.92.1.10", "admob": "142.250.1.10", "umeng": "47.92.3.30",
             "unk": "23.94.5.5", "dns": "192.168.1.1"}},
    {"dev": "192.168.7.40", "base": 48000, "t0": capgen.T0 + 3 * 86400 + 2.5,
     "srv": {"fp": "47.93.4.4", "admob": "142.251.9.77", "umeng": "47.94.8.8",
             "unk": "23.95.6.6", "dns": "192.168.7.1"}},
]


def build(name, run, extra_sdk=False, devices=None):
    """A capture of the scenario as run `run` (0 or 1) sees it; extra_sdk adds
    the Firebase Analytics SDK sending the Android ID; devices: more
    device addresses replaying the same traffic."""
    path = os.path.join(e2e.WORK, name + ".pcap")
    r = RUNS[run]
    cap = capgen.Capture(t0=r["t0"])
    for i, dev in enumerate([r["dev"]] + list(devices or [])):
        if extra_sdk:
            capgen.http_flow(cap, dev, "142.250.30.30", NEW_SDK, r["base"] + 100 * i + 5,
                             "/a?aid=" + capgen.ANDROID_ID)
        app_traffic(cap, dev, r["srv"], r["base"] + 100 * i)
    cap.write(path)
    return path


def audit(pcap, *extra):
    out = tempfile.mkdtemp(prefix="rep-", dir=e2e.WORK)
    shutil.rmtree(out)
    e2e.run(["audit", "-r", pcap, "-p", os.path.join(FIX, "policy.json"), "-d", DEVICE,
             "-g", e2e.GEO, "--asn", e2e.ASN, "-o", out, "--quiet"] + list(extra), expect=1)
    return out


def load(out):
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


_reports = {}


def report(name):
    """The reports the diff tests share, each audited once."""
    if name not in _reports:
        _reports[name] = audit({
            "old": lambda: build("old", 0),
            "new": lambda: build("new", 1, extra_sdk=True),
            "same": lambda: build("same", 1),
            "two-devices": lambda: build("two-devices", 1, devices=["192.168.7.41"]),
        }[name]())
    return _reports[name]


def diff(old, new, *extra, expect=None):
    p = e2e.run(["diff", "--json", old, new] + list(extra), expect=expect)
    return json.loads(p.stdout) if p.stdout.strip() else None


def finding_key(f):
    """The key diff documents: rule, destination name, identifier types."""
    return (f["rule"], f["host"], tuple(sorted({i["type"] for i in f["identifiers"]})))


def entry_key(e):
    return (e["rule"], e["destination"], tuple(e["identifiers"]))


# ---------------------------------------------------------------- diff

def test_diff_one_sdk_added():
    """The second run adds one SDK; addresses, ports, times and finding
    numbers all differ. diff names exactly that SDK's findings as new,
    nothing as gone, every other finding as unchanged, the SDK as the one
    recipient and destination that appeared, and the statement it broke."""
    old, new = report("old"), report("new")
    ro, rn = load(old), load(new)
    # what must not be matched on really changed
    for field in ("client_ip", "client_port", "server_ip", "first_seen"):
        assert not {f[field] for f in ro["flows"]} & {f[field] for f in rn["flows"]}, field
    assert {(f["id"], finding_key(f)) for f in ro["findings"]}.isdisjoint(
        (f["id"], finding_key(f)) for f in rn["findings"]), "finding numbers did not change"

    d = diff(old, new, expect=1)
    sdk_keys = sorted({finding_key(f) for f in rn["findings"] if f["host"] == NEW_SDK})
    assert len(sdk_keys) >= 3, sdk_keys
    assert sorted(entry_key(e) for e in d["new_findings"]) == sdk_keys, d["new_findings"]
    assert d["gone_findings"] == [], d["gone_findings"]
    assert sorted(entry_key(e) for e in d["unchanged_findings"]) == \
        sorted({finding_key(f) for f in ro["findings"]})
    for e in d["unchanged_findings"]:
        assert (e["old_count"], e["new_count"]) == (1, 1), e
    new_ids = sorted(i for e in d["new_findings"] for i in e["new_findings"])
    assert new_ids == sorted(f["id"] for f in rn["findings"] if f["host"] == NEW_SDK)
    assert [(r["kind"], r["id"]) for r in d["recipients"]["appeared"]] == \
        [("sdk", "firebase-analytics")], d["recipients"]
    assert d["recipients"]["disappeared"] == []
    assert d["destinations"] == {"appeared": [NEW_SDK], "disappeared": []}, d["destinations"]
    assert d["countries"] == {"appeared": [], "disappeared": []}, d["countries"]
    assert {"id": "recipients", "old": "kept", "new": "broken"} in d["statements"], d["statements"]
    assert d["verdict"] == "fail" and d["fail_on"] == "low"

    p = e2e.run(["diff", old, new], expect=1)
    assert "findings: %d new, 0 gone, %d unchanged" % (len(sdk_keys), len(d["unchanged_findings"])) \
        in p.stdout, p.stdout
    assert "+ recipient sdk firebase-analytics" in p.stdout, p.stdout
    assert "recipients: kept -> broken" in p.stdout, p.stdout


def test_diff_same_traffic_nothing_new():
    """The same app traffic on another day from other addresses: nothing new,
    nothing gone, exit 0."""
    d = diff(report("old"), report("same"), expect=0)
    assert d["new_findings"] == [] and d["gone_findings"] == [], d
    assert d["statements"] == [] and d["verdict"] == "pass"
    for k in ("recipients", "destinations", "countries"):
        assert d[k] == {"appeared": [], "disappeared": []}, (k, d[k])


def test_diff_gone_does_not_fail():
    """The other way round the SDK's findings are gone; a finding that
    went away never fails the diff."""
    rn = load(report("new"))
    d = diff(report("new"), report("old"), expect=0)
    assert d["new_findings"] == []
    assert sorted(entry_key(e) for e in d["gone_findings"]) == \
        sorted({finding_key(f) for f in rn["findings"] if f["host"] == NEW_SDK})
    assert [(r["kind"], r["id"]) for r in d["recipients"]["disappeared"]] == \
        [("sdk", "firebase-analytics")]
    assert {"id": "recipients", "old": "broken", "new": "kept"} in d["statements"]


def test_diff_fail_on():
    """--fail-on as for audit: new high findings fail at high, not with never."""
    rn = load(report("new"))
    assert max(f["severity"] == "high" for f in rn["findings"] if f["host"] == NEW_SDK)
    assert diff(report("old"), report("new"), "--fail-on", "high", expect=1)["verdict"] == "fail"
    d = diff(report("old"), report("new"), "--fail-on", "never", expect=0)
    assert d["verdict"] == "pass" and d["fail_on"] == "never" and len(d["new_findings"]) >= 3
    p = e2e.run(["diff", report("old"), report("new"), "--fail-on", "severe"], expect=2)
    assert "--fail-on: 'severe'" in p.stderr, p.stderr


def test_diff_counts_findings_sharing_a_key():
    """A second device doing the same: every key is unchanged, counted 1
    before and 2 now (the device address is not part of the key)."""
    d = diff(report("old"), report("two-devices"), expect=0)
    assert d["new_findings"] == [] and d["gone_findings"] == []
    assert d["unchanged_findings"]
    for e in d["unchanged_findings"]:
        assert (e["old_count"], e["new_count"]) == (1, 2), e
        assert len(e["new_findings"]) == 2
    p = e2e.run(["diff", report("old"), report("two-devices")], expect=0)
    assert "unchanged, in other numbers:" in p.stdout and "(1 before, 2 now)" in p.stdout, p.stdout


def test_diff_tolerates_older_reports():
    """A flowaudit-report/1 written by a version with fewer members (no
    flows, statements, summary or generator; findings without ids,
    addresses, times, frames or evidence) still compares, on the key."""
    rep = load(report("old"))
    for k in ("flows", "statements", "summary", "generator", "devices", "generated_at"):
        del rep[k]
    for f in rep["findings"]:
        for k in ("id", "addresses", "first_seen", "last_seen", "frames", "evidence", "consent",
                  "decrypted", "flows", "severity", "recipient"):
            f.pop(k, None)
    path = e2e.write_json("older.json", rep)
    d = diff(path, report("same"), expect=0)
    assert d["new_findings"] == [] and d["gone_findings"] == [], d
    assert d["old"]["version"] is None


def test_diff_refuses_other_documents():
    """Anything but flowaudit-report/1: exit 2 naming the file and why."""
    new = report("new")
    other = e2e.write_json("other.json", {"schema": "flowaudit-report/2", "findings": []})
    p = e2e.run(["diff", other, new], expect=2)
    assert other in p.stderr and "'flowaudit-report/2' is not flowaudit-report/1" in p.stderr, p.stderr
    cut = os.path.join(e2e.WORK, "cut.json")
    with open(os.path.join(new, "report.json")) as f, open(cut, "w") as g:
        g.write(f.read()[:300])
    p = e2e.run(["diff", new, cut], expect=2)
    assert cut in p.stderr and "line" in p.stderr, p.stderr
    bad = load(new)
    bad["findings"][1]["rule"] = 7
    path = e2e.write_json("badrule.json", bad)
    p = e2e.run(["diff", new, path], expect=2)
    assert "badrule.json: findings[1].rule: expected a string" in p.stderr, p.stderr
    p = e2e.run(["diff", new, os.path.join(e2e.WORK, "nowhere")], expect=2)
    assert "nowhere" in p.stderr, p.stderr
    e2e.run(["diff", new], expect=2)


# ---------------------------------------------------------------- signed reports

def openssl(*args):
    p = subprocess.run(["openssl"] + list(args), capture_output=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def make_key(name, mode=0o600):
    """An Ed25519 key pair made as docs/security.md says: (private, public)."""
    priv = os.path.join(e2e.WORK, name + ".pem")
    pub = os.path.join(e2e.WORK, name + ".pub.pem")
    if not os.path.exists(priv):
        openssl("genpkey", "-algorithm", "ed25519", "-out", priv)
        openssl("pkey", "-in", priv, "-pubout", "-out", pub)
    os.chmod(priv, mode)
    return priv, pub


def fingerprint(pub):
    """SHA-256 of the DER public key, computed by openssl and hashlib."""
    import hashlib
    return "SHA256:" + hashlib.sha256(openssl("pkey", "-pubin", "-in", pub, "-outform", "DER")).hexdigest()


def signed_report(key="lab"):
    priv, _ = make_key(key)
    out = audit(build("signed", 0), "--sign", priv)
    return out


def verify(out, pub, expect):
    return e2e.run(["verify", "--key", pub, out], expect=expect)


def sig_lines(out):
    with open(os.path.join(out, "MANIFEST.sha256.sig")) as f:
        return f.read().splitlines()


def other_signature(out, priv):
    """MANIFEST.sha256 signed by another key, as base64 (openssl as reference)."""
    import base64
    raw = openssl("pkeyutl", "-sign", "-inkey", priv, "-rawin", "-in",
                  os.path.join(out, "MANIFEST.sha256"))
    assert len(raw) == 64
    return base64.b64encode(raw).decode()


def test_sign_and_verify():
    """audit --sign writes MANIFEST.sha256.sig; verify --key says it is valid
    and names the signer's fingerprint (SHA-256 of the DER public key) and
    the manifest; openssl verifies the same signature over the manifest."""
    _, pub = make_key("lab")
    out = signed_report()
    lines = sig_lines(out)
    assert lines[0] == "flowaudit-signature/1" and lines[1] == "algorithm ed25519", lines
    assert lines[2] == "key " + fingerprint(pub), lines
    import hashlib
    with open(os.path.join(out, "MANIFEST.sha256"), "rb") as f:
        mdigest = hashlib.sha256(f.read()).hexdigest()
    assert lines[3] == "manifest SHA256:" + mdigest
    p = verify(out, pub, 0)
    assert "signature: valid: MANIFEST.sha256 SHA256:%s is signed by the Ed25519 key %s" % (
        mdigest, fingerprint(pub)) in p.stdout, p.stdout
    # the reference: openssl verifies the raw signature over the manifest's bytes
    import base64
    sigbin = os.path.join(e2e.WORK, "sig.bin")
    with open(sigbin, "wb") as f:
        f.write(base64.b64decode(lines[4].split(" ", 1)[1]))
    openssl("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in",
            os.path.join(out, "MANIFEST.sha256"), "-sigfile", sigbin)
    # without --key the signer is named, not vouched for
    p = e2e.run(["verify", out], expect=0)
    assert "names the key %s; not checked" % fingerprint(pub) in p.stdout, p.stdout


def test_sign_every_tampering_caught():
    """A byte of any file of the report, a file added or removed, the
    signature replaced by one from another key (under either key line), the
    signature file removed, a consistent forgery of the manifest: each is
    caught by verify --key (exit 1), and undoing it passes again."""
    _, pub = make_key("lab")
    other_priv, other_pub = make_key("other")
    out = signed_report()
    files = sorted(os.path.relpath(os.path.join(d, f), out)
                   for d, _, fs in os.walk(out) for f in fs)
    assert "MANIFEST.sha256.sig" in files and "report.json" in files
    assert any(f.startswith("evidence/") for f in files), files
    for name in files:
        path = os.path.join(out, name)
        for off in (0, os.path.getsize(path) - 1):
            e2e.flip(path, off)
            p = e2e.run(["verify", "--key", pub, out])
            assert p.returncode in (1, 2) if name == "MANIFEST.sha256" else p.returncode == 1, \
                (name, off, p.returncode, p.stdout, p.stderr)
            e2e.flip(path, off)
    verify(out, pub, 0)
    for name in files:
        path = os.path.join(out, name)
        shutil.move(path, os.path.join(e2e.WORK, "kept"))
        p = e2e.run(["verify", "--key", pub, out])
        assert p.returncode in (1, 2) if name == "MANIFEST.sha256" else p.returncode == 1, \
            (name, p.returncode, p.stdout)
        if name == "MANIFEST.sha256.sig":
            assert "SIGNATURE MISSING" in p.stdout, p.stdout
        shutil.move(os.path.join(e2e.WORK, "kept"), path)
    verify(out, pub, 0)
    for extra in ("added.txt", "evidence/F9999.pcap"):
        with open(os.path.join(out, extra), "w") as f:
            f.write("x")
        p = verify(out, pub, 1)
        assert "UNLISTED " + extra in p.stdout, p.stdout
        os.remove(os.path.join(out, extra))
    # another key's signature, named as the other key and as the lab key
    good = sig_lines(out)
    forged = other_signature(out, other_priv)
    for key_line, word in (("key " + fingerprint(other_pub), "OTHER KEY"), (good[2], "INVALID")):
        with open(os.path.join(out, "MANIFEST.sha256.sig"), "w") as f:
            f.write("\n".join(good[:2] + [key_line, good[3], "signature " + forged]) + "\n")
        p = verify(out, pub, 1)
        assert "SIGNATURE %s" % word in p.stdout, p.stdout
    # the forger's key, given to verify, is not the lab's: the fingerprint tells
    with open(os.path.join(out, "MANIFEST.sha256.sig"), "w") as f:
        f.write("\n".join(good[:2] + ["key " + fingerprint(other_pub), good[3],
                                        "signature " + forged]) + "\n")
    p = verify(out, other_pub, 0)
    assert fingerprint(other_pub) in p.stdout and fingerprint(pub) not in p.stdout
    with open(os.path.join(out, "MANIFEST.sha256.sig"), "w") as f:
        f.write("\n".join(good) + "\n")
    verify(out, pub, 0)
    # an edit with its manifest line recomputed: the manifest alone agrees,
    # the signature does not
    import hashlib
    rj = os.path.join(out, "report.json")
    with open(rj, "a") as f:
        f.write(" ")
    with open(rj, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    mpath = os.path.join(out, "MANIFEST.sha256")
    with open(mpath) as f:
        lines = [("%s  report.json\n" % digest) if ln.endswith("  report.json\n") else ln
                 for ln in f]
    with open(mpath, "w") as f:
        f.writelines(lines)
    e2e.run(["verify", out], expect=0)
    p = verify(out, pub, 1)
    assert "SIGNATURE CHANGED" in p.stdout, p.stdout


def test_sign_key_files():
    """Keys: a private key others may read is refused (exit 2, nothing
    written, no key material printed); so are a key that is not Ed25519, an
    encrypted one, a public key given to --sign and a private one to --key."""
    priv, pub = make_key("loose", mode=0o644)
    pcap = build("keys", 0)
    out = os.path.join(e2e.WORK, "never-written")
    base = ["audit", "-r", pcap, "-p", os.path.join(FIX, "policy.json"), "--no-geo", "-o", out,
            "--quiet", "--sign"]
    p = e2e.run(base + [priv], expect=2)
    assert "mode 0644" in p.stderr and "chmod 600" in p.stderr, p.stderr
    with open(priv) as f:
        body = "".join(ln.strip() for ln in f if not ln.startswith("-----"))
    assert body[:20] not in p.stdout + p.stderr
    assert not os.path.exists(out)
    os.chmod(priv, 0o600)
    ec = os.path.join(e2e.WORK, "ec.pem")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", ec)
    os.chmod(ec, 0o600)
    p = e2e.run(base + [ec], expect=2)
    assert "not Ed25519" in p.stderr, p.stderr
    enc = os.path.join(e2e.WORK, "enc.pem")
    openssl("pkey", "-in", priv, "-aes256", "-passout", "pass:secret", "-out", enc)
    os.chmod(enc, 0o600)
    p = e2e.run(base + [enc], expect=2)
    assert "encrypted" in p.stderr, p.stderr
    p = e2e.run(base + [pub], expect=2)
    assert "holds no PEM private key" in p.stderr, p.stderr
    assert not os.path.exists(out)
    signed = audit(pcap, "--sign", priv)
    p = e2e.run(["verify", "--key", priv, signed], expect=2)
    assert "holds no PEM public key" in p.stderr, p.stderr
    body_pub = open(pub).read().splitlines()[1]
    p = verify(signed, pub, 0)
    assert body_pub not in p.stdout + p.stderr


def test_sign_unsigned_report_with_key():
    """verify --key on a report that was never signed: the missing
    signature is a failure, named."""
    _, pub = make_key("lab")
    p = verify(report("old"), pub, 1)
    assert "SIGNATURE MISSING" in p.stdout and "not signed" in p.stdout, p.stdout


# ---------------------------------------------------------------- ClickHouse

def credentials_file():
    path = os.path.join(e2e.WORK, "ch-credentials")
    with open(path, "w") as f:
        f.write("# the lab's ClickHouse account\nuser=%s\npassword=%s\n" % (CH_USER, CH_PASSWORD))
    os.chmod(path, 0o600)
    return path


def export(*args, expect=0, db="fleet", env=None):
    ch = _ch[0] if _ch else clickhouse()  # as it is: a test may have stopped it on purpose
    argv = [e2e.BIN, "export", "--clickhouse", ch.url, "--database", db] + list(args)
    if not any(a == "--credentials" for a in args) and env is None:
        argv[2:2] = ["--credentials", credentials_file()]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **(env or {})))
    assert p.returncode == expect, (p.returncode, p.stdout, p.stderr)
    return p


def other_app_report():
    """A second app (another policy's name) with the new SDK."""
    if "other-app" not in _reports:
        pol = e2e.policy_variant("other-app", '"E2E Test App"', '"Other Test App"')
        out = tempfile.mkdtemp(prefix="rep-", dir=e2e.WORK)
        shutil.rmtree(out)
        e2e.run(["audit", "-r", build("other-app", 1, extra_sdk=True), "-p", pol, "-d", DEVICE,
                 "-g", e2e.GEO, "--asn", e2e.ASN, "-o", out, "--quiet"], expect=1)
        _reports["other-app"] = out
    return _reports["other-app"]


def test_clickhouse_schema_is_documented():
    """export --print-schema is docs/clickhouse.sql's single-server part,
    and the server (Debian's 18.16) takes every statement of it."""
    p = e2e.run(["export", "--print-schema"], expect=0)
    with open(os.path.join(e2e.TOP, "docs", "clickhouse.sql")) as f:
        doc = f.read()
    single = doc.split("-- single server\n", 1)[1].split("\n-- ", 1)[0]
    assert p.stdout.strip() == single.strip(), "docs/clickhouse.sql differs from --print-schema"
    ch = clickhouse()
    for stmt in p.stdout.split(";"):
        if stmt.strip():
            ch.query(stmt.replace("flowaudit", "schema_check"))
    assert [r[0] for r in ch.rows("SHOW TABLES FROM schema_check")] == ["findings", "flows", "runs"]
    p = e2e.run(["export", "--print-schema", "--database", "x;DROP"], expect=2)
    assert "not a database name" in p.stderr


def test_clickhouse_fleet_questions():
    """Four reports of two apps exported; SQL answers "which apps send
    android_id to which entities, in which countries" and "findings per
    build" as the reports do; every count equals the report's."""
    ch = clickhouse()
    reps = {"build 41": report("old"), "build 42": report("new"),
            "build 42 two phones": report("two-devices"), "other build 7": other_app_report()}
    for label, out in sorted(reps.items()):
        p = export("--label", label, out)
        assert "exported:" in p.stdout, p.stdout
    want_ids = set()
    for label, out in reps.items():
        rep = load(out)
        got = ch.rows("SELECT count() FROM fleet.findings WHERE label = '%s'" % label)
        assert got == [(str(len(rep["findings"])),)], (label, got)
        got = ch.rows("SELECT count() FROM fleet.flows WHERE label = '%s'" % label)
        assert got == [(str(len(rep["flows"])),)], (label, got)
        for f in rep["findings"]:
            if any(i["type"] == "android_id" for i in f["identifiers"]):
                want_ids.add((rep["policy"]["app"]["name"], f["recipient"]["entity"] or "",
                              f["country"] or ""))
    got = set(ch.rows("SELECT app, entity, country FROM fleet.findings "
                      "WHERE has(identifiers, 'android_id') GROUP BY app, entity, country"))
    assert got == want_ids, (got, want_ids)
    assert ("Other Test App", "Google LLC", "US") in got, got
    # every finding and flow of one run, member by member
    rep = load(reps["build 42"])
    got = sorted(ch.rows("SELECT id, rule, severity, host, recipient_kind, recipient_id, entity, "
                         "country, toString(asn), arrayStringConcat(identifiers, ','), statement, "
                         "toString(first_seen), toString(bytes_out) FROM fleet.findings "
                         "WHERE label = 'build 42'"))
    def when(t):
        return t[:19].replace("T", " ") if t else "1970-01-01 00:00:00"
    want = sorted((f["id"], f["rule"], f["severity"], f["host"], f["recipient"]["kind"],
                   f["recipient"]["id"] or "", f["recipient"]["entity"] or "", f["country"] or "",
                   str(f["asn"] or 0), ",".join(dict.fromkeys(i["type"] for i in f["identifiers"])),
                   f["statement"] or "", when(f["first_seen"]), str(f["bytes_out"]))
                  for f in rep["findings"])
    assert got == want, (got, want)
    got = sorted(ch.rows("SELECT toString(id), client_ip, toString(server_port), name, scope, "
                         "signature_id, toString(encrypted), toString(last_seen) FROM fleet.flows "
                         "WHERE label = 'build 42'"))
    want = sorted((str(f["id"]), f["client_ip"], str(f["server_port"]), f["name"] or "", f["scope"],
                   (f["signature"] or {}).get("id", ""), "1" if f["encrypted"] else "0",
                   when(f["last_seen"])) for f in rep["flows"])
    assert got == want, (got, want)
    per_build = dict(ch.rows("SELECT label, toString(count()) FROM fleet.findings GROUP BY label"))
    assert per_build == {label: str(len(load(out)["findings"])) for label, out in reps.items()}
    runs = ch.rows("SELECT label, app, verdict, findings, flows, length(capture_sha256), "
                   "policy_sha256, manifest_sha256 FROM fleet.runs ORDER BY label")
    assert [r[0] for r in runs] == sorted(reps), runs
    for r in runs:
        rep = load(reps[r[0]])
        assert r[1:6] == (rep["policy"]["app"]["name"], rep["verdict"], str(len(rep["findings"])),
                          str(len(rep["flows"])), "1"), r
        assert r[6] == rep["inputs"]["policy"]["sha256"]
        import hashlib
        with open(os.path.join(reps[r[0]], "MANIFEST.sha256"), "rb") as f:
            assert r[7] == hashlib.sha256(f.read()).hexdigest()


def test_clickhouse_reexport_adds_nothing():
    """The same report again, under another label too: nothing is added;
    a run whose runs row was lost (an export cut short) is completed without
    sending its batches twice."""
    ch = clickhouse()
    out = report("old")
    export("--label", "first", out, db="again")
    counts = ch.rows("SELECT (SELECT count() FROM again.runs), (SELECT count() FROM again.findings),"
                     " (SELECT count() FROM again.flows)")
    p = export("--label", "second", out, db="again")
    assert "already in ClickHouse: nothing added" in p.stdout, p.stdout
    assert ch.rows("SELECT (SELECT count() FROM again.runs), (SELECT count() FROM again.findings),"
                   " (SELECT count() FROM again.flows)") == counts
    # an export cut short after its batches: the runs row is missing
    ch.query("CREATE TABLE again.runs_keep AS again.runs")
    ch.query("DROP TABLE again.runs")
    p = export("--label", "first", out, db="again")
    assert "exported:" in p.stdout, p.stdout
    assert ch.rows("SELECT (SELECT count() FROM again.runs), (SELECT count() FROM again.findings),"
                   " (SELECT count() FROM again.flows)") == counts


def test_clickhouse_any_layout():
    """report.json laid out another way (reindented) exports the same rows
    as the one-element-a-line layout; an element that is not JSON is bad
    input (exit 2, naming the file and the element) and leaves no run."""
    ch = clickhouse()
    src = report("new")
    rep = load(src)
    copy = os.path.join(e2e.WORK, "reindented")
    shutil.copytree(src, copy)
    with open(os.path.join(copy, "report.json"), "w") as f:
        json.dump(rep, f, indent=3)
    export(copy, db="layout")
    export(src, db="layout2")
    for table, cols in (("findings", "id, rule, host, identifiers, first_seen"),
                        ("flows", "id, name, server_ip, bytes_in")):
        a = ch.rows("SELECT %s FROM layout.%s ORDER BY id" % (cols, table))
        b = ch.rows("SELECT %s FROM layout2.%s ORDER BY id" % (cols, table))
        assert a == b and len(a) == len(rep[table]), (table, len(a), len(b))
    bad = os.path.join(e2e.WORK, "bad-element")
    shutil.copytree(src, bad)
    path = os.path.join(bad, "report.json")
    with open(path) as f:
        lines = f.readlines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith('    {"id":') and '"server_ip"' in ln)
    lines[i] = lines[i].replace('"server_ip":', '"server_ip" ', 1)
    with open(path, "w") as f:
        f.writelines(lines)
    p = export(bad, db="layout3", expect=2)
    assert "report.json: flows[0]" in p.stderr, p.stderr
    assert ch.rows("SELECT count() FROM layout3.runs") == [("0",)]


def test_clickhouse_many_batches():
    """A report of 40,500 flows and 20,500 findings (its elements copied
    from a real one, one a line as report.json has them) goes in three
    and two batches: every row exactly once, each batch numbered."""
    ch = clickhouse()
    rep = load(report("new"))
    flow, finding = rep["flows"][0], rep["findings"][0]
    for k in ("frames", "clause", "detail", "title"):
        finding.pop(k, None)  # shorter lines: the row does not carry them
    flows = [dict(flow, id=i + 1) for i in range(40500)]
    findings = [dict(finding, id="F%05d" % (i + 1)) for i in range(20500)]
    rep["flows"], rep["findings"] = [], []
    text = json.dumps(rep, indent=2)
    for name, items in (("findings", findings), ("flows", flows)):
        body = ",\n".join("    " + json.dumps(x, separators=(",", ":")) for x in items)
        top = '\n  "%s": []' % name  # the document's own, not a statement's
        assert top in text, name
        text = text.replace(top, '\n  "%s": [\n%s\n  ]' % (name, body), 1)
    big = os.path.join(e2e.WORK, "big")
    os.makedirs(big)
    with open(os.path.join(big, "report.json"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(big, "MANIFEST.sha256"), "w") as f:
        f.write("%s  report.json\n" % ("0" * 64))
    p = export(big, db="big")
    assert "20500 findings, 40500 flows" in p.stdout, p.stdout
    assert ch.rows("SELECT count(), uniqExact(id), arraySort(groupUniqArray(part)) FROM big.flows") == \
        [("40500", "40500", "[1,2,3]")]
    assert ch.rows("SELECT count(), uniqExact(id), arraySort(groupUniqArray(part)) FROM big.findings") == \
        [("20500", "20500", "[1,2]")]
    assert ch.rows("SELECT findings, flows FROM big.runs") == [("20500", "40500")]


def test_clickhouse_server_away_and_back():
    """Server down: retries with backoff, then exit 3 saying so; the server
    restarted while an export waits for it: the export completes, each row
    once."""
    import time
    ch = clickhouse()
    out = report("new")
    ch.stop()
    try:
        t0 = time.monotonic()
        p = export("--retries", "2", out, db="away", expect=3)
        took = time.monotonic() - t0
        assert "cannot be reached" in p.stderr and "tried 3 times" in p.stderr, p.stderr
        assert took >= 1.4, took  # 0.5 + 1 s of backoff
        argv = [e2e.BIN, "export", "--clickhouse", ch.url, "--database", "away", "--credentials",
                credentials_file(), "--retries", "8", out]
        late = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
    finally:
        ch.start()
    so, se = late.communicate(timeout=300)
    assert late.returncode == 0, (so, se)
    assert "after the server came back" in so, so
    rep = load(out)
    assert ch.rows("SELECT (SELECT count() FROM away.runs), (SELECT count() FROM away.findings),"
                   " (SELECT count() FROM away.flows)") == \
        [("1", str(len(rep["findings"])), str(len(rep["flows"])))]


class LosingProxy(Relay):
    """A TCP relay to ClickHouse that, for the first request holding
    `needle`, lets the request through and the server answer it, then
    closes the connection instead of relaying the answer: an INSERT that
    landed while its client heard nothing."""

    def __init__(self, port, needle):
        import socket
        self.needle, self.lost = needle, 0
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        super().__init__(sock, port)

    def forward(self, data, upstream, state):
        if upstream and self.lost == 0 and self.needle in data:
            state["drop"] = True
            self.lost += 1
        return upstream or not state.get("drop")  # the client never hears the answer


def test_clickhouse_answer_lost():
    """An INSERT that landed but whose answer was lost (the connection
    broke after the server took it) is counted, not sent again: every row
    once."""
    ch = clickhouse()
    out = report("two-devices")
    proxy = LosingProxy(ch.http, b"INSERT INTO lost.findings")
    try:
        p = subprocess.run([e2e.BIN, "export", "--clickhouse", proxy.url, "--database", "lost",
                            "--credentials", credentials_file(), out],
                           capture_output=True, text=True, timeout=300)
    finally:
        proxy.close()
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert proxy.lost == 1 and "after the server came back" in p.stdout, (proxy.lost, p.stdout)
    rep = load(out)
    assert ch.rows("SELECT (SELECT count() FROM lost.runs), (SELECT count() FROM lost.findings),"
                   " (SELECT uniqExact(id) FROM lost.findings), (SELECT count() FROM lost.flows)") == \
        [("1", str(len(rep["findings"])), str(len(rep["findings"])), str(len(rep["flows"])))]


def test_clickhouse_credentials():
    """Credentials come from a 0600 file or the environment, never the URL;
    a wrong password is ClickHouse's refusal (exit 3, its message); audit
    --export exports the report it wrote, and the password is nowhere in
    the report, the output or the process's arguments."""
    ch = clickhouse()
    out = report("same")
    p = e2e.run(["export", "--clickhouse", "http://%s:%s@127.0.0.1:%d" % (CH_USER, CH_PASSWORD, ch.http),
                 out], expect=2)
    assert "process list" in p.stderr and CH_PASSWORD not in p.stderr, p.stderr
    loose = credentials_file()
    os.chmod(loose, 0o644)
    p = export("--credentials", loose, out, expect=2)
    assert "chmod 600" in p.stderr and CH_PASSWORD not in p.stderr, p.stderr
    p = export(out, db="creds", env={"CLICKHOUSE_USER": CH_USER, "CLICKHOUSE_PASSWORD": "wrong"},
               expect=3)
    assert "Wrong password" in p.stderr, p.stderr
    p = export(out, db="creds", env={"CLICKHOUSE_USER": CH_USER, "CLICKHOUSE_PASSWORD": CH_PASSWORD})
    assert "exported:" in p.stdout
    # audit --export
    rep_dir = os.path.join(e2e.WORK, "audit-export")
    argv = [e2e.BIN, "audit", "-r", build("audit-export", 0, extra_sdk=True), "-p",
            os.path.join(FIX, "policy.json"), "-d", DEVICE, "-g", e2e.GEO, "--asn", e2e.ASN,
            "-o", rep_dir, "--export", ch.url]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, CLICKHOUSE_USER=CH_USER, CLICKHOUSE_PASSWORD=CH_PASSWORD))
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "exported:" in p.stdout, p.stdout
    assert CH_PASSWORD not in p.stdout + p.stderr
    for d, _, fs in os.walk(rep_dir):
        for f in fs:
            with open(os.path.join(d, f), "rb") as fh:
                assert CH_PASSWORD.encode() not in fh.read(), f
    assert ch.rows("SELECT count() FROM flowaudit.findings WHERE host = '%s'" % NEW_SDK) != [("0",)]
    # the server refusing the export after the report is written: exit 3, report kept
    p = subprocess.run(argv[:-1] + ["http://127.0.0.1:%d" % free_port()], capture_output=True,
                       text=True, timeout=300,
                       env=dict(os.environ, CLICKHOUSE_USER=CH_USER, CLICKHOUSE_PASSWORD=CH_PASSWORD))
    assert p.returncode == 3 and "the report in" in p.stderr, (p.returncode, p.stderr)
    e2e.run(["verify", rep_dir], expect=0)


# ---------------------------------------------------------------- harness

def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    try:
        return suite.main("runs", globals(), lambda b, w: e2e.build_mmdb(), (e2e.Skip,), bind,
                          order=suite.in_file_order(globals()))
    finally:
        stop_clickhouse()


if __name__ == "__main__":
    sys.exit(main())
