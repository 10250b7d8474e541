"""NOTIFY (RFC 1996, issue 13) as the primary sends it, to a fake secondary on loopback: after a
start (so a restart notifies) every zone of a view with transfer.notify, after a reload only the
zones whose serial moved; retransmitted until acknowledged, each outcome logged. Also the view's
RFC 9432 catalog zone, served and answering dig."""
import re
import socket
import struct
import threading
import time
import unittest

from harness import Server, copy_inventory, dig
from test_reload import Flipper, reload_and_wait, wait_for

KEY_SECRET = "ypiLzrz0E9kwNXG5prjzk76f2lTc9EatxYlvYCPI7vE="
CATALOG = "catalog.internal.invalid"
INTERNAL_ZONES = {"internal.thinkheads.ai.", "phoenix.thinkheads.ai.", "0.0.10.in-addr.arpa.", CATALOG + "."}


def read_name(msg, pos):
    labels = []
    while msg[pos]:
        if msg[pos] & 0xC0 == 0xC0:
            name, _ = read_name(msg, ((msg[pos] & 0x3F) << 8) | msg[pos + 1])
            return ".".join(labels + [name.rstrip(".")]) + ".", pos + 2
        labels.append(msg[pos + 1:pos + 1 + msg[pos]].decode().lower())
        pos += 1 + msg[pos]
    return ".".join(labels) + ".", pos + 1


