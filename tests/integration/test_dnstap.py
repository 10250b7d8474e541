"""test_dnstap -- query logs in dnstap: read back with BIND's dnstap-read; a stalled collector never slows answers."""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.request

from dnswire import udp_ask
from harness import Server, copy_inventory, free_port, run_binary


def varint(buf, pos):
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def fields(buf):
    """{field number: [values]} of one protobuf message (varints and length-delimited only, plus fixed32)."""
    out, pos = {}, 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = varint(buf, pos)
        elif wt == 2:
            n, pos = varint(buf, pos)
            v, pos = buf[pos:pos + n], pos + n
        elif wt == 5:
            v, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.setdefault(num, []).append(v)
    return out


def frames(path):
    """The data frames of a Frame Streams file, checking its START and STOP control frames."""
    with open(path, "rb") as f:
        data = f.read()
    pos, out, content_type, stopped = 0, [], None, False
    while pos < len(data):
        (n,) = struct.unpack_from("!I", data, pos)
        pos += 4
        if n == 0:  # control frame: length, type, fields
            (clen,) = struct.unpack_from("!I", data, pos)
            (ctype,) = struct.unpack_from("!I", data, pos + 4)
            if ctype == 2 and clen > 4:
                flen = struct.unpack_from("!I", data, pos + 12)[0]
                content_type = data[pos + 16:pos + 16 + flen].decode()
            stopped = stopped or ctype == 3
            pos += 4 + clen
        else:
            out.append(data[pos:pos + n])
            pos += n
    return content_type, stopped, out


def fetch_metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
        return r.read().decode()


def with_dnstap(**settings):
    # Rate limiting (on by default in the external view) would drop these tests' bursts of queries.
    return copy_inventory(edit=lambda f: f["phoenix_hypervisor_config.json"]["dns_server"].update(
        dnstap=settings, rate_limit={"enabled": False}))


