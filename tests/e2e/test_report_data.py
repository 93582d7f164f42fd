#!/usr/bin/python3
"""End-to-end checks of the report data report.html is read from.

Audits the shipped demo capture and checks in report.json what a reader of
report.html relies on: an identifier finding names every identifier it
found in its title and detail; an unknown endpoint quotes the declared
recipients' clause (the list it is not on) and breaks no statement; the
country counts cover the devices' flows only, so they add up to
summary.public_flows, and an audit of a device absent from the capture
counts no destination at all. No browser needed (tests/browser/run.py
looks at the page itself).

Usage: test_report_data.py [BUILD/flowaudit]
Last line: "report-data: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def audit(binary, outdir, *extra):
    args = [binary, "audit", "-r", "examples/demo.pcap", "-p", "policies/audio-extract-kit.json",
            "-e", "examples/demo-events.json", "-d", "examples/demo-device.json", "-o", outdir,
            "--quiet"] + list(extra)
    p = subprocess.run(args, cwd=TOP, capture_output=True, text=True, timeout=120)
    assert p.returncode not in (2, 3), "audit exited %d: %s" % (p.returncode, p.stderr[-2000:])
    with open(os.path.join(outdir, "report.json")) as f:
        return json.load(f)


def test_identifier_findings_name_every_identifier(rep, _):
    fs = [f for f in rep["findings"] if f["rule"] in ("cleartext-identifier", "undeclared-data")]
    assert len(fs) == 2, [f["rule"] for f in fs]
    for f in fs:
        types = sorted({x["type"] for x in f["identifiers"]})
        assert types == ["android_id", "imei"], (f["id"], types)
        for t in types:
            assert t in f["title"], "%s title %r lacks %s" % (f["id"], f["title"], t)
            assert t in f["detail"], "%s detail %r lacks %s" % (f["id"], f["detail"], t)
    clear = [f for f in fs if f["rule"] == "cleartext-identifier"][0]
    assert clear["title"].startswith("Device identifiers (imei, android_id) sent in clear"), clear["title"]


def test_unknown_endpoint_quotes_recipients_clause(rep, _):
    f = [f for f in rep["findings"] if f["rule"] == "unknown-endpoint"]
    assert len(f) == 1, len(f)
    admob = [r["clause"] for r in rep["policy"]["recipients"] if r["sdk"] == "admob"][0]
    assert f[0]["clause"] == admob, f[0]["clause"]
    assert f[0]["statement"] is None, f[0]["statement"]
    und = [f for f in rep["findings"] if f["rule"] == "undeclared-recipient"][0]
    assert und["clause"] == admob and und["statement"] == "recipients", (und["clause"], und["statement"])


def test_country_counts_are_the_devices(rep, absent):
    s = rep["summary"]
    assert sum(r["flows"] for r in s["by_country"]) == s["public_flows"] == 6, s["by_country"]
    assert sum(s["countries"].values()) == s["public_flows"], s["countries"]
    a = absent["summary"]
    assert a["device_flows"] == 0, a["device_flows"]
    assert a["by_country"] == [] and a["countries"] == {} and a["destinations"] == 0, \
        (a["by_country"], a["countries"], a["destinations"])


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build", "flowaudit"))
    tmp = tempfile.mkdtemp(prefix="flowaudit-report-data-")
    passed = failed = 0
    try:
        rep = audit(binary, os.path.join(tmp, "demo"))
        absent = audit(binary, os.path.join(tmp, "absent"), "--device", "10.9.9.9")
        for name, fn in sorted(globals().items()):
            if not name.startswith("test_"):
                continue
            try:
                fn(rep, absent)
                print("PASS %s" % name)
                passed += 1
            except AssertionError as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("report-data: %d passed, %d failed, 0 skipped" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
