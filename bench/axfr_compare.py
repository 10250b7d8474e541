#!/usr/bin/env python3
"""Zone transfers of one big zone: phoenix-dns, Knot and NSD as the primary.

Every primary serves its own copy of the same zone file of N names (bench/gen_data.py, 1M by default),
pinned to CPU 0, and NOTIFYs a knotd secondary (pinned to CPU 1) on loopback ports the OS picks.
Four figures (--sections), the first three for each primary in the same interleaved rounds:

  axfr    time from starting a fresh knotd secondary (empty storage) until it answers the zone's last
          name with the primary's serial;
  drain   the primary's own send speed, apart from the secondary's ingestion (which bounds `axfr` at
          1M names): the time this script's raw client (`axfr_compare.py drain`, pinned to CPU 1) takes
          from the AXFR query to the closing SOA, reading each message and throwing it away;
  change  one record changed (and the file's SOA serial bumped): phoenix-dns gets SIGHUP, Knot
          `knotc zone-reload` (zonefile-load: difference, so it has an IXFR to serve), NSD SIGHUP; time
          until the secondary, told by the primary's NOTIFY, answers the new address (needs a secondary
          holding the zone: it runs `axfr` too);
  p99     phoenix-dns only: the UDP query path's p99 latency (phoenix-loadgen on CPU 1 at half of the
          peak qps measured here, same zone and queries) without a transfer, and while the raw client
          transfers the zone back to back for the whole window; each round reports both p99s, the
          queries lost (and those the kernel dropped at the server's socket), the AXFRs completed and
          is marked not valid when a run lost more than 1% or no AXFR completed. --duration defaults
          to 6 times phoenix-dns's raw drain (at least 3 s), so that several AXFRs fit a window.

Prints Markdown tables with the rounds and the ratios phoenix / Knot and phoenix / NSD (below 1 is
faster for times). `--names 2000 --rounds 1` is the ctest smoke. Server processes come from
bench/compare's Server (same settings as the query benchmarks); only the PIDs started here are stopped.
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ZONE = "bench.test"
PRIMARIES = ("phoenix", "knot", "nsd")
SKIP = 77  # ctest's SKIP_RETURN_CODE


def load_compare():
    """bench/compare as a module (it is a script without .py): its Server, dns_query and loadgen."""
    path = os.path.join(HERE, "compare")
    spec = importlib.util.spec_from_loader("bench_compare", importlib.machinery.SourceFileLoader("bench_compare", path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


compare = load_compare()


def log(*a):
    compare.log(*a)


def free_port():
    # A UDP and a TCP socket on the same port: every server here listens on both.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n >= 0xC0:
            return off + 2
        off += 1 + n


def answers(msg, qtype):
    """The rdata of every answer record of `qtype` in a reply (no name decompression needed)."""
    if msg is None or len(msg) < 12 or msg[3] & 0x0F:
        return []
    qd, an = struct.unpack(">HH", msg[4:8])
    off = 12
    try:
        for _ in range(qd):
            off = skip_name(msg, off) + 4
        out = []
        for _ in range(an):
            off = skip_name(msg, off)
            t, _, _, ln = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            if t == qtype:
                out.append(msg[off:off + ln])
            off += ln
        return out
    except (IndexError, struct.error):
        return []


def soa_serial(port):
    soa = answers(compare.dns_query(port, ZONE, qtype=6, timeout=0.2), 6)
    if not soa:
        return None
    rd = soa[0]
    return struct.unpack(">I", rd[skip_name(rd, skip_name(rd, 0)):][:4])[0]


def address(port, name):
    a = answers(compare.dns_query(port, name, qtype=1, timeout=0.2), 1)
    return socket.inet_ntoa(a[0]) if a else None


class ZoneFile:
    """One primary's copy of the zone file: the changed record and the SOA serial are rewritten whole."""

    def __init__(self, path, names):
        self.path = path
        with open(path) as f:
            self.lines = f.read().split("\n")
        self.soa = next(i for i, ln in enumerate(self.lines) if ln.startswith("@ SOA "))
        self.target = f"host{names // 2}"
        self.row = next(i for i, ln in enumerate(self.lines) if ln.startswith(self.target + " A "))
        self.serial = int(self.lines[self.soa].split()[4])

    def change(self, n):
        """The target's address becomes 10.254.x.y (n-th change) and the serial grows; returns the address."""
        addr = f"10.254.{(n >> 8) & 255}.{n & 255}"
        self.serial += 1
        f = self.lines[self.soa].split()
        f[4] = str(self.serial)
        self.lines[self.soa] = " ".join(f)
        self.lines[self.row] = f"{self.target} A {addr}"
        tmp = self.path + ".new"
        with open(tmp, "w") as out:
            out.write("\n".join(self.lines))
        os.replace(tmp, self.path)  # a server reading the file never sees half of it
        return addr