@unittest.skipUnless(shutil.which("dnstap-read"), "dnstap-read (bind9-dnsutils) is not installed")
class DnstapFile(unittest.TestCase):
    def test_dnstap_read_shows_the_queries_and_their_views(self):
        path = os.path.join(tempfile.mkdtemp(prefix="phoenix-tap-"), "tap.fstrm")
        srv = Server(with_dnstap(file=path)).start()
        try:
            # The bundled example: 127.0.0.1 is the internal view, 127.0.0.2 the external one.
            for _ in range(3):
                self.assertEqual(udp_ask(srv.port, "ollama.internal.thinkheads.ai", source="127.0.0.1").rcode, "NOERROR")
            for _ in range(2):
                self.assertEqual(udp_ask(srv.port, "ollama.phoenix.thinkheads.ai", source="127.0.0.2").rcode, "NOERROR")
            self.assertEqual(srv.dig("nope.phoenix.thinkheads.ai", source="127.0.0.2", tcp=True).rcode, "NXDOMAIN")
            self.assertIn("dnstap: logging queries and responses to file " + path, srv.output())
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
        read = subprocess.run(["dnstap-read", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(read.returncode, 0, read.stderr)
        lines = read.stdout.splitlines()
        aq = [l for l in lines if " AQ " in l]
        ar = [l for l in lines if " AR " in l]
        self.assertEqual(len([l for l in aq if re.search(r"127\.0\.0\.1:\d+ -> \? UDP .* ollama\.internal\.thinkheads\.ai/IN/A$", l)]), 3, read.stdout)
        self.assertEqual(len([l for l in aq if re.search(r"127\.0\.0\.2:\d+ -> \? UDP .* ollama\.phoenix\.thinkheads\.ai/IN/A$", l)]), 2, read.stdout)
        self.assertEqual(len([l for l in aq if re.search(r"127\.0\.0\.2:\d+ -> \? TCP .* nope\.phoenix\.thinkheads\.ai/IN/A$", l)]), 1, read.stdout)
        self.assertEqual(len(aq), 6)
        self.assertEqual(len(ar), 6)
        yaml = subprocess.run(["dnstap-read", "-y", path], capture_output=True, text=True, timeout=30).stdout
        self.assertIn("version: phoenix-dns ", yaml)
        self.assertRegex(yaml, r"identity: \S+")
        # dnstap-read does not print the `extra` field, where the view is: read the frames ourselves.
        # Each worker thread has its own ring, so frames from different workers interleave in any
        # order: compare the multiset of (client, view), not the sequence.
        content_type, stopped, data = frames(path)
        self.assertEqual(content_type, "protobuf:dnstap.Dnstap")
        self.assertTrue(stopped, "the file ends with a STOP frame")
        views = []
        for frame in data:
            top = fields(frame)
            msg = fields(top[14][0])
            if msg[1][0] == 1:  # AUTH_QUERY
                addr = socket.inet_ntoa(msg[4][0])
                views.append((addr, top[3][0].decode()))
        self.assertEqual(sorted(views), [("127.0.0.1", "view=internal")] * 3 + [("127.0.0.2", "view=external")] * 3)

    def test_queries_only(self):
        path = os.path.join(tempfile.mkdtemp(prefix="phoenix-tap-"), "tap.fstrm")
        srv = Server(with_dnstap(file=path, responses=False)).start()
        try:
            udp_ask(srv.port, "ollama.internal.thinkheads.ai")
        finally:
            srv.stop()
        out = subprocess.run(["dnstap-read", path], capture_output=True, text=True, timeout=30).stdout
        self.assertEqual(len([l for l in out.splitlines() if " AQ " in l]), 1, out)
        self.assertNotIn(" AR ", out)

    def test_bad_settings_are_errors(self):
        for settings, message in [({"file": "relative.fstrm"}, "/dns_server/dnstap/file: \"relative.fstrm\" is not an absolute path"),
                                  ({"file": "/a", "socket": "/b"}, "/dns_server/dnstap: expected exactly one of"),
                                  ({"file": "/a", "query": True}, '/dns_server/dnstap/query: unknown key "query"')]:
            r = run_binary("--check", "--inventory", str(with_dnstap(**settings)))
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(message, r.stdout)


@unittest.skipUnless(shutil.which("dnstap-read") and shutil.which("knotd"), "needs dnstap-read and knotd")
class DnstapForwarding(unittest.TestCase):
    """A forwarded name: CLIENT_* for the client, FORWARDER_* for the exchange with the upstream (a real
    Knot on loopback); the metrics count the upstream and the cache."""

    def test_client_and_forwarder_messages(self):
        from test_forwarding import Knot
        knot = Knot()
        path = os.path.join(tempfile.mkdtemp(prefix="phoenix-tap-"), "tap.fstrm")
        mport = free_port()
        try:
            srv = Server(with_dnstap(file=path), upstreams=[knot.address],
                         args=["--metrics-listen", f"127.0.0.1:{mport}"]).start()
            try:
                for _ in range(2):  # a miss, then a cache hit
                    r = srv.dig("www.example.test", source="127.0.0.1", extra=["+rec"])
                    self.assertEqual(r.rcode, "NOERROR", r.text)
                text = fetch_metrics(mport)
            finally:
                self.assertEqual(srv.stop(), 0, srv.output())
        finally:
            knot.stop()
        out = subprocess.run(["dnstap-read", path], capture_output=True, text=True, timeout=30).stdout
        kinds = [l.split()[2] for l in out.splitlines() if "www.example.test/IN/A" in l]
        self.assertEqual(sorted(kinds), sorted(["CQ", "FQ", "FR", "CR", "CQ", "CR"]), out)
        self.assertRegex(out, rf"FQ \? -> 127\.0\.0\.1:{knot.port} UDP")
        self.assertIn(f'phoenix_dns_upstream_queries_total{{upstream="{knot.address}"}} 1', text)
        self.assertIn('phoenix_dns_cache_hits_total{transport="udp"} 1', text)
        self.assertIn('phoenix_dns_cache_misses_total{transport="udp"} 1', text)
        self.assertIn('phoenix_dns_forwarded_queries_total{view="internal",transport="udp"} 2', text)
        self.assertIn("phoenix_dns_cache_entries 1", text)


def collector_socket(timeout):
    """A unix socket a dnstap collector would listen on; the test decides what the collector does."""
    path = os.path.join(tempfile.mkdtemp(prefix="phoenix-tap-"), "tap.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(timeout)
    return path, listener


class DnstapStalledSocket(unittest.TestCase):
    def test_a_reader_that_never_reads_does_not_slow_answers(self):
        path, listener = collector_socket(0.01)
        accepted = []
        mport = free_port()
        srv = Server(with_dnstap(socket=path), args=["--metrics-listen", f"127.0.0.1:{mport}"]).start()
        try:
            worst, n = 0.0, 400
            for i in range(n):
                try:
                    accepted.append(listener.accept()[0])  # accepted, never read from
                except socket.timeout:
                    pass
                t0 = time.monotonic()
                src = "127.0.0.1" if i % 2 else "127.0.0.2"
                name = "ollama.internal.thinkheads.ai" if i % 2 else "ollama.phoenix.thinkheads.ai"
                self.assertEqual(udp_ask(srv.port, name, source=src, timeout=2).rcode, "NOERROR")
                worst = max(worst, time.monotonic() - t0)
            print(f"\nstalled dnstap reader: {n} queries, slowest answer {worst * 1000:.1f} ms, "
                  f"{len(accepted)} connections accepted")
            # The writer waits up to a second on the handshake; the answers never wait on it.
            self.assertLess(worst, 0.5)
            self.assertGreater(len(accepted), 0, "the server never connected")
            text = fetch_metrics(mport)
            dropped = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                          if l.startswith("phoenix_dns_dnstap_dropped_total{"))
            self.assertGreaterEqual(dropped, n, text)  # every query and reply, none written
            self.assertIn("phoenix_dns_dnstap_messages_total 0", text)
        finally:
            rc = srv.stop()
            for s in accepted:
                s.close()
            listener.close()
        self.assertEqual(rc, 0, srv.output())
        self.assertIn("dnstap: cannot open socket " + path, srv.output())


    def test_a_reader_that_stops_reading_after_the_handshake(self):
        """The stream is up, then the collector stops reading: the writer's sends time out, the rings fill
        and drop (counted), and the answers do not notice."""
        path, listener = collector_socket(10)
        mport = free_port()
        srv = Server(with_dnstap(socket=path), args=["--metrics-listen", f"127.0.0.1:{mport}"]).start()
        conn = None
        try:
            conn, _ = listener.accept()
            conn.settimeout(5)

            def control():
                head = conn.recv(8, socket.MSG_WAITALL)
                escape, length = struct.unpack("!II", head)
                self.assertEqual(escape, 0)
                body = conn.recv(length, socket.MSG_WAITALL)
                return struct.unpack_from("!I", body)[0]

            self.assertEqual(control(), 4)  # READY
            ct = b"protobuf:dnstap.Dnstap"
            conn.sendall(struct.pack("!IIIII", 0, 12 + len(ct), 1, 1, len(ct)) + ct)  # ACCEPT
            self.assertEqual(control(), 2)  # START; from here on nothing is read
            worst, n, sent = 0.0, 3000, 0
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                from dnswire import make_query, parse_reply
                for burst in range(n // 50):
                    t0 = time.monotonic()
                    for k in range(50):
                        s.sendto(make_query(burst * 50 + k, "ollama.internal.thinkheads.ai"), ("127.0.0.1", srv.port))
                    for k in range(50):
                        self.assertEqual(parse_reply(s.recv(4096)).rcode, "NOERROR")
                        sent += 1
                    worst = max(worst, time.monotonic() - t0)
            text = fetch_metrics(mport)
            ring_full = [float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                         if l.startswith('phoenix_dns_dnstap_dropped_total{reason="ring_full"}')][0]
            print(f"\nstalled after handshake: {sent} answers, slowest burst of 50 {worst * 1000:.1f} ms, "
                  f"{ring_full:.0f} messages dropped on full rings")
            self.assertEqual(sent, n)
            self.assertLess(worst, 0.5)
            self.assertGreater(ring_full, 0, text)
        finally:
            rc = srv.stop()
            if conn:
                conn.close()
            listener.close()
        self.assertEqual(rc, 0, srv.output())



if __name__ == "__main__":
    unittest.main()
