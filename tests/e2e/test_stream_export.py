#!/usr/bin/python3
"""End-to-end tests of `flowaudit capture --export URL`: findings sent to a
real ClickHouse (Debian's clickhouse-server, tests/e2e/clickhouse_server.py)
while the capture runs, the spool that keeps them while the server is away,
and the report's export at the end replacing the live rows.

Each test builds a lab of two network namespaces joined by a veth pair
(tests/gen/netlab.py). flowaudit captures on the gateway's end; the app's
traffic, frames built by tests/gen/capgen.py, is sent from the device's end
with a packet socket, so every frame is one the test chose and nothing
leaves the namespaces. ClickHouse listens on the first namespace's loopback;
a relay whose listening socket is made inside the gateway namespace (setns)
carries the capture's requests to it.

Usage: test_stream_export.py BUILD/flowaudit [NAME-SUBSTRING]   (as root)
Last line: "stream-export: N passed, N failed, N skipped".
"""
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402
from clickhouse_server import (CH_PASSWORD, CH_USER, Relay, clickhouse,  # noqa: E402
                               stop_clickhouse)

sys.path.insert(0, os.path.join(e2e.TOP, "tests", "gen"))
import netlab  # noqa: E402  (the two-namespace lab)

capgen = e2e.capgen
PY = "/usr/bin/python3"
POLICY = os.path.join(e2e.FIX, "policy.json")
DEVICE = os.path.join(e2e.FIX, "device.json")
SIGS = os.path.join(e2e.TOP, "signatures")
SEQ = [0]

# Sends the frames of a classic pcap file out of an interface, in order,
# spaced by GAP seconds: run inside the device namespace.
SENDER = r"""
import socket, struct, sys, time
path, ifname, gap = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(path, "rb").read()
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
off = 24
while off + 16 <= len(data):
    incl = struct.unpack("<IIII", data[off:off + 16])[2]
    s.send(data[off + 16:off + 16 + incl])
    off += 16 + incl
    time.sleep(gap)
"""


# ---------------------------------------------------------------- the lab

class Lab(netlab.VethLab):
    """The device and gateway namespaces; the capture runs in the gateway's,
    where ClickHouse is reached through a relay on its loopback."""

    def __init__(self):
        SEQ[0] += 1
        n, pid = SEQ[0], os.getpid()
        work_dir = os.path.join(e2e.WORK, "lab%d" % n)
        os.makedirs(work_dir)
        super().__init__("fs-%d-%d-dev" % (pid, n), "fs-%d-%d-gw" % (pid, n), "fs%d%dd" % (pid, n),
                         "fs%d%dg" % (pid, n), work_dir, "192.168.1.23", "192.168.1.1")
        self.relay = None

    def build(self):
        self.link()
        self.relay = NsRelay(self.gw, clickhouse().http)

    def close(self):
        if self.relay is not None:
            self.relay.close()
        super().close()

    def send(self, name, build, gap=0.001):
        """The frames build(cap) makes, sent from the device's end."""
        path = os.path.join(self.dir, name + ".pcap")
        cap = capgen.Capture(t0=capgen.T0)
        build(cap)
        cap.write(path)
        netlab.sh("ip", "netns", "exec", self.dev, PY, "-c", SENDER, path, self.dif, str(gap),
                  timeout=60)
        return len(cap.frames)


CLONE_NEWNET = 0x40000000


class NsRelay(Relay):
    """A relay from 127.0.0.1:PORT in namespace ns to ClickHouse on this
    namespace's loopback: the listening socket is made by a thread that
    enters ns (a socket stays in the namespace it was made in); connections
    to ClickHouse are made from here. A stopped server is a connection
    closed at once, as a client of a server that is down sees it."""

    def __init__(self, ns, target):
        self.hold = False  # True: connections are taken and never answered (a slow server)
        self.held = []
        made = {}

        def make():
            libc = ctypes.CDLL(None, use_errno=True)
            with open("/var/run/netns/" + ns) as f:
                if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                    made["error"] = os.strerror(ctypes.get_errno())
                    return
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            made["sock"] = s

        t = threading.Thread(target=make)
        t.start()
        t.join()
        if "sock" not in made:
            raise netlab.LabError("cannot listen in %s: %s" % (ns, made.get("error")))
        super().__init__(made["sock"], target)

    def admit(self, cli):
        if self.hold:
            self.held.append(cli)
            return False
        return True

    def release(self):
        """The server answers again; what it held is dropped unanswered."""
        self.hold = False
        for s_ in self.held:
            s_.close()
        self.held = []

    def close(self):
        self.release()
        self.sock.close()


