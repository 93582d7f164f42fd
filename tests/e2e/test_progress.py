#!/usr/bin/python3
"""End-to-end tests of the progress line: `flows` and `audit` on a capture
file, and `capture` on an interface, draw one line on stderr (packets,
flows, packets per second, and for files the bytes read of their size)
when stderr is a terminal, and write nothing of it when stderr is a pipe
or --quiet is given; standard output is the same either way.

Usage: test_progress.py BUILD/flowaudit [NAME-SUBSTRING]
Last line: "progress: N passed, N failed, N skipped".
"""
import os
import pty
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (the shared harness)
import run as e2e  # noqa: E402


class Skip(Exception):
    pass


# "\rflowaudit: 20k packets, 1.2k flows, 45k packets/s, 0.5 of 1.0 MB (50%)"
FILE_LINE = re.compile(rb"\rflowaudit: [0-9.]+[kMG]? packets, [0-9.]+[kMG]? flows, "
                       rb"[0-9.]+[kMG]? packets/s, [0-9.]+ of ([0-9.]+) MB \(([0-9]+)%\)")
ANY_LINE = re.compile(rb"flowaudit: [0-9.]+[kMG]? packets, ")


def make_capture(path, packets=30000):
    """An Ethernet pcap of UDP datagrams between 200 clients and 50 servers."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(packets):
            payload = b"x" * (40 + i % 200)
            udp = struct.pack("!HHHH", 40000 + i % 200, 5000 + i % 50, 8 + len(payload), 0)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(payload), i & 0xffff,
                             0, 64, 17, 0, bytes([10, 0, 0, 1 + i % 200]),
                             bytes([192, 0, 2, 1 + i % 50]))
            frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp + payload
            f.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000,
                                len(frame), len(frame)))
            f.write(frame)


def on_terminal(args, stdout_path):
    """Runs flowaudit with stderr on a pseudo-terminal; (exit status, what
    the terminal got)."""
    master, slave = pty.openpty()
    with open(stdout_path, "wb") as out:
        p = subprocess.Popen([e2e.BIN] + args, stdout=out, stderr=slave,
                             stdin=subprocess.DEVNULL)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    return p.wait(timeout=300), got


def on_pipe(args, stdout_path):
    with open(stdout_path, "wb") as out:
        p = subprocess.run([e2e.BIN] + args, stdout=out, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=300)
    return p.returncode, p.stderr


def capture_path():
    path = os.path.join(e2e.WORK, "progress.pcap")
    if not os.path.exists(path):
        make_capture(path)
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_flows_terminal_shows_progress():
    cap = capture_path()
    args = ["flows", "--json", "--no-geo", "-r", cap]
    rc, tty = on_terminal(args, os.path.join(e2e.WORK, "tty.json"))
    assert rc == 0, tty
    m = FILE_LINE.search(tty)
    assert m, "no progress line on the terminal: %r" % tty[-400:]
    size_mb = os.path.getsize(cap) / 1e6
    assert abs(float(m.group(1)) - size_mb) < 0.06, (m.group(1), size_mb)
    assert 0 <= int(m.group(2)) <= 100
    # the line is cleared at the end, so nothing of it is left on screen
    assert tty.rfind(b"\r\x1b[K") > m.start()
    rc2, err = on_pipe(args, os.path.join(e2e.WORK, "pipe.json"))
    assert rc2 == 0
    assert read(os.path.join(e2e.WORK, "tty.json")) == read(os.path.join(e2e.WORK, "pipe.json"))


def test_flows_pipe_and_quiet_show_none():
    cap = capture_path()
    rc, err = on_pipe(["flows", "--no-geo", "-r", cap], os.path.join(e2e.WORK, "p.txt"))
    assert rc == 0
    assert not ANY_LINE.search(err) and b"\r" not in err, err
    rc, tty = on_terminal(["flows", "--quiet", "--no-geo", "-r", cap],
                          os.path.join(e2e.WORK, "q.txt"))
    assert rc == 0
    assert not ANY_LINE.search(tty) and b"\r\x1b[K" not in tty, tty


def test_audit_terminal_shows_progress():
    cap = capture_path()
    out = os.path.join(e2e.WORK, "report")
    shutil.rmtree(out, ignore_errors=True)
    rc, tty = on_terminal(["audit", "-r", cap, "-p", os.path.join(e2e.FIX, "policy.json"),
                           "--no-geo", "-o", out], os.path.join(e2e.WORK, "audit.txt"))
    assert rc in (0, 1), tty
    assert FILE_LINE.search(tty), "no progress line on the terminal: %r" % tty[-400:]


def test_capture_terminal_shows_progress():
    """capture on the loopback of a network namespace of its own: a line
    with the kernel's drops instead of a position."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise Skip("needs root and unshare(1) for a network namespace")
    out = os.path.join(e2e.WORK, "cap-report")
    shutil.rmtree(out, ignore_errors=True)
    pcapng = os.path.join(e2e.WORK, "lo.pcapng")
    send = ("import socket, time; time.sleep(0.7); s = socket.socket(socket.AF_INET, "
            "socket.SOCK_DGRAM); [s.sendto(b'x' * 64, ('127.0.0.1', 9999)) for _ in range(50)]")
    script = ("ip link set lo up && (%s -c \"%s\" &) && exec %s capture -i lo -p %s --no-geo "
              "--duration 2 -w %s -o %s" % (sys.executable, send, e2e.BIN,
                                            os.path.join(e2e.FIX, "policy.json"), pcapng, out))
    master, slave = pty.openpty()
    p = subprocess.Popen(["unshare", "--net", "sh", "-c", script], stdout=subprocess.DEVNULL,
                         stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    p.wait(timeout=60)
    # a loopback has no device under test: the verdict is inconclusive
    assert os.path.exists(os.path.join(out, "report.json")), got
    lines = re.findall(rb"\rflowaudit: ([0-9.]+[kMG]?) packets, [0-9.]+[kMG]? flows, "
                       rb"[0-9.]+[kMG]? packets/s, [0-9.]+[kMG]? dropped by the kernel", got)
    assert lines, got
    # the 50 datagrams, each seen leaving and arriving on lo
    assert lines[-1] == b"100", lines
    assert b" MB (" not in got


def bind(binary, work_dir):
    e2e.BIN, e2e.WORK = binary, work_dir


def main():
    return suite.main("progress", globals(), lambda b, w: e2e.build_mmdb(), (Skip, e2e.Skip), bind,
                      order=suite.in_file_order(globals()))


if __name__ == "__main__":
    sys.exit(main())
