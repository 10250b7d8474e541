"""DNS cookies (RFC 7873, server cookies per RFC 9018), asked with dig 9.18 and kdig.

A client cookie gets a server cookie back; a returned one is valid across a restart (the secret is
kept in --state-dir); require_cookie answers a client-cookie-only UDP query with BADCOOKIE (dig then
retries with the server cookie); malformed COOKIE options get FORMERR; a valid server cookie exempts
a client from response rate limiting.
"""
import re
import socket
import subprocess
import tempfile
import unittest

import dnsprobe as w
from harness import Server, copy_inventory, fetch, free_port, promtool_check, samples

NAME = "ollama.phoenix.thinkheads.ai"


def dig_cookie(port, *extra, source="127.0.0.2"):
    """dig with its own cookie handling (the harness's dig turns cookies off); returns its output."""
    cmd = ["dig", "@127.0.0.1", "-p", str(port), "-b", source, NAME, "A", "+norec", "+time=2", "+tries=1", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=15).stdout


def cookie_of(text):
    m = re.search(r"; COOKIE: ([0-9a-fA-F]+)", text)
    return m.group(1).lower() if m else None


def status_of(text):
    m = re.search(r"status: (\w+)", text)
    return m.group(1) if m else None


def query_with_cookie(cookie_hex, qid=1):
    return w.query(NAME, qid=qid, edns={"options": [(10, bytes.fromhex(cookie_hex))]})


class CookieTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="phoenix-state-")
        cls.server = Server(state_dir=cls.state).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_dig_gets_a_good_server_cookie(self):
        out = dig_cookie(self.server.port, "+cookie")
        self.assertEqual(status_of(out), "NOERROR", out)
        self.assertIn("(good)", out)  # dig found its client cookie echoed
        cookie = cookie_of(out)
        self.assertEqual(len(cookie), 48)  # 8 client + 16 server octets (RFC 9018)
        self.assertEqual(cookie[16:18], "01")  # version 1
        # Sent back, it is answered again with a fresh one for the same client cookie.
        again = dig_cookie(self.server.port, f"+cookie={cookie}")
        self.assertEqual(status_of(again), "NOERROR")
        self.assertEqual(cookie_of(again)[:16], cookie[:16])

    def test_kdig_gets_a_server_cookie(self):
        out = subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.server.port), "-b", "127.0.0.2", NAME, "A",
                              "+cookie", "+norec", "+time=2", "+retry=0"], capture_output=True, text=True,
                             timeout=15).stdout
        self.assertIn("NOERROR", out)
        m = re.search(r"COOKIE: ([0-9A-Fa-f]+)", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(len(m.group(1)), 48)

    def test_malformed_cookie_is_formerr(self):
        for length in (1, 7, 9, 15, 41):
            with self.subTest(length):
                r = w.ask_udp(self.server.port, query_with_cookie("ab" * length), source="127.0.0.2")
                self.assertIsNotNone(r)
                self.assertEqual(r.rcode, "FORMERR")
        out = dig_cookie(self.server.port, "+cookie=0102030405060708aabbccdd")  # 12 octets
        self.assertEqual(status_of(out), "FORMERR")

    def test_secret_survives_a_restart_and_require_cookie(self):
        cookie = cookie_of(dig_cookie(self.server.port, "+cookie"))

        def require(files):
            files["phoenix_hypervisor_config.json"]["dns_server"]["require_cookie"] = True
        with Server(copy_inventory(edit=require), state_dir=self.state) as srv:
            # The server cookie from the other run verifies: answered, no BADCOOKIE.
            out = dig_cookie(srv.port, f"+cookie={cookie}", "+nobadcookie")
            self.assertEqual(status_of(out), "NOERROR", out)
            # A client cookie alone gets BADCOOKIE with a server cookie...
            out = dig_cookie(srv.port, "+cookie", "+nobadcookie")
            self.assertEqual(status_of(out), "BADCOOKIE", out)
            self.assertEqual(len(cookie_of(out)), 48)
            # ...and dig, which retries with it by default, then gets the answer.
            out = dig_cookie(srv.port, "+cookie")
            self.assertEqual(status_of(out), "NOERROR", out)
            self.assertIn("BADCOOKIE", out)
            # TCP proves the address: no BADCOOKIE there. Nor without any cookie.
            self.assertEqual(status_of(dig_cookie(srv.port, "+cookie", "+tcp", "+nobadcookie")), "NOERROR")
            self.assertEqual(status_of(dig_cookie(srv.port, "+nocookie")), "NOERROR")

    def test_valid_server_cookie_exempts_from_rate_limiting(self):
        def limit(files):
            files["phoenix_hypervisor_config.json"]["dns_server"]["rate_limit"] = {"responses_per_second": 2,
                                                                                 "slip": 0}
        with Server(copy_inventory(edit=limit)) as srv:
            first = w.ask_udp(srv.port, query_with_cookie("0102030405060708"), source="127.0.8.1")
            self.assertIsNotNone(first)
            cookie = dig_cookie(srv.port, "+cookie=0102030405060708", source="127.0.8.1")
            full = cookie_of(cookie)
            self.assertIsNotNone(full, cookie)

            def burst(packet_for):
                got = 0
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.8.1", 0))
                    for i in range(30):
                        s.sendto(packet_for(i), ("127.0.0.1", srv.port))
                    s.settimeout(0.5)
                    try:
                        for _ in range(30):
                            s.recv(4096)
                            got += 1
                    except socket.timeout:
                        pass
                return got
            self.assertEqual(burst(lambda i: query_with_cookie(full, qid=i)), 30)
            self.assertLessEqual(burst(lambda i: w.query(NAME, qid=i)), 4)  # the same client without it


class CookieMetricsTest(unittest.TestCase):
    def test_cookies_and_badcookie_are_counted_per_view_and_transport(self):
        def require(files):
            files["phoenix_hypervisor_config.json"]["dns_server"]["require_cookie"] = True
        mport = free_port()
        with Server(copy_inventory(edit=require), args=["--metrics-listen", f"127.0.0.1:{mport}"]) as srv:
            # A client cookie alone over UDP: BADCOOKIE, with a server cookie to come back with.
            out = dig_cookie(srv.port, "+cookie", "+nobadcookie")
            self.assertEqual(status_of(out), "BADCOOKIE", out)
            cookie = cookie_of(out)
            for _ in range(2):  # that cookie verifies: answered
                self.assertEqual(status_of(dig_cookie(srv.port, f"+cookie={cookie}", "+nobadcookie")), "NOERROR")
            forged = cookie[:-2] + ("00" if cookie[-2:] != "00" else "11")
            self.assertEqual(status_of(dig_cookie(srv.port, f"+cookie={forged}", "+nobadcookie")), "BADCOOKIE")
            self.assertEqual(status_of(dig_cookie(srv.port, "+cookie", "+tcp", "+nobadcookie")), "NOERROR")
            self.assertEqual(status_of(dig_cookie(srv.port, "+nocookie")), "NOERROR")  # no cookie: not counted
            text = fetch(mport)[2]
        ok, why = promtool_check(text)
        self.assertTrue(ok, why)
        got = samples(text, "phoenix_dns_cookies_total")
        self.assertEqual(got['{view="external",transport="udp",cookie="client_only"}'], 1)
        self.assertEqual(got['{view="external",transport="udp",cookie="valid"}'], 2)
        self.assertEqual(got['{view="external",transport="udp",cookie="invalid"}'], 1)
        self.assertEqual(got['{view="external",transport="tcp",cookie="client_only"}'], 1)
        self.assertEqual(got['{view="internal",transport="udp",cookie="valid"}'], 0)
        responses = samples(text, "phoenix_dns_responses_total")
        self.assertEqual(responses['{view="external",transport="udp",rcode="BADCOOKIE"}'], 2)
        self.assertEqual(responses['{view="external",transport="tcp",rcode="BADCOOKIE"}'], 0)
        self.assertEqual(responses['{view="external",transport="udp",rcode="NOERROR"}'], 3)


if __name__ == "__main__":
    unittest.main()
