#!/usr/bin/env python3
"""Authoritative queries keep their speed while the upstream is dead (issue 7).

Starts phoenix-dns on loopback with one upstream that never answers, then measures authoritative
queries (closed loop, one outstanding query) twice: alone, and while a second client keeps a stream
of forwarded queries (unique names, so no cache hits and no coalescing) pending on the dead upstream.
Prints queries per second and latency percentiles for both phases. Loopback only; every process is
started here and stopped by its PID.

    bench/forward_dead_upstream.py [--binary build/release/server/phoenix-dns] [--seconds 3] [--rate 2000]
"""
import argparse
import multiprocessing
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))


def query(name, qid):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return q + struct.pack("!HH", 1, 1)


def silent_upstream(stop):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.1)

    def drain():
        while not stop.is_set():
            try:
                s.recvfrom(4096)
            except socket.timeout:
                pass
        s.close()
    threading.Thread(target=drain, daemon=True).start()
    return s.getsockname()[1]


def forwarded_load(port, rate, stop, sent):
    """Runs in its own process, so that it does not share the interpreter lock with measure()."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    interval, i, next_at = 1.0 / rate, 0, time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now < next_at:
            time.sleep(min(next_at - now, 0.01))
            continue
        s.sendto(query(f"n{i}.dead.test", i & 0xFFFF), ("127.0.0.1", port))
        try:
            while True:
                s.recvfrom(4096)  # SERVFAILs after the bound; read and drop
        except BlockingIOError:
            pass
        i += 1
        sent.value = i
        next_at += interval
    s.close()


def measure(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    lat, lost, qid = [], 0, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qid = (qid + 1) & 0xFFFF
        t0 = time.perf_counter()
        s.sendto(query("ollama.internal.thinkheads.ai", qid), ("127.0.0.1", port))
        try:
            while True:
                data = s.recv(4096)
                if data[:2] == struct.pack("!H", qid):
                    break
            lat.append(time.perf_counter() - t0)
        except socket.timeout:
            lost += 1
    s.close()
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e6 if lat else float("nan")
    return {"qps": len(lat) / seconds, "p50_us": pct(0.50), "p99_us": pct(0.99), "lost": lost}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ROOT / "build" / "release" / "server" / "phoenix-dns"
    if not default.exists():
        default = ROOT / "build" / "debug" / "server" / "phoenix-dns"
    ap.add_argument("--binary", default=str(default))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rate", type=int, default=200,
                    help="forwarded queries per second to the dead upstream (x 2 s timeout = questions in flight)")
    args = ap.parse_args()
    os.environ["PHOENIX_DNS"] = args.binary
    import harness  # reads PHOENIX_DNS at import

    stop = threading.Event()
    up_port = silent_upstream(stop)

    def edit(files):
        dns = files["phoenix_hypervisor_config.json"]["dns_server"]
        dns["upstream_servers"] = [f"127.0.0.1:{up_port}"]
        dns["forward_timeout_ms"] = dns["forward_total_timeout_ms"] = 2000

    server = harness.Server(harness.copy_inventory(edit=edit), upstreams=None).start()
    try:
        base = measure(server.port, args.seconds)
        sent = multiprocessing.Value("l", 0)
        load_stop = multiprocessing.Event()
        load = multiprocessing.Process(target=forwarded_load, args=(server.port, args.rate, load_stop, sent))
        load.start()
        time.sleep(2.5)  # let forwarded queries pile up to the steady state (rate x timeout)
        dead = measure(server.port, args.seconds)
        load_stop.set()
        load.join(timeout=10)
    finally:
        stop.set()
        server.stop()
    print(f"binary: {args.binary}")
    print(f"{'phase':<34} {'qps':>9} {'p50 us':>9} {'p99 us':>9} {'lost':>5}")
    for name, r in (("authoritative alone", base),
                    (f"with {args.rate}/s forwarded to a dead upstream", dead)):
        print(f"{name:<34} {r['qps']:>9.0f} {r['p50_us']:>9.1f} {r['p99_us']:>9.1f} {r['lost']:>5}")
    print(f"forwarded queries sent: {sent.value}")


if __name__ == "__main__":
    main()
