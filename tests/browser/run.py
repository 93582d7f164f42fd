#!/usr/bin/python3
"""Browser test: report.html as a reader's browser shows it.

Writes a fresh demo report into a temporary directory, opens its report.html
from file:// in headless Chromium and, over the DevTools protocol, checks
that the page logs no error, asks for nothing outside file: and data:, names
every finding id and host of report.json in its rendered text, and prints to
a PDF on A4 paper in at most MAX_DEMO_PAGES pages. On the rendered page it
checks the findings at a glance, the glossary and plain words, the clause
each finding quotes, the names DNS flows asked for and the flow counts of
"Where the traffic went" against report.json. A second report, of the demo
audited for a device that is not in it (--device 10.9.9.9), must show an
amber INCONCLUSIVE badge with its reasons and no clean result. A screenshot of the top of the page (1200 px wide) is written to the temporary
directory, or to PATH with --screenshot PATH (docs/report-screenshot.png is
made that way; the report's generation time is on the page, so every run
gives different bytes). The work directory (report, PDF, screenshot) is
removed unless a check fails or --keep is given.

The DevTools client is the standard library only: Chromium listens on a
loopback port it picks (--remote-debugging-port=0) and announces it on
stderr; the WebSocket framing below covers what Chromium sends (text frames,
continuation, ping, close).

Usage: run.py [BUILD/flowaudit] [--screenshot PATH] [--keep]
Environment: CHROMIUM (default /usr/bin/chromium).
Last line: "browser: N passed, N failed, N skipped".
"""
import base64
import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = (1200, 1500)
SCREENSHOT_MAX = 500 * 1024
STEP_TIMEOUT = 30.0      # one DevTools command or event
START_TIMEOUT = 30.0     # Chromium announcing its DevTools port
AUDIT_TIMEOUT = 120.0
SETTLE = 1.0             # after load: late requests and console messages
MAX_DEMO_PAGES = 10      # A4 pages of the demo's print (8 findings)
ABSENT_DEVICE = "10.9.9.9"

# What the checks read off the rendered page, gathered in one evaluation.
PAGE_FACTS_JS = r"""(function(){
  function txt(e){return e?e.innerText.trim():null}
  function rows(sel){return Array.from(document.querySelectorAll(sel+' tr')).map(function(r){
    return Array.from(r.cells).map(function(c){return c.innerText.trim()})})}
  var body=document.body.cloneNode(true);
  body.querySelectorAll('#glossary, table.glossary').forEach(function(e){e.remove()});
  var badge=document.querySelector('.badge.verdict');
  var findings={};
  document.querySelectorAll('article.finding').forEach(function(a){
    findings[a.id.replace('finding-','')]={
      h3:txt(a.querySelector('h3')), quote:txt(a.querySelector('blockquote')),
      covers:txt(a.querySelector('.covers')),
      titles:Array.from(a.querySelectorAll('[title]')).map(function(e){
        return [e.getAttribute('title'),e.innerText.trim()]})}});
  var went=document.querySelector('#countries'), wentp=went?went.nextElementSibling:null;
  var chart=went?went.parentNode.querySelector('#countries ~ table'):null;
  return {
    badge: badge?{cls:badge.className,text:txt(badge),
      bg:getComputedStyle(badge).backgroundColor}:null,
    reasons: Array.from(document.querySelectorAll('ul.reasons li')).map(txt),
    reasons_follow_badge: !!(badge&&badge.parentNode.nextElementSibling&&
      badge.parentNode.nextElementSibling.matches('ul.reasons')),
    glance: rows('table.glance'),
    glance_before_details: (function(){var a=document.querySelector('#at-a-glance'),
      b=document.querySelector('#findings');return !!(a&&b&&
      (a.compareDocumentPosition(b)&Node.DOCUMENT_POSITION_FOLLOWING))})(),
    text_outside_glossary: body.innerText,
    glossary: rows('table.glossary'),
    findings: findings,
    devices: rows('#devices ~ section table'),
    went: txt(wentp),
    went_total: chart?Array.from(chart.querySelectorAll('tr.total th')).map(txt):null,
    findings_text: txt(document.querySelector('#findings')),
    headings: Array.from(document.querySelectorAll('h1,h2,h3')).map(txt)
  }})()"""


