#!/usr/bin/python3
"""End-to-end test of docs/clickhouse.sql's cluster variant: one ZooKeeper
and two clickhouse-server instances (Debian 12's ZooKeeper 3.8 and
ClickHouse 18.16), each on loopback ports of its own with a data directory
of its own, configured as one cluster of two shards. The cluster part of
the doc is run as it stands (the servers' macros fill in its {cluster},
{shard} and {replica}), two e2e reports are exported through `flowaudit
export --clickhouse` against one server, and SQL on both servers checks
that the Distributed tables see every run, finding and flow exactly once,
that exporting again (through either server) adds nothing, and that the
runs lie on different shards. The servers keep insert_distributed_sync at
its default, 0: the exporter asks for 1 with its requests, without which
the rows bound for the other shard are not there yet when it counts.

Usage: test_ch_cluster.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "ch-cluster: N passed, N failed, N skipped".
"""
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402
import test_runs as runs  # noqa: E402  (the scenario and its reports)
import clickhouse_server as chs  # noqa: E402  (the suites' server configuration)

CLUSTER = "flowaudit_lab"
USER, PASSWORD = chs.CH_USER, chs.CH_PASSWORD
ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
ZK_LOG_JAR = "/usr/share/java/slf4j-simple.jar"  # its log, when the jar is there
START_TIMEOUT = 40  # seconds for a server to answer

# the suites' single server, with the cluster's pieces added
CH_CONFIG = chs.CH_CONFIG.replace("</yandex>", """\
    <interserver_http_port>{inter}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <zookeeper><node><host>127.0.0.1</host><port>{zk}</port></node>
        <session_timeout_ms>10000</session_timeout_ms></zookeeper>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
    <remote_servers><{cluster}>{shards}</{cluster}></remote_servers>
    <macros><cluster>{cluster}</cluster><shard>{shard}</shard><replica>{replica}</replica></macros>
</yandex>""")
CH_SHARD = """
        <shard><internal_replication>true</internal_replication>
            <replica><host>127.0.0.1</host><port>{tcp}</port>
                <user>{u}</user><password>{p}</password></replica></shard>"""
# its users too: a profile that leaves insert_distributed_sync at 0, the
# servers' default (the exporter asks for 1 itself)
CH_USERS = chs.CH_USERS
ZK_CONFIG = """tickTime=500
initLimit=10
syncLimit=5
dataDir={d}/data
clientPort={port}
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr
"""


free_port = chs.free_port


