"""Zone transfers per view (issue 13): real Knot, NSD and BIND secondaries on loopback, each given one
view's TSIG key, transfer from phoenix-dns; after a reload they follow by IXFR. Refusals are checked
with dig and kdig."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import harness
from harness import Server, copy_inventory, dig, free_port, stop_process

# Test-only secrets (what `tsig-keygen` prints: base64 of 32 and 64 random bytes).
INTERNAL_KEY = ("internal-xfr", "hmac-sha256", "q8bAy2Z4aDcO8vaJDHDp6Ehf5rb9wT1bS1+q0t5K3zA=")
EXTERNAL_KEY = ("external-xfr", "hmac-sha512",
                "uC4HK1h2dPdUg6QHcq9mAfgWOgv5cX3T9v1bBOKgXh1O6m1rdy3kB8y3pbEhdc9xKw3QIRu8AqCSyDR1dxE3Yg==")
WRONG_SECRET = "AAAAy2Z4aDcO8vaJDHDp6Ehf5rb9wT1bS1+q0t5K3zA="

INTERNAL_ZONES = ["internal.thinkheads.ai", "phoenix.thinkheads.ai", "0.0.10.in-addr.arpa"]
EXTERNAL_ZONES = ["phoenix.thinkheads.ai"]
ALL_ZONES = INTERNAL_ZONES


def edit_inventory(files, probe_ip="10.0.0.77"):
    """The example with both keys (the external one from a tsig-keygen file), transfers by key only,
    and an explicit record in the shared zone that the reload test changes."""
    dns = files["phoenix_hypervisor_config.json"]["dns_server"]
    dns["tsig_keys_file"] = "tsig.keys"
    dns["tsig_keys"] = {INTERNAL_KEY[0]: {"algorithm": INTERNAL_KEY[1], "secret": INTERNAL_KEY[2]}}
    dns["views"] = [
        {"name": "internal", "match_clients": ["10.0.0.0/24", "127.0.0.1/32", "::1"],
         "match_keys": [INTERNAL_KEY[0]], "transfer": {"allow": ["key:" + INTERNAL_KEY[0]]}},
        {"name": "external", "match_clients": ["any"], "match_keys": [EXTERNAL_KEY[0]], "rate_limit": False,
         "transfer": {"allow": ["key:" + EXTERNAL_KEY[0]]}},
    ]
    dns.setdefault("authoritative_zones", []).append(
        {"zone_name": "phoenix.thinkheads.ai", "records": [{"hostname": "xfrprobe", "ip_external": probe_ip}]})


def write_inventory(inv, probe_ip):
    path = Path(inv) / "phoenix_hypervisor_config.json"
    doc = json.loads(path.read_text())
    for z in doc["dns_server"]["authoritative_zones"]:
        for r in z["records"]:
            if r["hostname"] == "xfrprobe":
                r["ip_external"] = probe_ip
    path.write_text(json.dumps(doc, indent=2))


def make_inventory():
    inv = copy_inventory(edit=edit_inventory)
    name, alg, secret = EXTERNAL_KEY
    (inv / "tsig.keys").write_text(f'key "{name}" {{\n\talgorithm {alg};\n\tsecret "{secret}";\n}};\n')
    return inv


def soa_serial(port, zone):
    r = dig(port, zone, "SOA")
    for rr in r.answer:
        if rr[3] == "SOA":
            return int(rr[4].split()[2])
    return None


def wait_for(predicate, timeout=20, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(step)
    return predicate()


class Secondary:
    """One secondary server (started by the test, stopped by its PID) transferring ALL_ZONES from the
    primary with one key."""
    binary = None

    def __init__(self, primary_port, key):
        self.primary_port = primary_port
        self.key = key
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"phoenix-{self.name}-"))
        self.proc = None

    def start(self):
        self.log = open(self.dir / "stdout.log", "w")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        return self

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.log.close()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def refresh(self, zone):
        """Tells the secondary to check its primary now (the NOTIFY sender is not part of these tests)."""
        subprocess.run(self.refresh_command(zone), capture_output=True, timeout=10)

    def output(self):
        text = ""
        for f in sorted(self.dir.glob("*.log")):
            text += f"==> {f.name} <==\n" + f.read_text(errors="replace")
        return text


class Knot(Secondary):
    name = "knot"
    binary = "knotd"

    def command(self):
        d, (kname, alg, secret) = self.dir, self.key
        zones = "".join(f"  - domain: {z}\n" for z in ALL_ZONES)
        (d / "knot.conf").write_text(f"""
server:
    rundir: "{d}"
    listen: 127.0.0.1@{self.port}
control:
    listen: "{d}/knot.sock"
database:
    storage: "{d}/db"
log:
  - target: "{d}/knot.log"
    any: info
