#!/usr/bin/python3
"""Corpus tests: flowaudit on real captures written by others.

When ../shared/corpus is present (beside the project), this checks
  - every capture of the corpus (any file named .pcap/.pcapng/.cap or starting
    with a pcap/pcapng magic number) goes through both `flows --json` and
    `audit` under the ASan/UBSan build with no sanitizer report and no crash;
    a refused file is one libpcap cannot open, refused with one line that
    names it and says why; a file libpcap reads only part of says how far
    reading got; every frame libpcap reads is counted. Captures libpcap opens
    are run 8 to a process, and a failing run is repeated file by file
    (test_every_capture_survives);
  - naming agreement with tshark: for every TCP/UDP flow where tshark sees a
    TLS/QUIC SNI or an HTTP Host, `flowaudit flows --json` gives that name
    (at least 99%, and every disagreement is one of the documented ones of
    docs/architecture.md, "Naming against tshark") (test_tshark_agreement);
  - every pcapng whose packet count MANIFEST.tsv knows: flowaudit reads as
    many frames as tshark (test_pcapng_frames_like_tshark);
  - the SDK hosts of the real app captures are attributed to the right
    signature, and the hosts that stay unknown are the committed list
    tests/corpus/expected_unknown.txt (test_sdk_attribution).
Without the corpus every test is skipped with a message.

Usage: run.py BUILD/flowaudit [FILTER]
  FLOWAUDIT_CORPUS=DIR          another corpus
  FLOWAUDIT_CORPUS_UPDATE=1     rewrite tests/corpus/expected_unknown.txt
  FLOWAUDIT_CORPUS_TSHARK_ALL=1 run tshark on every capture, not only those
                                MANIFEST.tsv says carry an SNI or Host
  FLOWAUDIT_CORPUS_NO_CACHE=1   ignore BUILD/corpus-tshark-cache.json
Last line: "corpus: N passed, N failed, N skipped".
"""
import concurrent.futures
import ctypes
import ctypes.util
import ipaddress
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.environ.get("FLOWAUDIT_CORPUS", os.path.join(os.path.dirname(TOP), "shared", "corpus"))
SIGS = os.path.join(TOP, "signatures")
POLICY = os.path.join(TOP, "tests", "e2e", "fixtures", "policy.json")
EXPECTED_UNKNOWN = os.path.join(HERE, "expected_unknown.txt")
BIN = None
WORK = None
JOBS = 2
CAP_EXT = (".pcap", ".pcapng", ".cap")
PCAP_MAGICS = {bytes.fromhex(m) for m in (
    "d4c3b2a1", "a1b2c3d4",   # pcap, microseconds
    "4d3cb2a1", "a1b23c4d",   # pcap, nanoseconds
    "34cdb2a1", "a1b2cd34",   # pcap, Kuznetsov's patched format
    "0a0d0d0a")}              # pcapng section header block
TIMEOUT = 600

# Sanitizer reports must reach stderr whole; a user's own settings win.
ENV = dict(os.environ)
ENV.setdefault("ASAN_OPTIONS", "detect_leaks=1")
ENV.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")


class Skip(Exception):
    pass


def rel(path):
    return os.path.relpath(path, CORPUS)


def is_pcapng(r):
    """Whether a capture of the corpus is pcapng (by its first block, whatever its name)."""
    with open(os.path.join(CORPUS, r), "rb") as fh:
        return fh.read(4) == bytes.fromhex("0a0d0d0a")


# ---------------------------------------------------------------- the corpus

def capture_files():
    """Every capture under the corpus, as paths relative to it, biggest first."""
    out = []
    for dp, dirs, files in os.walk(CORPUS):
        dirs.sort()
        for f in files:
            p = os.path.join(dp, f)
            if not os.path.isfile(p):
                continue
            if not f.endswith(CAP_EXT):
                with open(p, "rb") as fh:
                    if fh.read(4) not in PCAP_MAGICS:
                        continue
            out.append(rel(p))
    return sorted(out, key=lambda r: (-os.path.getsize(os.path.join(CORPUS, r)), r))


_MANIFEST = None


def manifest():
    """MANIFEST.tsv rows by path: packets (as tshark 4.0 counted them) and notes."""
    global _MANIFEST
    if _MANIFEST is None:
        _MANIFEST = {}
        try:
            with open(os.path.join(CORPUS, "MANIFEST.tsv"), encoding="utf-8", errors="replace") as fh:
                head = fh.readline().rstrip("\n").split("\t")
                for line in fh:
                    row = dict(zip(head, line.rstrip("\n").split("\t")))
                    _MANIFEST[row.get("path", "")] = row
        except OSError:
            pass
    return _MANIFEST


# ---------------------------------------------------------------- libpcap itself

class _Hdr(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long),
                ("caplen", ctypes.c_uint32), ("len", ctypes.c_uint32)]


_LIBPCAP = None


def _libpcap():
    global _LIBPCAP
    if _LIBPCAP is None:
        _LIBPCAP = False
        name = ctypes.util.find_library("pcap")
        for cand in ([name] if name else []) + ["libpcap.so.1", "libpcap.so.0.8", "libpcap.so"]:
            try:
                lib = ctypes.CDLL(cand)
            except OSError:
                continue
            lib.pcap_open_offline.restype = ctypes.c_void_p
            lib.pcap_open_offline.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
            lib.pcap_next_ex.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(_Hdr)),
                                         ctypes.POINTER(ctypes.c_void_p)]
            lib.pcap_geterr.restype = ctypes.c_char_p
            lib.pcap_geterr.argtypes = [ctypes.c_void_p]
            lib.pcap_close.argtypes = [ctypes.c_void_p]
            _LIBPCAP = lib
            break
    return _LIBPCAP


