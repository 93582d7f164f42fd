#!/usr/bin/python3
"""Keyed TLS captures, and what tshark reads in them: the material the TLS
decryption and HTTP/2 tests are checked against.

Run as root, it builds a lab of two network namespaces joined by a veth
pair (the device at 192.168.78.2, the server side at 192.168.78.1 with one
public-looking address per scenario on its loopback), runs dnsmasq, the TLS
servers and curl in them, captures with tcpdump on the server side's veth
end, and deletes the lab again, also when something fails. No address,
route or process outlives the run or leaves the namespaces.

Every scenario is one capture of one server: a DNS lookup of its name
through dnsmasq, then connections to it by curl (one per letter below, a
new TCP connection each unless said otherwise), each request with a user
agent naming the scenario and the letter, and carrying identifiers of the
device profile tests/fixtures/tls-e2e/device.json:

  q  GET  /s/NAME/q?imei=IMEI&email=EMAIL   IMEI plain, e-mail URL-encoded
  h  GET  /s/NAME/h  X-Device-Id: ANDROID_ID, X-Ad-Id: AAID   (headers)
  j  POST /s/NAME/j  JSON body with the IMEI and the AAID
  z  POST /s/NAME/z  gzip JSON body (Content-Encoding: gzip) with the
                     Android ID and the e-mail
  b  POST /s/NAME/b  a 40 KB JSON body, the IMEI and e-mail at its end
                     (offset 40,000): three TLS records over some thirty
                     segments
  m  (HTTP/2) GET /s/NAME/m1?aid=ANDROID_ID and GET /s/NAME/m2 at once on
     one connection (curl --parallel: two streams)
  u  (KeyUpdate) openssl s_client -keylogfile: GET /s/NAME/u1?imei=IMEI,
     then a KeyUpdate each way ("K": the server is asked to update too),
     then GET /s/NAME/u2 with X-Device-Id: ANDROID_ID under the new keys;
     OpenSSL adds CLIENT_TRAFFIC_SECRET_N and SERVER_TRAFFIC_SECRET_N lines
     to the key log, labels a reader ignores (the new keys follow from
     TRAFFIC_SECRET_0 and the KeyUpdates)
  r  (resumption) GET /s/NAME/r1 then GET /s/NAME/r2 by one curl: two
     connections, the second resuming the first's session

The scenarios (server; TLS version and cipher, forced; HTTP/1.1 unless h2):

  t13-aes128gcm     --serve; 1.3 TLS_AES_128_GCM_SHA256              q h j z
  t13-aes256gcm     --serve; 1.3 TLS_AES_256_GCM_SHA384              q h j z
  t13-chacha        --serve; 1.3 TLS_CHACHA20_POLY1305_SHA256        q h j z b
  t12-aes128gcm     --serve; 1.2 ECDHE-RSA-AES128-GCM-SHA256         q h j z
  t12-aes256gcm     --serve; 1.2 ECDHE-RSA-AES256-GCM-SHA384         q h j z
  t12-chacha        --serve; 1.2 ECDHE-RSA-CHACHA20-POLY1305         q h j z
  t12-cbc-etm       --serve; 1.2 ECDHE-RSA-AES128-SHA, encrypt-then-MAC
                                                                     q h j z
  t12-cbc-noetm     --serve; 1.2 ECDHE-RSA-AES128-SHA, MAC-then-encrypt
                                                                     q h j z b
  t12-cbc-sha256    --serve; 1.2 ECDHE-RSA-AES128-SHA256 (HMAC-SHA256)   q h j z
  keyupdate-t13     --serve; 1.3 TLS_AES_256_GCM_SHA384              q u
  resume-t12        openssl s_server -WWW; 1.2 ECDHE-RSA-AES128-GCM-SHA256  r
  resume-t13        openssl s_server -WWW; 1.3 TLS_AES_256_GCM_SHA384       r
  t13-ccm           openssl s_server -WWW; 1.3 TLS_AES_128_CCM_SHA256  q h
                    (a cipher flowaudit need not support: REQUIRED)
  h2-t13-aes128gcm  nghttpd, h2; 1.3 TLS_AES_128_GCM_SHA256          q h j z m b
                    (nghttpd answers each first ClientHello with a
                    HelloRetryRequest: it prefers another key share group)
  h2-t12-chacha     nghttpd, h2; 1.2 ECDHE-RSA-CHACHA20-POLY1305     q h j z m

`openssl s_server -www/-WWW` answers GET only (a POST is never answered), so
the HTTP/1.1 scenarios with bodies are served by this script's own small
HTTP/1.1 server (--serve: Python's ssl over the same OpenSSL), which answers
every request with keep-alive; s_server serves the resumption scenarios.
The cipher is forced on both ends (the server's list and curl's --ciphers
or --tls13-ciphers) and the negotiated one is checked in the capture.

Outputs in OUTDIR, per scenario NAME:
  NAME.pcap          the capture (tcpdump, Ethernet)
  NAME.keys          the key log curl (SSLKEYLOGFILE) and s_client
                     (-keylogfile) wrote, NSS format
  NAME-dsb.pcapng    the capture with the key log injected as a Decryption
                     Secrets Block (editcap --inject-secrets tls,NAME.keys)
  NAME-latedsb.pcapng  the capture as pcapng with each connection's key log
                     lines in a DSB of their own, right after the first
                     segment the server sent on it (keys that arrive late,
                     after encrypted handshake records in TLS 1.3)
  NAME-badkeys       the key log with every secret of the first full
                     handshake (and of TLS 1.2 connections resuming a
                     session) changed in its last digit: authentication
                     fails on those connections
  NAME-midstream.pcap  the capture without the first TLS connection's
                     frames up to the server's answer to its (last)
                     ClientHello: both hellos
                     missing, as when a capture starts mid-connection
  NAME-halfkeys      the key log without the lines of every second TCP
                     connection (tcp.stream 1, 3, ...)
  NAME.json          the reference: per TCP stream, its client port, client
                     random, SNI, negotiated version and cipher, whether
                     encrypt-then-MAC was negotiated, the session resumed,
                     how many KeyUpdates tshark saw,
                     whether its keys are in NAME.keys and NAME-halfkeys,
                     whether tshark decrypted it with NAME.keys, the requests
                     tshark read in it (method, URI or :path, Host or
                     :authority, user agent) and the identifiers sent on it
                     (type, value, where, encoding)
and manifest.json listing the scenarios. The script checks every capture
before it writes the reference (see check_scenario: tshark must decrypt
every keyed connection and read exactly the requests curl made) and fails
loudly otherwise; self_check(OUTDIR) re-checks the outputs.

Usage: tlscap.py OUTDIR [SCENARIO...]          (as root)
       tlscap.py --check OUTDIR
"""
import gzip
import re
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402  (the two-namespace lab, shared with tests/live)

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE_PROFILE = os.path.join(TOP, "tests", "fixtures", "tls-e2e", "device.json")
CLIENT = os.path.join(TOP, "tests", "live", "client.py")
PY = "/usr/bin/python3"

