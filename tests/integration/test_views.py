"""Two views chosen by source address: internal clients get guest IPs, external ones the gateway only."""
import unittest

from harness import Server, ServerTest, dig, free_port

INTERNAL, EXTERNAL = "127.0.0.1", "127.0.0.2"  # the example inventory matches 127.0.0.1/32 as internal


class ViewTest(ServerTest):
    def test_internal_client_gets_direct_guest_address(self):
        r = self.server.dig("ollama.internal.thinkheads.ai", source=INTERNAL)
        self.assertEqual(r.rcode, "NOERROR")
        self.assertIn("aa", r.flags)
        self.assertEqual(r.rdata("A"), ["10.0.0.155"])

    def test_external_zone_points_at_gateway_from_both_views(self):
        for src in (INTERNAL, EXTERNAL):
            r = self.server.dig("ollama.phoenix.thinkheads.ai", source=src)
            self.assertEqual(r.rcode, "NOERROR", src)
            self.assertEqual(r.rdata("A"), ["10.0.0.153"], src)

    def test_external_client_is_refused_internal_and_reverse_zones(self):
        for name, rtype in (("ollama.internal.thinkheads.ai", "A"), ("155.0.0.10.in-addr.arpa", "PTR"),
                            ("internal.thinkheads.ai", "SOA")):
            r = self.server.dig(name, rtype, source=EXTERNAL)
            self.assertEqual(r.rcode, "REFUSED", name)
            self.assertEqual(r.answer, [], name)

    def test_raw_tcp_agent_is_not_published_behind_the_gateway(self):
        r = self.server.dig("portainer-agent.phoenix.thinkheads.ai", source=EXTERNAL)
        self.assertEqual(r.rcode, "NXDOMAIN")
        r = self.server.dig("portainer-agent.internal.thinkheads.ai", source=INTERNAL)
        self.assertEqual(r.rdata("A"), ["10.0.0.102"])

    def test_reverse_zone_names_guests_by_sanitised_label(self):
        r = self.server.dig("201.0.0.10.in-addr.arpa", "PTR", source=INTERNAL)
        self.assertEqual(r.rdata("PTR"), ["copy-cuda12-8.internal.thinkheads.ai."])

    def test_proxy_only_name_resolves_to_gateway_internally(self):
        r = self.server.dig("qdrant.internal.thinkheads.ai", source=INTERNAL)
        self.assertEqual(r.rdata("A"), ["10.0.0.153"])

    def test_explicit_record_wins_over_derived(self):
        r = self.server.dig("traefik.internal.thinkheads.ai", source=INTERNAL)
        self.assertEqual(r.rdata("A"), ["10.0.0.12"])

    def test_tcp_uses_the_same_views(self):
        r = self.server.dig("ollama.internal.thinkheads.ai", source=EXTERNAL, tcp=True)
        self.assertEqual(r.rcode, "REFUSED")
        r = self.server.dig("ollama.internal.thinkheads.ai", source=INTERNAL, tcp=True)
        self.assertEqual(r.rdata("A"), ["10.0.0.155"])


class Ipv6ViewTest(unittest.TestCase):
    """Views match IPv6 clients too: ::1 is internal in the example inventory."""

    def test_ipv6_client_gets_internal_view(self):
        port = free_port()
        with Server(args=["--listen", f"[::1]:{port}"], port=port) as s:
            r = dig(port, "ollama.internal.thinkheads.ai", server="::1")
            self.assertEqual(r.rcode, "NOERROR")
            self.assertEqual(r.rdata("A"), ["10.0.0.155"])
            r = dig(port, "ollama.internal.thinkheads.ai", server="::1", tcp=True)
            self.assertEqual(r.rdata("A"), ["10.0.0.155"])


if __name__ == "__main__":
    unittest.main()