# ---------------------------------------------------------------- traffic

def first_part(cap):
    """The app's first party in the clear, and an analytics endpoint no
    signature names getting the IMEI: findings as soon as the flows end."""
    capgen.http_flow(cap, "192.168.1.23", "47.92.1.10", capgen.FIRST_PARTY, 41006, "/v1/config")
    capgen.http_flow(cap, "192.168.1.23", "23.94.5.5", "collect.unlisted-analytics.com", 41004,
                     "/v2/e?imei=" + capgen.IMEI)


def second_part(cap):
    """Umeng (declared) getting the Android ID in clear, and Firebase
    Analytics (not declared) getting it too."""
    capgen.http_flow(cap, "192.168.1.23", "47.92.3.30", "alog.umeng.com", 41003,
                     "/app_logs?aid=" + capgen.ANDROID_ID)
    capgen.http_flow(cap, "192.168.1.23", "142.250.30.30", "app-measurement.com", 41005,
                     "/a?aid=" + capgen.ANDROID_ID)


# ---------------------------------------------------------------- the capture

def credentials_env():
    return dict(os.environ, CLICKHOUSE_USER=CH_USER, CLICKHOUSE_PASSWORD=CH_PASSWORD)


class Capture:
    """`flowaudit capture --export` in the gateway namespace; its NDJSON
    findings read as they come."""

    def __init__(self, lab, name, url, outdir=True):
        """outdir False: no -o; the capture chooses reports/NAME-TIME in a
        directory of its own, WORK/NAME."""
        self.out = os.path.join(e2e.WORK, name)
        self.pcap = self.out + ".pcapng"
        self.spool = (self.out if outdir else self.pcap) + ".clickhouse-spool"
        self.errpath = os.path.join(e2e.WORK, name + ".stderr")
        args = [e2e.BIN, "capture", "-i", lab.gif, "-p", POLICY, "-d", DEVICE, "-s", SIGS,
                "-g", e2e.GEO, "--asn", e2e.ASN, "-w", self.pcap, "--export", url]
        if outdir:
            args += ["-o", self.out]
        else:
            os.makedirs(self.out)
        with open(self.errpath, "w") as err:
            self.proc = subprocess.Popen(["ip", "netns", "exec", lab.gw] + args,
                                         cwd=None if outdir else self.out,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, text=True, env=credentials_env())
        lab.procs.append(self.proc)
        self.proc.lab_name = name
        self.lines = []
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        self.wait_for(lambda: "capturing on" in self.stderr(), 30, "the capture to start")

    def read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def stderr(self):
        with open(self.errpath) as f:
            return f.read()

    def wait_for(self, cond, within, what):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if cond():
                return
            assert self.proc.poll() is None, "capture exited %s waiting for %s: %s" % (
                self.proc.returncode, what, self.stderr()[-2000:])
            time.sleep(0.1)
        raise AssertionError("no %s within %d s; stderr: %s" %
                             (what, within, self.stderr()[-2000:]))

    def key(self):
        with open(self.spool) as f:
            return json.loads(f.readline())["key"]

    def stop(self, within=120):
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout=within)
        self.reader.join(timeout=5)
        err = self.stderr()
        for mark in ("Sanitizer", "runtime error:"):
            assert mark not in err, "sanitizer report from the capture:\n%s" % err[-4000:]
        assert CH_PASSWORD not in err
        return rc

    def report(self):
        with open(os.path.join(self.out, "report.json")) as f:
            return json.load(f)