def libpcap_read(path):
    """What libpcap (the reader under flowaudit and tcpdump) makes of a file:
    {"open_error": str|None, "frames": N, "error": str|None (reading stopped)}."""
    lib = _libpcap()
    if not lib:  # no libpcap for ctypes: ask tcpdump, which is libpcap too
        p = subprocess.run(["tcpdump", "-n", "-r", path, "-w", "/dev/null"], capture_output=True,
                           text=True, errors="replace", timeout=TIMEOUT)
        err = p.stderr.strip().splitlines()
        if p.returncode != 0 and not any("truncated" in l or "invalid" in l for l in err):
            return {"open_error": err[-1] if err else "tcpdump failed", "frames": 0, "error": None}
        return {"open_error": None, "frames": None,
                "error": err[-1] if p.returncode != 0 and err else None}
    ebuf = ctypes.create_string_buffer(512)
    h = lib.pcap_open_offline(path.encode(), ebuf)
    if not h:
        return {"open_error": ebuf.value.decode(errors="replace"), "frames": 0, "error": None}
    hdr = ctypes.POINTER(_Hdr)()
    data = ctypes.c_void_p()
    frames, error = 0, None
    while True:
        rc = lib.pcap_next_ex(h, ctypes.byref(hdr), ctypes.byref(data))
        if rc == 1:
            frames += 1
            continue
        if rc == -1:
            error = lib.pcap_geterr(h).decode(errors="replace")
        break
    lib.pcap_close(h)
    return {"open_error": None, "frames": frames, "error": error}


def tshark_frames(path, limit=None):
    """Frames tshark (Wireshark's own reader, not libpcap) reads from a file."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.number"]
    if limit:
        cmd += ["-c", str(limit)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT)
    except FileNotFoundError:
        return None
    return sum(1 for l in p.stdout.splitlines() if l.strip())


# ---------------------------------------------------------------- flowaudit

def run(cmd):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT,
                       cwd=TOP, env=ENV)
    return p.returncode, p.stdout, p.stderr, time.time() - t


def crashed(rc, err):
    # 0-3, and 4: an audit that could not look at all it was given
    return rc < 0 or rc > 4 or "runtime error:" in err or "Sanitizer" in err


def shell(cmd):
    return " ".join("'%s'" % c if re.search(r"[^\w@%+=:,./-]", c) else c for c in cmd)


_FLOWS = {}   # relpath -> (rc, flows list | ValueError | None, stderr)
_KEEP_FLOWS = ("ndpi/pcap/", "mobile/")   # the naming tests read these


def flows_cmd(rels):
    cmd = [BIN, "flows"]
    for r in rels:
        cmd += ["-r", os.path.join(CORPUS, r)]
    return cmd + ["--json", "--no-geo", "--quiet", "-s", SIGS]


def flows_job(rels):
    """flows --json over one capture or a batch: {rc, err, flows, cmd, rels, secs}."""
    cmd = flows_cmd(rels)
    rc, out, err, secs = run(cmd)
    parsed = None
    if rc == 0:
        try:
            parsed = json.loads(out)
        except ValueError as e:
            parsed = e
    res = {"kind": "flows", "rc": rc, "err": err, "data": parsed, "cmd": cmd, "rels": rels, "secs": secs}
    if len(rels) == 1:
        r = rels[0]
        keep = parsed if r.startswith(_KEEP_FLOWS) or not isinstance(parsed, list) else []
        _FLOWS[r] = (rc, keep, err)
    return res


def flows_of(rels, extra=()):
    """flows --json of each capture (cached), the missing ones run in the pool
    together with the callables in extra; returns extra's results."""
    todo = [r for r in rels if r not in _FLOWS]
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as ex:
        futs = [ex.submit(flows_job, [r]) for r in todo]
        efuts = [ex.submit(fn) for fn in extra]
        for f in futs:
            f.result()
        return [f.result() for f in efuts]


_GEO = None


def geo_args():
    """The e2e test's tiny country and ASN databases (so audit locates and
    applies cross_border), or --no-geo when they cannot be built."""
    global _GEO
    if _GEO is None:
        script = os.path.join(TOP, "scripts", "mkmmdb.pl")
        fix = os.path.join(TOP, "tests", "e2e", "fixtures")
        geo, asn = os.path.join(WORK, "country.mmdb"), os.path.join(WORK, "asn.mmdb")
        try:
            ok = all(subprocess.run(["perl", script, kind, dst, os.path.join(fix, src)],
                                    capture_output=True, timeout=120).returncode == 0
                     for kind, src, dst in (("country", "e2e-country.txt", geo),
                                            ("asn", "e2e-asn.txt", asn)))
        except (OSError, subprocess.SubprocessError):
            ok = False
        _GEO = ["-g", geo, "--asn", asn] if ok else ["--no-geo"]
        if not ok:
            print("note: scripts/mkmmdb.pl failed; audit runs with --no-geo")
    return _GEO


_AUDIT_N = itertools.count(1)


