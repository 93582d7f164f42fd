#!/usr/bin/python3
"""Live capture tests: `flowaudit capture` on a network this suite builds.

Each test builds a small lab out of two network namespaces joined by a veth
pair: the device namespace (192.168.77.2/24, default route via .1) and the
gateway namespace (192.168.77.1 on its veth end, plus the "internet" hosts
on public-looking addresses bound to its loopback). The gateway namespace
runs dnsmasq answering the names of real SDK endpoints with those
addresses, openssl s_server on 443 with a certificate made at test time, and
python3 -m http.server on 80. tests/live/client.py, run in the device
namespace, resolves through dnsmasq and connects; flowaudit captures on the
gateway's veth end. Traffic never leaves the namespaces: every address it
goes to is one the lab created.

Namespaces and interfaces are named fa-PID-N-* / faPIDN* so parallel runs
and leftovers of killed runs cannot collide, and each lab is torn down
(its processes ended, its namespaces deleted) even when its test fails.

Usage: run.py BUILD/flowaudit [NAME-SUBSTRING]   (as root)
Last line: "live: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen"))
import netlab  # noqa: E402  (the two-namespace lab)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
import suite  # noqa: E402  (the harness the suites share)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(TOP, "tests", "e2e", "fixtures")
POLICY = os.path.join(FIX, "policy.json")
SIGS = os.path.join(TOP, "signatures")
CLIENT = os.path.join(TOP, "tests", "live", "client.py")
PY = "/usr/bin/python3"

BIN = None
WORK = None
GEO = None
ASN = None
CERT = None
KEY = None
WWW = None
SEQ = [0]
LATE = []  # deadlines the current test's captures missed

DEV_IP = "192.168.77.2"
GW_IP = "192.168.77.1"
HOSTS = {
    "graph.facebook.com": "157.240.1.35",           # Facebook SDK, US: not declared
    "googleads.g.doubleclick.net": "142.250.1.10",  # AdMob, US: declared, needs consent
    "collect.unlisted-analytics.com": "23.94.5.5",  # in no signature, US
    "api.xigeme.com": "47.92.1.10",                 # the first party, CN
}

# What the standard traffic (SCENARIO) must produce, with the e2e country
# database and without consent events.
SCENARIO = ["tls:graph.facebook.com", "tls:googleads.g.doubleclick.net",
            "http:api.xigeme.com", "http:collect.unlisted-analytics.com"]
EXPECT_GEO = {
    ("undeclared-recipient", "graph.facebook.com"),
    ("cross-border-without-consent", "graph.facebook.com"),
    ("before-consent", "graph.facebook.com"),
    ("cross-border-without-consent", "googleads.g.doubleclick.net"),
    ("before-consent", "googleads.g.doubleclick.net"),
    ("unencrypted-transport", "api.xigeme.com"),
    ("unknown-endpoint", "collect.unlisted-analytics.com"),
    ("cross-border-without-consent", "collect.unlisted-analytics.com"),
    ("unencrypted-transport", "collect.unlisted-analytics.com"),
}
# Without a country database nothing is judged for cross-border transfer.
EXPECT_NO_GEO = {x for x in EXPECT_GEO if x[0] != "cross-border-without-consent"}

# How long a capture may take to stop after its --duration, SIGINT or the
# interface going away. Generous for the sanitizer build; a capture that
# waits for the next packet before noticing misses it by far more.
STOP_GRACE = 4.0


class Skip(Exception):
    pass


sh = netlab.sh


def rules(rep):
    return {(f["rule"], f["host"]) for f in rep["findings"]}


def triples(findings):
    return sorted((f["rule"], f["host"], f["device"]) for f in findings)


def fmt(s):
    return "\n  ".join(sorted(map(str, s)))


# ---------------------------------------------------------------- the lab

class Lab(netlab.VethLab):
    """The lab of tests/gen/netlab.py with dnsmasq, a TLS server and an HTTP
    server in the gateway namespace; flowaudit captures on its end (gif)."""

    def __init__(self):
        SEQ[0] += 1
        n = SEQ[0]
        work_dir = os.path.join(WORK, "lab%d" % n)
        os.makedirs(work_dir)
        pid = os.getpid()
        super().__init__("fa-%d-%d-dev" % (pid, n), "fa-%d-%d-gw" % (pid, n), "fa%d%dd" % (pid, n),
                         "fa%d%dg" % (pid, n), work_dir, DEV_IP, GW_IP)

    def build(self):
        self.link()
        for ip in HOSTS.values():
            self.add_address(ip)
        dns = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
               "--no-hosts", "--bind-interfaces", "--listen-address=" + GW_IP, "--user=root",
               "--pid-file=" + os.path.join(self.dir, "dnsmasq.pid"),
               "--log-facility=" + os.path.join(self.dir, "dnsmasq.log")]
        dns += ["--address=/%s/%s" % kv for kv in sorted(HOSTS.items())]
        self.spawn("dnsmasq", dns)
        self.spawn("tls", ["openssl", "s_server", "-accept", "443", "-cert", CERT, "-key", KEY,
                           "-www", "-quiet"])
        self.spawn("http", [PY, "-m", "http.server", "80", "--bind", "0.0.0.0",
                            "--directory", WWW])
        self.wait_listening({"udp:%s:53" % GW_IP, "tcp:*:443", "tcp:0.0.0.0:80"}, timeout=10)

    def client(self, *steps, timeout=60, check=True):
        """Run the device's traffic; returns the list of step results."""
        p = subprocess.run(["ip", "netns", "exec", self.dev, PY, CLIENT] + list(steps),
                           capture_output=True, text=True, timeout=timeout)
        try:
            res = json.loads(p.stdout)
        except ValueError:
            raise RuntimeError("client failed: %s %s" % (p.stdout, p.stderr))
        if check:
            bad = [r for r in res if not r["ok"]]
            if bad:
                raise RuntimeError("the lab is broken, not flowaudit: %s" % bad)
        return res

    def client_bg(self, *steps):
        p = subprocess.Popen(["ip", "netns", "exec", self.dev, PY, CLIENT] + list(steps),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.lab_name = "client"
        self.procs.append(p)
        return p

    def alive(self):
        return sh("ip", "-n", self.dev, "link", "show", "dev", self.dif, check=False).returncode == 0

    def capture(self, name, *extra, geo=True, iface=None, **kw):
        c = Capture(self, name, list(extra), geo, iface or self.gif, **kw)
        self.procs.append(c.proc)
        return c


class Capture:
    """One `flowaudit capture` in the gateway namespace, its NDJSON read as
    it arrives."""

    def __init__(self, lab, name, extra, geo, iface, stdin_pipe=False, policy=POLICY, sigs=SIGS,
                 workdir=None):
        self.lab = lab
        self.out = os.path.join(workdir or WORK, name)
        self.pcap = self.out + ".pcapng"
        self.errpath = os.path.join(WORK, name + ".stderr")
        args = [BIN, "capture", "-i", iface, "-p", policy, "-s", sigs, "-o", self.out,
                "-w", self.pcap]
        args += ["-g", GEO, "--asn", ASN] if geo else ["--no-geo"]
        self.args = args + extra
        self.lines = []  # (monotonic time, parsed NDJSON object)
        self.raw = []
        errf = open(self.errpath, "w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", lab.gw] + self.args,
                                     stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=errf, text=True)
        errf.close()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.rc = None
        self.stopped_at = None

    def _read(self):
        for line in self.proc.stdout:
            self.raw.append(line)
            try:
                self.lines.append((time.monotonic(), json.loads(line)))
            except ValueError:
                self.lines.append((time.monotonic(), {"unparsed": line}))

    def stderr(self):
        with open(self.errpath) as f:
            return f.read()

    def wait_started(self, timeout=20):
        """Until flowaudit says it is capturing: the interface is open by then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "capturing on" in self.stderr():
                return
            if self.proc.poll() is not None:
                raise AssertionError("capture exited %d before starting: %s" %
                                     (self.proc.returncode, self.stderr()[-2000:]))
            time.sleep(0.05)
        raise AssertionError("capture did not start in %d s: %s" % (timeout, self.stderr()))

    def wait_line(self, pred, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, o in self.lines:
                if pred(o):
                    return t, o
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no such NDJSON line within %d s; got %s" %
                             (timeout, [o.get("rule") for _, o in self.lines]))

    def finish(self, within, what):
        """Wait for the capture to end by itself, within seconds.

        A capture that misses its deadline is given one packet: if that ends
        it, the loop was waiting for traffic to notice. That is recorded as
        this test's failure (LATE) and the test goes on checking the report,
        so one stuck loop does not hide what else is right or wrong."""
        t0 = time.monotonic()
        try:
            self.rc = self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            if self.lab is not None and self.lab.alive():
                # UDP and TCP, so that a capture filter lets one through
                self.lab.client("flood:%s:9:3:1" % GW_IP, "tcp:%s:443" % GW_IP, check=False)
            try:
                self.rc = self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("capture still running %.1f s after %s, even after "
                                     "another packet; killed.\nstderr: %s" %
                                     (time.monotonic() - t0, what, self.stderr()[-2000:]))
            LATE.append("capture still running %.1f s after %s; it ended only when another "
                        "packet arrived: the capture loop waits for traffic" % (within, what))
        self.stopped_at = time.monotonic()
        self.reader.join(timeout=5)
        err = self.stderr()
        for mark in ("Sanitizer", "runtime error:"):
            assert mark not in err, "sanitizer report from the capture:\n%s" % err[-4000:]
        return self.rc

    def signal(self, sig):
        self.proc.send_signal(sig)

    def report(self):
        path = os.path.join(self.out, "report.json")
        assert os.path.exists(path), "no report.json in %s; stderr: %s" % (self.out,
                                                                           self.stderr()[-2000:])
        with open(path) as f:
            return json.load(f)

    def streamed(self):
        return [o for _, o in self.lines]


def run(args, expect=None, timeout=120):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        raise AssertionError("exit %d (expected %d) for %s\nstdout: %s\nstderr: %s" %
                             (p.returncode, expect, " ".join(args), p.stdout[-2000:],
                              p.stderr[-2000:]))
    return p


def verify(outdir):
    p = run(["verify", outdir])
    assert p.returncode == 0, "verify %s: exit %d\n%s%s" % (outdir, p.returncode, p.stdout,
                                                          p.stderr)


def replay(pcap, geo=True):
    out = os.path.join(WORK, os.path.basename(pcap) + ".replay")
    args = ["audit", "-r", pcap, "-p", POLICY, "-s", SIGS, "-o", out, "--quiet"]
    args += ["-g", GEO, "--asn", ASN] if geo else ["--no-geo"]
    p = run(args)
    assert p.returncode in (0, 1), "audit -r %s: exit %d: %s" % (pcap, p.returncode, p.stderr)
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


def check_report_complete(rep, c):
    """What every capture report must hold, however the capture ended."""
    assert rep["schema"] == "flowaudit-report/1" and rep["command"] == "capture", rep["command"]
    caps = rep["inputs"]["captures"]
    assert [os.path.basename(x["path"]) for x in caps] == [os.path.basename(c.pcap)], caps
    s = rep["summary"]
    # the capture file's own entry counts what was written to it
    assert caps[0]["packets"] == s["packets"] and caps[0]["packets"] > 0, (
        "inputs.captures[0] says %s packets, summary says %s" % (caps[0]["packets"], s["packets"]))
    assert caps[0]["first_seen"] and caps[0]["last_seen"], caps[0]
    d = s["capture_drops"]
    assert d is not None and {"received", "dropped", "if_dropped"} <= set(d), s
    # findings.ndjson, the report and the stream on stdout agree
    with open(os.path.join(c.out, "findings.ndjson")) as f:
        nd = [json.loads(x) for x in f if x.strip()]
    assert [(x["id"], x["rule"], x["host"]) for x in nd] == \
        [(x["id"], x["rule"], x["host"]) for x in rep["findings"]], (nd, rep["findings"])
    for f in rep["findings"]:
        ev = f.get("evidence")
        assert ev and os.path.getsize(os.path.join(c.out, ev)) > 24, f
    verify(c.out)


# ---------------------------------------------------------------- tests

LIVE = {}


def standard_capture():
    """The standard traffic captured once with the country database; shared by
    the tests that look at it from different sides."""
    if "std" in LIVE:
        return LIVE["std"]
    with Lab() as lab:
        c = lab.capture("std", "--duration", "5")
        c.wait_started()
        t0 = time.monotonic()
        res = lab.client(*SCENARIO)
        assert time.monotonic() - t0 < 4.5, "the traffic took too long for --duration 5"
        rc = c.finish(5 + STOP_GRACE, "--duration 5")
        elapsed = c.stopped_at - t0
    LIVE["std"] = (c, rc, res, elapsed)
    return LIVE["std"]


def test_findings_live():
    """Real TLS and HTTP to SDK endpoints: the report names each one, with the
    rule the e2e policy calls for, from the SNI or the Host header."""
    c, rc, res, _ = standard_capture()
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    assert [r["ip"] for r in res] == [HOSTS[s.split(":")[1]] for s in SCENARIO], res
    rep = c.report()
    got = rules(rep)
    assert got == EXPECT_GEO, "missing:\n  %s\nunexpected:\n  %s" % (
        fmt(EXPECT_GEO - got), fmt(got - EXPECT_GEO))
    for f in rep["findings"]:
        assert f["device"] == DEV_IP, f
        assert f["addresses"] == [HOSTS[f["host"]]], f
        want = "http_host" if f["host"] in ("api.xigeme.com",
                                            "collect.unlisted-analytics.com") else "sni"
        assert f["name_source"] == want, f
    fb = [f for f in rep["findings"] if f["rule"] == "undeclared-recipient"][0]
    assert fb["recipient"]["kind"] == "sdk" and fb["country"] == "US", fb
    xi = [f for f in rep["findings"] if f["host"] == "api.xigeme.com"][0]
    assert xi["recipient"]["kind"] == "first_party" and xi["country"] == "CN", xi
    check_report_complete(rep, c)


def test_findings_streamed_as_ndjson():
    """Each finding is printed on stdout as flowaudit-finding/1 JSON, and the
    stream is the report's findings."""
    c, rc, _, _ = standard_capture()
    lines = c.streamed()
    assert lines, "nothing on stdout"
    for o in lines:
        assert o.get("schema") == "flowaudit-finding/1", o
    rep = c.report()
    assert triples(lines) == triples(rep["findings"]), (triples(lines), triples(rep["findings"]))
    assert sorted(o["id"] for o in lines) == sorted(f["id"] for f in rep["findings"])


