"""phoenix-netgen secondary-config (issue 13): the configuration it prints for each secondary is
accepted by that server's own checker (knotc conf-check, nsd-checkconf, named-checkconf), for a view
with a key and a catalog and for one without either."""
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import copy_inventory
from netgen import netgen

SECRET = "ypiLzrz0E9kwNXG5prjzk76f2lTc9EatxYlvYCPI7vE="
CHECKERS = {
    "knot": lambda f: ["knotc", "-c", f, "conf-check"],
    "nsd": lambda f: ["nsd-checkconf", f],
    "bind": lambda f: ["named-checkconf", f],
}


def with_transfers(files):
    dns = files["phoenix_hypervisor_config.json"]["dns_server"]
    dns["tsig_keys"] = {"internal-xfr": {"algorithm": "hmac-sha256", "secret": SECRET}}
    internal = dns["views"][0]
    internal["match_keys"] = ["internal-xfr"]
    internal["transfer"] = {"allow": ["key:internal-xfr"], "notify": [{"address": "127.0.0.1:5300", "key": "internal-xfr"}]}
    internal["catalog"] = "catalog.internal.invalid"
    dns["views"][1]["transfer"] = {"allow": ["127.0.0.0/8"]}


def secondary_config(inventory, view, server, primary="127.0.0.1:5353"):
    r = netgen("secondary-config", "--view", view, "--server", server, "--primary", primary, inventory=inventory)
    if r.returncode != 0:
        raise AssertionError(f"secondary-config {view} {server}: exit {r.returncode}\n{r.stderr}")
    return r.stdout


class SecondaryConfigTest(unittest.TestCase):
    def setUp(self):
        for checker in CHECKERS.values():
            if not shutil.which(checker("x")[0]):
                self.skipTest(f"{checker('x')[0]} is not installed")
        self.inv = copy_inventory(edit=with_transfers)
        self.work = Path(tempfile.mkdtemp(prefix="phoenix-secondary-"))
        self.addCleanup(shutil.rmtree, self.work, True)

    def checked(self, view, server, edit=lambda t: t):
        """secondary-config's output (after `edit`) and what the server's checker says of it."""
        text = edit(secondary_config(self.inv, view, server))
        path = self.work / f"{view}-{server}.conf"
        path.write_text(text)
        r = subprocess.run(CHECKERS[server](str(path)), capture_output=True, text=True, timeout=30)
        return text, r

    def test_each_server_accepts_its_configuration(self):
        for server in CHECKERS:
            for view in ("internal", "external"):
                with self.subTest(server=server, view=view):
                    text, r = self.checked(view, server)
                    self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}\n{text}")
                    if view == "internal":
                        self.assertIn(SECRET, text)
                        # Knot and BIND follow the catalog; NSD lists the zones.
                        self.assertEqual("catalog.internal.invalid" in text, server != "nsd", text)
                    else:
                        self.assertNotIn("secret", text)
                        self.assertIn("phoenix.thinkheads.ai", text)
                        self.assertNotIn("internal.thinkheads.ai", text)

    def test_a_broken_checker_input_is_refused(self):
        # The checkers do look at the file: one bad value makes each refuse it (so the test above can fail).
        for server in CHECKERS:
            text, r = self.checked("internal", server, lambda t: t.replace("hmac-sha256", "hmac-nosuch"))
            self.assertNotEqual(r.returncode, 0, f"{server} accepted an unknown algorithm:\n{text}")


if __name__ == "__main__":
    unittest.main()
