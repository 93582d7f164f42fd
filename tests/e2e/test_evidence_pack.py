#!/usr/bin/python3
"""End-to-end tests of the evidence pack: a report of many findings keeps
its evidence as one pcapng whose packets carry their findings' ids as
comments, and `flowaudit evidence` cuts a finding's own capture from it.

The captures are generated here (tests/gen/capgen.py): a device talking to
many unknown endpoints in China (one finding each), to some in the US (an
unknown endpoint abroad is a cross-border transfer too: two findings on one
flow) and to Facebook over plain TLS. Keyed TLS comes from the lab of
tests/gen/tlscap.py (real connections, as root in network namespaces; the
test skips without them). What is asserted:
  - more than 50 findings: the evidence directory holds one file, every
    finding cites it, and verify passes; 50 findings or fewer: one file per
    finding, as before;
  - tshark reads the pack, and the display filter report.json gives each
    finding returns exactly the frame numbers report.json lists for it;
  - `flowaudit evidence` writes, for every finding, the same bytes as the
    finding's own file in the same capture's per-finding report
    (--format all,evidence-files), for the keyed TLS findings too (whose
    cut holds the Decryption Secrets Block of their own connections, which
    tshark decrypts);
  - verify reports a byte flipped in the pack;
  - a file system that fills up, a file past the size limit: exit 3, the
    file named with the reason, nothing left;
  - report.html links the pack and shows each finding's filter.

Usage: test_evidence_pack.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "evidence-pack: N passed, N failed, N skipped".
"""
import json
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "gen"))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
import capgen  # noqa: E402
import tlscap  # noqa: E402
import run as e2e  # noqa: E402  (the shared helpers: audit, flip, the test MMDBs)
import suite  # noqa: E402

TLS_E2E = os.path.join(TOP, "tests", "fixtures", "tls-e2e")
PACK = "evidence/findings.pcapng"
STATE = {}


class Skip(Exception):
    pass