def test_findings_streamed_while_capturing():
    """A finding reaches stdout while the capture is still running, not at the end."""
    with Lab() as lab:
        c = lab.capture("stream", geo=False)
        c.wait_started()
        lab.client("tls:graph.facebook.com", "sleep:2.5", "dns:api.xigeme.com")
        t, o = c.wait_line(lambda o: o.get("rule") == "undeclared-recipient", timeout=10)
        assert c.proc.poll() is None, "the capture ended before streaming"
        assert o["host"] == "graph.facebook.com" and o["device"] == DEV_IP, o
        c.signal(signal.SIGINT)
        rc = c.finish(STOP_GRACE + 6, "SIGINT")
        assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])


def test_finding_streamed_on_quiet_link():
    """The device makes one connection and falls silent: its finding is
    streamed once the connection has ended (a few seconds), not held back
    until some later packet or the end of the capture."""
    with Lab() as lab:
        c = lab.capture("stream-quiet", geo=False)
        c.wait_started()
        lab.client("tls:graph.facebook.com")
        t_done = time.monotonic()
        try:
            t, o = c.wait_line(lambda o: o.get("rule") == "undeclared-recipient", timeout=8)
        finally:
            c.signal(signal.SIGINT)
            c.finish(STOP_GRACE + 6, "SIGINT")
        assert o["host"] == "graph.facebook.com", o
        assert t - t_done < 8, t - t_done