def count(sql):
    """A count; 0 while the table is not there yet (the capture makes it
    when it sends its first batch)."""
    import urllib.error
    try:
        return int(clickhouse().query(sql))
    except urllib.error.HTTPError as e:
        if e.code == 404:  # ClickHouse's "table doesn't exist"
            return 0
        raise


def keyed(key):
    """Rows of findings under key (a live key, or a report's manifest key)."""
    return count("SELECT count() FROM flowaudit.findings WHERE manifest_sha256 = '%s'" % key)


def spool_records(path):
    """The spool's header and its records' heads, each record read as
    report_ch_stream.h lays it out: a line, then `bytes` bytes of rows."""
    with open(path, "rb") as f:
        data = f.read()
    nl = data.index(b"\n")
    head, off, records = json.loads(data[:nl]), nl + 1, []
    while off < len(data):
        nl = data.index(b"\n", off)
        r = json.loads(data[off:nl])
        rows = data[nl + 1:nl + 1 + r["bytes"]]
        assert len(rows) == r["bytes"] and rows.count(b"\n") == r["rows"], (r, len(rows))
        assert all(json.loads(x)["manifest_sha256"] == head["key"] for x in rows.splitlines())
        records.append(r)
        off = nl + 1 + r["bytes"]
    return head, records


