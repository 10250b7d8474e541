"""The real Phoenix inventory from ../shared (skipped when that directory is absent)."""
import unittest

from harness import SHARED_INVENTORY, Server, copy_inventory

HAVE_SHARED = (SHARED_INVENTORY / "phoenix_hypervisor_config.json").exists()


@unittest.skipUnless(HAVE_SHARED, "../shared/inventory/phoenix not present")
class SharedInventoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(SHARED_INVENTORY).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_issue_examples(self):
        r = self.server.dig("ollama.internal.thinkheads.ai")
        self.assertEqual(r.rdata("A"), ["10.0.0.155"])
        self.assertIn("aa", r.flags)
        self.assertEqual(self.server.dig("ollama.phoenix.thinkheads.ai").rdata("A"), ["10.0.0.153"])
        self.assertEqual(self.server.dig("12.0.0.10.in-addr.arpa", "PTR").rdata("PTR"),
                         ["traefik-internal.internal.thinkheads.ai."])
        r = self.server.dig("portainer-agent.internal.thinkheads.ai", tcp=True)
        self.assertEqual(r.rdata("A"), ["10.0.0.102"])

    def test_default_views_put_all_loopback_inside(self):
        r = self.server.dig("ollama.internal.thinkheads.ai", source="127.0.0.9")
        self.assertEqual(r.rdata("A"), ["10.0.0.155"])


@unittest.skipUnless(HAVE_SHARED, "../shared/inventory/phoenix not present")
class SharedInventoryOutsideTest(unittest.TestCase):
    """From outside the internal subnet (a view override makes 127.0.0.2 external), only the external zone answers."""

    def test_outside_client_is_refused_internal_and_reverse(self):
        def edit(f):
            f["phoenix_hypervisor_config.json"]["dns_server"]["views"] = [
                {"name": "internal", "match_clients": ["10.0.0.0/24", "127.0.0.1"]},
                {"name": "external", "match_clients": ["any"]}]
        with Server(copy_inventory(SHARED_INVENTORY, edit)) as s:
            self.assertEqual(s.dig("ollama.internal.thinkheads.ai", source="127.0.0.2").rcode, "REFUSED")
            self.assertEqual(s.dig("12.0.0.10.in-addr.arpa", "PTR", source="127.0.0.2").rcode, "REFUSED")
            self.assertEqual(s.dig("ollama.phoenix.thinkheads.ai", source="127.0.0.2").rdata("A"), ["10.0.0.153"])


if __name__ == "__main__":
    unittest.main()
