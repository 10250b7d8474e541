"""Real secondaries configured by `phoenix-netgen secondary-config` follow phoenix-dns by NOTIFY
(issue 13): Knot, started on loopback from that output (plus its own listen and storage settings),
consumes the internal view's catalog, serves the new serial within seconds of a reload and of a
restart of phoenix-dns, with no refresh command, and picks up a zone added to the view."""
import json
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import Server, copy_inventory, dig, free_port, stop_process
from netgen import netgen
from test_reload import Flipper, reload_and_wait

KEY = ("internal-xfr", "hmac-sha256", "q8bAy2Z4aDcO8vaJDHDp6Ehf5rb9wT1bS1+q0t5K3zA=")
CATALOG = "catalog.internal.invalid"
ZONES = ["internal.thinkheads.ai", "phoenix.thinkheads.ai", "0.0.10.in-addr.arpa"]
ADDED = "added.thinkheads.ai"


def serial(port, zone):
    try:
        r = dig(port, zone, "SOA")
    except Exception:
        return None
    for rr in r.answer:
        if rr[3] == "SOA":
            return int(rr[4].split()[2])
    return None


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def inventory(knot_port):
    def edit(files):
        dns = files["phoenix_hypervisor_config.json"]["dns_server"]
        dns["tsig_keys"] = {KEY[0]: {"algorithm": KEY[1], "secret": KEY[2]}}
        view = dns["views"][0]
        view["match_keys"] = [KEY[0]]
        view["transfer"] = {"allow": [f"key:{KEY[0]}"], "notify": [{"address": f"127.0.0.1:{knot_port}", "key": KEY[0]}]}
        view["catalog"] = CATALOG
    return copy_inventory(edit=edit)


def add_zone(inv):
    path = Path(inv) / "phoenix_hypervisor_config.json"
    j = json.loads(path.read_text())
    j["dns_server"]["authoritative_zones"].append(
        {"zone_name": ADDED, "records": [{"hostname": "probe", "ip_internal": "10.0.0.88"}]})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(j, indent=2))
    tmp.replace(path)


