#!/usr/bin/python3
"""Corpus tests: flowaudit on real captures written by others.

When ../shared/corpus is present (beside the project), this checks
  - naming agreement with tshark: for every TCP/UDP flow where tshark sees a
    TLS/QUIC SNI or an HTTP Host, `flowaudit flows --json` gives that name
    (at least 99%; every disagreement is printed);
  - every capture (edge cases included) runs through `flows` with no crash
    and no sanitizer report; unreadable files give one line and exit 2;
  - SDK hosts of the real app captures are attributed to the right entity.
Without the corpus every test is skipped with a message.

Usage: run.py BUILD/flowaudit [FILTER]
Last line: "corpus: N passed, N failed, N skipped".
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import traceback

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.environ.get("FLOWAUDIT_CORPUS", os.path.join(os.path.dirname(TOP), "shared", "corpus"))
BIN = None
CAP_EXT = (".pcap", ".pcapng", ".cap")


class Skip(Exception):
    pass


def captures(*dirs):
    out = []
    for d in dirs:
        root = os.path.join(CORPUS, d)
        for dp, _, files in os.walk(root):
            for f in sorted(files):
                out.append(os.path.join(dp, f))
    return sorted(out)


def norm(name):
    name = (name or "").strip().lower().rstrip(".")
    if name.startswith("[") and "]" in name:
        return name[1:name.index("]")]
    if name.count(":") == 1:
        name = name.split(":")[0]
    return name


def is_ip_literal(name):
    import ipaddress
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def tshark_names(path):
    """(transport, client, cport, server, sport) -> first SNI/Host tshark reports.

    Addresses are the innermost ones (flowaudit opens IP-in-IP, GRE, GTP-U and
    VXLAN tunnels), read in the order frame.protocols lists the layers. A Host
    or SNI that is an address literal (SSDP's "HOST: 239.255.255.250:1900")
    names nothing and is left out.
    """
    fields = ["frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
              "tcp.dstport", "udp.srcport", "udp.dstport", "tls.handshake.extensions_server_name",
              "http.host"]
    cmd = ["tshark", "-n", "-r", path, "-Y", "tls.handshake.type == 1 || http.request",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=l"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    names = {}
    for line in p.stdout.splitlines():
        v = line.split("\t")
        if len(v) < 11:
            continue
        layers = v[0].split(":")
        last_ip = max((i for i, l in enumerate(layers) if l in ("ip", "ipv6")), default=-1)
        if last_ip < 0:
            continue
        if layers[last_ip] == "ipv6":
            src, dst = v[3], v[4]
        else:
            src, dst = v[1], v[2]
        if v[5]:
            key = ("tcp", src, int(v[5].split(",")[-1]), dst, int(v[6].split(",")[-1]))
        elif v[7]:
            key = ("udp", src, int(v[7].split(",")[-1]), dst, int(v[8].split(",")[-1]))
        else:
            continue
        name = norm(v[9] or v[10])
        if name and not is_ip_literal(name) and key not in names:
            names[key] = name
    return names


def flowaudit_flows(path):
    p = subprocess.run([BIN, "flows", "-r", path, "--json", "--no-geo", "--quiet"],
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        return None, p
    return json.loads(p.stdout), p


def test_tshark_agreement():
    files = [f for f in captures("ndpi/pcap", "mobile") if f.endswith(CAP_EXT)]
    if not files:
        raise Skip("no corpus at %s" % CORPUS)
    total = agree = 0
    disagreements = []

    def one(path):
        ts = tshark_names(path)
        if not ts:
            return path, ts, None
        fl, _ = flowaudit_flows(path)
        return path, ts, fl

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for path, ts, fl in ex.map(one, files):
            if not ts:
                continue
            ours = {}
            for f in fl or []:
                k = (f["transport"], f["client_ip"], f["client_port"], f["server_ip"], f["server_port"])
                # a 5-tuple reused by a later connection: keep the one with a name
                for kk in (k, (k[0], k[3], k[4], k[1], k[2])):
                    if kk not in ours or not ours[kk]["name"]:
                        ours[kk] = f
            for key, name in ts.items():
                total += 1
                f = ours.get(key)
                got = norm(f["name"]) if f and f["name"] else None
                if got == name:
                    agree += 1
                else:
                    disagreements.append((os.path.relpath(path, CORPUS), key, name, got,
                                          f["name_source"] if f else "no flow"))
    rate = 100.0 * agree / total if total else 100.0
    print("tshark agreement: %d/%d flows (%.2f%%)" % (agree, total, rate))
    for d in disagreements:
        print("  disagree: %s %s tshark=%s flowaudit=%s (%s)" % d)
    assert rate >= 99.0, "agreement %.2f%% < 99%%" % rate


def _run_one(path):
    p = subprocess.run([BIN, "flows", "-r", path, "--json", "--no-geo", "--quiet"],
                       capture_output=True, text=True, timeout=900)
    return path, p


def test_every_capture_survives():
    """Every file of the corpus through flows: exit 0, or exit 2 with one line naming the file."""
    files = captures("ndpi/pcap", "mobile", "edge", "arkime")
    files = [f for f in files if not f.endswith((".txt", ".out", ".json", ".md", ".tsv", ".csv", ".py"))
             and os.path.isfile(f) and not os.path.basename(f).startswith(("LICENSE", "COPYING", "Readme", "README"))]
    if not files:
        raise Skip("no corpus at %s" % CORPUS)
    bad = []
    refused = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for path, p in ex.map(_run_one, files):
            err = p.stderr
            if "Sanitizer" in err or "runtime error" in err or p.returncode not in (0, 2):
                bad.append((path, p.returncode, err[-600:]))
            elif p.returncode == 2:
                refused += 1
                lines = [l for l in err.splitlines() if l.strip()]
                if len(lines) != 1 or os.path.basename(path) not in lines[0]:
                    bad.append((path, 2, "unclear refusal: " + err[-300:]))
    print("%d captures read, %d refused with a message" % (len(files), refused))
    for b in bad:
        print("  %s: exit %s\n%s" % b)
    assert not bad, "%d captures crashed or misbehaved" % len(bad)


SDK_HOSTS = {
    # host seen in the corpus : signature id expected
    "app-measurement.com": "firebase-analytics",
    "settings.crashlytics.com": "firebase-crashlytics",
    "googleads.g.doubleclick.net": "admob",
}


def test_sdk_attribution():
    path = os.path.join(CORPUS, "mobile", "matousp", "ma2", "accuweather.pcapng")
    if not os.path.exists(path):
        raise Skip("no corpus at %s" % CORPUS)
    fl, p = flowaudit_flows(path)
    assert fl is not None, p.stderr
    seen = {}
    unknown = set()
    for f in fl:
        if not f["name"]:
            continue
        if f["signature"]:
            seen[f["name"]] = f["signature"]["id"]
        elif f["server_port"] in (80, 443):
            unknown.add(f["name"])
    for host, sig in SDK_HOSTS.items():
        if host in seen:
            assert seen[host] == sig, (host, seen[host], sig)
    ent = {v for v in seen.values()}
    for need in ("appsflyer", "firebase-analytics", "firebase-crashlytics", "admob"):
        assert need in ent, (need, sorted(ent))
    print("attributed: %s" % ", ".join("%s=%s" % kv for kv in sorted(seen.items())))
    print("unknown (named, no signature): %s" % ", ".join(sorted(unknown)))


def main():
    global BIN
    BIN = os.path.abspath(sys.argv[1])
    flt = sys.argv[2] if len(sys.argv) > 2 else ""
    passed = failed = skipped = 0
    if not os.path.isdir(CORPUS):
        print("SKIP corpus tests: %s not found (a user's clone has no shared corpus)" % CORPUS)
    for name, fn in sorted(globals().items()):
        if not name.startswith("test_") or flt not in name:
            continue
        try:
            if not os.path.isdir(CORPUS):
                raise Skip("no corpus")
            fn()
            print("PASS %s" % name)
            passed += 1
        except Skip as e:
            print("SKIP %s: %s" % (name, e))
            skipped += 1
        except Exception:
            print("FAIL %s" % name)
            traceback.print_exc(limit=2, file=sys.stdout)
            failed += 1
    print("corpus: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