class Primary(compare.Server):
    """bench/compare's server of that kind, plus what a primary needs: transfers allowed from loopback,
    NOTIFY to its secondary, and a reload of the edited file."""

    def __init__(self, kind, data, tmp, port, secondary_port):
        super().__init__(kind, data, tmp, port, 1, 0, log_level="info")
        self.secondary_port = secondary_port

    def command(self):
        cmd = super().command()
        sec = self.secondary_port
        if self.kind == "knot":
            conf = os.path.join(self.dir, "knot.conf")
            text = open(conf).read()
            # Knot's best case for the change: the file's difference goes to the journal, which it serves
            # as IXFR; the control socket for knotc.
            edits = [("journal-content: none", "journal-content: changes\n    zonefile-load: difference"),
                     ("template:", f"control:\n  listen: \"{self.dir}/knot.sock\"\nremote:\n  - id: secondary\n"
                                   f"    address: 127.0.0.1@{sec}\nacl:\n  - id: xfr\n    address: 127.0.0.0/8\n"
                                   "    action: transfer\ntemplate:")]
            for old, new in edits:
                assert text.count(old) == 1, old
                text = text.replace(old, new)
            open(conf, "w").write(text + "    notify: secondary\n    acl: xfr\n")
        elif self.kind == "nsd":
            conf = os.path.join(self.dir, "nsd.conf")
            assert open(conf).read().rstrip().endswith("zonefile: \"" + os.path.join(self.data, f"{ZONE}.zone") + "\"")
            with open(conf, "a") as f:
                f.write(f"  provide-xfr: 127.0.0.0/8 NOKEY\n  notify: 127.0.0.1@{sec} NOKEY\n")
        return cmd

    def reload(self):
        if self.kind == "knot":
            subprocess.run(["knotc", "-s", os.path.join(self.dir, "knot.sock"), "zone-reload", ZONE], check=True,
                           capture_output=True, timeout=30)
        else:
            self.proc.send_signal(signal.SIGHUP)

    def log_lines(self, needle):
        return [ln for ln in open(os.path.join(self.dir, "log"), errors="replace") if needle in ln]


def phoenix_inventory(data, secondary_port):
    cfg_path = os.path.join(data, "inventory", "phoenix_hypervisor_config.json")
    cfg = json.load(open(cfg_path))
    cfg["dns_server"]["views"][0]["transfer"] = {"allow": ["127.0.0.0/8"],
                                                 "notify": [{"address": f"127.0.0.1:{secondary_port}"}]}
    json.dump(cfg, open(cfg_path, "w"))