class Skip(Exception):
    pass


# ---------------------------------------------------------------- WebSocket

class WebSocket:
    """A client for one ws:// URL on loopback: text messages, no extensions."""

    def __init__(self, url, timeout):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "ws" or u.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise RuntimeError("refusing DevTools URL %r: not ws:// on loopback" % url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (path, u.hostname, u.port or 80, key))
        self.sock.sendall(req.encode())
        self.buf = b""
        head = self._read_until(b"\r\n\r\n", 16384)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise RuntimeError("DevTools WebSocket handshake refused: %r" % status)

    def _read_until(self, marker, limit):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise RuntimeError("WebSocket handshake reply too long")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("DevTools closed the connection during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise RuntimeError("DevTools closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self, timeout):
        """One whole text message, or None when the peer closed."""
        self.sock.settimeout(timeout)
        parts = []
        while True:
            b0, b1 = self._read_exact(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8))[0]
            if n > 256 * 1024 * 1024:
                raise RuntimeError("DevTools message of %d bytes is beyond any report" % n)
            mask = self._read_exact(4) if b1 & 0x80 else None
            data = self._read_exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                self._send_frame(0xA, data)
                continue
            if opcode == 0xA:
                continue
            parts.append(data)
            if fin:
                return b"".join(parts).decode("utf-8")

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


# ---------------------------------------------------------------- DevTools

