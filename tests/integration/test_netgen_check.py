"""phoenix-netgen check: each contradiction in a small inventory made to contain it, none in a clean one."""
import unittest

from netgen import EXAMPLE, check, codes, copy_inventory, netgen

HYP, LXC, VM, STACKS = ("phoenix_hypervisor_config.json", "phoenix_lxc_configs.json",
                        "phoenix_vm_configs.json", "phoenix_stacks_config.json")


def clean_edit(f):
    """The example minus its deliberate mess: a duplicate rule on the gateway, and a raw-TCP
    traefik_service that does not say it is TCP."""
    del f[LXC]["lxc_configs"]["101"]["firewall"]["rules"][2]
    vm(f, 1002)["traefik_service"]["protocol"] = "tcp"


def lan_access(f):
    """Services whose internal names clients of the LAN may open (the example admits only Traefik)."""
    for rules, port in ((lxc(f, "103")["firewall"]["rules"], "9000"), (lxc(f, "914")["firewall"]["rules"], "11434"),
                        (vm(f, 1001)["firewall"]["rules"], "9443"), (vm(f, 1002)["firewall"]["rules"], "9001")):
        rules.append({"type": "in", "action": "ACCEPT", "source": "10.0.0.0/24", "proto": "tcp", "port": port})


def edited(*edits):
    def apply(f):
        clean_edit(f)
        for e in edits:
            e(f)
    return copy_inventory(EXAMPLE, apply)


def lxc(f, ctid):
    return f[LXC]["lxc_configs"][ctid]


def vm(f, vmid):
    return next(v for v in f[VM]["vms"] if v["vmid"] == vmid)


def add_record(f, zone, **record):
    zones = f[HYP]["dns_server"].setdefault("authoritative_zones", [])
    for z in zones:
        if z["zone_name"] == zone:
            z["records"].append(record)
            return
    zones.append({"zone_name": zone, "records": [record]})


