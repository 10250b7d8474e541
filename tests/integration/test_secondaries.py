"""Real secondaries configured by `phoenix-netgen secondary-config` follow phoenix-dns by NOTIFY
alone, with no refresh command (issue 13): Knot, BIND and NSD, each started on loopback from that
output plus its own listen and storage settings, serve the new serial within seconds of a reload and
of a restart of phoenix-dns; Knot and BIND consume the internal view's catalog and pick up a zone
added to the view."""
import json
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import Server, copy_inventory, dig, free_port, nsd_server_conf, stop_process
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


class FollowByNotify:
    """One secondary, configured from `secondary-config --server SERVER` plus its own local settings
    (`local(d, port, generated)` returns the configuration file's text), started on loopback; the
    checks every server shares."""
    server = None
    binary = None

    def local(self, d, port, generated):
        raise NotImplementedError

    def command(self, d):
        raise NotImplementedError

    def setUp(self):
        if not shutil.which(self.binary):
            self.skipTest(f"needs {self.binary}")
        self.port = free_port()
        self.inv = inventory(self.port)
        self.primary = Server(self.inv).start()
        self.dir = Path(tempfile.mkdtemp(prefix=f"phoenix-{self.binary}-"))
        self.proc = self.log = None
        r = netgen("secondary-config", "--view", "internal", "--server", self.server, "--primary",
                   f"127.0.0.1:{self.primary.port}", inventory=self.inv)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.generated = r.stdout
        (self.dir / "secondary.conf").write_text(self.local(self.dir, self.port, r.stdout))
        self.log = open(self.dir / "stdout.log", "w")
        self.proc = subprocess.Popen(self.command(self.dir), stdout=self.log, stderr=subprocess.STDOUT)

    def tearDown(self):
        self.primary.stop()
        if self.proc:
            stop_process(self.proc)
        if self.log:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self):
        return "".join(f.read_text(errors="replace") for f in sorted(self.dir.glob("*.log")))

    def follows(self, zone, timeout=10):
        want = serial(self.primary.port, zone)
        ok = wait_until(lambda: want is not None and serial(self.port, zone) == want, timeout)
        self.assertTrue(ok, f"{zone}: primary {want}, secondary {serial(self.port, zone)}\n{self.logs()}")

    def check_follows(self, catalog, restart):
        for z in ZONES:  # with a catalog only the catalog is configured: every zone arrives through it
            self.follows(z, 40)
        # A reload that moves one guest: NOTIFY, and the secondary serves the new serial within seconds.
        before = serial(self.primary.port, ZONES[0])
        Flipper(self.inv).put("B")
        reload_and_wait(self.primary)
        self.assertNotEqual(serial(self.primary.port, ZONES[0]), before)
        self.follows(ZONES[0])
        if catalog:  # a zone added to the view appears on the secondary through the catalog
            add_zone(self.inv)
            reload_and_wait(self.primary)
            self.follows(ADDED, 20)
            self.assertEqual(dig(self.port, f"probe.{ADDED}").rdata("A"), ["10.0.0.88"])
        if restart:  # a change made while phoenix-dns is down arrives with the start-up NOTIFY
            after = serial(self.primary.port, ZONES[0])
            self.assertEqual(self.primary.stop(), 0, self.primary.output())
            Flipper(self.inv).put("A")
            self.primary = Server(self.inv, port=self.primary.port, state_dir=self.primary.state_dir).start()
            self.assertNotEqual(serial(self.primary.port, ZONES[0]), after)
            self.follows(ZONES[0])


class Knot(FollowByNotify, unittest.TestCase):
    server, binary = "knot", "knotd"

    def local(self, d, port, generated):
        (d / "db").mkdir()  # Knot keeps its catalog database there and does not create the directory itself
        # The members' template needs the same local storage settings as the default one.
        generated = generated.replace("  - id: phoenix-internal-member\n",
                                      f"  - id: phoenix-internal-member\n    storage: \"{d}\"\n"
                                      "    zonefile-sync: -1\n    journal-content: changes\n")
        return f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
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
""" + generated

    def command(self, d):
        return [shutil.which("knotd"), "-c", str(d / "secondary.conf")]

    def test_knot_consumes_the_catalog_and_follows_reloads_and_restarts(self):
        self.assertIn("catalog-role: interpret", self.generated)
        self.check_follows(catalog=True, restart=True)
        self.assertRegex(self.logs(), rf"\[{ZONES[0]}\.\] IXFR, incoming")


class Bind(FollowByNotify, unittest.TestCase):
    server, binary = "bind", "named"

    def local(self, d, port, generated):
        self.assertIn("options {\n", generated)
        # The server's own options go into the options block the output asks to merge with its own.
        return generated.replace("options {\n", f"""options {{
\tdirectory "{d}";
\tpid-file "{d}/named.pid";
\tlisten-on port {port} {{ 127.0.0.1; }};
\tlisten-on-v6 {{ none; }};
\trecursion no;
\tdnssec-validation no;
\tnotify no;
""", 1) + f"""
logging {{
\tchannel file {{ file "{d}/named.log"; severity info; print-time yes; }};
\tcategory default {{ file; }};
}};
"""

    def command(self, d):
        return [shutil.which("named"), "-g", "-c", str(d / "secondary.conf")]

    def test_named_consumes_the_catalog_and_follows_reloads_and_restarts(self):
        self.check_follows(catalog=True, restart=True)


class Nsd(FollowByNotify, unittest.TestCase):
    server, binary = "nsd", "nsd"

    def local(self, d, port, generated):
        return nsd_server_conf(d, port) + """remote-control:
    control-enable: no
""" + generated

    def command(self, d):
        return [shutil.which("nsd"), "-d", "-c", str(d / "secondary.conf")]

    def test_nsd_follows_its_zones_after_reloads_and_restarts(self):
        self.assertNotIn(CATALOG, self.generated)  # NSD 4.6 cannot consume catalogs
        self.check_follows(catalog=False, restart=True)


if __name__ == "__main__":
    unittest.main()
