"""One model, one verdict: phoenix-dns --check and phoenix-netgen check judge the DNS checks alike."""
import unittest

from harness import EXAMPLE, copy_inventory, run_binary
from netgen import check

HYP, LXC = "phoenix_hypervisor_config.json", "phoenix_lxc_configs.json"


def duplicate_ip(f):
    f[LXC]["lxc_configs"]["901"]["network_config"]["ip"] = "10.0.0.155/24"


def leak(f):
    f[HYP]["dns_server"]["authoritative_zones"].append(
        {"zone_name": "phoenix.thinkheads.ai", "records": [{"hostname": "ollama", "ip_external": "10.0.0.155"}]})


def view_never_matches(f):
    f[HYP]["dns_server"]["views"].append({"name": "lab", "match_clients": ["10.0.0.0/25"], "zones": ["phoenix.thinkheads.ai"]})


def selector_shadowed(f):
    f[HYP]["dns_server"]["views"][1]["match_clients"].insert(0, "127.0.0.1/32")


class OneVerdictTest(unittest.TestCase):
    def verdicts(self, edit, code, text):
        inv = copy_inventory(EXAMPLE, edit)
        rc, findings = check(inv)
        hits = [f for f in findings if f["code"] == code and text in f["message"]]
        self.assertTrue(hits, findings)
        server = run_binary("--check", "--inventory", str(inv))
        lines = [l for l in server.stdout.splitlines() if text in l]
        self.assertTrue(lines, server.stdout)
        return hits[0]["severity"], lines[0].split(":")[0], rc, server.returncode

    def test_errors_refuse_in_both(self):
        for edit, code, text in ((duplicate_ip, "duplicate-ip", "share the address 10.0.0.155"),
                                 (leak, "leak", "a direct guest address"),
                                 (view_never_matches, "view-never-matches", "view lab can never match")):
            with self.subTest(code=code):
                netgen_sev, server_sev, netgen_rc, server_rc = self.verdicts(edit, code, text)
                self.assertEqual((netgen_sev, server_sev), ("error", "error"))
                self.assertEqual((netgen_rc, server_rc), (1, 1))

    def test_warnings_pass_in_both(self):
        netgen_sev, server_sev, _, server_rc = self.verdicts(selector_shadowed, "view-selector-shadowed",
                                                             "selector 127.0.0.1/32 never matches")
        self.assertEqual((netgen_sev, server_sev), ("warning", "warning"))
        self.assertEqual(server_rc, 0)


if __name__ == "__main__":
    unittest.main()