def manifest_key(out):
    import hashlib
    with open(os.path.join(out, "MANIFEST.sha256"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_exported(out, live_key):
    """The report is in ClickHouse as `flowaudit export` puts it, each
    finding once: the live rows were replaced, the spool is gone."""
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    key, label = manifest_key(out), os.path.basename(out)
    ch = clickhouse()
    ids = sorted(f["id"] for f in rep["findings"])
    got = ch.rows("SELECT id FROM flowaudit.findings WHERE label = '%s' ORDER BY id" % label)
    assert [r[0] for r in got] == ids, (got, ids)
    assert keyed(key) == len(ids) and keyed(live_key) == 0
    assert count("SELECT count() FROM flowaudit.flows WHERE manifest_sha256 = '%s'" % key) == \
        len(rep["flows"])
    run = ch.rows("SELECT findings, flows FROM flowaudit.runs WHERE manifest_sha256 = '%s'" % key)
    assert run == [(str(len(ids)), str(len(rep["flows"])))], run
    # the final rows are the report's, with what a live row could not know yet
    got = sorted(ch.rows("SELECT id, evidence, toString(bytes_out) FROM flowaudit.findings "
                         "WHERE label = '%s'" % label))
    want = sorted((f["id"], f["evidence"], str(f["bytes_out"])) for f in rep["findings"])
    assert got == want, (got, want)
    assert not os.path.exists(out + ".clickhouse-spool")
    e2e.run(["verify", out], expect=0)
    return rep


def needs_root():
    if os.geteuid() != 0:
        raise e2e.Skip("needs root for network namespaces")


# ---------------------------------------------------------------- tests

def test_findings_in_clickhouse_while_capturing():
    """Findings are rows of ClickHouse while the capture still runs (asked
    before it is stopped); at the end the report's export replaces them:
    every finding once, under the report's key, with its evidence."""
    needs_root()
    clickhouse()
    with Lab() as lab:
        c = Capture(lab, "live", lab.relay.url)
        key = c.key()
        assert key.startswith("live-") and len(key) == 37, key
        lab.send("first", first_part)
        c.wait_for(lambda: len(c.lines) >= 3, 30, "three findings on standard output")
        c.wait_for(lambda: keyed(key) >= 3, 15, "live rows in ClickHouse")
        assert c.proc.poll() is None
        live = clickhouse().rows("SELECT id, rule, host, label FROM flowaudit.findings "
                                 "WHERE manifest_sha256 = '%s' ORDER BY id" % key)
        streamed = {(f["id"], f["rule"], f["host"], "live") for f in c.lines}
        assert set(live) <= streamed, (live, streamed)
        assert "unknown-endpoint" in {r[1] for r in live}, live
        lab.send("second", second_part)
        c.wait_for(lambda: any(f["host"] == "app-measurement.com" for f in c.lines), 30,
                   "the second part's findings")
        rc = c.stop()
    assert rc == 1, (rc, c.stderr()[-2000:])
    rep = check_exported(c.out, key)
    assert [f["id"] for f in rep["findings"]] == [f["id"] for f in c.lines]


def many_endpoints(cap):
    """60 analytics endpoints no signature names, each getting the IMEI in
    clear: about five findings each."""
    for i in range(60):
        capgen.http_flow(cap, "192.168.1.23", "23.94.5.%d" % (10 + i),
                         "c%02d.unlisted-analytics.com" % i, 42000 + i, "/e?imei=" + capgen.IMEI)


def test_batch_per_200_findings():
    """Findings raised faster than 200 a second go in batches of 200 (the
    first batch is full), the rest within the second; each once."""
    needs_root()
    clickhouse()
    with Lab() as lab:
        c = Capture(lab, "many", lab.relay.url)
        key = c.key()
        lab.send("many", many_endpoints, gap=0)
        c.wait_for(lambda: len(c.lines) >= 250, 30, "250 findings")
        n = len(c.lines)
        c.wait_for(lambda: keyed(key) >= n, 15, "every finding in ClickHouse")
        parts = clickhouse().rows("SELECT part, count() FROM flowaudit.findings WHERE "
                                  "manifest_sha256 = '%s' GROUP BY part ORDER BY part" % key)
        assert parts[0] == ("1", "200") and all(int(r[1]) <= 200 for r in parts), parts
        assert count("SELECT uniqExact(id) FROM flowaudit.findings WHERE manifest_sha256 = '%s'"
                     % key) == keyed(key)
        rc = c.stop()
    assert rc == 1, (rc, c.stderr()[-2000:])
    check_exported(c.out, key)


def test_server_away_mid_capture():
    """The server stopped while the capture runs: the findings raised
    meanwhile go to the spool (fsync'd batches on disk), are sent in order
    once the server is back, and the spool is cut back to its header;
    after the capture every count in ClickHouse equals the report's."""
    needs_root()
    ch = clickhouse()
    with Lab() as lab:
        c = Capture(lab, "away", lab.relay.url)
        key = c.key()
        head = os.path.getsize(c.spool)
        lab.send("first", first_part)
        c.wait_for(lambda: keyed(key) >= 3, 30, "live rows before the server stops")
        before = len(c.lines)
        ch.stop()
        try:
            lab.send("second", second_part)
            c.wait_for(lambda: len(c.lines) > before, 30, "findings while the server is away")
            c.wait_for(lambda: os.path.getsize(c.spool) > head, 15, "batches in the spool")
            _, records = spool_records(c.spool)
            assert records and all(r["rows"] > 0 for r in records), records
        finally:
            ch.start()
        c.wait_for(lambda: os.path.getsize(c.spool) == head, 30,
                   "the spool sent (cut back to its header)")
        n = len(c.lines)
        assert keyed(key) == n
        assert count("SELECT uniqExact(id) FROM flowaudit.findings WHERE manifest_sha256 = '%s'"
                     % key) == n
        rc = c.stop()
    assert rc == 1, (rc, c.stderr()[-2000:])
    check_exported(c.out, key)


def test_without_outdir():
    """Without -o the spool starts beside the capture file (-w) and is
    moved beside the report directory the capture chooses at the end,
    where the export settles it: each finding once, no spool left."""
    needs_root()
    clickhouse()
    with Lab() as lab:
        c = Capture(lab, "noout", lab.relay.url, outdir=False)
        key = c.key()
        lab.send("first", first_part)
        c.wait_for(lambda: keyed(key) >= 3, 30, "live rows")
        rc = c.stop()
    assert rc == 1, (rc, c.stderr()[-2000:])
    made = os.listdir(os.path.join(c.out, "reports"))
    assert len(made) == 1 and made[0].startswith("noout-"), made
    assert not os.path.exists(c.spool)
    check_exported(os.path.join(c.out, "reports", made[0]), key)


def test_server_slow():
    """A server that takes requests and does not answer: the capture goes
    on reading packets and printing findings at once (the sending waits in
    a thread of its own, 10 s at most a request), the batches go to the
    spool, and are sent when the server answers again."""
    needs_root()
    clickhouse()
    with Lab() as lab:
        c = Capture(lab, "slow", lab.relay.url)
        key = c.key()
        head = os.path.getsize(c.spool)
        lab.relay.hold = True
        lab.send("first", first_part)
        t0 = time.monotonic()
        c.wait_for(lambda: len(c.lines) >= 3, 30, "findings while the server is slow")
        assert time.monotonic() - t0 < 5, time.monotonic() - t0
        c.wait_for(lambda: lab.relay.held, 10, "a request to the slow server")
        before = len(c.lines)
        t0 = time.monotonic()
        frames = lab.send("second", second_part)
        c.wait_for(lambda: len(c.lines) > before, 30, "the second part's findings")
        assert time.monotonic() - t0 < 5, time.monotonic() - t0
        c.wait_for(lambda: os.path.getsize(c.spool) > head, 30, "batches in the spool")
        lab.relay.release()
        c.wait_for(lambda: os.path.getsize(c.spool) == head, 30, "the spool sent")
        assert keyed(key) == len(c.lines)
        rc = c.stop()
    assert rc == 1, (rc, c.stderr()[-2000:])
    rep = check_exported(c.out, key)
    assert rep["summary"]["packets"] >= frames, rep["summary"]
    assert rep["summary"]["capture_drops"]["dropped"] == 0, rep["summary"]["capture_drops"]


def test_server_down_whole_capture():
    """The server down from start to end: the capture ends with exit 3,
    naming the spool it keeps and the export to run; `flowaudit export` of
    the report directory once the server is back sends the report and
    removes the spool; a second export adds nothing."""
    needs_root()
    ch = clickhouse()
    with Lab() as lab:
        ch.stop()
        try:
            c = Capture(lab, "down", lab.relay.url)
            key = c.key()
            lab.send("first", first_part)
            lab.send("second", second_part)
            c.wait_for(lambda: any(f["host"] == "app-measurement.com" for f in c.lines), 30,
                       "the findings")
            rc = c.stop(within=180)
        finally:
            ch.start()
    err = c.stderr()
    assert rc == 3, (rc, err[-2000:])
    assert "cannot be reached" in err and c.spool in err and "flowaudit export" in err, err
    head, records = spool_records(c.spool)
    assert head["key"] == key and head["database"] == "flowaudit", head
    with open(c.spool, "rb") as f:
        assert CH_PASSWORD.encode() not in f.read()
    assert sum(r["rows"] for r in records) == len(c.lines), (records, len(c.lines))
    assert [r["part"] for r in records] == list(range(1, len(records) + 1)), records
    argv = [e2e.BIN, "export", "--clickhouse", ch.url, os.path.join(e2e.WORK, "down")]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=credentials_env())
    assert p.returncode == 0 and "exported:" in p.stdout, (p.stdout, p.stderr)
    rep = check_exported(c.out, key)
    assert len(rep["findings"]) == len(c.lines)
    before = ch.rows("SELECT (SELECT count() FROM flowaudit.runs), (SELECT count() FROM "
                     "flowaudit.findings), (SELECT count() FROM flowaudit.flows)")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=credentials_env())
    assert p.returncode == 0 and "nothing added" in p.stdout, (p.stdout, p.stderr)
    assert ch.rows("SELECT (SELECT count() FROM flowaudit.runs), (SELECT count() FROM "
                   "flowaudit.findings), (SELECT count() FROM flowaudit.flows)") == before


