#!/usr/bin/python3
"""End-to-end tests of the signature catalogue against the hosts SDK vendors
document: every row of tests/fixtures/catalogue/*.tsv (host, expected entry
id, expected entity, reference URL) must be attributed by `sigs match` to
that entry and entity; a look-alike of each host must not be; and the names
policies use (aliases) must each name one entry.

Prints the attribution rate of each fixture file and of all of them.

Usage: test_catalogue.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "catalogue: N passed, N failed, N skipped".
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(TOP, "signatures")
FIXTURES = os.path.join(TOP, "tests", "fixtures", "catalogue")
HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$")

BIN = None
WORK = None


def bind(binary, work):
    global BIN, WORK
    BIN, WORK = binary, work


def fixture_files():
    files = sorted(glob.glob(os.path.join(FIXTURES, "*.tsv")))
    if not files:
        raise AssertionError("no fixture in %s" % FIXTURES)
    return files


def read_rows(path):
    """[(line number, host, id, entity, reference)] of one fixture file."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 4:
                raise AssertionError("%s:%d: %d fields, expected 4 (host, id, entity, reference)"
                                     % (os.path.basename(path), n, len(fields)))
            rows.append((n,) + tuple(fields))
    return rows


def entries():
    """Every catalogue entry by id."""
    out = {}
    for path in glob.glob(os.path.join(SIGS, "*.json")):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        out[d["id"]] = d
    return out


def match(hosts):
    """sigs match over hosts, one JSON object per host: {host: object}."""
    p = subprocess.run([BIN, "sigs", "match", "-s", SIGS, "--json", "-"], input="\n".join(hosts) + "\n",
                       capture_output=True, text=True, timeout=300)
    if p.returncode not in (0, 1):
        raise AssertionError("sigs match exit %d: %s" % (p.returncode, p.stderr[-2000:]))
    out = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        out[o["input"]] = o
    missing = [h for h in hosts if h not in out]
    if missing:
        raise AssertionError("sigs match gave no answer for %s" % missing[:5])
    return out


def alias_key(text):
    """The loader's alias key: ASCII letters folded to lower case; ASCII and
    full-width spaces, '-', '_', '.', U+00B7 and U+30FB dropped."""
    drop = " \u3000-_.\u00b7\u30fb"
    return "".join(c.lower() if c.isascii() else c for c in text if c not in drop)


def test_fixtures_well_formed():
    """Each row names a valid host, an entry that exists, that entry's entity
    and a public reference; a host is listed once (or identically) across files."""
    cat = entries()
    seen = {}
    problems = []
    for path in fixture_files():
        name = os.path.basename(path)
        rows = read_rows(path)
        if not rows:
            problems.append("%s: no rows" % name)
        for n, host, sid, entity, ref in rows:
            where = "%s:%d" % (name, n)
            if not HOST_RE.match(host):
                problems.append("%s: '%s' is not a lower-case host name" % (where, host))
            if sid not in cat:
                problems.append("%s: no entry '%s'" % (where, sid))
            elif cat[sid]["entity"] != entity:
                problems.append("%s: entity '%s' but %s.json says '%s'" % (where, entity, sid, cat[sid]["entity"]))
            if not re.match(r"^https?://[^\s/]+\.[^\s/]+", ref):
                problems.append("%s: reference '%s' is not a URL" % (where, ref))
            if host in seen and seen[host][1:] != (sid, entity):
                problems.append("%s: %s also expected as %s at %s" % (where, host, seen[host][1], seen[host][0]))
            seen[host] = (where, sid, entity)
    assert not problems, "\n".join(problems[:40])


def test_hosts_attributed():
    """sigs match attributes every fixture host to its expected entry and
    entity; prints the rate per file and in total."""
    files = fixture_files()
    rows = {path: read_rows(path) for path in files}
    got = match(sorted({r[1] for rs in rows.values() for r in rs}))
    total = right = wrong = 0
    problems = []
    for path in files:
        n_right = n_wrong = 0
        for n, host, sid, entity, _ in rows[path]:
            o = got[host]
            if o["id"] == sid and o["entity"] == entity:
                n_right += 1
                continue
            if o["id"] is not None and o["entity"] != entity:
                n_wrong += 1
            problems.append("%s:%d: %s expected %s (%s), got %s (%s) by %s" %
                            (os.path.basename(path), n, host, sid, entity, o["id"], o["entity"], o["pattern"]))
        count = len(rows[path])
        print("  %s: %d/%d attributed to the expected entry (%.1f%%), %d to another company" %
              (os.path.basename(path), n_right, count, 100.0 * n_right / count, n_wrong))
        total += count
        right += n_right
        wrong += n_wrong
    print("  all fixtures: %d/%d (%.1f%%), %d to another company" % (right, total, 100.0 * right / total, wrong))
    assert not problems, "\n".join(problems[:40])


def test_lookalikes_not_attributed():
    """Matching is by whole labels: 'evil-<domain>' and '<host>.example' are
    not the vendor's."""
    expected = {}
    for path in fixture_files():
        for _, host, sid, _, _ in read_rows(path):
            labels = host.split(".")
            expected["evil-" + ".".join(labels[-2:])] = sid
            expected[host + ".lookalike.example"] = sid
    got = match(sorted(expected))
    bad = ["%s -> %s by %s" % (h, got[h]["id"], got[h]["pattern"])
           for h, sid in sorted(expected.items()) if got[h]["id"] == sid]
    assert not bad, "look-alikes attributed to the vendor:\n" + "\n".join(bad[:40])