class Secondary:
    """A knotd secondary of the zone from one primary, in a fresh directory (so it starts empty)."""

    def __init__(self, tmp, port, primary_port, cpu=1):
        self.dir = tempfile.mkdtemp(prefix="secondary-", dir=tmp)
        self.port, self.cpu, self.proc = port, cpu, None
        os.makedirs(os.path.join(self.dir, "db"))
        with open(os.path.join(self.dir, "knot.conf"), "w") as f:
            f.write(f"""server:
    rundir: "{self.dir}"
    listen: 127.0.0.1@{port}
    background-workers: 1
control:
    listen: "{self.dir}/knot.sock"
database:
    storage: "{self.dir}/db"
log:
  - target: "{self.dir}/knot.log"
    any: info
remote:
  - id: primary
    address: 127.0.0.1@{primary_port}
acl:
  - id: notify
    address: 127.0.0.0/8
    action: notify
template:
  - id: default
    storage: "{self.dir}"
    master: primary
    acl: notify
    zonefile-sync: -1
    journal-content: changes
    semantic-checks: off
zone:
  - domain: {ZONE}
""")

    def start(self):
        cmd = ["taskset", "-c", str(self.cpu)] if self.cpu is not None else []
        self.proc = subprocess.Popen(cmd + ["knotd", "-c", os.path.join(self.dir, "knot.conf")],
                                     stdout=open(os.path.join(self.dir, "stdout.log"), "w"), stderr=subprocess.STDOUT)
        return self

    def retransfer(self):
        subprocess.run(["knotc", "-s", os.path.join(self.dir, "knot.sock"), "zone-retransfer", ZONE],
                       check=True, capture_output=True, timeout=30)

    def log(self):
        return open(os.path.join(self.dir, "knot.log"), errors="replace").read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(check, timeout, what):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(0.005)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


def axfr_round(p, tmp, names, timeout):
    """A fresh secondary of primary `p`: seconds until it answers the last name with p's serial."""
    serial = soa_serial(p.port)
    last = f"host{names - 1}.{ZONE}"
    s = Secondary(tmp, p.secondary_port, p.port)
    t0 = time.monotonic()
    s.start()
    try:
        wait_for(lambda: soa_serial(s.port) == serial and address(s.port, last), timeout, f"AXFR from {p.kind}")
        return time.monotonic() - t0, s
    except BaseException:
        log(s.log()[-3000:])
        s.stop()
        raise


def change_round(p, s, zf, n, timeout):
    """One record changed at primary `p`: seconds from the reload request until secondary `s` answers it."""
    addr = zf.change(n)
    t0 = time.monotonic()
    p.reload()
    name = f"{zf.target}.{ZONE}"
    try:
        wait_for(lambda: address(s.port, name) == addr, timeout, f"change from {p.kind}")
    except RuntimeError:
        log(f"{p.kind}'s log:\n" + open(os.path.join(p.dir, "log"), errors="replace").read()[-3000:])
        log("the secondary's log:\n" + s.log()[-3000:])
        raise
    return time.monotonic() - t0


def transfer_kind(s):
    """How the secondary took the last change, from its log: IXFR or AXFR."""
    text = s.log()
    i, a = text.rfind("IXFR, incoming"), text.rfind("AXFR, incoming")
    return "IXFR" if i > a else "AXFR" if a >= 0 else "?"


class Stop(Exception):
    """Raised by the drain loop's SIGTERM handler: ends the transfer in progress."""


def recv_exact(sock, view, n):
    got = 0
    while got < n:
        k = sock.recv_into(view[got:n], n - got)
        if k == 0:
            raise ConnectionError("connection closed mid-message")
        got += k


def last_record(msg):
    """(type, rdata) of the last record of a reply's answer section, walking the whole message."""
    qd, an = struct.unpack(">HH", msg[4:8])
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    t, rd = None, b""
    for _ in range(an):
        off = skip_name(msg, off)
        t, _, _, ln = struct.unpack(">HHIH", msg[off:off + 10])
        rd = bytes(msg[off + 10:off + 10 + ln])
        off += 10 + ln
    return t, rd


