#!/usr/bin/python3
"""run.py - the body of `make bench` (called by bench/run.sh BUILD/flowaudit).

1. Builds or reuses the workload (bench/mkworkload.py, cached in bench/out/).
2. Times, on the same 1x workload, each up to BENCH_RUNS times (median wall
   seconds; peak RSS from /usr/bin/time %M, the largest of the runs):
     pcaploop    BUILD/bench/pcaploop W          (libpcap alone: the floor)
     flowaudit   flowaudit audit -r W -p policies/audio-extract-kit.json
                 -s signatures -g/--asn data/geo/*.mmdb (or --no-geo) -o DIR
                 with every output format
     ndpiReader  ndpiReader -q -i W              (Debian libndpi-bin)
     tshark      tshark -r W -T fields -e tls.handshake.extensions_server_name
                 -e http.host -e dns.qry.name
   and flowaudit again on the 2x and 4x workloads. Then, for issue 18's
   ratios, BENCH_PAIRED_RUNS rounds (default 5) of ndpiReader, `flowaudit
   flows --json` and the full audit (one and two threads), one right after
   the other in each round (interleaved()): each ratio is the median of the
   rounds' ratios. Each round also times the floor of the audit (floor_spec:
   the replay with openssl and dd doing, beside it, the hashing and writing
   of the report's bytes), printed as an info line. Then `flowaudit verify` on the 1x report the last audit
   wrote, and that report's file count.
3. Prints the comparison table, flowaudit's scaling, and each target of
   issue 9 with PASS, MISS or n/a (not measurable in this run).
4. Runs the micro-benchmarks BUILD/bench/sigbench, idbench and importbench.

Never fails because a target is missed. Exits 1 when a tool fails (bad exit
status, wrong packet count), 2 when something it needs is missing.

A measurement is repeated while it stays within BENCH_BUDGET seconds in
total; a run past BENCH_TIMEOUT is killed and reported as a lower bound; a
larger workload whose time, extrapolated linearly from the smaller one,
would pass BENCH_TIMEOUT is skipped. So a slow build still finishes in
about 15 minutes, with the number of runs behind each median printed.
"""
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(TOP, "bench", "out")))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PAIRED_RUNS = int(os.environ.get("BENCH_PAIRED_RUNS", "5"))
PACKETS = int(os.environ.get("BENCH_PACKETS", "1000000"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "300"))
BUDGET = float(os.environ.get("BENCH_BUDGET", "200"))
SYNTHETIC = os.environ.get("BENCH_SYNTHETIC", "") not in ("", "0")
POLICY = "policies/audio-extract-kit.json"
TIME = "/usr/bin/time"

# issue 9's targets
T_NDPI_PPS = 2.0
T_TSHARK_PPS = 20.0
T_NDPI_RSS = 0.5
T_RSS_4X = 1.10
T_LINEAR = 1.10
T_KB_PER_FLOW = 1.5
T_THREADS = 1.7
# issue 16's: the audit of keyed TLS captures with their key logs costs at
# most this much more than without them
T_KEYED = 1.5
# issue 18's: the replay alone (flows --json) against ndpiReader, and the
# full audit against the replay alone
T_REPLAY_PPS = 2.0
T_REPLAY_RSS = 0.5
T_AUDIT_OVER_REPLAY = 1.3
# and the report of about 20,000 findings: files in its directory, verify
T_REPORT_FILES = 36
T_VERIFY_S = 1.0
TLS_FIX = os.path.join(TOP, "tests", "fixtures", "tls")
KEYED_REPEAT = 15  # each TLS fixture given this many times, so that start-up does not dominate


class Failed(Exception):
    pass


def say(*a):
    print(*a, flush=True)


