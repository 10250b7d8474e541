"""phoenix-netgen reach: flows allowed and dropped at each firewall level, with the deciding rule named."""
import json
import unittest

from netgen import EXAMPLE, copy_inventory, netgen

HYP, LXC, VM = "phoenix_hypervisor_config.json", "phoenix_lxc_configs.json", "phoenix_vm_configs.json"


def reach(src, dst, pp, inventory=EXAMPLE):
    r = netgen("reach", src, dst, pp, "--json", inventory=inventory)
    if r.returncode not in (0, 1):
        raise AssertionError(f"reach exited {r.returncode}:\n{r.stderr}")
    doc = json.loads(r.stdout)
    assert (r.returncode == 0) == (doc["verdict"] == "ALLOW"), (r.returncode, doc)
    return doc


class ReachTest(unittest.TestCase):
    def assertDecided(self, doc, verdict, level, pointer):
        self.assertEqual(doc["verdict"], verdict, doc)
        last = doc["steps"][-1]
        self.assertEqual(last["level"], level, doc)
        self.assertEqual(last["where"]["pointer"], pointer, doc)

    def test_guest_to_guest_allowed_by_both_guest_rules(self):
        doc = reach("10.0.0.111", "10.0.0.102", "9001/tcp")
        self.assertEqual([s["verdict"] for s in doc["steps"]], ["ACCEPT", "ACCEPT"])
        self.assertEqual(doc["steps"][0]["where"]["pointer"], "/vms/1/firewall/rules/1")
        self.assertDecided(doc, "ALLOW", "vm 1002 (drphoenix) IN", "/vms/2/firewall/rules/0")
        self.assertIn("ESTABLISHED", doc["note"])

    def test_dropped_by_destination_guest_policy(self):
        self.assertDecided(reach("10.0.0.12", "10.0.0.102", "9001/tcp"), "DROP", "vm 1002 (drphoenix) IN",
                           "/vms/2/firewall")

    def test_stateful_reply_is_not_a_new_connection(self):
        self.assertEqual(reach("10.0.0.102", "10.0.0.111", "9001/tcp")["verdict"], "DROP")

    def test_dropped_by_source_guest_out_rule(self):
        def edit(f):
            f[VM]["vms"][1]["firewall"]["rules"].insert(
                0, {"type": "out", "action": "DROP", "dest": "10.0.0.0/24", "proto": "tcp", "port": "9000:9100"})
        doc = reach("Portainer", "drphoenix", "9001/tcp", copy_inventory(EXAMPLE, edit))
        self.assertDecided(doc, "DROP", "vm 1001 (Portainer) OUT", "/vms/1/firewall/rules/0")
        self.assertEqual(len(doc["steps"]), 1)

    def test_source_guest_policy_out_drop(self):
        # Guests have no policy key in the inventory; a leading catch-all OUT DROP plays that role.
        def edit(f):
            f[LXC]["lxc_configs"]["914"]["firewall"]["rules"].append({"type": "out", "action": "DROP"})
        doc = reach("914", "host", "53/udp", copy_inventory(EXAMPLE, edit))
        self.assertDecided(doc, "DROP", "lxc 914 (ollama-gpu0) OUT", "/lxc_configs/914/firewall/rules/1")

    def test_host_in_allowed_by_cluster_rule(self):
        doc = reach("10.0.0.155", "host", "53/udp")
        self.assertDecided(doc, "ALLOW", "cluster.fw (host 10.0.0.13) IN", "/firewall/global_firewall_rules/2")

    def test_host_in_dropped_by_cluster_policy(self):
        self.assertDecided(reach("203.0.113.7", "10.0.0.13", "53/udp"), "DROP", "cluster.fw (host 10.0.0.13) IN",
                           "/firewall")

    def test_host_out_dropped_by_cluster_policy_out(self):
        def edit(f):
            f[HYP]["firewall"]["default_output_policy"] = "DROP"
        doc = reach("host", "10.0.0.155", "11434/tcp", copy_inventory(EXAMPLE, edit))
        self.assertDecided(doc, "DROP", "cluster.fw (host 10.0.0.13) OUT", "/firewall")

    def test_host_out_allowed_then_guest_decides(self):
        doc = reach("host", "10.0.0.155", "11434/tcp")
        self.assertDecided(doc, "DROP", "lxc 914 (ollama-gpu0) IN", "/lxc_configs/914/firewall")
        self.assertEqual(doc["steps"][0]["verdict"], "ACCEPT")

    def test_external_client_to_gateway(self):
        doc = reach("198.51.100.4", "Nginx-Phoenix", "443/tcp")
        self.assertDecided(doc, "ALLOW", "lxc 101 (Nginx-Phoenix) IN", "/lxc_configs/101/firewall/rules/0")
        self.assertEqual(reach("198.51.100.4", "Nginx-Phoenix", "22/tcp")["verdict"], "DROP")

    def test_guest_firewall_disabled_lets_everything_in(self):
        def edit(f):
            f[VM]["vms"][2]["firewall"]["enabled"] = False
        doc = reach("10.0.0.12", "10.0.0.102", "9001/tcp", copy_inventory(EXAMPLE, edit))
        self.assertEqual(doc["verdict"], "ALLOW")
        self.assertIn("disabled", doc["steps"][-1]["reason"])

    def test_cluster_firewall_disabled_turns_off_every_level(self):
        def edit(f):
            f[HYP]["firewall"]["enabled"] = False
        doc = reach("203.0.113.7", "10.0.0.102", "22/tcp", copy_inventory(EXAMPLE, edit))
        self.assertEqual(doc["verdict"], "ALLOW")
        self.assertEqual(doc["steps"][0]["level"], "cluster.fw")

    def test_reject_is_reported(self):
        def edit(f):
            f[LXC]["lxc_configs"]["914"]["firewall"]["rules"].insert(
                0, {"type": "in", "action": "REJECT", "source": "10.0.0.12", "proto": "tcp", "port": "11434"})
        r = netgen("reach", "traefik-internal", "ollama.internal.thinkheads.ai", "11434/tcp",
                   inventory=copy_inventory(EXAMPLE, edit))
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stdout.startswith("DROP 10.0.0.12 -> 10.0.0.155:11434/tcp"), r.stdout)
        self.assertIn("REJECT by rule 0", r.stdout)
        self.assertIn("phoenix_lxc_configs.json: /lxc_configs/914/firewall/rules/0", r.stdout)

    def test_icmp(self):
        self.assertEqual(reach("10.0.0.12", "10.0.0.155", "icmp")["verdict"], "DROP")


if __name__ == "__main__":
    unittest.main()
