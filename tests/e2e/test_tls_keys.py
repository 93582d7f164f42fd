#!/usr/bin/python3
"""End-to-end tests of decryption with session keys: flowaudit on the keyed
captures tests/gen/tlscap.py makes, against what tshark reads in them.

The captures are made once per run (about 15 s, as root, in network
namespaces) into this suite's temporary directory and shared by every test;
tests/gen/tlscap.py's docstring lists the scenarios (TLS 1.2 and 1.3, GCM,
ChaCha20-Poly1305, CBC with and without encrypt-then-MAC, CCM, resumption,
KeyUpdate, HTTP/1.1 and HTTP/2, identifiers of tests/fixtures/tls-e2e/device.json in
the query, headers, a JSON body and a gzip body).

What is asserted, per connection of every scenario:
  - with its key log (--keylog KEYS) every connection is decrypted
    (`tls_decrypted: true` on its flow, in flows JSON and in report.json)
    and its request URI and user agent are tshark's, all of them;
  - the same from the pcapng carrying the keys as a Decryption Secrets
    Block, with no option, and from one whose DSBs come late (one per
    connection, after its first server segment);
  - with half the keys exactly the keyed half is decrypted, and every other
    TLS flow says why not (`tls_decrypted` false and a reason naming the
    missing key); the two halves given as two --keylog options decrypt all;
  - with one connection's secrets wrong in one digit that flow says
    authentication failed and nothing of it is read, the others decrypt;
  - a capture that starts after a connection's hellos: that flow not
    decrypted (the handshake was not captured), all the others decrypted;
  - a cipher flowaudit need not support (TLS 1.3 AES-128-CCM) is decrypted
    like the others or its flow says the cipher is not supported;
  - audit (policy tests/fixtures/tls-e2e/policy.json, which declares
    nothing for the lab's host) raises undeclared-data for the identifiers
    sent in decrypted traffic, from keyed connections only, never
    cleartext-identifier, and nothing read inside TLS without keys;
  - the evidence pcapng of such a finding carries a DSB holding exactly the
    key log lines of that finding's connections, and tshark decrypts it
    with no key log of its own;
  - report.json records each key log's SHA-256, and no secret of a key log
    is anywhere in the report directory outside those DSBs.
A flow's reason for not being decrypted is read from `tls_decrypted` when
that is a string, else from the flow's other `tls_decrypt*` field.

Until flowaudit has --keylog (`flowaudit flows --help` does not list it)
those tests skip with "flowaudit has no --keylog yet"; the generator's own
check runs today. Every test skips when not root or a tool is missing.

Usage: test_tls_keys.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "tls-keys: N passed, N failed, N skipped".
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(TOP, "tests", "fixtures", "tls-e2e")
POLICY = os.path.join(FIX, "policy.json")
DEVICE = os.path.join(FIX, "device.json")
sys.path.insert(0, os.path.join(TOP, "tests", "gen"))
import tlscap  # noqa: E402
import suite  # noqa: E402  (the e2e harness)

# The key log labels flowaudit reads (NSS key log format)
LABELS = ("CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
          "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET")

BIN = None
WORK = None
STATE = {}


class Skip(Exception):
    pass


# ---------------------------------------------------------------- helpers

def captures():
    """The generated directory and its references {scenario: reference},
    made on first use."""
    if "refs" in STATE:
        return STATE["out"], STATE["refs"]
    if "error" in STATE:
        raise STATE["error"]
    why = tlscap.prerequisites()
    if why:
        STATE["error"] = Skip(why)
        raise STATE["error"]
    out = os.path.join(WORK, "captures")
    t0 = time.monotonic()
    try:
        names = tlscap.generate(out)
    except tlscap.LabError as e:
        STATE["error"] = AssertionError("the capture generator failed: %s" % e)
        raise STATE["error"]
    print("  (captures made in %.1f s)" % (time.monotonic() - t0))
    refs = {}
    for n in names:
        with open(os.path.join(out, n + ".json")) as f:
            refs[n] = json.load(f)
    STATE["out"], STATE["refs"] = out, refs
    return out, refs


def path(name, suffix):
    return os.path.join(STATE["out"], name + suffix)


def need_keylog():
    if "keylog" not in STATE:
        p = subprocess.run([BIN, "flows", "--help"], capture_output=True, text=True, timeout=60)
        STATE["keylog"] = "--keylog" in p.stdout + p.stderr
    if not STATE["keylog"]:
        raise Skip("flowaudit has no --keylog yet")
    return captures()


def run(args, expect=None):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=300)
    for mark in ("Sanitizer", "runtime error:"):
        assert mark not in p.stderr, "sanitizer report:\n%s" % p.stderr[-4000:]
    if expect is not None and p.returncode not in expect:
        raise AssertionError("exit %d (expected %s) for %s\nstdout: %s\nstderr: %s" %
                             (p.returncode, expect, " ".join(args), p.stdout[-2000:],
                              p.stderr[-2000:]))
    return p


def flows(files, keylogs=()):
    """flows --json over several captures at once (cached)."""
    key = ("flows", tuple(files), tuple(keylogs))
    if key not in STATE:
        args = ["flows", "--json", "--no-geo", "--quiet"]
        for f in files:
            args += ["-r", f]
        for k in keylogs:
            args += ["--keylog", k]
        STATE[key] = json.loads(run(args, expect=(0,)).stdout)
    return STATE[key]


def audit(tag, files, keylogs=()):
    """audit of several captures with the lab's policy and device profile
    (cached): (report, report directory)."""
    key = ("audit", tuple(files), tuple(keylogs))
    if key not in STATE:
        out = os.path.join(WORK, "report-" + tag)
        args = ["audit", "-p", POLICY, "-d", DEVICE, "--no-geo", "-o", out, "--quiet"]
        for f in files:
            args += ["-r", f]
        for k in keylogs:
            args += ["--keylog", k]
        run(args, expect=(0, 1))
        with open(os.path.join(out, "report.json")) as f:
            STATE[key] = (json.load(f), out)
    return STATE[key]


def all_of(suffix):
    _, refs = captures()
    return [path(n, suffix) for n in refs]


def keylogs(suffix):
    return all_of(suffix)


def tls_flows(fl, capture, ref):
    """{client port: flow} of one scenario's connections to its server."""
    out = {}
    for f in fl:
        if f.get("file") == capture and f.get("server_ip") == ref["address"] and \
                f.get("server_port") == 443 and f.get("transport") == "tcp":
            out[f["client_port"]] = f
    return out