def test_spool_left_refuses_capture():
    """A spool left beside -o (an earlier capture's export never finished)
    stops a new capture into it before it starts: exit 2, naming the spool,
    and no capture file is made. A spool whose header is not one (a key
    that is not a live key) is bad input to export: exit 2, naming the
    spool's line and field, the spool kept."""
    needs_root()
    clickhouse()
    out = os.path.join(e2e.WORK, "left")
    with open(out + ".clickhouse-spool", "w") as f:
        f.write('{"schema":"flowaudit-clickhouse-spool/1","key":"live-x","database":"flowaudit"}\n')
    with Lab() as lab:
        p = subprocess.run(["ip", "netns", "exec", lab.gw, e2e.BIN, "capture", "-i", lab.gif, "-p",
                            POLICY, "-o", out, "-w", out + ".pcapng", "--no-geo", "--export",
                            lab.relay.url], capture_output=True, text=True, timeout=60,
                           env=credentials_env())
    assert p.returncode == 2 and out + ".clickhouse-spool" in p.stderr, (p.returncode, p.stderr)
    assert not os.path.exists(out + ".pcapng")
    # a spool whose key is not a live key is bad input to export, never SQL
    pcap = os.path.join(e2e.WORK, "left.pcap")
    cap = capgen.Capture()
    first_part(cap)
    cap.write(pcap)
    rep = os.path.join(e2e.WORK, "left-report")
    e2e.run(["audit", "-r", pcap, "-p", POLICY, "-s", SIGS, "-g", e2e.GEO, "--asn", e2e.ASN,
             "-o", rep, "--quiet"], expect=1)
    with open(rep + ".clickhouse-spool", "w") as f:
        f.write('{"schema":"flowaudit-clickhouse-spool/1","key":"live-\' OR 1=1","database":'
                '"flowaudit"}\n')
    p = subprocess.run([e2e.BIN, "export", "--clickhouse", clickhouse().url, rep],
                       capture_output=True, text=True, timeout=120, env=credentials_env())
    assert p.returncode == 2 and "clickhouse-spool: line 1: key" in p.stderr, \
        (p.returncode, p.stderr)
    assert os.path.exists(rep + ".clickhouse-spool")


