"""Debian's clickhouse-server for the suites that export into ClickHouse:
started on free loopback ports with its own data directory and
configuration (outside the suite's work directory, which is removed before
the server is stopped), one server per suite process, stopped and removed
by stop_clickhouse().

Relay is a TCP relay to it that tests make misbehave (an answer lost, a
server that never answers).

clickhouse() starts it on first use (again on new ports when one picked
free was taken before the server bound it) and again after a test stopped
it on purpose; ClickHouse.query() and rows() ask it over HTTP as CH_USER.
A missing clickhouse-server is e2e.Skip.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as e2e  # noqa: E402

CH_USER, CH_PASSWORD = "lab", "s3cret-not-in-reports"
CH_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog>
            <size>10M</size><count>1</count></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>64</max_connections>
    <max_concurrent_queries>16</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
"""
CH_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
    <users><{u}><password>{p}</password><networks><ip>127.0.0.1</ip></networks>
        <profile>default</profile><quota>default</quota></{u}></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"""


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClickHouse:
    """Debian's clickhouse-server on loopback ports, with its own data
    directory and configuration under the work directory."""

    def __init__(self):
        self.bin = shutil.which("clickhouse-server")
        if self.bin is None:
            raise e2e.Skip("clickhouse-server is not installed (make setup installs it)")
        # outside the suite's work directory, which is removed before the
        # server is stopped; stop_clickhouse() removes this one
        self.dir = tempfile.mkdtemp(prefix="flowaudit-clickhouse-")
        self.http = free_port()
        with open(os.path.join(self.dir, "config.xml"), "w") as f:
            f.write(CH_CONFIG.format(d=self.dir, http=self.http, tcp=free_port()))
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write(CH_USERS.format(u=CH_USER, p=CH_PASSWORD))
        self.url = "http://127.0.0.1:%d" % self.http
        self.proc = None
        try:
            self.start()
        except AssertionError:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def start(self):
        import time
        self.proc = subprocess.Popen([self.bin, "--config-file=" + os.path.join(self.dir, "config.xml")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            try:
                if self.query("SELECT 1") == "1":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError("clickhouse-server exited: " + self.log())
            time.sleep(0.2)
        self.stop()  # not left running behind a failed start
        raise AssertionError("clickhouse-server did not answer in 60 s: " + self.log())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.err.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def query(self, sql):
        import base64
        import urllib.request
        req = urllib.request.Request(self.url + "/", data=sql.encode())
        req.add_header("Authorization", "Basic " + base64.b64encode(
            ("%s:%s" % (CH_USER, CH_PASSWORD)).encode()).decode())
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode().strip()

    def rows(self, sql):
        out = self.query(sql + " FORMAT TSV")
        return [tuple(line.split("\t")) for line in out.splitlines()] if out else []


_ch = []


def clickhouse():
    for attempt in range(3):
        if _ch:
            break
        try:
            _ch.append(ClickHouse())
        except AssertionError as e:
            # a port picked free was taken before the server bound it: new ports
            if "Address already in use" not in str(e) or attempt == 2:
                raise
    if _ch[0].proc is None:  # a test that stopped it failed before starting it again
        _ch[0].start()
    return _ch[0]


def stop_clickhouse():
    for ch in _ch:
        ch.stop()
        shutil.rmtree(ch.dir, ignore_errors=True)


class Relay:
    """A TCP relay to ClickHouse on loopback: each connection accepted on
    sock (a listening socket) is joined to a new one to port target, with
    a thread each way. A subclass decides what a connection and each chunk
    do: admit(cli) False keeps the connection unanswered; forward(data,
    upstream, state) False ends that direction instead of passing data on
    (state is shared by a connection's two directions)."""

    def __init__(self, sock, target):
        self.sock, self.target = sock, target
        self.url = "http://127.0.0.1:%d" % sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def admit(self, cli):
        return True

    def forward(self, data, upstream, state):
        return True

    def accept(self):
        while True:
            try:
                cli, _ = self.sock.accept()
            except OSError:
                return
            if not self.admit(cli):
                continue
            try:
                srv = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                srv.settimeout(None)
            except OSError:  # a stopped server: closed at once, as a client sees it
                cli.close()
                continue
            state = {}
            for a, b, up in ((cli, srv, True), (srv, cli, False)):
                threading.Thread(target=self.pump, args=(a, b, state, up), daemon=True).start()

    def pump(self, src, dst, state, upstream):
        try:
            while True:
                data = src.recv(65536)
                if not data or not self.forward(data, upstream, state):
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s_ in (src, dst):
            try:
                s_.shutdown(socket.SHUT_RDWR)  # wakes the other direction's recv too
            except OSError:
                pass

    def close(self):
        self.sock.close()
