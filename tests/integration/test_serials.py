"""SOA serials (inventory.md, issue 5): the same content keeps its serial across reloads and restarts
(remembered in --state-dir); changed content gets a strictly greater one (RFC 1982), and a serial
never goes back, not even when the content does."""
import json
import signal
import tempfile
import unittest
from pathlib import Path

from dnswire import udp_ask
from harness import Server, copy_inventory
from test_reload import Flipper, reload_and_wait

# (zone, client source): the internal view serves all three zones, the external one its own zone.
ZONES = [("internal.thinkheads.ai", "127.0.0.1"), ("phoenix.thinkheads.ai", "127.0.0.1"),
         ("0.0.10.in-addr.arpa", "127.0.0.1"), ("phoenix.thinkheads.ai", "127.0.0.2")]
# Moving ollama changes its A record and its PTR; the external zone only has gateway addresses.
CHANGED = {ZONES[0], ZONES[2]}


def serials(server):
    out = {}
    for zone, source in ZONES:
        r = udp_ask(server.port, zone, "SOA", source=source)
        assert r.rcode == "NOERROR" and len(r.soa_serials) == 1, (zone, source, r)
        out[(zone, source)] = r.soa_serials[0]
    return out


def rfc1982_greater(a, b):
    return (a < b and b - a > 2**31) or (a > b and a - b < 2**31)


class SerialTest(unittest.TestCase):
    def assert_moved(self, before, after, changed):
        for key in before:
            if key in changed:
                self.assertTrue(rfc1982_greater(after[key], before[key]), f"{key}: {before[key]} -> {after[key]}")
            else:
                self.assertEqual(after[key], before[key], f"{key} did not change content")

    def test_serials_across_reloads_and_restarts(self):
        inv = copy_inventory()
        flip = Flipper(inv)
        state = tempfile.mkdtemp(prefix="phoenix-state-")
        server = Server(inv, state_dir=state).start()
        try:
            s0 = serials(server)
            reload_and_wait(server)  # same content
            self.assertEqual(serials(server), s0)
            flip.put("B")
            reload_and_wait(server)
            s1 = serials(server)
            self.assert_moved(s0, s1, CHANGED)
            flip.put("broken")
            reload_and_wait(server, ok=False)
            self.assertEqual(serials(server), s1)
        finally:
            self.assertEqual(server.stop(), 0, server.output())

        # Restart on the same state: same content, same serials.
        server = Server(inv, state_dir=state)
        flip.put("B")
        server.start()
        try:
            self.assertEqual(serials(server), s1)
        finally:
            self.assertEqual(server.stop(), 0, server.output())

        # Changed while stopped: greater after the restart; and back to the old content: greater again.
        flip.put("A")
        server = Server(inv, state_dir=state).start()
        try:
            s2 = serials(server)
            self.assert_moved(s1, s2, CHANGED)
            flip.put("B")
            reload_and_wait(server)
            self.assert_moved(s2, serials(server), CHANGED)
        finally:
            self.assertEqual(server.stop(), 0, server.output())
        saved = json.loads((Path(state) / "serials.json").read_text())
        self.assertIn("internal/internal.thinkheads.ai", saved)


if __name__ == "__main__":
    unittest.main()
