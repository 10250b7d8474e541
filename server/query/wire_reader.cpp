#include "wire_reader.hpp"

#include "zones/rrset.hpp"

#include <cstring>

namespace phoenix::query {

/// Skips a possibly compressed name in a non-question section, checking it the way a decoder would:
/// RFC 1035 §4.1.4 pointers go to a *prior* occurrence, so every pointer must point before itself
/// (forward and self pointers are malformed). Any cycle left then passes at least one non-empty label,
/// so the 255-octet bound on the decoded name ends the walk after a bounded number of hops. Labels over 63
/// (the 0x40/0x80 types, RFC 6891 §5) and names over 255 octets are malformed.
bool skip_name(const uint8_t* p, size_t len, size_t& off) {
  size_t pos = off, total = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len) return false;
    uint8_t l = p[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 2 > len) return false;
      size_t target = static_cast<size_t>(((l & 0x3f) << 8) | p[pos + 1]);
      if (target >= pos || target < 12) return false;  // forward, self or into the header
      if (!jumped) off = pos + 2;                       // the name ends after its first pointer
      jumped = true;
      pos = target;
      continue;
    }
    if (l & 0xc0) return false;
    total += l + 1u;
    if (total > 255) return false;
    if (l == 0) {
      if (!jumped) off = pos + 1;
      return true;
    }
    pos += l + 1u;
  }
}

ParseStatus parse_query(const uint8_t* p, size_t len, ParsedQuery& q) noexcept {
  if (len < 12) return ParseStatus::drop;  // too short for even a header: nothing to answer
  q.id = zones::read_u16(p);
  if (p[2] & 0x80) return ParseStatus::drop;
  q.opcode = static_cast<uint8_t>((p[2] >> 3) & 0x0f);
  q.rd = p[2] & 0x01;
  q.cd = p[3] & 0x10;
  uint16_t qd = zones::read_u16(p + 4), an = zones::read_u16(p + 6), ns = zones::read_u16(p + 8), ar = zones::read_u16(p + 10);
  if (qd != 1) return q.opcode != 0 ? ParseStatus::notimp : ParseStatus::formerr;

  // The question name: no compression is possible here (nothing precedes it to point at).
  size_t off = 12, total = 0;
  for (;;) {
    if (off >= len) return ParseStatus::formerr;
    uint8_t l = p[off];
    if (l & 0xc0) return ParseStatus::formerr;
    if (total + l + 1u > 255) return ParseStatus::formerr;
    if (off + l + 1u > len) return ParseStatus::formerr;
    q.qname_orig[total] = l;
    q.qname_lower[total] = l;
    for (size_t k = 1; k <= l; ++k) {
      uint8_t c = p[off + k];
      q.qname_orig[total + k] = c;
      q.qname_lower[total + k] = (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
    }
    total += l + 1u;
    off += l + 1u;
    if (l == 0) break;
  }
  q.qname_len = total;
  if (off + 4 > len) return ParseStatus::formerr;
  q.qtype = zones::read_u16(p + off);
  q.qclass = zones::read_u16(p + off + 2);
  off += 4;
  q.have_question = true;
  if (q.opcode != 0) return ParseStatus::notimp;

  // Answer and authority sections of a query are skipped, but an OPT there is malformed (RFC 6891 §6.1.1).
  unsigned records = an + ns;
  for (unsigned i = 0; i < records + ar; ++i) {
    size_t name_start = off;
    if (!skip_name(p, len, off) || off + 10 > len) return ParseStatus::formerr;
    bool root_owner = off == name_start + 1 && p[name_start] == 0;
    uint16_t type = zones::read_u16(p + off);
    uint16_t rdlen = zones::read_u16(p + off + 8);
    const uint8_t* rr = p + off;
    off += 10;
    if (off + rdlen > len) return ParseStatus::formerr;
    if (type == 41) {
      if (i < records || q.has_edns) {
        // Wrong section, or a second OPT (RFC 6891 §6.1.1): FORMERR without OPT, since which OPT
        // speaks for the client is unknowable (Knot and NSD answer the same way).
        q.has_edns = false;
        return ParseStatus::formerr;
      }
      if (!root_owner) return ParseStatus::formerr;                 // owner must be the root
      q.has_edns = true;
      q.udp_size = zones::read_u16(rr + 2);
      q.edns_version = rr[5];
      q.do_bit = rr[6] & 0x80;
      // Options must tile the rdata exactly; their contents are ignored (unknown options too).
      size_t o = off, end = off + rdlen;
      while (o < end) {
        if (o + 4 > end) return ParseStatus::formerr;
        size_t olen = zones::read_u16(p + o + 2);
        if (o + 4 + olen > end) return ParseStatus::formerr;
        o += 4 + olen;
      }
    }
    off += rdlen;
  }
  return ParseStatus::ok;
}

}  // namespace phoenix::query