class FakeSecondary:
    """Receives NOTIFYs on a free loopback port; replies (NOERROR, or `rcode`) to the `ack_on`-th
    message of each zone only (0: never; -1: to every one). Remembers every message."""

    def __init__(self, ack_on=1, rcode=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.ack_on, self.rcode = ack_on, rcode
        self.lock = threading.Lock()
        self.messages = []  # dicts: zone, id, opcode, aa, qr, tsig_key, source, serial
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            qid, flags, qd, an, _ns, ar = struct.unpack("!HHHHHH", msg[:12])
            zone, pos = read_name(msg, 12)
            qend = pos + 4
            m = {"zone": zone, "id": qid, "opcode": (flags >> 11) & 0xF, "aa": bool(flags & 0x0400),
                 "qr": bool(flags & 0x8000), "source": peer[0], "tsig_key": None, "serial": None}
            pos = qend
            for i in range(an + ar):
                owner, pos = read_name(msg, pos)
                rtype, _c, _t, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
                rdata = msg[pos + 10:pos + 10 + rdlen]
                if rtype == 6:
                    _mname, p = read_name(msg, pos + 10)
                    _rname, p = read_name(msg, p)
                    m["serial"] = struct.unpack("!I", msg[p:p + 4])[0]
                if rtype == 250:
                    m["tsig_key"] = owner
                pos += 10 + rdlen
            with self.lock:
                self.messages.append(m)
                nth = sum(1 for x in self.messages if x["zone"] == zone)
            if self.ack_on == -1 or nth == self.ack_on:
                reply = bytearray(msg[:qend])
                reply[2] |= 0x80
                reply[3] = self.rcode
                reply[6:12] = b"\0" * 6
                self.sock.sendto(bytes(reply), peer)

    def of(self, zone):
        with self.lock:
            return [m for m in self.messages if m["zone"] == zone]

    def zones(self):
        with self.lock:
            return {m["zone"] for m in self.messages}

    def clear(self):
        with self.lock:
            self.messages.clear()

    def stop(self):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()


def with_notify(targets, key=False, catalog=True):
    def edit(files):
        dns = files["phoenix_hypervisor_config.json"]["dns_server"]
        if key:
            dns["tsig_keys"] = {"internal-xfr": {"algorithm": "hmac-sha256", "secret": KEY_SECRET}}
        view = dns["views"][0]
        view["transfer"] = {"allow": ["127.0.0.0/8"], "notify": targets}
        if catalog:
            view["catalog"] = CATALOG
    return edit


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def acked(server, zone):
    pat = r"notify: view internal, zone " + re.escape(zone) + r" serial \d+ to [^:]+:\d+: acknowledged"
    return len(re.findall(pat, server.output()))


class NotifyTest(unittest.TestCase):
    def test_start_reload_and_restart_notify_until_acknowledged(self):
        fake = FakeSecondary(ack_on=2)  # the first message of each zone is "lost"
        inv = copy_inventory(edit=with_notify([{"address": f"127.0.0.1:{fake.port}"}]))
        server = Server(inv).start()
        try:
            for zone in INTERNAL_ZONES:
                wait_for(lambda: acked(server, zone) == 1, timeout=15, what=f"acknowledged NOTIFY for {zone}")
            self.assertEqual(fake.zones(), INTERNAL_ZONES)  # the external view has no notify targets
            for zone in INTERNAL_ZONES:
                msgs = fake.of(zone)
                self.assertEqual(len(msgs), 2, msgs)
                self.assertEqual(msgs[0]["id"], msgs[1]["id"])  # a retransmission, not a new NOTIFY
                self.assertTrue(all(m["opcode"] == 4 and m["aa"] and not m["qr"] for m in msgs), msgs)
                self.assertIsNone(msgs[0]["tsig_key"])
                soa = dig(server.port, zone, "SOA").answer
                self.assertEqual(msgs[0]["serial"], int(soa[0][4].split()[2]))
                self.assertEqual(msgs[0]["source"], "127.0.0.1")  # the listen address
            self.assertRegex(server.output(), r"notify: view internal, zone internal\.thinkheads\.ai\. serial \d+ "
                                              r"to 127\.0\.0\.1:\d+: acknowledged \(try 2\)")

            # A reload that moves one guest changes the internal and the reverse zone only.
            fake.clear()
            fake.ack_on = 1
            Flipper(inv).put("B")
            reload_and_wait(server)
            for zone in ("internal.thinkheads.ai.", "0.0.10.in-addr.arpa."):
                wait_for(lambda: acked(server, zone) == 2, timeout=10, what=f"NOTIFY after reload for {zone}")
            time.sleep(1.5)  # a NOTIFY for an unchanged zone would have arrived by now
            self.assertEqual(fake.zones(), {"internal.thinkheads.ai.", "0.0.10.in-addr.arpa."})
            new_serial = int(dig(server.port, "internal.thinkheads.ai", "SOA").answer[0][4].split()[2])
            self.assertEqual(fake.of("internal.thinkheads.ai.")[0]["serial"], new_serial)

            # A restart notifies every zone again, so a secondary that missed something catches up.
            self.assertEqual(server.stop(), 0, server.output())
            fake.clear()
            server = Server(inv, port=server.port, state_dir=server.state_dir).start()
            for zone in INTERNAL_ZONES:
                wait_for(lambda: acked(server, zone) == 1, timeout=15, what=f"NOTIFY after restart for {zone}")
            self.assertEqual(fake.of("internal.thinkheads.ai.")[0]["serial"], new_serial)
        finally:
            server.stop()
            fake.stop()

    def test_signed_notify_needs_a_signed_acknowledgement(self):
        fake = FakeSecondary(ack_on=1)  # answers the first message, unsigned
        inv = copy_inventory(edit=with_notify([{"address": f"127.0.0.1:{fake.port}", "key": "internal-xfr"}],
                                              key=True, catalog=False))
        server = Server(inv).start()
        try:
            zone = "internal.thinkheads.ai."
            wait_for(lambda: len(fake.of(zone)) >= 2, timeout=10, what="a second NOTIFY after an unsigned reply")
            self.assertEqual(fake.of(zone)[0]["tsig_key"], "internal-xfr.")
            self.assertEqual(acked(server, zone), 0)
        finally:
            server.stop()
            fake.stop()

    def test_a_refusal_ends_the_exchange_and_is_logged(self):
        fake = FakeSecondary(ack_on=1, rcode=5)
        inv = copy_inventory(edit=with_notify([{"address": f"127.0.0.1:{fake.port}"}], catalog=False))
        server = Server(inv).start()
        try:
            zone = "internal.thinkheads.ai."
            wait_for(lambda: "refused by the secondary (REFUSED, try 1)" in server.output(), timeout=10,
                     what="the refusal in the log")
            time.sleep(1.5)  # past the first retransmission's time
            self.assertEqual(len(fake.of(zone)), 1)
        finally:
            server.stop()
            fake.stop()


class CatalogTest(unittest.TestCase):
    def test_catalog_zone_answers_dig(self):
        inv = copy_inventory(edit=with_notify([], catalog=True))
        with Server(inv) as server:
            soa = dig(server.port, CATALOG, "SOA")
            self.assertEqual(soa.rcode, "NOERROR")
            self.assertIn("aa", soa.flags)
            self.assertTrue(soa.answer[0][4].startswith("invalid. invalid. "), soa.answer)
            self.assertEqual(dig(server.port, CATALOG, "NS").rdata("NS"), ["invalid."])
            self.assertEqual(dig(server.port, "version." + CATALOG, "TXT").rdata("TXT"), ['"2"'])
            for member in ("internal.thinkheads.ai.", "phoenix.thinkheads.ai.", "0.0.10.in-addr.arpa."):
                uid = f"{fnv1a64(member.encode()):016x}"
                r = dig(server.port, f"{uid}.zones.{CATALOG}", "PTR")
                self.assertEqual(r.rdata("PTR"), [member], r.text)
            # Only the view with the catalog serves it.
            self.assertEqual(dig(server.port, CATALOG, "SOA", source="127.0.0.2").rcode, "REFUSED")


if __name__ == "__main__":
    unittest.main()
