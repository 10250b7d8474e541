"""phoenix-netgen's generated files, judged by the programs that load them: nginx -t, named-checkzone,
a YAML parser for Traefik, and phoenix-dns itself for the zone files."""
import json
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

from harness import SOURCE_DIR, Server
from netgen import EXAMPLE, copy_inventory, generate, netgen, rmtree

GOLDEN = SOURCE_DIR / "tests" / "data" / "netgen"


def nginx_test(conf_file):
    """`nginx -t` on a minimal main config that includes `conf_file`, all paths in a temp prefix."""
    prefix = Path(tempfile.mkdtemp(prefix="netgen-nginx-"))
    try:
        for d in ("logs", "tmp"):
            (prefix / d).mkdir()
        main = prefix / "nginx.conf"
        main.write_text(f"""
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {conf_file};
}}
""")
        return subprocess.run(["nginx", "-t", "-q", "-p", str(prefix), "-e", str(prefix / "logs" / "error.log"),
                               "-c", str(main)], capture_output=True, text=True, timeout=30)
    finally:
        rmtree(prefix)


def nginx_with_certs(inventory=EXAMPLE):
    """Generates the gateway config with --ssl-dir pointing at fresh test certificates (openssl req,
    one self-signed P-256 certificate per ssl_certificate line); returns (conf path, nginx -t result)."""
    certs = Path(tempfile.mkdtemp(prefix="netgen-certs-"))
    out = generate("nginx", inventory, extra=("--ssl-dir", str(certs)))
    conf = out / "phoenix-gateway.conf"
    for crt in re.findall(r"ssl_certificate (\S+)\.crt;", conf.read_text()):
        name = Path(crt).name
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", f"{crt}.key", "-out", f"{crt}.crt"],
                       check=True, capture_output=True, timeout=30)
    return conf, nginx_test(conf)


class NginxTest(unittest.TestCase):
    def test_gateway_config_passes_nginx_t(self):
        conf, r = nginx_with_certs()
        self.assertEqual(r.returncode, 0, r.stderr)
        text = conf.read_text()
        # TLS ends at the gateway: a 443 block per route with its certificate; 80 keeps ACME and redirects.
        self.assertIn("listen 443 ssl;\n    server_name ollama.phoenix.thinkheads.ai;", text)
        self.assertRegex(text, r"ssl_certificate \S+/ollama\.phoenix\.thinkheads\.ai\.crt;")
        self.assertIn("location /.well-known/acme-challenge/ {", text)
        self.assertIn("return 301 https://$host$request_uri;", text)
        names = re.findall(r"server_name ([^;]+);", text)
        self.assertIn("ollama.phoenix.thinkheads.ai", names)
        self.assertIn("qdrant.internal.thinkheads.ai qdrant.phoenix.thinkheads.ai", names)
        self.assertNotIn("portainer-agent", text)  # raw TCP never behind the HTTP gateway
        self.assertIn("server 10.0.0.12:80;", text)

    def test_nginx_t_is_able_to_fail(self):
        conf, r = nginx_with_certs()
        self.assertEqual(r.returncode, 0, r.stderr)
        conf.write_text(conf.read_text().replace("proxy_pass", "proxy_passs", 1))
        self.assertNotEqual(nginx_test(conf).returncode, 0)
        # Without the certificates nginx refuses too: the test certificates are what makes it pass.
        self.assertNotEqual(nginx_test(generate("nginx") / "phoenix-gateway.conf").returncode, 0)


class ZoneFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = generate("zones")
        cls.files = sorted(cls.out.rglob("*.zone"))

    @staticmethod
    def records(path):
        recs = []
        for line in path.read_text().splitlines():
            if not line or line[0] in ";$":
                continue
            owner, ttl, cls_, rtype, rdata = line.split("\t")
            recs.append((owner, int(ttl), rtype, rdata))
        return recs

    def test_files_per_view(self):
        names = [str(p.relative_to(self.out)) for p in self.files]
        self.assertEqual(names, ["external/phoenix.thinkheads.ai.zone", "internal/0.0.10.in-addr.arpa.zone",
                                 "internal/internal.thinkheads.ai.zone", "internal/phoenix.thinkheads.ai.zone"])

    def test_named_checkzone_accepts_every_file(self):
        for f in self.files:
            origin = f.name[:-len(".zone")]
            r = subprocess.run(["named-checkzone", "-k", "fail", "-n", "fail", "-i", "full", origin, str(f)],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, f"{f}:\n{r.stdout}{r.stderr}")

    def test_named_checkzone_is_able_to_fail(self):
        bad = Path(tempfile.mkdtemp()) / "internal.thinkheads.ai.zone"
        bad.write_text(self.files[2].read_text().replace("\tA\t10.0.0.155", "\tA\t10.0.0.1555"))
        r = subprocess.run(["named-checkzone", "internal.thinkheads.ai", str(bad)], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)

    def test_zone_files_are_what_the_server_serves(self):
        with Server(EXAMPLE) as s:
            # With the server's state directory, even the SOA serials are the ones it serves.
            out = generate("zones", extra=("--state-dir", str(s.state_dir)))
            for f in sorted(out.rglob("*.zone")):
                view = f.parent.name
                source = "127.0.0.1" if view == "internal" else "127.0.0.2"
                by_name = {}
                for owner, ttl, rtype, rdata in self.records(f):
                    by_name.setdefault((owner, rtype), set()).add((ttl, rdata))
                for (owner, rtype), want in by_name.items():
                    r = s.dig(owner, rtype, source=source)
                    got = {(rr[1], rr[4]) for rr in r.answer if rr[3] == rtype}
                    self.assertEqual(got, want, f"{view} {owner} {rtype}")


class TraefikTest(unittest.TestCase):
    def test_yaml_parses_with_expected_routers_and_services(self):
        out = generate("traefik")
        doc = yaml.safe_load((out / "traefik-dynamic.yml").read_text())
        routers, services = doc["http"]["routers"], doc["http"]["services"]
        self.assertEqual(sorted(routers), ["ca", "ollama", "portainer", "qdrant"])
        self.assertEqual(sorted(services), sorted(routers))
        for name, r in routers.items():
            self.assertIn(r["service"], services)
            self.assertIn(f"Host(`{name}.internal.thinkheads.ai`)", r["rule"])
            self.assertIn(f"Host(`{name}.phoenix.thinkheads.ai`)", r["rule"])
        url = {n: s["loadBalancer"]["servers"][0]["url"] for n, s in services.items()}
        self.assertEqual(url, {"ca": "https://10.0.0.10:9000", "ollama": "http://10.0.0.155:11434",
                               "portainer": "https://10.0.0.111:9443", "qdrant": "http://10.0.0.102:6333"})

    def test_stack_scheme_label_wins(self):
        def edit(f):
            labels = f["phoenix_stacks_config.json"]["docker_stacks"]["qdrant_service"]["environments"]["production"][
                "services"]["qdrant"]["traefik_labels"]
            labels.append("traefik.http.services.qdrant.loadbalancer.server.scheme=https")
        out = generate("traefik", copy_inventory(EXAMPLE, edit))
        doc = yaml.safe_load((out / "traefik-dynamic.yml").read_text())
        self.assertEqual(doc["http"]["services"]["qdrant"]["loadBalancer"]["servers"][0]["url"], "https://10.0.0.102:6333")