def audit_job(rels):
    """audit (every output format) over one capture or a batch:
    {rc, err, data: report.json inputs.captures by path, cmd, rels, secs}."""
    out = os.path.join(WORK, "audit-%d" % next(_AUDIT_N))
    cmd = [BIN, "audit"]
    for r in rels:
        cmd += ["-r", os.path.join(CORPUS, r)]
    cmd += ["-p", POLICY, "-s", SIGS, "--quiet", "-o", out] + geo_args()
    rc, _, err, secs = run(cmd)
    captures = None
    if rc in (0, 1, 4):
        try:
            with open(os.path.join(out, "report.json"), encoding="utf-8") as fh:
                captures = {c["path"]: c for c in json.load(fh)["inputs"]["captures"]}
        except (OSError, ValueError, KeyError, TypeError) as e:
            captures = ValueError("no readable report.json: %s" % e)
    shutil.rmtree(out, ignore_errors=True)
    return {"kind": "audit", "rc": rc, "err": err, "data": captures, "cmd": cmd, "rels": rels, "secs": secs}


def job_trouble(res):
    """Why a flows/audit run went wrong as a whole, or None."""
    rc, err = res["rc"], res["err"]
    # audit: 4 is an inconclusive report (no device traffic, a file cut short...)
    ok = (0, 2) if res["kind"] == "flows" else (0, 1, 2, 4)
    if crashed(rc, err):
        return "%s crashed or a sanitizer reported (exit %d):\n%s" % (res["kind"], rc, err[-3000:].rstrip())
    if rc not in ok:
        return "%s exit %d:\n%s" % (res["kind"], rc, err[-600:].rstrip())
    if rc != 2 and isinstance(res["data"], ValueError):
        return "%s: %s" % (res["kind"], res["data"])
    return None


def batches(rels, max_files=8, max_bytes=1 << 20):
    """Captures grouped for one run each: at most max_files, about max_bytes."""
    out, cur, size = [], [], 0
    for r in rels:
        n = os.path.getsize(os.path.join(CORPUS, r))
        if cur and (len(cur) >= max_files or size + n > max_bytes):
            out.append(cur)
            cur, size = [], 0
        cur.append(r)
        size += n
    return out + ([cur] if cur else [])


# ---------------------------------------------------------------- every capture survives

# Files flowaudit may refuse (exit 2) although tshark reads packets from them.
# Each needs the reason; flowaudit reads classic pcap through libpcap, as tcpdump does.
REFUSAL_ALLOWLIST = {
    # pcap header version 2.5: libpcap (and so tcpdump and flowaudit) rejects
    # every major.minor but 2.4; Wireshark's own reader accepts it and shows
    # its one packet. libpcap's own test case for that rejection.
    "edge/libpcap/pcap/pcap-invalid-version-2.pcap":
        "libpcap rejects pcap version 2.5; only Wireshark's reader accepts it",
}

STOPPED = re.compile(r"read stopped after frame (\d+)")


def _refusal_problems(r, lib, ferr, aerr):
    path = os.path.join(CORPUS, r)
    out = []
    for cmd, err in (("flows", ferr), ("audit", aerr)):
        lines = [l for l in err.splitlines() if l.strip()]
        if len(lines) != 1:
            out.append("%s refused it with %d lines of stderr, not one: %r" % (cmd, len(lines), err[-400:]))
            continue
        line = lines[0]
        if os.path.basename(path) not in line:
            out.append("%s's refusal does not name the file: %r" % (cmd, line))
            continue
        tail = line.split(os.path.basename(path), 1)[1].lstrip(":").strip()
        tail = re.sub(r"^cannot read capture:?\s*", "", tail)
        if len(re.findall(r"[A-Za-z]{2,}", tail)) < 2:
            out.append("%s's refusal gives no reason and nothing to do: %r" % (cmd, line))
    # a file that holds no frame is refused: there is nothing to audit
    if lib["open_error"] is None and lib["frames"] != 0:
        out.append("libpcap opens it (%s frames) but flowaudit refuses it" % lib["frames"])
    if tshark_frames(path, limit=1) and r not in REFUSAL_ALLOWLIST:
        out.append("tshark reads packets from it but flowaudit refuses it; fix it, or add it to "
                   "REFUSAL_ALLOWLIST with the reason")
    return out


def _accepted_problems(r, lib, ferr, aerr, cap):
    """A file both commands read: every frame counted, a cut-short file said so.
    ferr/aerr are the stderr lines that name this file."""
    path = os.path.join(CORPUS, r)
    if not isinstance(cap, dict):
        return ["report.json has no inputs.captures entry for it"]
    out = []
    packets = cap.get("packets")
    stops = {}
    for cmd, lines in (("flows", ferr), ("audit", aerr)):
        for line in lines:
            m = STOPPED.search(line)
            if m:
                stops[cmd] = int(m.group(1))
    if len(stops) == 1:
        out.append("only %s says where reading stopped" % list(stops)[0])
    for cmd, n in sorted(stops.items()):
        if n != packets:
            out.append("%s says 'read stopped after frame %d' but report.json counts %s packets"
                       % (cmd, n, packets))
    if stops and (not cap.get("error") or not STOPPED.search(cap["error"])):
        out.append("report.json inputs.captures[].error does not say where reading stopped: %r"
                   % cap.get("error"))
    if is_pcapng(r):
        return out  # flowaudit's own reader, held to tshark by test_pcapng_frames_like_tshark
    if lib["open_error"] is not None:
        print("  note: %s: libpcap cannot open it (%s); flowaudit read %s packets"
              % (r, lib["open_error"], packets))
    elif lib["error"] is not None:
        # libpcap stops part way: flowaudit must say how far it got, unless
        # its own reader of Kuznetsov's patched pcap read the whole file
        # (then it reads what tshark reads).
        if stops:
            if lib["frames"] is not None and packets != lib["frames"]:
                out.append("libpcap reads %d frames, flowaudit stopped after %s" % (lib["frames"], packets))
        else:
            ts = tshark_frames(path)
            if not (lib["frames"] is not None and packets is not None and lib["frames"] < packets == ts):
                out.append("libpcap stops after frame %s (%s); flowaudit read %s packets and did not "
                           "say where reading stopped (tshark reads %s)"
                           % (lib["frames"], lib["error"], packets, ts))
    elif stops:
        out.append("flowaudit says reading stopped, libpcap reads the whole file (%s frames)" % lib["frames"])
    elif lib["frames"] is not None and packets != lib["frames"]:
        out.append("libpcap reads %d frames, report.json counts %s" % (lib["frames"], packets))
    return out