def axfr_drain(port, zone=ZONE, timeout=60.0):
    """One AXFR over TCP (RFC 5936 §2.2), read and thrown away: the messages until the closing SOA.

    Cheap on purpose, so that it measures the primary rather than itself: each message is checked for
    its ID and RCODE and counted, and only a message whose last 20 octets are the opening SOA's
    SERIAL..MINIMUM (RFC 1035 §3.3.13) is walked to its last record to confirm that record is the SOA.
    Returns a dict: start and end (time.monotonic()), bytes, messages, records."""
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in zone.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 252, 1)
    buf = bytearray(65537)
    view = memoryview(buf)
    t0 = time.monotonic()
    out = {"start": t0, "bytes": 0, "messages": 0, "records": 0}
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">H", len(q)) + q)
        tail = None
        while True:
            recv_exact(sock, view, 2)
            n = (buf[0] << 8) | buf[1]
            recv_exact(sock, view, n)
            msg = view[:n]
            if n < 32 or (buf[0] << 8 | buf[1]) != qid or not buf[2] & 0x80 or buf[3] & 0x0F:
                raise RuntimeError(f"AXFR from {port}: bad message {out['messages'] + 1} "
                                   f"(RCODE {buf[3] & 0x0F if n >= 4 else '?'})")
            an = (buf[6] << 8) | buf[7]
            out["bytes"] += n + 2
            out["messages"] += 1
            out["records"] += an
            if tail is None:
                # The first record of the first message is the zone's SOA.
                off = 12
                for _ in range((buf[4] << 8) | buf[5]):
                    off = skip_name(msg, off) + 4
                off = skip_name(msg, off)
                t, _, _, ln = struct.unpack(">HHIH", msg[off:off + 10])
                if an == 0 or t != 6 or ln < 22:
                    raise RuntimeError(f"AXFR from {port}: the first record is not an SOA")
                tail = bytes(msg[off + 10 + ln - 20:off + 10 + ln])
                if an < 2:
                    continue
            if bytes(msg[n - 20:n]) == tail:
                t, rd = last_record(msg)
                if t == 6 and rd[-20:] == tail:
                    out["end"] = time.monotonic()
                    return out


def drain_main(argv):
    """`axfr_compare.py drain --port P [--count N]`: the transfer client, in its own pinned process.

    With --count, N transfers one after the other; without, transfers back to back until SIGTERM (which
    cuts the one in progress). Prints "ready" (stdout) once its signal handler is in place, and at the
    end one JSON line: every completed transfer (start, end, bytes, messages, records), whether one
    was cut, and the errors."""
    ap = argparse.ArgumentParser(prog="axfr_compare.py drain")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args(argv)
    done, errors, cut = [], [], 0

    def stop(*_):
        raise Stop()
    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    try:
        while not a.count or len(done) < a.count:
            try:
                done.append(axfr_drain(a.port, timeout=a.timeout))
            except (OSError, RuntimeError) as e:
                errors.append(str(e))
                if len(errors) > 10:
                    break
                time.sleep(0.1)
    except Stop:
        cut = 1
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(json.dumps({"transfers": done, "cut": cut, "errors": errors}), flush=True)
    return 0


class Drain:
    """The drain client as a process on the generator's CPU (1), like the knotd secondary it replaces:
    the primary's CPU (0) is the one measured."""

    def __init__(self, port, count=0, timeout=60.0, cpu=1, nice=True):
        # nice=False beside the generator: at its default priority the client yields CPU 1 to it, so a
        # query lost is the primary's doing, not the client's (the knotd secondary ran so, too).
        cmd = (compare.NICE if nice else []) + (["taskset", "-c", str(cpu)] if cpu is not None else []) + [
            sys.executable, os.path.abspath(__file__), "drain", "--port", str(port), "--timeout", str(timeout)]
        if count:
            cmd += ["--count", str(count)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError("the drain client did not start")

    def result(self, stop=False, timeout=600):
        if stop:
            self.proc.send_signal(signal.SIGTERM)
        # Read through the pipe's reader, not communicate(): the readline of "ready" may already hold
        # the result in its buffer (a small zone's transfers finish that fast), which communicate()
        # would skip. The client ends by itself: its socket operations time out.
        out = self.proc.stdout.read()
        self.proc.wait(timeout=timeout)
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"the drain client exited with {self.proc.returncode}: {out[-500:]!r}")
        return json.loads(lines[-1])


