"""Issue 12: a restart with a broken inventory keeps DNS up with the last good data of --state-dir.

Each server is started here on a free port with its own state directory and stopped by its PID; the
systemd status line is read from a NOTIFY_SOCKET the test binds; every wait is bounded.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from dnswire import make_query
from harness import Server, copy_inventory, free_port, run_binary

HYPERVISOR = "phoenix_hypervisor_config.json"
LXC = "phoenix_lxc_configs.json"


def wait_for_file(path, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def start_refused(inventory, state_dir, *args):
    port = free_port()
    p = run_binary("--inventory", str(inventory), "--listen", f"127.0.0.1:{port}", "--state-dir", str(state_dir),
                   "--upstream", "none", "--allow-root", *args)
    return p.returncode, p.stdout + p.stderr


class LastGoodTest(unittest.TestCase):
    def setUp(self):
        self.inv = copy_inventory()
        self.state = Path(tempfile.mkdtemp(prefix="phoenix-state-"))
        self.good_lxc = (self.inv / LXC).read_text()
        # One good start leaves the last good data behind.
        with Server(self.inv, state_dir=self.state) as server:
            wait_for_file(self.state / "last-good.json")
            self.assertEqual(server.dig("ollama.internal.thinkheads.ai").rdata("A"), ["10.0.0.155"])
        self.last_good = self.state / "last-good.json"
        doc = json.loads(self.last_good.read_text())
        self.assertEqual(doc["version"], 2)
        self.assertEqual([v["name"] for v in doc["views"]], ["internal", "external"])
        self.assertEqual(list(self.state.glob("*.tmp")), [])  # written through a temp file, renamed

    def break_inventory(self):
        # Half-edited: the guest file stops mid-object, and the host file gains a bad address.
        (self.inv / LXC).write_text(self.good_lxc[: len(self.good_lxc) // 2])
        h = json.loads((self.inv / HYPERVISOR).read_text())
        h["dns_server"]["upstream_servers"] = ["not-an-address"]
        (self.inv / HYPERVISOR).write_text(json.dumps(h))

    def test_broken_inventory_at_start_serves_the_last_good_data(self):
        self.break_inventory()
        d = tempfile.mkdtemp(prefix="phoenix-notify-")
        path = os.path.join(d, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(10)
            server = Server(self.inv, state_dir=self.state, env=dict(os.environ, NOTIFY_SOCKET=path)).start()
            try:
                out = server.output()
                # Every error is logged, with its file and pointer, then what is served instead.
                self.assertIn(f"error: {LXC}", out)
                self.assertIn("/dns_server/upstream_servers/0", out)
                self.assertIn("inventory", out)
                self.assertRegex(out, r"2 errors; serving the last good data from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
                msg = sock.recv(4096).decode()
                self.assertIn("READY=1", msg.splitlines())
                self.assertRegex(msg, r"STATUS=serving last good data from \S+Z; inventory has 2 errors")
                self.assertEqual(server.dig("ollama.internal.thinkheads.ai").rdata("A"), ["10.0.0.155"])
                self.assertEqual(server.dig("ollama.phoenix.thinkheads.ai", source="127.0.0.2").rdata("A"),
                                 ["10.0.0.153"])
                self.assertEqual(len(server.dig("155.0.0.10.in-addr.arpa", "PTR").answer), 1)
                # A reload that is still broken says so and keeps the fallback line.
                server.signal(signal.SIGHUP)
                self.assertIn("RELOADING=1", sock.recv(4096).decode())
                msg = sock.recv(4096).decode()
                self.assertIn("last reload failed", msg)
                self.assertIn("serving last good data from", msg)
                # Fixed, a reload serves the inventory again.
                (self.inv / LXC).write_text(self.good_lxc.replace("10.0.0.155", "10.0.0.156"))
                h = json.loads((self.inv / HYPERVISOR).read_text())
                h["dns_server"]["upstream_servers"] = []
                (self.inv / HYPERVISOR).write_text(json.dumps(h))
                server.signal(signal.SIGHUP)
                self.assertIn("RELOADING=1", sock.recv(4096).decode())
                msg = sock.recv(4096).decode()
                # The status names the generation, then what the reload changed (the reload report).
                self.assertTrue(any(l.startswith("STATUS=serving generation 2;") for l in msg.splitlines()), msg)
                self.assertEqual(server.dig("ollama.internal.thinkheads.ai").rdata("A"), ["10.0.0.156"])
            finally:
                rc = server.stop()
            self.assertEqual(rc, 0, server.output())
        # ... and that is now the last good data.
        self.assertIn("10.0.0.156", self.last_good.read_text())

    def test_check_still_fails_and_strict_still_refuses(self):
        self.break_inventory()
        p = run_binary("--check", "--inventory", str(self.inv))
        self.assertEqual(p.returncode, 1)
        rc, out = start_refused(self.inv, self.state, "--strict")
        self.assertEqual(rc, 1, out)
        self.assertIn("not starting (--strict)", out)
        self.assertNotIn("serving", out)

    def test_no_last_good_data_and_a_broken_inventory_refuses(self):
        self.break_inventory()
        rc, out = start_refused(self.inv, tempfile.mkdtemp(prefix="phoenix-empty-"))
        self.assertEqual(rc, 1, out)
        self.assertIn("errors; not starting", out)

    def test_corrupt_last_good_data_is_a_clear_error_and_treated_as_absent(self):
        self.break_inventory()
        text = self.last_good.read_text()
        for bad, why in [(text[: len(text) // 3], "parse error"),
                         (text.replace('"version": 2', '"version": 7'), "version 7, this build reads version 2")]:
            self.last_good.write_text(bad)
            rc, out = start_refused(self.inv, self.state)
            self.assertEqual(rc, 1, out)
            self.assertIn("the last good data cannot be used", out)
            self.assertIn(str(self.last_good), out)
            self.assertIn(why, out)
            self.assertIn("errors; not starting", out)

    def test_fallback_keeps_tsig_keys_transfer_acls_and_rate_limits(self):
        # A view chosen by TSIG key, transfers by that key only, and a strict rate limit in the external
        # view: the restart on the last good data must enforce all three as the inventory did.
        key = ("lastgood-xfr", "hmac-sha256", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==")
        h = json.loads((self.inv / HYPERVISOR).read_text())
        dns = h["dns_server"]
        dns["tsig_keys"] = {key[0]: {"algorithm": key[1], "secret": key[2]}}
        dns["views"] = [
            {"name": "internal", "match_clients": ["10.0.0.0/24", "127.0.0.1/32", "::1"], "match_keys": [key[0]],
             "transfer": {"allow": ["key:" + key[0]]}},
            {"name": "external", "match_clients": ["any"],
             "rate_limit": {"responses_per_second": 1, "window": 5, "slip": 0}},
        ]
        (self.inv / HYPERVISOR).write_text(json.dumps(h))
        with Server(self.inv, state_dir=self.state) as server:
            wait_for_file(self.state / "last-good.json")
            deadline = time.monotonic() + 15
            while key[0] not in self.last_good.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        self.assertEqual(os.stat(self.last_good).st_mode & 0o777, 0o600)  # it holds the secret
        self.break_inventory()
        tsig = ["-y", f"{key[1]}:{key[0]}:{key[2]}"]
        server = Server(self.inv, state_dir=self.state).start()
        try:
            self.assertIn("serving the last good data", server.output())
            def axfr(*extra):
                return subprocess.run(["dig", "@127.0.0.1", "-p", str(server.port), "internal.thinkheads.ai", "AXFR",
                                       "+time=3", "+tries=1", *extra], capture_output=True, text=True, timeout=15).stdout
            signed = axfr(*tsig, "-b", "127.0.0.5")
            self.assertIn("10.0.0.155", signed)  # the key picked the internal view, and may transfer
            self.assertRegex(signed, r"XFR size: \d+ records")
            self.assertIn("Transfer failed", axfr())
            # 1 answer per second per /24 in the external view: a burst of 20 gets only a few through.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.2", 0))
                u.settimeout(1.0)
                for i in range(20):
                    u.sendto(make_query(i, "ollama.phoenix.thinkheads.ai"), ("127.0.0.1", server.port))
                answered = 0
                try:
                    while answered < 20:
                        u.recvfrom(4096)
                        answered += 1
                except socket.timeout:
                    pass
            self.assertGreater(answered, 0)
            self.assertLess(answered, 10)
        finally:
            rc = server.stop()
        self.assertEqual(rc, 0, server.output())
        self.assertRegex(server.output(), r"rrl: view external: [1-9]\d* replies over the limit")

    def test_good_inventory_wins_over_last_good_data(self):
        (self.inv / LXC).write_text(self.good_lxc.replace("10.0.0.155", "10.0.0.157"))
        with Server(self.inv, state_dir=self.state) as server:
            self.assertNotIn("last good data from", server.output())
            self.assertEqual(server.dig("ollama.internal.thinkheads.ai").rdata("A"), ["10.0.0.157"])



class StateWriteTest(unittest.TestCase):
    """The state of a generation (what is served, the last good data) is written after it is published;
    for a big zone that takes about as long as loading it. A reload asked for meanwhile must not wait
    behind it: the write stops, and the newest published generation is written once reloads settle,
    also when the reload that stopped it failed."""

    NAMES = 150000

    def write_zone(self, address):
        lines = ["$ORIGIN big.test.", "$TTL 300",
                 "@ SOA ns1.big.test. hostmaster.big.test. 1 3600 900 1209600 300", "@ NS ns1", "ns1 A 10.255.0.1",
                 f"changed A {address}"]
        lines += [f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(self.NAMES)]
        tmp = self.inv / "big.zone.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.inv / "big.zone")

    def setUp(self):
        self.inv = copy_inventory()
        self.state = Path(tempfile.mkdtemp(prefix="phoenix-state-"))
        h = json.loads((self.inv / HYPERVISOR).read_text())
        h["dns_server"]["zone_files"] = [{"file": "big.zone", "origin": "big.test"}]
        (self.inv / HYPERVISOR).write_text(json.dumps(h))
        self.good_hypervisor = (self.inv / HYPERVISOR).read_text()
        self.write_zone("10.1.0.1")

    def last_good_address(self):
        try:
            doc = json.loads((self.state / "last-good.json").read_text())
        except (OSError, ValueError):
            return None
        for z in doc["zones"]:
            for line in z["text"].splitlines():
                if line.startswith("changed.big.test. "):
                    return line.split()[-1]
        return None

    def served_address(self, view):
        try:
            text = (self.state / "served" / view / "big.test.zone").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("changed.big.test. "):
                return line.split()[-1]
        return None

    def wait_saved(self, address, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.last_good_address() == address and self.served_address("internal") == address:
                return
            time.sleep(0.1)
        self.fail(f"the state did not reach {address}: last good {self.last_good_address()}, "
                  f"served {self.served_address('internal')}")

    def test_a_reload_stops_the_state_write_and_the_newest_generation_is_saved_after_it(self):
        with Server(self.inv, state_dir=self.state, args=["--log-level", "debug"]) as server:
            self.wait_saved("10.1.0.1")
            stopped = False
            for attempt in range(1, 9):
                # A good reload, then at once a failing one: the first one's state write is under way
                # when the second SIGHUP comes (the write of 150,000 names takes far longer than the
                # few milliseconds between them); the failed reload must leave it to be written.
                address = f"10.2.0.{attempt}"
                generations = server.output().count("info: reload: generation")
                failures = server.output().count("reload: failed")
                self.write_zone(address)
                server.signal(signal.SIGHUP)
                deadline = time.monotonic() + 60
                while server.output().count("info: reload: generation") == generations:
                    self.assertLess(time.monotonic(), deadline, "the reload did not publish")
                    time.sleep(0.005)
                (self.inv / HYPERVISOR).write_text("{ broken")
                server.signal(signal.SIGHUP)
                while server.output().count("reload: failed") == failures:
                    self.assertLess(time.monotonic(), deadline, "the failing reload did not end")
                    time.sleep(0.02)
                (self.inv / HYPERVISOR).write_text(self.good_hypervisor)
                self.wait_saved(address)
                self.assertEqual(server.dig("changed.big.test").rdata("A"), [address])
                stopped = "stopped for a reload; saved after it" in server.output()
                if stopped:
                    break
            self.assertTrue(stopped, "no reload came while a state write was running")
            self.assertEqual(list(self.state.glob("*.tmp")) + list((self.state / "served").glob("*/*.tmp")), [])
        # What was saved serves: a restart on a broken inventory answers the last good address.
        (self.inv / HYPERVISOR).write_text("{ broken")
        with Server(self.inv, state_dir=self.state) as server:
            self.assertEqual(server.dig("changed.big.test").rdata("A"), [address])

if __name__ == "__main__":
    unittest.main()
