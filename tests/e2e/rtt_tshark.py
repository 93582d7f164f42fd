#!/usr/bin/python3
"""Handshake round-trip times against tshark's tcp.analysis.initial_rtt.

For every capture given (or every capture of ../shared/corpus), tshark
names each TCP stream by the 4-tuple of its first SYN and gives its
initial_rtt (SYN to the ACK that completes the handshake); `flowaudit flows
--json` gives each flow's rtt_ms. Streams are compared where both tools
have a time and the 4-tuple names one stream and one flow (a port used
twice in one capture is left out, counted). A capture in which flowaudit
finds no TCP flow is not given to tshark.

Used by test_rtt.py; run alone it prints the comparison:
    rtt_tshark.py BUILD/flowaudit [CAPTURE...]
"""
import json
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.environ.get("FLOWAUDIT_CORPUS", os.path.join(os.path.dirname(TOP), "shared", "corpus"))
CAPTURE_EXT = (".pcap", ".pcapng", ".cap", ".pcap.gz")


def corpus_captures():
    """Every capture the corpus MANIFEST lists that tshark 4.0 and nDPI could
    read (its notes name no read error and no unsupported link type)."""
    out = []
    with open(os.path.join(CORPUS, "MANIFEST.tsv"), encoding="utf-8", errors="replace") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 8 or cols[0] == "path" or not cols[0].endswith(CAPTURE_EXT):
                continue
            if any(w in cols[7] for w in ("UNSUPPORTED-DLT", "READ ERROR", "OPEN-FAIL")):
                continue
            path = os.path.join(CORPUS, cols[0])
            if os.path.isfile(path):
                out.append(path)
    return sorted(out)


def last(field):
    """The innermost value of a field tshark repeats for tunnels."""
    return field.split(",")[-1] if field else ""


def tshark_streams(path):
    """{(cli, cport, srv, sport): [initial_rtt in microseconds or None, ...]}"""
    p = subprocess.run(["tshark", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
                        "-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst",
                        "-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport",
                        "-e", "tcp.flags.syn", "-e", "tcp.flags.ack",
                        "-e", "tcp.analysis.initial_rtt"],
                       capture_output=True, text=True, timeout=600)
    first_syn, rtt = {}, {}
    for line in p.stdout.splitlines():
        c = line.split("\t")
        if len(c) < 10 or not c[0]:
            continue
        stream = last(c[0])
        src, dst = last(c[1]) or last(c[2]), last(c[3]) or last(c[4])
        syn, ack = last(c[7]) in ("1", "True"), last(c[8]) in ("1", "True")
        if syn and not ack and stream not in first_syn:
            first_syn[stream] = (src, int(last(c[5])), dst, int(last(c[6])))
        if c[9] and stream not in rtt:
            rtt[stream] = round(float(last(c[9])) * 1e6, 3)
    out = {}
    for stream, key in first_syn.items():
        out.setdefault(key, []).append(rtt.get(stream))
    return out


def flowaudit_flows(binary, path):
    """{(cli, cport, srv, sport): [rtt_ms as microseconds or None, ...]}"""
    p = subprocess.run([binary, "flows", "-r", path, "--json", "--no-geo"], capture_output=True,
                       text=True, timeout=600)
    if p.returncode not in (0, 1):
        return None
    out = {}
    for f in json.loads(p.stdout or "[]"):
        if f["transport"] != "tcp":
            continue
        key = (f["client_ip"], f["client_port"], f["server_ip"], f["server_port"])
        v = f.get("rtt_ms")
        out.setdefault(key, []).append(None if v is None else round(v * 1000, 3))
    return out


def compare(binary, paths):
    """Counts and the disagreements: {'streams', 'agree', 'differ', 'only_tshark',
    'only_flowaudit', 'ambiguous', 'files'}, [(file, key, tshark_us, ours_us)]."""
    n = {"files": 0, "streams": 0, "agree": 0, "differ": 0, "only_tshark": 0,
         "only_flowaudit": 0, "ambiguous": 0}
    bad = []
    for path in paths:
        ours = flowaudit_flows(binary, path)
        if not ours:  # no TCP flow at all: tshark is not asked (it is the slow one)
            continue
        ts = tshark_streams(path)
        if not ts:
            continue
        n["files"] += 1
        for key, tv in ts.items():
            ov = ours.get(key)
            if len(tv) != 1 or ov is None or len(ov) != 1:
                if any(v is not None for v in tv):
                    n["ambiguous"] += 1
                continue
            t, o = tv[0], ov[0]
            if t is None and o is None:
                continue
            n["streams"] += 1
            if t is None:
                n["only_flowaudit"] += 1
                bad.append((path, key, t, o))
            elif o is None:
                n["only_tshark"] += 1
                bad.append((path, key, t, o))
            elif abs(t - o) <= 1.0:
                n["agree"] += 1
            else:
                n["differ"] += 1
                bad.append((path, key, t, o))
    return n, bad


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    paths = sys.argv[2:] or corpus_captures()
    n, bad = compare(os.path.abspath(sys.argv[1]), paths)
    print(json.dumps(n))
    for b in bad:
        print("%s %s tshark %s flowaudit %s" % b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
