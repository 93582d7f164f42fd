#!/usr/bin/python3
"""The device under test, for tests/live/run.py: run inside the device
namespace, it makes the traffic an app would make and prints what happened
as one JSON object, so the test can tell a broken lab from a broken capture.

Steps (each one argument, run in order):
  dns:NAME             ask the resolver for NAME's A record
  tls:NAME             resolve NAME, then TLS to it on 443 with SNI NAME and
                       one HTTP request inside
  tlsget:NAME:PATH     the same, the request for PATH
  http:NAME            resolve NAME, then a plain HTTP GET with Host: NAME
  s_client:NAME        resolve NAME, then `openssl s_client -servername NAME`
                       to it on 443, one HTTP request inside
  curl:NAME            resolve NAME, then `curl http://NAME/...` (--resolve
                       pins the address just looked up)
  flood:IP:PORT:N:S    N UDP datagrams to IP:PORT, stopping after S seconds
  tcp:IP:PORT          open a TCP connection and close it
  sleep:S              wait S seconds
The resolver is --resolver IP (default 192.168.77.1); --keylog FILE makes
the TLS steps append their session secrets to FILE (SSLKEYLOGFILE format)
as each handshake completes, the way an app built for a test lab does.
"""
import json
import random
import subprocess
import socket
import ssl
import struct
import sys
import time

RESOLVER = "192.168.77.1"
KEYLOG = None


def dns_query(name, timeout=3.0):
    """One A query over UDP; returns the first address or raises."""
    qid = random.randint(0, 0xFFFF)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode("ascii")
    q += b"\x00" + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        for _ in range(3):
            s.sendto(q, (RESOLVER, 53))
            try:
                resp, _ = s.recvfrom(4096)
            except socket.timeout:
                continue
            if len(resp) >= 12 and struct.unpack("!H", resp[:2])[0] == qid:
                return parse_a(resp)
        raise RuntimeError("no DNS answer for %s from %s" % (name, RESOLVER))
    finally:
        s.close()


def skip_name(buf, off):
    while True:
        n = buf[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def parse_a(buf):
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", buf[:12])
    if flags & 0x000F:
        raise RuntimeError("DNS rcode %d" % (flags & 0x000F))
    off = 12
    for _ in range(qd):
        off = skip_name(buf, off) + 4
    for _ in range(an):
        off = skip_name(buf, off)
        typ, _, _, rdlen = struct.unpack("!HHIH", buf[off:off + 10])
        off += 10
        if typ == 1 and rdlen == 4:
            return socket.inet_ntoa(buf[off:off + 4])
        off += rdlen
    raise RuntimeError("no A record in the answer")


def tls(name, path="/"):
    ip = dns_query(name)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if KEYLOG:
        ctx.keylog_filename = KEYLOG
    with socket.create_connection((ip, 443), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: " + name.encode() + b"\r\n\r\n")
            got = b""
            try:
                while len(got) < 65536:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (ssl.SSLError, OSError):
                pass
            return {"ip": ip, "version": s.version(), "bytes": len(got)}


def http(name):
    ip = dns_query(name)
    req = ("GET /sdk/v1/ping?app=e2e HTTP/1.1\r\nHost: %s\r\nUser-Agent: live-test\r\n"
           "Connection: close\r\n\r\n" % name).encode()
    with socket.create_connection((ip, 80), timeout=5) as s:
        s.sendall(req)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    status = got.split(b"\r\n", 1)[0].decode("latin-1")
    return {"ip": ip, "status": status}


def flood(ip, port, count, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * 1000
    sent = 0
    end = time.monotonic() + seconds
    try:
        while sent < count:
            try:
                s.sendto(payload, (ip, port))
                sent += 1
            except OSError:
                # a full socket buffer or an ICMP error reported back; the
                # burst only needs to be large, not exact
                pass
            if sent % 1000 == 0 and time.monotonic() > end:
                break
    finally:
        s.close()
    return {"sent": sent}


def s_client(name):
    ip = dns_query(name)
    p = subprocess.run(["openssl", "s_client", "-connect", "%s:443" % ip, "-servername", name,
                        "-quiet", "-ign_eof"],
                       input=b"GET / HTTP/1.0\r\nHost: " + name.encode() + b"\r\n\r\n",
                       capture_output=True, timeout=10)
    if not p.stdout:
        raise RuntimeError("s_client: %s" % p.stderr.decode("latin-1")[-300:])
    return {"ip": ip, "bytes": len(p.stdout)}


def curl(name):
    ip = dns_query(name)
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "5", "-o", "/dev/null", "-w",
                        "%{http_code}", "--resolve", "%s:80:%s" % (name, ip),
                        "http://%s/sdk/v1/ping?app=curl" % name],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        raise RuntimeError("curl exit %d: %s" % (p.returncode, p.stderr[-300:]))
    return {"ip": ip, "status": p.stdout}


def main(argv):
    global RESOLVER, KEYLOG
    out = []
    args = list(argv)
    while len(args) >= 2 and args[0] in ("--resolver", "--keylog"):
        if args[0] == "--resolver":
            RESOLVER = args[1]
        else:
            KEYLOG = args[1]
        args = args[2:]
    for step in args:
        kind, _, rest = step.partition(":")
        try:
            if kind == "dns":
                r = {"ip": dns_query(rest)}
            elif kind == "tls":
                r = tls(rest)
            elif kind == "tlsget":
                name, _, path = rest.partition(":")
                r = tls(name, path)
            elif kind == "http":
                r = http(rest)
            elif kind == "s_client":
                r = s_client(rest)
            elif kind == "curl":
                r = curl(rest)
            elif kind == "flood":
                ip, port, n, sec = rest.split(":")
                r = flood(ip, int(port), int(n), float(sec))
            elif kind == "tcp":
                ip, port = rest.split(":")
                socket.create_connection((ip, int(port)), timeout=5).close()
                r = {}
            elif kind == "sleep":
                time.sleep(float(rest))
                r = {}
            else:
                raise ValueError("unknown step " + step)
            r["ok"] = True
        except Exception as e:  # reported to the test, which decides
            r = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        r["step"] = step
        out.append(r)
    print(json.dumps(out))
    return 0 if all(r["ok"] for r in out) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