def _lines_naming(err, r):
    path = os.path.join(CORPUS, r)
    return [l for l in err.splitlines() if path in l]


def test_every_capture_survives():
    """Every capture through flows --json and audit (ASan/UBSan): no crash, sane refusals.

    To keep the suite within a few minutes on two cores (an ASan run costs
    ~0.1 s before the first packet), captures libpcap opens are audited 8 to a
    run (`audit -r A -r B ...`, every report format), and those outside
    ndpi/pcap and mobile (which the naming tests need one by one) go through
    `flows` 8 to a run too; per-file results come from the lines and the
    report.json entries that name the file. A run that fails is repeated one
    capture at a time, so the failure is pinned on a file (and a failure seen
    only in the batch is reported as such). Captures libpcap cannot open are
    run alone, since flowaudit must refuse them."""
    files = capture_files()
    if not files:
        raise Skip("no captures in %s" % CORPUS)
    geo_args()
    t0 = time.time()
    lib = {r: libpcap_read(os.path.join(CORPUS, r)) for r in files}
    alone = [r for r in files if lib[r]["open_error"] is not None]
    opens = [r for r in files if lib[r]["open_error"] is None]
    jobs = [(flows_job, [r]) for r in files if r.startswith(_KEEP_FLOWS) or r in alone]
    jobs += [(flows_job, b) for b in batches([r for r in opens if not r.startswith(_KEEP_FLOWS)])]
    jobs += [(audit_job, [r]) for r in alone]
    jobs += [(audit_job, b) for b in batches(opens)]
    # biggest first, so that no core idles at the end
    jobs.sort(key=lambda j: -sum(os.path.getsize(os.path.join(CORPUS, r)) for r in j[1]))
    cover = {"flows": {}, "audit": {}}   # kind -> relpath -> the run that covers it
    batch_only = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as ex:
        results = list(ex.map(lambda j: j[0](j[1]), jobs))
        retry = [res for res in results if len(res["rels"]) > 1 and
                 (job_trouble(res) or res["rc"] == 2)]
        singles = {}
        rfuts = [(res, [ex.submit(flows_job if res["kind"] == "flows" else audit_job, [r])
                        for r in res["rels"]]) for res in retry]
        for res, futs in rfuts:
            subs = [f.result() for f in futs]
            for s in subs:
                singles[(s["kind"], s["rels"][0])] = s
            if not any(job_trouble(s) or s["rc"] == 2 for s in subs):
                batch_only.append(res)
    nruns = len(results) + len(singles)
    for res in results:
        for r in res["rels"]:
            cover[res["kind"]][r] = singles.get((res["kind"], r), res)
    bad = []
    refused = truncated = 0
    for res in batch_only:
        bad.append((", ".join(res["rels"]), ["fails only when run together, not one by one: %s\n%s"
                                             % (shell(res["cmd"]), job_trouble(res) or res["err"][-600:])]))
    for r in files:
        fr, ar = cover["flows"][r], cover["audit"][r]
        problems = []
        for res in (fr, ar):
            t = job_trouble(res)
            if t:
                problems.append(t + "\n  reproduce: " + shell(res["cmd"]))
        if not problems and (fr["rc"] == 2) != (ar["rc"] == 2):
            problems.append("flows exit %d but audit exit %d:\n%s\n%s"
                            % (fr["rc"], ar["rc"], fr["err"][-300:], ar["err"][-300:]))
        if not problems and fr["rc"] == 2:
            refused += 1
            problems += _refusal_problems(r, lib[r], fr["err"], ar["err"])
        elif not problems:
            ferr, aerr = _lines_naming(fr["err"], r), _lines_naming(ar["err"], r)
            cap = ar["data"].get(os.path.join(CORPUS, r)) if isinstance(ar["data"], dict) else None
            problems += _accepted_problems(r, lib[r], ferr, aerr, cap)
            truncated += any(STOPPED.search(l) for l in ferr)
        if problems:
            bad.append((r, problems))
    for r in sorted(set(REFUSAL_ALLOWLIST) - {r for r in files if cover["flows"][r]["rc"] == 2}):
        print("  note: REFUSAL_ALLOWLIST names %s, which flowaudit no longer refuses (or is gone)" % r)
    print("%d captures through flows and audit (%d runs) in %.0fs: %d refused with one line, "
          "%d cut short and said where" % (len(files), nruns, time.time() - t0, refused, truncated))
    for res in sorted(results, key=lambda x: -x["secs"])[:3]:
        print("  slowest: %s of %d capture(s) from %s, %.1fs" % (res["kind"], len(res["rels"]),
                                                                 res["rels"][0], res["secs"]))
    for r, problems in bad:
        print("  %s:" % r)
        for p in problems:
            print("    " + p.replace("\n", "\n      "))
    assert not bad, "%d of %d captures crashed or misbehaved" % (len(bad), len(files))