def many_capture(n_cn, n_us=0, name=None):
    """n_cn unknown endpoints in China (a finding each, two flows each), n_us
    in the US (two findings each, on one flow), one Facebook flow."""
    path = os.path.join(e2e.WORK, name or "many-%d-%d.pcap" % (n_cn, n_us))
    if os.path.exists(path):
        return path
    c = capgen.Capture()
    for i in range(n_cn):
        srv = "47.92.%d.%d" % (10 + i // 200, 20 + i % 200)
        capgen.tls_flow(c, capgen.DEV, srv, "t%d.unlisted-vendor.cn" % i, 20000 + i)
        capgen.tls_flow(c, capgen.DEV, srv, "t%d.unlisted-vendor.cn" % i, 30000 + i)
    for i in range(n_us):
        capgen.tls_flow(c, capgen.DEV, "23.94.5.%d" % (10 + i), "u%d.unlisted-vendor.com" % i,
                        40000 + i)
    if n_cn or n_us:
        capgen.tls_flow(c, capgen.DEV, capgen.FB_IP, "graph.facebook.com", 45000, dns=True)
    c.write(path)
    return path


def reports():
    """The packed and the per-finding report of the same capture (made once)."""
    if "packed" not in STATE:
        path = many_capture(70, 12)
        _, STATE["packed"], STATE["packed_dir"] = e2e.audit(path, expect=1)
        _, STATE["files"], STATE["files_dir"] = e2e.audit(
            path, "--format", "all,evidence-files", expect=1)
    return STATE["packed"], STATE["packed_dir"], STATE["files"], STATE["files_dir"]


def tshark(args):
    if shutil.which("tshark") is None:
        raise Skip("tshark not installed")
    p = subprocess.run(["tshark"] + args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def files_under(d):
    return sorted(os.path.relpath(os.path.join(dp, f), d) for dp, _, fs in os.walk(d) for f in fs)


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def pack_numbers(fd):
    return [n for x in fd["evidence_frames"] for n in x["numbers"]]


# ---------------------------------------------------------------- tests

def test_many_findings_one_file():
    rep, out, _, _ = reports()
    n = len(rep["findings"])
    assert n > 50, n
    assert files_under(os.path.join(out, "evidence")) == ["findings.pcapng"]
    assert len(files_under(out)) <= 8, files_under(out)
    for fd in rep["findings"]:
        assert fd["evidence"] == PACK, fd["id"]
        assert "evidence_files" not in fd, fd["id"]
        assert [x["file"] for x in fd["evidence_frames"]] == [PACK], fd["id"]
        # as many packets in the pack as frames of the capture
        assert len(pack_numbers(fd)) == sum(len(x["numbers"]) for x in fd["frames"]), fd["id"]
    with open(os.path.join(out, "MANIFEST.sha256")) as f:
        assert sum(1 for line in f if not line.split("  ", 1)[1].startswith("input:")) <= 8
    p = e2e.run(["verify", out], expect=0)
    assert "all match" in p.stdout, p.stdout
    try:
        import jsonschema
    except ImportError:
        return
    with open(os.path.join(TOP, "docs", "report-schema.json")) as f:
        jsonschema.validate(rep, json.load(f))


def test_cross_border_twins_share_frames():
    """An unknown endpoint abroad gives two findings on one flow: the pack
    holds its packets once, each commented with both ids."""
    rep, out, _, _ = reports()
    by_flows = {}
    for fd in rep["findings"]:
        by_flows.setdefault(tuple(fd["flows"]), []).append(fd)
    twins = [v for v in by_flows.values() if len(v) == 2]
    assert len(twins) == 12, [len(v) for v in by_flows.values()]
    a, b = twins[0]
    assert pack_numbers(a) == pack_numbers(b)
    got = tshark(["-r", os.path.join(out, PACK), "-Y", "frame.number == %d" % pack_numbers(a)[0],
                  "-T", "fields", "-e", "frame.comment"]).strip()
    assert got == "flowaudit: %s %s" % (a["id"], b["id"]), got
    # every frame once: the pack holds the union of the findings' frames
    total = int(tshark(["-r", os.path.join(out, PACK), "-T", "fields", "-e", "frame.number"])
                .split()[-1])
    union = {n for fd in rep["findings"] for n in pack_numbers(fd)}
    assert total == len(union) == max(union), (total, len(union))


def test_filter_gives_the_findings_frames():
    rep, out, _, _ = reports()
    pack = os.path.join(out, PACK)
    # F0001 against F0010 .. F0019 (contains would mix them), F0010, and
    # the last (twins among them)
    pick = rep["findings"][:2] + rep["findings"][9:11] + rep["findings"][-3:]
    for fd in pick:
        flt = fd["evidence_filter"]
        got = [int(x) for x in tshark(["-r", pack, "-Y", flt, "-T", "fields",
                                       "-e", "frame.number"]).split()]
        assert got == pack_numbers(fd), (fd["id"], flt, got, pack_numbers(fd))
        assert got, fd["id"]


def test_cut_equals_per_finding_file():
    rep, out, frep, fout = reports()
    assert len(files_under(os.path.join(fout, "evidence"))) > 50
    own = {fd["id"]: fd["evidence"] for fd in frep["findings"]}
    assert sorted(own) == sorted(fd["id"] for fd in rep["findings"])
    for fd in rep["findings"]:
        dst = os.path.join(e2e.WORK, "cut-%s.pcap" % fd["id"])
        p = e2e.run(["evidence", out, fd["id"], "-w", dst], expect=0)
        assert p.stdout.strip() == dst, p.stdout
        assert same_bytes(dst, os.path.join(fout, own[fd["id"]])), fd["id"]
        # and from the per-finding report: its file as it is
        e2e.run(["evidence", fout, fd["id"], "-w", dst], expect=0)
        assert same_bytes(dst, os.path.join(fout, own[fd["id"]])), fd["id"]
        os.unlink(dst)


def test_cut_refuses():
    _, out, _, _ = reports()
    dst = os.path.join(e2e.WORK, "refused.pcap")
    p = e2e.run(["evidence", out, "F9999", "-w", dst], expect=2)
    assert "F9999" in p.stderr, p.stderr
    p = e2e.run(["evidence", out, "../report", "-w", dst], expect=2)
    assert "not a finding id" in p.stderr, p.stderr
    e2e.run(["evidence", out, "F0001"], expect=2)
    assert not os.path.exists(dst)


def test_verify_flipped_byte_in_pack():
    path = many_capture(55, 0, "flip.pcap")
    _, rep, out = e2e.audit(path, expect=1)
    assert rep["findings"][0]["evidence"] == PACK
    pack = os.path.join(out, PACK)
    e2e.flip(pack)
    p = e2e.run(["verify", out], expect=1)
    assert "CHANGED %s" % PACK in p.stdout, p.stdout
    e2e.flip(pack)
    e2e.run(["verify", out], expect=0)


def test_threshold_fifty():
    """50 findings keep a file each; 51 make the pack."""
    for n_cn, packed in ((47, False), (48, True)):  # + Facebook's three findings
        _, rep, out = e2e.audit(many_capture(n_cn), expect=1)
        assert len(rep["findings"]) == n_cn + 3, len(rep["findings"])
        ev = files_under(os.path.join(out, "evidence"))
        if packed:
            assert ev == ["findings.pcapng"], ev[:5]
        else:
            assert len(ev) == n_cn + 3 and all(e.endswith(".pcap") for e in ev), ev[:5]
    # and --format evidence-pack packs a small report too
    _, rep, out = e2e.audit(many_capture(2), "--format", "all,evidence-pack", expect=1)
    assert files_under(os.path.join(out, "evidence")) == ["findings.pcapng"]
    e2e.run(["audit", "-r", many_capture(2), "-p", os.path.join(e2e.FIX, "policy.json"),
             "--no-geo", "--format", "evidence-files,evidence-pack", "-o",
             os.path.join(e2e.WORK, "both")], expect=2)


def test_pack_the_same_however_written():
    """The pack is written during the replay when it can be: into -o, into
    the default directory (no -o), or after the replay (the same capture as
    a pcapng, whose secrets blocks could name connections): the same bytes
    and the same frame numbers in each finding."""
    path = many_capture(70, 12)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    ng = os.path.join(e2e.WORK, "many-70-12.pcapng")
    if not os.path.exists(ng):
        c = subprocess.run(["editcap", "-F", "pcapng", path, ng], capture_output=True)
        if c.returncode != 0:
            raise Skip("editcap could not write a pcapng")
    args = ["audit", "-p", os.path.join(e2e.FIX, "policy.json"), "-g", e2e.GEO,
            "--asn", e2e.ASN]
    outs = {}
    for name, extra, cwd in (("into -o", ["-r", path, "-o", os.path.join(e2e.WORK, "same-o")],
                              None),
                             ("default", ["-r", path], os.path.join(e2e.WORK, "same-cwd")),
                             ("pcapng", ["-r", ng, "-o", os.path.join(e2e.WORK, "same-ng")],
                              None)):
        if cwd:
            shutil.rmtree(cwd, ignore_errors=True)
            os.makedirs(cwd)
        for o in extra[3:]:
            shutil.rmtree(o, ignore_errors=True)
        p = subprocess.run([e2e.BIN] + args + extra, capture_output=True, text=True, env=env,
                           cwd=cwd, timeout=600)
        assert p.returncode == 1, (name, p.returncode, p.stderr[-2000:])
        # a pcapng may carry secrets for the pack's first block: after the replay
        beside = "(the evidence pack written beside it)" in p.stdout
        assert beside == (name != "pcapng"), (name, p.stdout[-600:])
        out = extra[3] if not cwd else os.path.join(
            cwd, "reports", os.listdir(os.path.join(cwd, "reports"))[0])
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
        outs[name] = (out, {fd["id"]: (pack_numbers(fd), fd["packets_out"] + fd["packets_in"])
                            for fd in rep["findings"]})
        e2e.run(["verify", out], expect=0)
    first, numbers = outs["into -o"]
    assert len(numbers) > 50
    for name, (out, nums) in outs.items():
        assert same_bytes(os.path.join(first, PACK), os.path.join(out, PACK)), name
        assert nums == numbers, name


def test_disk_full():
    """A file system that fills up while the report is written (a tmpfs of
    96 KiB, as root): exit 3, a message naming the file the report could
    not write and why, and nothing left behind, the pack being written
    beside the replay included."""
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    mnt = os.path.join(e2e.WORK, "full")
    os.makedirs(mnt, exist_ok=True)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", mnt],
                       capture_output=True, text=True)
    if m.returncode != 0:
        raise Skip("cannot mount a tmpfs: " + m.stderr.strip())
    try:
        p = e2e.run(["audit", "--quiet", "-r", many_capture(70, 12), "-p",
                     os.path.join(e2e.FIX, "policy.json"), "--no-geo", "-o",
                     os.path.join(mnt, "report")], expect=3)
        err = p.stderr.strip().splitlines()
        assert len(err) == 1 and mnt in err[0] and "No space left on device" in err[0], err
        assert os.listdir(mnt) == [], os.listdir(mnt)
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


def test_report_file_too_large():
    """A report file the system refuses to grow (a file size limit between
    the largest other output and report.json, SIGXFSZ ignored): exit 3,
    one line naming report.json and the reason, nothing left behind."""
    path = many_capture(20, 0)
    fmt = ["--format", "json,ndjson,junit"]  # report.html is the largest file otherwise
    _, _, whole = e2e.audit(path, *fmt, expect=1)
    sizes = {os.path.relpath(os.path.join(dp, f), whole): os.path.getsize(os.path.join(dp, f))
             for dp, _, fs in os.walk(whole) for f in fs}
    limit = sizes["report.json"] - 256
    others = {k: v for k, v in sizes.items() if k != "report.json"}
    # report.json's flows (a part of it) are written apart first: below the limit too
    assert max(others.values()) + 256 < limit, sizes
    out = os.path.join(e2e.WORK, "too-large")
    shutil.rmtree(out, ignore_errors=True)

    def limited():
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    p = subprocess.run([e2e.BIN, "audit", "--quiet", "-r", path, "-p",
                        os.path.join(e2e.FIX, "policy.json"), "-g", e2e.GEO, "--asn", e2e.ASN,
                        "-o", out] + fmt,
                       capture_output=True, text=True, preexec_fn=limited, timeout=300)
    assert p.returncode == 3, (p.returncode, p.stderr[-2000:])
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and "report.json" in err[0] and "File too large" in err[0], err
    assert not os.path.exists(out), os.listdir(out)


def test_html_links_pack_and_filter():
    rep, out, _, _ = reports()
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        html = f.read()
    assert 'href="%s"' % PACK in html
    fd = rep["findings"][41]
    esc = fd["evidence_filter"].replace('"', "&quot;")
    assert esc in html, esc
    assert "flowaudit evidence REPORT_DIR %s -w %s.pcap" % (fd["id"], fd["id"]) in html


def keyed_captures():
    """The keyed captures of tests/gen/tlscap.py (made once, as root, in
    network namespaces) and their key logs."""
    if "tls" not in STATE:
        why = tlscap.prerequisites()
        if why:
            STATE["tls"] = Skip(why)
        else:
            out = os.path.join(e2e.WORK, "tls")
            names = tlscap.generate(out)
            STATE["tls"] = [(os.path.join(out, n + ".pcap"), os.path.join(out, n + ".keys"))
                            for n in names]
    if isinstance(STATE["tls"], Exception):
        raise STATE["tls"]
    return STATE["tls"]


def tls_audit(fmt):
    args = ["audit", "--quiet", "--no-geo", "--format", fmt,
            "-p", os.path.join(TLS_E2E, "policy.json"), "-d", os.path.join(TLS_E2E, "device.json")]
    for cap, keys in keyed_captures():
        args += ["-r", cap, "--keylog", keys]
    out = os.path.join(e2e.WORK, "tls-" + fmt.replace(",", "-"))
    p = e2e.run(args + ["-o", out])
    assert p.returncode in (0, 1), p.stderr[-2000:]
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f), out