def reason(flow):
    """Why a flow was not decrypted, or None when it was."""
    d = flow.get("tls_decrypted")
    if d is True:
        return None
    if isinstance(d, str) and d:
        return d
    for k, v in sorted(flow.items()):
        if k.startswith("tls_decrypt") and k != "tls_decrypted" and isinstance(v, str) and v:
            return v
    return ""


def uri_of(flow, host):
    """The request target of a flow's http_url, whatever its form (URL,
    host and path, or path)."""
    u = flow.get("http_url")
    if u is None:
        return None
    for scheme in ("https://", "http://"):
        if u.startswith(scheme):
            u = u[len(scheme):]
    if u.startswith(host):
        u = u[len(host):]
    return u


# What a key log lets a connection be: its reference field saying whether
# tshark decrypted it with that key log, and the word the reason a flow gives
# for not being decrypted must hold when tshark did not.
KEYLOGS = {"full": ("decrypted", "key"), "half": ("decrypted_with_halfkeys", "key"),
           "bad": ("decrypted_with_badkeys", "auth"), "none": (None, "key"),
           "midstream": ("decrypted_in_midstream", "handshake")}


def expected(ref, which):
    """{tcp stream: None (to be decrypted) or the word its reason holds}."""
    field, word = KEYLOGS[which]
    return {s["tcp_stream"]: None if field and s[field] else word for s in ref["streams"]}


def optional_skip(ref, f):
    """A connection with a cipher flowaudit need not support, which it says
    it does not."""
    return not ref["cipher_required"] and f.get("tls_decrypted") is False and \
        "cipher" in (reason(f) or "").lower()


