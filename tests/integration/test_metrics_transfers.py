"""test_metrics_transfers -- the transfer, NOTIFY and TSIG families of /metrics (issue 16) against what
the test itself did: kdig and dig transfer zones (AXFR, IXFR over TCP and UDP, unsigned, with the
view's key and with a wrong one), phoenix-dns notifies three peers the test runs (one acknowledges
the second try, one refuses, one never answers), and every count read back is the exact number of
things the test caused; promtool accepts the whole exposition."""
import json
import re
import shutil
import socket
import subprocess
import unittest
from pathlib import Path

import dnsprobe
from harness import Server, copy_inventory, dig, fetch, free_port, promtool_check, samples
from test_notify import FakeSecondary
from test_reload import Flipper, reload_and_wait, wait_for

KEY = ("internal-xfr", "hmac-sha256", "q8bAy2Z4aDcO8vaJDHDp6Ehf5rb9wT1bS1+q0t5K3zA=")
WRONG_SECRET = "AAAAy2Z4aDcO8vaJDHDp6Ehf5rb9wT1bS1+q0t5K3zA="
ZONE = "internal.thinkheads.ai"
INTERNAL_ZONES = ["internal.thinkheads.ai.", "phoenix.thinkheads.ai.", "0.0.10.in-addr.arpa."]
CHANGED = ["internal.thinkheads.ai.", "0.0.10.in-addr.arpa."]  # what Flipper's "B" moves


def configure(targets):
    """The example's internal view: selected by its key too, transfers to 127.0.0.1 unsigned and to
    the key from anywhere, NOTIFY to `targets` (host:port strings)."""
    def edit(files):
        dns = files["phoenix_hypervisor_config.json"]["dns_server"]
        dns["tsig_keys"] = {KEY[0]: {"algorithm": KEY[1], "secret": KEY[2]}}
        view = dns["views"][0]
        view["match_keys"] = [KEY[0]]
        view["transfer"] = {"allow": ["127.0.0.1/32", "key:" + KEY[0]],
                            "notify": [{"address": t} for t in targets]}
    return edit


def rewrite(inv, edit):
    files = {f.name: json.loads(f.read_text()) for f in Path(inv).glob("*.json")}
    edit(files)
    path = Path(inv) / "phoenix_hypervisor_config.json"
    path.write_text(json.dumps(files[path.name], indent=2))


