"""dnsmasq-diff against the real thing: Debian's dnsmasq started on loopback with the configuration the
old setup script writes (tests/data/dnsmasq), phoenix-dns on the example inventory, both asked with
dig for every name of the report; the report's answers and verdicts must be what the servers say.

Neither server reaches a real upstream: the copy's server= lines point at a loopback port nothing
listens on, and so does phoenix-dns's --upstream. So "forwarded" shows up as no answer
(SERVFAIL, REFUSED or a timeout) on both sides.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import EXAMPLE, SOURCE_DIR, Server, dig, free_port, stop_process
from netgen import netgen

DATA = SOURCE_DIR / "tests" / "data" / "dnsmasq"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

# Lines of the test copy only (the data stays in the script's format): a host-record and a hosts file,
# so the reader's other sources meet the real dnsmasq too.
EXTRA_CONF = """host-record=pve.internal.thinkheads.ai,10.0.0.13
addn-hosts={hosts}
address=/blocked.example/
"""
EXTRA_HOSTS = "10.0.0.13 pve\n10.0.0.155 ollama.internal.thinkheads.ai\nfd00::5 v6host.internal.thinkheads.ai\n"


def make_copy(dead_port):
    """The script's files with paths and upstreams made local; port= and listen-address= dropped
    (in a file they would override the command line's)."""
    d = Path(tempfile.mkdtemp(prefix="dnsmasq-diff-"))
    shutil.copytree(DATA / "dnsmasq.d", d / "dnsmasq.d")
    lines = []
    for line in (DATA / "dnsmasq.conf").read_text().splitlines():
        if line.startswith(("port=", "listen-address=")):
            continue
        if line.startswith("server="):
            line = f"server=127.0.0.1#{dead_port}"
        lines.append(line.replace("/etc/dnsmasq.d", str(d / "dnsmasq.d")))
    (d / "dnsmasq.conf").write_text("\n".join(lines) + "\n")
    (d / "hosts").write_text(EXTRA_HOSTS)
    (d / "dnsmasq.d" / "10-test.conf").write_text(EXTRA_CONF.format(hosts=d / "hosts"))
    return d


def real_class(reply, rtype):
    """What a guest can tell apart: addresses, "no address here", or no answer at all."""
    if reply is None or reply.rcode in ("SERVFAIL", "REFUSED"):
        return ("unanswered",)
    if reply.rcode == "NXDOMAIN":
        return ("none",)
    values = tuple(sorted({v.rstrip(".").lower() for v in reply.rdata(rtype)}))
    return ("data", values) if values else ("none",)


def report_class(outcome):
    kind = outcome["kind"]
    if kind == "data":
        return ("data", tuple(sorted(outcome["values"])))
    if kind in ("nodata", "nxdomain"):
        return ("none",)
    return ("unanswered",)  # forwarded (nowhere reachable here) or refused


def verdict(old, new):
    """The report's rule, applied to what the servers said."""
    if old == new:
        return "same"
    old_has = any(c[0] == "data" for c in old)
    new_has = any(c[0] == "data" for c in new)
    if old_has and new_has:
        return "changed"
    if old_has:
        return "only-dnsmasq"
    if new_has:
        return "only-phoenix-dns"
    return "changed"


@unittest.skipUnless(Path(DNSMASQ).exists(), "dnsmasq is not installed")
class DnsmasqDiffAgainstRealDnsmasq(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = make_copy(free_port())
        cls.port = free_port()
        cls.log = open(cls.dir / "dnsmasq.log", "w")
        cmd = [DNSMASQ, "--keep-in-foreground", "--log-facility=-", "-C", str(cls.dir / "dnsmasq.conf"),
               "-7", f"{cls.dir / 'dnsmasq.d'},.dpkg-dist,.dpkg-old,.dpkg-new", f"--port={cls.port}",
               "--listen-address=127.0.0.1", "--bind-interfaces", "--no-hosts", "--pid-file="]
        if os.geteuid() == 0:
            cmd.append("--user=root")  # no account switch: the test's files stay readable
        cls.dnsmasq = subprocess.Popen(cmd, stdout=cls.log, stderr=subprocess.STDOUT)
        # A loopback upstream nothing listens on: the internal view resolves (RA, RFC 6303 zones,
        # single-label names answered here) as the report assumes from the inventory's upstreams, and
        # every forwarded name still goes unanswered, as on the dnsmasq side.
        cls.phoenix = Server(EXAMPLE, upstreams=[f"127.0.0.1:{free_port()}"]).start()
        deadline = time.monotonic() + 10
        while True:
            if cls.dnsmasq.poll() is not None:
                raise AssertionError("dnsmasq exited:\n" + (cls.dir / "dnsmasq.log").read_text())
            try:
                if dig(cls.port, "step-ca.internal.thinkheads.ai").rcode == "NOERROR":
                    break
            except (AssertionError, subprocess.TimeoutExpired):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("dnsmasq did not answer:\n" + (cls.dir / "dnsmasq.log").read_text())
            time.sleep(0.1)
        r = netgen("dnsmasq-diff", "--json", "--dnsmasq-conf", str(cls.dir / "dnsmasq.conf"),
                   "--dnsmasq-dir", str(cls.dir / "dnsmasq.d"), "--etc-hosts", "none")
        cls.rc, cls.stderr = r.returncode, r.stderr
        cls.report = json.loads(r.stdout) if r.stdout.strip().startswith("{") else None

    @classmethod
    def tearDownClass(cls):
        cls.phoenix.stop()
        stop_process(cls.dnsmasq)
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def ask(self, port, name, rtype):
        try:
            return dig(port, name, rtype, extra=("+rec",))  # a guest's stub asks with RD
        except AssertionError:  # no reply within dig's 2 s: dnsmasq still waiting on a dead upstream
            return None

    def test_report_matches_both_servers_name_by_name(self):
        self.assertIsNotNone(self.report, self.stderr)
        self.assertEqual(self.rc, 1, "the deliberate differences must give exit 1")
        self.assertEqual(self.report["view"], "internal")  # and 127.0.0.1, dig's source, is internal too
        rows = self.report["names"]
        self.assertGreater(len(rows), 20)
        jobs = [(row, side, port, t) for row in rows for side, port in (("dnsmasq", self.port), ("phoenix", self.phoenix.port))
                for t in row["dnsmasq"]]
        with ThreadPoolExecutor(max_workers=8) as pool:
            replies = list(pool.map(lambda j: self.ask(j[2], j[0]["asked"], j[3]), jobs))
        real = {}
        for (row, side, _, t), reply in zip(jobs, replies):
            real[(row["asked"], side, t)] = real_class(reply, t)
        for row in rows:
            with self.subTest(name=row["name"]):
                types = list(row["dnsmasq"])
                self.assertEqual(types, list(row["phoenix"]))
                for side in ("dnsmasq", "phoenix"):
                    for t in types:
                        self.assertEqual(report_class(row[side][t]), real[(row["asked"], side, t)],
                                         f"{side} {t} for {row['asked']}")
                old = tuple(real[(row["asked"], "dnsmasq", t)] for t in types)
                new = tuple(real[(row["asked"], "phoenix", t)] for t in types)
                self.assertEqual(row["verdict"], verdict(old, new))

    def test_the_deliberate_differences_are_named(self):
        self.assertIsNotNone(self.report, self.stderr)
        by_name = {r["name"]: r for r in self.report["names"]}
        agent = by_name["portainer-agent.internal.thinkheads.ai"]
        self.assertEqual(agent["verdict"], "changed")
        self.assertIn("Portainer agent", agent["why"])
        self.assertIn("direct IP instead of Traefik", agent["why"])
        self.assertEqual(by_name["llamacpp.internal.thinkheads.ai"]["verdict"], "only-dnsmasq")
        self.assertEqual(by_name["*.ollama.internal.thinkheads.ai"]["verdict"], "only-dnsmasq")
        self.assertEqual(by_name["copy-cuda12-8.internal.thinkheads.ai"]["verdict"], "only-phoenix-dns")
        self.assertIn("dhcp", by_name["ubuntu-2404-cloud-template.internal.thinkheads.ai"]["why"])
        self.assertEqual(by_name["step-ca.internal.thinkheads.ai"]["verdict"], "same")
        self.assertEqual(by_name["*.internal.thinkheads.ai"]["verdict"], "same")
        # The hosts file wins over address= in dnsmasq: ollama is the same on both sides.
        self.assertEqual(by_name["ollama.internal.thinkheads.ai"]["verdict"], "same")
        self.assertEqual(by_name["pve"]["verdict"], "only-dnsmasq")
        self.assertEqual(by_name["v6host.internal.thinkheads.ai"]["dnsmasq"]["AAAA"]["values"], ["fd00::5"])
        self.assertEqual(by_name["*.blocked.example"]["dnsmasq"]["A"]["kind"], "nxdomain")
        # Reverse lookups: bogus-priv made dnsmasq answer NXDOMAIN unless a hosts entry names the address.
        self.assertEqual(by_name["102.0.0.10.in-addr.arpa"]["verdict"], "only-phoenix-dns")
        self.assertEqual(by_name["155.0.0.10.in-addr.arpa"]["verdict"], "changed")
        self.assertEqual(by_name["155.0.0.10.in-addr.arpa"]["dnsmasq"]["PTR"]["values"], ["ollama.internal.thinkheads.ai"])
        self.assertEqual(self.report["upstreams"]["verdict"], "differs")
        options = {o["option"]: o for o in self.report["options"]}
        self.assertEqual(options["local=/internal.thinkheads.ai/"]["verdict"], "kept")
        for o in ("domain-needed", "bogus-priv", "stop-dns-rebind", "no-resolv", "strict-order"):
            self.assertIn(o, options)


if __name__ == "__main__":
    unittest.main()
