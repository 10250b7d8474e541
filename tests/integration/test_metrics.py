"""test_metrics -- the Prometheus endpoint, checked by promtool and scraped by a real Prometheus."""
import json
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
from pathlib import Path

from dnswire import udp_ask
from harness import Server, copy_inventory, fetch, free_port, run_binary, samples


class MetricsEndpoint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mport = free_port()
        cls.server = Server(args=["--metrics-listen", f"127.0.0.1:{cls.mport}"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_promtool_accepts_the_output(self):
        udp_ask(self.server.port, "ollama.internal.thinkheads.ai")
        self.server.dig("nope.internal.thinkheads.ai", "TXT", tcp=True)
        status, ctype, text = fetch(self.mport)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        for family in ("queries_total", "responses_total", "responses_truncated_total", "malformed_dropped_total",
                       "zone_records", "zone_serial", "generation", "reloads_total", "tcp_connections_open"):
            self.assertIn(f"# TYPE phoenix_dns_{family} ", text)
        tcp = samples(text, "phoenix_dns_responses_total")
        self.assertGreaterEqual(tcp['{view="internal",transport="tcp",rcode="NXDOMAIN"}'], 1)
        self.assertGreaterEqual(samples(text, "phoenix_dns_tcp_connections_accepted_total")[""], 1)

    def test_tcp_connections_open_and_closed(self):
        import socket
        before = samples(fetch(self.mport)[2], "phoenix_dns_tcp_connections_accepted_total")[""]
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=3):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                text = fetch(self.mport)[2]
                if samples(text, "phoenix_dns_tcp_connections_open")[""] >= 1:
                    break
                time.sleep(0.05)
            self.assertEqual(samples(text, "phoenix_dns_tcp_connections_open")[""], 1)
            self.assertEqual(samples(text, "phoenix_dns_tcp_connections_accepted_total")[""], before + 1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and samples(fetch(self.mport)[2], "phoenix_dns_tcp_connections_open")[""]:
            time.sleep(0.05)
        self.assertEqual(samples(fetch(self.mport)[2], "phoenix_dns_tcp_connections_open")[""], 0)

    def test_only_metrics_is_served(self):
        with self.assertRaises(urllib.error.HTTPError) as e:
            fetch(self.mport, "/")
        self.assertEqual(e.exception.code, 404)

    def test_malformed_and_serials(self):
        import socket
        before = samples(fetch(self.mport)[2], "phoenix_dns_malformed_dropped_total")['{transport="udp"}']
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(3):
                s.sendto(b"\x01\x02\x03", ("127.0.0.1", self.server.port))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = fetch(self.mport)[2]
            if samples(text, "phoenix_dns_malformed_dropped_total")['{transport="udp"}'] >= before + 3:
                break
            time.sleep(0.05)
        self.assertEqual(samples(text, "phoenix_dns_malformed_dropped_total")['{transport="udp"}'], before + 3)
        serial = self.server.dig("internal.thinkheads.ai", "SOA").answer[0][4].split()[2]
        self.assertEqual(samples(text, "phoenix_dns_zone_serial")['{view="internal",zone="internal.thinkheads.ai."}'],
                         float(serial))


class MetricsFromInventory(unittest.TestCase):
    def test_key_starts_the_endpoint_and_reloads_are_counted(self):
        mport = free_port()
        inv = copy_inventory(edit=lambda f: f["phoenix_hypervisor_config.json"]["dns_server"].update(
            metrics={"listen": f"127.0.0.1:{mport}"}))
        with Server(inv) as srv:
            self.assertIn(f"metrics: serving /metrics on 127.0.0.1:{mport}", srv.output())
            srv.signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and "reload: generation 1 -> 2" not in srv.output():
                time.sleep(0.05)
            text = fetch(mport)[2]
            self.assertEqual(samples(text, "phoenix_dns_reloads_total")['{result="succeeded"}'], 1)
            self.assertEqual(samples(text, "phoenix_dns_generation")[""], 2)
            self.assertEqual(samples(text, "phoenix_dns_last_reload_success")[""], 1)
            # A broken inventory: refused, counted, the old data stays.
            cfg = inv / "phoenix_hypervisor_config.json"
            cfg.write_text("{ broken")
            srv.signal(signal.SIGHUP)
            while time.monotonic() < deadline and "reload: failed" not in srv.output():
                time.sleep(0.05)
            text = fetch(mport)[2]
            self.assertEqual(samples(text, "phoenix_dns_reloads_total")['{result="failed"}'], 1)
            self.assertEqual(samples(text, "phoenix_dns_last_reload_success")[""], 0)
            self.assertEqual(samples(text, "phoenix_dns_generation")[""], 2)

    def test_unknown_key_is_an_error(self):
        inv = copy_inventory(edit=lambda f: f["phoenix_hypervisor_config.json"]["dns_server"].update(
            metrics={"listen": "127.0.0.1:9153", "path": "/stats"}))
        r = run_binary("--check", "--inventory", str(inv))
        self.assertEqual(r.returncode, 1)
        self.assertIn('/dns_server/metrics/path: unknown key "path"', r.stdout)


@unittest.skipUnless(shutil.which("prometheus"), "Debian's prometheus is not installed")
class ScrapedByPrometheus(unittest.TestCase):
    """The real Prometheus scrapes the endpoint; the per-view query counts it stores are the ones we sent."""

    def test_query_counts_read_back_through_prometheus(self):
        mport, pport = free_port(), free_port()
        work = Path(tempfile.mkdtemp(prefix="phoenix-prom-"))
        (work / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: phoenix\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{mport}']\n")
        with Server(args=["--metrics-listen", f"127.0.0.1:{mport}"]) as srv:
            # The bundled example: 127.0.0.1 is the internal view, 127.0.0.2 the external one.
            sent = {"internal": 7, "external": 4}
            for i in range(sent["internal"]):
                self.assertEqual(udp_ask(srv.port, "ollama.internal.thinkheads.ai", source="127.0.0.1").rcode, "NOERROR")
            for i in range(sent["external"]):
                self.assertEqual(udp_ask(srv.port, "ollama.phoenix.thinkheads.ai", source="127.0.0.2").rcode, "NOERROR")
            log = open(work / "prometheus.log", "w")
            prom = subprocess.Popen(
                ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                 f"--web.listen-address=127.0.0.1:{pport}"], stdout=log, stderr=subprocess.STDOUT)
            try:
                query = 'sum by (view) (phoenix_dns_queries_total{job="phoenix"})'
                url = f"http://127.0.0.1:{pport}/api/v1/query?" + urllib.parse.urlencode({"query": query})
                got = {}
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and got != {k: float(v) for k, v in sent.items()}:
                    time.sleep(0.5)
                    try:
                        with urllib.request.urlopen(url, timeout=3) as r:
                            body = json.loads(r.read())
                    except OSError:
                        continue  # not listening yet
                    got = {s["metric"]["view"]: float(s["value"][1]) for s in body["data"]["result"]}
                self.assertEqual(got, {k: float(v) for k, v in sent.items()},
                                 (work / "prometheus.log").read_text()[-2000:])
            finally:
                prom.terminate()
                try:
                    prom.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    prom.kill()
                    prom.wait()
                log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