# ---------------------------------------------------------------- pcapng frames against tshark

def flowaudit_frames(r):
    """(frames flowaudit reads from one capture, its stderr)."""
    cmd = [BIN, "flows", "-r", os.path.join(CORPUS, r), "--no-geo", "-s", SIGS]
    rc, out, err, _ = run(cmd)
    m = re.search(r"^(\d+) frames", out, re.M)
    if rc == 2 and "holds no frame" in err:
        return 0, err, rc   # refused for having no frame: it read none
    return (int(m.group(1)) if rc == 0 and m else None), err, rc


def test_pcapng_frames_like_tshark():
    """Every pcapng of the corpus whose packet count MANIFEST.tsv knows:
    flowaudit reads as many frames as tshark (`tshark -r FILE -T fields -e
    frame.number | wc -l`). flowaudit reads pcapng with its own reader, and
    evidence and reports cite frames by tshark's numbers, so the counts must
    agree file by file."""
    files = [r for r in capture_files() if is_pcapng(r)]
    if not files:
        raise Skip("no pcapng captures in %s" % CORPUS)
    if shutil.which("tshark") is None:
        raise Skip("tshark is not installed")
    known = [r for r in files if manifest().get(r, {}).get("packets", "").isdigit()]
    t0 = time.time()
    ts, cached = tshark_cached(known, "frames", tshark_frames, lambda n: n, lambda n: n,
                               extra=False)
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as ex:
        ours = dict(zip(known, ex.map(flowaudit_frames, known)))
    bad = []
    for r in known:
        n, err, rc = ours[r]
        if crashed(rc, err):
            bad.append("%s: flows crashed (exit %d): %s" % (r, rc, err[-600:]))
        elif n != ts[r]:
            bad.append("%s: flowaudit reads %s frames, tshark %s (MANIFEST.tsv %s)%s"
                       % (r, n, ts[r], manifest()[r]["packets"],
                          ": " + err.strip()[-300:] if err.strip() else ""))
    print("%d pcapng captures (%d with a packet count in MANIFEST.tsv): %d frame counts as "
          "tshark's, %d differ (%d tshark answers from %s) in %.0fs"
          % (len(files), len(known), len(known) - len(bad), len(bad), cached,
             os.path.basename(tshark_cache_path("frames")), time.time() - t0))
    for b in bad:
        print("  " + b)
    assert not bad, "%d of %d pcapng captures are counted differently from tshark" % (
        len(bad), len(known))


# ---------------------------------------------------------------- naming against tshark

def norm(name):
    name = (name or "").strip().lower().rstrip(".")
    if name.startswith("[") and "]" in name:
        return name[1:name.index("]")]
    if name.count(":") == 1:
        name = name.split(":")[0]
    return name


def is_ip_literal(name):
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
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT)
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


_TSHARK_CACHE_FORMAT = 1   # bump when tshark_names() or tshark_frames() asks for something else


def tshark_cache_path(what="names"):
    name = "corpus-tshark-cache.json" if what == "names" else "corpus-tshark-%s.json" % what
    return os.path.join(os.path.dirname(BIN), name)


def tshark_cached(rels, what, compute, encode, decode, extra=True):
    """compute(path) of each capture, in the pool. tshark is the oracle, not
    the thing under test, and the corpus is read-only, so its answers are kept
    beside the binary (BUILD/corpus-tshark-cache.json for names,
    corpus-tshark-WHAT.json otherwise, keyed by tshark's version and each
    file's size and mtime); FLOWAUDIT_CORPUS_NO_CACHE=1 ignores them. With
    extra, the flows --json runs of the captures missing from _FLOWS share
    the pool. Returns ({rel: answer}, how many came from the cache)."""
    try:
        ver = subprocess.run(["tshark", "--version"], capture_output=True, text=True,
                             timeout=60).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        ver = "?"
    key = "%d %s" % (_TSHARK_CACHE_FORMAT, ver)
    cache = {}
    if not os.environ.get("FLOWAUDIT_CORPUS_NO_CACHE"):
        try:
            with open(tshark_cache_path(what), encoding="utf-8") as fh:
                c = json.load(fh)
            if c.get("key") == key:
                cache = c.get("files", {})
        except (OSError, ValueError, AttributeError):
            pass

    def stamp(r):
        st = os.stat(os.path.join(CORPUS, r))
        return [st.st_size, st.st_mtime_ns]

    out, todo = {}, []
    for r in rels:
        hit = cache.get(r)
        if hit and hit.get("stamp") == stamp(r):
            out[r] = decode(hit[what])
        else:
            todo.append(r)
    jobs = [(lambda r=r: (r, compute(os.path.join(CORPUS, r)))) for r in todo]
    if extra:
        done = flows_of(rels, jobs)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as ex:
            done = list(ex.map(lambda j: j(), jobs))
    for r, answer in done:
        out[r] = answer
        cache[r] = {"stamp": stamp(r), what: encode(answer)}
    if todo:
        try:
            tmp = tshark_cache_path(what) + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "files": cache}, fh)
            os.replace(tmp, tshark_cache_path(what))
        except OSError:
            pass
    return out, len(rels) - len(todo)


def tshark_names_cached(rels):
    """tshark_names() of each capture (cached), with the missing flows runs."""
    return tshark_cached(
        rels, "names", tshark_names,
        lambda names: [[list(k), n] for k, n in sorted(names.items())],
        lambda rows: {tuple(k[:1]) + (k[1], int(k[2]), k[3], int(k[4])): n for k, n in rows})


