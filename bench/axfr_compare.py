#!/usr/bin/env python3
"""Zone transfers of one big zone to a Knot secondary: phoenix-dns, Knot and NSD as the primary.

Every primary serves its own copy of the same zone file of N names (bench/gen_data.py, 1M by default),
pinned to CPU 0, and NOTIFYs a knotd secondary (pinned to CPU 1) on loopback ports the OS picks.
Three figures, each primary in the same interleaved rounds:

  axfr    time from starting a fresh secondary (empty storage) until it answers the zone's last name
          with the primary's serial;
  change  one record changed (and the file's SOA serial bumped): phoenix-dns gets SIGHUP, Knot
          `knotc zone-reload` (zonefile-load: difference, so it has an IXFR to serve), NSD SIGHUP; time
          until the secondary, told by the primary's NOTIFY, answers the new address;
  p99     phoenix-dns only: the query path's p99 latency (phoenix-loadgen on CPU 1 at half of
          phoenix-dns's peak qps) without a transfer and while the secondary transfers the zone again
          and again (`knotc zone-retransfer`).

Prints a Markdown table with the rounds and the ratios phoenix / Knot and phoenix / NSD (below 1 is
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
import threading
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


def latency(p, s, data, args, peak):
    """phoenix-dns's p99 at half its peak, without a transfer and during back-to-back AXFRs, in rounds."""
    queries = os.path.join(data, "queries.txt")
    rate = peak / 2
    quiet, busy, xfrs = [], [], []
    for r in range(args.rounds):
        o = compare.loadgen(p.port, queries, "udp", args.duration, rate=rate)
        quiet.append(o["p99_us"])
        before = len(p.log_lines("xfr: AXFR"))
        stop = threading.Event()

        def transfers():
            while not stop.is_set():
                n = len(p.log_lines("xfr: "))
                try:
                    s.retransfer()
                except subprocess.SubprocessError as e:
                    log(f"  zone-retransfer: {e}")
                    return
                t0 = time.monotonic()
                while not stop.is_set() and len(p.log_lines("xfr: ")) == n and time.monotonic() - t0 < args.timeout:
                    time.sleep(0.05)
        t = threading.Thread(target=transfers)
        t.start()
        try:
            # The first transfer starts within the generator's warm-up; the run covers several.
            o = compare.loadgen(p.port, queries, "udp", args.duration, rate=rate)
        finally:
            stop.set()
            t.join()
        busy.append(o["p99_us"])
        xfrs.append(len(p.log_lines("xfr: AXFR")) - before)
        log(f"  p99 round {r + 1}: {quiet[-1]:.0f} us without a transfer, {busy[-1]:.0f} us during {xfrs[-1]} AXFRs "
            f"(lost {o['lost']:.0f})")
    return rate, quiet, busy, xfrs


def fmt_rounds(xs, unit="s"):
    return ", ".join(f"{x:.2f}" if unit == "s" else f"{x:.0f}" for x in xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of each latency run")
    ap.add_argument("--build", default=compare.BUILD, help="where phoenix-dns and phoenix-loadgen are built")
    ap.add_argument("--primaries", default=",".join(PRIMARIES))
    ap.add_argument("--peak", type=float, default=0, help="phoenix-dns's peak qps (default: measured here)")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    kinds = [k for k in a.primaries.split(",") if k]
    missing = [b for b in ["knotd", "knotc", "taskset"] + (["nsd"] if "nsd" in kinds else []) if not shutil.which(b)]
    if missing:
        print(f"axfr_compare: {', '.join(missing)} not installed (Debian packages knot, nsd, util-linux)")
        return SKIP
    build = os.path.abspath(a.build)
    compare.PHOENIX = os.path.join(build, "server", "phoenix-dns")
    compare.LOADGEN = os.path.join(build, "bench", "phoenix-loadgen")
    res = {k: {"axfr": [], "change": [], "how": []} for k in kinds}
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
            for r in range(a.rounds):
                for k in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
                    p = primaries[k]
                    took, s = axfr_round(p, tmp, a.names, a.timeout)
                    try:
                        n += 1
                        ch = change_round(p, s, files[k], n, a.timeout)
                        how = transfer_kind(s)
                    finally:
                        s.stop()
                    res[k]["axfr"].append(took)
                    res[k]["change"].append(ch)
                    res[k]["how"].append(how)
                    log(f"  round {r + 1} {k}: AXFR {took:.2f} s, change {ch:.3f} s ({how})")
            lat = None
            if "phoenix" in kinds:
                p = primaries["phoenix"]
                peak = a.peak
                if not peak:
                    peak = compare.loadgen(p.port, os.path.join(base, "queries.txt"), "udp", min(a.duration, 5.0))["qps"]
                log(f"phoenix: peak {peak:.0f} qps pinned; latency at half of it")
                took, s = axfr_round(p, tmp, a.names, a.timeout)
                try:
                    lat = latency(p, s, base, a, peak)
                finally:
                    s.stop()
        finally:
            for p in primaries.values():
                p.stop()
    print(report(a, kinds, res, lat))
    return 0


def report(a, kinds, res, lat):
    med = {k: {f: statistics.median(res[k][f]) for f in ("axfr", "change")} for k in kinds}
    out = [f"### Zone transfers of {a.names:,} names to a Knot secondary ({a.rounds} interleaved rounds)\n",
           "Primary pinned to CPU 0, knotd secondary to CPU 1. AXFR: a fresh secondary's start until it "
           "answers the last name with the primary's serial. Change: one record edited and the reload "
           "asked for (phoenix-dns, NSD: SIGHUP; Knot: `knotc zone-reload`) until the secondary, told by "
           "NOTIFY, answers the new address; the transfer it used is from its log.\n",
           "| primary | AXFR s (median) | rounds | change s (median) | rounds | transfer |",
           "|---|---:|---|---:|---|---|"]
    for k in kinds:
        how = "/".join(sorted(set(res[k]["how"])))
        out.append(f"| {k} | {med[k]['axfr']:.2f} | {fmt_rounds(res[k]['axfr'])} | {med[k]['change']:.3f} | "
                   f"{', '.join(f'{x:.3f}' for x in res[k]['change'])} | {how} |")
    if "phoenix" in kinds:
        others = [k for k in kinds if k != "phoenix"]
        if others:
            out += ["", "| ratio | AXFR | change |", "|---|---:|---:|"]
            for k in others:
                out.append(f"| phoenix / {k} | {med['phoenix']['axfr'] / med[k]['axfr']:.2f} | "
                           f"{med['phoenix']['change'] / med[k]['change']:.2f} |")
    if lat:
        rate, quiet, busy, xfrs = lat
        q, b = statistics.median(quiet), statistics.median(busy)
        out += ["", f"phoenix-dns's query path at {rate:,.0f} qps (half its pinned peak; loadgen on CPU 1, "
                f"{a.duration:.0f} s runs), without a transfer and while the secondary transfers the zone back "
                f"to back (AXFRs per run: {', '.join(str(x) for x in xfrs)}):", "",
                "| | p99 us (median) | rounds |", "|---|---:|---|",
                f"| no transfer | {q:.0f} | {fmt_rounds(quiet, 'us')} |",
                f"| during AXFRs | {b:.0f} | {fmt_rounds(busy, 'us')} |",
                f"| during / without | {b / q if q else 0:.2f} | |"]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
