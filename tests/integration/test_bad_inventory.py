"""Bad inventories: exit non-zero before binding, one line per problem naming file and JSON pointer."""
import json
import shutil
import socket
import tempfile
import unittest
from pathlib import Path

from harness import EXAMPLE, Server, copy_inventory, free_port, run_binary, BINARY
import subprocess


def start_and_wait(inventory):
    port = free_port()
    p = subprocess.run([BINARY, "--inventory", str(inventory), "--listen", f"127.0.0.1:{port}",
                        "--state-dir", tempfile.mkdtemp(), "--upstream", "none"], capture_output=True, text=True, timeout=30)
    return p, port


class BadInventoryTest(unittest.TestCase):
    def assert_refused(self, inventory, *needles):
        p, port = start_and_wait(inventory)
        self.assertNotEqual(p.returncode, 0)
        out = p.stdout + p.stderr
        for n in needles:
            self.assertIn(n, out)
        self.assertNotIn("serving", out)
        # It never bound: the port is still free.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", port))
        return out

    def test_missing_directory(self):
        self.assert_refused("/nonexistent/phoenix", "not a directory")

    def test_missing_hypervisor_file(self):
        d = Path(tempfile.mkdtemp())
        self.assert_refused(d, "phoenix_hypervisor_config.json", "cannot read file")

    def test_not_json(self):
        d = copy_inventory()
        (d / "phoenix_vm_configs.json").write_text('{"vms": [ {"vmid": 1, ')
        self.assert_refused(d, "phoenix_vm_configs.json", "not valid JSON")

    def test_bad_ip_names_file_and_pointer(self):
        def edit(f):
            f["phoenix_vm_configs.json"]["vms"][2]["network_config"]["ip"] = "10.0.0.300/24"
        out = self.assert_refused(copy_inventory(edit=edit),
                                  'phoenix_vm_configs.json: /vms/2/network_config/ip: "10.0.0.300/24" is not an IPv4 address/prefix')

    def test_every_problem_is_reported(self):
        def edit(f):
            f["phoenix_vm_configs.json"]["vms"][1]["network_config"]["ip"] = "banana"
            f["phoenix_lxc_configs.json"]["lxc_configs"]["914"]["traefik_service"]["port"] = 70000
        out = self.assert_refused(copy_inventory(edit=edit), "/vms/1/network_config/ip",
                                  "/lxc_configs/914/traefik_service/port")

    def test_conflict_names_both_sources(self):
        def edit(f):
            # A second guest whose sanitised name collides with ollama's service name.
            f["phoenix_lxc_configs.json"]["lxc_configs"]["915"] = {
                "name": "Ollama", "network_config": {"ip": "10.0.0.160/24"}}
        out = self.assert_refused(copy_inventory(edit=edit), "ollama.internal.thinkheads.ai conflicts",
                                  "10.0.0.160", "10.0.0.155")

    def test_messy_but_valid_loads_with_warnings(self):
        def edit(f):
            rules = f["phoenix_lxc_configs.json"]["lxc_configs"]["914"]["firewall"]["rules"]
            rules.append(dict(rules[0]))  # duplicate rule
            f["phoenix_lxc_configs.json"]["lxc_configs"]["916"] = {"name": "Odd.Name_With Dots",
                                                                   "network_config": {"ip": "dhcp"}}
        p = run_binary("--check", "--inventory", str(copy_inventory(edit=edit)))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("warning:", p.stdout)
        self.assertIn("uses dhcp", p.stdout)


class CheckTest(unittest.TestCase):
    def test_check_prints_summary(self):
        p = run_binary("--check", "--inventory", str(EXAMPLE))
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("view internal", p.stdout)
        self.assertIn("view external", p.stdout)
        self.assertIn("zone internal.thinkheads.ai.", p.stdout)
        self.assertIn("zone 0.0.10.in-addr.arpa.", p.stdout)
        self.assertRegex(p.stdout, r"2 views, 4 zones, \d+ records")

    def test_check_fails_on_errors(self):
        def edit(f):
            f["phoenix_hypervisor_config.json"]["network"]["interfaces"]["address"] = "nope"
        p = run_binary("--check", "--inventory", str(copy_inventory(edit=edit)))
        self.assertEqual(p.returncode, 1)
        self.assertIn("phoenix_hypervisor_config.json: /network/interfaces/address", p.stdout)


if __name__ == "__main__":
    unittest.main()
