"""A test lab of two network namespaces joined by a veth pair, shared by the
live-capture suite (tests/live/run.py) and the keyed-capture generator
(tests/gen/tlscap.py).

The device namespace holds dev_ip/24 with a default route via gw_ip; the
gateway namespace holds gw_ip/24 on its end of the pair, and the lab's
"internet" hosts as /32 addresses on its loopback (add_address). IPv6 is
off on the link and the neighbours are static, so the only frames on it
are the ones a test makes. Nothing is bridged or routed out of the pair.
Processes started in the lab (spawn) are ended, and the namespaces
deleted, by close(), whatever happened before; `with` does both.
"""
import json
import os
import re
import signal
import subprocess
import time


class LabError(RuntimeError):
    """The lab could not be built or broke: not a finding about flowaudit."""


def sh(*args, check=True, timeout=30, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise LabError("%s: exit %d: %s" % (" ".join(args), p.returncode,
                                            (p.stderr or p.stdout).strip()[-1500:]))
    return p


class VethLab:
    """Namespaces dev and gw, interfaces dif (device end) and gif (gateway
    end, where captures are taken). Subclasses build on link()."""

    def __init__(self, dev, gw, dif, gif, work_dir, dev_ip, gw_ip):
        assert len(gif) <= 15 and len(dif) <= 15, (gif, dif)
        self.dev, self.gw, self.dif, self.gif = dev, gw, dif, gif
        self.dir = work_dir
        self.dev_ip, self.gw_ip = dev_ip, gw_ip
        self.procs = []
        self.namespaces = []

    def __enter__(self):
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def build(self):
        self.link()

    def link(self, one_segment_per_packet=False):
        """The namespaces, the veth pair, addresses, routes, neighbours.
        one_segment_per_packet: no GSO super-packets, so that large TLS
        records span several segments, as on a real link."""
        for ns in (self.dev, self.gw):
            sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
        sh("ip", "link", "add", self.gif, "type", "veth", "peer", "name", self.dif)
        sh("ip", "link", "set", self.gif, "netns", self.gw)
        sh("ip", "link", "set", self.dif, "netns", self.dev)
        up = ["gso_max_segs", "1", "up"] if one_segment_per_packet else ["up"]
        for ns, ifc, addr in ((self.gw, self.gif, self.gw_ip), (self.dev, self.dif, self.dev_ip)):
            sh("ip", "netns", "exec", ns, "sh", "-c",
               "echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6" % ifc)
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", ifc)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", ifc, *up)
        sh("ip", "-n", self.dev, "route", "add", "default", "via", self.gw_ip)
        mac = {}
        for ns, ifc in ((self.gw, self.gif), (self.dev, self.dif)):
            mac[ifc] = json.loads(sh("ip", "-j", "-n", ns, "link", "show", "dev",
                                     ifc).stdout)[0]["address"]
        sh("ip", "-n", self.gw, "neigh", "replace", self.dev_ip, "lladdr", mac[self.dif], "dev",
           self.gif, "nud", "permanent")
        sh("ip", "-n", self.dev, "neigh", "replace", self.gw_ip, "lladdr", mac[self.gif], "dev",
           self.dif, "nud", "permanent")

    def add_address(self, ip):
        sh("ip", "-n", self.gw, "addr", "add", ip + "/32", "dev", "lo")

    def spawn(self, name, args, cwd=None):
        """A server in the gateway namespace, its output in DIR/NAME.log."""
        log = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.gw] + args, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        log.close()
        p.lab_name = name
        self.procs.append(p)
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log")) as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def wait_listening(self, want, timeout=15):
        """Until every socket in want listens in the gateway namespace: an
        entry is "ADDR:PORT" or "PROTO:ADDR:PORT" as `ss -Hlntu` shows it."""
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise LabError("lab %s exited %d: %s" % (p.lab_name, p.returncode,
                                                             self.log(p.lab_name)))
            out = sh("ip", "netns", "exec", self.gw, "ss", "-Hlntu").stdout
            have = set()
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 5:
                    have.update((parts[4], "%s:%s" % (parts[0], parts[4])))
            if set(want) <= have:
                return
            time.sleep(0.05)
        raise LabError("lab servers not listening after %d s (want %s): %s" %
                       (timeout, sorted(want), out))

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=3)
        # Anything still running in a namespace of this lab was started by
        # this lab (a child of one of its processes); end it by its id.
        for ns in self.namespaces:
            r = sh("ip", "netns", "pids", ns, check=False)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for ns in self.namespaces:
            sh("ip", "netns", "del", ns, check=False)
        # the veth pair, had the move into the namespaces failed
        sh("ip", "link", "del", self.gif, check=False)


def remove_stale_namespaces(pattern):
    """Namespaces a killed run left behind: those whose name matches
    pattern, a regular expression whose first group is the pid of the run
    that made them, when that process is gone."""
    r = sh("ip", "netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(pattern, name)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            sh("ip", "netns", "del", name, check=False)
