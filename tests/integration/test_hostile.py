"""Hostile packets: FORMERR where a reply is possible, silence where not, and the next query answered.

Also the TCP limits of RFC 7766: idle connections are closed after a bounded time, and so are slow
messages (the connection table under a flood: test_tcp_flood.py).
"""
import random
import socket
import struct
import time
import unittest

import dnsprobe as w
from harness import ServerTest

HEADER = struct.pack(">HHHHHH", 0x7777, 0, 1, 0, 0, 0)


def hostile_packets():
    """(name, packet, expected): expected is "formerr", "silent" or "either" (garbage of any kind)."""
    q = w.encode_name("ollama.internal.thinkheads.ai") + struct.pack(">HH", 1, 1)
    long_label = bytes([64]) + b"a" * 64 + b"\0"
    long_name = b"".join(bytes([63]) + b"a" * 63 for _ in range(4)) + b"\0"  # 257 octets
    cases = [
        ("empty", b"", "silent"),
        ("short-header", b"\x77\x77\x00", "silent"),
        ("header-only", HEADER, "formerr"),
        ("question-cut", HEADER + q[:10], "formerr"),
        ("qtype-cut", HEADER + q[:-2], "formerr"),
        ("pointer-in-question", HEADER + b"\xc0\x0c" + struct.pack(">HH", 1, 1), "formerr"),
        ("pointer-loop-in-additional", struct.pack(">HHHHHH", 0x7777, 0, 1, 0, 0, 1) + q + b"\xc0\x2f" +
         struct.pack(">HHIH", 1, 1, 0, 0), "formerr"),
        ("forward-pointer", struct.pack(">HHHHHH", 0x7777, 0, 1, 0, 0, 1) + q + b"\xc3\xff" +
         struct.pack(">HHIH", 1, 1, 0, 0), "formerr"),
        ("label-over-63", HEADER + long_label + struct.pack(">HH", 1, 1), "formerr"),
        ("name-over-255", HEADER + long_name + struct.pack(">HH", 1, 1), "formerr"),
        ("counts-lie", struct.pack(">HHHHHH", 0x7777, 0, 1, 5, 5, 5) + q, "formerr"),
        ("opt-in-authority", struct.pack(">HHHHHH", 0x7777, 0, 1, 0, 1, 0) + q + w.opt_rr(), "formerr"),
        ("opt-rdata-overrun", struct.pack(">HHHHHH", 0x7777, 0, 1, 0, 0, 1) + q +
         b"\0" + struct.pack(">HHIH", 41, 1232, 0, 50) + b"\0" * 10, "formerr"),
        ("opt-bad-option", struct.pack(">HHHHHH", 0x7777, 0, 1, 0, 0, 1) + q +
         b"\0" + struct.pack(">HHIH", 41, 1232, 0, 6) + struct.pack(">HH", 1, 40) + b"ab", "formerr"),
        ("response", struct.pack(">HHHHHH", 0x7777, 0x8000, 1, 0, 0, 0) + q, "silent"),
        ("qdcount-many", struct.pack(">HHHHHH", 0x7777, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF) + q, "formerr"),
    ]
    rng = random.Random(3)  # fixed seed: the same garbage every run
    for size in (1, 11, 12, 13, 17, 64, 300, 511, 512, 513, 1500, 4000):
        body = bytes(rng.getrandbits(8) for _ in range(size))
        cases.append((f"garbage-{size}", body, "either"))
    return cases


class HostileTest(ServerTest):
    def assert_still_answers(self):
        r = w.ask_udp(self.server.port, w.query("ollama.internal.thinkheads.ai"))
        self.assertIsNotNone(r, "no answer to a valid query after hostile input")
        self.assertEqual(r.rcode, "NOERROR")

    def check(self, name, reply, expected, sent):
        if expected == "silent":
            self.assertIsNone(reply, name)
        elif expected == "formerr":
            self.assertIsNotNone(reply, name)
            self.assertEqual(reply.rcode, "FORMERR", name)
        if reply is not None:
            self.assertIn("qr", reply.flags, name)
            self.assertEqual(reply.raw[:2], sent[:2], name)

    def test_udp(self):
        for name, packet, expected in hostile_packets():
            if not packet:
                continue  # a zero-length datagram
            with self.subTest(name):
                wait = 1.0 if expected != "formerr" else 2.0
                self.check(name, w.ask_udp(self.server.port, packet, timeout=wait), expected, packet)
        self.assert_still_answers()

    def test_tcp(self):
        for name, packet, expected in hostile_packets():
            with self.subTest(name):
                with socket.create_connection(("127.0.0.1", self.server.port), timeout=2) as s:
                    s.sendall(struct.pack(">H", len(packet)) + packet)
                    try:
                        reply = w.read_tcp_reply(s)
                    except (ConnectionError, socket.timeout):
                        reply = None
                    self.check(name, reply, expected, packet)
        self.assert_still_answers()

    def test_tcp_idle_connection_is_closed(self):
        """RFC 7766 §6.2.3: an idle connection (here, half a length prefix) is closed in bounded time."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=20) as s:
            s.sendall(b"\x00")
            start = time.monotonic()
            self.assertEqual(s.recv(10), b"")  # EOF: the server closed it
            self.assertLess(time.monotonic() - start, 15)

    def test_tcp_trickled_query_does_not_keep_a_connection(self):
        """A byte every 2 s never completes a query: closed when the idle time (10 s) runs out."""
        packet = w.query("ollama.internal.thinkheads.ai")
        framed = struct.pack(">H", len(packet)) + packet
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=3) as s:
            start = time.monotonic()
            closed = False
            for byte in framed[:-1]:
                try:
                    s.sendall(bytes([byte]))
                    s.settimeout(2)
                    closed = s.recv(10) == b""
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    closed = True
                if closed or time.monotonic() - start > 20:
                    break
            self.assertTrue(closed)
            self.assertLess(time.monotonic() - start, 15)

    def test_tcp_idle_time_counts_from_the_last_answer(self):
        """Queries 6 s apart on one connection: each answer restarts the 10 s idle time."""
        packet = w.query("ollama.internal.thinkheads.ai")
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            for i in range(3):  # at 0 s, 6 s and 12 s: past the first 10 s
                if i:
                    time.sleep(6)
                s.sendall(struct.pack(">H", len(packet)) + packet)
                self.assertEqual(w.read_tcp_reply(s).rcode, "NOERROR")


if __name__ == "__main__":
    unittest.main()