key:
  - id: {kname}
    algorithm: {alg}
    secret: {secret}
remote:
  - id: primary
    address: 127.0.0.1@{self.primary_port}
    key: {kname}
acl:
  - id: notify
    address: 127.0.0.1
    key: {kname}
    action: notify
template:
  - id: default
    storage: "{d}"
    master: primary
    acl: notify
    zonefile-sync: -1
    journal-content: changes
zone:
{zones}""")
        return [shutil.which("knotd"), "-c", str(d / "knot.conf")]

    def refresh_command(self, zone):
        return ["knotc", "-c", str(self.dir / "knot.conf"), "zone-refresh", zone]


class Nsd(Secondary):
    name = "nsd"
    binary = "nsd"

    def command(self):
        d, (kname, alg, secret) = self.dir, self.key
        zones = "".join(f"""
zone:
    name: {z}
    zonefile: "{d}/{z}.zone"
    request-xfr: 127.0.0.1@{self.primary_port} {kname}
    allow-notify: 127.0.0.1 {kname}
""" for z in ALL_ZONES)
        (d / "nsd.conf").write_text(f"""
{harness.nsd_server_conf(d, self.port)}    verbosity: 2
remote-control:
    control-enable: yes
    control-interface: "{d}/nsd.ctl"
key:
    name: {kname}
    algorithm: {alg}
    secret: "{secret}"
{zones}""")
        return [shutil.which("nsd"), "-d", "-c", str(d / "nsd.conf")]

    def refresh_command(self, zone):
        return ["nsd-control", "-c", str(self.dir / "nsd.conf"), "transfer", zone]


class Named(Secondary):
    name = "named"
    binary = "named"

    def command(self):
        d, (kname, alg, secret) = self.dir, self.key
        self.rndc_port = free_port()
        zones = "".join(f"""
zone "{z}" {{ type secondary; file "{d}/{z}.db"; primaries port {self.primary_port} {{ 127.0.0.1 key {kname}; }}; }};
""" for z in ALL_ZONES)
        (d / "rndc.key").write_text(f'key "rndc-key" {{ algorithm hmac-sha256; secret "{INTERNAL_KEY[2]}"; }};\n')
        (d / "named.conf").write_text(f"""