class DevTools:
    """Commands on one page session; events are kept in arrival order."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.session = None
        self.events = []

    def _pump(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("DevTools: no answer in time")
        msg = self.ws.recv(left)
        if msg is None:
            raise RuntimeError("DevTools closed the connection")
        m = json.loads(msg)
        if "method" in m:
            self.events.append(m)
        return m

    def call(self, method, params=None, timeout=STEP_TIMEOUT, session=True):
        self.next_id += 1
        mid = self.next_id
        req = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            req["sessionId"] = self.session
        self.ws.send(json.dumps(req))
        deadline = time.monotonic() + timeout
        while True:
            m = self._pump(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"].get("message", m["error"])))
                return m.get("result", {})

    def wait_event(self, method, since=0, timeout=STEP_TIMEOUT):
        """The first event named method at or after index since."""
        deadline = time.monotonic() + timeout
        for e in self.events[since:]:
            if e["method"] == method:
                return e
        seen = len(self.events)
        while True:
            self._pump(deadline)
            for e in self.events[seen:]:
                if e["method"] == method:
                    return e
            seen = len(self.events)

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._pump(deadline)
        except (TimeoutError, socket.timeout):
            pass


def start_chromium(profile_dir):
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + profile_dir, "--remote-debugging-port=0",
            "--hide-scrollbars",
            "--remote-debugging-address=127.0.0.1",
            "--window-size=%d,%d" % VIEWPORT, "about:blank"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    lines = queue.Queue()

    def reader():
        # Keeps draining stderr for Chromium's whole life so it never blocks on a full pipe.
        for raw in proc.stderr:
            lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return proc, None, "no 'DevTools listening' line within %ds" % START_TIMEOUT
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            continue
        if line is None:
            return proc, None, "Chromium exited: " + " | ".join(seen[-5:])
        seen.append(line)
        m = re.search(r"DevTools listening on (ws://\S+)", line)
        if m:
            return proc, m.group(1), None


def stop_chromium(proc):
    if proc is None or proc.poll() is not None:
        return
    # Chromium was started in its own session: its group is its renderer,
    # GPU and zygote processes and nothing else.
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------- the visit

def make_report(binary, outdir, extra=(), ok=(0, 1)):
    args = [binary, "audit", "-r", "examples/demo.pcap", "-p", "policies/audio-extract-kit.json",
            "-e", "examples/demo-events.json", "-d", "examples/demo-device.json", "-o", outdir,
            "--quiet"] + list(extra)
    p = subprocess.run(args, cwd=TOP, capture_output=True, text=True, timeout=AUDIT_TIMEOUT)
    if ok is None:  # any exit status that is not bad input or a runtime failure
        ok = [c for c in range(0, 126) if c not in (2, 3)]
    if p.returncode not in ok:
        raise RuntimeError("flowaudit audit exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    with open(os.path.join(outdir, "report.json")) as f:
        return json.load(f)


def visit(ws_url, html_path, close=True):
    """Loads the page and gathers everything the checks look at; close=False
    leaves Chromium running for another visit."""
    ws = WebSocket(ws_url, STEP_TIMEOUT)
    dt = DevTools(ws)
    try:
        target = dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        dt.session = dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            dt.call(domain + ".enable")
        dt.call("Emulation.setDeviceMetricsOverride",
                {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False})
        url = "file://" + urllib.parse.quote(os.path.abspath(html_path))
        start = len(dt.events)
        nav = dt.call("Page.navigate", {"url": url})
        if nav.get("errorText"):
            raise RuntimeError("navigation failed: " + nav["errorText"])
        dt.wait_event("Page.loadEventFired", since=start)
        dt.drain(SETTLE)
        page = dt.events[start:]
        text = dt.call("Runtime.evaluate", {"expression": "document.body.innerText",
                                            "returnByValue": True})["result"].get("value", "")
        facts = dt.call("Runtime.evaluate", {"expression": PAGE_FACTS_JS,
                                             "returnByValue": True})["result"].get("value") or {}
        # The screenshot ends above the timeline when that falls inside the
        # viewport, so the picture stops at a section boundary.
        cut = dt.call("Runtime.evaluate", {
            "expression": "(function(){var e=document.getElementById('timeline');"
                          "return e?Math.floor(e.getBoundingClientRect().top):0})()",
            "returnByValue": True})["result"].get("value") or 0
        height = cut - 24 if VIEWPORT[1] // 2 < cut - 24 < VIEWPORT[1] else VIEWPORT[1]
        shot = base64.b64decode(dt.call("Page.captureScreenshot", {
            "format": "png",
            "clip": {"x": 0, "y": 0, "width": VIEWPORT[0], "height": height, "scale": 1}})["data"])
        pdf = base64.b64decode(dt.call("Page.printToPDF", {
            "paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True,
            "preferCSSPageSize": True}, timeout=60)["data"])
        if close:
            try:
                dt.call("Browser.close", session=False, timeout=5)
            except (RuntimeError, TimeoutError, OSError):
                pass
        return {"url": url, "events": page, "text": text, "facts": facts, "png": shot, "pdf": pdf}
    finally:
        ws.close()


# ---------------------------------------------------------------- checks

def outside_requests(events):
    bad = []
    for e in events:
        if e["method"] == "Network.requestWillBeSent":
            u = e["params"]["request"]["url"]
            if not (u.startswith("file:") or u.startswith("data:")):
                bad.append(u)
    return bad


def console_errors(events):
    bad = []
    for e in events:
        p = e["params"]
        if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            bad.append("console.%s: %s" % (p["type"], " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
        elif e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            bad.append("exception: %s" % d.get("exception", {}).get("description", d.get("text")))
        elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
            bad.append("log (%s): %s %s" % (p["entry"].get("source"), p["entry"].get("text"),
                                            p["entry"].get("url", "")))
    return bad


def pdf_pages(pdf):
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", pdf))


def pdf_is_a4(pdf):
    """True when every MediaBox is 595 x 842 pt, within a point."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", pdf)
    if not boxes:
        return None
    for b in boxes:
        x0, y0, x1, y1 = (float(v) for v in b)
        if abs((x1 - x0) - 595.3) > 1.5 or abs((y1 - y0) - 841.9) > 1.5:
            return False
    return True