def compare_decrypted(fl, capture, ref, expect):
    """Problems: flows to be decrypted that are not, or that read requests
    other than tshark's; flows not to be decrypted that are, or whose reason
    lacks its word. Also the number of flows agreeing with tshark."""
    bad = []
    by_port = tls_flows(fl, capture, ref)
    agree = 0
    for s in ref["streams"]:
        f = by_port.get(s["client_port"])
        tag = "%s stream %d (port %d)" % (ref["scenario"], s["tcp_stream"], s["client_port"])
        if f is None:
            bad.append("%s: no flow" % tag)
            continue
        word = expect[s["tcp_stream"]]
        if word == "handshake" and f.get("tls_decrypted") is None and reason(f) == "":
            continue  # without its hellos a flow need not be known as TLS
        if optional_skip(ref, f):
            agree += word is None
            continue
        if word is not None:
            if f.get("tls_decrypted") is not False or word not in (reason(f) or "").lower():
                bad.append("%s: not decryptable (%s), yet tls_decrypted %r, reason %r" %
                           (tag, word, f.get("tls_decrypted"), reason(f)))
            continue
        if f.get("tls_decrypted") is not True:
            bad.append("%s: keyed but tls_decrypted %r (%r)" % (tag, f.get("tls_decrypted"),
                                                               reason(f)))
            continue
        first = s["requests"][0]
        got = (uri_of(f, ref["host"]), f.get("user_agent"))
        want = (first["uri"], first["user_agent"])
        if got != want:
            bad.append("%s: URI and user agent %r, tshark %r" % (tag, got, want))
        else:
            agree += 1
        listed = f.get("requests") or f.get("http_requests")
        if isinstance(listed, list):
            got = [(r.get("method"), r.get("uri") or r.get("path"), r.get("user_agent"))
                   for r in listed]
            want = [(r["method"], r["uri"], r["user_agent"]) for r in s["requests"]]
            if got != want:
                bad.append("%s: requests %r, tshark %r" % (tag, got, want))
    return bad, agree


def check_all_decrypted(fl, suffix=".pcap", which="full"):
    """Every scenario's flows (read from NAME+suffix) against tshark with the
    key log `which` names (KEYLOGS)."""
    out, refs = captures()
    bad = []
    agree = total = 0
    for name, ref in refs.items():
        expect = expected(ref, which)
        b, a = compare_decrypted(fl, path(name, suffix), ref, expect)
        bad += b
        agree += a
        total += sum(w is None for w in expect.values())
    assert not bad, "%d problems:\n  %s" % (len(bad), "\n  ".join(bad[:40]))
    assert agree == total, (agree, total)
    return agree


def identifier_types(ref, streams=None):
    return {i["type"] for s in ref["streams"] if streams is None or s["tcp_stream"] in streams
            for i in s["identifiers"]}


def of_rule(rep, rule, host=None):
    return [f for f in rep["findings"] if f["rule"] == rule and (host is None or f["host"] == host)]


def report_flow_streams(rep, ref, capture):
    """{report flow id: reference stream} for one scenario."""
    by_port = {s["client_port"]: s for s in ref["streams"]}
    out = {}
    for f in rep["flows"]:
        if f.get("file") == capture and f.get("server_ip") == ref["address"] and \
                f.get("server_port") == 443 and f["client_port"] in by_port:
            out[f["id"]] = by_port[f["client_port"]]
    return out


def keylog_lines(path_):
    with open(path_) as f:
        by, _ = tlscap.parse_keylog(f.read())
    return by


def secrets_of(path_):
    """{secret hex: client random} of a key log."""
    out = {}
    for cr, lines in keylog_lines(path_).items():
        for line in lines:
            out[line.split()[2].lower()] = cr
    return out


# ---------------------------------------------------------------- today

