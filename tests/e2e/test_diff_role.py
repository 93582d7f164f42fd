#!/usr/bin/python3
"""End-to-end tests of the device role in `flowaudit diff`: a finding's
device_role (the device profile's name, given to the findings of the
device the profile describes: the one whose flows come from the profile's
mac) is part of the key findings are matched on.

The captures are the scenario of test_runs.py (one app's traffic, replayed
from other addresses, ports and times in the second run), with a second
device on the same network: a tablet with a MAC of its own, which the
device profile does not describe, doing exactly what the phone does.

Usage: test_diff_role.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "diff-role: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402
import test_runs as runs  # noqa: E402  (the scenario and its two runs)

capgen = e2e.capgen
PHONE_MAC = capgen.DEVICE_MAC          # the device profile's mac
TABLET_MAC = "02:00:00:00:00:42"
TABLET = ["192.168.1.24", "192.168.7.41"]  # the tablet's address in run 0 and run 1


class Capture(capgen.Capture):
    """capgen's capture, with the Ethernet addresses of each device's own
    MAC: macs maps a device address to it (others keep capgen's)."""

    def __init__(self, macs, **kw):
        super().__init__(**kw)
        self.macs = macs

    def add(self, ip_pkt, outbound=True):
        super().add(ip_pkt, outbound)
        mac = self.macs.get(ip_pkt.src if outbound else ip_pkt.dst)
        if mac is not None:
            eth = self.frames[-1]
            if outbound:
                eth.src = mac
            else:
                eth.dst = mac


def build(name, run, tablet):
    """The scenario as run `run` (0 or 1) sees it, from the phone, and with
    tablet also from the tablet (its flows after the phone's)."""
    r = runs.RUNS[run]
    cap = Capture({TABLET[run]: TABLET_MAC}, t0=r["t0"])
    runs.app_traffic(cap, r["dev"], r["srv"], r["base"])
    if tablet:
        runs.app_traffic(cap, TABLET[run], r["srv"], r["base"] + 100)
    path = os.path.join(e2e.WORK, name + ".pcap")
    cap.write(path)
    return path


def profile(name, **changes):
    """The fixtures' device profile under another name (None: without one);
    changes replace fields (None: removes one)."""
    with open(runs.DEVICE) as f:
        prof = json.load(f)
    prof.pop("name")
    if name is not None:
        prof["name"] = name
    for k, v in changes.items():
        if v is None:
            prof.pop(k)
        else:
            prof[k] = v
    return e2e.write_json("device-%s.json" % (name or "unnamed").replace(" ", "-"), prof)


def audit(pcap, device):
    out = tempfile.mkdtemp(prefix="rep-", dir=e2e.WORK)
    shutil.rmtree(out)
    e2e.run(["audit", "-r", pcap, "-p", os.path.join(e2e.FIX, "policy.json"), "-d", device,
             "-g", e2e.GEO, "--asn", e2e.ASN, "-o", out, "--quiet"], expect=1)
    return out


_reports = {}


def report(name):
    """The reports the tests share, each audited once."""
    if name not in _reports:
        pcap, device = {
            "both": lambda: (build("both", 0, tablet=True), profile("test phone")),
            "phone": lambda: (build("phone", 1, tablet=False), profile("test phone")),
            "phone-as-tablet": lambda: (build("phone-t", 1, tablet=False), profile("tablet")),
        }[name]()
        _reports[name] = audit(pcap, device)
    return _reports[name]


def load(out):
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


def diff(old, new, *extra, expect=None):
    p = e2e.run(["diff", "--json", old, new] + list(extra), expect=expect)
    return json.loads(p.stdout)


def key(rule, host, types, role):
    return (rule, host, tuple(sorted(set(types))), role)


def report_keys(rep, device=None):
    """The findings of a report (of one device address) by the key diff
    documents, with the address of each."""
    out = {}
    for f in rep["findings"]:
        if device is None or f["device"] == device:
            k = key(f["rule"], f["host"], [i["type"] for i in f["identifiers"]],
                    f["device_role"])
            out.setdefault(k, []).append(f["id"])
    return out


def entry_key(e):
    return key(e["rule"], e["destination"], e["identifiers"], e["device_role"])


# ---------------------------------------------------------------- tests

def test_report_gives_each_finding_its_role():
    """report.json gives the phone's findings (the profile's mac) the
    profile's name and the tablet's none; the two devices make the same
    findings otherwise."""
    rep = load(report("both"))
    phone, tablet = runs.RUNS[0]["dev"], TABLET[0]
    roles = {(f["device"], f["device_role"]) for f in rep["findings"]}
    assert roles == {(phone, "test phone"), (tablet, None)}, roles
    strip = lambda ks: {k[:3] for k in ks}  # noqa: E731
    assert strip(report_keys(rep, phone)) == strip(report_keys(rep, tablet))
    assert any(k[0] == "undeclared-recipient" or k[2] for k in report_keys(rep, tablet))
    # findings.ndjson, written by the same code, says the same
    with open(os.path.join(report("both"), "findings.ndjson")) as f:
        nd = [json.loads(line) for line in f if line.strip()]
    assert {(f["device"], f["device_role"]) for f in nd} == roles


def test_diff_device_gone_by_role():
    """Run 0 has the phone and the tablet making the same SDK findings; run
    1 (other addresses, ports, times) the phone alone. diff names exactly
    the tablet's findings as gone, and the phone's as unchanged, one
    before and one now; the other way round they are new and fail."""
    old, new = load(report("both")), load(report("phone"))
    d = diff(report("both"), report("phone"), expect=0)
    assert d["matched_on"] == ["rule", "destination", "identifiers", "device_role"], d["matched_on"]
    tablet = report_keys(old, TABLET[0])
    phone = report_keys(new)
    assert tablet and all(k[3] is None for k in tablet)
    assert all(k[3] == "test phone" for k in phone)
    assert d["new_findings"] == []
    assert {entry_key(e) for e in d["gone_findings"]} == set(tablet)
    for e in d["gone_findings"]:
        assert e["device_role"] is None
        assert sorted(e["old_findings"]) == sorted(tablet[entry_key(e)]), e
        assert (e["old_count"], e["new_count"]) == (1, 0)
    assert {entry_key(e) for e in d["unchanged_findings"]} == set(phone)
    for e in d["unchanged_findings"]:
        assert e["device_role"] == "test phone"
        assert (e["old_count"], e["new_count"]) == (1, 1), e
    # the same SDK finding made on both devices is one key per role
    sdk = [k for k in report_keys(old) if k[1] == "alog.umeng.com"
           and k[0] == "cleartext-identifier"]
    assert sorted(k[3] or "" for k in sdk) == ["", "test phone"], sdk

    back = diff(report("phone"), report("both"), expect=1)
    assert {entry_key(e) for e in back["new_findings"]} == set(tablet)
    assert back["gone_findings"] == [] and back["verdict"] == "fail"


def test_diff_text_shows_role():
    """The text names the role after each finding of a device with one,
    and says what findings are matched on."""
    p = e2e.run(["diff", "-v", report("both"), report("phone")], expect=0)
    assert "identifier types and device role)" in p.stdout, p.stdout
    gone = p.stdout.split("\ngone:\n", 1)[1].split("\nunchanged:\n", 1)[0]
    unchanged = p.stdout.split("\nunchanged:\n", 1)[1]
    assert gone.strip() and " on " not in gone, gone
    lines = [ln for ln in unchanged.splitlines() if ln.startswith("  = ")]
    assert lines and all(ln.endswith(" on test phone") for ln in lines), unchanged


def test_diff_other_role_matches_nothing():
    """The same phone under a profile of another name: no finding of one
    role matches one of the other, every key is gone and new."""
    old, new = load(report("phone")), load(report("phone-as-tablet"))
    d = diff(report("phone"), report("phone-as-tablet"), expect=1)
    assert d["unchanged_findings"] == []
    assert {entry_key(e) for e in d["gone_findings"]} == set(report_keys(old))
    assert {entry_key(e) for e in d["new_findings"]} == set(report_keys(new))
    assert {e["device_role"] for e in d["new_findings"]} == {"tablet"}
    p = e2e.run(["diff", report("phone"), report("phone-as-tablet")], expect=1)
    assert " on tablet" in p.stdout and " on test phone" in p.stdout, p.stdout


def test_diff_unnamed_profile_has_no_role():
    """A profile without a name gives no role: its findings match those of
    another device the profile does not describe (unknown matches
    unknown), not those of a named profile."""
    rep = audit(build("phone-unnamed", 1, tablet=False), profile(None))
    assert {f["device_role"] for f in load(rep)["findings"]} == {None}
    d = diff(report("both"), rep, expect=0)
    tablet = report_keys(load(report("both")), TABLET[0])
    assert {entry_key(e) for e in d["unchanged_findings"]} == set(tablet)
    assert all(e["device_role"] == "test phone" for e in d["gone_findings"])


def test_diff_profile_without_mac_names_every_device():
    """A profile with no mac cannot tell the devices apart: every device
    takes its name."""
    rep = load(audit(build("both-nomac", 0, tablet=True), profile("lab device", mac=None)))
    assert {f["device_role"] for f in rep["findings"]} == {"lab device"}
    assert {f["device"] for f in rep["findings"]} == {runs.RUNS[0]["dev"], TABLET[0]}


def test_diff_older_report_without_roles():
    """A report written before device_role (its findings lack the member)
    still diffs against a current one: the role is left out of the match on
    both sides, and both the JSON and the text say so."""
    rep = load(report("phone"))
    for f in rep["findings"]:
        del f["device_role"]
    older = e2e.write_json("older-phone.json", rep)
    d = diff(older, report("phone-as-tablet"), expect=0)
    assert d["matched_on"] == ["rule", "destination", "identifiers"], d["matched_on"]
    assert d["new_findings"] == [] and d["gone_findings"] == [], d
    assert d["unchanged_findings"]
    d = diff(report("both"), older, expect=0)
    # the tablet's findings and the phone's share keys now: counted 2 before, 1 now
    assert d["new_findings"] == [] and d["gone_findings"] == []
    assert {(e["old_count"], e["new_count"]) for e in d["unchanged_findings"]} == {(2, 1)}
    p = e2e.run(["diff", older, report("phone")], expect=0)
    assert "not on device role, which the older report does not record" in p.stdout, p.stdout


def test_diff_role_of_wrong_type_refused():
    """A device_role that is not a string or null is an input error naming
    the file and the member."""
    rep = load(report("phone"))
    rep["findings"][0]["device_role"] = 7
    bad = e2e.write_json("bad-role.json", rep)
    p = e2e.run(["diff", report("phone"), bad], expect=2)
    assert "findings[0].device_role: expected a string or null" in p.stderr, p.stderr


# ---------------------------------------------------------------- harness

def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    return suite.main("diff-role", globals(), lambda b, w: e2e.build_mmdb(), (e2e.Skip,), bind,
                      order=suite.in_file_order(globals()))


if __name__ == "__main__":
    sys.exit(main())
