"""Issue 12: what today's dnsmasq (domain-needed, bogus-priv, stop-dns-rebind) protects, phoenix-dns keeps.

A real Knot on loopback is the upstream and serves exactly the data that would leak without each
protection: a public name with a private address, a private reverse zone, a single-label zone. Every
process is started here on a free port and stopped by its PID; every wait is bounded.
"""
import shutil
import time
import unittest

from harness import Server
from test_forwarding import INTERNAL, EXTERNAL, Knot, forwarding_inventory, rdig

LEAKY = """$ORIGIN example.
$TTL 60
@ SOA ns1 hostmaster 1 3600 900 1209600 60
@ NS ns1
ns1 A 192.0.2.53
rebind A 192.168.1.5
own A 10.0.0.77
mixed A 192.0.2.7
mixed A 172.16.4.4
ula AAAA fd00::5
loop A 127.0.0.1
mapped AAAA ::ffff:192.168.1.9
public A 192.0.2.8
public AAAA 2001:db8::8
nas.lan A 192.168.1.20
"""

# If any of these reached the upstream, the client would get Knot's records instead of our NXDOMAIN.
PRIVATE_REVERSE = """$ORIGIN 168.192.in-addr.arpa.
@ SOA ns1.example. hostmaster.example. 1 3600 900 1209600 60
@ NS ns1.example.
1.1 PTR leaked.example.
"""
TLD = """$ORIGIN foo.
@ SOA ns1.example. hostmaster.example. 1 3600 900 1209600 60
@ NS ns1.example.
@ A 192.0.2.99
"""


def ede(reply):
    """The EDE code dig printed, or None."""
    for line in reply.text.splitlines():
        if line.startswith("; EDE:"):
            return int(line.split()[2])
    return None


@unittest.skipUnless(shutil.which("knotd"), "knotd (Debian package knot) is not installed")
class ForwardPolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.knot = Knot({"example": LEAKY, "168.192.in-addr.arpa": PRIVATE_REVERSE, "foo": TLD})
        inv = forwarding_inventory([cls.knot.address], rebind_allow=["lan.example"])
        cls.server = Server(inv, upstreams=None, args=["--log-level", "debug"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.knot.stop()

    def ask(self, name, rtype="A", **kw):
        return rdig(self.server, name, rtype, source=INTERNAL, **kw)

    def test_upstream_really_serves_the_leaky_data(self):
        # The reference: asked directly, Knot gives every one of these away.
        from harness import dig
        self.assertEqual(dig(self.knot.port, "rebind.example").rdata("A"), ["192.168.1.5"])
        self.assertEqual(dig(self.knot.port, "1.1.168.192.in-addr.arpa", "PTR").rdata("PTR"), ["leaked.example."])
        self.assertEqual(dig(self.knot.port, "foo").rdata("A"), ["192.0.2.99"])

    def test_private_addresses_from_upstream_are_refused(self):
        for name, rtype in [("rebind.example", "A"), ("own.example", "A"), ("mixed.example", "A"),
                            ("ula.example", "AAAA"), ("loop.example", "A"), ("mapped.example", "AAAA")]:
            r = self.ask(name, rtype)
            self.assertEqual(r.rcode, "REFUSED", name)
            self.assertEqual(r.answer, [], name)
            self.assertEqual(ede(r), 15, name)  # Blocked (RFC 8914 §4.16)
            self.assertIn("ra", r.flags)
        # Refused answers are not cached: asked again, the upstream is asked again and refused again.
        self.assertEqual(self.ask("rebind.example").rcode, "REFUSED")
        self.assertIn("rebind protection", self.server.output())  # logged at debug

    def test_public_addresses_and_allowed_domains_pass(self):
        self.assertEqual(self.ask("public.example").rdata("A"), ["192.0.2.8"])
        self.assertEqual(self.ask("public.example", "AAAA").rdata("AAAA"), ["2001:db8::8"])
        self.assertEqual(self.ask("nas.lan.example").rdata("A"), ["192.168.1.20"])  # rebind_allow

    def test_private_reverse_lookups_stay_home(self):
        r = self.ask("1.1.168.192.in-addr.arpa", "PTR")
        self.assertEqual(r.rcode, "NXDOMAIN")
        self.assertEqual(r.answer, [])
        self.assertEqual([(a[0], a[3]) for a in r.authority], [("168.192.in-addr.arpa.", "SOA")])
        self.assertIn("aa", r.flags)
        for name in ["5.4.16.172.in-addr.arpa", "1.1.254.169.in-addr.arpa", "1.0.0.127.in-addr.arpa"]:
            self.assertEqual(self.ask(name, "PTR").rcode, "NXDOMAIN", name)
        # Our own reverse zone still answers, inside the 10.in-addr.arpa the server now serves too.
        own = self.ask("155.0.0.10.in-addr.arpa", "PTR")
        self.assertEqual(own.rcode, "NOERROR")
        self.assertEqual(len(own.answer), 1)
        self.assertEqual(self.ask("9.9.10.in-addr.arpa", "PTR").rcode, "NXDOMAIN")
        # The external view serves none of it.
        self.assertEqual(rdig(self.server, "1.1.168.192.in-addr.arpa", "PTR", source=EXTERNAL).rcode, "REFUSED")

    def test_single_label_names_are_not_forwarded(self):
        r = self.ask("foo")
        self.assertEqual(r.rcode, "NXDOMAIN")
        self.assertEqual(r.answer, [])
        self.assertNotIn("aa", r.flags)
        self.assertIn("ra", r.flags)
        self.assertEqual(self.ask("ollama").rcode, "NXDOMAIN")  # search_single_label is off by default

    def test_rd_clear_is_answered_from_the_cache_only(self):
        norec = lambda: self.server.dig("public.example", "TXT", source=INTERNAL)  # harness.dig sends RD=0
        r = norec()
        self.assertEqual(r.rcode, "REFUSED")
        self.assertEqual(ede(r), 20)  # Not Authoritative (RFC 8914 §4.21)
        time.sleep(0.3)
        # Had the first query started a forward, its answer would be in the cache by now.
        self.assertEqual(norec().rcode, "REFUSED")
        self.assertEqual(self.ask("public.example", "TXT").rcode, "NOERROR")  # RD=1 forwards (NODATA)
        cached = norec()
        self.assertEqual(cached.rcode, "NOERROR")
        self.assertEqual([(a[0], a[3]) for a in cached.authority], [("example.", "SOA")])


@unittest.skipUnless(shutil.which("knotd"), "knotd (Debian package knot) is not installed")
class SearchSingleLabelTest(unittest.TestCase):
    def test_single_label_names_are_tried_in_the_internal_zone(self):
        knot = Knot({"foo": TLD})
        self.addCleanup(knot.stop)
        inv = forwarding_inventory([knot.address], search_single_label=True)
        with Server(inv, upstreams=None) as server:
            r = rdig(server, "Ollama", source=INTERNAL)
            self.assertEqual(r.rcode, "NOERROR")
            self.assertEqual([(a[0], a[4]) for a in r.answer], [("Ollama.", "10.0.0.155")])
            self.assertNotIn("aa", r.flags)
            self.assertEqual(rdig(server, "foo", source=INTERNAL).rcode, "NXDOMAIN")  # still never forwarded


if __name__ == "__main__":
    unittest.main()