def test_generator_self_check():
    """The captures are what the other tests assume: tshark decrypted every
    keyed connection and read exactly curl's requests (tlscap checks that
    while generating), no request can be read without keys, the DSB pcapng
    holds exactly the key log and tshark decrypts it alone, and the half key
    log drops every second connection's lines and nothing else. The
    self-check itself catches a wrong DSB and a wrong half key log."""
    out, refs = captures()
    assert len(refs) == len(tlscap.SCENARIOS), sorted(refs)
    bad = tlscap.self_check(out)
    assert not bad, bad
    nstreams = sum(len(r["streams"]) for r in refs.values())
    nreq = sum(len(s["requests"]) for r in refs.values() for s in r["streams"])
    assert nstreams == 9 * 4 + 2 + 2 + 2 * 2 + 2 + 5 + 6 and nreq == nstreams + 3, \
        (nstreams, nreq)
    negotiated = {(s["version"], s["cipher_id"], s["etm"]) for r in refs.values()
                  for s in r["streams"]}
    assert {c for _, c, _ in negotiated} == set(tlscap.IANA.values()), negotiated
    assert {e for _, c, e in negotiated if c == 0xC013} == {True, False}, negotiated
    assert {v for v, _, _ in negotiated} == {"1.2", "1.3"}, negotiated
    assert sorted(s["version"] for r in refs.values() for s in r["streams"] if s["resumed"]) \
        == ["1.2", "1.3"]
    assert [s["key_updates"] for s in refs["keyupdate-t13"]["streams"]] == [0, 2], \
        refs["keyupdate-t13"]["streams"]
    # without keys nothing inside TLS is readable: the traffic really is encrypted
    work = os.path.join(WORK, "selfcheck")
    os.makedirs(work)
    allpcap = os.path.join(work, "all.pcap")
    tlscap.sh("mergecap", "-a", "-F", "pcap", "-w", allpcap, *all_of(".pcap"))
    plain = tlscap.read_streams(allpcap, "/dev/null")
    leaked = [(srv, sid) for srv, st in plain.items() for sid, s in st.items() if s["requests"]]
    assert not leaked, leaked
    # a DSB pcapng decrypts in tshark with no key log, to the same requests
    for name in ("h2-t12-chacha", "t13-chacha"):
        ref = refs[name]
        dsb = tlscap.read_streams(path(name, "-dsb.pcapng"), "/dev/null")[ref["address"]]
        assert [s["requests"] for _, s in sorted(dsb.items())] == \
            [s["requests"] for s in ref["streams"]], name
    # the self-check fails on a DSB that is not the key log and on a half
    # key log that keeps every key
    broken = os.path.join(work, "broken")
    shutil.copytree(out, broken, ignore=shutil.ignore_patterns("tlscap-*"))
    name = "t12-aes128gcm"
    os.unlink(os.path.join(broken, name + "-dsb.pcapng"))
    tlscap.sh("editcap", "--inject-secrets", "tls," + path(name, "-halfkeys"),
              path(name, ".pcap"), os.path.join(broken, name + "-dsb.pcapng"))
    shutil.copy(path("t13-chacha", ".keys"), os.path.join(broken, "t13-chacha-halfkeys"))
    bad = tlscap.self_check(broken)
    assert any(b.startswith(name + ": the DSB") for b in bad), bad
    assert any(b.startswith("t13-chacha: stream 1 wrongly kept") for b in bad), bad
    assert len(bad) == 3, bad


# ---------------------------------------------------------------- flows

def test_flows_keylog_decrypts_all():
    """--keylog KEYS: every connection decrypted, each flow's request URI and
    user agent tshark's."""
    need_keylog()
    n = check_all_decrypted(flows(all_of(".pcap"), keylogs(".keys")))
    print("  %d of %d connections agree with tshark" % (n, n))


def test_flows_dsb_no_option():
    """The pcapng with the keys in a DSB, no option: the same as --keylog."""
    need_keylog()
    check_all_decrypted(flows(all_of("-dsb.pcapng")), "-dsb.pcapng")


def test_flows_late_dsb():
    """Each connection's keys in a DSB of its own that comes after the
    connection's first server segment: still every connection decrypted."""
    need_keylog()
    check_all_decrypted(flows(all_of("-latedsb.pcapng")), "-latedsb.pcapng")


def test_flows_half_keys():
    """Half the keys: the keyed half decrypted and agreeing with tshark, every
    other TLS flow tls_decrypted false with a reason naming the key."""
    need_keylog()
    check_all_decrypted(flows(all_of(".pcap"), keylogs("-halfkeys")), which="half")