def test_aliases_name_one_entry():
    """No alias key is another entry's alias or name, and sigs check accepts
    the catalogue."""
    owner = {}
    clashes = []
    for sid, d in sorted(entries().items()):
        keys = {alias_key(d["name"])} | {alias_key(a) for a in d.get("aliases", [])}
        for k in keys:
            if k in owner and owner[k] != sid:
                clashes.append("'%s' names both %s and %s" % (k, owner[k], sid))
            owner.setdefault(k, sid)
    assert not clashes, "\n".join(clashes[:40])
    p = subprocess.run([BIN, "sigs", "check", SIGS], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_shared_alias_rejected():
    """A copy of the catalogue where a second entry takes the alias
    'LevelPlay' is refused, naming both files."""
    copy = os.path.join(WORK, "sigs-shared-alias")
    shutil.copytree(SIGS, copy)
    path = os.path.join(copy, "unity-ads.json")
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    d["aliases"] = d.get("aliases", []) + ["Level Play"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False, indent=2)
    p = subprocess.run([BIN, "sigs", "check", copy], capture_output=True, text=True, timeout=120)
    assert p.returncode != 0, "a shared alias was accepted"
    msg = p.stdout + p.stderr
    assert "unity-ads.json" in msg and "ironsource.json" in msg, msg


# Names privacy policies use for SDKs, and the entry each must land on.
POLICY_NAMES = [
    ("GoogleMobileAds SDK", "admob"), ("Google Mobile Ads SDK", "admob"), ("AdMob", "admob"),
    ("Firebase Crashlytics", "firebase-crashlytics"), ("Google Analytics for Firebase", "firebase-analytics"),
    ("Firebase Cloud Messaging", "firebase-cloud-messaging"), ("Google IMA SDK", "google-ad-manager"),
    ("Facebook Audience Network", "facebook-audience-network"),
    ("Meta Audience Network", "facebook-audience-network"), ("Facebook SDK", "facebook-sdk"),
    ("Facebook Login", "facebook-sdk"), ("ironSource Mediation", "ironsource"), ("LevelPlay", "ironsource"),
    ("Unity Ads", "unity-ads"), ("AppLovin MAX", "applovin"), ("Liftoff Monetize", "vungle"), ("Vungle", "vungle"),
    ("DT Exchange", "fyber"), ("Fyber", "fyber"), ("AdColony", "adcolony"), ("InMobi", "inmobi"),
    ("Appnext", "appnext"), ("Smart AdServer", "equativ"), ("Equativ", "equativ"), ("Localytics", "localytics"),
    ("Adjust", "adjust"), ("Singular", "singular"), ("StartApp", "start-io"), ("Start.io", "start-io"),
    ("HyprMX", "hyprmx"), ("myTarget", "mytarget"), ("Tapjoy", "tapjoy"), ("Kochava", "kochava"),
    ("MobileAppTracking", "tune"), ("Sentry", "sentry"), ("Moloco", "moloco"), ("AppMetrica", "yandex-appmetrica"),
    ("Yandex Mobile Ads", "yandex-mobile-ads"), ("Chartboost", "chartboost"), ("AppsFlyer", "appsflyer"),
    ("Stripe", "stripe"), ("Adyen", "adyen"), ("Braintree", "paypal"), ("PayPal", "paypal"),
    ("Zendesk", "zendesk"), ("Braze", "braze"), ("Appboy", "braze"), ("CleverTap", "clevertap"),
    ("Vonage", "vonage"), ("Nexmo", "vonage"), ("OpenTok", "vonage"), ("Segment", "segment"),
    ("Amplitude", "amplitude"), ("Datadog", "datadog-rum"), ("Branch", "branch"), ("Agora", "agora"),
    ("Twilio", "twilio"), ("Mixpanel", "mixpanel"), ("OneSignal", "onesignal"), ("Bugsnag", "bugsnag"),
]

# Words that fit several entries (or none) and so must be no entry's alias.
GENERIC = ["Google", "Firebase", "Facebook", "Meta", "Microsoft", "Amazon", "Apple", "Unity", "Yandex",
           "Digital Turbine", "VK", "Analytics", "Ads", "SDK", "Push", "Maps"]


def test_policy_names_land_on_their_entry():
    owner = {}
    for sid, d in entries().items():
        for a in [d["name"]] + d.get("aliases", []):
            owner[alias_key(a)] = sid
    wrong = ["%s -> %s (expected %s)" % (name, owner.get(alias_key(name)), sid)
             for name, sid in POLICY_NAMES if owner.get(alias_key(name)) != sid]
    generic = ["%s is an alias of %s" % (w, owner[alias_key(w)]) for w in GENERIC if alias_key(w) in owner]
    assert not wrong and not generic, "\n".join(wrong + generic)


if __name__ == "__main__":
    sys.exit(suite.main("catalogue", globals(), bind=bind, order=suite.in_file_order(globals())))
