#!/usr/bin/python3
"""End-to-end tests of what `verify` proves and of the report directory's
guarantees: tampering that keeps the manifest consistent, files the
manifest does not list, the manifest's own digest, verify run away from
the audit's directory, audits stopped by SIGINT/SIGTERM in each phase, a
mount point as -o, and two audits into one -o.

Usage: test_verify.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "verify: N passed, N failed, N skipped".
"""
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402

FIX = e2e.FIX


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def demo_report():
    """A fresh report of the demo scenario: (report dir, audit stdout)."""
    out = tempfile.mkdtemp(prefix="rep-", dir=e2e.WORK)
    shutil.rmtree(out)
    p = e2e.run(["audit", "-r", e2e.cap("demo"), "-p", os.path.join(FIX, "policy.json"),
                 "-g", e2e.GEO, "--asn", e2e.ASN, "-o", out], expect=1)
    return out, p.stdout


def manifest_lines(out):
    with open(os.path.join(out, "MANIFEST.sha256")) as f:
        return f.read().splitlines(True)


def rewrite_manifest(out, keep):
    lines = [ln for ln in manifest_lines(out) if keep(ln)]
    with open(os.path.join(out, "MANIFEST.sha256"), "w") as f:
        f.writelines(lines)


def relist(out, name):
    """Recomputes name's line in the manifest, as a consistent forger would."""
    digest = sha256(os.path.join(out, name))
    lines = [("%s  %s\n" % (digest, name)) if ln.rstrip("\n").endswith("  " + name) else ln
             for ln in manifest_lines(out)]
    with open(os.path.join(out, "MANIFEST.sha256"), "w") as f:
        f.writelines(lines)


# ---------------------------------------------------------------- tampering

def test_cited_evidence_removed_with_its_line():
    """A finding's evidence pcap deleted together with its manifest line:
    report.json still cites it, so verify fails and names it."""
    out, _ = demo_report()
    rep = json.load(open(os.path.join(out, "report.json")))
    victim = rep["findings"][-1]["evidence"]
    assert victim and victim.startswith("evidence/"), victim
    e2e.run(["verify", out], expect=0)
    os.remove(os.path.join(out, victim))
    rewrite_manifest(out, lambda ln: not ln.rstrip("\n").endswith("  " + victim))
    p = e2e.run(["verify", out], expect=1)
    assert "MISSING %s: cited by report.json" % victim in p.stdout, p.stdout


def test_report_json_removed_with_its_line():
    """A directory whose manifest no longer lists report.json is no report."""
    out, _ = demo_report()
    os.remove(os.path.join(out, "report.json"))
    rewrite_manifest(out, lambda ln: not ln.rstrip("\n").endswith("  report.json"))
    p = e2e.run(["verify", out], expect=1)
    assert "MISSING report.json" in p.stdout, p.stdout


def test_unlisted_symlink():
    out, _ = demo_report()
    os.symlink("/etc/passwd", os.path.join(out, "evidence", "extra.pcap"))
    p = e2e.run(["verify", out], expect=1)
    assert "UNLISTED evidence/extra.pcap (symbolic link)" in p.stdout, p.stdout


def test_unlisted_empty_directory():
    out, _ = demo_report()
    os.mkdir(os.path.join(out, "attachments"))
    p = e2e.run(["verify", out], expect=1)
    assert "UNLISTED attachments/ (empty directory)" in p.stdout, p.stdout


def test_manifest_digest_printed_and_expected():
    """audit and verify print the manifest's SHA-256; an edit of report.json
    with its manifest line recomputed passes a plain verify (the manifest is
    consistent) but not one given the digest the audit printed."""
    out, stdout = demo_report()
    m = re.search(r"^manifest: SHA256 ([0-9a-f]{64})$", stdout, re.M)
    assert m, stdout
    recorded = m.group(1)
    assert recorded == sha256(os.path.join(out, "MANIFEST.sha256"))
    p = e2e.run(["verify", "--expect-manifest", recorded, out], expect=0)
    assert "manifest: SHA256 %s" % recorded in p.stdout, p.stdout
    path = os.path.join(out, "report.json")
    with open(path) as f:
        rep = json.load(f)
    assert rep["verdict"] != "pass", rep["verdict"]
    rep["verdict"] = "pass"
    with open(path, "w") as f:
        json.dump(rep, f)
    relist(out, "report.json")
    e2e.run(["verify", out], expect=0)
    p = e2e.run(["verify", "--expect-manifest", recorded.upper(), out], expect=1)
    assert "CHANGED MANIFEST.sha256" in p.stdout and recorded in p.stdout, p.stdout
    p = e2e.run(["verify", "--expect-manifest", "abc", out], expect=2)
    assert "64 hex digits" in p.stderr, p.stderr


# ---------------------------------------------------------------- inputs

