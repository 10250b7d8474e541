"""Issue 7: the internal view forwards names outside our zones to the upstreams and caches the answers.

The upstream is a real Knot (knotd) started on loopback with a small `example.test` zone, or a tiny
Python fake for what a real server would never do (stay silent, send spoofed replies). Every process
is started here on a free port and stopped by its PID; every wait is bounded.
"""
import json
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import dnsprobe as w
from harness import Server, copy_inventory, dig, free_port

INTERNAL, EXTERNAL = "127.0.0.1", "127.0.0.2"  # the example inventory makes 127.0.0.1 internal

ZONE = """$ORIGIN example.test.
$TTL 30
@ 30 SOA ns1 hostmaster 1 3600 900 1209600 3
@ NS ns1
ns1 A 192.0.2.53
www 30 A 192.0.2.1
short 2 A 192.0.2.2
""" + "".join(f'big 30 TXT "record {i} padded so that forty of them cannot fit in one UDP reply"\n'
              for i in range(40))


class Knot:
    """knotd serving example.test on 127.0.0.1:port, everything in a temp dir, run as the current user."""

    def __init__(self, zones=None):
        """`zones`: {origin: zone text}; example.test is always served (readiness is asked there)."""
        zones = {"example.test": ZONE, **(zones or {})}
        self.dir = Path(tempfile.mkdtemp(prefix="phoenix-knot-"))
        self.port = free_port()
        for origin, text in zones.items():
            (self.dir / f"{origin}.zone").write_text(text)
        zone_list = "".join(f"  - domain: {origin}\n" for origin in zones)
        (self.dir / "knot.conf").write_text(f"""server:
    rundir: "{self.dir}"
    listen: 127.0.0.1@{self.port}
database:
    storage: "{self.dir}"
template:
  - id: default
    storage: "{self.dir}"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
zone:
{zone_list}log:
  - target: stderr
    any: warning
""")
        self.log = open(self.dir / "knotd.log", "w")
        self.proc = subprocess.Popen(["knotd", "-c", str(self.dir / "knot.conf")], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("knotd exited:\n" + (self.dir / "knotd.log").read_text())
            try:
                if dig(self.port, "www.example.test", timeout=1).rcode == "NOERROR":
                    return
            except (AssertionError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("knotd did not answer")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


def rdig(server, name, rtype="A", extra=(), **kw):
    """dig with RD set, as a guest's stub resolver asks (harness.dig sends RD=0, which never forwards)."""
    return server.dig(name, rtype, extra=["+rec", *extra], **kw)


def forwarding_inventory(upstreams, **settings):
    def edit(files):
        dns = files["phoenix_hypervisor_config.json"]["dns_server"]
        dns["upstream_servers"] = upstreams
        dns.update(settings)
    return copy_inventory(edit=edit)


@unittest.skipUnless(shutil.which("knotd"), "knotd (Debian package knot) is not installed")
class ForwardingTest(unittest.TestCase):
    """phoenix-dns in front of a real Knot; each test gets a fresh pair (some stop the upstream)."""

    def setUp(self):
        self.knot = Knot()
        self.addCleanup(self.knot.stop)
        # A closed port first: failover must reach Knot (ECONNREFUSED, so no time is lost).
        dead = f"127.0.0.1:{free_port()}"
        inv = forwarding_inventory([dead, self.knot.address])
        self.server = Server(inv, upstreams=None).start()
        self.addCleanup(self.server.stop)

    def ask(self, name, rtype="A", **kw):
        return rdig(self.server, name, rtype, **kw)

    def test_internal_client_gets_the_upstream_answer_with_ra(self):
        r = self.ask("www.example.test", source=INTERNAL)
        self.assertEqual(r.rcode, "NOERROR")
        self.assertEqual(r.rdata("A"), ["192.0.2.1"])
        self.assertIn("ra", r.flags)
        self.assertNotIn("aa", r.flags)  # not our zone: never authoritative

    def test_reply_echoes_the_client_question_case(self):
        r = self.ask("WwW.ExAmPlE.tEsT", source=INTERNAL)
        self.assertEqual(r.question[0][0], "WwW.ExAmPlE.tEsT.")
        self.assertEqual(r.rdata("A"), ["192.0.2.1"])

    def test_external_client_is_refused(self):
        r = self.ask("www.example.test", source=EXTERNAL)
        self.assertEqual(r.rcode, "REFUSED")
        self.assertNotIn("ra", r.flags)
        self.assertEqual(r.answer, [])

    def test_our_zones_stay_authoritative_and_say_ra_internally(self):
        r = self.ask("ollama.internal.thinkheads.ai", source=INTERNAL)
        self.assertEqual(r.rdata("A"), ["10.0.0.155"])
        self.assertIn("aa", r.flags)
        self.assertIn("ra", r.flags)
        r = self.ask("ollama.phoenix.thinkheads.ai", source=EXTERNAL)
        self.assertNotIn("ra", r.flags)

    def test_second_query_is_answered_from_the_cache_with_a_lower_ttl(self):
        first = self.ask("www.example.test", source=INTERNAL)
        self.assertEqual(first.answer[0][1], 30)
        self.knot.stop()
        time.sleep(1.2)
        again = self.ask("www.example.test", source=INTERNAL)
        self.assertEqual(again.rcode, "NOERROR")
        self.assertEqual(again.rdata("A"), ["192.0.2.1"])
        self.assertLess(again.answer[0][1], 30)
        self.assertGreater(again.answer[0][1], 0)
        tcp = self.ask("www.example.test", source=INTERNAL, tcp=True)  # TCP clients share the cache
        self.assertEqual(tcp.rdata("A"), ["192.0.2.1"])

    def test_expired_answers_are_never_served(self):
        self.assertEqual(self.ask("short.example.test", source=INTERNAL).rdata("A"), ["192.0.2.2"])
        self.knot.stop()
        time.sleep(2.3)  # the record's TTL is 2
        r = self.ask("short.example.test", source=INTERNAL)
        self.assertEqual(r.rcode, "SERVFAIL")
        self.assertEqual(r.answer, [])

    def test_negative_answers_are_cached_for_the_soa_minimum(self):
        nx = self.ask("nope.example.test", source=INTERNAL)
        self.assertEqual(nx.rcode, "NXDOMAIN")
        self.assertEqual([rr[3] for rr in nx.authority], ["SOA"])
        nodata = self.ask("www.example.test", "AAAA", source=INTERNAL)
        self.assertEqual((nodata.rcode, nodata.answer), ("NOERROR", []))
        self.knot.stop()
        time.sleep(1.1)
        nx2 = self.ask("nope.example.test", source=INTERNAL)
        self.assertEqual(nx2.rcode, "NXDOMAIN")  # from the cache: Knot is gone
        self.assertLess(nx2.authority[0][1], nx.authority[0][1])
        self.assertEqual(self.ask("www.example.test", "AAAA", source=INTERNAL).rcode, "NOERROR")
        time.sleep(2.2)  # SOA MINIMUM is 3
        self.assertEqual(self.ask("nope.example.test", source=INTERNAL).rcode, "SERVFAIL")

    def test_truncated_upstream_reply_is_asked_again_over_tcp(self):
        r = self.ask("big.example.test", "TXT", source=INTERNAL, tcp=True)
        self.assertEqual(r.rcode, "NOERROR")
        self.assertEqual(len(r.answer), 40)
        udp = self.ask("big.example.test", "TXT", source=INTERNAL, extra=["+ignore"])
        self.assertIn("tc", udp.flags)  # too big for the client's UDP size, even from the cache


class FakeUpstream:
    """A loopback UDP 'upstream' that does what the test tells it with each query it receives."""

    def __init__(self, behaviour, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.queries = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            self.queries.append(data)
            threading.Thread(target=self.behaviour, args=(self, data, addr), daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()

    @property
    def address(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @staticmethod
    def question(query):
        """The question section's bytes (name, type, class) of a query."""
        off = 12
        while query[off]:
            off += query[off] + 1
        return query[12:off + 5]

    @staticmethod
    def answer(query, ip, qid=None, question=None):
        qid = struct.unpack("!H", query[:2])[0] if qid is None else qid
        question = question or FakeUpstream.question(query)
        header = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
        rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ip)
        return header + question + rr

    def send(self, payload, addr, from_other_port=False):
        if from_other_port:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                other.bind(("127.0.0.1", 0))
                other.sendto(payload, addr)
        else:
            self.sock.sendto(payload, addr)


def wire_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def send_spoofs(up, query, addr):
    """Three replies that must all be ignored: wrong ID, wrong question, wrong source port."""
    qid = struct.unpack("!H", query[:2])[0]
    up.send(FakeUpstream.answer(query, "6.6.6.1", qid=qid ^ 0x5A5A), addr)
    up.send(FakeUpstream.answer(query, "6.6.6.2", question=wire_name("evil.test") + b"\0\1\0\1"), addr)
    up.send(FakeUpstream.answer(query, "6.6.6.3"), addr, from_other_port=True)


def answering(ip, host="127.0.0.1"):
    """A fake upstream that answers every question with one A record."""
    return FakeUpstream(lambda up, query, addr: up.send(FakeUpstream.answer(query, ip), addr), host)


class UpstreamChangesTest(unittest.TestCase):
    def test_ipv6_upstream(self):
        up = answering("192.0.2.6", host="::1")
        self.addCleanup(up.stop)
        with Server(forwarding_inventory([up.address]), upstreams=None) as server:
            r = rdig(server, "v6.example.test", source=INTERNAL)
            self.assertEqual(r.rdata("A"), ["192.0.2.6"])

    def test_reload_switches_upstreams_and_drops_their_answers(self):
        old, new = answering("192.0.2.10"), answering("192.0.2.20")
        self.addCleanup(old.stop)
        self.addCleanup(new.stop)
        inv = forwarding_inventory([old.address])
        with Server(inv, upstreams=None) as server:
            self.assertEqual(rdig(server, "moved.example.test", source=INTERNAL).rdata("A"), ["192.0.2.10"])
            cfg = inv / "phoenix_hypervisor_config.json"
            data = json.loads(cfg.read_text())
            data["dns_server"]["upstream_servers"] = [new.address]
            cfg.write_text(json.dumps(data))
            server.signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "reload:" not in server.output() and time.monotonic() < deadline:
                time.sleep(0.05)
            # The cached answer came from the old upstream: it must not outlive the switch.
            self.assertEqual(rdig(server, "moved.example.test", source=INTERNAL).rdata("A"), ["192.0.2.20"])
            self.assertEqual(rdig(server, "other.example.test", source=INTERNAL).rdata("A"), ["192.0.2.20"])


class UpstreamMisbehaviourTest(unittest.TestCase):
    TIMEOUTS = {"forward_timeout_ms": 400, "forward_total_timeout_ms": 900}

    def serve(self, behaviour, **settings):
        up = FakeUpstream(behaviour)
        self.addCleanup(up.stop)
        server = Server(forwarding_inventory([up.address], **{**self.TIMEOUTS, **settings}), upstreams=None).start()
        self.addCleanup(server.stop)
        return up, server

    def test_spoofed_replies_are_ignored(self):
        def behaviour(up, query, addr):
            send_spoofs(up, query, addr)
            time.sleep(0.2)
            up.send(FakeUpstream.answer(query, "192.0.2.7"), addr)
        _, server = self.serve(behaviour)
        r = rdig(server, "spoof.example.test", source=INTERNAL)
        self.assertEqual(r.rcode, "NOERROR")
        self.assertEqual(r.rdata("A"), ["192.0.2.7"])

    def test_only_spoofed_replies_give_servfail(self):
        _, server = self.serve(lambda up, query, addr: send_spoofs(up, query, addr))
        r = rdig(server, "spoof.example.test", source=INTERNAL)
        self.assertEqual(r.rcode, "SERVFAIL")
        self.assertEqual(r.answer, [])

    def test_silent_upstream_gives_servfail_within_the_bound(self):
        up, server = self.serve(lambda *_: None)
        start = time.monotonic()
        r = rdig(server, "silent.example.test", source=INTERNAL, extra=["+time=5"], timeout=5)
        elapsed = time.monotonic() - start
        self.assertEqual(r.rcode, "SERVFAIL")
        self.assertIn("EDE: 22", r.text)  # No Reachable Authority (RFC 8914)
        # forward_total_timeout_ms is 0.9 s; the margin is for a loaded CI machine, not a benchmark.
        self.assertLess(elapsed, 4.0)
        self.assertGreaterEqual(len(up.queries), 1)

    def test_our_zones_answer_while_the_upstream_is_silent(self):
        _, server = self.serve(lambda *_: None, forward_timeout_ms=3000, forward_total_timeout_ms=3000)
        pending = subprocess.Popen(["dig", "@127.0.0.1", "-p", str(server.port), "-b", INTERNAL, "stuck.example.test",
                                    "+time=6", "+tries=1"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.2)
            r = rdig(server, "ollama.internal.thinkheads.ai", source=INTERNAL)
            self.assertEqual(r.rdata("A"), ["10.0.0.155"])
            self.assertIsNone(pending.poll())  # the forwarded one is indeed still waiting
        finally:
            pending.wait(timeout=10)

    def test_tcp_replies_before_a_forwarded_query_do_not_wait_for_it(self):
        # Pipelined on one connection: a name of ours, then one the silent upstream never answers.
        _, server = self.serve(lambda *_: None, forward_timeout_ms=3000, forward_total_timeout_ms=3000)
        ours = w.query("ollama.internal.thinkheads.ai", qid=1)
        stuck = w.query("stuck.example.test", qid=2, rd=True)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(INTERNAL, 0)) as s:
            start = time.monotonic()
            s.sendall(b"".join(struct.pack(">H", len(p)) + p for p in (ours, stuck)))
            first = w.read_tcp_reply(s)
            waited = time.monotonic() - start
            self.assertEqual((first.qid, first.rcode), (1, "NOERROR"))
            self.assertLess(waited, 2.0)  # well before the upstream's 3 s timeout
            second = w.read_tcp_reply(s)
            self.assertEqual((second.qid, second.rcode), (2, "SERVFAIL"))

    def test_a_tcp_query_waiting_longer_than_the_message_timeout_is_answered(self):
        # The TCP message timeout (3 s) is for a message still arriving. A whole one that waits on a
        # silent upstream for 4 s is answered (SERVFAIL), not closed as a slow client.
        _, server = self.serve(lambda *_: None, forward_timeout_ms=4000, forward_total_timeout_ms=4000)
        stuck = w.query("stuck.example.test", qid=7, rd=True)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(INTERNAL, 0)) as s:
            start = time.monotonic()
            s.sendall(struct.pack(">H", len(stuck)) + stuck)
            reply = w.read_tcp_reply(s)
            self.assertEqual((reply.qid, reply.rcode), (7, "SERVFAIL"))
            self.assertGreaterEqual(time.monotonic() - start, 3.5)

    def test_identical_questions_are_coalesced(self):
        def behaviour(up, query, addr):
            time.sleep(0.5)
            up.send(FakeUpstream.answer(query, "192.0.2.9"), addr)
        up, server = self.serve(behaviour, forward_timeout_ms=3000, forward_total_timeout_ms=3000)
        cmd = ["dig", "@127.0.0.1", "-p", str(server.port), "-b", INTERNAL, "same.example.test", "+time=5",
               "+tries=1", "+short"]
        clients = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(8)]
        answers = [c.communicate(timeout=10)[0].strip() for c in clients]
        self.assertEqual(answers, ["192.0.2.9"] * 8)
        asked = [q for q in up.queries if wire_name("same.example.test") in q]
        self.assertEqual(len(asked), 1)


if __name__ == "__main__":
    unittest.main()