def note(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def run_once(label, argv, log, stdout_path=None, ok=(0,)):
    """One timed run. {wall, cpu, rss_kb} or {timeout: wall}."""
    tfile = log + ".time"
    full = [TIME, "-f", "%e %U %S %M", "-o", tfile] + argv
    out = open(stdout_path or os.devnull, "wb")
    err = open(log, "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(full, cwd=TOP, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                         start_new_session=True)
    try:
        p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the group this run started, nothing else
        p.wait()
        out.close()
        err.close()
        return {"timeout": time.monotonic() - t0}
    wall = time.monotonic() - t0
    out.close()
    err.close()
    lines = [ln for ln in tail(tfile, 5).splitlines() if ln.strip()]
    rc = p.returncode
    if rc not in ok:
        raise Failed("%s exited %d: %s\n%s" % (label, rc, " ".join(argv), tail(log)))
    try:
        _, user, system, rss = lines[-1].split()
        return {"wall": wall, "cpu": float(user) + float(system), "rss_kb": int(rss)}
    except (IndexError, ValueError):
        raise Failed("%s: no /usr/bin/time figures in %s" % (label, tfile))


def summary(res):
    """The summary of a list of run_once results, as series gives it."""
    return {
        "runs": len(res),
        "wall": statistics.median(r["wall"] for r in res),
        "cpu": statistics.median(r["cpu"] for r in res),
        "rss_kb": max(r["rss_kb"] for r in res),
        "walls": [r["wall"] for r in res],
    }


def spec_run(sp, i, tag=""):
    """Run i of a spec (a dict: label, argv(i), and optional before(i),
    after(i, r), kw for run_once)."""
    if sp.get("before"):
        sp["before"](i)
    log = os.path.join(OUT, "logs", "%s%s-%d.log" % (sp["label"].replace(" ", "-"), tag, i + 1))
    r = run_once(sp["label"], sp["argv"](i), log, **sp.get("kw", {}))
    if sp.get("after"):
        sp["after"](i, r)
    return r


def series(label, argv_fn, runs=RUNS, before=None, after=None, **kw):
    """Repeats a run up to `runs` times within BUDGET; returns the summary."""
    sp = {"label": label, "argv": argv_fn, "before": before, "after": after, "kw": kw}
    res = []
    spent = 0.0
    for i in range(runs):
        if i > 0 and spent + res[-1]["wall"] > BUDGET:
            break
        r = spec_run(sp, i)
        if "timeout" in r:
            note("%s: run %d killed after %.0f s (BENCH_TIMEOUT)" % (label, i + 1, r["timeout"]))
            return {"timeout": r["timeout"], "runs": len(res) + 1}
        note("%s: run %d %.2f s, %.1f MB" % (label, i + 1, r["wall"], r["rss_kb"] / 1024))
        res.append(r)
        spent += r["wall"]
    return summary(res)


def interleaved(specs, runs=PAIRED_RUNS):
    """Runs every spec once per round, `runs` rounds within BUDGET, the
    order turned by one each round. A tool timed right before or after
    another meets the machine as the other did: on a virtual machine whose
    speed drifts by a third over minutes, the ratio of two runs of one
    round says what the two programs cost, where the ratio of two series
    run minutes apart says as much about the drift. Returns the summary of
    each label (as series) and the rounds ({label: run_once result})."""
    res = {sp["label"]: [] for sp in specs}
    rounds = []
    t0 = time.monotonic()
    for i in range(runs):
        if i > 0 and time.monotonic() - t0 > BUDGET:
            break
        done = {}
        for k in range(len(specs)):
            sp = specs[(i + k) % len(specs)]
            r = spec_run(sp, i, "-round")
            if "timeout" in r:
                note("%s: round %d killed after %.0f s (BENCH_TIMEOUT)"
                     % (sp["label"], i + 1, r["timeout"]))
                out = {lb: summary(v) for lb, v in res.items() if v}
                out[sp["label"]] = {"timeout": r["timeout"], "runs": len(res[sp["label"]]) + 1}
                return out, rounds
            note("%s: round %d %.2f s, %.1f MB" % (sp["label"], i + 1, r["wall"],
                                                   r["rss_kb"] / 1024))
            res[sp["label"]].append(r)
            done[sp["label"]] = r
        rounds.append(done)
    return {lb: summary(v) for lb, v in res.items()}, rounds


def round_ratio(rounds, a, b):
    """The median over the rounds of a's wall time over b's, and the ratios."""
    rs = [r[a]["wall"] / r[b]["wall"] for r in rounds if a in r and b in r and r[b]["wall"]]
    return (statistics.median(rs) if rs else None), rs


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GB RAM" % (int(f.readline().split()[1]) / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    load = " ".join("%.2f" % x for x in os.getloadavg())
    return {"nproc": os.cpu_count(), "cpu": model, "mem": mem, "load": load,
            "kernel": platform.release()}


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--", "src",
                                "include"], capture_output=True, text=True).stdout.strip()
        return rev + ("+uncommitted src changes" if dirty else "")
    except OSError:
        return "unknown"


def tool_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        for ln in (p.stdout + p.stderr).splitlines():
            if ln.strip():
                return ln.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "?"


def fmt_int(n):
    return "{:,}".format(int(round(n)))