def test_duration_honoured():
    """--duration 5 ends the capture about 5 s after it started, although the
    link has been silent since the traffic ended."""
    c, rc, _, elapsed = standard_capture()
    assert elapsed <= 5 + STOP_GRACE, elapsed


def test_replay_matches_live():
    """`audit -r` on the pcapng the capture wrote finds the same rule, host and
    device, on the same frames."""
    c, rc, _, _ = standard_capture()
    live = c.report()
    rep = replay(c.pcap)
    assert triples(rep["findings"]) == triples(live["findings"]), (
        "live:\n  %s\nreplay:\n  %s" % (fmt(triples(live["findings"])),
                                        fmt(triples(rep["findings"]))))
    lf = {(f["rule"], f["host"]): [fr["numbers"] for fr in f["frames"]] for f in live["findings"]}
    rf = {(f["rule"], f["host"]): [fr["numbers"] for fr in f["frames"]] for f in rep["findings"]}
    assert lf == rf, (lf, rf)
    assert rep["summary"]["packets"] == live["summary"]["packets"], (
        rep["summary"]["packets"], live["summary"]["packets"])
    # tshark reads the file too (pcapng, one interface, Ethernet)
    if shutil.which("tshark"):
        p = subprocess.run(["tshark", "-r", c.pcap, "-T", "fields", "-e", "frame.number"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert len(p.stdout.split()) == live["summary"]["packets"], p.stdout[-200:]


def test_keylog_read_as_it_grows():
    """The device writes its TLS session secrets to a key log while the
    capture runs (an app built for a test lab, SSLKEYLOGFILE): the capture
    reads the lines as they are appended, decrypts the connection, and
    reports the IMEI sent inside it; the pcapng it wrote replays with the
    same key log to the same finding."""
    keys = os.path.join(WORK, "live-keys.log")
    open(keys, "w").close()
    dev = os.path.join(FIX, "device.json")
    with open(dev) as f:
        imei = json.load(f)["imei"]
    with Lab() as lab:
        c = lab.capture("keylog", "--duration", "6", "--keylog", keys, "-d", dev)
        c.wait_started()
        res = lab.client("--keylog", keys, "tlsget:graph.facebook.com:/sdk/v1/ping?imei=" + imei)
        rc = c.finish(6 + STOP_GRACE, "--duration 6")
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    assert res[0]["version"] in ("TLSv1.3", "TLSv1.2"), res
    with open(keys) as f:
        written = f.read()
    assert "_SECRET" in written or "CLIENT_RANDOM" in written, "no secrets written"
    rep = c.report()
    assert rep["summary"]["tls"]["examined"] and rep["summary"]["tls"]["decrypted"] >= 1, \
        rep["summary"]["tls"]
    hits = [(f["host"], h["type"], h["where"], h["decrypted"]) for f in rep["findings"]
            for h in f.get("identifiers") or []]
    assert ("graph.facebook.com", "imei", "http_query", True) in hits, hits
    check_report_complete(rep, c)
    out = os.path.join(WORK, "keylog.replay")
    p = run(["audit", "-r", c.pcap, "-p", POLICY, "-s", SIGS, "-o", out, "--quiet", "--no-geo",
             "-d", dev, "--keylog", keys])
    assert p.returncode == 1, p.stderr
    with open(os.path.join(out, "report.json")) as f:
        again = json.load(f)
    assert [(g["host"], x["type"], x["where"], x["decrypted"]) for g in again["findings"]
            for x in g.get("identifiers") or []] == hits


def test_drops_counted_no_loss():
    """With the default buffer and light traffic pcap_stats is reported and
    adds up: every packet received was captured."""
    c, rc, _, _ = standard_capture()
    d = c.report()["summary"]["capture_drops"]
    pk = c.report()["summary"]["packets"]
    assert d["dropped"] == 0 and d["if_dropped"] == 0, d
    assert d["received"] == pk, (d, pk)
    assert "dropped" not in c.stderr(), c.stderr()


def test_no_geo():
    """--no-geo: the same recipients, nothing judged for cross-border transfer,
    and the report says why."""
    with Lab() as lab:
        c = lab.capture("nogeo", "--duration", "4", geo=False)
        c.wait_started()
        lab.client(*SCENARIO)
        rc = c.finish(4 + STOP_GRACE + 2, "--duration 4")
        rep = c.report()
    assert rc == 1, rc
    got = rules(rep)
    assert got == EXPECT_NO_GEO, "missing:\n  %s\nunexpected:\n  %s" % (
        fmt(EXPECT_NO_GEO - got), fmt(got - EXPECT_NO_GEO))
    assert rep["inputs"]["geo"]["country"] is None, rep["inputs"]["geo"]
    check_report_complete(rep, c)


def test_sigint_mid_traffic():
    """SIGINT while the device is still sending: the capture stops promptly and
    leaves a complete report that verifies, whose findings replay the same."""
    with Lab() as lab:
        c = lab.capture("sigint", geo=False)
        c.wait_started()
        steps = []
        for _ in range(12):
            steps += ["tls:graph.facebook.com", "http:api.xigeme.com", "sleep:0.7"]
        bg = lab.client_bg(*steps)
        c.wait_line(lambda o: o.get("rule") == "unencrypted-transport", timeout=8)
        assert bg.poll() is None, "the traffic ended before the signal: make it longer"
        c.signal(signal.SIGINT)
        t0 = time.monotonic()
        rc = c.finish(STOP_GRACE + 6, "SIGINT")
        assert c.stopped_at - t0 < STOP_GRACE + 6
        bg.terminate()
        bg.wait(timeout=10)
        assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
        rep = c.report()
    assert ("undeclared-recipient", "graph.facebook.com") in rules(rep), rules(rep)
    assert ("unencrypted-transport", "api.xigeme.com") in rules(rep), rules(rep)
    check_report_complete(rep, c)
    assert triples(replay(c.pcap, geo=False)["findings"]) == triples(rep["findings"])
    assert not [x for x in os.listdir(WORK) if ".tmp-" in x], os.listdir(WORK)


def test_sigterm():
    """SIGTERM while the device is sending ends the capture like SIGINT."""
    with Lab() as lab:
        c = lab.capture("sigterm", geo=False)
        c.wait_started()
        bg = lab.client_bg(*(["tls:graph.facebook.com", "sleep:0.3"] * 12))
        time.sleep(1.5)
        assert bg.poll() is None, "the traffic ended before the signal: make it longer"
        c.signal(signal.SIGTERM)
        rc = c.finish(STOP_GRACE, "SIGTERM")
        bg.terminate()
        bg.wait(timeout=10)
        assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
        rep = c.report()
    assert rules(rep) == {("undeclared-recipient", "graph.facebook.com"),
                          ("before-consent", "graph.facebook.com")}, rules(rep)
    check_report_complete(rep, c)


def test_quiet_link_stops():
    """No traffic at all: --duration and SIGINT must still end the capture (the
    loop may not wait for a packet to notice either), and a capture of
    nothing is inconclusive (exit 4), never a pass."""
    with Lab() as lab:
        c = lab.capture("quiet-dur", "--duration", "2", geo=False)
        c.wait_started()
        rc = c.finish(2 + STOP_GRACE, "--duration 2 on a silent link")
        assert rc == 4, "exit %d: %s" % (rc, c.stderr()[-2000:])
        rep = c.report()
        assert rep["findings"] == [] and rep["summary"]["capture_drops"]["dropped"] == 0, rep
        assert rep["verdict"] == "inconclusive", rep["verdict_reasons"]
        verify(c.out)
        c = lab.capture("quiet-int", geo=False)
        c.wait_started()
        time.sleep(0.5)
        c.signal(signal.SIGINT)
        rc = c.finish(STOP_GRACE, "SIGINT on a silent link")
        assert rc == 4, "exit %d: %s" % (rc, c.stderr()[-2000:])
        verify(c.out)


def test_drops_reported():
    """A tiny kernel buffer and a burst of UDP: the drops are counted in the
    report and said on stderr, received = captured + dropped, and a capture
    that lost packets is inconclusive (exit 4), not a pass."""
    with Lab() as lab:
        c = lab.capture("drops", "--buffer-size", "4096", "--duration", "5", geo=False)
        c.wait_started()
        res = lab.client("flood:%s:9:300000:2.5" % GW_IP)
        rc = c.finish(5 + STOP_GRACE + 10, "--duration 5")
        rep = c.report()
    d = rep["summary"]["capture_drops"]
    pk = rep["summary"]["packets"]
    sent = res[0]["sent"]
    assert rc == 4, "exit %d: %s" % (rc, c.stderr()[-2000:])
    assert [r["code"] for r in rep["verdict_reasons"]] == ["capture-dropped"], rep["verdict_reasons"]
    assert d is not None, rep["summary"]
    assert d["dropped"] > 0, "no drops with a 4 KiB buffer and %d datagrams: %s" % (sent, d)
    # libpcap on Linux counts every packet that passed the filter in received,
    # including those dropped; frames still queued when the loop stopped are
    # in neither captured nor dropped.
    assert d["received"] >= pk + d["dropped"], (d, pk)
    assert d["received"] - (pk + d["dropped"]) <= 1000, (d, pk)
    assert d["received"] >= sent * 0.9, (d, sent)
    err = c.stderr()
    assert "%d packets dropped" % d["dropped"] in err, err
    assert rep["inputs"]["captures"][0]["packets"] == pk, rep["inputs"]["captures"]
    verify(c.out)


def test_consent_fifo():
    """consent_granted arrives through --consent-fifo mid-run: it is listed in
    consent_events, stamped when it arrived, and AdMob traffic after it is no
    longer before-consent while the traffic before it is."""
    with Lab() as lab:
        fifo = os.path.join(lab.dir, "consent.fifo")
        os.mkfifo(fifo)
        c = lab.capture("consent", "--consent-fifo", fifo, "--duration", "6", geo=False)
        c.wait_started()
        lab.client("tls:googleads.g.doubleclick.net")
        time.sleep(0.3)
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"consent_granted advertising\n")
        finally:
            os.close(fd)
        t_written = time.time()
        time.sleep(1.0)
        lab.client("tls:googleads.g.doubleclick.net")
        rc = c.finish(6 + STOP_GRACE + 2, "--duration 6")
        rep = c.report()
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    ev = rep["consent_events"]
    assert len(ev) == 1, ev
    assert ev[0]["event"] == "consent_granted" and ev[0]["purposes"] == ["advertising"], ev
    t_ev = iso_to_epoch(ev[0]["time"])
    assert abs(t_ev - t_written) < 0.6, (
        "event stamped %.2f s from when it was written" % (t_ev - t_written))
    ads = sorted((f for f in rep["flows"] if f.get("name") == "googleads.g.doubleclick.net"),
                 key=lambda f: f["id"])
    assert len(ads) == 2, ads
    bc = [f for f in rep["findings"] if f["rule"] == "before-consent"
          and f["host"] == "googleads.g.doubleclick.net"]
    assert len(bc) == 1 and bc[0]["flows"] == [ads[0]["id"]], (bc, ads)
    check_report_complete(rep, c)


def test_real_clients():
    """openssl s_client with SNI and curl, the way a lab's scripts drive a
    device: their TLS and HTTP are named from the SNI and the Host header
    and judged like any other traffic."""
    with Lab() as lab:
        c = lab.capture("clients", "--duration", "4", geo=False)
        c.wait_started()
        res = lab.client("s_client:graph.facebook.com", "curl:api.xigeme.com")
        rc = c.finish(4 + STOP_GRACE, "--duration 4")
        rep = c.report()
    assert res[1]["status"] == "200", res
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    got = {(f["rule"], f["host"], f["name_source"]) for f in rep["findings"]}
    assert ("undeclared-recipient", "graph.facebook.com", "sni") in got, got
    assert ("unencrypted-transport", "api.xigeme.com", "http_host") in got, got
    ua = [f.get("user_agent") for f in rep["flows"] if f.get("name") == "api.xigeme.com"]
    assert ua and all(u and u.startswith("curl/") for u in ua), ua
    check_report_complete(rep, c)


def test_consent_stdin():
    """--consent-stdin: a consent line written to the capture's standard input
    mid-run is stamped when it arrives and judged like one from an events
    file; the end of standard input does not end the capture."""
    with Lab() as lab:
        c = lab.capture("consent-stdin", "--consent-stdin", "--duration", "6", geo=False,
                        stdin_pipe=True)
        c.wait_started()
        lab.client("tls:googleads.g.doubleclick.net")
        time.sleep(0.3)
        c.proc.stdin.write("consent_granted advertising\n")
        c.proc.stdin.flush()
        t_written = time.time()
        c.proc.stdin.close()
        time.sleep(1.0)
        assert c.proc.poll() is None, "the capture ended with its standard input"
        lab.client("tls:googleads.g.doubleclick.net")
        rc = c.finish(6 + STOP_GRACE + 2, "--duration 6")
        rep = c.report()
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    ev = rep["consent_events"]
    assert len(ev) == 1 and ev[0]["purposes"] == ["advertising"], ev
    assert abs(iso_to_epoch(ev[0]["time"]) - t_written) < 0.6, (ev, t_written)
    ads = sorted((f for f in rep["flows"] if f.get("name") == "googleads.g.doubleclick.net"),
                 key=lambda f: f["id"])
    assert len(ads) == 2, ads
    bc = [f for f in rep["findings"] if f["rule"] == "before-consent"]
    assert len(bc) == 1 and bc[0]["flows"] == [ads[0]["id"]], (bc, ads)
    check_report_complete(rep, c)


def test_rotation_by_time():
    """--rotate-seconds 1: traffic over three seconds lands in several capture
    files, each listed with its own packets, together all of them."""
    with Lab() as lab:
        c = lab.capture("rott", "--rotate-seconds", "1", "--duration", "5", geo=False)
        c.wait_started()
        lab.client("tls:graph.facebook.com", "sleep:1.3", "http:api.xigeme.com", "sleep:1.3",
                   "tls:graph.facebook.com")
        rc = c.finish(5 + STOP_GRACE, "--duration 5")
        rep = c.report()
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    caps = rep["inputs"]["captures"]
    assert len(caps) >= 3, caps
    assert sum(x["packets"] for x in caps) == rep["summary"]["packets"], caps
    got = rules(rep)
    assert ("undeclared-recipient", "graph.facebook.com") in got, got
    assert ("unencrypted-transport", "api.xigeme.com") in got, got
    verify(c.out)


def test_drop_privileges():
    """-Z nobody: once the interface and the capture file are open the capture
    runs as nobody, and still finishes its report (written by nobody)."""
    import pwd
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user 'nobody'")
    # a directory nobody may read and write, holding the inputs it re-reads
    zdir = os.path.join(WORK, "as-nobody")
    os.makedirs(zdir)
    os.chmod(WORK, 0o755)
    shutil.copy(POLICY, os.path.join(zdir, "policy.json"))
    shutil.copytree(SIGS, os.path.join(zdir, "signatures"))
    for root, dirs, files in os.walk(zdir):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
    os.chown(zdir, nobody.pw_uid, nobody.pw_gid)
    try:
        with Lab() as lab:
            c = lab.capture("z", "-Z", "nobody", "--duration", "4", geo=False,
                            policy=os.path.join(zdir, "policy.json"),
                            sigs=os.path.join(zdir, "signatures"), workdir=zdir)
            c.wait_started()
            with open("/proc/%d/status" % c.proc.pid) as f:
                uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
            lab.client("tls:graph.facebook.com")
            rc = c.finish(4 + STOP_GRACE, "--duration 4")
            rep = c.report()
    finally:
        os.chmod(WORK, 0o700)
    assert uids == [str(nobody.pw_uid)] * 4, "running as uid %s, not nobody" % uids
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    assert ("undeclared-recipient", "graph.facebook.com") in rules(rep), rules(rep)
    assert os.stat(os.path.join(c.out, "report.json")).st_uid == nobody.pw_uid
    verify(c.out)


def iso_to_epoch(s):
    import datetime
    s = s.rstrip("Z")
    dt = datetime.datetime.strptime(s[:26], "%Y-%m-%dT%H:%M:%S.%f" if "." in s
                                    else "%Y-%m-%dT%H:%M:%S")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def test_filter_applied():
    """-f 'tcp port 443' keeps HTTP out of the capture: only the TLS recipients
    are found, and the pcapng holds no port-80 frame."""
    with Lab() as lab:
        c = lab.capture("filter", "-f", "tcp port 443", "--duration", "4", geo=False)
        c.wait_started()
        lab.client(*SCENARIO)
        rc = c.finish(4 + STOP_GRACE + 2, "--duration 4")
        rep = c.report()
    assert rc == 1, rc
    hosts = {h for _, h in rules(rep)}
    assert hosts == {"graph.facebook.com", "googleads.g.doubleclick.net"}, rules(rep)
    assert all(f["server_port"] == 443 for f in rep["flows"]), rep["flows"]


def test_rotation():
    """--rotate-size: the capture is split over several pcapng files; the report
    lists each with its own packets, replaying them all finds the same, and
    the manifest covers every file."""
    with Lab() as lab:
        c = lab.capture("rot", "--rotate-size", "8000", "--duration", "4")
        c.wait_started()
        lab.client(*SCENARIO)
        rc = c.finish(4 + STOP_GRACE, "--duration 4")
        rep = c.report()
    assert rc == 1, "exit %d: %s" % (rc, c.stderr()[-2000:])
    caps = rep["inputs"]["captures"]
    assert len(caps) >= 2, caps
    paths = [x["path"] for x in caps]
    assert os.path.basename(paths[0]) == "rot.pcapng", paths
    assert os.path.basename(paths[1]) == "rot-2.pcapng", paths
    for x in caps:
        assert os.path.exists(x["path"]) and x["packets"] > 0, x
    assert sum(x["packets"] for x in caps) == rep["summary"]["packets"], caps
    assert rules(rep) == EXPECT_GEO, rules(rep)
    out = os.path.join(WORK, "rot.replay")
    args = ["audit", "-p", POLICY, "-s", SIGS, "-g", GEO, "--asn", ASN, "-o", out, "--quiet"]
    for x in paths:
        args += ["-r", x]
    run(args, expect=1)
    with open(os.path.join(out, "report.json")) as f:
        again = json.load(f)
    assert triples(again["findings"]) == triples(rep["findings"])
    with open(os.path.join(c.out, "MANIFEST.sha256")) as f:
        manifest = f.read()
    for x in paths:
        assert os.path.basename(x) in manifest, (x, manifest)
    verify(c.out)


def test_bad_filter():
    """A filter libpcap cannot compile: exit 2, libpcap's message, no report."""
    with Lab() as lab:
        c = lab.capture("badfilter", "-f", "not a filter (((", geo=False)
        rc = c.finish(15, "a bad filter")
    assert rc == 2, "exit %d: %s" % (rc, c.stderr())
    err = c.stderr()
    assert "not a filter (((" in err and "syntax error" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not os.path.exists(c.out), os.listdir(WORK)


def test_no_such_interface():
    """An interface that does not exist: a one-line error naming it, no report."""
    with Lab() as lab:
        c = lab.capture("noiface", geo=False, iface="fa-nosuch0")
        rc = c.finish(15, "a missing interface")
    err = c.stderr()
    assert rc in (2, 3), "exit %d: %s" % (rc, err)
    assert "fa-nosuch0" in err and len(err.strip().splitlines()) == 1, err
    assert not os.path.exists(c.out)


def test_interface_vanishes():
    """The veth is deleted mid-run: exit 3, a message saying so, and the report
    of what was captured up to then, verifiable."""
    with Lab() as lab:
        c = lab.capture("vanish", geo=False)
        c.wait_started()
        lab.client("tls:graph.facebook.com", "http:api.xigeme.com")
        time.sleep(0.5)
        sh("ip", "-n", lab.gw, "link", "del", lab.gif)
        t0 = time.monotonic()
        rc = c.finish(STOP_GRACE + 6, "the interface was deleted")
        assert c.stopped_at - t0 < STOP_GRACE + 6
        err = c.stderr()
        assert rc == 3, "exit %d: %s" % (rc, err)
        assert lab.gif in err and "report of what was captured" in err, err
        rep = c.report()
    assert ("undeclared-recipient", "graph.facebook.com") in rules(rep), rules(rep)
    assert ("unencrypted-transport", "api.xigeme.com") in rules(rep), rules(rep)
    check_report_complete(rep, c)


# ---------------------------------------------------------------- harness

def prerequisites():
    """None when the lab can be built, else why not."""
    if os.geteuid() != 0:
        return "not root: network namespaces need root"
    for tool in ("ip", "dnsmasq", "openssl", "ss", "curl"):
        if shutil.which(tool) is None:
            return "%s is not installed (apt-get install iproute2 dnsmasq openssl curl)" % tool
    probe = "fa-%d-probe" % os.getpid()
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return "ip netns unavailable: %s" % r.stderr.strip()
    try:
        a, b = "fa%dpa" % os.getpid(), "fa%dpb" % os.getpid()
        r = sh("ip", "-n", probe, "link", "add", a, "type", "veth", "peer", "name", b,
               check=False)
        if r.returncode != 0:
            return "veth unavailable: %s" % r.stderr.strip()
    finally:
        sh("ip", "netns", "del", probe, check=False)
    return None


def remove_stale_namespaces():
    """Namespaces a killed run of this suite left behind (its pid is gone)."""
    netlab.remove_stale_namespaces(r"^fa-(\d+)-(\d+-(dev|gw)|probe)$")


def prepare():
    global GEO, ASN, CERT, KEY, WWW
    GEO = os.path.join(WORK, "country.mmdb")
    ASN = os.path.join(WORK, "asn.mmdb")
    script = os.path.join(TOP, "scripts", "mkmmdb.pl")
    for kind, src, dst in (("country", "e2e-country.txt", GEO), ("asn", "e2e-asn.txt", ASN)):
        sh("perl", script, kind, dst, os.path.join(FIX, src), timeout=60)
    CERT = os.path.join(WORK, "cert.pem")
    KEY = os.path.join(WORK, "key.pem")
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", KEY, "-out", CERT, "-days", "2", "-subj", "/CN=lab.invalid",
       timeout=60)
    WWW = os.path.join(WORK, "www")
    os.makedirs(os.path.join(WWW, "sdk", "v1"))
    with open(os.path.join(WWW, "sdk", "v1", "ping"), "w") as f:
        f.write("pong\n")
    with open(os.path.join(WWW, "index.html"), "w") as f:
        f.write("<html><body>lab</body></html>\n")


def bind(binary, work_dir):
    global BIN, WORK
    BIN, WORK = binary, work_dir


def late():
    """A capture that missed its deadline fails the test that made it."""
    if LATE:
        raise AssertionError("; ".join(LATE))


def main():
    if len(sys.argv) < 2:
        print("usage: run.py BUILD/flowaudit [FILTER]", file=sys.stderr)
        return 2
    flt = sys.argv[2] if len(sys.argv) > 2 else ""
    why = prerequisites()
    if why is not None:
        tests = [n for n in globals() if n.startswith("test_") and flt in n]
        for name in sorted(tests):
            print("SKIP %s: %s" % (name, why))
        print("live: 0 passed, 0 failed, %d skipped" % len(tests))
        return 0
    # a terminated run still tears its lab down (the with blocks unwind)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    remove_stale_namespaces()
    return suite.main("live", globals(), setup=lambda b, w: prepare(), skips=(Skip,), bind=bind,
                      order=suite.in_file_order(globals()), before_each=lambda: LATE.clear(),
                      after_each=late)


if __name__ == "__main__":
    sys.exit(main())