DEV_IP = "192.168.78.2"
GW_IP = "192.168.78.1"
DOMAIN = "tlslab-metrics.net"

T13 = "1.3"
T12 = "1.2"

# name, server, TLS version, cipher, encrypt-then-MAC, requests
SCENARIOS = [
    ("t13-aes128gcm", "py", T13, "TLS_AES_128_GCM_SHA256", None, "qhjz"),
    ("t13-aes256gcm", "py", T13, "TLS_AES_256_GCM_SHA384", None, "qhjz"),
    ("t13-chacha", "py", T13, "TLS_CHACHA20_POLY1305_SHA256", None, "qhjzb"),
    ("t12-aes128gcm", "py", T12, "ECDHE-RSA-AES128-GCM-SHA256", None, "qhjz"),
    ("t12-aes256gcm", "py", T12, "ECDHE-RSA-AES256-GCM-SHA384", None, "qhjz"),
    ("t12-chacha", "py", T12, "ECDHE-RSA-CHACHA20-POLY1305", None, "qhjz"),
    ("t12-cbc-etm", "py", T12, "ECDHE-RSA-AES128-SHA", True, "qhjz"),
    ("t12-cbc-noetm", "py", T12, "ECDHE-RSA-AES128-SHA", False, "qhjzb"),
    ("t12-cbc-sha256", "py", T12, "ECDHE-RSA-AES128-SHA256", None, "qhjz"),
    ("keyupdate-t13", "py", T13, "TLS_AES_256_GCM_SHA384", None, "qu"),
    ("resume-t12", "s_server", T12, "ECDHE-RSA-AES128-GCM-SHA256", None, "r"),
    ("resume-t13", "s_server", T13, "TLS_AES_256_GCM_SHA384", None, "r"),
    ("t13-ccm", "s_server", T13, "TLS_AES_128_CCM_SHA256", None, "qh"),
    ("h2-t13-aes128gcm", "nghttpd", T13, "TLS_AES_128_GCM_SHA256", None, "qhjzmb"),
    ("h2-t12-chacha", "nghttpd", T12, "ECDHE-RSA-CHACHA20-POLY1305", None, "qhjzm"),
]

# The IANA numbers of the forced ciphers, as tshark gives the negotiated one
IANA = {
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "ECDHE-RSA-AES128-GCM-SHA256": 0xC02F,
    "ECDHE-RSA-AES256-GCM-SHA384": 0xC030,
    "ECDHE-RSA-CHACHA20-POLY1305": 0xCCA8,
    "ECDHE-RSA-AES128-SHA": 0xC013,
    "ECDHE-RSA-AES128-SHA256": 0xC027,
    "TLS_AES_128_CCM_SHA256": 0x1304,
}
# The ciphers flowaudit must decrypt; with another (AES-CCM here) a flow may
# instead say the cipher is not supported.
REQUIRED = set(IANA.values()) - {0x1304}

TOOLS = ("ip", "dnsmasq", "openssl", "curl", "tcpdump", "tshark", "editcap", "mergecap",
         "nghttpd", "ss")


LabError = netlab.LabError
sh = netlab.sh


class CaptureLoss(LabError):
    """tcpdump dropped packets: the lab was too slow, the capture is retried."""