def names_nothing(r):
    """MANIFEST.tsv (written with tshark 4.0) says tshark sees no SNI and no Host."""
    row = manifest().get(r)
    if row is None or os.environ.get("FLOWAUDIT_CORPUS_TSHARK_ALL"):
        return False
    return re.search(r"SNI\(tls\)=0 SNI\(quic\)=0 HTTP-host=0\b", row.get("notes", "")) is not None


# The disagreements docs/architecture.md ("Naming against tshark") documents,
# by capture, flow (as tshark keys it) and tshark's name. Any other
# disagreement fails the test; one of these that now agrees is reported.
KNOWN_DISAGREEMENTS = {
    ("ndpi/pcap/capwap_data.pcapng", ("tcp", "10.1.3.68", 47025, "74.125.130.188", 443), "alt2-mtalk.google.com"):
        "TCP inside CAPWAP data frames (802.11 in UDP 5247), which flowaudit does not open",
    ("ndpi/pcap/rdp2.pcap", ("udp", "192.168.122.181", 54759, "192.168.122.2", 3389),
     "win-8qso0d3okbi.hardening.com"):
        "TLS inside RDP-UDP, which neither nDPI 4.2 nor flowaudit parses",
    ("ndpi/pcap/fuzz-2006-09-29-28586.pcap", ("tcp", "172.20.3.13", 53132, "172.20.3.5", 80), "%s"):
        "fuzzed capture whose Host header is garbage; tshark and flowaudit cut it differently",
}


def test_tshark_agreement():
    files = [r for r in capture_files() if r.startswith(("ndpi/pcap/", "mobile/"))]
    if not files:
        raise Skip("no ndpi/pcap or mobile captures in %s" % CORPUS)
    asked = [r for r in files if not names_nothing(r)]
    if shutil.which("tshark") is None:
        raise Skip("tshark is not installed")
    t0 = time.time()
    ts_by_file, cached = tshark_names_cached(asked)
    total = agree = 0
    new, known, fixed = [], [], []
    seen_known = set()
    for r in asked:
        ts = ts_by_file[r]
        if not ts:
            continue
        rc, fl, err = _FLOWS[r]
        ours = {}
        for f in (fl if isinstance(fl, list) else []):
            k = (f["transport"], f["client_ip"], f["client_port"], f["server_ip"], f["server_port"])
            # a 5-tuple reused by a later connection: keep the one with a name
            for kk in (k, (k[0], k[3], k[4], k[1], k[2])):
                if kk not in ours or not ours[kk]["name"]:
                    ours[kk] = f
        for key, name in ts.items():
            total += 1
            f = ours.get(key)
            got = norm(f["name"]) if f and f["name"] else None
            kid = (r, key, name)
            if got == name:
                agree += 1
                if kid in KNOWN_DISAGREEMENTS:
                    fixed.append(kid)
                    seen_known.add(kid)
                continue
            d = (r, key, name, got, f["name_source"] if f else "no flow (flows exit %d)" % rc)
            if kid in KNOWN_DISAGREEMENTS:
                known.append(d)
                seen_known.add(kid)
            else:
                new.append(d)
    rate = 100.0 * agree / total if total else 100.0
    print("tshark agreement: %d/%d flows (%.2f%%) in %d captures (%d with no SNI or Host per "
          "MANIFEST.tsv left out; tshark's answers for %d from %s), %.0fs"
          % (agree, total, rate, len(asked), len(files) - len(asked), cached,
             os.path.basename(tshark_cache_path()), time.time() - t0))
    for d in known:
        print("  known disagreement: %s %s tshark=%s flowaudit=%s (%s): " % d
              + KNOWN_DISAGREEMENTS[d[:3]])
    for kid in fixed:
        print("  NOW AGREES (drop it from KNOWN_DISAGREEMENTS and docs/architecture.md): %s %s %s" % kid)
    for kid in sorted(set(KNOWN_DISAGREEMENTS) - seen_known, key=str):
        print("  note: known disagreement not seen any more (capture or flow gone?): %s %s %s" % kid)
    for d in new:
        print("  NEW disagreement: %s %s tshark=%s flowaudit=%s (%s)" % d)
    assert rate >= 99.0, "agreement %.2f%% < 99%%" % rate
    assert not new, "%d disagreements with tshark that docs/architecture.md does not list" % len(new)


# ---------------------------------------------------------------- SDK attribution