class FirewallFilesTest(unittest.TestCase):
    def test_files_and_syntax(self):
        out = generate("firewall")
        self.assertTrue((out / ".phoenix-netgen-manifest.json").is_file())  # what --out owns there
        names = sorted(p.name for p in out.iterdir() if p.name != ".phoenix-netgen-manifest.json")
        self.assertEqual(names, ["1001.fw", "1002.fw", "101.fw", "102.fw", "103.fw", "914.fw", "cluster.fw"])
        rule = re.compile(r"^(IN|OUT) (ACCEPT|DROP|REJECT)( -source \S+)?( -dest \S+)?( -p \S+)?( -dport \S+)? -log nolog( # .*)?$")
        for f in out.glob("*.fw"):
            section = None
            for line in f.read_text().splitlines():
                if line.startswith("#") or not line:
                    continue
                if line.startswith("["):
                    section = line
                    continue
                if section == "[RULES]":
                    self.assertRegex(line, rule)
                else:
                    self.assertRegex(line, r"^(enable: [01]|policy_(in|out): (ACCEPT|DROP|REJECT))$")
        self.assertNotIn("10.0.0.111", (out / "cluster.fw").read_text())

    def test_invalid_rule_writes_nothing(self):
        def edit(f):
            f["phoenix_lxc_configs.json"]["lxc_configs"]["914"]["firewall"]["rules"][0]["type"] = "inbound"
        out = Path(tempfile.mkdtemp())
        r = netgen("firewall", "--out", str(out), inventory=copy_inventory(EXAMPLE, edit))
        self.assertEqual(r.returncode, 1)
        self.assertIn("/lxc_configs/914/firewall/rules/0/type", r.stderr)
        self.assertEqual(list(out.iterdir()), [])


class CliTest(unittest.TestCase):
    def test_stdout_matches_golden(self):
        for cmd in ("firewall", "traefik", "nginx", "zones", "check", "diagram"):
            r = netgen(cmd)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, (GOLDEN / f"{cmd}.golden").read_text(), cmd)

    def test_options_before_the_command_too(self):
        a = subprocess.run([netgen.__globals__["NETGEN"], "--inventory", str(EXAMPLE), "--json", "traefik"],
                           capture_output=True, text=True)
        self.assertEqual(a.returncode, 0, a.stderr)
        doc = json.loads(a.stdout)
        self.assertEqual(doc["files"][0]["path"], "traefik-dynamic.yml")

    def test_pinned_serial(self):
        r = netgen("zones", "--serial", "42")
        soas = re.findall(r"\tSOA\t\S+ \S+ (\d+) ", r.stdout)
        self.assertEqual(soas, ["42"] * 4)

    def test_usage_errors_exit_2(self):
        self.assertEqual(netgen("reach", "10.0.0.1").returncode, 2)
        self.assertEqual(netgen("reach", "10.0.0.1", "10.0.0.2", "80/xyz").returncode, 2)
        self.assertEqual(netgen("view", "not-an-ip", "a.b").returncode, 2)
        self.assertEqual(netgen("frobnicate").returncode, 2)

    def test_missing_inventory_exits_1(self):
        r = netgen("zones", inventory="/nonexistent/inventory")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a directory", r.stderr)

    def test_diagram_files_and_svg_when_dot_exists(self):
        out = generate("diagram")
        mmd = (out / "diagram.mmd").read_text()
        self.assertIn("flowchart LR", mmd)
        self.assertIn("gateway -->|\"ALLOW :80/tcp\"| traefik", mmd)
        dot = (out / "diagram.dot").read_text()
        self.assertTrue(dot.startswith("//") and "digraph phoenix {" in dot and dot.rstrip().endswith("}"))
        if shutil.which("dot"):
            self.assertTrue((out / "diagram.svg").read_text().lstrip().startswith("<?xml"))

    def test_diagram_marks_a_dropped_hop(self):
        def edit(f):
            f["phoenix_lxc_configs.json"]["lxc_configs"]["914"]["firewall"]["rules"] = []
        r = netgen("diagram", inventory=copy_inventory(EXAMPLE, edit))
        self.assertRegex(r.stdout, r"traefik --x\|\"DROP :11434/tcp\"\| route_ollama")
        self.assertRegex(r.stdout, r"traefik -> route_ollama \[label=\"[^\"]*DROP :11434/tcp\", color=red")


if __name__ == "__main__":
    unittest.main()