def prerequisites():
    """None when captures can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root: network namespaces need root"
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return ("%s is not installed (apt-get install iproute2 dnsmasq openssl curl "
                    "tcpdump tshark nghttp2-server)" % tool)
    r = sh("curl", "--version", check=False)
    if "nghttp2" not in r.stdout:
        return "this curl has no HTTP/2 (built without nghttp2)"
    return None


def device():
    with open(DEVICE_PROFILE) as f:
        return json.load(f)


def host_of(name):
    return "%s.%s" % (name, DOMAIN)


def addr_of(index):
    return "23.94.7.%d" % (10 + index)


# ---------------------------------------------------------------- requests

def plan(name, kinds, dev):
    """The curl invocations of one scenario: each a dict with the URLs, the
    curl arguments that follow the TLS options, and the identifiers each
    request carries."""
    base = "https://%s/s/%s/" % (host_of(name), name)
    out = []
    for k in kinds:
        ua = "tlslab/1.0 (%s; %s)" % (name, k)
        if k == "q":
            q = urllib.parse.urlencode([("imei", dev["imei"]), ("email", dev["email"])])
            reqs = [{"method": "GET", "path": "/s/%s/q?%s" % (name, q), "ids": [
                {"type": "imei", "value": dev["imei"], "where": "query", "key": "imei",
                 "encoding": "plain"},
                {"type": "email", "value": dev["email"], "where": "query", "key": "email",
                 "encoding": "url"}]}]
            args = [base + "q?" + q]
        elif k == "h":
            reqs = [{"method": "GET", "path": "/s/%s/h" % name, "ids": [
                {"type": "android_id", "value": dev["android_id"], "where": "header",
                 "key": "X-Device-Id", "encoding": "plain"},
                {"type": "advertising_id", "value": dev["advertising_id"], "where": "header",
                 "key": "X-Ad-Id", "encoding": "plain"}]}]
            args = ["-H", "X-Device-Id: " + dev["android_id"],
                    "-H", "X-Ad-Id: " + dev["advertising_id"], base + "h"]
        elif k == "j":
            body = json.dumps({"device": {"imei": dev["imei"], "aaid": dev["advertising_id"]},
                               "event": "app_open"}).encode()
            reqs = [{"method": "POST", "path": "/s/%s/j" % name, "body": body, "ids": [
                {"type": "imei", "value": dev["imei"], "where": "body", "encoding": "plain"},
                {"type": "advertising_id", "value": dev["advertising_id"], "where": "body",
                 "encoding": "plain"}]}]
            args = ["-H", "Content-Type: application/json", "--data-binary", "@BODY",
                    base + "j"]
        elif k == "z":
            plain = json.dumps({"android_id": dev["android_id"], "email": dev["email"],
                                "event": "heartbeat"}).encode()
            body = gzip.compress(plain, mtime=0)
            reqs = [{"method": "POST", "path": "/s/%s/z" % name, "body": body,
                     "content_encoding": "gzip", "ids": [
                         {"type": "android_id", "value": dev["android_id"], "where": "body",
                          "encoding": "plain", "content_encoding": "gzip"},
                         {"type": "email", "value": dev["email"], "where": "body",
                          "encoding": "plain", "content_encoding": "gzip"}]}]
            args = ["-H", "Content-Type: application/json", "-H", "Content-Encoding: gzip",
                    "--data-binary", "@BODY", base + "z"]
        elif k == "m":
            q = urllib.parse.urlencode([("aid", dev["android_id"])])
            reqs = [{"method": "GET", "path": "/s/%s/m1?%s" % (name, q), "ids": [
                        {"type": "android_id", "value": dev["android_id"], "where": "query",
                         "key": "aid", "encoding": "plain"}]},
                    {"method": "GET", "path": "/s/%s/m2" % name, "ids": []}]
            args = ["--parallel", base + "m1?" + q, base + "m2"]
        elif k == "b":
            filler = "".join("%08x" % (n * 2654435761 % 2 ** 32) for n in range(5000))
            body = json.dumps({"log": filler, "imei": dev["imei"],
                               "email": dev["email"]}).encode()
            reqs = [{"method": "POST", "path": "/s/%s/b" % name, "body": body, "ids": [
                {"type": "imei", "value": dev["imei"], "where": "body", "encoding": "plain",
                 "offset": body.index(dev["imei"].encode())},
                {"type": "email", "value": dev["email"], "where": "body", "encoding": "plain",
                 "offset": body.index(dev["email"].encode())}]}]
            args = ["-H", "Content-Type: application/json", "--data-binary", "@BODY",
                    base + "b"]
        elif k == "u":
            q = urllib.parse.urlencode([("imei", dev["imei"])])
            reqs = [{"method": "GET", "path": "/s/%s/u1?%s" % (name, q), "ids": [
                        {"type": "imei", "value": dev["imei"], "where": "query", "key": "imei",
                         "encoding": "plain"}]},
                    {"method": "GET", "path": "/s/%s/u2" % name, "ids": [
                        {"type": "android_id", "value": dev["android_id"], "where": "header",
                         "key": "X-Device-Id", "encoding": "plain"}]}]
            args = [{"X-Device-Id": dev["android_id"]}]
        elif k == "r":
            reqs = [{"method": "GET", "path": "/s/%s/r1" % name, "ids": []},
                    {"method": "GET", "path": "/s/%s/r2" % name, "ids": []}]
            args = [base + "r1", base + "r2"]
        else:
            raise ValueError(k)
        for r in reqs:
            r["user_agent"] = ua
            r["host"] = host_of(name)
        out.append({"kind": k, "user_agent": ua, "requests": reqs, "args": args})
    return out


# ---------------------------------------------------------------- the lab

class Lab(netlab.VethLab):
    """The lab of netlab.py, named for this script, with links that carry
    one segment per packet; the device's commands run through in_dev()."""

    def __init__(self, work):
        tag = "%d" % os.getpid()
        super().__init__("fa-%s-tls-dev" % tag, "fa-%s-tls-gw" % tag, "fat%sd" % tag,
                         "fat%sg" % tag, work, DEV_IP, GW_IP)

    def build(self):
        self.link(one_segment_per_packet=True)

    def in_dev(self, args, env=None, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.dev] + args, capture_output=True,
                              text=True, timeout=timeout, env=env)


def remove_stale_namespaces():
    """Namespaces a killed run of this script left behind (its pid is gone)."""
    netlab.remove_stale_namespaces(r"^fa-(\d+)-tls-(dev|gw)$")


# ---------------------------------------------------------------- HTTP/1.1 server

def serve(argv):
    """--serve CERT KEY SPEC...: the HTTP/1.1 TLS servers, one per SPEC
    IP:VERSION:CIPHER:ETM (ETM 1, 0 or - for the library's default). Each
    answers every request 200 with a short body, keeping the connection."""
    import http.server
    import ssl

    cert, key, specs = argv[0], argv[1], argv[2:]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            body = b'{"ok":true}\n'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = answer
        do_POST = answer

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.client_address[1], fmt % args))

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def __init__(self, addr, ctx):
            self.ctx = ctx
            super().__init__(addr, Handler)

        def get_request(self):
            sock, addr = self.socket.accept()
            return self.ctx.wrap_socket(sock, server_side=True), addr

        def handle_error(self, request, client_address):
            sys.stderr.write("error from %s: %s\n" % (client_address, sys.exc_info()[1]))

    servers = []
    for spec in specs:
        ip, ver, cipher, etm = spec.split(":")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        v = ssl.TLSVersion.TLSv1_3 if ver == T13 else ssl.TLSVersion.TLSv1_2
        ctx.minimum_version = ctx.maximum_version = v
        if ver == T12:
            ctx.set_ciphers(cipher)
        if etm == "0":
            ctx.options |= 1 << 19  # SSL_OP_NO_ENCRYPT_THEN_MAC
        srv = Server((ip, 443), ctx)
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stderr.write("serving %d\n" % len(servers))
    sys.stderr.flush()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    return 0


# ---------------------------------------------------------------- generation

def make_cert(work):
    cert = os.path.join(work, "cert.pem")
    key = os.path.join(work, "key.pem")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
       cert, "-days", "2", "-subj", "/CN=%s" % DOMAIN, "-addext",
       "subjectAltName=DNS:*.%s" % DOMAIN, timeout=60)
    return cert, key


def make_docroot(work, scenarios):
    root = os.path.join(work, "www")
    for name, *_ in scenarios:
        d = os.path.join(root, "s", name)
        os.makedirs(d)
        for leaf in ("q", "h", "j", "z", "m1", "m2", "r1", "r2"):
            with open(os.path.join(d, leaf), "w") as f:
                f.write("ok %s\n" % leaf)
    return root