def _site_report():
    """An audit run inside a directory of its own with relative input paths:
    (site dir, report dir)."""
    site = tempfile.mkdtemp(prefix="site-", dir=e2e.WORK)
    shutil.copy(e2e.cap("demo"), os.path.join(site, "demo.pcap"))
    shutil.copy(os.path.join(FIX, "policy.json"), os.path.join(site, "policy.json"))
    shutil.copy(e2e.GEO, os.path.join(site, "country.mmdb"))
    shutil.copy(e2e.ASN, os.path.join(site, "asn.mmdb"))
    sigs = os.path.join(e2e.TOP, "signatures")
    p = subprocess.run([e2e.BIN, "audit", "-r", "demo.pcap", "-p", "policy.json", "-g",
                        "country.mmdb", "--asn", "asn.mmdb", "-s", sigs, "-o", "report",
                        "--quiet"], cwd=site, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1, p.stderr
    return site, os.path.join(site, "report")


def test_verify_from_another_directory():
    """Inputs recorded relative to the audit's directory and not found from
    elsewhere are NOT CHECKED, not MISSING, and do not fail verify; the
    outputs are still checked."""
    site, out = _site_report()
    p = subprocess.run([e2e.BIN, "verify", out], cwd="/", capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "MISSING" not in p.stdout, p.stdout
    assert "4 inputs not found, not checked" in p.stdout, p.stdout
    p = subprocess.run([e2e.BIN, "verify", "-v", out], cwd="/", capture_output=True, text=True)
    assert "NOT CHECKED input:demo.pcap: not found" in p.stdout, p.stdout
    # an output changed is still caught from there
    e2e.flip(os.path.join(out, "report.html"))
    p = subprocess.run([e2e.BIN, "verify", out], cwd="/", capture_output=True, text=True)
    assert p.returncode == 1 and "CHANGED report.html" in p.stdout, p.stdout


def test_verify_inputs_dir():
    """--inputs DIR finds the relative inputs: all of them checked, and one
    changed fails."""
    site, out = _site_report()
    p = subprocess.run([e2e.BIN, "verify", "--inputs", site, out], cwd="/", capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "not checked" not in p.stdout, p.stdout
    e2e.flip(os.path.join(site, "policy.json"), 0)
    p = subprocess.run([e2e.BIN, "verify", "--inputs", site, out], cwd="/", capture_output=True,
                       text=True)
    assert p.returncode == 1 and "CHANGED input:policy.json" in p.stdout, p.stdout


# ---------------------------------------------------------------- signals

ETH = bytes.fromhex("020000000001" "020000000017") + b"\x08\x00"


def long_capture():
    """400,000 UDP datagrams from the device (192.168.1.23) to four public
    addresses from 60,000 ports: every phase of an audit (replay, evidence,
    report files, hashing) takes a good part of a second in the ASan build."""
    path = os.path.join(e2e.WORK, "long.pcap")
    if os.path.exists(path):
        return path
    payload = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"a" * 200
    with open(path + ".part", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        t = 1767225600 * 1000000
        src = bytes([192, 168, 1, 23])
        for i in range(400000):
            dst = bytes([47, 92, 1, 10 + (i % 4)])
            udp = struct.pack(">HHHH", 1024 + (i * 7919) % 60000, 9999, 8 + len(payload), 0) + payload
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src,
                             dst) + udp
            t += 10
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(ETH) + len(ip),
                                len(ETH) + len(ip)) + ETH + ip)
    os.rename(path + ".part", path)
    return path


def _leftovers(parent, base):
    return [n for n in os.listdir(parent) if n.startswith(base + ".")]


def _stop_at(phase, sig):
    """Runs an audit of the long capture into a directory that holds an
    earlier report, sends sig once the run reaches phase, and checks the
    exit status, that nothing of the run is left, and that the earlier
    report is untouched."""
    out, _ = demo_report()
    before = sha256(os.path.join(out, "MANIFEST.sha256"))
    parent, base = os.path.split(out)
    args = [e2e.BIN, "audit", "-r", long_capture(), "-p", os.path.join(FIX, "policy.json"),
            "--no-geo", "-o", out, "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    build = os.path.join(parent, "%s.tmp-%d" % (base, proc.pid))
    marker = {"replay": None, "evidence": build, "report files": os.path.join(build, "report.json"),
              "hashing": os.path.join(build, "junit.xml")}[phase]
    t0 = time.monotonic()
    while proc.poll() is None:
        if marker is None and time.monotonic() - t0 > 0.5:
            assert not os.path.exists(build), "the replay was over before 0.5 s"
            break
        if marker is not None and os.path.exists(marker):
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the audit ended (exit %s) before its %s phase was seen" % (
        proc.returncode, phase)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    want = 128 + sig
    assert proc.returncode == want, "%s at %s: exit %d, wanted %d: %s" % (
        signal.Signals(sig).name, phase, proc.returncode, want, err)
    assert "interrupted by %s" % signal.Signals(sig).name in err, err
    assert _leftovers(parent, base) == [], _leftovers(parent, base)
    assert sha256(os.path.join(out, "MANIFEST.sha256")) == before
    e2e.run(["verify", "--expect-manifest", before, out], expect=0)


def test_sigint_during_replay():
    _stop_at("replay", signal.SIGINT)


def test_sigterm_during_evidence():
    _stop_at("evidence", signal.SIGTERM)


def test_sigint_during_report_files():
    _stop_at("report files", signal.SIGINT)


def test_sigterm_during_hashing():
    _stop_at("hashing", signal.SIGTERM)


def test_sigterm_into_new_directory():
    """Stopped before anything was written, a run into a directory that did
    not exist leaves none."""
    out = os.path.join(e2e.WORK, "never-made")
    proc = subprocess.Popen([e2e.BIN, "audit", "-r", long_capture(), "-p",
                             os.path.join(FIX, "policy.json"), "--no-geo", "-o", out, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert not os.path.exists(out)
    assert _leftovers(e2e.WORK, "never-made") == []


# ---------------------------------------------------------------- output directories

def test_outdir_mount_point():
    """-o at a mount point (a bind mount: it cannot be renamed) gets the
    report written in place, and a second run replaces it whole."""
    if os.geteuid() != 0:
        raise e2e.Skip("mount --bind needs root")
    src = tempfile.mkdtemp(prefix="mnt-src-", dir="/tmp")
    mnt = tempfile.mkdtemp(prefix="mnt-", dir=e2e.WORK)
    m = subprocess.run(["mount", "--bind", src, mnt], capture_output=True, text=True)
    if m.returncode != 0:
        shutil.rmtree(src)
        raise e2e.Skip("mount --bind refused: %s" % m.stderr.strip())
    try:
        args = ["audit", "-r", e2e.cap("demo"), "-p", os.path.join(FIX, "policy.json"), "-g",
                e2e.GEO, "--asn", e2e.ASN, "-o", mnt, "--quiet"]
        e2e.run(args, expect=1)
        e2e.run(["verify", mnt], expect=0)
        first = sha256(os.path.join(mnt, "MANIFEST.sha256"))
        p = e2e.run(args + ["--format", "json,evidence"], expect=1)
        assert sha256(os.path.join(mnt, "MANIFEST.sha256")) != first
        assert not os.path.exists(os.path.join(mnt, "report.html")), os.listdir(mnt)
        e2e.run(["verify", mnt], expect=0)
        assert sorted(os.listdir(src)) == sorted(os.listdir(mnt))
    finally:
        subprocess.run(["umount", mnt], check=True)
        shutil.rmtree(src)
        os.rmdir(mnt)


def test_outdir_dot():
    """-o . is written in place: a shell inside the directory keeps seeing
    the report (the directory is the same one), run after run."""
    d = tempfile.mkdtemp(prefix="dot-", dir=e2e.WORK)
    ino = os.stat(d).st_ino
    args = [e2e.BIN, "audit", "-r", e2e.cap("demo"), "-p", os.path.join(FIX, "policy.json"),
            "-g", e2e.GEO, "--asn", e2e.ASN, "-o", ".", "--quiet"]
    for _ in range(2):
        p = subprocess.run(args, cwd=d, capture_output=True, text=True)
        assert p.returncode == 1, p.stderr
        assert os.stat(d).st_ino == ino, "the directory was replaced"
        p = subprocess.run([e2e.BIN, "verify", "."], cwd=d, capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(os.listdir(d)) == ["MANIFEST.sha256", "evidence", "findings.ndjson",
                                     "junit.xml", "report.html", "report.json"], os.listdir(d)


def test_two_audits_one_outdir():
    """A second audit into an -o that another is writing is refused at once
    (exit 3, saying why); the first one's report is whole."""
    out = os.path.join(e2e.WORK, "shared-out")
    first = subprocess.Popen([e2e.BIN, "audit", "-r", long_capture(), "-p",
                              os.path.join(FIX, "policy.json"), "--no-geo", "-o", out, "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not os.path.isdir(out) and first.poll() is None and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    p = e2e.run(["audit", "-r", e2e.cap("demo"), "-p", os.path.join(FIX, "policy.json"), "-g",
                 e2e.GEO, "--asn", e2e.ASN, "-o", out, "--quiet"], expect=3)
    assert "another flowaudit run is writing a report there" in p.stderr, p.stderr
    assert first.poll() is None, "the first audit ended before the second was refused"
    _, err = first.communicate(timeout=600)
    assert first.returncode == 1, err
    e2e.run(["verify", out], expect=0)
    rep = json.load(open(os.path.join(out, "report.json")))
    assert rep["inputs"]["captures"][0]["path"].endswith("long.pcap")


def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    return suite.main("verify", globals(), lambda b, w: e2e.build_mmdb(), (e2e.Skip,), bind)


if __name__ == "__main__":
    sys.exit(main())
