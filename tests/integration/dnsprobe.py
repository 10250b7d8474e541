"""dnsprobe -- just enough DNS wire format to craft any query (hostile ones too) and compare replies.

Kept here rather than using a library so that tests can build packets no library would (two OPTs,
lying counts, odd opcodes) and so that the comparison sees exactly what was on the wire.
"""
import socket
import struct
import time
from dataclasses import dataclass, field

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16, "AAAA": 28,
         "SRV": 33, "OPT": 41, "DS": 43, "AXFR": 252, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
CLASSES = {"IN": 1, "CH": 3, "HS": 4, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 9: "NOTAUTH",
          16: "BADVERS"}
FLAG_BITS = [("qr", 15), ("aa", 10), ("tc", 9), ("rd", 8), ("ra", 7), ("ad", 5), ("cd", 4)]
# Types whose rdata holds names that may be compressed (RFC 1035 §4.1.4, RFC 3597 §4) or that servers
# compress anyway (SRV): decoded to text so that compression choices do not count as differences.
NAME_FIELDS = {2: "n", 5: "n", 12: "n", 6: "nn", 15: "2n", 33: "6n"}


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def opt_rr(size=1232, version=0, do=False, options=()):
    rdata = b"".join(struct.pack(">HH", code, len(data)) + data for code, data in options)
    return b"\0" + struct.pack(">HHBBHH", 41, size, 0, version, 0x8000 if do else 0, len(rdata)) + rdata


def query(name, rtype="A", rclass="IN", qid=0x5151, opcode=0, qr=False, rd=False, edns=None, qdcount=None,
          an=b"", ancount=0, ar=b"", arcount=0):
    """A query. `edns` is None or a dict of opt_rr() arguments; `ar`/`an` add raw records and counts."""
    flags = (0x8000 if qr else 0) | (opcode << 11) | (0x0100 if rd else 0)
    question = encode_name(name) + struct.pack(">HH", TYPES.get(rtype, rtype) if isinstance(rtype, str) else rtype,
                                               CLASSES[rclass] if isinstance(rclass, str) else rclass)
    extra = opt_rr(**edns) if edns is not None else b""
    counts = (1 if qdcount is None else qdcount, ancount, 0, (1 if edns is not None else 0) + arcount)
    return struct.pack(">HHHHHH", qid, flags, *counts) + question + an + extra + ar


def read_name(msg, off, lower=True):
    labels, jumps, end = [], 0, None
    while True:
        length = msg[off]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((length & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            if jumps > 64:
                raise ValueError("compression loop")
            continue
        off += 1
        if length == 0:
            break
        labels.append(msg[off:off + length].decode("latin-1"))
        off += length
    name = ".".join(labels) + "."
    return (name.lower() if lower else name), (end if end is not None else off)


def rdata_text(msg, off, rdlen, rtype):
    fields = NAME_FIELDS.get(rtype)
    if not fields:
        return msg[off:off + rdlen].hex()
    parts, o = [], off
    for f in fields:
        if f == "n":
            name, o = read_name(msg, o)
            parts.append(name)
        else:
            n = int(f)
            parts.append(msg[o:o + n].hex())
            o += n
    parts.append(msg[o:off + rdlen].hex())
    return " ".join(p for p in parts if p)


@dataclass
class Reply:
    qid: int
    rcode: str
    opcode: int
    flags: set
    question: list
    answer: set = field(default_factory=set)
    authority: set = field(default_factory=set)
    additional: set = field(default_factory=set)
    edns: dict = None  # {"size", "version", "options": [codes]} when an OPT came back
    raw: bytes = b""

    def types(self, section):
        return {r[3] for r in getattr(self, section)}


def parse(msg):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    reply = Reply(qid=qid, rcode="", opcode=(flags >> 11) & 0xF,
                  flags={n for n, bit in FLAG_BITS if flags & (1 << bit)}, question=[], raw=msg)
    off = 12
    for _ in range(qd):
        name, off = read_name(msg, off, lower=False)
        t, c = struct.unpack(">HH", msg[off:off + 4])
        off += 4
        reply.question.append((name, t, c))
    ext = 0
    for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
        for _ in range(count):
            name, off = read_name(msg, off)
            t, c, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            if t == 41:
                opts, o = [], off
                while o < off + rdlen:
                    code, olen = struct.unpack(">HH", msg[o:o + 4])
                    opts.append(code)
                    o += 4 + olen
                reply.edns = {"size": c, "version": (ttl >> 16) & 0xFF, "options": opts}
                ext = ttl >> 24
            else:
                getattr(reply, section).add((name, ttl, c, TYPE_NAMES.get(t, str(t)), rdata_text(msg, off, rdlen, t)))
            off += rdlen
    code = (ext << 4) | (flags & 0xF)
    reply.rcode = RCODES.get(code, str(code))
    return reply


def ask_udp(port, packet, timeout=2.0, host="127.0.0.1", source=None):
    """The reply to one datagram, or None if none came within `timeout`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            return None
        return parse(data)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_tcp_reply(s):
    (length,) = struct.unpack(">H", recv_exact(s, 2))
    return parse(recv_exact(s, length))


def ask_tcp(port, packets, timeout=3.0, host="127.0.0.1", split=False):
    """Sends every packet on one connection (pipelined, in one write unless `split`), returns the
    replies by query ID. `split` sends the length prefix byte by byte and the body in two segments."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if split:
            for p in packets:
                framed = struct.pack(">H", len(p)) + p
                for piece in (framed[:1], framed[1:2], framed[2:7], framed[7:]):
                    s.sendall(piece)
                    time.sleep(0.05)
        else:
            s.sendall(b"".join(struct.pack(">H", len(p)) + p for p in packets))
        replies = {}
        for _ in packets:
            r = read_tcp_reply(s)
            replies[r.qid] = r
        return replies