def test_flows_two_keylogs():
    """--keylog repeats: the half key log and the lines it lacks, given as two
    files, decrypt every connection."""
    need_keylog()
    rest = []
    for full in keylogs(".keys"):
        half = full[:-len(".keys")] + "-halfkeys"
        with open(half) as f:
            kept = set(f.read().splitlines())
        other = os.path.join(WORK, os.path.basename(full) + ".rest")
        with open(full) as f, open(other, "w") as o:
            o.write("".join(l + "\n" for l in f.read().splitlines() if l not in kept))
        rest.append(other)
    check_all_decrypted(flows(all_of(".pcap"), keylogs("-halfkeys") + rest))


def test_flows_bad_keys():
    """Wrong secrets for one connection (one digit changed): that flow says
    authentication failed, and nothing of it is read; the others decrypt."""
    need_keylog()
    check_all_decrypted(flows(all_of(".pcap"), keylogs("-badkeys")), which="bad")


def test_flows_handshake_missing():
    """A capture that starts after a connection's hellos: that flow is not
    decrypted (it says the handshake was not captured, when it is known as
    TLS); every other connection is, with the same key log."""
    need_keylog()
    check_all_decrypted(flows(all_of("-midstream.pcap"), keylogs(".keys")), "-midstream.pcap",
                        which="midstream")


def test_flows_no_keys():
    """No key log: no TLS flow is decrypted, and each says it had no key."""
    need_keylog()
    check_all_decrypted(flows(all_of(".pcap")), which="none")


# ---------------------------------------------------------------- audit

def assert_findings(rep, which, suffix=".pcap"):
    """undeclared-data per scenario host with the identifier types of the
    streams decrypted with the key log `which` names (KEYLOGS), from those
    streams only, naming the headers they came in; never
    cleartext-identifier; report.json's tls_decrypted as expected."""
    _, refs = captures()
    bad = []
    ci = of_rule(rep, "cleartext-identifier")
    if ci:
        bad.append("cleartext-identifier on encrypted traffic: %s" %
                   sorted({f["host"] for f in ci}))
    for name, ref in refs.items():
        ids = report_flow_streams(rep, ref, path(name, suffix))
        expect = expected(ref, which)
        flow_of = {s["tcp_stream"]: fl for fl in rep["flows"] if fl["id"] in ids
                   for s in [ids[fl["id"]]]}
        dec = {sid for sid, w in expect.items() if w is None and
               not (sid in flow_of and optional_skip(ref, flow_of[sid]))}
        for sid, w in expect.items():
            fl = flow_of.get(sid)
            if fl is None:
                bad.append("%s stream %d: not in report.json's flows" % (name, sid))
            elif (fl.get("tls_decrypted") is True) != (sid in dec):
                bad.append("%s stream %d: report.json says tls_decrypted %r" %
                           (name, sid, fl.get("tls_decrypted")))
        want = identifier_types(ref, dec)
        found = of_rule(rep, "undeclared-data", ref["host"])
        got = {i["type"] for f in found for i in f["identifiers"]}
        if got != want:
            bad.append("%s: undeclared-data for %s, expected %s" % (name, sorted(got),
                                                                   sorted(want)))
        for f in found:
            for fid in f["flows"]:
                s = ids.get(fid)
                if s is None or s["tcp_stream"] not in dec:
                    bad.append("%s: %s cites flow %s, not a decrypted connection" %
                               (name, f["id"], fid))
        # where an identifier was read: the header it came in is named
        text = json.dumps([f["identifiers"] for f in found]).lower()
        for s in ref["streams"]:
            for i in s["identifiers"]:
                if s["tcp_stream"] in dec and i["where"] == "header" and \
                        i["key"].lower() not in text:
                    bad.append("%s: no undeclared-data finding names header %s" %
                               (name, i["key"]))
    assert not bad, "\n  ".join(bad)


def test_audit_keylog_findings():
    """audit --keylog: undeclared-data for every identifier sent inside TLS,
    naming the header it came in; no cleartext-identifier."""
    need_keylog()
    rep, _ = audit("keys", all_of(".pcap"), keylogs(".keys"))
    assert_findings(rep, "full")