def drain_times(port, count, timeout):
    """Seconds each of `count` AXFRs from `port` took the raw drain client, one after the other."""
    r = Drain(port, count, timeout).result(timeout=timeout * count + 60)
    if r["errors"] or len(r["transfers"]) != count:
        raise RuntimeError(f"drain from {port}: {r['errors'] or 'fewer transfers than asked'}")
    return [t["end"] - t["start"] for t in r["transfers"]], r["transfers"][0]


def overlap(transfers, lo, hi):
    """Seconds of [lo, hi] during which a transfer was in progress (they never overlap each other)."""
    return sum(max(0.0, min(hi, t.get("end", hi)) - max(lo, t["start"])) for t in transfers)


def udp_drops(port):
    """Datagrams the kernel dropped at the UDP sockets bound to `port` (the primary's: a full receive
    buffer), from /proc/net/udp's last column (proc(5)): tells a query lost at the server from one
    lost at the generator."""
    total = 0
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port:
                    total += int(cols[-1])
    except (OSError, ValueError, IndexError):
        return 0
    return total


def run_load(p, queries, duration, rate):
    before = udp_drops(p.port)
    o = compare.loadgen(p.port, queries, "udp", duration, rate=rate)
    o["drops"] = udp_drops(p.port) - before
    return o


def latency(p, queries, args, peak, duration):
    """phoenix-dns's UDP p99 at half its peak without a transfer and while the drain client transfers
    the zone back to back, in rounds (the order of the two runs alternates). Returns one dict a round."""
    rate = peak / 2
    out = []
    for r in range(args.rounds):
        row = {}
        for busy in ((False, True) if r % 2 == 0 else (True, False)):
            if not busy:
                o = run_load(p, queries, duration, rate)
                row.update(quiet_p99=o["p99_us"], quiet_sent=o["sent"], quiet_lost=o["lost"], quiet_drops=o["drops"])
                continue
            d = Drain(p.port, timeout=args.timeout, nice=False)
            try:
                # The transfers run before the generator starts and until after its last reply; the
                # generator's measured window is its last `duration` s before the 100 ms it drains.
                o = run_load(p, queries, duration, rate)
                hi = time.monotonic() - 0.1
            finally:
                x = d.result(stop=True)
            lo = hi - duration
            done = [t for t in x["transfers"] if lo <= t["end"] <= hi]
            # The transfer in progress at the end counts for the window's coverage, not as completed.
            running = x["transfers"] + ([{"start": x["transfers"][-1]["end"] if x["transfers"] else lo}]
                                        if x["cut"] else [])
            row.update(busy_p99=o["p99_us"], busy_sent=o["sent"], busy_lost=o["lost"], busy_drops=o["drops"],
                       axfrs=len(done),
                       axfr_mb=sum(t["bytes"] for t in done) / 1e6, covered=overlap(running, lo, hi) / duration,
                       errors=x["errors"])
        row["valid"] = not invalid(row)
        out.append(row)
        log(f"  p99 round {r + 1}: {row['quiet_p99']:.0f} us without a transfer (lost {row['quiet_lost']:.0f} of "
            f"{row['quiet_sent']:.0f}, {row['quiet_drops']} dropped at the server), {row['busy_p99']:.0f} us during "
            f"{row['axfrs']} AXFRs (lost {row['busy_lost']:.0f} of {row['busy_sent']:.0f}, {row['busy_drops']} dropped "
            f"at the server; transfers {row['covered']:.0%} of the window)"
            + (f"; not valid: {invalid(row)}" if invalid(row) else ""))
    return rate, out