# Every host here must occur in the SDK captures (a TLS/QUIC SNI, HTTP Host or
# DNS-learned flow name, or for DNS-only hosts a DNS query), each flow named so
# must carry this signature, and `flowaudit sigs match` must agree. Ids and
# the Google split follow docs/signatures.md.
SDK_HOSTS = {
    # AppsFlyer
    "api.appsflyer.com": "appsflyer",
    "events.appsflyer.com": "appsflyer",
    "t.appsflyer.com": "appsflyer",
    # Firebase
    "app-measurement.com": "firebase-analytics",
    "settings.crashlytics.com": "firebase-crashlytics",
    "e.crashlytics.com": "firebase-crashlytics",
    "mtalk.google.com": "firebase-cloud-messaging",
    # Google ads: AdMob's request hosts, Ad Manager's, the rest of doubleclick.net
    "googleads.g.doubleclick.net": "admob",
    "googleads4.g.doubleclick.net": "admob",
    "pagead2.googlesyndication.com": "admob",
    "tpc.googlesyndication.com": "admob",
    "pubads.g.doubleclick.net": "google-ad-manager",
    "securepubads.g.doubleclick.net": "google-ad-manager",
    "cm.g.doubleclick.net": "google-marketing-platform",
    "s0.2mdn.net": "google-marketing-platform",
    "stats.g.doubleclick.net": "google-analytics",
    "ssl.google-analytics.com": "google-analytics",
    "www.google-analytics.com": "google-analytics",
    "www.googletagmanager.com": "google-analytics",
    # New Relic, Braze (appboy), Adjust, Bugsnag, mParticle
    "mobile-collector.newrelic.com": "new-relic",
    "js-agent.newrelic.com": "new-relic",
    "venetia.iad.appboy.com": "braze",
    "app.adjust.com": "adjust",
    "sessions.bugsnag.com": "bugsnag",
    "config2.mparticle.com": "mparticle",
    "identity.mparticle.com": "mparticle",
    "nativesdks.mparticle.com": "mparticle",
    # Meta
    "graph.facebook.com": "facebook-sdk",
    "api.facebook.com": "facebook-sdk",
    "connect.facebook.net": "facebook-sdk",
    "edge-mqtt.facebook.com": "facebook-sdk",
    "mqtt-mini.facebook.com": "facebook-sdk",
    # others in the AccuWeather, Seznam, Telegram and Chrome captures
    "combine.urbanairship.com": "airship",
    "device-api.urbanairship.com": "airship",
    "remote-data.urbanairship.com": "airship",
    "aax-eu.amazon-adsystem.com": "amazon-publisher-services",
    "mads.amazon-adsystem.com": "amazon-publisher-services",
    "s.amazon-adsystem.com": "amazon-publisher-services",
    "ib.adnxs.com": "xandr",
    "secure.adnxs.com": "xandr",
    "sb.scorecardresearch.com": "comscore",
    "z.moatads.com": "oracle-moat",
    "sdk.foursquare.com": "foursquare",
    "api.mapbox.com": "mapbox",
    "api.segment.io": "segment",
    "cdn.segment.com": "segment",
    "sentry.io": "sentry",
    "in.appcenter.ms": "microsoft-app-center",
    # Umeng: only a DNS query in matousp-mobile-profiling, no connection
    "umengjmacs.m.taobao.com": "umeng",
}


def sdk_captures(files):
    """The real app captures, and the ndpi ones with SDK hosts (per MANIFEST.tsv,
    or a host of SDK_HOSTS among their names)."""
    out = []
    for r in files:
        if r.startswith("mobile/matousp"):
            out.append(r)
        elif r.startswith("ndpi/pcap/"):
            if "SDK/tracker hosts:" in manifest().get(r, {}).get("notes", ""):
                out.append(r)
                continue
            fl = _FLOWS.get(r, (0, [], ""))[1]
            if any(norm(f.get("name")) in SDK_HOSTS or norm(f.get("dns_query")) in SDK_HOSTS
                   for f in (fl if isinstance(fl, list) else [])):
                out.append(r)
    return sorted(out)


def sigs_match(hosts):
    p = subprocess.run([BIN, "sigs", "match", "-s", SIGS, "--json", "-"], input="\n".join(hosts) + "\n",
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=TOP, env=ENV)
    assert not crashed(p.returncode, p.stderr) and p.returncode in (0, 1), p.stderr
    out = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        out[o["input"]] = o["id"]
    return out


def read_expected_unknown():
    try:
        with open(EXPECTED_UNKNOWN, encoding="utf-8") as fh:
            return {tuple(l.rstrip("\n").split("\t", 1)) for l in fh
                    if l.strip() and not l.startswith("#")}
    except OSError:
        return None


def write_expected_unknown(rows):
    with open(EXPECTED_UNKNOWN, "w", encoding="utf-8") as fh:
        fh.write("# Hosts of the SDK captures that flowaudit names but no signature claims,\n"
                 "# one 'capture<TAB>host' a line (tests/corpus/run.py, test_sdk_attribution).\n"
                 "# A change shows up as a test failure; when it is right, regenerate with\n"
                 "#   FLOWAUDIT_CORPUS_UPDATE=1 python3 tests/corpus/run.py BUILD/flowaudit sdk\n")
        for c, h in sorted(rows):
            fh.write("%s\t%s\n" % (c, h))


def test_threads_identical():
    """--threads 2 lists the same flows, byte for byte, as one thread, over the
    ndpi/pcap and mobile captures, many files per run so that nDPI's links between
    flows (speed tests, certificates, STUN, TINC, mining) are exercised. (The
    e2e suite compares whole reports.)"""
    files = sorted(r for r in capture_files() if r.startswith(("ndpi/pcap/", "mobile/")))
    if not files:
        raise Skip("no ndpi/pcap or mobile captures in %s" % CORPUS)
    chunks = [files[i:i + 48] for i in range(0, len(files), 48)]

    def pair(rels):
        base = flows_cmd(rels)
        one, two = run(base), run(base + ["--threads", "2"])
        return rels, one, two

    problems, compared = [], 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, JOBS // 2)) as ex:
        for rels, one, two in ex.map(pair, chunks):
            if one[0] != two[0]:
                problems.append("%s..: exit %d with one thread, %d with two" % (rels[0], one[0], two[0]))
            elif crashed(two[0], two[2]):
                problems.append("%s..: --threads 2 crashed: %s" % (rels[0], two[2][-400:]))
            elif one[1] != two[1]:
                a, b = json.loads(one[1]), json.loads(two[1])
                diff = [(x["id"], x.get("protocol"), y.get("protocol")) for x, y in zip(a, b) if x != y]
                problems.append("%s..: %d flows differ, first %r" % (rels[0], len(diff), diff[:3]))
            elif one[0] == 0:
                compared += len(json.loads(one[1]))
    assert compared > 0, "no flows compared"
    print("  threads: %d flows in %d runs of up to 48 captures, the same with --threads 2"
          % (compared, len(chunks)))
    assert not problems, "\n".join(problems[:20])


