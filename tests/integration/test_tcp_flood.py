"""TCP that a flood cannot take over (RFC 7766 §6.2.3).

One flood, all at once: 1,100 idle connections from one address (the per-client cap keeps most of
them out), 1,000 idle ones from as many 127.x addresses (more than the table holds: the longest idle
ones are closed to make room), a set of slowloris clients sending one octet every half second, and a
pipeliner that never reads its replies. Meanwhile a fresh client on another address connects every
100 ms and must have its answer within 1 s every time, and UDP keeps answering.

Every loop is bounded in count and time; the figures are printed for the report.
"""
import errno
import re
import resource
import socket
import struct
import threading
import time
import unittest

import dnsprobe as w
from harness import Server

CAP = 800            # --tcp-max-connections: smaller than the flood, so eviction must happen
PER_CLIENT = 32      # --tcp-max-per-client
MESSAGE_MS = 2000    # --tcp-message-timeout
QUERY = w.query("ollama.phoenix.thinkheads.ai")  # the example serves 127.0.0.2+ the external view
FRAMED = struct.pack(">H", len(QUERY)) + QUERY


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connect_from(source, port, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def is_closed(s):
    """True once the peer closed (FIN or reset), also with replies still unread; never blocks."""
    state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]  # struct tcp_info's tcpi_state
    return state != 1  # TCP_ESTABLISHED