def test_keyed_tls_cut_keeps_its_keys():
    rep, out = tls_audit("all,evidence-pack")
    frep, fout = tls_audit("all,evidence-files")
    keyed = [fd for fd in frep["findings"] if fd["evidence"] and fd["evidence"].endswith(".pcapng")]
    assert keyed, "the lab's captures give findings read inside TLS"
    assert rep["findings"][0]["evidence"] == PACK
    # the pack decrypts as it is: HTTP inside TLS, with no key log given
    http = tshark(["-r", os.path.join(out, PACK), "-o", "tls.keylog_file:/dev/null",
                   "-Y", "http or http2", "-T", "fields", "-e", "frame.number"]).split()
    assert http, "the pack's secrets block decrypts its TLS"
    for fd in frep["findings"]:
        dst = os.path.join(e2e.WORK, "tls-%s.%s" % (fd["id"], fd["evidence"].rsplit(".", 1)[1]))
        e2e.run(["evidence", out, fd["id"], "-w", dst], expect=0)
        assert same_bytes(dst, os.path.join(fout, fd["evidence"])), fd["id"]
    # a keyed cut reads decrypted alone
    fd = keyed[0]
    dst = os.path.join(e2e.WORK, "tls-%s.pcapng" % fd["id"])
    got = tshark(["-r", dst, "-o", "tls.keylog_file:/dev/null", "-Y", "http or http2",
                  "-T", "fields", "-e", "frame.number"]).split()
    assert got, fd["id"]


# ---------------------------------------------------------------- harness

def bind(binary, work):
    e2e.bind(binary, work)


if __name__ == "__main__":
    sys.exit(suite.main("evidence-pack", globals(), lambda b, w: e2e.build_mmdb(), (Skip, e2e.Skip),
                        bind, order=suite.in_file_order(globals())))
