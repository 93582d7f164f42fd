#!/usr/bin/python3
"""End-to-end tests of `sigs import` and layered catalogues: each list format
imported from the small lists of tests/fixtures/import (written for these
tests, not copies of the real lists), rows skipped with their line or key
and the exit status, no half-written DIR, -s repeated and
FLOWAUDIT_SIGNATURES as a list, the catalogue named in flows --json,
report.json, findings.ndjson and report.html, `sigs check` warning where an
imported name contradicts the shipped catalogue, and over ../shared/corpus
that an imported layer after the shipped one changes no owner the shipped
catalogue gives.

Usage: test_sig_import.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "sig-import: N passed, N failed, N skipped".
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402
import capgen  # noqa: E402

TOP = e2e.TOP
LISTS = os.path.join(TOP, "tests", "fixtures", "import")
SHIPPED = os.path.join(TOP, "signatures")
CORPUS = os.path.join(os.path.dirname(TOP), "shared", "corpus")


def work(name):
    return os.path.join(e2e.WORK, name)


def sigs(*args, expect=None, env=None):
    p = subprocess.run([e2e.BIN, "sigs"] + list(args), capture_output=True, text=True,
                       timeout=600, env=env)
    if expect is not None and p.returncode != expect:
        raise AssertionError("exit %d (expected %d) for sigs %s\nstdout: %s\nstderr: %s" %
                             (p.returncode, expect, " ".join(args), p.stdout[-2000:],
                              p.stderr[-2000:]))
    return p


def imported(fmt, fixture, name=None, *extra):
    """Imports a fixture list into a fresh directory; (dir, completed process)."""
    out = work(name or fmt)
    if os.path.exists(out):
        return out, None
    p = sigs("import", "--from", fmt, os.path.join(LISTS, fixture), "-o", out, *extra)
    return out, p


def write(name, text):
    path = work(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def leftovers(path):
    """Directories an import of path left beside it."""
    return glob.glob(path.rstrip("/") + ".import-*") + glob.glob(path.rstrip("/") + ".old-*")


# ---- import ----

def test_import_each_format():
    cases = [
        ("exodus", "exodus.json", "6 rows: 3 entries, 4 domains, 1 networks", 5,
         ["trackers.\"2\": skipped: Ad Network X: 'api\\.adnetx\\.(com|net)' in "
          "network_signature is a pattern",
          'trackers."3": skipped: Code Only SDK: no network_signature',
          "trackers.\"4\": skipped: 'adnetx.io' is already claimed by Ad Network X",
          "trackers.\"6\": skipped: Regex Only: '.*\\.tracker\\..*' in network_signature is a "
          "pattern"]),
        ("ddg-tds", "tds.json", "6 rows: 3 entries, 4 domains, 0 networks", 2,
         ['trackers."noowner.com": skipped: no owner',
          "trackers.\"bad_domain\": skipped: 'bad_domain' is not a domain name"]),
        ("disconnect", "services.json", "6 rows: 4 entries, 6 domains, 0 networks", 2,
         ["categories.Social[1]: skipped: 'exads.net' is already claimed by Example Ads",
          "categories.Advertising[2]: skipped: the service is not an object"]),
        ("hosts", "hosts.txt", "12 rows: 5 entries, 7 domains, 0 networks", 5,
         ["line 12: skipped: not a pure domain rule", "line 13: skipped: an exception rule",
          "line 14: skipped: not a pure domain rule (a cosmetic filter)",
          "line 15: skipped: 'single' is not a domain name", "line 16: skipped: neither"]),
    ]
    for fmt, fixture, counts, skipped, problems in cases:
        out, p = imported(fmt, fixture)
        assert p.returncode == 1, (fmt, p.returncode, p.stderr)  # written, rows skipped
        assert counts in p.stdout, (fmt, p.stdout)
        assert "%d skipped" % skipped in p.stdout, (fmt, p.stdout)
        for want in problems:
            assert "%s: %s" % (fixture, want) in p.stderr, (fmt, want, p.stderr)
        assert len(re.findall(r": skipped: ", p.stderr)) == skipped, p.stderr
        with open(os.path.join(out, "_catalogue.json")) as f:
            cat = json.load(f)
        assert cat["label"] == fmt and cat["source"] == fmt, cat
        assert cat["list"].startswith("https://") and cat["licence"], cat
        c = sigs("check", out, expect=0)
        assert "entries" in c.stdout and c.stdout.rstrip().endswith(": ok"), c.stdout
        # every entry file is in our format: the loader is strict
        for path in glob.glob(os.path.join(out, "*.json")):
            if path.endswith("_catalogue.json"):
                continue
            with open(path) as f:
                e = json.load(f)
            assert e["id"] == os.path.basename(path)[:-5] and e["id"].startswith(fmt + "-")
            assert e["entity_country"] == "ZZ"
            assert e["references"][0] == cat["list"]
            assert cat["licence"][:20] in e["notes"], e["notes"]


def test_import_category_mapping():
    out, _ = imported("exodus", "exodus.json")
    with open(os.path.join(out, "exodus-teemo-example.json")) as f:
        teemo = json.load(f)
    assert teemo["purposes"] == ["analytics", "location"], teemo
    assert teemo["domains"] == ["teemo-example.com", "teemo-cdn.net"], teemo
    out, p = imported("exodus", "exodus.json", "exodus-again")
    assert "categories the mapping does not know, filed under purpose 'other': Mystery" in \
        p.stderr, p.stderr
    out, _ = imported("ddg-tds", "tds.json")
    with open(os.path.join(out, "ddg-tds-pureedge.json")) as f:
        edge = json.load(f)
    assert edge["kind"] == "infrastructure" and edge["purposes"] == ["cdn"], edge


def test_import_clean_list_exits_0():
    lst = write("clean-hosts.txt", "# Title: Clean\n0.0.0.0 a.clean-one.net\n||clean-two.org^\n")
    out = work("clean")
    p = sigs("import", "--from", "hosts", lst, "-o", out, "--url",
             "https://lists.example/clean.txt", "--purposes", "advertising", expect=0)
    assert "2 rows: 2 entries, 2 domains, 0 networks" in p.stdout, p.stdout
    assert "0 skipped" in p.stdout and p.stderr == "", p.stderr
    with open(os.path.join(out, "_catalogue.json")) as f:
        assert json.load(f)["list"] == "https://lists.example/clean.txt"


def test_import_bad_file_nothing_written():
    bad = write("broken.json", '{"trackers": {"1": {"name": "x",}}}')
    out = work("never")
    p = sigs("import", "--from", "exodus", bad, "-o", out, expect=2)
    assert re.search(r"broken\.json:1:\d+: invalid JSON", p.stderr), p.stderr
    assert "nothing written" in p.stderr, p.stderr
    assert not os.path.exists(out) and not leftovers(out)
    # the wrong format: the member it needs is missing
    p = sigs("import", "--from", "disconnect", os.path.join(LISTS, "exodus.json"), "-o", out,
             expect=2)
    assert "exodus.json: field 'categories': missing; is this Disconnect's services.json?" in \
        p.stderr, p.stderr
    assert not os.path.exists(out) and not leftovers(out)
    # no homepage in a hosts list and no --url
    lst = write("nohome.txt", "0.0.0.0 ads.nohome.net\n")
    p = sigs("import", "--from", "hosts", lst, "-o", out, expect=2)
    assert "give its address with --url URL" in p.stderr, p.stderr
    assert not os.path.exists(out) and not leftovers(out)
    sigs("import", "--from", "adblock", lst, "-o", out, expect=2)
    sigs("import", "--from", "hosts", lst, expect=2)


def test_import_replaces_only_with_force():
    out = work("replace")
    sigs("import", "--from", "exodus", os.path.join(LISTS, "exodus.json"), "-o", out, expect=1)
    before = sorted(os.listdir(out))
    p = sigs("import", "--from", "disconnect", os.path.join(LISTS, "services.json"), "-o", out,
             expect=2)
    assert "not empty; pass --force" in p.stderr, p.stderr
    assert sorted(os.listdir(out)) == before
    sigs("import", "--from", "disconnect", os.path.join(LISTS, "services.json"), "-o", out,
         "--force", expect=1)
    after = sorted(os.listdir(out))
    assert after != before and all(n == "_catalogue.json" or n.startswith("disconnect-")
                                   for n in after), after
    assert not leftovers(out)
    write("replace/README", "not a catalogue")
    p = sigs("import", "--from", "disconnect", os.path.join(LISTS, "services.json"), "-o", out,
             "--force", expect=2)
    assert "holds files other than *.json" in p.stderr


# ---- layers ----

def layered_capture():
    """Three TLS flows: a host of the shipped catalogue, one only the imported
    hosts list names, one neither names; and one to an address only the
    imported Exodus list names (10.1.2.3 is private: flows names it all the
    same)."""
    path = work("layers.pcap")
    if not os.path.exists(path):
        c = capgen.Capture()
        capgen.tls_flow(c, capgen.DEV, capgen.ADMOB_IP, "googleads.g.doubleclick.net", 51001)
        capgen.tls_flow(c, capgen.DEV, capgen.UNK_US_IP, "ads.tracker-one.com", 51002)
        capgen.tls_flow(c, capgen.DEV, capgen.UNK_IP, "telemetry.unlisted-vendor.cn", 51003)
        capgen.tls_flow(c, capgen.DEV, capgen.UNK_US_IP, "pixel.tracker-one.com", 51004)
        c.write(path)
    return path


def by_name(flows):
    return {f["name"]: f["signature"] for f in flows if f.get("name")}


def test_flows_json_names_the_catalogue():
    hosts, _ = imported("hosts", "hosts.txt")
    cap = layered_capture()
    one = by_name(e2e.flows(cap, "-s", SHIPPED))
    assert one["ads.tracker-one.com"] is None
    assert one["googleads.g.doubleclick.net"]["catalogue"] == "signatures"
    assert one["googleads.g.doubleclick.net"]["catalogue_dir"] == SHIPPED
    two = by_name(e2e.flows(cap, "-s", SHIPPED, "-s", hosts))
    sig = two["ads.tracker-one.com"]
    assert sig["id"] == "hosts-tracker-one-com" and sig["catalogue"] == "hosts", sig
    assert sig["catalogue_dir"] == hosts and sig["pattern"] == "ads.tracker-one.com"
    assert two["pixel.tracker-one.com"]["id"] == "hosts-tracker-one-com"
    assert two["googleads.g.doubleclick.net"] == one["googleads.g.doubleclick.net"]
    assert two["telemetry.unlisted-vendor.cn"] is None
    # FLOWAUDIT_SIGNATURES as a list: the same layers
    env = dict(os.environ, FLOWAUDIT_SIGNATURES="%s:%s" % (SHIPPED, hosts))
    p = subprocess.run([e2e.BIN, "flows", "-r", cap, "--json", "-g", e2e.GEO, "--asn", e2e.ASN,
                        "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert by_name(json.loads(p.stdout)) == two
    # the imported layer first: it wins where it has a match
    first = by_name(e2e.flows(cap, "-s", hosts, "-s", SHIPPED))
    assert first["ads.tracker-one.com"]["catalogue"] == "hosts"
    assert first["googleads.g.doubleclick.net"]["catalogue"] == "signatures"


def test_layers_refused_where_a_layer_is_bad():
    cap = layered_capture()
    p = e2e.run(["flows", "-r", cap, "--json", "-s", SHIPPED, "-s", work("no-such-dir")])
    assert p.returncode == 2 and "no-such-dir: cannot read the signature directory" in \
        p.stderr, p.stderr
    p = e2e.run(["flows", "-r", cap, "--json", "-s", "a:b"])
    assert p.returncode == 2 and "may not hold ':'" in p.stderr, p.stderr
    # a pattern twice within one layer is still refused
    dup = work("dup-layer")
    os.makedirs(dup, exist_ok=True)
    for n in ("one", "two"):
        with open(os.path.join(dup, n + ".json"), "w") as f:
            json.dump({"id": n, "name": n, "kind": "sdk", "entity": n, "entity_country": "ZZ",
                       "purposes": ["other"], "domains": ["same.example.net"],
                       "references": ["https://lists.example/dup"]}, f)
    p = e2e.run(["flows", "-r", cap, "--json", "-s", SHIPPED, "-s", dup])
    assert p.returncode == 2 and "two.json: field 'domains[0]': 'same.example.net' is " \
        "already claimed by" in p.stderr, p.stderr


def test_report_names_the_catalogue():
    hosts, _ = imported("hosts", "hosts.txt")
    cap = layered_capture()
    p, rep, out = e2e.audit(cap, "-s", SHIPPED, "-s", hosts, expect=1)
    cats = rep["inputs"]["signatures"]["catalogues"]
    assert [c["label"] for c in cats] == ["signatures", "hosts"], cats
    assert cats[1]["source"] == "hosts" and cats[1]["version"] == "2026.12.01", cats
    assert cats[1]["list"] == "https://hosts.example.org/list"
    assert rep["inputs"]["signatures"]["path"] == "%s:%s" % (SHIPPED, hosts)
    recip = {f["host"]: f["recipient"] for f in rep["findings"]
             if f["rule"] == "undeclared-recipient"}
    assert recip["ads.tracker-one.com"]["catalogue"] == "hosts", recip
    assert recip["ads.tracker-one.com"]["entity_country"] is None  # ZZ: not known
    assert recip["ads.tracker-one.com"]["id"] == "hosts-tracker-one-com"
    for f in rep["findings"]:
        if f["recipient"]["id"] in ("admob", "google-ad-manager"):
            assert f["recipient"]["catalogue"] == "signatures", f
    with open(os.path.join(out, "findings.ndjson")) as f:
        lines = [json.loads(ln) for ln in f]
    assert any(ln["recipient"]["catalogue"] == "hosts" for ln in lines)
    with open(os.path.join(out, "report.html")) as f:
        html = f.read()
    assert 'per the catalogue <span class="mono">hosts</span>' in html
    assert 'per the catalogue <span class="mono">signatures</span>' in html
    try:
        import jsonschema
    except ImportError:
        return
    with open(os.path.join(TOP, "docs", "report-schema.json")) as f:
        jsonschema.validate(rep, json.load(f))
    # the manifest lists each layer's set of files, and verify accepts it
    with open(os.path.join(out, "MANIFEST.sha256")) as f:
        manifest = f.read()
    assert "%s/*.json" % SHIPPED in manifest and "%s/*.json" % hosts in manifest
    v = e2e.run(["verify", out])
    assert v.returncode == 0, v.stdout + v.stderr


def test_sigs_check_warns_on_contradiction():
    lst = write("contra.json", json.dumps({"categories": {"Advertising": [
        {"Evil Corp": {"https://evil.example/": ["doubleclick.net", "evil-ads.example"]}},
        {"Google": {"https://www.google.com/": ["googleadservices.com"]}}]}}))
    out = work("contra")
    sigs("import", "--from", "disconnect", lst, "-o", out, "--label", "contra", expect=0)
    p = sigs("check", SHIPPED, out, expect=0)
    assert p.stdout.startswith("2 catalogues, "), p.stdout
    warn = [ln for ln in p.stderr.splitlines() if "warning:" in ln]
    assert len(warn) == 1, p.stderr
    assert "'doubleclick.net' is Evil Corp's in the imported catalogue contra, but Google " \
        "LLC's (google-marketing-platform, doubleclick.net) in signatures" in warn[0], warn
    # Google's own name for googleadservices.com agrees with the shipped entry
    assert "googleadservices.com" not in p.stderr
    # the imported layer alone: compared with the default (shipped) catalogue
    env = dict(os.environ, FLOWAUDIT_SIGNATURES=SHIPPED)
    p = sigs("check", out, expect=0, env=env)
    assert "'doubleclick.net' is Evil Corp's" in p.stderr, p.stderr
    # and match still says who owns it by the layering rule
    m = sigs("match", "--json", "-s", SHIPPED, "-s", out, "x.doubleclick.net",
             "evil-ads.example", expect=0)
    rows = [json.loads(ln) for ln in m.stdout.splitlines()]
    assert rows[0]["id"] == "google-marketing-platform" and rows[0]["catalogue"] == "signatures"
    assert rows[1]["id"] == "contra-evil-corp" and rows[1]["catalogue"] == "contra"


# ---- the corpus ----

def corpus_captures():
    if not os.path.isdir(CORPUS):
        raise e2e.Skip("../shared/corpus is absent (a user's clone has none)")
    caps = sorted(glob.glob(os.path.join(CORPUS, "mobile", "matousp", "*", "*.pcap*")))
    caps += [os.path.join(CORPUS, "ndpi", "pcap", n) for n in
             ("android.pcap", "youtube_quic.pcap", "wechat.pcap", "KakaoTalk_chat.pcap")]
    caps = [c for c in caps if os.path.exists(c)]
    if not caps:
        raise e2e.Skip("no mobile captures in ../shared/corpus")
    return caps


def corpus_flows(caps, *sig_args):
    args = ["flows", "--json", "--no-geo", "--quiet"] + list(sig_args)
    for c in caps:
        args += ["-r", c]
    p = subprocess.run([e2e.BIN] + args, capture_output=True, text=True, timeout=600)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    return json.loads(p.stdout)


def test_corpus_shipped_owners_unchanged():
    """A hosts list naming every name the corpus subset shows, imported as a
    layer after the shipped catalogue: every name the shipped catalogue
    attributes keeps its owner, and the names it does not are now the
    imported list's."""
    caps = corpus_captures()
    t = time.monotonic()
    base = corpus_flows(caps, "-s", SHIPPED)
    names = sorted({f["name"].lower().rstrip(".") for f in base if f.get("name")})
    names = [n for n in names if re.match(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$", n)
             and not re.match(r"^[0-9.]+$", n)]
    assert len(names) > 50, names
    lst = write("corpus-hosts.txt", "# Homepage: https://lists.example/corpus\n" +
                "".join("0.0.0.0 %s\n" % n for n in names))
    out = work("corpus-layer")
    p = sigs("import", "--from", "hosts", lst, "-o", out, "--label", "corpus-layer")
    assert p.returncode in (0, 1), p.stderr
    layered = corpus_flows(caps, "-s", SHIPPED, "-s", out)
    listed = set(names)
    assert len(layered) == len(base)
    changed, gained, unattributed = [], 0, 0
    for a, b in zip(base, layered):
        assert a["id"] == b["id"] and a.get("name") == b.get("name")
        sa, sb = a["signature"], b["signature"]
        if sa is not None and sa["by"] == "name":
            if sb is None or (sb["id"], sb["catalogue"]) != (sa["id"], "signatures"):
                changed.append((a.get("name"), sa["id"], sb and sb["id"]))
        elif sa is None and (a.get("name") or "").lower().rstrip(".") in listed:
            unattributed += 1
            gained += sb is not None and sb["catalogue"] == "corpus-layer"
    assert not changed, changed[:10]
    kept = sum(1 for f in base if f["signature"] and f["signature"]["by"] == "name")
    print("  %d captures, %d flows: %d attributed by name by the shipped catalogue, all "
          "kept; %d named flows it leaves open, all named by the imported layer" %
          (len(caps), len(base), kept, unattributed))
    # the imported layer names what the shipped one does not
    assert unattributed > 0 and gained == unattributed, (gained, unattributed)
    assert time.monotonic() - t < 60


def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    return suite.main("sig-import", globals(), lambda b, w: e2e.build_mmdb(), (e2e.Skip,), bind,
                      order=suite.in_file_order(globals()))


if __name__ == "__main__":
    sys.exit(main())