include "{d}/rndc.key";
key "{kname}" {{ algorithm {alg}; secret "{secret}"; }};
controls {{ inet 127.0.0.1 port {self.rndc_port} allow {{ 127.0.0.1; }} keys {{ "rndc-key"; }}; }};
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-notify {{ key {kname}; }};
}};
logging {{
    channel file {{ file "{d}/named.log"; severity info; print-time yes; }};
    category default {{ file; }};
    category xfer-in {{ file; }};
}};
{zones}""")
        return [shutil.which("named"), "-g", "-c", str(d / "named.conf")]

    def refresh_command(self, zone):
        return ["rndc", "-k", str(self.dir / "rndc.key"), "-s", "127.0.0.1", "-p", str(self.rndc_port), "refresh", zone]


def have(*binaries):
    return all(shutil.which(b) for b in binaries)


@unittest.skipUnless(have("knotd", "knotc", "nsd", "nsd-control", "named", "rndc", "kdig"),
                     "needs knot, nsd, bind9 and knot-dnsutils")
class SecondariesFollowTheirView(unittest.TestCase):
    """Knot and BIND with the internal key, NSD with the external key; all three ask for every zone."""

    @classmethod
    def setUpClass(cls):
        cls.inv = make_inventory()
        cls.server = Server(cls.inv).start()
        cls.secondaries = [Knot(cls.server.port, INTERNAL_KEY), Nsd(cls.server.port, EXTERNAL_KEY),
                           Named(cls.server.port, INTERNAL_KEY)]
        for s in cls.secondaries:
            s.start()

    @classmethod
    def tearDownClass(cls):
        for s in cls.secondaries:
            s.stop()
            s.cleanup()
        rc = cls.server.stop()
        shutil.rmtree(cls.inv, ignore_errors=True)
        if rc != 0:
            raise AssertionError(f"phoenix-dns exited {rc}:\n{cls.server.output()}")

    def view_zones(self, s):
        return INTERNAL_ZONES if s.key is INTERNAL_KEY else EXTERNAL_ZONES

    def wait_serials(self, s, want):
        """Every zone of the secondary's view at the primary's serial (`want`: zone -> serial)."""
        got = wait_for(lambda: all(soa_serial(s.port, z) == want[z] for z in self.view_zones(s)), timeout=30)
        self.assertTrue(got, f"{s.name}: zones did not reach {want}; serving "
                             f"{[(z, soa_serial(s.port, z)) for z in self.view_zones(s)]}\n"
                             f"{s.output()[-4000:]}\n{self.server.output()[-3000:]}")

    def follow(self, s, want):
        """Refreshes the shared zone on `s` until it has the primary's serial (bounded), then checks all."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and soa_serial(s.port, "phoenix.thinkheads.ai") != want["phoenix.thinkheads.ai"]:
            s.refresh("phoenix.thinkheads.ai")
            time.sleep(1)
        self.wait_serials(s, want)

    def primary_serials(self, key):
        name, alg, secret = key
        out = {}
        for z in (INTERNAL_ZONES if key is INTERNAL_KEY else EXTERNAL_ZONES):
            r = dig(self.server.port, z, "SOA", extra=["-y", f"{alg}:{name}:{secret}"])
            out[z] = int(r.answer[0][4].split()[2])
        return out

    def check_data(self, s, probe_ip):
        if s.key is INTERNAL_KEY:
            # The internal view: guests by their direct address, the reverse zone, the probe's address.
            self.assertEqual(dig(s.port, "ollama.internal.thinkheads.ai").rdata("A"), ["10.0.0.155"], s.name)
            self.assertTrue(dig(s.port, "155.0.0.10.in-addr.arpa", "PTR").rdata("PTR"), s.name)
        else:
            # The external view: only the shared zone, services at the gateway; nothing internal.
            self.assertEqual(dig(s.port, "ollama.phoenix.thinkheads.ai").rdata("A"), ["10.0.0.153"], s.name)
            for z in set(ALL_ZONES) - set(EXTERNAL_ZONES):
                self.assertIsNone(soa_serial(s.port, z), f"{s.name} got {z}, which the external view does not serve")
        self.assertEqual(dig(s.port, "xfrprobe.phoenix.thinkheads.ai").rdata("A"), [probe_ip], s.name)

    def test_1_each_secondary_gets_exactly_its_view(self):
        for s in self.secondaries:
            with self.subTest(secondary=s.name):
                self.wait_serials(s, self.primary_serials(s.key))
                self.check_data(s, "10.0.0.77")
        log = self.server.output()
        self.assertIn("xfr: AXFR of internal.thinkheads.ai. (view internal", log)
        self.assertIn("xfr: AXFR of phoenix.thinkheads.ai. (view external", log)
        # The external key never got the internal zone: every such request was answered NOTAUTH.
        self.assertNotIn("internal.thinkheads.ai. (view external", log)

    def test_2_a_reload_is_followed_by_ixfr(self):
        for s in self.secondaries:
            self.wait_serials(s, self.primary_serials(s.key))
        before = self.primary_serials(INTERNAL_KEY)["phoenix.thinkheads.ai"]
        type(self).serial_before_reload = before
        write_inventory(self.inv, "10.0.0.78")
        self.server.signal(__import__("signal").SIGHUP)
        self.assertTrue(wait_for(lambda: self.primary_serials(INTERNAL_KEY)["phoenix.thinkheads.ai"] != before),
                        self.server.output()[-3000:])
        for s in self.secondaries:
            with self.subTest(secondary=s.name):
                want = self.primary_serials(s.key)
                self.follow(s, want)
                self.check_data(s, "10.0.0.78")
        log = self.server.output()
        for view, key in (("internal", INTERNAL_KEY), ("external", EXTERNAL_KEY)):
            self.assertIn(f"xfr: IXFR, incremental of phoenix.thinkheads.ai. (view {view}", log)
            self.assertIn(f"key {key[0]}", log)
        self.assertIn("IXFR", (self.secondaries[0].dir / "knot.log").read_text(errors="replace"))

    def test_4_the_history_survives_a_restart(self):
        before = getattr(self, "serial_before_reload", None)
        if before is None:
            self.skipTest("needs test_2's reload")
        old = self.server
        self.assertEqual(old.stop(), 0, old.output())
        type(self).server = Server(self.inv, port=old.port, state_dir=old.state_dir).start()
        name, alg, secret = INTERNAL_KEY
        # A secondary still at the serial before the reload gets the difference, read back from --state-dir.
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.server.port), "-y", f"{alg}:{name}:{secret}",
                              "phoenix.thinkheads.ai", f"IXFR={before}"], capture_output=True, text=True,
                             timeout=15).stdout
        self.assertIn("10.0.0.78", out)
        self.assertIn("10.0.0.77", out)  # the deleted record: a difference sequence, not the zone
        # The server logs a transfer once its last message is written: dig may have it and exit first.
        self.assertTrue(wait_for(lambda: "xfr: IXFR, incremental of phoenix.thinkheads.ai. (view internal"
                                 in self.server.output(), timeout=10), self.server.output()[-3000:])
        # And the secondaries follow the next change by IXFR from the restarted server.
        unchanged = {k[0]: self.primary_serials(k)["phoenix.thinkheads.ai"] for k in (INTERNAL_KEY, EXTERNAL_KEY)}
        write_inventory(self.inv, "10.0.0.79")
        self.server.signal(__import__("signal").SIGHUP)
        for s in self.secondaries:
            with self.subTest(secondary=s.name):
                want = wait_for(lambda: (w := self.primary_serials(s.key))["phoenix.thinkheads.ai"] !=
                                unchanged[s.key[0]] and w)
                self.assertTrue(want, self.server.output()[-3000:])
                self.follow(s, want)
                self.check_data(s, "10.0.0.79")
        self.assertIn("xfr: IXFR, incremental of phoenix.thinkheads.ai. (view external", self.server.output())

    def test_3_wrong_key_and_unlisted_address_are_refused(self):
        name, alg, _ = INTERNAL_KEY
        bad = subprocess.run(["kdig", f"@127.0.0.1", "-p", str(self.server.port), "-y", f"{alg}:{name}:{WRONG_SECRET}",
                              "internal.thinkheads.ai", "AXFR"], capture_output=True, text=True, timeout=15)
        self.assertIn("server replied with error 'BADSIG'", bad.stdout + bad.stderr)
        self.assertNotIn("ollama", bad.stdout)
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.server.port), "-y", f"{alg}:{name}:{WRONG_SECRET}",
                              "ollama.internal.thinkheads.ai", "A"], capture_output=True, text=True, timeout=15).stdout
        self.assertIn("status: NOTAUTH", out)
        self.assertIn("BADSIG", out)
        # Unsigned, from an address of either view: no transfer.
        for source in ("127.0.0.1", "127.0.0.9"):
            r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.server.port), "-b", source, "phoenix.thinkheads.ai",
                                "AXFR"], capture_output=True, text=True, timeout=15).stdout
            self.assertIn("Transfer failed", r, source)
            self.assertNotIn("ollama", r, source)
            r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.server.port), "-b", source, "+notcp",
                                "phoenix.thinkheads.ai", "IXFR=1"], capture_output=True, text=True, timeout=15)
            self.assertIn("server replied with error 'REFUSED'", r.stdout + r.stderr, source)
        # A key that does not exist here: BADKEY.
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.server.port), "-y", f"hmac-sha256:nokey:{WRONG_SECRET}",
                              "ollama.internal.thinkheads.ai", "A"], capture_output=True, text=True, timeout=15).stdout
        self.assertIn("BADKEY", out)


    def test_5_a_refused_reload_keeps_the_keys(self):
        path = Path(self.inv) / "phoenix_hypervisor_config.json"
        good = path.read_text()
        doc = json.loads(good)
        doc["dns_server"]["views"][0]["match_keys"] = ["undefined-key"]
        doc["dns_server"]["tsig_keys"]["internal-xfr"]["secret"] = WRONG_SECRET
        path.write_text(json.dumps(doc))
        try:
            self.server.signal(__import__("signal").SIGHUP)
            self.assertTrue(wait_for(lambda: "reload: failed" in self.server.output()), self.server.output()[-2000:])
            self.assertIn('TSIG key "undefined-key" is not defined', self.server.output())
            name, alg, secret = INTERNAL_KEY
            out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.server.port), "-y", f"{alg}:{name}:{secret}",
                                  "internal.thinkheads.ai", "AXFR"], capture_output=True, text=True, timeout=15).stdout
            self.assertIn("ollama.internal.thinkheads.ai.", out)  # the old key, the old view
        finally:
            path.write_text(good)


