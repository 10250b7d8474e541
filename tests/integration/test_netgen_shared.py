"""phoenix-netgen on the real Phoenix inventory in ../shared (skipped when that directory is absent)."""
import subprocess
import unittest

import yaml

from netgen import HAVE_SHARED, SHARED_INVENTORY, check, codes, copy_inventory, generate, netgen
from test_netgen_outputs import nginx_with_certs


@unittest.skipUnless(HAVE_SHARED, "../shared/inventory/phoenix not present")
class SharedInventoryNetgenTest(unittest.TestCase):
    def test_check_finds_the_real_problems(self):
        rc, findings = check(SHARED_INVENTORY)
        self.assertEqual(rc, 1)
        # Seed 003: Traefik cannot reach Portainer; VM 1001 has no IN rule for it.
        dropped = [f["message"] for f in findings if f["code"] == "route-dropped"]
        self.assertTrue(any("10.0.0.12 -> vm 1001 (Portainer) 10.0.0.111:9443/tcp" in m for m in dropped), dropped)
        self.assertIn("duplicate-rule", codes(findings, "warning"))
        self.assertIn("nameserver-bypass", codes(findings, "warning"))
        # The raw-TCP agent is published directly, never behind the gateway: an HTTP proxy cannot carry it.
        self.assertNotIn("tcp-behind-gateway", codes(findings))

    def test_agent_reachable_from_portainer_server(self):
        r = netgen("reach", "Portainer", "portainer-agent.internal.thinkheads.ai", "9001/tcp", inventory=SHARED_INVENTORY)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_generated_files_load(self):
        conf, r = nginx_with_certs(SHARED_INVENTORY)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("listen 443 ssl;", conf.read_text())
        out = generate("zones", SHARED_INVENTORY)
        for f in out.rglob("*.zone"):
            r = subprocess.run(["named-checkzone", "-k", "fail", f.name[:-5], str(f)], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout)
        # The real files route portainer.internal two ways: VM 1001's traefik_service to 9443 (https,
        # which its firewall rules and Traefik's were written for) and the portainer stack's label to
        # 9000 (http), both on 10.0.0.111. That is the inventory contradicting itself, not one route
        # described twice: netgen says so and refuses, and writes the file once one of them is gone.
        r = netgen("traefik", inventory=SHARED_INVENTORY)
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: portainer.internal.thinkheads.ai is claimed by route portainer -> "
                      "https://10.0.0.111:9443 (vm 1001 (Portainer) at phoenix_vm_configs.json: /vms/1/traefik_service) "
                      "and route portainer-2 -> http://10.0.0.111:9000 (stack portainer_service/production/portainer at "
                      "phoenix_stacks_config.json: /docker_stacks/portainer_service/environments/production/services/"
                      "portainer/traefik_labels/1): the inventory gives one Host() two backends; keep one of the two, "
                      "or make them agree", r.stderr)
        self.assertIn("error: traefik-dynamic.yml not written: the inventory contradicts itself on a Host()", r.stderr)
        rc, findings = check(SHARED_INVENTORY)
        self.assertIn("portainer.internal.thinkheads.ai is routed twice",
                      " ".join(f["message"] for f in findings if f["code"] == "duplicate-route" and f["severity"] == "error"))

        def one_portainer_route(f):
            next(v for v in f["phoenix_vm_configs.json"]["vms"] if v["vmid"] == 1001).pop("traefik_service")
        out = generate("traefik", copy_inventory(SHARED_INVENTORY, one_portainer_route))
        doc = yaml.safe_load((out / "traefik-dynamic.yml").read_text())
        self.assertIn("granite-embedding", doc["http"]["routers"])
        self.assertNotIn("portainer-agent", doc["http"]["routers"])
        # The Step-CA speaks https (Traefik's bootstrap_ca_url says so); qdrant keeps its router labels.
        self.assertEqual(doc["http"]["services"]["ca"]["loadBalancer"]["servers"][0]["url"], "https://10.0.0.10:9000")
        self.assertEqual(doc["http"]["routers"]["qdrant"]["tls"], {"certResolver": "internal-resolver"})
        self.assertEqual(doc["http"]["routers"]["qdrant"]["entryPoints"], ["websecure"])
        out = generate("firewall", SHARED_INVENTORY)
        self.assertTrue((out / "1002.fw").exists())
        self.assertNotIn("10.0.0.111", (out / "cluster.fw").read_text())


if __name__ == "__main__":
    unittest.main()