def start_servers(lab, scenarios, cert, key, www):
    py_specs = []
    want = {"%s:53" % GW_IP}
    for i, (name, kind, ver, cipher, etm, _) in enumerate(SCENARIOS):
        if name not in scenarios:
            continue
        ip = addr_of(i)
        lab.add_address(ip)
        want.add("%s:443" % ip)
        if kind == "py":
            py_specs.append("%s:%s:%s:%s" % (ip, ver, cipher, {None: "-", True: "1",
                                                              False: "0"}[etm]))
        elif kind == "s_server":
            args = ["openssl", "s_server", "-accept", "%s:443" % ip, "-cert", cert, "-key",
                    key, "-WWW", "-quiet", "-naccept", "1000"]
            args += (["-tls1_3", "-ciphersuites", cipher] if ver == T13
                     else ["-tls1_2", "-cipher", cipher])
            lab.spawn("s_server-" + name, args, cwd=www)
        elif kind == "nghttpd":
            lab.spawn("nghttpd-" + name, ["nghttpd", "-a", ip, "-d", www, "443", key, cert])
    if py_specs:
        lab.spawn("h1server", [PY, os.path.abspath(__file__), "--serve", cert, key] + py_specs)
    dns = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
           "--no-hosts", "--bind-interfaces", "--listen-address=" + GW_IP, "--user=root",
           "--pid-file=" + os.path.join(lab.dir, "dnsmasq.pid"),
           "--log-facility=" + os.path.join(lab.dir, "dnsmasq.log")]
    for i, (name, *_) in enumerate(SCENARIOS):
        if name in scenarios:
            dns.append("--address=/%s/%s" % (host_of(name), addr_of(i)))
    lab.spawn("dnsmasq", dns)
    lab.wait_listening(want)


def run_scenario(lab, out, index, spec, dev):
    """One capture: DNS, then the scenario's curl invocations. Returns the
    plan with each invocation's curl output."""
    name, kind, ver, cipher, etm, kinds = spec
    pcap = os.path.join(out, name + ".pcap")
    keys = os.path.join(out, name + ".keys")
    for p in (pcap, keys):
        if os.path.exists(p):
            os.unlink(p)
    errpath = os.path.join(lab.dir, "tcpdump-%s.log" % name)
    errf = open(errpath, "w")
    td = subprocess.Popen(["ip", "netns", "exec", lab.gw, "tcpdump", "-i", lab.gif, "-n", "-U",
                           "--immediate-mode", "-B", "16384", "-s", "0", "-Z", "root", "-w",
                           pcap],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf)
    errf.close()
    td.lab_name = "tcpdump-" + name
    lab.procs.append(td)
    try:
        deadline = time.monotonic() + 10
        while True:
            with open(errpath) as f:
                if "listening on" in f.read():
                    break
            if td.poll() is not None or time.monotonic() > deadline:
                with open(errpath) as f:
                    raise LabError("tcpdump did not start: %s" % f.read())
            time.sleep(0.02)
        r = lab.in_dev([PY, CLIENT, "--resolver", GW_IP, "dns:" + host_of(name)])
        res = json.loads(r.stdout or "[]") if r.returncode in (0, 1) else []
        if not res or not res[0].get("ok") or res[0].get("ip") != addr_of(index):
            raise LabError("DNS lookup of %s failed: %s %s" % (host_of(name), r.stdout,
                                                                r.stderr))
        tls = (["--tlsv1.3", "--tls13-ciphers", cipher] if ver == T13
               else ["--tlsv1.2", "--tls-max", "1.2", "--ciphers", cipher])
        proto = ["--http2"] if kind == "nghttpd" else ["--http1.1"]
        env = dict(os.environ, SSLKEYLOGFILE=keys)
        steps = plan(name, kinds, dev)
        for n, step in enumerate(steps):
            if step["kind"] == "u":
                step["s_client"] = key_update_client(lab, name, index, cipher, keys, step)
                continue
            args = []
            for a in step["args"]:
                if a == "@BODY":
                    body = os.path.join(lab.dir, "%s-%s.body" % (name, step["kind"]))
                    with open(body, "wb") as f:
                        f.write(step["requests"][0]["body"])
                    a = "@" + body
                args.append(a)
            cmd = ["curl", "-sS", "-k", "--max-time", "10", "--resolve",
                   "%s:443:%s" % (host_of(name), addr_of(index)), "-A", step["user_agent"],
                   "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{num_connects}\\n"]
            r = lab.in_dev(cmd + tls + proto + args, env=env)
            if r.returncode != 0:
                raise LabError("curl for %s/%s failed (exit %d): %s" %
                               (name, step["kind"], r.returncode, r.stderr.strip()))
            step["curl"] = r.stdout.split()
        time.sleep(0.2)  # the last FINs
    finally:
        if td.poll() is None:
            td.send_signal(signal.SIGINT)
        try:
            td.wait(timeout=5)
        except subprocess.TimeoutExpired:
            td.kill()
            td.wait()
    if not os.path.exists(pcap) or not os.path.exists(keys):
        raise LabError("%s: no capture or no key log written" % name)
    with open(errpath) as f:
        m = re.search(r"(\d+) packets? dropped by kernel", f.read())
    if not m or m.group(1) != "0":
        raise CaptureLoss("%s: tcpdump lost packets (%s)" % (name, m.group(0) if m else
                                                           "no statistics"))
    return steps