def test_findings_not_a_mergetree():
    """A findings table through which ClickHouse cannot delete (the cluster
    variant's Distributed; here a Memory table, which cannot either): no
    live row is sent, the capture says why, and the report is exported at
    the end as without streaming."""
    needs_root()
    ch = clickhouse()
    p = e2e.run(["export", "--print-schema"], expect=0)
    for stmt in p.stdout.split(";"):
        if stmt.strip():
            ch.query(stmt)
    ch.query("RENAME TABLE flowaudit.findings TO flowaudit.findings_kept")
    try:
        ch.query("CREATE TABLE flowaudit.findings AS flowaudit.findings_kept ENGINE = Memory")
        with Lab() as lab:
            c = Capture(lab, "memory", lab.relay.url)
            key = c.key()
            lab.send("first", first_part)
            c.wait_for(lambda: len(c.lines) >= 3, 30, "findings")
            time.sleep(2)  # a batch's time and more
            assert keyed(key) == 0
            rc = c.stop()
        assert rc == 1, (rc, c.stderr()[-2000:])
        assert "flowaudit.findings is a Memory table" in c.stderr(), c.stderr()[-2000:]
        rep = c.report()
        assert keyed(manifest_key(c.out)) == len(rep["findings"]) and keyed(key) == 0
        assert not os.path.exists(c.spool)
    finally:
        ch.query("DROP TABLE IF EXISTS flowaudit.findings")
        ch.query("RENAME TABLE flowaudit.findings_kept TO flowaudit.findings")


# ---------------------------------------------------------------- harness

def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def setup(binary, work_dir):
    e2e.build_mmdb()
    netlab.remove_stale_namespaces(r"fs-(\d+)-\d+-(dev|gw)$")


def main():
    try:
        return suite.main("stream-export", globals(), setup, (e2e.Skip,), bind,
                          order=suite.in_file_order(globals()))
    finally:
        stop_clickhouse()


if __name__ == "__main__":
    sys.exit(main())
