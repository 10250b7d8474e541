"""harness -- start the real phoenix-dns on loopback and ask it with dig.

Every server is started by the test on a free port and stopped by its PID; every wait is bounded.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("PHOENIX_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("PHOENIX_BUILD_DIR", SOURCE_DIR / "build" / "debug"))
BINARY = os.environ.get("PHOENIX_DNS", str(BUILD_DIR / "server" / "phoenix-dns"))
EXAMPLE = SOURCE_DIR / "packaging" / "examples" / "inventory"
SHARED_INVENTORY = SOURCE_DIR.parent / "shared" / "inventory" / "phoenix"


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def nsd_server_conf(d, port):
    """The start of an nsd.conf "server:" clause that keeps every file of NSD in `d`, listening on
    127.0.0.1@port, as the user who started it; the caller adds its own options after it."""
    return f"""server:
    ip-address: 127.0.0.1
    port: {port}
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    server-count: 1
"""


def copy_inventory(src=EXAMPLE, edit=None):
    """Copies an inventory to a temp dir; `edit(files)` may change the parsed JSON dict of each file."""
    dst = Path(tempfile.mkdtemp(prefix="phoenix-inv-"))
    for f in Path(src).iterdir():
        if f.is_file():
            shutil.copy(f, dst / f.name)
    if edit:
        files = {f.name: json.loads(f.read_text()) for f in dst.glob("*.json")}
        edit(files)
        for name, data in files.items():
            (dst / name).write_text(json.dumps(data, indent=2))
    return dst


@dataclass
class Reply:
    rcode: str
    flags: set
    question: list = field(default_factory=list)
    answer: list = field(default_factory=list)
    authority: list = field(default_factory=list)
    additional: list = field(default_factory=list)
    edns: bool = False
    udp_size: int = 0
    text: str = ""

    def rdata(self, rtype=None, section="answer"):
        return sorted(r[4] for r in getattr(self, section) if rtype is None or r[3] == rtype)


def parse_dig(text):
    """Parses dig's default output for one reply."""
    m = re.search(r"status: (\w+)", text)
    if not m:
        raise AssertionError("no reply from dig:\n" + text)
    flags = set(re.search(r";; flags:([^;]*);", text).group(1).split())
    reply = Reply(rcode=m.group(1), flags=flags, text=text)
    e = re.search(r"; EDNS: version: \d+, flags:[^;]*; udp: (\d+)", text)
    if e:
        reply.edns, reply.udp_size = True, int(e.group(1))
    section = None
    for line in text.splitlines():
        h = re.match(r";; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
        if h:
            section = h.group(1).lower()
            continue
        if not line.strip() or (line.startswith(";") and section != "question"):
            if not line.strip():
                section = None
            continue
        if section == "question":
            parts = line.lstrip(";").split()
            reply.question.append(tuple(parts))
        elif section:
            parts = line.split(None, 4)
            if len(parts) == 5:
                getattr(reply, section).append((parts[0], int(parts[1]), parts[2], parts[3], parts[4]))
    return reply


def dig(port, name, rtype="A", source=None, tcp=False, extra=(), server="127.0.0.1", timeout=3):
    cmd = ["dig", f"@{server}", "-p", str(port), name, rtype, "+norec", "+nocookie", "+time=2", "+tries=1"]
    if source:
        cmd += ["-b", source]
    if tcp:
        cmd.append("+tcp")
    cmd += list(extra)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5)
    return parse_dig(out.stdout)


class Server:
    """Runs phoenix-dns until stop(); usable as a context manager."""

    def __init__(self, inventory=EXAMPLE, args=(), port=None, state_dir=None, env=None, upstreams=()):
        self.inventory = Path(inventory)
        # Tests never reach real resolvers (the example names 8.8.8.8): forwarding is off unless a test
        # names loopback upstreams here, or passes None to use the inventory's own upstream_servers.
        self.upstreams = upstreams
        self.port = port or free_port()
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="phoenix-state-")
        self.args = list(args)
        self.env = env
        self.proc = None
        self.log_path = Path(tempfile.mkstemp(prefix="phoenix-log-")[1])

    def start(self, wait=True):
        self.log = open(self.log_path, "w")
        cmd = [BINARY, "--inventory", str(self.inventory), "--listen", f"127.0.0.1:{self.port}",
               "--state-dir", str(self.state_dir), "--threads", "2"] + self.args
        if os.geteuid() == 0 and "--user" not in self.args:
            cmd.append("--allow-root")  # CI runs as root; the server refuses that unless told (test_privileges)
        if self.upstreams is not None:
            for u in self.upstreams or ["none"]:
                cmd += ["--upstream", u]
        if "--resolv-conf" not in self.args:
            # Without upstreams the server falls back to the host's resolv.conf: never in a test.
            cmd += ["--resolv-conf", os.devnull]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"phoenix-dns exited with {self.proc.returncode}:\n{self.output()}")
            if "info: serving " in self.output():  # the ready line, not any line that says "serving"
                return
            time.sleep(0.05)
        raise AssertionError("phoenix-dns did not become ready:\n" + self.output())

    def output(self):
        return self.log_path.read_text(errors="replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def dig(self, name, rtype="A", **kw):
        return dig(self.port, name, rtype, **kw)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def stop_process(proc, timeout=10):
    """SIGTERM to a process the test started, then SIGKILL if it has not exited within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def run_binary(*args, timeout=30):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


class ServerTest(unittest.TestCase):
    """A test case with one server on the example inventory for the whole class."""
    inventory = EXAMPLE
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.inventory, cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        if rc != 0:
            raise AssertionError(f"phoenix-dns exited {rc} on SIGTERM:\n{cls.server.output()}")