def wait_for(what, ready, proc, log):
    """Polls ready() until true; fails when proc exits or after START_TIMEOUT."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < START_TIMEOUT:
        try:
            if ready():
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise AssertionError("%s exited (status %s): %s" % (what, proc.returncode, log()))
        time.sleep(0.2)
    raise AssertionError("%s did not answer in %d s: %s" % (what, START_TIMEOUT, log()))


def stop(proc):
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-2000:]
    except OSError:
        return "(no log)"


class ZooKeeper:
    """Debian's ZooKeeper, standalone, on a loopback port."""

    def __init__(self, top):
        self.dir = os.path.join(top, "zk")
        os.makedirs(os.path.join(self.dir, "data"))
        self.port = free_port()
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write(ZK_CONFIG.format(d=self.dir, port=self.port))
        self.log_path = os.path.join(self.dir, "zookeeper.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                ["java", "-Xmx128m", "-cp", ":".join(p for p in (ZK_JAR, ZK_LOG_JAR)
                                                     if os.path.exists(p)),
                 "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", ZK_MAIN,
                 os.path.join(self.dir, "zoo.cfg")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def serving(self):
        """srvr, not ruok: ruok says imok before the server takes sessions,
        and ClickHouse 18.16's DDL worker crashes on a session refused
        then."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"srvr")
            return b"Mode: standalone" in s.makefile("rb").read()

    def wait(self):
        wait_for("ZooKeeper", self.serving, self.proc, lambda: tail(self.log_path))


class Server:
    """One clickhouse-server of the cluster: shard `shard` (1 or 2)."""

    def __init__(self, top, shard, zk_port, ports):
        self.dir = os.path.join(top, "ch%d" % shard)
        os.makedirs(self.dir)
        self.http, self.tcp, inter = ports[shard - 1]
        shards = "".join(CH_SHARD.format(tcp=p[1], u=USER, p=PASSWORD) for p in ports)
        with open(os.path.join(self.dir, "config.xml"), "w") as f:
            f.write(CH_CONFIG.format(d=self.dir, http=self.http, tcp=self.tcp, inter=inter,
                                     zk=zk_port, cluster=CLUSTER, shards=shards,
                                     shard="%02d" % shard, replica="ch%d" % shard))
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write(CH_USERS.format(u=USER, p=PASSWORD))
        self.url = "http://127.0.0.1:%d" % self.http
        self.proc = subprocess.Popen(
            [shutil.which("clickhouse-server"),
             "--config-file=" + os.path.join(self.dir, "config.xml")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def wait(self):
        wait_for("clickhouse-server " + self.url, lambda: self.query("SELECT 1") == "1",
                 self.proc, self.log)

    def log(self):
        return tail(os.path.join(self.dir, "server.err.log"))

    def query(self, sql):
        req = urllib.request.Request(self.url + "/", data=sql.encode())
        req.add_header("Authorization", "Basic " + base64.b64encode(
            ("%s:%s" % (USER, PASSWORD)).encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read().decode().strip()
        except urllib.error.HTTPError as e:
            raise AssertionError("%s: %s: %s" % (self.url, sql[:200], e.read().decode()[:1500]))
        except (OSError, http.client.HTTPException) as e:
            if self.proc.poll() is None:
                raise
            raise AssertionError("%s: %s: the server stopped (%s, status %s): %s" % (
                self.url, sql[:200], e, self.proc.returncode, self.log()))

    def rows(self, sql):
        out = self.query(sql + " FORMAT TSV")
        return [tuple(line.split("\t")) for line in out.splitlines()] if out else []

    def value(self, sql):
        return int(self.query(sql))


class Cluster:
    """The ZooKeeper and the two servers, in a directory of their own
    (outside the suite's work directory: close() removes it)."""

    def __init__(self):
        if shutil.which("clickhouse-server") is None:
            raise e2e.Skip("clickhouse-server is not installed (make setup installs it)")
        if shutil.which("java") is None or not os.path.exists(ZK_JAR):
            raise e2e.Skip("zookeeper is not installed (make setup installs it)")
        self.top = tempfile.mkdtemp(prefix="flowaudit-chcluster-")
        self.zk, self.servers = None, []
        try:
            self.zk = ZooKeeper(self.top)
            self.zk.wait()
            ports = [(free_port(), free_port(), free_port()) for _ in range(2)]
            if len({p for t in ports for p in t} | {self.zk.port}) != 7:
                raise AssertionError("Address already in use: the same port picked twice")
            # both start at once: they take a few seconds each
            self.servers = [Server(self.top, s, self.zk.port, ports) for s in (1, 2)]
            for s in self.servers:
                s.wait()
        except BaseException:
            self.close()
            raise

    def close(self):
        for s in self.servers:
            stop(s.proc)
        if self.zk is not None:
            stop(self.zk.proc)
        shutil.rmtree(self.top, ignore_errors=True)


_cluster = []


def cluster():
    for attempt in range(3):
        if _cluster:
            break
        try:
            _cluster.append(Cluster())
        except AssertionError as e:
            # a port picked free was taken before a server bound it: new ports
            if "Address already in use" not in str(e) or attempt == 2:
                raise
    return _cluster[0]


def close_cluster():
    while _cluster:
        _cluster.pop().close()


def cluster_statements():
    """The statements of docs/clickhouse.sql's cluster part, as they stand:
    the {cluster}, {shard} and {replica} in them are the servers' macros."""
    with open(os.path.join(e2e.TOP, "docs", "clickhouse.sql")) as f:
        doc = f.read()
    part = doc.split("\n-- cluster:", 1)[1].split("\n", 1)[1]
    body = "\n".join(ln for ln in part.splitlines() if not ln.startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def manifest_key(rep):
    with open(os.path.join(rep, "MANIFEST.sha256"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def counts(rep):
    with open(os.path.join(rep, "report.json")) as f:
        doc = json.load(f)
    return len(doc["findings"]), len(doc["flows"])


credentials = runs.credentials_file


def export(server, *reps):
    p = subprocess.run([e2e.BIN, "export", "--clickhouse", server.url, "--credentials",
                        credentials()] + list(reps), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout


def reports_on_two_shards(server):
    """Two reports of the scenario whose runs the sharding key puts on
    different shards (slot sipHash64(key) % 2: shard 1 for 0, shard 2
    for 1, as both shards weigh 1). Each audit's report has its own
    MANIFEST digest (its time differs); a few are made until both
    shards have one."""
    by_shard = {}
    for i in range(24):
        rep = runs.audit(runs.build("cl%d" % i, i % 2, extra_sdk=i % 2 == 1))
        key = manifest_key(rep)
        shard = server.value("SELECT sipHash64('%s') %% 2" % key) + 1
        by_shard.setdefault(shard, (rep, key))
        if len(by_shard) == 2:
            return by_shard
    raise AssertionError("24 reports, all on one shard: the sharding key is not spread")


TABLES = ("runs", "findings", "flows")


def table_counts(server, suffix=""):
    return {t: server.value("SELECT count() FROM flowaudit.%s%s" % (t, suffix)) for t in TABLES}


# ---------------------------------------------------------------- test

def test_cluster_schema_and_export():
    """The cluster part of docs/clickhouse.sql runs on a two-shard 18.16
    cluster; two reports exported through one server are seen through the
    Distributed tables of both, every row once, each run whole on the
    shard its key names; a second export, through either server, adds
    nothing."""
    cl = cluster()
    ch1, ch2 = cl.servers
    assert ch1.rows("SELECT shard_num, port FROM system.clusters WHERE cluster = '%s' "
                    "ORDER BY shard_num" % CLUSTER) == [("1", str(ch1.tcp)), ("2", str(ch2.tcp))]
    for stmt in cluster_statements():
        ch1.query(stmt)
    for s in (ch1, ch2):
        engines = dict(s.rows("SELECT name, engine FROM system.tables WHERE database = 'flowaudit'"))
        assert engines == {"runs": "Distributed", "findings": "Distributed", "flows": "Distributed",
                           "runs_local": "ReplicatedMergeTree",
                           "findings_local": "ReplicatedMergeTree",
                           "flows_local": "ReplicatedMergeTree"}, (s.url, engines)
        # the replicated tables hold their ZooKeeper session (not read-only)
        assert s.rows("SELECT table, is_readonly FROM system.replicas WHERE database = "
                      "'flowaudit' ORDER BY table") == \
            [("findings_local", "0"), ("flows_local", "0"), ("runs_local", "0")], s.url
    # the cluster's tables have the columns of the single-server ones,
    # which the exporter creates (--print-schema), in the same order
    p = e2e.run(["export", "--print-schema", "--database", "single"], expect=0)
    for stmt in p.stdout.split(";"):
        if stmt.strip():
            ch2.query(stmt)
    columns = "SELECT name, type FROM system.columns WHERE database = '%s' AND table = '%s'"
    for t in TABLES:
        single = ch2.rows(columns % ("single", t))
        assert single and ch1.rows(columns % ("flowaudit", t)) == single, t
        assert ch2.rows(columns % ("flowaudit", t + "_local")) == single, t
    ch2.query("DROP DATABASE single")

    reps = reports_on_two_shards(ch1)
    want = {}
    for shard, (rep, key) in reps.items():
        nf, nl = counts(rep)
        assert nf > 0 and nl > 0, rep
        want[shard] = {"runs": 1, "findings": nf, "flows": nl}
    total = {t: want[1][t] + want[2][t] for t in TABLES}

    out = export(ch1, reps[1][0], reps[2][0])
    assert out.count("exported") >= 2, out

    def check():
        for s in (ch1, ch2):
            # the Distributed tables: every row of both runs, each once
            assert table_counts(s) == total, (s.url, table_counts(s), total)
            for shard, (rep, key) in reps.items():
                nf, nl = counts(rep)
                assert s.rows("SELECT count(), uniqExact(id) FROM flowaudit.findings "
                              "WHERE manifest_sha256 = '%s'" % key) == [(str(nf), str(nf))]
                assert s.rows("SELECT count(), uniqExact(id) FROM flowaudit.flows "
                              "WHERE manifest_sha256 = '%s'" % key) == [(str(nl), str(nl))]
        # each server's own part: the run its key puts there, whole, and nothing else
        for shard, s in ((1, ch1), (2, ch2)):
            assert table_counts(s, "_local") == want[shard], (s.url, table_counts(s, "_local"))
            assert s.rows("SELECT DISTINCT manifest_sha256 FROM flowaudit.findings_local") == \
                [(reps[shard][1],)]

    check()
    # exported again, through the server that took it and through the other
    out = export(ch1, reps[1][0], reps[2][0])
    out += export(ch2, reps[2][0], reps[1][0])
    assert out.count("already") == 4, out
    check()


# ---------------------------------------------------------------- harness

def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    try:
        return suite.main("ch-cluster", globals(), lambda b, w: e2e.build_mmdb(), (e2e.Skip,),
                          bind, order=suite.in_file_order(globals()))
    finally:
        close_cluster()


if __name__ == "__main__":
    sys.exit(main())
