#!/usr/bin/env python3
"""same_flows.py - do two flowaudit binaries see the same flows?

    python3 bench/same_flows.py OLD/flowaudit NEW/flowaudit [CAPTURE_OR_DIR...]

Runs `flowaudit flows --json` of both binaries on every capture (*.pcap,
*.pcapng, *.cap under each directory given; ../shared/corpus by default)
with the shipped signatures and data/geo's databases when present, and
compares standard output, standard error and the exit status byte for
byte. Prints each difference and a closing count; exits 1 on any
difference, 2 when there is nothing to compare.
"""
import concurrent.futures
import hashlib
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def captures(args):
    for a in args:
        if os.path.isfile(a):
            yield a
            continue
        for root, _, files in os.walk(a):
            for f in sorted(files):
                if f.endswith((".pcap", ".pcapng", ".cap")):
                    yield os.path.join(root, f)


def run(binary, path, extra):
    p = subprocess.run([binary, "flows", "--json", "-r", path, "-s",
                        os.path.join(TOP, "signatures")] + extra,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=600)
    return (p.returncode, hashlib.sha256(p.stdout).hexdigest(),
            p.stderr.decode("utf-8", "replace"))


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    old, new = sys.argv[1], sys.argv[2]
    where = sys.argv[3:] or [os.path.join(TOP, "..", "shared", "corpus")]
    geo = os.path.join(TOP, "data", "geo")
    extra = ["--no-geo"]
    if os.path.exists(os.path.join(geo, "country.mmdb")):
        extra = ["-g", os.path.join(geo, "country.mmdb"), "--asn", os.path.join(geo, "asn.mmdb")]
    files = sorted(set(captures(where)))
    if not files:
        print("same_flows: no capture found under %s" % " ".join(where), file=sys.stderr)
        return 2
    differ = 0

    def both(path):
        return path, run(old, path, extra), run(new, path, extra)

    with concurrent.futures.ThreadPoolExecutor(int(os.environ.get("JOBS", "2"))) as ex:
        for path, a, b in ex.map(both, files):
            if a != b:
                differ += 1
                print("DIFFERENT %s: exit %d/%d, stdout %s/%s%s" % (
                    path, a[0], b[0], a[1][:12], b[1][:12],
                    "" if a[2] == b[2] else ", stderr differs:\n  old: %r\n  new: %r"
                    % (a[2][-300:], b[2][-300:])))
    print("same_flows: %d captures, %d identical, %d different" %
          (len(files), len(files) - differ, differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
