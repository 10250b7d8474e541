"""Issue 12: with no upstream_servers, the server forwards to the host's resolv.conf nameservers.

Tests never read the real /etc/resolv.conf (harness passes --resolv-conf /dev/null): here a file written
by the test names loopback addresses only, where nothing listens on port 53, so a forwarded question
ends in SERVFAIL on the machine itself, which is enough to tell forwarding on (SERVFAIL, RA) from off
(REFUSED).
"""
import tempfile
import unittest
from pathlib import Path

from harness import Server, copy_inventory
from test_forwarding import INTERNAL, forwarding_inventory, rdig


def resolv_conf(text):
    f = Path(tempfile.mkstemp(prefix="phoenix-resolv-")[1])
    f.write_text(text)
    return f


class ResolvConfTest(unittest.TestCase):
    def test_without_upstream_servers_the_resolv_conf_nameservers_are_used(self):
        conf = resolv_conf("# by the installer\nsearch lan\nnameserver 127.0.0.9\nnameserver 127.0.0.10 ; second\n"
                           "options edns0\n")
        inv = forwarding_inventory([], forward_timeout_ms=200, forward_total_timeout_ms=600)
        with Server(inv, upstreams=None, args=["--resolv-conf", str(conf)]) as server:
            self.assertIn(f"forwarding to the nameservers of {conf}: 127.0.0.9:53, 127.0.0.10:53", server.output())
            r = rdig(server, "www.example.test", source=INTERNAL)
            self.assertEqual(r.rcode, "SERVFAIL")  # asked, and nobody answered
            self.assertIn("ra", r.flags)

    def test_upstream_none_still_turns_forwarding_off(self):
        conf = resolv_conf("nameserver 127.0.0.9\n")
        inv = forwarding_inventory([])
        with Server(inv, upstreams=[], args=["--resolv-conf", str(conf)]) as server:
            self.assertNotIn("nameservers of", server.output())
            r = rdig(server, "www.example.test", source=INTERNAL)
            self.assertEqual(r.rcode, "REFUSED")
            self.assertNotIn("ra", r.flags)

    def test_inventory_upstreams_win_over_resolv_conf(self):
        conf = resolv_conf("nameserver 127.0.0.9\n")
        inv = forwarding_inventory(["127.0.0.11:5300"], forward_timeout_ms=200, forward_total_timeout_ms=400)
        with Server(inv, upstreams=None, args=["--resolv-conf", str(conf)]) as server:
            self.assertNotIn("nameservers of", server.output())
            rdig(server, "www.example.test", source=INTERNAL)  # the forwarder names its upstreams when first used
            self.assertIn("forward: upstreams 127.0.0.11:5300", server.output())

    def test_unreadable_or_empty_resolv_conf_means_no_forwarding_and_says_so(self):
        inv = forwarding_inventory([])
        for path, why in [("/nonexistent/resolv.conf", "cannot be read"), (str(resolv_conf("search lan\n")),
                                                                             "names no nameserver")]:
            with Server(inv, upstreams=None, args=["--resolv-conf", path]) as server:
                self.assertIn(why, server.output())
                self.assertEqual(rdig(server, "www.example.test", source=INTERNAL).rcode, "REFUSED")


if __name__ == "__main__":
    unittest.main()
