"""Response rate limiting: a spoofed-style flood from one /24 is cut down (dropped, every slip-th reply
truncated) while another /24 keeps getting every answer; TCP and views off by default are not limited.

The flood is bounded in count and time; the figures are printed for the report.
"""
import random
import re
import socket
import struct
import time
import unittest
from pathlib import Path

import dnsprobe as w
from harness import Server, copy_inventory, dig, fetch, free_port, promtool_check, samples

NAME = "ollama.phoenix.thinkheads.ai"  # served in the external view (127.0.0.2 and beyond)
RATE = 10


def with_rate_limit(files):
    files["phoenix_hypervisor_config.json"]["dns_server"]["rate_limit"] = {
        "responses_per_second": RATE, "nxdomains_per_second": 5, "window": 5, "slip": 2,
        "exempt": ["127.0.3.0/24"]}


def burst(port, source, n, name=NAME):
    """Sends n queries at once from `source`; returns (full replies, truncated replies) within 0.5 s."""
    full = truncated = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        for i in range(n):
            s.sendto(w.query(name, qid=i), ("127.0.0.1", port))
        s.settimeout(0.5)
        try:
            for _ in range(n):
                r = w.parse(s.recv(4096))
                if "tc" in r.flags:
                    truncated += 1
                else:
                    full += 1
        except socket.timeout:
            pass
    return full, truncated


class RrlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.inventory = copy_inventory(edit=with_rate_limit)
        cls.mport = free_port()
        cls.server = Server(cls.inventory, args=["--metrics-listen", f"127.0.0.1:{cls.mport}"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def rrl_counts(self):
        """The external view's (limited, dropped, slipped) as /metrics has them now."""
        text = fetch(self.mport)[2]
        ok, why = promtool_check(text)
        self.assertTrue(ok, why)
        key = '{view="external",transport="udp"}'
        return tuple(samples(text, f"phoenix_dns_rate_limited{part}_total")[key] for part in ("", "_dropped", "_slipped"))

    def test_flood_from_one_prefix_leaves_another_served(self):
        port = self.server.port
        before = self.rrl_counts()
        query = w.query(NAME, qid=0x1111)
        flooders = []
        for i in range(50):  # 127.0.1.1-50: one /24, as a spoofed flood aimed at a victim network looks
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((f"127.0.1.{i + 1}", 0))
            s.setblocking(False)
            flooders.append(s)
        honest = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        honest.bind(("127.0.2.1", 0))
        honest.settimeout(1.0)
        sent = full = truncated = 0
        honest_sent = honest_ok = 0
        start = time.monotonic()
        next_honest = start
        try:
            while time.monotonic() - start < 3.0 and sent < 8000:
                for s in flooders[:10]:
                    s.sendto(query, ("127.0.0.1", port))
                    sent += 1
                flooders.append(flooders.pop(0))
                for s in flooders:
                    while True:
                        try:
                            data = s.recv(4096)
                        except BlockingIOError:
                            break
                        r = w.parse(data)
                        if "tc" in r.flags:
                            truncated += 1
                            self.assertFalse(r.answer)
                        else:
                            full += 1
                if time.monotonic() >= next_honest:  # 5 queries a second: under the rate
                    next_honest += 0.2
                    honest_sent += 1
                    honest.sendto(w.query(NAME, qid=honest_sent), ("127.0.0.1", port))
                    r = w.parse(honest.recv(4096))
                    if r.rcode == "NOERROR" and "tc" not in r.flags and r.answer:
                        honest_ok += 1
                time.sleep(0.005)
            # TCP is exempt (it proves the source address): a flooding prefix still gets its answer.
            with socket.create_connection(("127.0.0.1", port), timeout=2, source_address=("127.0.1.7", 0)) as t:
                t.sendall(struct.pack(">H", len(query)) + query)
                self.assertEqual(w.read_tcp_reply(t).rcode, "NOERROR")
            # So is an exempt prefix.
            exempt_ok = sum(w.ask_udp(port, query, timeout=1.0, source="127.0.3.1") is not None for _ in range(40))
        finally:
            for s in flooders:
                s.close()
            honest.close()
        elapsed = time.monotonic() - start
        print(f"\nrrl figures: flood {sent} queries in {elapsed:.1f} s from 127.0.1.0/24: {full} full replies, "
              f"{truncated} truncated (slip), {sent - full - truncated} dropped; honest 127.0.2.1: {honest_ok} of "
              f"{honest_sent} answered", flush=True)
        limited, dropped, slipped = (a - b for a, b in zip(self.rrl_counts(), before))
        print(f"rrl metrics: limited {limited:.0f}, dropped {dropped:.0f}, slipped {slipped:.0f}", flush=True)
        self.assertEqual(limited, dropped + slipped)
        # The server counted every reply it held back: at most what the flood did not get in full (some
        # datagrams may be lost on the way in), and every truncated reply the flooders read was a slip.
        self.assertLessEqual(limited, sent - full)
        self.assertGreaterEqual(limited, 0.9 * (sent - full))
        self.assertGreaterEqual(slipped, truncated)
        self.assertGreater(sent, 500)
        self.assertEqual(honest_ok, honest_sent)
        self.assertGreater(honest_sent, 5)
        # At most the burst plus the rate over the run (with a second of slack) get full answers.
        self.assertLessEqual(full, RATE * (elapsed + 2))
        self.assertGreater(full, 0)
        # slip 2: every other limited reply is truncated, so about as many are truncated as dropped.
        limited = sent - full
        self.assertGreater(truncated, limited * 0.3)
        self.assertLess(truncated, limited * 0.7)
        self.assertEqual(exempt_ok, 40)

    def test_errors_from_before_the_view_is_chosen_are_limited_too(self):
        # NOTIMP (an opcode we do not serve) is answered before the view stage; the client's view still
        # limits it, as errors (errors_per_second 10, slip 2).
        full = truncated = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.14.1", 0))
            for i in range(40):
                s.sendto(w.query(NAME, qid=i, opcode=2), ("127.0.0.1", self.server.port))
            s.settimeout(0.5)
            try:
                for _ in range(40):
                    r = w.parse(s.recv(4096))
                    if "tc" in r.flags:
                        truncated += 1
                    else:
                        self.assertEqual(r.rcode, "NOTIMP")
                        full += 1
            except socket.timeout:
                pass
        self.assertLessEqual(full, 11)
        self.assertGreaterEqual(full, 9)
        self.assertGreater(truncated, 10)

    def test_views_matching_known_prefixes_are_not_limited(self):
        # 127.0.0.1 is the example's internal view: rate limiting is off there by default.
        self.assertEqual(burst(self.server.port, "127.0.0.1", 100, "ollama.internal.thinkheads.ai"), (100, 0))

    def test_dig_retries_a_slipped_reply_over_tcp(self):
        # Use up the bucket of 127.0.4.0/24, then dig (which follows TC=1 to TCP) still gets the answer.
        query = w.query(NAME)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.4.1", 0))
            for _ in range(60):
                s.sendto(query, ("127.0.0.1", self.server.port))
        r = dig(self.server.port, NAME, source="127.0.4.2", extra=("+tries=3",), timeout=8)
        self.assertEqual(r.rcode, "NOERROR")
        self.assertTrue(r.answer)

    def test_the_stop_line_counts_per_view(self):
        srv = Server(self.inventory).start()
        try:
            query = w.query(NAME)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.5.1", 0))
                for _ in range(100):
                    s.sendto(query, ("127.0.0.1", srv.port))
            time.sleep(0.3)
        finally:
            srv.stop()
        m = re.search(r"rrl: view external: (\d+) replies over the limit, (\d+) dropped, (\d+) slipped", srv.output())
        self.assertIsNotNone(m, srv.output())
        limited, dropped, slipped = map(int, m.groups())
        self.assertGreaterEqual(limited, 100 - RATE - 5)
        self.assertEqual(limited, dropped + slipped)
        self.assertNotIn("rrl: view internal", srv.output())


LAB_ZONE = Path(__file__).resolve().parent / "data" / "lab.zone"  # has *.wild.lab.example


class RrlWildcardTest(unittest.TestCase):
    """Answers synthesised from a wildcard count as the wildcard's name (as BIND does): a flood of
    random names under *.wild.lab.example from one client is one bucket; NXDOMAIN counts per zone."""

    @classmethod
    def setUpClass(cls):
        def edit(files):
            with_rate_limit(files)
            files["phoenix_hypervisor_config.json"]["dns_server"]["zone_files"] = [
                {"file": "lab.zone", "origin": "lab.example"}]
        cls.inventory = copy_inventory(edit=edit)
        (cls.inventory / "lab.zone").write_text(LAB_ZONE.read_text())
        cls.mport = free_port()
        cls.server = Server(cls.inventory, args=["--metrics-listen", f"127.0.0.1:{cls.mport}"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def flood(self, source, names):
        """One query per name from `source`, all at once; the full answers (rcode, answer) within 0.5 s."""
        got = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((source, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            for i, name in enumerate(names):
                s.sendto(w.query(name, qid=i), ("127.0.0.1", self.server.port))
            s.settimeout(0.5)
            try:
                for _ in names:
                    r = w.parse(s.recv(4096))
                    if "tc" not in r.flags:
                        got.append(r)
            except socket.timeout:
                pass
        return got

    def test_random_names_under_a_wildcard_share_one_bucket(self):
        names = [f"r{random.getrandbits(40):x}.wild.lab.example" for _ in range(60)]
        # Each name is answered from the wildcard (checked from an exempt prefix, never limited).
        r = w.ask_udp(self.server.port, w.query(names[0]), source="127.0.3.9")
        self.assertEqual(r.rcode, "NOERROR")
        self.assertTrue(r.answer)
        full = self.flood("127.0.10.1", names)
        # One bucket: its second's credit (RATE), not one per name.
        self.assertLessEqual(len(full), RATE + 1)
        self.assertGreaterEqual(len(full), RATE - 1)
        self.assertTrue(all(x.rcode == "NOERROR" and x.answer for x in full))
        # Names of their own (not synthesised) each have their own bucket: all answered.
        own = self.flood("127.0.11.1", ["www.lab.example", "mail.lab.example", "ns1.lab.example", "ns2.lab.example"] * 3)
        self.assertEqual(len(own), 12)
        text = fetch(self.mport)[2]
        ok, why = promtool_check(text)
        self.assertTrue(ok, why)
        limited = samples(text, "phoenix_dns_rate_limited_total")['{view="external",transport="udp"}']
        self.assertGreaterEqual(limited, 60 - RATE - 1)

    def test_random_missing_names_share_their_zones_bucket(self):
        names = [f"n{random.getrandbits(40):x}.lab.example" for _ in range(40)]
        full = self.flood("127.0.12.1", names)
        self.assertTrue(all(x.rcode == "NXDOMAIN" for x in full))
        self.assertLessEqual(len(full), 5 + 1)  # nxdomains_per_second 5, per zone
        self.assertGreaterEqual(len(full), 4)


class RrlForwardedTest(unittest.TestCase):
    """Forwarded replies go through rate limiting too: here the upstream's own answers, delivered by
    the forwarder thread (the upstream is slow, so every query waits on the one resolution)."""

    def test_upstream_replies_are_limited(self):
        from test_forwarding import FakeUpstream

        def slow(up, query, addr):
            time.sleep(0.3)
            up.send(FakeUpstream.answer(query, "192.0.2.66"), addr)
        up = FakeUpstream(slow)
        self.addCleanup(up.stop)

        def edit(files):
            dns = files["phoenix_hypervisor_config.json"]["dns_server"]
            dns["upstream_servers"] = [up.address]
            dns["views"][0]["rate_limit"] = {"responses_per_second": 3, "slip": 0}  # internal: forwards
        mport = free_port()
        with Server(copy_inventory(edit=edit), upstreams=None, args=["--metrics-listen", f"127.0.0.1:{mport}"]) as srv:
            full = 0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))  # the internal view (it forwards)
                for i in range(20):
                    s.sendto(w.query("forwarded.example.net", qid=i, rd=True), ("127.0.0.1", srv.port))
                s.settimeout(1.5)
                try:
                    for _ in range(20):
                        r = w.parse(s.recv(4096))
                        self.assertEqual(r.rcode, "NOERROR")
                        full += 1
                except socket.timeout:
                    pass
            text = fetch(mport)[2]
        self.assertEqual(full, 3)
        self.assertEqual(samples(text, "phoenix_dns_rate_limited_dropped_total")['{view="internal",transport="udp"}'], 17)


class RrlConfigTest(unittest.TestCase):
    def test_unknown_key_is_an_error(self):
        def edit(files):
            files["phoenix_hypervisor_config.json"]["dns_server"]["rate_limit"] = {"responses_per_secnd": 5}
        inv = copy_inventory(edit=edit)
        srv = Server(inv)
        srv.start(wait=False)
        rc = srv.proc.wait(timeout=20)
        srv.stop()
        self.assertEqual(rc, 1)
        self.assertIn('/dns_server/rate_limit/responses_per_secnd: unknown rate_limit key', srv.output())

    def test_view_override_turns_it_off(self):
        def edit(files):
            dns = files["phoenix_hypervisor_config.json"]["dns_server"]
            dns["rate_limit"] = {"responses_per_second": 2}
            dns["views"][1]["rate_limit"] = False
        with Server(copy_inventory(edit=edit)) as srv:
            self.assertEqual(burst(srv.port, "127.0.6.1", 30), (30, 0))

    def test_view_override_numbers(self):
        def edit(files):
            files["phoenix_hypervisor_config.json"]["dns_server"]["views"][1]["rate_limit"] = {
                "responses_per_second": 3, "slip": 0}
        with Server(copy_inventory(edit=edit)) as srv:
            self.assertEqual(burst(srv.port, "127.0.7.1", 20), (3, 0))  # 3 of credit; slip 0: no truncated

if __name__ == "__main__":
    unittest.main()