class CheckTest(unittest.TestCase):
    def assertFinds(self, inventory, code, severity="error", text=None):
        rc, findings = check(inventory)
        hits = [f for f in findings if f["code"] == code and f["severity"] == severity]
        self.assertTrue(hits, f"no {severity} {code} in {findings}")
        if text:
            self.assertTrue(any(text in f["message"] for f in hits), f"no {code} mentions {text!r}: {hits}")
        if severity == "error":
            self.assertEqual(rc, 1)
        for f in hits:
            self.assertTrue(all(w["file"] for w in f["where"]), f)
        return hits

    def test_clean_inventory_has_no_findings(self):
        rc, findings = check(edited(lan_access))
        self.assertEqual(findings, [])
        self.assertEqual(rc, 0)
        r = netgen("check", inventory=edited(lan_access))
        self.assertEqual(r.stdout.strip().splitlines()[-1], "0 errors, 0 warnings")

    def test_example_reports_its_duplicate_rule(self):
        hits = self.assertFinds(EXAMPLE, "duplicate-rule", "warning", "lxc 101")
        self.assertEqual([w["pointer"] for w in hits[0]["where"]],
                         ["/lxc_configs/101/firewall/rules/1", "/lxc_configs/101/firewall/rules/2"])

    def test_invalid_rule(self):
        inv = edited(lambda f: lxc(f, "914")["firewall"]["rules"].append(
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "99999"}))
        hits = self.assertFinds(inv, "invalid-rule")
        self.assertEqual(hits[0]["where"][0]["pointer"], "/lxc_configs/914/firewall/rules/1/port")

    def test_raw_tcp_service_resolving_to_the_gateway(self):
        inv = edited(lambda f: add_record(f, "internal.thinkheads.ai", hostname="portainer-agent",
                                          ip_internal="10.0.0.153"))
        self.assertFinds(inv, "tcp-behind-gateway", text="HTTP gateway 10.0.0.153")

    def test_raw_tcp_service_reachable_only_from_the_proxies(self):
        def only_traefik(f):
            vm(f, 1002)["firewall"]["rules"][0]["source"] = "10.0.0.12"
        hits = self.assertFinds(edited(only_traefik), "tcp-behind-gateway", text="only from the HTTP proxies")
        self.assertIn("/vms/2/traefik_service", [w["pointer"] for w in hits[0]["where"]])

    def test_raw_tcp_service_with_a_proxy_route(self):
        def route(f):
            labels = f[STACKS]["docker_stacks"]["qdrant_service"]["environments"]["production"]["services"]["qdrant"]["traefik_labels"]
            labels.append("traefik.http.routers.agent.rule=Host(`portainer-agent.internal.thinkheads.ai`)")
        self.assertFinds(edited(route), "tcp-behind-gateway", text="HTTP proxy route")

    def test_route_dropped_between_traefik_and_backend(self):
        inv = edited(lambda f: lxc(f, "914")["firewall"].update(rules=[]))
        hits = self.assertFinds(inv, "route-dropped", text="10.0.0.155:11434/tcp")
        self.assertIn("/lxc_configs/914/firewall", [w["pointer"] for w in hits[0]["where"]])

    def test_route_dropped_between_nginx_and_traefik(self):
        def drop(f):
            lxc(f, "102")["firewall"]["rules"][0]["source"] = "10.0.0.99"
        self.assertFinds(edited(drop), "route-dropped", text="Nginx -> Traefik")

    def test_route_dropped_from_nginx_side(self):
        def drop(f):
            rules = lxc(f, "101")["firewall"]["rules"]
            rules.insert(0, {"type": "out", "action": "DROP", "dest": "10.0.0.12", "proto": "tcp", "port": "80"})
        self.assertFinds(edited(drop), "route-dropped", text="lxc 101 (Nginx-Phoenix) OUT")

    def test_portainer_server_cannot_reach_agent(self):
        inv = edited(lambda f: vm(f, 1001)["firewall"]["rules"].__setitem__(
            1, {"type": "out", "action": "REJECT", "dest": "10.0.0.102", "proto": "tcp", "port": "9001"}))
        self.assertFinds(inv, "route-dropped", text="Portainer server -> agent")

    def test_gateway_unreachable_for_a_view(self):
        def only_portainer(f):
            lxc(f, "101")["firewall"]["rules"][0]["source"] = "10.0.0.111"
        self.assertFinds(edited(only_portainer), "gateway-unreachable", "error", "view external")

    def test_shadowed_rule_with_opposite_action(self):
        inv = edited(lambda f: lxc(f, "914")["firewall"]["rules"].append(
            {"type": "in", "action": "DROP", "source": "10.0.0.12", "proto": "tcp", "port": "11434"}))
        self.assertFinds(inv, "shadowed-rule", "error", "opposite action")

    def test_shadowed_rule_with_same_action(self):
        inv = edited(lambda f: lxc(f, "101")["firewall"]["rules"].append(
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "443", "source": "10.0.0.5"}))
        self.assertFinds(inv, "shadowed-rule", "warning", "rule 3 (")

    def test_two_guests_on_one_ip(self):
        inv = edited(lambda f: lxc(f, "901")["network_config"].update(ip="10.0.0.155/24"))
        self.assertFinds(inv, "duplicate-ip", text="share the address 10.0.0.155")

    def test_guest_on_the_host_address(self):
        inv = edited(lambda f: lxc(f, "901")["network_config"].update(ip="10.0.0.13/24"))
        self.assertFinds(inv, "duplicate-ip", text="host's own address")

    def test_guest_outside_the_subnet(self):
        inv = edited(lambda f: lxc(f, "901")["network_config"].update(ip="192.168.7.9/24"))
        self.assertFinds(inv, "outside-subnet", "warning", "192.168.7.9")

    def test_names_collide_after_sanitising(self):
        def twin(f):
            f[LXC]["lxc_configs"]["902"] = {"name": "copy_cuda12-8", "network_config": {"ip": "10.0.0.202/24"}}
        hits = self.assertFinds(edited(twin), "name-collision", text="copy-cuda12-8.internal.thinkheads.ai")
        self.assertEqual(len(hits[0]["where"]), 2)

    def test_nameserver_bypasses_host_dns(self):
        inv = edited(lambda f: lxc(f, "914")["network_config"].update(nameservers="8.8.8.8"))
        self.assertFinds(inv, "nameserver-bypass", "warning", "lxc 914")

    def test_route_to_dhcp_guest(self):
        inv = edited(lambda f: vm(f, 1002)["network_config"].update(ip="dhcp"))
        self.assertFinds(inv, "route-to-dhcp", text="qdrant.internal.thinkheads.ai")
        inv = edited(lambda f: vm(f, 9000).update(traefik_service={"name": "template-ui", "port": 8080}))
        self.assertFinds(inv, "route-to-dhcp", text="template-ui")

    def test_leak_direct_guest_address_in_external_view(self):
        inv = edited(lambda f: add_record(f, "phoenix.thinkheads.ai", hostname="ollama", ip_external="10.0.0.155"))
        self.assertFinds(inv, "leak", text="direct guest address")
        self.assertFinds(inv, "route-without-public-name", "warning", "ollama")

    def test_leak_internal_only_name(self):
        inv = edited(lambda f: add_record(f, "phoenix.thinkheads.ai", hostname="drphoenix", ip_external="10.0.0.153"))
        self.assertFinds(inv, "leak", text="not an HTTP service")

    def test_leak_internal_zone_in_external_view(self):
        def views(f):
            f[HYP]["dns_server"]["views"][1]["zones"] = ["phoenix.thinkheads.ai", "internal.thinkheads.ai"]
        self.assertFinds(edited(views), "leak", text="internal-only zone internal.thinkheads.ai")

    def test_public_name_without_route(self):
        inv = edited(lambda f: add_record(f, "internal.thinkheads.ai", hostname="wiki", ip_internal="10.0.0.153"))
        self.assertFinds(inv, "public-name-without-route", text="wiki.internal.thinkheads.ai")

    def test_route_without_public_name(self):
        inv = edited(lambda f: add_record(f, "phoenix.thinkheads.ai", hostname="ca", ip_external="10.0.0.10"))
        self.assertFinds(inv, "route-without-public-name", "warning", "route ca")

    def test_route_without_backend(self):
        inv = edited(lambda f: vm(f, 1002).pop("docker_stacks"))
        self.assertFinds(inv, "route-without-backend", "warning", "route qdrant")

    def test_duplicate_route(self):
        def twin(f):
            vm(f, 1002)["traefik_service"] = {"name": "portainer-agent", "port": 9001}
            f[STACKS]["docker_stacks"]["portainer_service"] = {"environments": {"production": {"services": {
                "portainer": {"traefik_labels": [
                    "traefik.http.routers.portainer.rule=Host(`portainer.internal.thinkheads.ai`)",
                    "traefik.http.services.portainer.loadbalancer.server.port=9000"]}}}}}
            vm(f, 1001)["docker_stacks"] = ["portainer_service"]
        self.assertFinds(edited(twin), "duplicate-route", text="portainer.internal.thinkheads.ai is routed twice")

    def test_view_that_can_never_match(self):
        def views(f):
            f[HYP]["dns_server"]["views"].append(
                {"name": "lab", "match_clients": ["10.0.0.0/25"], "zones": ["phoenix.thinkheads.ai"]})
        hits = self.assertFinds(edited(views), "view-never-matches", text="view lab")
        self.assertEqual(hits[0]["where"][0]["pointer"], "/dns_server/views/2")

    def test_view_selector_shadowed(self):
        def views(f):
            f[HYP]["dns_server"]["views"].insert(1, {"name": "lab", "match_clients": ["10.0.0.0/25", "192.168.0.0/16"],
                                                     "zones": ["phoenix.thinkheads.ai"]})
        self.assertFinds(edited(views), "view-selector-shadowed", "warning", "10.0.0.0/25")

    def test_text_output_and_exit_code(self):
        inv = edited(lambda f: lxc(f, "901")["network_config"].update(ip="10.0.0.155/24"))
        r = netgen("check", inventory=inv)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"(?m)^error duplicate-ip: .*\[phoenix_lxc_configs.json: /lxc_configs/901/network_config/ip")
        self.assertRegex(r.stdout, r"(?m)^[1-9]\d* errors, \d+ warnings$")

    def test_refused_inventory_exits_nonzero_with_pointer(self):
        inv = edited(lambda f: lxc(f, "914")["network_config"].update(ip="10.0.0.300/24"))
        r = netgen("check", inventory=inv)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/lxc_configs/914/network_config/ip", r.stderr)


if __name__ == "__main__":
    unittest.main()
