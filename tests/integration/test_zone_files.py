"""Zone files (dns_server.zone_files): served in their views, replacing derived zones with a warning,
refused at start with file and line, and a bad one on reload keeps the old data."""
import signal
import time
import unittest
from pathlib import Path

import dnsprobe as w
from harness import EXAMPLE, Server, copy_inventory, run_binary
from test_bad_inventory import start_and_wait

ZONE = Path(__file__).resolve().parent / "data" / "lab.zone"

EXTERNAL_ZONE = """$TTL 600
@    SOA ns1.phoenix.thinkheads.ai. hostmaster.phoenix.thinkheads.ai. 7 3600 900 1209600 60
     NS  ns1
ns1  A   192.0.2.53
from-file A 192.0.2.54
"""


def inventory(zone_files, files=None):
    def edit(f):
        f["phoenix_hypervisor_config.json"]["dns_server"]["zone_files"] = zone_files
    d = copy_inventory(EXAMPLE, edit)
    (d / "lab.zone").write_text(ZONE.read_text())
    for name, text in (files or {}).items():
        (d / name).write_text(text)
    return d


class ZoneFileTest(unittest.TestCase):
    def test_served_only_in_its_views(self):
        inv = inventory([{"file": "lab.zone", "origin": "lab.example", "views": ["internal"]}])
        with Server(inv) as s:
            r = w.ask_udp(s.port, w.query("www.lab.example"), source="127.0.0.1")
            self.assertEqual(r.rcode, "NOERROR")
            self.assertIn("aa", r.flags)
            self.assertEqual({x[4] for x in r.answer}, {"c0000250"})  # 192.0.2.80
            r = w.ask_udp(s.port, w.query("www.lab.example"), source="127.0.0.2")
            self.assertEqual(r.rcode, "REFUSED")
            # The derived zones are still there.
            r = w.ask_udp(s.port, w.query("ollama.internal.thinkheads.ai"), source="127.0.0.1")
            self.assertEqual(r.rcode, "NOERROR")

    def test_replaces_a_derived_zone_with_a_warning(self):
        inv = inventory([{"file": "ext.zone", "origin": "phoenix.thinkheads.ai", "views": ["external"]}],
                        {"ext.zone": EXTERNAL_ZONE})
        p = run_binary("--check", "--inventory", str(inv))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('zone file ext.zone replaces the derived zone "phoenix.thinkheads.ai" in view "external"',
                      p.stdout + p.stderr)
        with Server(inv) as s:
            r = w.ask_udp(s.port, w.query("from-file.phoenix.thinkheads.ai"), source="127.0.0.2")
            self.assertEqual(r.rcode, "NOERROR")
            r = w.ask_udp(s.port, w.query("ollama.phoenix.thinkheads.ai"), source="127.0.0.2")
            self.assertEqual(r.rcode, "NXDOMAIN")  # the derived name is gone from that view
            r = w.ask_udp(s.port, w.query("ollama.phoenix.thinkheads.ai"), source="127.0.0.1")
            self.assertEqual(r.rcode, "NOERROR")  # and still derived in the internal view

    def test_bad_zone_file_refuses_to_start_naming_file_and_line(self):
        bad = ZONE.read_text() + "broken   A   300.1.2.3\n"
        inv = inventory([{"file": "lab.zone", "origin": "lab.example"}], {"lab.zone": bad})
        p, _ = start_and_wait(inv)
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        line = len(bad.splitlines())
        self.assertIn(f"lab.zone: line {line}: [lab.example.] invalid record", out)
        self.assertNotIn("serving", out)

    def test_missing_zone_file_refuses_to_start(self):
        inv = inventory([{"file": "nowhere.zone", "origin": "lab.example"}])
        p, _ = start_and_wait(inv)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot read zone file", p.stdout + p.stderr)

    def test_bad_zone_file_on_reload_keeps_the_old_data(self):
        inv = inventory([{"file": "lab.zone", "origin": "lab.example"}])
        with Server(inv) as s:
            self.assertEqual(w.ask_udp(s.port, w.query("www.lab.example")).rcode, "NOERROR")
            (inv / "lab.zone").write_text("@ SOA ns hm 1 2 3 4 5\n$INCLUDE /etc/passwd\n")
            s.signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "still serving" not in s.output() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("still serving", s.output())
            self.assertIn("$INCLUDE is not supported", s.output())
            r = w.ask_udp(s.port, w.query("www.lab.example"))
            self.assertEqual(r.rcode, "NOERROR")
            self.assertEqual({x[4] for x in r.answer}, {"c0000250"})


if __name__ == "__main__":
    unittest.main()