def test_audit_dsb_same_findings():
    """The DSB pcapng with no option: the same findings as --keylog."""
    need_keylog()
    rep, _ = audit("dsb", all_of("-dsb.pcapng"))
    assert_findings(rep, "full", "-dsb.pcapng")
    keyed, _ = audit("keys", all_of(".pcap"), keylogs(".keys"))

    def summary(r):
        return sorted((f["rule"], f["host"], tuple(sorted({i["type"] for i in f["identifiers"]})))
                      for f in r["findings"])
    assert summary(rep) == summary(keyed), (summary(rep), summary(keyed))


def test_audit_half_keys_findings():
    """Half the keys: findings from the keyed connections only."""
    need_keylog()
    rep, _ = audit("half", all_of(".pcap"), keylogs("-halfkeys"))
    assert_findings(rep, "half")


def test_audit_bad_keys_findings():
    """Wrong secrets for one connection: findings from the others only."""
    need_keylog()
    rep, _ = audit("bad", all_of(".pcap"), keylogs("-badkeys"))
    assert_findings(rep, "bad")


def test_audit_no_keys():
    """No keys: nothing read inside TLS, so no identifier finding at all."""
    need_keylog()
    rep, _ = audit("none", all_of(".pcap"))
    assert_findings(rep, "none")
    got = of_rule(rep, "undeclared-data") + of_rule(rep, "cleartext-identifier")
    assert not got, [(f["rule"], f["host"]) for f in got]


def test_evidence_carries_own_secrets():
    """Each undeclared-data finding's evidence is a pcapng whose DSB holds
    exactly the key log lines of the finding's own connections, and tshark
    reads the requests in it with no key log."""
    need_keylog()
    _, refs = captures()
    rep, out = audit("keys", all_of(".pcap"), keylogs(".keys"))
    found = of_rule(rep, "undeclared-data")
    assert found, "no undeclared-data finding"
    bad = []
    checked_by_tshark = 0
    for name, ref in refs.items():
        ids = report_flow_streams(rep, ref, path(name, ".pcap"))
        lines = keylog_lines(path(name, ".keys"))
        for f in of_rule(rep, "undeclared-data", ref["host"]):
            ev = os.path.join(out, f["evidence"])
            randoms = {ids[fid]["client_random"] for fid in f["flows"] if fid in ids}
            want = sorted(l for cr in randoms for l in lines[cr] if l.split()[0] in LABELS)
            try:
                dsbs = tlscap.pcapng_dsbs(ev)
            except (ValueError, OSError) as e:
                bad.append("%s: %s: %s" % (name, f["evidence"], e))
                continue
            got = [l for t, data, _ in dsbs if t == tlscap.DSB_TLS
                   for l in data.rstrip(b"\0").decode().splitlines() if l.strip()]
            # nothing of another connection; every line of the finding's own
            # with a label flowaudit reads (the lines OpenSSL adds after a
            # KeyUpdate may come too)
            foreign = [l for l in got
                       if len(l.split()) != 3 or l.split()[1].lower() not in randoms]
            own = sorted(l for l in got if l not in foreign and l.split()[0] in LABELS)
            if not randoms or foreign or own != want:
                bad.append("%s: %s's DSB holds %d lines of its connections and %d others; "
                           "they have %d" % (name, f["evidence"], len(own), len(foreign),
                                             len(want)))
                continue
            if checked_by_tshark < 2:
                streams = tlscap.read_streams(ev, "/dev/null").get(ref["address"], {})
                if not any(s["requests"] for s in streams.values()):
                    bad.append("%s: tshark reads no request in %s" % (name, f["evidence"]))
                checked_by_tshark += 1
    assert not bad, "\n  ".join(bad)