class DestinationsSelectViews(unittest.TestCase):
    """match_destinations over both transports: one server on two loopback addresses."""

    def test_the_local_address_selects_the_view(self):
        def edit(files):
            dns = files["phoenix_hypervisor_config.json"]["dns_server"]
            dns["views"] = [
                {"name": "internal", "match_clients": ["127.0.0.0/8"], "match_destinations": ["127.0.0.53"]},
                {"name": "external", "match_clients": ["any"], "rate_limit": False}]
        inv = copy_inventory(edit=edit)
        port = free_port()
        try:
            with Server(inv, port=port, args=["--listen", f"127.0.0.53:{port}"]) as srv:
                for tcp in (False, True):
                    r = dig(port, "ollama.internal.thinkheads.ai", server="127.0.0.53", tcp=tcp)
                    self.assertEqual(r.rdata("A"), ["10.0.0.155"], (tcp, srv.output()[-2000:]))
                    # The same client on the other address: the external view, which lacks the zone.
                    self.assertEqual(dig(port, "ollama.internal.thinkheads.ai", tcp=tcp).rcode, "REFUSED", tcp)
                    self.assertEqual(dig(port, "ollama.phoenix.thinkheads.ai", tcp=tcp).rdata("A"), ["10.0.0.153"])
        finally:
            shutil.rmtree(inv, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