def invalid(row):
    """Why a p99 round measures nothing, or an empty string."""
    why = []
    for k in ("quiet", "busy"):
        if row[f"{k}_lost"] > 0.01 * max(row[f"{k}_sent"], 1):
            why.append(f"{'during AXFRs' if k == 'busy' else 'without a transfer'} lost "
                       f"{row[f'{k}_lost'] / max(row[f'{k}_sent'], 1):.2%} of the queries")
    if row["axfrs"] == 0:
        why.append("no AXFR completed in the window")
    if row["errors"]:
        why.append(f"transfer errors: {row['errors'][0]}")
    return "; ".join(why)


SECTIONS = ("axfr", "drain", "change", "p99")


def fmt_rounds(xs, unit="s"):
    return ", ".join(f"{x:.2f}" if unit == "s" else f"{x:.0f}" for x in xs)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "drain":
        return drain_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="which figures (change needs a secondary holding the zone, so it measures axfr too)")
    ap.add_argument("--drains", type=int, default=3, help="raw drains of each primary in each round")
    ap.add_argument("--duration", type=float, default=0,
                    help="seconds of each p99 run (default: 6 x phoenix-dns's raw drain, at least 3)")
    ap.add_argument("--build", default=compare.BUILD, help="where phoenix-dns and phoenix-loadgen are built")
    ap.add_argument("--primaries", default=",".join(PRIMARIES))
    ap.add_argument("--peak", type=float, default=0, help="phoenix-dns's peak qps (default: measured here)")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    sections = [x for x in a.sections.split(",") if x]
    if set(sections) - set(SECTIONS):
        ap.error(f"--sections: one of {', '.join(SECTIONS)}")
    if "change" in sections and "axfr" not in sections:
        sections.append("axfr")
    kinds = [k for k in a.primaries.split(",") if k]
    if not set(sections) & {"axfr", "drain", "change"}:
        kinds = [k for k in kinds if k == "phoenix"]  # p99 alone: no other primary to start
    if "p99" in sections and "phoenix" not in kinds:
        ap.error("--sections p99 measures phoenix-dns: --primaries must include phoenix")
    need = ["taskset"] + (["knotd", "knotc"] if "axfr" in sections or "knot" in kinds else []) + (
        ["nsd"] if "nsd" in kinds else [])
    missing = [b for b in need if not shutil.which(b)]
    if missing:
        print(f"axfr_compare: {', '.join(missing)} not installed (Debian packages knot, nsd, util-linux)")
        return SKIP
    build = os.path.abspath(a.build)
    compare.PHOENIX = os.path.join(build, "server", "phoenix-dns")
    compare.LOADGEN = os.path.join(build, "bench", "phoenix-loadgen")
    res = {k: {"axfr": [], "change": [], "how": [], "drain": []} for k in kinds}
    sizes, lat, duration = {}, None, a.duration
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-axfr-") as tmp:
        base = os.path.join(tmp, "data")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_data.py"), base, "--names", str(a.names)], check=True)
        primaries, files = {}, {}
        try:
            for k in kinds:
                data = os.path.join(tmp, f"data-{k}")
                shutil.copytree(base, data)
                sec_port = free_port()
                if k == "phoenix":
                    phoenix_inventory(data, sec_port)
                p = Primary(k, data, tmp, free_port(), sec_port)
                p.start(probe=f"host{a.names - 1}.{ZONE}", timeout=a.timeout)
                log(f"{k}: serving {a.names} names on {p.port} after {p.load_secs:.1f} s, serial {soa_serial(p.port)}")
                primaries[k], files[k] = p, ZoneFile(os.path.join(data, f"{ZONE}.zone"), a.names)
            n = 0
            for r in range(a.rounds if set(sections) & {"axfr", "drain"} else 0):
                for k in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
                    p = primaries[k]
                    if "drain" in sections:
                        took, first = drain_times(p.port, a.drains, a.timeout)
                        res[k]["drain"].append(took)
                        sizes[k] = (first["records"], first["bytes"], first["messages"])
                        log(f"  round {r + 1} {k}: raw drain {fmt_rounds(took)} s ({first['records']} records, "
                            f"{first['messages']} messages, {first['bytes'] / 1e6:.1f} MB)")
                    if "axfr" not in sections:
                        continue
                    took, s = axfr_round(p, tmp, a.names, a.timeout)
                    try:
                        res[k]["axfr"].append(took)
                        if "change" in sections:
                            n += 1
                            res[k]["change"].append(change_round(p, s, files[k], n, a.timeout))
                            res[k]["how"].append(transfer_kind(s))
                    finally:
                        s.stop()
                    log(f"  round {r + 1} {k}: AXFR {took:.2f} s" + (
                        f", change {res[k]['change'][-1]:.3f} s ({res[k]['how'][-1]})" if "change" in sections else ""))
            if "p99" in sections:
                p = primaries["phoenix"]
                queries = os.path.join(base, "queries.txt")
                if not duration:
                    took = [x for xs in res["phoenix"]["drain"] for x in xs] or drain_times(p.port, 3, a.timeout)[0]
                    # Under half load the transfer shares CPU 0 with the queries and takes about twice
                    # as long: 6 drains' time leaves room for at least 2 complete ones in each window.
                    duration = max(3.0, round(6 * statistics.median(took), 1))
                peak = a.peak
                if not peak:
                    peak = compare.loadgen(p.port, queries, "udp", min(duration, 5.0))["qps"]
                log(f"phoenix: peak {peak:.0f} qps pinned with {a.names} names; p99 at half of it, {duration:.1f} s runs")
                lat = latency(p, queries, a, peak, duration)
        finally:
            for p in primaries.values():
                p.stop()
    print(report(a, sections, kinds, res, sizes, lat, duration))
    # Exit 1 when the transfer client never completed a transfer under load: the p99 section measured
    # nothing (a round losing queries is reported as not valid, but is a figure).
    return 1 if lat and not any(row["axfrs"] for row in lat[1]) else 0