def test_report_keylog_digest_not_secrets():
    """report.json records each key log's SHA-256; no secret of a key log is
    anywhere in the report directory except in the DSB of the evidence of
    its own connection's finding."""
    need_keylog()
    _, refs = captures()
    rep, out = audit("keys", all_of(".pcap"), keylogs(".keys"))
    text = json.dumps(rep)
    for k in keylogs(".keys"):
        with open(k, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        assert digest in text, "report.json lacks the SHA-256 of %s" % k
    allowed = {}  # evidence path -> the client randoms it may carry
    for name, ref in refs.items():
        ids = report_flow_streams(rep, ref, path(name, ".pcap"))
        for f in rep["findings"]:
            if f.get("evidence"):
                allowed.setdefault(os.path.join(out, f["evidence"]), set()).update(
                    ids[fid]["client_random"] for fid in f["flows"] if fid in ids)
    secrets = {}
    for k in keylogs(".keys"):
        secrets.update(secrets_of(k))
    bad = []
    for root, _, files in os.walk(out):
        for fn in files:
            p = os.path.join(root, fn)
            with open(p, "rb") as f:
                data = f.read()
            low = data.lower()
            for sec, cr in secrets.items():
                if sec.encode() in low or bytes.fromhex(sec) in data:
                    if cr not in allowed.get(p, ()):
                        bad.append("%s holds a secret of client random %s..." %
                                   (os.path.relpath(p, out), cr[:16]))
    assert not bad, "\n  ".join(sorted(set(bad))[:40])


# ---------------------------------------------------------------- the option itself
# On tests/fixtures/tls (real connections, no root needed).

def fixture_flows(args):
    p = run(["flows", "--json", "--no-geo", "--quiet"] + args, expect=(0,))
    return [f for f in json.loads(p.stdout) if f["transport"] == "tcp"], p.stderr


def test_keylog_missing_file():
    """A key log that cannot be read: exit 2, naming it."""
    missing = os.path.join(WORK, "no-such.keys")
    p = run(["flows", "-r", os.path.join(TOP, "tests", "fixtures", "tls", "t13-aes128gcm.pcap"),
             "--keylog", missing], expect=(2,))
    assert missing in p.stderr, p.stderr


def test_keylog_bad_lines_reported():
    """Malformed lines are told with file and line number and skipped;
    other labels counted; the good lines still decrypt."""
    fix = os.path.join(TOP, "tests", "fixtures", "tls")
    with open(os.path.join(fix, "t13-aes128gcm.keys")) as f:
        good = [ln for ln in f.read().splitlines() if ln and not ln.startswith("#")]
    cr = good[0].split()[1]
    kl = os.path.join(WORK, "mixed.keys")
    with open(kl, "w") as f:
        f.write(good[0] + "\n" + "not a key log line\n" +
                "CLIENT_EARLY_TRAFFIC_SECRET %s %s\n" % (cr, "ab" * 32) +
                "\n".join(good[1:]) + "\n")
    fl, err = fixture_flows(["-r", os.path.join(fix, "t13-aes128gcm.pcap"), "--keylog", kl])
    assert "%s:2:" % kl in err, err
    assert "1 key log lines with labels not used" in err, err
    assert [f.get("tls_decrypt_status") for f in fl] == ["decrypted"], fl
    assert fl[0]["tls_decrypted"] is True
    # without the key log the same flow says why not, and nothing else changes
    bare, _ = fixture_flows(["-r", os.path.join(fix, "t13-aes128gcm.pcap")])
    assert [(f["tls_decrypted"], f["tls_decrypt_status"]) for f in bare] == [(False, "no_key")]
    strip = [{k: v for k, v in f.items() if not k.startswith("tls_decrypt")} for f in fl]
    assert strip == [{k: v for k, v in f.items() if not k.startswith("tls_decrypt")}
                     for f in bare], (strip, bare)


def test_keylog_threads_identical():
    """--threads 2 gives the same flows, byte for byte, keys or not."""
    fix = os.path.join(TOP, "tests", "fixtures", "tls")
    args = []
    for n in sorted(os.listdir(fix)):
        if n.endswith(".pcap"):
            args += ["-r", os.path.join(fix, n), "--keylog", os.path.join(fix, n[:-5] + ".keys")]
    outs = [run(["flows", "--json", "--no-geo", "--quiet", "--threads", t] + args,
                expect=(0,)).stdout for t in ("1", "2")]
    assert outs[0] == outs[1]
    assert outs[0].count('"tls_decrypt_status":"decrypted"') >= 14, outs[0][:2000]


# ---------------------------------------------------------------- harness

def bind(binary, work_dir):
    global BIN, WORK
    BIN, WORK = binary, work_dir


def main():
    # a terminated run still tears its lab down (the with blocks unwind)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return suite.main("tls-keys", globals(), skips=(Skip,), bind=bind,
                      order=suite.in_file_order(globals()))


if __name__ == "__main__":
    sys.exit(main())