@unittest.skipUnless(shutil.which("knotd") and shutil.which("knotc"), "needs knot")
class KnotFollowsByNotify(unittest.TestCase):
    def test_knot_follows_the_catalog_reloads_and_restarts(self):
        knot_port = free_port()
        inv = inventory(knot_port)
        primary = Server(inv).start()
        d = Path(tempfile.mkdtemp(prefix="phoenix-knot-"))
        (d / "db").mkdir()  # Knot keeps its catalog database there and does not create the directory itself
        knot = log = None
        try:
            r = netgen("secondary-config", "--view", "internal", "--server", "knot", "--primary",
                       f"127.0.0.1:{primary.port}", inventory=inv)
            self.assertEqual(r.returncode, 0, r.stderr)
            # The server's own settings, and storage for the members' template, are the admin's part.
            generated = r.stdout.replace("  - id: phoenix-internal-member\n",
                                         f"  - id: phoenix-internal-member\n    storage: \"{d}\"\n"
                                         "    zonefile-sync: -1\n    journal-content: changes\n")
            (d / "knot.conf").write_text(f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{knot_port}
control:
    listen: "{d}/knot.sock"
database:
    storage: "{d}/db"
log:
  - target: "{d}/knot.log"
    any: info
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    journal-content: changes
""" + generated)
            log = open(d / "stdout.log", "w")
            knot = subprocess.Popen([shutil.which("knotd"), "-c", str(d / "knot.conf")], stdout=log,
                                    stderr=subprocess.STDOUT)

            def knot_log():
                p = d / "knot.log"
                return p.read_text(errors="replace") if p.exists() else ""

            def in_step(zones=ZONES):
                return all(serial(knot_port, z) is not None and serial(knot_port, z) == serial(primary.port, z)
                           for z in zones)

            # Only the catalog is configured: every zone of the view arrives through it.
            self.assertTrue(wait_until(in_step, 40), knot_log() + primary.output())

            # A reload that moves one guest: NOTIFY, and Knot serves the new serial within seconds.
            before = serial(primary.port, ZONES[0])
            Flipper(inv).put("B")
            reload_and_wait(primary)
            after = serial(primary.port, ZONES[0])
            self.assertNotEqual(before, after)
            self.assertTrue(wait_until(lambda: serial(knot_port, ZONES[0]) == after, 10), knot_log())
            self.assertRegex(knot_log(), rf"\[{ZONES[0]}\.\] IXFR, incoming")

            # A zone added to the view appears on the secondary through the catalog.
            add_zone(inv)
            reload_and_wait(primary)
            self.assertTrue(wait_until(lambda: serial(knot_port, ADDED) == serial(primary.port, ADDED), 15),
                            knot_log() + primary.output())
            self.assertEqual(dig(knot_port, f"probe.{ADDED}").rdata("A"), ["10.0.0.88"])

            # A change made while phoenix-dns is down reaches Knot when it starts again (start-up NOTIFY).
            self.assertEqual(primary.stop(), 0, primary.output())
            Flipper(inv).put("A")
            primary = Server(inv, port=primary.port, state_dir=primary.state_dir).start()
            restarted = serial(primary.port, ZONES[0])
            self.assertNotEqual(restarted, after)
            self.assertTrue(wait_until(lambda: serial(knot_port, ZONES[0]) == restarted, 10), knot_log())
        finally:
            primary.stop()
            if knot:
                stop_process(knot)
            if log:
                log.close()
            shutil.rmtree(d, ignore_errors=True)


@unittest.skipUnless(shutil.which("named"), "needs bind9")
class BindFollowsByNotify(unittest.TestCase):
    def test_named_follows_the_catalog_and_reloads(self):
        named_port = free_port()
        inv = inventory(named_port)
        primary = Server(inv).start()
        d = Path(tempfile.mkdtemp(prefix="phoenix-named-"))
        named = log = None
        try:
            r = netgen("secondary-config", "--view", "internal", "--server", "bind", "--primary",
                       f"127.0.0.1:{primary.port}", inventory=inv)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("options {\n", r.stdout)
            # The server's own options go into the options block the output asks to merge with.
            conf = r.stdout.replace("options {\n", f"""options {{
\tdirectory "{d}";
\tpid-file "{d}/named.pid";
\tlisten-on port {named_port} {{ 127.0.0.1; }};
\tlisten-on-v6 {{ none; }};
\trecursion no;
\tdnssec-validation no;
\tnotify no;
""", 1) + f"""
logging {{
\tchannel file {{ file "{d}/named.log"; severity info; print-time yes; }};
\tcategory default {{ file; }};
\tcategory xfer-in {{ file; }};
\tcategory notify {{ file; }};
}};
"""
            (d / "named.conf").write_text(conf)
            log = open(d / "stdout.log", "w")
            named = subprocess.Popen([shutil.which("named"), "-g", "-c", str(d / "named.conf")], stdout=log,
                                     stderr=subprocess.STDOUT)

            def named_log():
                text = ""
                for f in sorted(d.glob("*.log")):
                    text += f.read_text(errors="replace")
                return text

            def in_step(zones=ZONES):
                return all(serial(named_port, z) is not None and serial(named_port, z) == serial(primary.port, z)
                           for z in zones)

            self.assertTrue(wait_until(in_step, 40), named_log() + primary.output())
            Flipper(inv).put("B")
            reload_and_wait(primary)
            after = serial(primary.port, ZONES[0])
            self.assertTrue(wait_until(lambda: serial(named_port, ZONES[0]) == after, 10), named_log())
            add_zone(inv)
            reload_and_wait(primary)
            self.assertTrue(wait_until(lambda: serial(named_port, ADDED) == serial(primary.port, ADDED), 20),
                            named_log() + primary.output())
        finally:
            primary.stop()
            if named:
                stop_process(named)
            if log:
                log.close()
            shutil.rmtree(d, ignore_errors=True)


@unittest.skipUnless(shutil.which("nsd"), "needs nsd")
class NsdFollowsByNotify(unittest.TestCase):
    def test_nsd_follows_its_zones_after_a_reload_and_a_restart(self):
        nsd_port = free_port()
        inv = inventory(nsd_port)
        primary = Server(inv).start()
        d = Path(tempfile.mkdtemp(prefix="phoenix-nsd-"))
        nsd = log = None
        try:
            r = netgen("secondary-config", "--view", "internal", "--server", "nsd", "--primary",
                       f"127.0.0.1:{primary.port}", inventory=inv)
            self.assertEqual(r.returncode, 0, r.stderr)
            (d / "nsd.conf").write_text(f"""server:
    ip-address: 127.0.0.1
    port: {nsd_port}
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    server-count: 1
    verbosity: 2
remote-control:
    control-enable: no
""" + r.stdout)
            log = open(d / "stdout.log", "w")
            nsd = subprocess.Popen([shutil.which("nsd"), "-d", "-c", str(d / "nsd.conf")], stdout=log,
                                   stderr=subprocess.STDOUT)

            def nsd_log():
                return "".join(f.read_text(errors="replace") for f in sorted(d.glob("*.log")))

            def in_step():
                return all(serial(nsd_port, z) is not None and serial(nsd_port, z) == serial(primary.port, z)
                           for z in ZONES)

            self.assertTrue(wait_until(in_step, 40), nsd_log() + primary.output())
            Flipper(inv).put("B")
            reload_and_wait(primary)
            after = serial(primary.port, ZONES[0])
            self.assertTrue(wait_until(lambda: serial(nsd_port, ZONES[0]) == after, 10), nsd_log())
            self.assertEqual(primary.stop(), 0, primary.output())
            Flipper(inv).put("A")
            primary = Server(inv, port=primary.port, state_dir=primary.state_dir).start()
            restarted = serial(primary.port, ZONES[0])
            self.assertTrue(wait_until(lambda: serial(nsd_port, ZONES[0]) == restarted, 10), nsd_log())
        finally:
            primary.stop()
            if nsd:
                stop_process(nsd)
            if log:
                log.close()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