def mb(kb):
    return kb / 1024.0


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join((h.ljust(w) if i == 0 else h.rjust(w))
                       for i, (h, w) in enumerate(zip(header, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join((str(c).ljust(w) if i == 0 else str(c).rjust(w))
                               for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def verdict(ok):
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def main():
    if len(sys.argv) != 2:
        note("usage: run.py BUILD/flowaudit")
        return 2
    fa = os.path.abspath(sys.argv[1])
    build = os.path.dirname(fa)
    helpers = {n: os.path.join(build, "bench", n)
               for n in ("pcaploop", "sigbench", "idbench", "importbench")}
    missing = [p for p in [fa] + list(helpers.values()) if not os.access(p, os.X_OK)]
    for tool, pkg in (("ndpiReader", "libndpi-bin"), ("tshark", "tshark"),
                      ("openssl", "openssl")):
        if shutil.which(tool) is None:
            missing.append("%s (Debian package %s)" % (tool, pkg))
    if not os.access(TIME, os.X_OK):
        missing.append(TIME + " (Debian package time)")
    if missing:
        note("missing: " + ", ".join(missing))
        note("run `make bench` (or `make BUILD=%s all bench-build`)" % build)
        return 2
    os.makedirs(os.path.join(OUT, "logs"), exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    m = machine()

    # 1. the workload
    cmd = [sys.executable, os.path.join(TOP, "bench", "mkworkload.py"), OUT,
           "--min-packets", str(PACKETS), "--scales", "1,2,4"]
    if SYNTHETIC:
        cmd.append("--synthetic")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        note("building the workload failed")
        return 1
    with open(p.stdout.strip().splitlines()[-1]) as f:
        wl = json.load(f)
    W = {s: wl["workloads"][s] for s in ("1x", "2x", "4x")}
    n1 = W["1x"]["packets"]

    geo_dir = os.path.join(TOP, "data", "geo")
    country, asn = os.path.join(geo_dir, "country.mmdb"), os.path.join(geo_dir, "asn.mmdb")
    if os.path.isfile(country) and os.path.isfile(asn):
        geo_args = ["-g", country, "--asn", asn]
        geo_desc = "data/geo/country.mmdb and data/geo/asn.mmdb"
    elif os.path.isfile(country):
        geo_args = ["-g", country]
        geo_desc = "data/geo/country.mmdb (no ASN database)"
    else:
        geo_args = ["--no-geo"]
        geo_desc = "--no-geo (data/geo/*.mmdb absent)"

    # one time stamp for every report, so that runs can be compared by digest
    os.environ.setdefault("SOURCE_DATE_EPOCH", str(int(started.timestamp())))
    say("flowaudit benchmark, %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    say("machine: %s cores, %s, %s, Linux %s, load average at start %s"
        % (m["nproc"], m["cpu"], m["mem"], m["kernel"], m["load"]))
    say("flowaudit %s (%s); %s; %s" % (git_rev(), sys.argv[1],
                                       tool_version(["ndpiReader", "-h"]).replace(
                                           "Welcome to ", ""),
                                       tool_version(["tshark", "--version"])))
    say("workload: %s, %s captures replayed by %d pools of devices; 1x %s packets "
        "(%.0f MB, %.1f h of traffic), 2x %s, 4x %s"
        % (wl["source"], wl["captures"] or "synthetic", W["1x"]["reps"], fmt_int(n1),
           W["1x"]["bytes"] / 1e6, W["1x"]["span_s"] / 3600, fmt_int(W["2x"]["packets"]),
           fmt_int(W["4x"]["packets"])))
    say("geo: %s" % geo_desc)
    say("")

    def rel(path):
        r = os.path.relpath(path, TOP)
        return path if r.startswith("..") else r

    results = {}
    fa_stats = {}
    report_files = {}
    paired, paired_labels = [], {}  # issue 18's rounds and their labels
    verify = {}

    # 2. the timings
    def pcap_series(scale):
        out = os.path.join(OUT, "logs", "pcaploop-%s.out" % scale)

        def check(i, r):
            with open(out) as f:
                got = f.read().split()
            if len(got) < 2 or int(got[1]) != W[scale]["packets"]:
                raise Failed("pcaploop read %s packets of %s, expected %d"
                             % (got[1] if len(got) > 1 else "no", rel(W[scale]["path"]),
                                W[scale]["packets"]))
        return series("pcaploop %s" % scale, lambda i: [helpers["pcaploop"], W[scale]["path"]],
                      stdout_path=out, after=check)

    digests = {}  # series label -> sha256 of its findings.ndjson and junit.xml
    per_flow = {}

    def live_flow_cost():
        flood = os.path.join(OUT, "flood-600k.pcap")
        if not os.path.exists(flood):
            subprocess.run(["/usr/bin/python3", os.path.join(TOP, "tests", "gen", "flood.py"),
                            flood, "--packets", "600000", "--scan", "300000"], check=True,
                           stdout=subprocess.DEVNULL)
        got = {}
        for cap in (20000, 200000):
            outdir = os.path.join(OUT, "flood-%d" % cap)
            shutil.rmtree(outdir, ignore_errors=True)
            r = run_once("flood %d" % cap, [fa, "audit", "--quiet", "--format", "json",
                                            "--no-geo", "--max-flows", str(cap), "-r", flood,
                                            "-p", POLICY, "-o", outdir],
                         os.path.join(OUT, "logs", "flood-%d.log" % cap), ok=(0, 1))
            with open(os.path.join(outdir, "report.json")) as f:
                live = json.load(f)["summary"]["peak_live_flows"]
            shutil.rmtree(outdir, ignore_errors=True)
            got[cap] = (r["rss_kb"], live)
        (r1, l1), (r2, l2) = got[20000], got[200000]
        note("flood: %d live flows %.1f MB, %d live flows %.1f MB"
             % (l1, r1 / 1024, l2, r2 / 1024))
        return {"kb": (r2 - r1) / (l2 - l1) if l2 > l1 else None, "runs": got}

    def fa_spec(scale, extra=(), label=None):
        """The full audit of a workload, each run into a fresh report-SCALE."""
        label = label or "flowaudit %s" % scale
        outdir = os.path.join(OUT, "report-%s" % scale)

        def clean(i):
            # the earlier runs' writes reach the disk first, so that their
            # write-back does not land on whichever run comes next; then
            # the previous report is deleted just before the run, the case
            # of a lab re-running into the same directory
            os.sync()
            shutil.rmtree(outdir, ignore_errors=True)

        def keep(i, r):
            try:
                with open(os.path.join(outdir, "report.json")) as f:
                    s = json.load(f)["summary"]
                fa_stats[scale] = {k: s.get(k) for k in ("packets", "flows", "peak_live_flows",
                                                         "flows_evicted", "findings")}
                fa_stats[scale]["report_mb"] = sum(
                    os.path.getsize(os.path.join(dp, fn))
                    for dp, _, fns in os.walk(outdir) for fn in fns) / 1e6
            except (OSError, ValueError, KeyError, TypeError):
                pass
            if "timeout" not in r and fa_stats.get(scale, {}).get("packets") not in (
                    None, W[scale]["packets"]):
                raise Failed("flowaudit counted %s packets in %s, expected %d"
                             % (fa_stats[scale]["packets"], rel(W[scale]["path"]),
                                W[scale]["packets"]))
            if i == 0:
                h = hashlib.sha256()
                for fn in ("findings.ndjson", "junit.xml"):
                    try:
                        with open(os.path.join(outdir, fn), "rb") as f:
                            h.update(f.read())
                    except OSError:
                        h.update(b"missing " + fn.encode())
                digests[label] = h.hexdigest()

        argv = [fa, "audit", "--quiet", "-r", W[scale]["path"], "-p", POLICY,
                "-s", "signatures"] + geo_args + list(extra) + ["-o", outdir]
        return {"label": label, "argv": lambda i: argv, "before": clean, "after": keep,
                "kw": {"ok": (0, 1)}}

    def of_spec(sp):
        return series(sp["label"], sp["argv"], before=sp.get("before"), after=sp.get("after"),
                      **sp.get("kw", {}))

    def fa_series(scale, extra=(), label=None):
        return of_spec(fa_spec(scale, extra, label))

    def keyed_series():
        """The TLS fixtures (real connections, tests/fixtures/tls) audited
        with and without their key logs: {"unkeyed": ..., "keyed": ...}."""
        caps = sorted(f for f in os.listdir(TLS_FIX) if f.endswith(".pcap"))
        # the fixtures' client is 127.0.0.1: name it the device under test
        args = [fa, "audit", "--quiet", "--no-geo", "--format", "json", "-s", "signatures",
                "--device", "127.0.0.1",
                "-p", os.path.join(TOP, "tests", "fixtures", "tls-e2e", "policy.json"),
                "-d", os.path.join(TOP, "tests", "fixtures", "tls-e2e", "device.json")]
        for _ in range(KEYED_REPEAT):
            for c in caps:
                args += ["-r", os.path.join(TLS_FIX, c)]
        keys = []
        for c in caps:
            keys += ["--keylog", os.path.join(TLS_FIX, c[:-len(".pcap")] + ".keys")]
        out = {}
        for label, extra in (("unkeyed", []), ("keyed", keys)):
            outdir = os.path.join(OUT, "report-tls-%s" % label)
            out[label] = series("flowaudit tls %s" % label, lambda i, e=extra, o=outdir:
                                args + e + ["-o", o],
                                before=lambda i, o=outdir: shutil.rmtree(o, ignore_errors=True),
                                ok=(0, 1, 4))
        return out

    def synced(i):
        os.sync()  # no write-back of an earlier run's output during this one

    def flows_spec(threads):
        """The replay alone, its flows written as JSON lines."""
        out = os.path.join(OUT, "logs", "flows-t%d.json" % threads)

        def keep(i, r):
            if i == 0:
                with open(out, "rb") as f:
                    digests["flows t%d" % threads] = hashlib.sha256(f.read()).hexdigest()
        return {"label": "flowaudit flows t%d" % threads,
                "argv": lambda i: [fa, "flows", "--json", "--quiet", "--threads", str(threads),
                                   "-r", W["1x"]["path"], "-s", "signatures"] + geo_args,
                "before": synced, "after": keep, "kw": {"stdout_path": out}}

    def floor_spec(label):
        """The replay alone and, beside it, the byte work every audit of
        this report has to do, by tools that do nothing else: openssl's
        SHA-256 of the capture, and each output of the last 1x report (the
        evidence pack, report.json, findings.ndjson, junit.xml,
        report.html) written anew through user space by dd, then hashed.
        Not counted: making the report's text, choosing the pack's frames.
        What an audit can take at the least, on this machine, next to the
        replay alone."""
        rep = os.path.join(OUT, "report-1x")
        dst = os.path.join(OUT, "floor-out")
        flows_out = os.path.join(OUT, "logs", "floor-flows.json")
        names = ("evidence/findings.pcapng", "report.json", "findings.ndjson", "junit.xml",
                 "report.html")
        q = shlex.quote
        copies = "; ".join("dd if=%s of=%s bs=1M status=none" % (
            q(os.path.join(rep, n)), q(os.path.join(dst, os.path.basename(n)))) for n in names)
        script = ("%s flows --json --quiet --threads 1 -r %s -s signatures %s > %s & "
                  "openssl dgst -sha256 %s > /dev/null & "
                  "( %s; openssl dgst -sha256 %s/* > /dev/null ) & wait" % (
                      q(fa), q(W["1x"]["path"]), " ".join(q(a) for a in geo_args),
                      q(flows_out), q(W["1x"]["path"]), copies, q(dst)))

        def fresh(i):
            missing = [n for n in names if not os.path.isfile(os.path.join(rep, n))]
            if missing:
                raise Failed("floor: the 1x report has no %s" % ", ".join(missing))
            if not os.path.isdir(dst):
                # a first copy, not timed: every timed one then follows the
                # deletion of the one before, as every audit follows the
                # deletion of the report before it (fresh memory costs more
                # here than memory just freed: docs/performance.md)
                os.makedirs(dst)
                subprocess.run(["sh", "-c", copies], check=True)
            os.sync()
            shutil.rmtree(dst, ignore_errors=True)  # deleted just before, as the audit's
            os.makedirs(dst)
        return {"label": label, "argv": lambda i: ["sh", "-c", script], "before": fresh}

    def ndpi_spec(label="ndpiReader"):
        return {"label": label, "argv": lambda i: ["ndpiReader", "-q", "-i", W["1x"]["path"]],
                "before": synced}

    w1 = W["1x"]["path"]
    try:
        results["pcaploop"] = pcap_series("1x")  # also brings the file into the page cache
        results["ndpiReader"] = of_spec(ndpi_spec())
        results["tshark"] = series("tshark", lambda i: [
            "tshark", "-r", w1, "-T", "fields", "-e", "tls.handshake.extensions_server_name",
            "-e", "http.host", "-e", "dns.qry.name"])
        scaling = {"1x": fa_series("1x")}
        results["flowaudit"] = scaling["1x"]
        prev = "1x"
        for scale in ("2x", "4x"):
            pr = scaling[prev]
            ratio = W[scale]["packets"] / W[prev]["packets"]
            if "timeout" in pr:
                scaling[scale] = {"skipped": "%s passed BENCH_TIMEOUT" % prev}
            elif pr["wall"] * ratio > TIMEOUT:
                scaling[scale] = {"skipped": "would take >= %.0f s at the %s rate, past "
                                             "BENCH_TIMEOUT=%.0f" % (pr["wall"] * ratio, prev,
                                                                    TIMEOUT)}
            else:
                pcap_series(scale)  # page cache, and a check of the file
                scaling[scale] = fa_series(scale)
            if "skipped" in scaling[scale]:
                note("flowaudit %s skipped: %s" % (scale, scaling[scale]["skipped"]))
                break
            prev = scale
        for scale in ("2x", "4x"):
            scaling.setdefault(scale, {"skipped": "a smaller workload was skipped"})

        # the same 1x audit, and the pipeline alone, with nDPI in its own thread
        threads = {}
        if "timeout" not in scaling["1x"]:
            # one thread again, just before two: both after the same earlier
            # runs, so the file system is in the same state for each
            # in rounds: ndpiReader, the replay alone and the full audit
            # timed one right after the other, for issue 18's ratios
            labels = {"ndpi": "ndpiReader paired", "audit t1": "flowaudit 1x threads 1",
                      "audit t2": "flowaudit 1x threads 2", "flows t1": "flowaudit flows t1",
                      "flows t2": "flowaudit flows t2", "floor": "floor of the audit"}
            summ, paired = interleaved([
                ndpi_spec(labels["ndpi"]),
                flows_spec(1),
                fa_spec("1x", ("--threads", "1"), labels["audit t1"]),
                flows_spec(2),
                fa_spec("1x", ("--threads", "2"), labels["audit t2"]),
                floor_spec(labels["floor"])])  # last: round 1 has a report to copy by then
            for k in ("audit t1", "audit t2", "flows t1", "flows t2"):
                if labels[k] in summ:
                    threads[k] = summ[labels[k]]
            paired_labels.update(labels)
            # the report the last audit left: its files, and verify on it
            rep1 = os.path.join(OUT, "report-1x")
            if os.path.isdir(rep1):
                report_files["1x"] = sum(len(fns) for _, _, fns in os.walk(rep1))
                verify = series("flowaudit verify", lambda i: [fa, "verify", rep1])

        # the cost of decryption: keyed against unkeyed audits of TLS captures
        keyed = keyed_series()

        # memory per live flow: the same flood through two flow caps, so
        # that everything but the live flows cancels out
        per_flow.update(live_flow_cost())

        # 4. micro-benchmarks
        micro = {}
        for name, argv in (("sigbench", [helpers["sigbench"], "signatures"]),
                           ("idbench", [helpers["idbench"]]),
                           ("importbench", [helpers["importbench"], "signatures"])):
            log = os.path.join(OUT, "logs", name + ".log")
            p = subprocess.run(argv, cwd=TOP, stdout=subprocess.PIPE,
                               stderr=open(log, "wb"), text=True)
            if p.returncode != 0:
                raise Failed("%s exited %d\n%s" % (name, p.returncode, tail(log)))
            micro[name] = [ln for ln in p.stdout.splitlines() if ln.strip()]
    except Failed as e:
        note("FAILED: %s" % e)
        shutil.rmtree(os.path.join(OUT, "trash"), ignore_errors=True)
        shutil.rmtree(os.path.join(OUT, "floor-out"), ignore_errors=True)
        return 1

    # 3. the report
    fa1 = results["flowaudit"]

    def pps(r, n=n1):
        return n / r["wall"] if "wall" in r else None

    header = ["tool (1x)", "runs", "median s", "CPU s", "packets/s", "peak RSS MB",
              "flowaudit pps x", "flowaudit RSS x"]
    rows = []
    for name in ("flowaudit", "ndpiReader", "tshark", "pcaploop"):
        r = results[name]
        if "timeout" in r:
            rows.append([name, r["runs"], "> %.0f" % r["timeout"], "-",
                         "< " + fmt_int(n1 / r["timeout"]), "-", "-", "-"])
            continue
        ratio = "-" if name == "flowaudit" or "wall" not in fa1 else \
            "%.2f" % (pps(fa1) / pps(r))
        rratio = "-" if name == "flowaudit" or "rss_kb" not in fa1 else \
            "%.2f" % (fa1["rss_kb"] / r["rss_kb"])
        rows.append([name, r["runs"], "%.2f" % r["wall"], "%.2f" % r["cpu"], fmt_int(pps(r)),
                     "%.1f" % mb(r["rss_kb"]), ratio, rratio])
    say(table(rows, header))
    say("")

    header = ["flowaudit", "packets", "runs", "median s", "us/packet", "peak RSS MB",
              "peak live flows", "flows", "findings", "report MB"]
    rows = []
    per_pkt = {}
    for scale in ("1x", "2x", "4x"):
        r = scaling[scale]
        st = fa_stats.get(scale, {})
        n = W[scale]["packets"]
        if "skipped" in r:
            rows.append([scale, fmt_int(n), 0, "skipped", "-", "-", "-", "-", "-", "-"])
            continue
        if "timeout" in r:
            rows.append([scale, fmt_int(n), r["runs"], "> %.0f" % r["timeout"],
                         "> %.2f" % (r["timeout"] / n * 1e6), "-", "-", "-", "-", "-"])
            continue
        per_pkt[scale] = r["wall"] / n * 1e6
        rows.append([scale, fmt_int(n), r["runs"], "%.2f" % r["wall"],
                     "%.2f" % per_pkt[scale], "%.1f" % mb(r["rss_kb"]),
                     fmt_int(st["peak_live_flows"]) if st.get("peak_live_flows") else "-",
                     fmt_int(st["flows"]) if st.get("flows") else "-",
                     fmt_int(st["findings"]) if st.get("findings") is not None else "-",
                     "%.0f" % st["report_mb"] if "report_mb" in st else "-"])
    say(table(rows, header))
    for scale in ("2x", "4x"):
        if "skipped" in scaling[scale]:
            say("  %s skipped: %s" % (scale, scaling[scale]["skipped"]))
    say("")

    nd, ts = results["ndpiReader"], results["tshark"]
    checks = []

    def ratio_of(a, b):
        return a / b if a is not None and b else None

    def speed_check(text, tool, target):
        if "timeout" in fa1 and "wall" in tool:  # killed: its rate is below n1 / timeout
            bound = (n1 / fa1["timeout"]) / pps(tool)
            checks.append((text, "< %.2fx" % bound, False if bound < target else None, "%s"))
            return
        r = ratio_of(pps(fa1), pps(tool))
        checks.append((text, r, None if r is None else r >= target, "%.2fx"))

    speed_check("full audit >= %.1fx ndpiReader packets/s" % T_NDPI_PPS, nd, T_NDPI_PPS)
    speed_check("full audit >= %.0fx tshark packets/s" % T_TSHARK_PPS, ts, T_TSHARK_PPS)
    r_rss = ratio_of(fa1.get("rss_kb"), nd.get("rss_kb"))
    checks.append(("peak RSS <= %.1fx ndpiReader's" % T_NDPI_RSS, r_rss,
                   None if r_rss is None else r_rss <= T_NDPI_RSS, "%.2fx"))
    r4 = ratio_of(scaling["4x"].get("rss_kb"), fa1.get("rss_kb"))
    checks.append(("peak RSS at 4x within %.0f%% of 1x" % ((T_RSS_4X - 1) * 100), r4,
                   None if r4 is None else r4 <= T_RSS_4X, "%.2fx"))
    lin = [per_pkt[s] / per_pkt["1x"] for s in ("2x", "4x") if s in per_pkt and "1x" in per_pkt]
    lin_ok = None if len(lin) < 2 else max(lin) <= T_LINEAR
    checks.append(("per-packet time at 2x, 4x at most %.0f%% over 1x (linear)"
                   % ((T_LINEAR - 1) * 100), ", ".join("%.2fx" % x for x in lin) or None,
                   lin_ok, "%s"))
    kb = per_flow.get("kb")
    checks.append(("<= %.1f KB per live flow (flood, 20k vs 200k live: ΔRSS/Δflows)"
                   % T_KB_PER_FLOW, kb, None if kb is None else kb <= T_KB_PER_FLOW,
                   "%.2f KB"))
    say("targets (issue 9):")
    for text, val, ok, f in checks:
        say("  %s  %-62s %s" % (verdict(ok), text, (f % val) if val is not None else
                                "not measured"))
    try:
        h = subprocess.run([fa, "audit", "--help"], capture_output=True, text=True).stdout
    except OSError:
        h = ""
    if "--threads" not in h:
        say("  n/a   --threads N >= 1.7x with 2 threads: this flowaudit has no --threads")
    elif "wall" in threads.get("audit t2", {}) and "wall" in threads.get("audit t1", {}):
        t1 = threads["audit t1"]
        sp = t1["wall"] / threads["audit t2"]["wall"]
        same = digests.get("flowaudit 1x") == digests.get("flowaudit 1x threads 2") == \
            digests.get("flowaudit 1x threads 1")
        say("  %s  %-62s %.2fx (%.2f s -> %.2f s), findings %s" % (
            verdict(sp >= T_THREADS), "--threads 2 >= %.1fx one thread, full audit" % T_THREADS,
            sp, t1["wall"], threads["audit t2"]["wall"], "identical" if same else "DIFFER"))
        checks.append(("--threads 2 >= %.1fx, full audit" % T_THREADS, sp, sp >= T_THREADS, "%.2fx"))
        f1, f2 = threads.get("flows t1", {}), threads.get("flows t2", {})
        if "wall" in f1 and "wall" in f2:
            same = digests.get("flows t1") == digests.get("flows t2")
            say("  info  %-62s %.2fx (%.2f s -> %.2f s), output %s" % (
                "--threads 2, the pipeline alone (flows --json)", f1["wall"] / f2["wall"],
                f1["wall"], f2["wall"], "identical" if same else "DIFFERS"))
    else:
        say("  n/a   --threads N >= 1.7x with 2 threads: not measured (1x timed out)")
    ku, kk = keyed.get("unkeyed", {}), keyed.get("keyed", {})
    if "wall" in ku and "wall" in kk:
        kr = kk["wall"] / ku["wall"]
        say("  %s  %-62s %.2fx (%.2f s -> %.2f s)" % (
            verdict(kr <= T_KEYED), "keyed audit <= %.1fx unkeyed (TLS fixtures x%d)"
            % (T_KEYED, KEYED_REPEAT), kr, ku["wall"], kk["wall"]))
        checks.append(("keyed audit <= %.1fx unkeyed" % T_KEYED, kr, kr <= T_KEYED, "%.2fx"))
    else:
        say("  n/a   keyed audit <= %.1fx unkeyed: not measured" % T_KEYED)
    say("targets (issue 18, the replay alone: flows --json, one thread; each ratio the "
        "median over %d rounds of runs made one right after the other):" % len(paired))
    f1 = threads.get("flows t1", {})
    pl = paired_labels
    rp, rps = round_ratio(paired, pl.get("ndpi"), pl.get("flows t1")) if paired else (None, [])
    if rp is not None:
        ndp = summary([r[pl["ndpi"]] for r in paired if pl["ndpi"] in r])
        say("  %s  %-62s %.2fx (rounds %s; medians %.2f s against %.2f s)" % (
            verdict(rp >= T_REPLAY_PPS), "replay >= %.1fx ndpiReader packets/s" % T_REPLAY_PPS,
            rp, " ".join("%.2f" % x for x in rps), f1["wall"], ndp["wall"]))
        checks.append(("replay >= %.1fx ndpiReader packets/s" % T_REPLAY_PPS, rp,
                       rp >= T_REPLAY_PPS, "%.2fx"))
        rr = ratio_of(f1.get("rss_kb"), ndp.get("rss_kb"))
        if rr is not None:
            say("  %s  %-62s %.2fx (%.1f MB against %.1f MB)" % (
                verdict(rr <= T_REPLAY_RSS), "replay peak RSS <= %.1fx ndpiReader's"
                % T_REPLAY_RSS, rr, mb(f1["rss_kb"]), mb(ndp["rss_kb"])))
            checks.append(("replay peak RSS <= %.1fx ndpiReader's" % T_REPLAY_RSS, rr,
                           rr <= T_REPLAY_RSS, "%.2fx"))
    else:
        say("  n/a   replay against ndpiReader: not measured")
    for t in (1, 2):
        a, f = threads.get("audit t%d" % t, {}), threads.get("flows t%d" % t, {})
        ar, ars = round_ratio(paired, pl.get("audit t%d" % t), pl.get("flows t%d" % t)) \
            if paired else (None, [])
        if ar is not None and "wall" in a and "wall" in f:
            say("  %s  %-62s %.2fx (rounds %s; medians %.2f s against %.2f s, CPU %.2f s "
                "against %.2f s)" % (
                    verdict(ar <= T_AUDIT_OVER_REPLAY), "full audit <= %.1fx the replay alone, "
                    "--threads %d" % (T_AUDIT_OVER_REPLAY, t), ar,
                    " ".join("%.2f" % x for x in ars), a["wall"], f["wall"],
                    a.get("cpu", float("nan")), f.get("cpu", float("nan"))))
            checks.append(("full audit <= %.1fx the replay alone, --threads %d"
                           % (T_AUDIT_OVER_REPLAY, t), ar, ar <= T_AUDIT_OVER_REPLAY, "%.2fx"))
        else:
            say("  n/a   full audit against the replay alone, --threads %d: not measured" % t)
    fr, frs = round_ratio(paired, pl.get("floor"), pl.get("flows t1")) if paired else (None, [])
    if fr is not None:
        say("  info  %-62s %.2fx (rounds %s)" % (
            "floor: the replay with the report's hashing and writing beside", fr,
            " ".join("%.2f" % x for x in frs)))
    nfiles, nfind = report_files.get("1x"), fa_stats.get("1x", {}).get("findings")
    if nfiles is not None:
        ok = nfiles <= T_REPORT_FILES
        say("  %s  %-62s %d files, %s findings" % (
            verdict(ok), "report directory <= %d files" % T_REPORT_FILES, nfiles,
            fmt_int(nfind) if nfind is not None else "?"))
        checks.append(("report directory <= %d files" % T_REPORT_FILES, nfiles, ok, "%d"))
    if "wall" in verify:
        ok = verify["wall"] < T_VERIFY_S
        say("  %s  %-62s %.2f s (median of %d; CPU %.2f s)" % (
            verdict(ok), "flowaudit verify on it < %.0f s" % T_VERIFY_S, verify["wall"],
            verify["runs"], verify["cpu"]))
        checks.append(("flowaudit verify < %.0f s" % T_VERIFY_S, verify["wall"], ok, "%.2f s"))
    else:
        say("  n/a   report directory and verify: no 1x report")
    say("")
    say("micro-benchmarks (-O2, %s):" % rel(os.path.join(build, "libflowaudit.a")))
    for name in ("sigbench", "idbench", "importbench"):
        for ln in micro[name]:
            say("  " + ln)

    shutil.rmtree(os.path.join(OUT, "trash"), ignore_errors=True)
    shutil.rmtree(os.path.join(OUT, "floor-out"), ignore_errors=True)
    finished = datetime.datetime.now(datetime.timezone.utc)
    say("")
    say("bench: %.0f s in all; logs in %s" % ((finished - started).total_seconds(),
                                             rel(os.path.join(OUT, "logs"))))
    record = {"started": started.isoformat(), "machine": m, "workload": wl["key"],
              "geo": geo_desc, "results": results, "scaling": scaling, "flowaudit": fa_stats,
              "threads": threads, "paired": paired, "keyed": keyed, "digests": digests, "per_live_flow": per_flow,
              "report_files": report_files, "verify": verify,
              "micro": micro,
              "targets": [{"target": t, "value": v, "pass": ok} for t, v, ok, _ in checks]}
    with open(os.path.join(OUT, "results-%s.json" % started.strftime("%Y%m%dT%H%M%S")),
              "w") as f:
        json.dump(record, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
