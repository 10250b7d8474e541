"""--udp-spread: with several UDP threads, which thread reads a datagram.

On loopback the kernel receives a datagram on the sender's CPU, so a client pinned to one CPU shows
the difference: with "cpu" (the default) one thread reads all its queries whatever their source port;
with "flow" the kernel hashes each source port, and 64 different ports land on both threads.
The server logs each thread's count when it stops.
"""
import os
import re
import unittest

import dnsprobe as w
from harness import Server

FLOWS = 64


def per_thread_counts(server):
    m = re.search(r"udp: (\d+) queries, per thread: ([\d, ]+);", server.output())
    if not m:
        raise AssertionError("no per-thread line in the log:\n" + server.output())
    return [int(x) for x in m.group(2).split(",")]


@unittest.skipUnless(hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2,
                     "needs two CPUs to pin the client to one of them")
class UdpSpreadTest(unittest.TestCase):
    def ask_from_one_cpu(self, spread):
        server = Server(args=["--udp-spread", spread]).start()  # the harness runs two UDP threads
        allowed = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, {min(allowed)})
            for i in range(FLOWS):  # a new socket, so a new source port, for every query
                r = w.ask_udp(server.port, w.query("ollama.internal.thinkheads.ai", qid=i))
                self.assertIsNotNone(r)
                self.assertEqual(r.rcode, "NOERROR")
        finally:
            os.sched_setaffinity(0, allowed)
            self.assertEqual(server.stop(), 0, server.output())
        counts = per_thread_counts(server)
        self.assertEqual(len(counts), 2)
        self.assertEqual(sum(counts), FLOWS)
        return counts

    def test_cpu_spread_keeps_one_cpus_queries_on_one_thread(self):
        self.assertEqual(sorted(self.ask_from_one_cpu("cpu")), [0, FLOWS])

    def test_flow_spread_hashes_source_ports_over_both_threads(self):
        # All 64 ports hashing to one thread has probability 2^-63.
        self.assertTrue(all(c > 0 for c in self.ask_from_one_cpu("flow")))

    def test_unknown_spread_is_refused(self):
        server = Server(args=["--udp-spread", "round-robin"])
        server.start(wait=False)
        self.assertNotEqual(server.proc.wait(timeout=20), 0)
        server.stop()
        self.assertIn("round-robin", server.output())


if __name__ == "__main__":
    unittest.main()
