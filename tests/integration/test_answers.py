"""Authoritative answer shapes: AA, negative answers with SOA, EDNS, case, truncation, TCP reuse."""
import socket
import struct
import subprocess
import unittest

import dnsprobe
from harness import EXAMPLE, Server, ServerTest, copy_inventory, parse_dig


class AnswerTest(ServerTest):
    def test_nxdomain_has_soa_in_authority(self):
        r = self.server.dig("nope.internal.thinkheads.ai")
        self.assertEqual(r.rcode, "NXDOMAIN")
        self.assertIn("aa", r.flags)
        self.assertEqual([a[3] for a in r.authority], ["SOA"])
        self.assertEqual(r.authority[0][0], "internal.thinkheads.ai.")

    def test_nodata_has_soa_and_no_answer(self):
        r = self.server.dig("ollama.internal.thinkheads.ai", "AAAA")
        self.assertEqual(r.rcode, "NOERROR")
        self.assertEqual(r.answer, [])
        self.assertEqual([a[3] for a in r.authority], ["SOA"])

    def test_apex_has_soa_and_ns(self):
        r = self.server.dig("internal.thinkheads.ai", "NS")
        self.assertEqual(r.rdata("NS"), ["ns1.internal.thinkheads.ai."])
        r = self.server.dig("ns1.internal.thinkheads.ai")
        self.assertEqual(r.rdata("A"), ["10.0.0.13"])

    def test_question_is_echoed_in_the_clients_case(self):
        r = self.server.dig("OlLaMa.InTeRnAl.thinkheads.AI")
        self.assertEqual(r.question[0][0], "OlLaMa.InTeRnAl.thinkheads.AI.")
        self.assertEqual(r.rdata("A"), ["10.0.0.155"])

    def test_edns_reply_only_to_edns_query(self):
        r = self.server.dig("ollama.internal.thinkheads.ai", extra=["+edns=0", "+bufsize=4096"])
        self.assertTrue(r.edns)
        self.assertEqual(r.udp_size, 1232)
        r = self.server.dig("ollama.internal.thinkheads.ai", extra=["+noedns"])
        self.assertFalse(r.edns)

    def test_edns_version_one_gets_badvers(self):
        r = self.server.dig("ollama.internal.thinkheads.ai", extra=["+edns=1", "+noednsneg"])
        self.assertEqual(r.rcode, "BADVERS")

    def test_out_of_zone_name_is_refused(self):
        r = self.server.dig("example.com")
        self.assertEqual(r.rcode, "REFUSED")
        self.assertNotIn("aa", r.flags)

    def test_several_queries_on_one_tcp_connection(self):
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.server.port), "+tcp", "+keepopen", "+nocookie",
                              "ollama.internal.thinkheads.ai", "ca.internal.thinkheads.ai",
                              "portainer.internal.thinkheads.ai"], capture_output=True, text=True, timeout=20).stdout
        replies = [parse_dig(part) for part in out.split(";; ->>HEADER")[1:] for part in [";; ->>HEADER" + part]]
        self.assertEqual(len(replies), 3)
        self.assertEqual([r.rdata("A") for r in replies], [["10.0.0.155"], ["10.0.0.10"], ["10.0.0.111"]])

    def test_a_long_lived_tcp_connection_is_never_cut_off(self):
        # Like Knot, NSD (tcp-query-count 0) and BIND: no cap on queries per connection. A cap closes
        # the connection with the client's pipelined queries unanswered.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            answered = 0
            for burst in range(24):  # 24 x 500 = 12,000 queries, pipelined 500 at a time
                ids = [burst * 500 + k for k in range(500)]
                s.sendall(b"".join(struct.pack(">H", len(q)) + q for q in
                                   (dnsprobe.query("ollama.internal.thinkheads.ai", qid=i) for i in ids)))
                for i in ids:
                    r = dnsprobe.read_tcp_reply(s)
                    self.assertEqual(r.qid, i)  # in order: one coroutine per connection answers in turn
                    answered += 1
            self.assertEqual(answered, 12000)


class TruncationTest(unittest.TestCase):
    """An RRset too large for 512 bytes: TC over UDP, whole over TCP."""

    @classmethod
    def setUpClass(cls):
        def edit(files):
            recs = [{"hostname": "big", "ip_internal": f"10.0.1.{i}"} for i in range(1, 61)]
            files["phoenix_hypervisor_config.json"]["dns_server"]["authoritative_zones"].append(
                {"zone_name": "internal.thinkheads.ai", "records": recs})
        cls.server = Server(copy_inventory(EXAMPLE, edit)).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_udp_without_edns_is_truncated(self):
        r = self.server.dig("big.internal.thinkheads.ai", extra=["+noedns", "+ignore"])
        self.assertIn("tc", r.flags)
        self.assertEqual(r.answer, [])

    def test_tcp_gets_everything(self):
        r = self.server.dig("big.internal.thinkheads.ai", tcp=True)
        self.assertNotIn("tc", r.flags)
        self.assertEqual(len(r.rdata("A")), 60)

    def test_large_edns_buffer_fits_without_tc(self):
        r = self.server.dig("big.internal.thinkheads.ai", extra=["+bufsize=1232", "+ignore"])
        self.assertNotIn("tc", r.flags)
        self.assertEqual(len(r.rdata("A")), 60)


if __name__ == "__main__":
    unittest.main()