def median_all(rounds):
    return statistics.median([x for xs in rounds for x in xs])


def report(a, sections, kinds, res, sizes, lat, duration):
    out = []
    if set(sections) & {"axfr", "drain"}:
        what = []
        if "axfr" in sections:
            what.append("AXFR: a fresh knotd secondary's start (pinned to CPU 1) until it answers the last name with "
                        "the primary's serial.")
        if "drain" in sections:
            what.append(f"Raw drain: the primary's own send speed, without the secondary's ingestion: one AXFR read "
                        f"and thrown away by a minimal TCP client (this script's `drain`, pinned to CPU 1) from the "
                        f"query to the closing SOA, {a.drains} after each other in each round.")
        if "change" in sections:
            what.append("Change: one record edited and the reload asked for (phoenix-dns, NSD: SIGHUP; Knot: "
                        "`knotc zone-reload`) until the secondary, told by NOTIFY, answers the new address; the "
                        "transfer it used is from its log.")
        out += [f"### Zone transfers of {a.names:,} names ({a.rounds} interleaved rounds)\n",
                "Primary pinned to CPU 0. " + " ".join(what) + "\n"]
        head, rule = ["primary"], ["---"]
        if "axfr" in sections:
            head += ["AXFR s (median)", "rounds"]
            rule += ["---:", "---"]
        if "drain" in sections:
            head += ["raw drain s (median)", "rounds", "MB/s"]
            rule += ["---:", "---", "---:"]
        if "change" in sections:
            head += ["change s (median)", "rounds", "transfer"]
            rule += ["---:", "---", "---"]
        out += ["| " + " | ".join(head) + " |", "|" + "|".join(rule) + "|"]
        med = {}
        for k in kinds:
            r, cells = res[k], [k]
            med[k] = {}
            if "axfr" in sections:
                med[k]["axfr"] = statistics.median(r["axfr"])
                cells += [f"{med[k]['axfr']:.2f}", fmt_rounds(r["axfr"])]
            if "drain" in sections:
                med[k]["drain"] = median_all(r["drain"])
                cells += [f"{med[k]['drain']:.3f}", "; ".join(" ".join(f"{x:.3f}" for x in xs) for xs in r["drain"]),
                          f"{sizes[k][1] / 1e6 / med[k]['drain']:.0f}"]
            if "change" in sections:
                med[k]["change"] = statistics.median(r["change"])
                cells += [f"{med[k]['change']:.3f}", ", ".join(f"{x:.3f}" for x in r["change"]),
                          "/".join(sorted(set(r["how"])))]
            out.append("| " + " | ".join(cells) + " |")
        if "drain" in sections:
            out += ["", "Each primary's AXFR as the drain client read it: " + "; ".join(
                f"{k} {sizes[k][0]:,} records in {sizes[k][2]:,} messages, {sizes[k][1] / 1e6:.1f} MB" for k in kinds) + "."]
        others = [k for k in kinds if k != "phoenix"]
        if "phoenix" in kinds and others:
            figs = [f for f in ("axfr", "drain", "change") if f in sections]
            title = {"axfr": "AXFR", "drain": "raw drain", "change": "change"}
            out += ["", "| ratio (below 1: phoenix-dns faster) | " + " | ".join(title[f] for f in figs) + " |",
                    "|---|" + "---:|" * len(figs)]
            for k in others:
                out.append(f"| phoenix / {k} | " + " | ".join(f"{med['phoenix'][f] / med[k][f]:.2f}" for f in figs) + " |")
    if lat:
        rate, rows = lat
        if out:
            out.append("")
        out += [f"### phoenix-dns's UDP p99 at half load during AXFRs ({a.names:,} names, {len(rows)} rounds)\n",
                f"phoenix-dns pinned to CPU 0 (one UDP thread and its TCP thread), phoenix-loadgen on CPU 1 at "
                f"{rate:,.0f} qps (half of its peak measured here with the same zone and queries), {duration:.1f} s "
                f"windows: without a transfer, and while the drain client (CPU 1) transfers the zone back to back "
                f"throughout the window (AXFRs completed inside it; covered: share of the window with a transfer in "
                f"progress). The client reads as fast as the primary sends, so a transfer takes all the CPU "
                f"the TCP thread is given: the query path's worst case. Lost: unanswered after 1 s (the "
                f"generator's count); dropped: of all the run's datagrams (warm-up included), those the kernel "
                f"dropped at phoenix-dns's socket (/proc/net/udp), the server's share of the loss. A round is "
                f"not valid when a run lost more than 1% of its queries or no AXFR completed.\n",
                "| round | p99 us, no transfer | lost / sent (dropped) | p99 us, during AXFRs | lost / sent (dropped) | "
                "AXFRs | MB | covered | valid |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for i, row in enumerate(rows):
            out.append(f"| {i + 1} | {row['quiet_p99']:.0f} | {row['quiet_lost']:.0f} / {row['quiet_sent']:.0f} "
                       f"({row['quiet_drops']}) | {row['busy_p99']:.0f} | {row['busy_lost']:.0f} / "
                       f"{row['busy_sent']:.0f} ({row['busy_drops']}) | {row['axfrs']} | "
                       f"{row['axfr_mb']:.1f} | {row['covered']:.0%} | "
                       f"{'yes' if row['valid'] else 'no: ' + invalid(row)} |")
        good = [row for row in rows if row["valid"]]
        if good:
            q, b = statistics.median(r["quiet_p99"] for r in good), statistics.median(r["busy_p99"] for r in good)
            out += ["", f"Valid rounds ({len(good)} of {len(rows)}), medians: p99 {q:.0f} us without a transfer, "
                        f"{b:.0f} us during AXFRs; during / without **{b / q if q else 0:.2f}**."]
        else:
            out += ["", "No valid round: this run gives no p99 figure."]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