def key_update_client(lab, name, index, cipher, keys, step):
    """One TLS 1.3 connection by openssl s_client (-keylogfile KEYS): a
    request, a KeyUpdate asking the server to update too ("K" on s_client's
    input), and a second request under the new keys."""
    r1, r2 = step["requests"]

    def request(r, extra=""):
        return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n%sAccept: */*\r\n\r\n" %
                (r["path"], r["host"], r["user_agent"], extra)).encode()
    p = subprocess.Popen(["ip", "netns", "exec", lab.dev, "openssl", "s_client", "-connect",
                          "%s:443" % addr_of(index), "-servername", host_of(name), "-tls1_3",
                          "-ciphersuites", cipher, "-keylogfile", keys],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = {"out": b"", "err": b""}

    def reader(stream, key):
        for chunk in iter(lambda: stream.read1(4096), b""):
            got[key] += chunk
    threads = [threading.Thread(target=reader, args=(p.stdout, "out"), daemon=True),
               threading.Thread(target=reader, args=(p.stderr, "err"), daemon=True)]
    for t in threads:
        t.start()

    def until(what, key, count):
        deadline = time.monotonic() + 10
        while got[key].count(what) < count:
            if p.poll() is not None or time.monotonic() > deadline:
                raise LabError("s_client for %s: no %r: %s" %
                               (name, what, got["err"][-800:].decode(errors="replace")))
            time.sleep(0.02)
    # each step once the previous one is answered, so that s_client reads
    # the "K" command alone
    try:
        p.stdin.write(request(r1))
        p.stdin.flush()
        until(b'{"ok":true}', "out", 1)
        p.stdin.write(b"K\n")
        p.stdin.flush()
        until(b"KEYUPDATE", "err", 1)
        p.stdin.write(request(r2, "X-Device-Id: %s\r\n" % step["args"][0]["X-Device-Id"]))
        p.stdin.flush()
        until(b'{"ok":true}', "out", 2)
        p.stdin.close()  # s_client ends at the end of its input
        p.wait(timeout=10)
    except BaseException:
        p.kill()
        p.wait()
        raise
    for t in threads:
        t.join(timeout=5)
    if got["out"].count(b"HTTP/1.1 200") != 2:
        raise LabError("s_client for %s: %d answers" % (name, got["out"].count(b"HTTP/1.1 200")))
    return "2 answers, KeyUpdate sent"


# ---------------------------------------------------------------- tshark

FIELDS = ["ip.src", "ip.dst", "tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.type",
          "tls.handshake.random", "tls.handshake.session_id",
          "tls.handshake.extensions_server_name", "tls.handshake.ciphersuite",
          "tls.handshake.extensions.supported_version", "tls.handshake.extension.type",
          "http.request.method", "http.request.uri", "http.host", "http.user_agent",
          "http2.headers.method", "http2.headers.path", "http2.headers.authority",
          "http2.headers.user_agent", "http2.streamid"]
SEP = "\x1f"


def tshark_fields(pcap, keylog, filt):
    args = ["tshark", "-n", "-r", pcap, "-o", "tls.keylog_file:" + keylog,
            "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tls.desegment_ssl_records:TRUE",
            "-o", "tls.desegment_ssl_application_data:TRUE",
            "-Y", filt, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
            "-E", "aggregator=" + SEP]
    for f in FIELDS:
        args += ["-e", f]
    p = sh(*args, timeout=120)
    rows = []
    for line in p.stdout.splitlines():
        vals = line.split("\t")
        vals += [""] * (len(FIELDS) - len(vals))
        rows.append({f: (v.split(SEP) if v else []) for f, v in zip(FIELDS, vals)})
    return rows


def read_streams(pcap, keylog):
    """What tshark sees per TCP stream with this key log:
    {server address: {stream: what}}, each server's streams numbered from 0
    in the order they start, as tshark numbers them in a capture of that
    server alone."""
    rows = tshark_fields(pcap, keylog, "tls.handshake.type == 1 || tls.handshake.type == 2 || "
                         "tls.handshake.type == 24 || http.request || http2.headers.method")
    streams = {}
    for r in rows:
        sid = int(r["tcp.stream"][0])
        server = r["ip.dst"][0] if r["tcp.dstport"] == ["443"] else r["ip.src"][0]
        s = streams.setdefault(sid, {"server": server, "requests": [], "key_updates": 0})
        types = r["tls.handshake.type"]
        s["key_updates"] += types.count("24")
        if "1" in types and "client_random" not in s:
            i = types.index("1")
            s["client_port"] = int(r["tcp.srcport"][0])
            s["client_random"] = r["tls.handshake.random"][i] if r["tls.handshake.random"] else ""
            s["client_session_id"] = (r["tls.handshake.session_id"] or [""])[0]
            s["sni"] = (r["tls.handshake.extensions_server_name"] or [None])[0]
        if "2" in types and "cipher" not in s:
            # the ServerHello's fields: its random follows the ClientHello's when
            # both are in one row, which never happens on a real connection
            s["cipher"] = int((r["tls.handshake.ciphersuite"] or ["0"])[-1], 0)
            sv = r["tls.handshake.extensions.supported_version"]
            s["version"] = "1.3" if sv and int(sv[-1], 0) == 0x0304 else "1.2"
            exts = [int(x, 0) if x.startswith("0x") else int(x) for x in
                    r["tls.handshake.extension.type"]]
            s["etm"] = 22 in exts
            s["server_psk"] = 41 in exts
            s["server_session_id"] = (r["tls.handshake.session_id"] or [""])[-1]
        for i, m in enumerate(r["http.request.method"]):
            s["requests"].append({"http": "1.1", "method": m,
                                  "uri": at(r["http.request.uri"], i),
                                  "host": at(r["http.host"], i),
                                  "user_agent": at(r["http.user_agent"], i)})
        for i, m in enumerate(r["http2.headers.method"]):
            s["requests"].append({"http": "2", "method": m,
                                  "uri": at(r["http2.headers.path"], i),
                                  "host": at(r["http2.headers.authority"], i),
                                  "user_agent": at(r["http2.headers.user_agent"], i)})
    out = {}
    for sid in sorted(streams):
        by = out.setdefault(streams[sid]["server"], {})
        streams[sid]["tcp_stream"] = len(by)
        by[len(by)] = streams[sid]
    return out


def at(lst, i):
    return lst[i] if i < len(lst) else None


# ---------------------------------------------------------------- key logs

def parse_keylog(text):
    """{client random (lower-case hex): [lines]} and the other lines. Every
    LABEL CLIENT_RANDOM SECRET line counts, whatever its label: OpenSSL also
    writes CLIENT_TRAFFIC_SECRET_N and SERVER_TRAFFIC_SECRET_N after a
    KeyUpdate."""
    by = {}
    other = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and len(parts[1]) == 64 and \
                all(c in "0123456789abcdefABCDEF" for c in parts[1]):
            by.setdefault(parts[1].lower(), []).append(line)
        elif line.strip():
            other.append(line)
    return by, other


def write_halfkeys(keys_path, half_path, drop_randoms):
    with open(keys_path) as f:
        lines = f.read().splitlines()
    kept = [l for l in lines if not (len(l.split()) == 3 and l.split()[1].lower() in
                                     drop_randoms)]
    with open(half_path, "w") as f:
        f.write("".join(l + "\n" for l in kept))


def write_badkeys(keys_path, bad_path, randoms):
    """The key log with every secret of these client randoms changed in its
    last hex digit: keys that look right and fail authentication."""
    with open(keys_path) as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[1].lower() in randoms:
            sec = parts[2]
            line = "%s %s %s%x" % (parts[0], parts[1], sec[:-1], int(sec[-1], 16) ^ 1)
        out.append(line)
    with open(bad_path, "w") as f:
        f.write("".join(l + "\n" for l in out))


def pcapng_dsbs(path):
    """The Decryption Secrets Blocks of a pcapng: [(secrets type, data,
    packets before it)]."""
    out = []
    packets = 0
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    endian = "<"
    while off + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, off)[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack_from(endian + "I", data, off + 4)[0]
        if blen < 12 or off + blen > len(data):
            raise ValueError("%s: bad pcapng block length %d at %d" % (path, blen, off))
        if btype == 0x0000000A:
            stype, slen = struct.unpack_from(endian + "II", data, off + 8)
            out.append((stype, data[off + 16:off + 16 + slen], packets))
        elif btype in (3, 6):
            packets += 1
        off += blen
    return out


DSB_TLS = 0x544c534b  # "TLSK"


def pcap_packets(path):
    """The records of a classic pcap: (linktype, snaplen, nanosecond
    resolution, [(seconds, fraction, original length, bytes)])."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    snaplen, linktype = struct.unpack_from(endian + "II", data, 16)
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack_from(endian + "IIII", data, off)
        out.append((sec, frac, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return linktype, snaplen, nano, out


def tcp_of(frame):
    """(source port, destination port, payload) of an Ethernet IPv4 TCP
    frame, or None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    tot = struct.unpack_from("!H", frame, 16)[0]
    t = 14 + ihl
    sport, dport = struct.unpack_from("!HH", frame, t)
    doff = (frame[t + 12] >> 4) * 4
    return sport, dport, frame[t + doff:14 + tot]


def pcapng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def has_client_hello(payload):
    """Whether a segment's TLS records, read from its start, hold a
    ClientHello."""
    off = 0
    while off + 6 <= len(payload):
        if payload[off] == 0x16 and payload[off + 5] == 1:
            return True
        off += 5 + struct.unpack_from("!H", payload, off + 3)[0]
    return False


def write_midstream(pcap, dst):
    """The capture without the start of its first TLS connection: every
    frame of it up to and including the server's first segment after its
    last ClientHello (there is a HelloRetryRequest at times), so neither
    hello is there, as when a capture starts mid-connection.
    Returns the client port of that connection."""
    with open(pcap, "rb") as f:
        header = f.read(24)
    linktype, snaplen, nano, packets = pcap_packets(pcap)
    endian = "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    port = None
    cut = set()
    hello = False  # a ClientHello came and no server segment since
    for n, (_, _, _, frame) in enumerate(packets):
        t = tcp_of(frame)
        if not t:
            continue
        if port is None and t[1] == 443:
            port = t[0]
        if port is not None and port in t[:2]:
            cut.add(n)
            if t[1] == 443 and has_client_hello(t[2]):
                hello = True  # again after a HelloRetryRequest
            elif t[0] == 443 and t[2] and hello:
                hello = False
                if not any(has_client_hello(tcp_of(f)[2]) for _, _, _, f in packets[n + 1:]
                           if tcp_of(f) and tcp_of(f)[:2] == (port, 443)):
                    break
    with open(dst, "wb") as f:
        f.write(header)
        for n, (sec, frac, orig, frame) in enumerate(packets):
            if n not in cut:
                f.write(struct.pack(endian + "IIII", sec, frac, len(frame), orig) + frame)
    return port


def write_late_dsb(pcap, keys_path, dst):
    """The capture as pcapng with each connection's key log lines in a DSB
    of its own, placed right after the first segment the server sent on that
    connection: the keys arrive once the handshake is under way, as a
    capture tool that learns them from the device writes them (in TLS 1.3
    that segment already carries encrypted handshake records)."""
    with open(keys_path) as f:
        by, _ = parse_keylog(f.read())
    linktype, snaplen, nano, packets = pcap_packets(pcap)
    out = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
           pcapng_block(1, struct.pack("<HHI", linktype, 0, snaplen) +
                        (struct.pack("<HHB3x", 9, 1, 9) if nano else b"") + b"\0\0\0\0")]
    randoms = {}  # client port -> client random
    placed = set()
    for sec, frac, orig, frame in packets:
        ts = sec * (10 ** 9 if nano else 10 ** 6) + frac
        out.append(pcapng_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF,
                                               len(frame), orig) + frame))
        t = tcp_of(frame)
        if not t or not t[2]:
            continue
        sport, dport, payload = t
        if dport == 443 and payload[:1] == b"\x16" and payload[5:6] == b"\x01" and \
                len(payload) >= 43:
            randoms[sport] = payload[11:43].hex()
        elif sport == 443 and dport in randoms and dport not in placed:
            placed.add(dport)
            lines = by.get(randoms[dport], [])
            if lines:
                text = "".join(l + "\n" for l in lines).encode()
                out.append(pcapng_block(0x0A, struct.pack("<II", DSB_TLS, len(text)) + text))
    with open(dst, "wb") as f:
        f.write(b"".join(out))


# ---------------------------------------------------------------- checks

def check_scenario(spec, steps, streams, keys_text):
    """Problems with one generated capture (an empty list when it is right)."""
    name, kind, ver, cipher, etm, kinds = spec
    bad = []
    by, _ = parse_keylog(keys_text)
    want_reqs = [r for st in steps for r in st["requests"]]
    want_conns = sum(1 if st["kind"] in "qhjzmbu" else 2 for st in steps)
    tls_streams = [s for s in streams.values() if s.get("client_random")]
    if len(tls_streams) != want_conns:
        bad.append("%d TLS connections in the capture, %d made" % (len(tls_streams), want_conns))
    for s in tls_streams:
        tag = "stream %d" % s["tcp_stream"]
        if s["client_random"] not in by:
            bad.append("%s: its client random is not in the key log" % tag)
        if s.get("sni") != host_of(name):
            bad.append("%s: SNI %r" % (tag, s.get("sni")))
        if s.get("cipher") != IANA[cipher]:
            bad.append("%s: cipher 0x%04x negotiated, %s forced" % (tag, s.get("cipher") or 0,
                                                                    cipher))
        if s.get("version") != ver:
            bad.append("%s: TLS %s negotiated, %s forced" % (tag, s.get("version"), ver))
        if etm is not None and s.get("etm") != etm:
            bad.append("%s: encrypt-then-MAC %s, wanted %s" % (tag, s.get("etm"), etm))
        if not s["requests"]:
            bad.append("%s: keys present but tshark decrypted no request" % tag)
    seen = [(q["method"], q["uri"], q["host"], q["user_agent"]) for s in tls_streams
            for q in s["requests"]]
    want = [(r["method"], r["path"], r["host"], r["user_agent"]) for r in want_reqs]
    if sorted(seen) != sorted(want):
        bad.append("tshark read requests %s, curl made %s" % (sorted(seen), sorted(want)))
    if "u" in kinds and not any(s["key_updates"] >= 2 for s in tls_streams):
        bad.append("no connection with a KeyUpdate each way")
    if "r" in kinds and not any(s.get("resumed") for s in tls_streams):
        bad.append("no connection resumed a session")
    return bad


def resumed(s):
    if s.get("version") == "1.3":
        return bool(s.get("server_psk"))
    sid = s.get("client_session_id")
    return bool(sid) and sid == s.get("server_session_id")


def build_reference(spec, index, steps, streams, half_drop, bad_keys):
    name, kind, ver, cipher, etm, kinds = spec
    by_path = {}
    for st in steps:
        for r in st["requests"]:
            by_path[r["path"]] = r
    ref = {"scenario": name, "server": {"py": "tlscap.py --serve (Python ssl)",
                                        "s_server": "openssl s_server -WWW",
                                        "nghttpd": "nghttpd"}[kind],
           "http": "2" if kind == "nghttpd" else "1.1", "tls_version": ver, "cipher": cipher,
           "cipher_id": IANA[cipher], "cipher_required": IANA[cipher] in REQUIRED,
           "encrypt_then_mac": etm, "host": host_of(name),
           "address": addr_of(index), "device_ip": DEV_IP, "streams": []}
    for sid in sorted(streams):
        s = streams[sid]
        if not s.get("client_random"):
            continue
        ids = []
        for q in s["requests"]:
            ids += by_path.get(q["uri"], {}).get("ids", [])
        ref["streams"].append({
            "tcp_stream": sid, "client_port": s["client_port"],
            "client_random": s["client_random"], "sni": s["sni"], "version": s["version"],
            "cipher_id": s["cipher"], "etm": s["etm"], "resumed": s["resumed"],
            "key_updates": s["key_updates"],
            "keyed": True, "keyed_in_halfkeys": s["client_random"] not in half_drop,
            "decrypted": bool(s["requests"]),
            "decrypted_with_halfkeys": s["decrypted_with_halfkeys"],
            "keyed_in_badkeys": s["client_random"] not in bad_keys,
            "decrypted_with_badkeys": s["decrypted_with_badkeys"],
            "handshake_in_midstream": s["handshake_in_midstream"],
            "decrypted_in_midstream": s["decrypted_in_midstream"], "requests": s["requests"],
            "identifiers": ids})
    return ref


def self_check(out):
    """Re-check a generated directory; returns a list of problems."""
    bad = []
    with open(os.path.join(out, "manifest.json")) as f:
        man = json.load(f)
    for name in man["scenarios"]:
        base = os.path.join(out, name)
        with open(base + ".json") as f:
            ref = json.load(f)
        with open(base + ".keys", "rb") as f:
            keys = f.read()
        with open(base + "-halfkeys") as f:
            half, _ = parse_keylog(f.read())
        with open(base + "-badkeys") as f:
            badk, _ = parse_keylog(f.read())
        full, _ = parse_keylog(keys.decode())
        st = ref["streams"]
        if not st:
            bad.append("%s: no TLS connection" % name)
        for s in st:
            if not s["decrypted"]:
                bad.append("%s: stream %d has keys, tshark did not decrypt it" %
                           (name, s["tcp_stream"]))
            if s["client_random"] not in full:
                bad.append("%s: stream %d has no keys" % (name, s["tcp_stream"]))
            if s["decrypted_with_halfkeys"] != s["keyed_in_halfkeys"]:
                bad.append("%s: stream %d: tshark's reading of the half key log is not its "
                           "keys'" % (name, s["tcp_stream"]))
            if (s["client_random"] in half) != s["keyed_in_halfkeys"]:
                bad.append("%s: stream %d wrongly kept or dropped in the half key log" %
                           (name, s["tcp_stream"]))
            elif s["client_random"] in half and half[s["client_random"]] != \
                    full[s["client_random"]]:
                bad.append("%s: stream %d's lines differ in the half key log" %
                           (name, s["tcp_stream"]))
        for s in st:
            mine, theirs = full.get(s["client_random"], []), badk.get(s["client_random"], [])
            spoilt = len(mine) == len(theirs) and all(
                a[:-1] == b[:-1] and a[-1] != b[-1] for a, b in zip(mine, theirs))
            if s["decrypted_with_badkeys"] != s["keyed_in_badkeys"] or \
                    (mine == theirs) != s["keyed_in_badkeys"] or \
                    spoilt == s["keyed_in_badkeys"]:
                bad.append("%s: stream %d's lines in the bad key log are not as said" %
                           (name, s["tcp_stream"]))
        cut = [s for s in st if not s["handshake_in_midstream"]]
        if len(cut) != 1 or cut[0]["decrypted_in_midstream"] or \
                any(not s["decrypted_in_midstream"] for s in st if s["handshake_in_midstream"]):
            bad.append("%s: the midstream capture does not lack exactly one handshake" % name)
        if all(s["keyed_in_badkeys"] for s in st):
            bad.append("%s: the bad key log spoils no connection" % name)
        dropped = [s for s in st if not s["keyed_in_halfkeys"]]
        if len(dropped) != len(st) // 2:
            bad.append("%s: the half key log drops %d of %d connections" %
                       (name, len(dropped), len(st)))
        dsb = pcapng_dsbs(base + "-dsb.pcapng")
        if [t for t, _, _ in dsb] != [DSB_TLS] or dsb[0][1].rstrip(b"\0") != \
                keys.rstrip(b"\0"):
            bad.append("%s: the DSB pcapng does not carry exactly the key log (%d DSBs)" %
                       (name, len(dsb)))
        late = pcapng_dsbs(base + "-latedsb.pcapng")
        lines = [l for _, d, _ in late for l in d.decode().splitlines()]
        owners = [{l.split()[1] for l in d.decode().splitlines()} for _, d, _ in late]
        if len(late) != len(st) or sorted(lines) != sorted(l for v in full.values() for l in v) or \
                any(len(o) != 1 for o in owners) or any(n == 0 for _, _, n in late):
            bad.append("%s: the late-DSB pcapng does not carry one DSB per connection after "
                       "its first packets (%d DSBs for %d connections)" %
                       (name, len(late), len(st)))
    return bad


def cat(paths, dst):
    with open(dst, "wb") as o:
        for p in paths:
            with open(p, "rb") as f:
                o.write(f.read())


def finish(out, work, results):
    """Read the captures with tshark (all at once: tshark's start-up is most
    of its time), check them, and write each one's half key log, DSB pcapng
    and reference. Returns the problems found."""
    bases = [os.path.join(out, spec[0]) for _, spec, _ in results]
    allpcap = os.path.join(work, "all.pcap")
    sh("mergecap", "-a", "-F", "pcap", "-w", allpcap, *[b + ".pcap" for b in bases])
    cat([b + ".keys" for b in bases], os.path.join(work, "all.keys"))
    keyed = read_streams(allpcap, os.path.join(work, "all.keys"))
    drops = []
    for (i, spec, steps), base in zip(results, bases):
        streams = keyed.get(addr_of(i), {})
        for s in streams.values():
            s["resumed"] = resumed(s)
        tls_ids = sorted(sid for sid, s in streams.items() if s.get("client_random"))
        # Every second connection loses its keys. A TLS 1.2 session resumed
        # from a keyed connection is decrypted with that connection's master
        # secret, so there the full handshake is the one that loses them.
        order = sorted(tls_ids, key=lambda sid: (not streams[sid]["resumed"], sid))
        drop = {streams[sid]["client_random"] for sid in order[1::2]}
        write_halfkeys(base + ".keys", base + "-halfkeys", drop)
        # the first full handshake's secrets, each with its last digit changed,
        # and those of the TLS 1.2 connections resuming a session: they have
        # its master secret
        first = min(sid for sid in tls_ids if not streams[sid]["resumed"])
        spoilt = {streams[sid]["client_random"] for sid in tls_ids if sid == first or
                  (streams[sid]["resumed"] and streams[sid]["version"] == T12)}
        write_badkeys(base + ".keys", base + "-badkeys", spoilt)
        drops.append((drop, spoilt))
    cat([b + "-halfkeys" for b in bases], os.path.join(work, "all.halfkeys"))
    halfkeyed = read_streams(allpcap, os.path.join(work, "all.halfkeys"))
    cat([b + "-badkeys" for b in bases], os.path.join(work, "all.badkeys"))
    badkeyed = read_streams(allpcap, os.path.join(work, "all.badkeys"))
    cut_ports = [write_midstream(b + ".pcap", b + "-midstream.pcap") for b in bases]
    allmid = os.path.join(work, "all-midstream.pcap")
    sh("mergecap", "-a", "-F", "pcap", "-w", allmid, *[b + "-midstream.pcap" for b in bases])
    midread = read_streams(allmid, os.path.join(work, "all.keys"))
    problems = []
    for (i, spec, steps), base, (drop, spoilt), cut in zip(results, bases, drops, cut_ports):
        streams = keyed.get(addr_of(i), {})
        with open(base + ".keys") as f:
            bad = check_scenario(spec, steps, streams, f.read())
        # with half the keys tshark reads exactly the keyed half; with one
        # connection's secrets wrong, all the others
        tls_ids = sorted(sid for sid, s in streams.items() if s.get("client_random"))
        for what, reading, without in (("half", halfkeyed, drop), ("bad", badkeyed, spoilt)):
            got = sorted(sid for sid, s in reading.get(addr_of(i), {}).items() if s["requests"])
            want = sorted(sid for sid in tls_ids if streams[sid]["client_random"] not in without)
            if got != want:
                bad.append("with the %s key log tshark decrypted streams %s, not %s" %
                           (what, got, want))
            for sid in tls_ids:
                streams[sid]["decrypted_with_%skeys" % what] = sid in got
        # without its first connection's handshake tshark reads all the others
        got = sorted(s["client_port"] for s in midread.get(addr_of(i), {}).values()
                     if s["requests"])
        want = sorted(streams[sid]["client_port"] for sid in tls_ids
                      if streams[sid]["client_port"] != cut)
        if got != want:
            bad.append("without the first handshake tshark decrypted ports %s, not %s" %
                       (got, want))
        for sid in tls_ids:
            streams[sid]["handshake_in_midstream"] = streams[sid]["client_port"] != cut
            streams[sid]["decrypted_in_midstream"] = streams[sid]["client_port"] in got
        if os.path.exists(base + "-dsb.pcapng"):
            os.unlink(base + "-dsb.pcapng")
        sh("editcap", "--inject-secrets", "tls," + base + ".keys", base + ".pcap",
           base + "-dsb.pcapng")
        write_late_dsb(base + ".pcap", base + ".keys", base + "-latedsb.pcapng")
        ref = build_reference(spec, i, steps, streams, drop, spoilt)
        with open(base + ".json", "w") as f:
            json.dump(ref, f, indent=1, sort_keys=True)
        problems += ["%s: %s" % (spec[0], b) for b in bad]
    return problems


def generate(out, names=None):
    """Build the lab, make every scenario's capture in OUTDIR, check it and
    write its outputs. Raises LabError with what went wrong."""
    why = prerequisites()
    if why:
        raise LabError(why)
    names = names or [s[0] for s in SCENARIOS]
    unknown = set(names) - {s[0] for s in SCENARIOS}
    if unknown:
        raise LabError("no such scenario: %s" % ", ".join(sorted(unknown)))
    os.makedirs(out, exist_ok=True)
    dev = device()
    remove_stale_namespaces()
    work = tempfile.mkdtemp(prefix="tlscap-", dir=out)
    ok = False
    try:
        cert, key = make_cert(work)
        www = make_docroot(work, SCENARIOS)
        with Lab(work) as lab:
            start_servers(lab, names, cert, key, www)
            results = []
            for i, spec in enumerate(SCENARIOS):
                if spec[0] in names:
                    for attempt in range(3):
                        try:
                            steps = run_scenario(lab, out, i, spec, dev)
                            break
                        except CaptureLoss:
                            if attempt == 2:
                                raise
                    results.append((i, spec, steps))
        problems = finish(out, work, results)
        if problems:
            raise LabError("the generated captures are not what was asked for:\n  " +
                           "\n  ".join(problems))
        with open(os.path.join(out, "manifest.json"), "w") as f:
            json.dump({"scenarios": [s[0] for s in SCENARIOS if s[0] in names],
                       "device_profile": DEVICE_PROFILE, "device_ip": DEV_IP,
                       "domain": DOMAIN}, f, indent=1)
        bad = self_check(out)
        if bad:
            raise LabError("self-check failed:\n  " + "\n  ".join(bad))
        ok = True
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            sys.stderr.write("tlscap: lab files kept in %s\n" % work)
    return [s[0] for s in SCENARIOS if s[0] in names]


def main(argv):
    if argv[:1] == ["--serve"]:
        return serve(argv[1:])
    if argv[:1] == ["--check"] and len(argv) == 2:
        bad = self_check(argv[1])
        for b in bad:
            print(b)
        print("tlscap: %s" % ("OK" if not bad else "%d problems" % len(bad)))
        return 1 if bad else 0
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[-2].strip(), file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    try:
        names = generate(argv[0], argv[1:])
    except LabError as e:
        print("tlscap: %s" % e, file=sys.stderr)
        return 1
    print("tlscap: %d scenarios in %s (%.1f s)" % (len(names), argv[0], time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