def held_when_settled(socks, bound, timeout=10.0):
    """How many of `socks` are still open once the server has taken in the wave: connections still in
    the kernel's accept queue look established too, and a slow (sanitized, loaded) server may need
    more than a moment to accept and close them. Polls until at most `bound` are open, or the count
    stops moving for a second, or `timeout`."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        held = sum(not is_closed(s) for s in socks)
        now = time.monotonic()
        if held != last:
            last, since = held, now
        if held <= bound or now - since >= 1.0 or now >= deadline:
            return held
        time.sleep(0.05)


class Prober(threading.Thread):
    """Every 100 ms: a new TCP connection from 127.0.200.1 with one query, and one UDP query."""

    def __init__(self, port, seconds):
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.tcp_sent = self.tcp_answered = self.udp_sent = self.udp_answered = 0
        self.worst = 0.0
        self.failures = []

    def run(self):
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            tick = time.monotonic()
            self.tcp_sent += 1
            try:
                with connect_from("127.0.200.1", self.port, timeout=1.0) as s:
                    s.sendall(FRAMED)
                    r = w.read_tcp_reply(s)
                took = time.monotonic() - tick
                self.worst = max(self.worst, took)
                if r.rcode == "NOERROR" and took < 1.0:
                    self.tcp_answered += 1
                else:
                    self.failures.append(f"tcp probe {self.tcp_sent}: {r.rcode} after {took:.3f} s")
            except (OSError, ConnectionError) as e:
                self.worst = max(self.worst, time.monotonic() - tick)
                self.failures.append(f"tcp probe {self.tcp_sent}: {e!r}")
            self.udp_sent += 1
            r = w.ask_udp(self.port, QUERY, timeout=1.0, source="127.0.201.1")
            if r is not None and r.rcode == "NOERROR":
                self.udp_answered += 1
            else:
                self.failures.append(f"udp probe {self.udp_sent}: no answer")
            time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))


class TcpFloodTest(unittest.TestCase):
    def setUp(self):
        self.nofile = raise_nofile(8192)
        if self.nofile < 3000:
            self.skipTest(f"RLIMIT_NOFILE {self.nofile} is too low for the flood")
        self.server = Server(args=["--tcp-max-connections", str(CAP), "--tcp-max-per-client", str(PER_CLIENT),
                                   "--tcp-message-timeout", str(MESSAGE_MS)]).start()
        self.sockets = []

    def tearDown(self):
        for s in self.sockets:
            s.close()
        rc = self.server.stop()
        self.assertEqual(rc, 0, self.server.output())

    def test_flood_does_not_keep_fresh_clients_out(self):
        port = self.server.port
        prober = Prober(port, seconds=12)
        prober.start()

        one = []
        for _ in range(1100):  # one address
            s = connect_from("127.0.0.1", port)
            one.append(s)
        self.sockets += one
        held_one = held_when_settled(one, PER_CLIENT)  # before the next wave evicts them
        many = []
        for i in range(1000):  # as many addresses, two /24s' worth of 127.1.x.y
            s = connect_from(f"127.1.{i // 250}.{i % 250 + 1}", port)
            many.append(s)
        self.sockets += many
        held_many = held_when_settled(many, CAP)

        # Slowloris: 50 clients, one octet every 0.5 s of a query they never finish in time.
        slow = [connect_from(f"127.2.0.{i + 1}", port) for i in range(50)]
        self.sockets += slow
        first_octet = [None] * len(slow)
        octets = [0] * len(slow)
        closed_after = [None] * len(slow)
        # The pipeliner: a tiny receive window and queries sent without ever reading a reply.
        pipe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        pipe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        pipe.bind(("127.3.0.1", 0))
        pipe.connect(("127.0.0.1", port))
        pipe.setblocking(False)
        self.sockets.append(pipe)
        pipe_sent, pipe_closed_at, pipe_start = 0, None, time.monotonic()
        batch = FRAMED * 100

        deadline = time.monotonic() + 10
        next_octet = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_octet:
                next_octet = now + 0.5
                for i, s in enumerate(slow):
                    if closed_after[i] is not None:
                        continue
                    try:
                        k = min(octets[i], len(FRAMED) - 2)  # never the last octet: never complete
                        s.send(FRAMED[k:k + 1])
                        octets[i] += 1
                        if first_octet[i] is None:
                            first_octet[i] = now
                    except OSError:
                        closed_after[i] = now - first_octet[i]
                for i, s in enumerate(slow):
                    if closed_after[i] is None and first_octet[i] is not None and is_closed(s):
                        closed_after[i] = time.monotonic() - first_octet[i]
            if pipe_closed_at is None and pipe_sent < 200000:
                try:
                    pipe_sent += pipe.send(batch) // len(FRAMED)
                except BlockingIOError:
                    time.sleep(0.02)
                except OSError as e:
                    if e.errno in (errno.ECONNRESET, errno.EPIPE):
                        pipe_closed_at = time.monotonic() - pipe_start
                    else:
                        raise
            else:
                time.sleep(0.02)
            if pipe_closed_at is None and is_closed(pipe):
                pipe_closed_at = time.monotonic() - pipe_start
            if pipe_closed_at is not None and all(c is not None for c in closed_after):
                break
        prober.join(timeout=20)
        self.assertFalse(prober.is_alive())

        done = [c for c in closed_after if c is not None]
        print(f"\nflood figures: table cap {CAP}, per client {PER_CLIENT}; held from one address {held_one} of "
              f"{len(one)}, from many {held_many} of {len(many)}; tcp probes answered {prober.tcp_answered} of "
              f"{prober.tcp_sent}, worst {prober.worst * 1000:.0f} ms; udp probes answered {prober.udp_answered} "
              f"of {prober.udp_sent}; slowloris {len(done)} of {len(slow)} closed, after "
              f"{min(done, default=0):.2f}..{max(done, default=0):.2f} s from the first octet", flush=True)
        print(f"pipeliner: {pipe_sent} queries sent unread, closed after "
              f"{pipe_closed_at if pipe_closed_at is None else round(pipe_closed_at, 2)} s", flush=True)

        self.assertEqual(prober.failures, [])
        self.assertGreaterEqual(prober.tcp_sent, 80)
        self.assertEqual(prober.tcp_answered, prober.tcp_sent)
        self.assertEqual(prober.udp_answered, prober.udp_sent)
        # One address holds at most its cap; the table never holds more than its cap.
        self.assertLessEqual(held_one, PER_CLIENT)
        self.assertGreater(held_one, 0)
        self.assertLessEqual(held_many, CAP)
        # Slowloris: each closed within the message bound from its first octet (plus the sweep's step
        # and slack for a loaded machine), not kept by the octets that followed.
        for i, c in enumerate(closed_after):
            self.assertIsNotNone(c, f"slowloris {i} still open")
            self.assertLess(c, MESSAGE_MS / 1000 + 1.5, f"slowloris {i}")
            self.assertGreater(c, MESSAGE_MS / 1000 - 0.6, f"slowloris {i} closed before its bound")
        self.assertIsNotNone(pipe_closed_at, f"the non-reading pipeliner is still open after {pipe_sent} queries")

        for s in self.sockets:
            s.close()
        self.sockets = []
        self.assertEqual(self.server.stop(), 0)
        log = self.server.output()
        stats = [l for l in log.splitlines() if "connections accepted" in l]
        print(stats[-1] if stats else log[-2000:], flush=True)
        self.assertTrue(stats, log)
        m = re.search(r"(\d+) longest-idle at the cap, (\d+) over the per-client cap, (\d+) idle, (\d+) slow messages, "
                      r"(\d+) unread replies", stats[-1])
        evicted, per_client, _idle, slow_closed, unsent = map(int, m.groups())
        self.assertGreater(evicted, 0)
        self.assertGreaterEqual(per_client, len(one) - PER_CLIENT)
        self.assertGreaterEqual(slow_closed, len(slow))
        self.assertEqual(unsent, 1)


class TcpLimitsTest(unittest.TestCase):
    def test_per_client_prefix_groups_addresses(self):
        """--tcp-client-prefix 24/64: 127.4.0.x are one client, so the fifth connection is closed."""
        with Server(args=["--tcp-max-per-client", "4", "--tcp-client-prefix", "24/64"]) as srv:
            held = [connect_from(f"127.4.0.{i + 1}", srv.port) for i in range(5)]
            try:
                time.sleep(0.3)
                closed = [is_closed(s) for s in held]
                self.assertEqual(closed, [False] * 4 + [True])
                other = connect_from("127.4.1.1", srv.port)  # another /24: its own count
                other.sendall(FRAMED)
                self.assertEqual(w.read_tcp_reply(other).rcode, "NOERROR")
                other.close()
                held[0].sendall(FRAMED)
                self.assertEqual(w.read_tcp_reply(held[0]).rcode, "NOERROR")
            finally:
                for s in held:
                    s.close()

    def test_bad_client_prefix_is_a_usage_error(self):
        import subprocess
        from harness import BINARY
        out = subprocess.run([BINARY, "--tcp-client-prefix", "33/64", "--check"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--tcp-client-prefix", out.stderr)


if __name__ == "__main__":
    unittest.main()
