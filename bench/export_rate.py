#!/usr/bin/env python3
"""export_rate.py - `make bench`: how long `flowaudit export` takes to put
the bench report into a local ClickHouse, and that a second export adds
nothing.

    /usr/bin/python3 bench/export_rate.py BUILD/flowaudit

Audits the 1x bench workload (bench/mkworkload.py, cached in BENCH_OUT)
into BENCH_OUT/report-export, starts Debian's clickhouse-server on free
loopback ports with a data directory of its own (tests/e2e/
clickhouse_server.py, the suites' server), then times EXPORT_RUNS exports
of the report into a fresh database each (median wall seconds, flowaudit's
CPU seconds) and one more export into the last database, which must add
nothing. The rows in ClickHouse are counted against the report: one run,
every finding, every flow.

Printed: each export, the counts, and the goal of issue 20 (the export in
under 5 s) with PASS or MISS. Exits 2 when clickhouse-server is missing
(the rest of `make bench` is not affected), 1 when a run fails or the
counts differ, else 0. Settings (environment): EXPORT_RUNS (3), BENCH_OUT.
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
OUT = os.path.abspath(os.environ.get("BENCH_OUT", os.path.join(TOP, "bench", "out")))
RUNS = int(os.environ.get("EXPORT_RUNS", "3"))
POLICY = os.path.join(TOP, "policies", "audio-extract-kit.json")
GOAL_S = 5.0


def say(*a):
    print(*a, flush=True)


def workload():
    p = subprocess.run([sys.executable, os.path.join(TOP, "bench", "mkworkload.py"), OUT],
                       stdout=subprocess.PIPE, text=True, check=True)
    with open(p.stdout.strip().splitlines()[-1]) as f:
        return json.load(f)["workloads"]["1x"]["path"]


def timed(argv, env):
    """(wall seconds, CPU seconds of the child, exit status)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
    return wall, cpu, p.returncode


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python3 bench/export_rate.py BUILD/flowaudit\n")
        return 2
    fa = os.path.abspath(sys.argv[1])
    if shutil.which("clickhouse-server") is None:
        sys.stderr.write("export: clickhouse-server is not installed (make setup installs it): "
                         "not measured\n")
        return 2
    import clickhouse_server as chs
    import run as e2e

    say("")
    say("export into ClickHouse (issue 20): the bench report, %d runs" % RUNS)
    w = workload()
    rep = os.path.join(OUT, "report-export")
    shutil.rmtree(rep, ignore_errors=True)
    geo = []
    if all(os.path.exists(os.path.join(TOP, "data", "geo", f)) for f in ("country.mmdb",
                                                                           "asn.mmdb")):
        geo = ["-g", os.path.join(TOP, "data", "geo", "country.mmdb"),
               "--asn", os.path.join(TOP, "data", "geo", "asn.mmdb")]
    else:
        geo = ["--no-geo"]
    a = subprocess.run([fa, "audit", "--quiet", "-r", w, "-p", POLICY, "-s",
                        os.path.join(TOP, "signatures"), "--format", "json"] + geo + ["-o", rep],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if a.returncode not in (0, 1):
        sys.stderr.write(a.stderr)
        return 1
    with open(os.path.join(rep, "report.json")) as f:
        doc = json.load(f)
    want = {"runs": 1, "findings": len(doc["findings"]), "flows": len(doc["flows"])}
    mb = os.path.getsize(os.path.join(rep, "report.json")) / 1e6
    say("  report: %d findings, %d flows (report.json %.0f MB)"
        % (want["findings"], want["flows"], mb))
    try:
        ch = chs.clickhouse()
    except (e2e.Skip, AssertionError) as e:
        sys.stderr.write("export: no ClickHouse server: %s\n" % e)
        return 2
    env = dict(os.environ, CLICKHOUSE_USER=chs.CH_USER, CLICKHOUSE_PASSWORD=chs.CH_PASSWORD)
    rc = 0
    try:
        walls, cpus = [], []
        db = None
        for i in range(RUNS):
            db = "bench_export_%d" % i
            ch.query("DROP DATABASE IF EXISTS %s" % db)
            wall, cpu, st = timed([fa, "export", "--clickhouse", ch.url, "--database", db, rep],
                                  env)
            if st != 0:
                say("  FAILED: export exited %d" % st)
                return 1
            got = {t: int(ch.query("SELECT count() FROM %s.%s" % (db, t))) for t in want}
            say("  export %d: %.2f s wall, %.2f s CPU; in ClickHouse: %d run, %d findings, "
                "%d flows" % (i + 1, wall, cpu, got["runs"], got["findings"], got["flows"]))
            if got != want:
                say("  FAILED: ClickHouse holds %s, the report %s" % (got, want))
                rc = 1
            walls.append(wall)
            cpus.append(cpu)
        wall, cpu, st = timed([fa, "export", "--clickhouse", ch.url, "--database", db, rep], env)
        again = {t: int(ch.query("SELECT count() FROM %s.%s" % (db, t))) for t in want}
        same = st == 0 and again == want
        say("  export again: %.2f s wall, exit %d, %s" % (
            wall, st, "nothing added" if same else "ClickHouse now holds %s" % again))
        if not same:
            rc = 1
        med = statistics.median(walls)
        say("  %s  %-62s %.2f s (median of %d; CPU %.2f s)" % (
            "PASS" if med < GOAL_S else "MISS", "export of the bench report < %.0f s" % GOAL_S,
            med, len(walls), statistics.median(cpus)))
        for i in range(RUNS):
            ch.query("DROP DATABASE IF EXISTS bench_export_%d" % i)
    finally:
        chs.stop_clickhouse()
        shutil.rmtree(rep, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