def shrink_png(data):
    """A palette PNG when the screenshot is too big to commit; the page is flat colour."""
    if len(data) <= SCREENSHOT_MAX:
        return data
    try:
        from PIL import Image
    except ImportError:
        return data
    import io
    im = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    im.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def make_checks(ctx):
    rep, seen, tmp, shot_path = ctx["report"], ctx["seen"], ctx["tmp"], ctx["screenshot"]
    

    def test_no_network_requests():
        bad = outside_requests(seen["events"])
        assert not bad, "requests outside file:/data: %s" % bad
        loaded = [e for e in seen["events"] if e["method"] == "Network.requestWillBeSent"]
        assert loaded, "no Network.requestWillBeSent at all: the Network domain saw nothing"

    def test_no_console_errors():
        bad = console_errors(seen["events"])
        assert not bad, "\n  ".join(bad)

    def test_text_names_findings():
        text = seen["text"]
        assert rep["findings"], "the demo report has no findings to look for"
        missing = []
        for f in rep["findings"]:
            for v in (f["id"], f["host"]):
                if v not in text:
                    missing.append("%s %r" % (f["id"], v))
        verdict = rep["verdict"].upper()
        if verdict not in text:
            missing.append("verdict %s" % verdict)
        assert not missing, "not in the page text: %s" % ", ".join(missing)

    def test_screenshot():
        png = seen["png"]
        assert png[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG"
        w, h = struct.unpack("!II", png[16:24])
        assert w == VIEWPORT[0] and VIEWPORT[1] // 2 <= h <= VIEWPORT[1], \
            "screenshot is %dx%d, expected %d wide and at most %d high" % (w, h, *VIEWPORT)
        png = shrink_png(png)
        path = shot_path or os.path.join(tmp, "report-screenshot.png")
        with open(path, "wb") as f:
            f.write(png)
        print("  screenshot: %s, %d KB" % (os.path.basename(path) if path.startswith(tmp) else path,
                                           len(png) // 1024))
        assert len(png) <= SCREENSHOT_MAX, "screenshot is %d KB (limit %d KB)" % (
            len(png) // 1024, SCREENSHOT_MAX // 1024)

    facts = seen.get("facts") or {}

    def test_pdf_pages():
        pages = pdf_pages(seen["pdf"])
        n = len(rep["findings"])
        assert n == 8, "the demo has %d findings, this limit is for 8" % n
        assert pages <= MAX_DEMO_PAGES, "the demo prints on %d A4 pages, more than %d for %d findings" % (
            pages, MAX_DEMO_PAGES, n)

    def test_pdf_no_stranded_heading():
        tool = shutil.which("pdftotext")
        if tool is None:
            raise Skip("no pdftotext (apt-get install poppler-utils)")
        path = os.path.join(tmp, "report.pdf")
        with open(path, "wb") as f:
            f.write(seen["pdf"])
        heads = [" ".join(h.split()) for h in facts.get("headings") or []]
        assert len(heads) > len(rep["findings"]), "headings not found on the page: %r" % heads[:5]
        stranded = []
        for page in range(1, pdf_pages(seen["pdf"]) + 1):
            out = subprocess.run([tool, "-layout", "-f", str(page), "-l", str(page), path, "-"],
                                 capture_output=True, text=True, timeout=60).stdout
            lines = [" ".join(x.split()) for x in out.splitlines() if x.strip()]
            last = lines[-1].rstrip("-") if lines else ""
            if len(last) > 3 and any(h.startswith(last) for h in heads):
                stranded.append("page %d ends with %r" % (page, last))
        assert not stranded, "; ".join(stranded)

    def test_findings_at_a_glance():
        rows = facts.get("glance") or []
        assert rows, "no table.glance on the page"
        assert facts.get("glance_before_details"), "the findings at a glance come after the details"
        assert rows[0] == ["Finding", "Severity", "Rule", "Destination", "Country"], rows[0]
        body = rows[1:]
        assert len(body) == len(rep["findings"]), "%d rows for %d findings" % (len(body), len(rep["findings"]))
        names = {"US": "United States", "CN": "China"}
        for row, f in zip(body, rep["findings"]):
            assert row[0] == f["id"] and row[1] == f["severity"] and row[3] == f["host"], (row, f["id"])
            assert row[2] and row[2] != f["rule"], "rule %s not in plain words: %r" % (f["rule"], row[2])
            want = "%s (%s)" % (names[f["country"]], f["country"])
            assert row[4] == want, "%s: country %r, expected %r" % (f["id"], row[4], want)

    def test_glossary_and_plain_words():
        codes = {r[1] for r in facts.get("glossary") or [] if len(r) == 3}
        for c in ("first_party", "sdk", "unknown", "sni", "http_host", "high", "undeclared-recipient"):
            assert c in codes, "the glossary does not explain %s" % c
        text = facts.get("text_outside_glossary", "")
        # name sources and recipient kinds are words outside the glossary;
        # their codes stay in title attributes
        for code in ("sni", "http_host", "first_party"):
            used = [f for f in rep["findings"] if code in (f["name_source"], f["recipient"]["kind"])]
            assert used, "the demo has no finding with %s" % code
            for f in used:
                t = [x for x in facts["findings"][f["id"]]["titles"] if x[0] == code]
                assert t and t[0][1] and t[0][1] != code, "%s: %s not shown as a word: %r" % (f["id"], code, t)
        for word in ("sni", "http_host", "EN10MB"):
            for m in re.finditer(r"(?<![\w-])%s(?![\w-])" % word, text):
                ctx = text[max(0, m.start() - 30):m.end() + 10]
                assert word == "EN10MB" and "Ethernet (link type EN10MB)" in ctx, \
                    "internal word %r on the page outside the glossary: ...%s..." % (word, ctx)
        assert "What this audit cannot see" in text and "encrypted" in text, "no 'What this audit cannot see'"

    def test_clause_quotes():
        fs = facts.get("findings") or {}
        admob = [r["clause"] for r in rep["policy"]["recipients"] if r["sdk"] == "admob"][0]
        checked = 0
        for f in rep["findings"]:
            got = fs.get(f["id"])
            assert got is not None, "%s not on the page" % f["id"]
            if f["rule"] in ("undeclared-recipient", "unknown-endpoint"):
                assert f["clause"] == admob, "%s quotes %r, not the recipients' clause" % (f["id"], f["clause"])
                assert got["quote"] == admob, "%s: page quotes %r" % (f["id"], got["quote"])
                assert got["covers"] and "admob" in got["covers"], "%s: %r" % (f["id"], got["covers"])
                who = f["recipient"]["name"] or f["host"]
                assert who in got["covers"], "%s: %r does not name %s" % (f["id"], got["covers"], who)
                checked += 1
            if f["identifiers"]:
                for t in {x["type"] for x in f["identifiers"]}:
                    assert t in f["title"] and t in f["detail"], "%s names not %s: %r / %r" % (
                        f["id"], t, f["title"], f["detail"])
                    assert t in got["h3"], "%s heading lacks %s" % (f["id"], t)
                checked += 1
        assert checked >= 4, "only %d findings about recipients or identifiers in the demo" % checked

    def test_dns_names_and_counts():
        asked = [fl["dns_query"] for fl in rep["flows"] if fl.get("dns_query") and not fl.get("name")]
        assert asked, "the demo has no DNS flow"
        names = [r[2] for r in facts.get("devices") or [] if len(r) > 2]
        for q in asked:
            assert "asks for " + q in names, "DNS query %s not in the devices' flows: %r" % (q, names)
        s = rep["summary"]
        went = facts.get("went") or ""
        want = "Of the %d flows in the capture, %d were the devices': %d to public addresses" % (
            s["flows"], s["device_flows"], s["public_flows"])
        assert want in went, "%r not in %r" % (want, went)
        total = facts.get("went_total") or []
        charted = sum(r["flows"] for r in s["by_country"])
        assert len(total) >= 3 and total[-2] == str(s["public_flows"]) == str(charted), (total, charted)

    def test_inconclusive_badge():
        other = ctx.get("inconclusive")
        if other is None:
            raise Skip(ctx.get("inconclusive_why", "no inconclusive report"))
        f = other["facts"]
        b = f.get("badge") or {}
        assert b.get("text") == "INCONCLUSIVE" and "inconclusive" in b.get("cls", ""), b
        rgb = [int(v) for v in re.findall(r"\d+", b.get("bg", ""))[:3]]
        assert len(rgb) == 3 and rgb[0] > rgb[1] > rgb[2] and rgb[0] - rgb[2] > 100, \
            "badge colour %s is not amber" % b.get("bg")
        reasons = ctx["inconclusive_report"].get("verdict_reasons") or []
        assert reasons and f.get("reasons_follow_badge"), "no reasons under the badge"
        for r in reasons:
            assert any(r["text"] in li for li in f["reasons"]), "reason %r not listed" % r["text"]
        text = other["text"]
        assert "did not contradict the declarations" not in text, "a clean result under INCONCLUSIVE"

    def test_pdf_a4():
        pdf = seen["pdf"]
        path = os.path.join(tmp, "report.pdf")
        with open(path, "wb") as f:
            f.write(pdf)
        assert pdf.startswith(b"%PDF-"), "printToPDF did not return a PDF"
        pages = pdf_pages(pdf)
        print("  pdf: %d pages, %d KB" % (pages, len(pdf) // 1024))
        assert pages > 1 or len(pdf) > 10 * 1024, "PDF has %d page(s), %d bytes" % (pages, len(pdf))
        a4 = pdf_is_a4(pdf)
        assert a4 is not False, "PDF pages are not A4"

    return [(n, f) for n, f in sorted(locals().items()) if n.startswith("test_")]


# ---------------------------------------------------------------- harness

def main():
    argv = sys.argv[1:]
    shot_path = None
    if "--screenshot" in argv:
        i = argv.index("--screenshot")
        if i + 1 >= len(argv):
            print("usage: run.py [BUILD/flowaudit] [--screenshot PATH] [--keep]", file=sys.stderr)
            return 2
        shot_path = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    keep = "--keep" in argv
    argv = [a for a in argv if a != "--keep"]
    binary = os.path.abspath(argv[0] if argv else os.path.join(TOP, "build", "flowaudit"))
    names = ["test_clause_quotes", "test_dns_names_and_counts", "test_findings_at_a_glance",
             "test_glossary_and_plain_words", "test_inconclusive_badge", "test_no_console_errors",
             "test_no_network_requests", "test_pdf_a4", "test_pdf_no_stranded_heading",
             "test_pdf_pages", "test_screenshot",
             "test_text_names_findings"]
    passed = failed = skipped = 0

    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        for n in names:
            print("SKIP %s: no Chromium at %s (apt-get install chromium, or set CHROMIUM)" % (n, CHROMIUM))
        print("browser: 0 passed, 0 failed, %d skipped" % len(names))
        return 0

    tmp = tempfile.mkdtemp(prefix="flowaudit-browser-")
    proc = None
    seen = None
    setup_error = None
    try:
        try:
            rep = make_report(binary, os.path.join(tmp, "report"))
            absent = make_report(binary, os.path.join(tmp, "absent"), ["--device", ABSENT_DEVICE], ok=None)
            proc, ws_url, why = start_chromium(os.path.join(tmp, "profile"))
            if ws_url is None:
                raise RuntimeError("Chromium did not start: " + why)
            other = None
            if absent.get("verdict") == "inconclusive":
                other = visit(ws_url, os.path.join(tmp, "absent", "report.html"), close=False)
            seen = visit(ws_url, os.path.join(tmp, "report", "report.html"))
        except Exception as e:  # every check fails with the one reason
            setup_error = "%s: %s" % (type(e).__name__, e)
        finally:
            stop_chromium(proc)
        if setup_error:
            for n in names:
                print("FAIL %s: %s" % (n, setup_error))
            failed = len(names)
        else:
            ctx = {"report": rep, "seen": seen, "tmp": tmp, "screenshot": shot_path,
                   "inconclusive": other, "inconclusive_report": absent,
                   "inconclusive_why": "the demo audited with --device %s has verdict %r, not "
                   "'inconclusive': this flowaudit predates that verdict" % (ABSENT_DEVICE, absent.get("verdict"))}
            for name, fn in make_checks(ctx):
                try:
                    fn()
                    print("PASS %s" % name)
                    passed += 1
                except Skip as e:
                    print("SKIP %s: %s" % (name, e))
                    skipped += 1
                except AssertionError as e:
                    print("FAIL %s: %s" % (name, e))
                    failed += 1
    finally:
        stop_chromium(proc)
        if failed == 0 and not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("browser work files kept in %s" % tmp)
    print("browser: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
