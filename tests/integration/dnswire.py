"""dnswire -- a tiny DNS client for tests that need thousands of queries (dig per query is too slow).

Only what the tests check: build a query, and read header, question, answer rdata and the SOA serial.
"""
import socket
import struct
from dataclasses import dataclass, field

# Packet building lives in dnsprobe (one encoder for every test); this module adds the fast reader.
from dnsprobe import RCODES, query


def make_query(qid, name, rtype="A"):
    """A standard query, RD clear (we are authoritative), no EDNS."""
    return query(name, rtype, qid=qid)


def _skip_name(msg, pos):
    """Returns the position after the (possibly compressed) name at pos."""
    for _ in range(128):
        n = msg[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n
    raise ValueError("name too long")


@dataclass
class Reply:
    qid: int
    rcode: str
    question: bytes
    answers: list = field(default_factory=list)  # (type, rdata bytes)
    soa_serials: list = field(default_factory=list)  # from answer and authority

    def addresses(self):
        return sorted(socket.inet_ntoa(r) for t, r in self.answers if t == 1)

    def key(self):
        """What must be identical between two replies from the same data (serials aside)."""
        return (self.rcode, tuple(sorted(self.answers)))


def parse_reply(msg):
    qid, flags, qd, an, ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    if not flags & 0x8000:
        raise ValueError("not a response")
    pos = 12
    qstart = pos
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    reply = Reply(qid, RCODES.get(flags & 0xF, str(flags & 0xF)), msg[qstart:pos])
    for i in range(an + ns):
        pos = _skip_name(msg, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        rdata = msg[pos:pos + rdlen]
        if rtype == 6:
            # SOA rdata: mname, rname (maybe compressed), then serial first of five 32-bit fields.
            p = _skip_name(msg, _skip_name(msg, pos))
            reply.soa_serials.append(struct.unpack("!I", msg[p:p + 4])[0])
        if i < an:
            reply.answers.append((rtype, bytes(rdata)))
        pos += rdlen
    return reply


def udp_ask(port, name, rtype="A", source="127.0.0.1", timeout=3.0, qid=0x1234):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(timeout)
        q = make_query(qid, name, rtype)
        s.sendto(q, ("127.0.0.1", port))
        reply = parse_reply(s.recv(65535))
        if reply.qid != qid or reply.question != q[12:]:
            raise AssertionError("reply does not match the query")
        return reply


def tcp_frame(msg):
    return struct.pack("!H", len(msg)) + msg


def tcp_read_reply(sock):
    """Reads one length-prefixed message; None on a clean close before any byte."""
    head = _read_exact(sock, 2)
    if head is None:
        return None
    body = _read_exact(sock, struct.unpack("!H", head)[0])
    if body is None:
        raise AssertionError("connection closed in the middle of a reply")
    return parse_reply(body)


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if buf:
                raise AssertionError("connection closed in the middle of a reply")
            return None
        buf += chunk
    return buf