class SilentPeer:
    """A bound UDP socket that never reads: NOTIFYs to it are never answered (and no ICMP comes back)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def stop(self):
        self.sock.close()


@unittest.skipUnless(shutil.which("kdig") and shutil.which("promtool"), "needs knot-dnsutils and prometheus")
class TransferNotifyTsigMetrics(unittest.TestCase):
    def setUp(self):
        self.acker = FakeSecondary(ack_on=2)  # the first message of each zone is "lost": one retry each
        self.refuser = FakeSecondary(ack_on=1, rcode=5)
        self.silent = SilentPeer()
        self.targets = {name: f"127.0.0.1:{peer.port}"
                        for name, peer in (("acker", self.acker), ("refuser", self.refuser), ("silent", self.silent))}
        self.inv = copy_inventory(edit=configure(self.targets.values()))
        self.mport = free_port()
        self.server = Server(self.inv, args=["--metrics-listen", f"127.0.0.1:{self.mport}"]).start()
        self.sent = {}  # (type, zone) -> [messages, bytes] as kdig reports them

    def tearDown(self):
        self.server.stop()
        for peer in (self.acker, self.refuser, self.silent):
            peer.stop()
        shutil.rmtree(self.inv, ignore_errors=True)

    def kdig(self, zone, rtype, *extra, source="127.0.0.1", key=None, count_as=None):
        cmd = ["kdig", "@127.0.0.1", "-p", str(self.server.port), "-b", source, "+time=3", "+retry=0", zone, rtype]
        if key:
            cmd[1:1] = ["-y", key]
        out = subprocess.run(cmd + list(extra), capture_output=True, text=True, timeout=20)
        text = out.stdout + out.stderr
        if count_as:
            m = re.search(r";; Received (\d+) B \((\d+) messages?", text)
            self.assertTrue(m, text)
            cell = self.sent.setdefault((count_as, zone.rstrip(".") + "."), [0, 0])
            cell[0] += int(m.group(2))
            cell[1] += int(m.group(1))
        return text

    def serial(self, zone):
        return int(dig(self.server.port, zone, "SOA").answer[0][4].split()[2])

    def test_every_count_is_what_the_test_did(self):
        good = f"{KEY[1]}:{KEY[0]}:{KEY[2]}"
        bad = f"{KEY[1]}:{KEY[0]}:{WRONG_SECRET}"
        old_serial = self.serial(ZONE)

        # AXFR: unsigned from the listed address, and signed from an address of the other view (the key
        # selects the view); both streamed whole.
        self.assertIn("ollama.internal.thinkheads.ai.", self.kdig(ZONE, "AXFR", count_as="axfr"))
        self.assertIn("ollama.internal.thinkheads.ai.", self.kdig(ZONE, "AXFR", source="127.0.0.9", key=good,
                                                                  count_as="axfr"))
        # A wrong secret: BADSIG, before any view is chosen (no transfer counted); an unknown key: BADKEY.
        self.assertIn("BADSIG", self.kdig(ZONE, "AXFR", key=bad))
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.server.port), "+tries=1", "+time=2", "-y",
                              f"hmac-sha256:nokey:{WRONG_SECRET}", "ollama." + ZONE, "A"],
                             capture_output=True, text=True, timeout=15).stdout
        self.assertIn("BADKEY", out)
        # Unsigned from the external view, which allows no transfers: refused there. A name that is no
        # zone of the internal view: NOTAUTH.
        self.assertIn("REFUSED", self.kdig("phoenix.thinkheads.ai", "AXFR", source="127.0.0.9"))
        self.assertIn("NOTAUTH", self.kdig("nosuch.example", "AXFR"))

        # IXFR over TCP: a serial the history lacks (AXFR form), the current one (the SOA alone).
        self.kdig(ZONE, "IXFR=1", count_as="ixfr")
        self.kdig(ZONE, f"IXFR={old_serial}", count_as="ixfr")
        # Over UDP: up to date; signed without EDNS the zone does not fit 512 octets: the SOA alone.
        self.kdig(ZONE, f"IXFR={old_serial}", "+notcp", count_as="ixfr_udp")
        self.assertEqual(self.kdig(ZONE, "IXFR=1", "+notcp", "+noedns", key=good, count_as="ixfr_udp")
                         .count("\tSOA\t"), 1)

        # Start-up NOTIFY, three zones to each peer: the acker after one retry, the refuser at once,
        # the silent one given up after the last of five tries (1+2+4+8+16 s).
        for zone in INTERNAL_ZONES:
            wait_for(lambda: len(self.acker.of(zone)) == 2, timeout=15, what=f"the acknowledged retry of {zone}")
        wait_for(lambda: self.server.output().count("no acknowledgement after 5 tries") == 3, timeout=45,
                 what="NOTIFY to the silent peer given up")

        # A reload moves one guest (two zones change) and drops the refuser and the silent peer: only
        # the acker hears of it, and acknowledges at once.
        self.acker.clear()
        self.acker.ack_on = 1
        rewrite(self.inv, configure([self.targets["acker"]]))
        Flipper(self.inv).put("B")
        reload_and_wait(self.server)
        for zone in CHANGED:
            wait_for(lambda: len(self.acker.of(zone)) == 1 and
                     f"zone {zone} serial {self.serial(zone)} to {self.targets['acker']}: acknowledged" in
                     self.server.output(), timeout=15, what=f"NOTIFY after the reload for {zone}")
        # Now the history reaches back to the old serial: a difference sequence, signed over TCP, and
        # over UDP (a small one, it fits).
        self.assertIn("10.0.0.156", self.kdig(ZONE, f"IXFR={old_serial}", key=good, source="127.0.0.9",
                                              count_as="ixfr"))
        self.assertIn("10.0.0.156", self.kdig(ZONE, f"IXFR={old_serial}", "+notcp", count_as="ixfr_udp"))

        # Incoming NOTIFY, two over UDP and one over TCP: refused (we are the primary).
        notify = dnsprobe.query(ZONE, "SOA", opcode=4)
        for _ in range(2):
            self.assertEqual(dnsprobe.ask_udp(self.server.port, notify).rcode, "REFUSED")
        self.assertEqual(dnsprobe.ask_tcp(self.server.port, [notify])[0x5151].rcode, "REFUSED")

        status, _, text = fetch(self.mport)
        self.assertEqual(status, 200)
        ok, why = promtool_check(text)
        self.assertTrue(ok, why)
        self.check_transfers(text)
        self.check_notify(text)
        self.check_tsig(text)

    def check_transfers(self, text):
        t = samples(text, "phoenix_dns_transfers_total")
        z = f'view="internal",zone="{ZONE}.",'
        want = {
            ("axfr", "axfr", "ok"): 2,
            ("ixfr", "axfr", "ok"): 1, ("ixfr", "up_to_date", "ok"): 1, ("ixfr", "incremental", "ok"): 1,
            ("ixfr_udp", "up_to_date", "ok"): 1, ("ixfr_udp", "soa_only", "ok"): 1,
            ("ixfr_udp", "incremental", "ok"): 1,
            ("ixfr_udp", "axfr", "ok"): 0,  # shown (the view allows transfers), never happened
        }
        for (typ, form, result), n in want.items():
            key = "{" + z + f'type="{typ}",form="{form}",result="{result}"' + "}"
            self.assertEqual(t.get(key), n, key)
        # Everything counted for the zone is listed above.
        self.assertEqual(sum(v for k, v in t.items() if z in k), sum(want.values()), t)
        self.assertEqual(t['{view="external",zone="phoenix.thinkheads.ai.",type="axfr",form="none",result="refused"}'], 1)
        self.assertEqual(t['{view="internal",zone="none",type="axfr",form="none",result="notauth"}'], 1)
        self.assertEqual(sum(t.values()), sum(want.values()) + 2, t)  # the BADSIG request never reached a view

        # Messages and octets: what kdig says it received, per type.
        msgs = samples(text, "phoenix_dns_transfer_messages_total")
        octets = samples(text, "phoenix_dns_transfer_bytes_total")
        for (typ, zone), (m, b) in self.sent.items():
            key = f'{{view="internal",zone="{zone}",type="{typ}"}}'
            self.assertEqual((msgs[key], octets[key]), (m, b), key)
        self.assertEqual(sum(msgs.values()), sum(m for m, _ in self.sent.values()))

        # Durations: one observation per TCP transfer.
        h = "phoenix_dns_transfer_duration_seconds"
        for typ, n in (("axfr", 2), ("ixfr", 3)):
            labels = f'{{view="internal",zone="{ZONE}.",type="{typ}"}}'
            self.assertEqual(samples(text, h + "_count")[labels], n)
            self.assertEqual(samples(text, h + "_bucket")[labels[:-1] + ',le="+Inf"}'], n)
            self.assertGreater(samples(text, h + "_sum")[labels], 0)
            self.assertLess(samples(text, h + "_sum")[labels], 20)

    def check_notify(self, text):
        def tally(family, peer, zone):
            return samples(text, f"phoenix_dns_notify_{family}_total").get(
                f'{{view="internal",zone="{zone}",target="{self.targets[peer]}"}}')

        for zone in INTERNAL_ZONES:
            changed = zone in CHANGED
            with self.subTest(zone=zone):
                # The acker: every exchange acknowledged; one retry (at start-up).
                self.assertEqual(tally("sent", "acker", zone), 2 if changed else 1)
                self.assertEqual(tally("retries", "acker", zone), 1)
                self.assertEqual(tally("acknowledged", "acker", zone), 2 if changed else 1)
                self.assertEqual(tally("failed", "acker", zone), 0)
                # The refuser: refused once, never sent again.
                self.assertEqual(tally("sent", "refuser", zone), 1)
                self.assertEqual(tally("rejected", "refuser", zone), 1)
                self.assertEqual(tally("retries", "refuser", zone), 0)
                # The silent peer: five tries, then given up.
                self.assertEqual(tally("sent", "silent", zone), 1)
                self.assertEqual(tally("retries", "silent", zone), 4)
                self.assertEqual(tally("failed", "silent", zone), 1)
                self.assertEqual(tally("acknowledged", "silent", zone), 0)
                for peer in self.targets:
                    self.assertEqual(tally("superseded", peer, zone), 0)
        self.assertEqual(len(samples(text, "phoenix_dns_notify_sent_total")), 3 * len(INTERNAL_ZONES))
        refused = samples(text, "phoenix_dns_notify_incoming_refused_total")
        self.assertEqual((refused['{transport="udp"}'], refused['{transport="tcp"}']), (2, 1))

    def check_tsig(self, text):
        accepted = samples(text, "phoenix_dns_tsig_accepted_total")
        # TCP: the signed AXFR and the signed incremental IXFR; UDP: the signed IXFR without EDNS.
        self.assertEqual(accepted['{transport="tcp",key="internal-xfr"}'], 2)
        self.assertEqual(accepted['{transport="udp",key="internal-xfr"}'], 1)
        failures = samples(text, "phoenix_dns_tsig_failures_total")
        want = {("tcp", "BADSIG"): 1, ("udp", "BADKEY"): 1}
        for transport in ("udp", "tcp"):
            for error in ("BADKEY", "BADSIG", "BADTIME", "BADTRUNC", "FORMERR"):
                self.assertEqual(failures[f'{{transport="{transport}",error="{error}"}}'],
                                 want.get((transport, error), 0), (transport, error))


if __name__ == "__main__":
    unittest.main()