def test_sdk_attribution():
    files = [r for r in capture_files() if r.startswith(("ndpi/pcap/", "mobile/"))]
    if not any(r.startswith("mobile/matousp/") for r in files):
        raise Skip("no mobile/matousp captures in %s" % CORPUS)
    flows_of(files)
    caps = sdk_captures(files)
    seen = {}          # host -> {signature id or None: set of captures}
    dns_only = {}      # host -> set of captures where it is only a DNS query
    unknown = set()    # (capture, host) named, but no signature at all
    by_name = {}       # host -> ids matched by name (not by an address range)
    problems = []
    for r in caps:
        rc, fl, err = _FLOWS[r]
        if not isinstance(fl, list):
            problems.append("%s: flows exit %d: %s" % (r, rc, err[-300:]))
            continue
        for f in fl:
            name = norm(f["name"])
            if name:
                sig = f["signature"] or {}
                sid = sig.get("id")
                seen.setdefault(name, {}).setdefault(sid, set()).add(r)
                if sid is not None and sig.get("by") != "network":
                    by_name.setdefault(name, set()).add(sid)
                if sid is None:
                    unknown.add((r, name))
            q = norm(f.get("dns_query"))
            if q:
                dns_only.setdefault(q, set()).add(r)
    catalogue = sigs_match(sorted(set(seen) | set(SDK_HOSTS)))
    for host, want in sorted(SDK_HOSTS.items()):
        if catalogue.get(host) != want:
            problems.append("sigs match %s gives %s, expected %s" % (host, catalogue.get(host), want))
        if host not in seen:
            if host in dns_only:
                print("  %s: only a DNS query (%s)" % (host, ", ".join(sorted(dns_only[host]))))
            else:
                problems.append("%s (expected %s) occurs in none of the %d SDK captures: the table "
                                "has rotted; drop or replace it" % (host, want, len(caps)))
            continue
        for sid, where in sorted(seen[host].items(), key=str):
            if sid != want:
                problems.append("%s attributed to %s in %s, expected %s"
                                % (host, sid, ", ".join(sorted(where)), want))
    for host in sorted(by_name):   # the engine and `sigs match` must read the catalogue alike
        for sid in by_name[host]:
            if catalogue.get(host) != sid:
                problems.append("%s: flows say %s, sigs match says %s" % (host, sid, catalogue.get(host)))
    print("%d SDK captures, %d named hosts, %d of the %d table hosts seen"
          % (len(caps), len(seen), sum(h in seen or h in dns_only for h in SDK_HOSTS), len(SDK_HOSTS)))
    other = sorted("%s=%s" % (h, sid) for h, by in seen.items() for sid in by
                   if sid is not None and h not in SDK_HOSTS)
    print("attributed, not in the table: %s" % ", ".join(other))
    for r in caps:
        hosts = sorted(h for c, h in unknown if c == r)
        if hosts:
            print("  unknown in %s: %s" % (r, ", ".join(hosts)))
    expected = read_expected_unknown()
    if os.environ.get("FLOWAUDIT_CORPUS_UPDATE"):
        write_expected_unknown(unknown)
        print("wrote %s (%d hosts)" % (os.path.relpath(EXPECTED_UNKNOWN, TOP), len(unknown)))
    elif expected is None:
        problems.append("%s is missing; write it with FLOWAUDIT_CORPUS_UPDATE=1" % EXPECTED_UNKNOWN)
    else:
        for c, h in sorted(unknown - expected):
            problems.append("newly unknown (no signature): %s in %s" % (h, c))
        for c, h in sorted(expected - unknown):
            problems.append("no longer unknown (attributed now, or not seen): %s in %s" % (h, c))
    for p in problems:
        print("  " + p)
    assert not problems, "%d attribution problems (a change to %s is intended? regenerate it)" % (
        len(problems), os.path.relpath(EXPECTED_UNKNOWN, TOP))


# ---------------------------------------------------------------- harness

def main():
    global BIN, WORK
    if len(sys.argv) < 2:
        print("usage: run.py BUILD/flowaudit [FILTER]", file=sys.stderr)
        return 2
    BIN = os.path.abspath(sys.argv[1])
    flt = sys.argv[2] if len(sys.argv) > 2 else ""
    passed = failed = skipped = 0
    t0 = time.time()
    have = os.path.isdir(CORPUS)
    if not have:
        print("SKIP corpus tests: %s not found (a user's clone has no shared corpus)" % CORPUS)
    WORK = tempfile.mkdtemp(prefix="flowaudit-corpus-")
    try:
        for name, fn in sorted(globals().items()):
            if not name.startswith("test_") or flt not in name:
                continue
            try:
                if not have:
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
            sys.stdout.flush()
    finally:
        if failed:
            print("kept %s (the databases the reproduce commands name)" % WORK)
        else:
            shutil.rmtree(WORK, ignore_errors=True)
    print("corpus suite took %.0fs" % (time.time() - t0))
    print("corpus: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
