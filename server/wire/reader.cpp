#include "reader.hpp"

#include <cstring>

namespace phoenix::wire {

ParseStatus parse_query(const uint8_t* p, size_t len, ParsedQuery& q) noexcept {
  q.have_question = q.has_edns = q.do_bit = false;
  q.udp_size = kMinUdpPayload;
  q.edns_version = 0;
  q.edns_options_at = q.edns_options_len = q.other_records = 0;
  q.cookie_len = 0;
  if (len < kHeaderSize) return ParseStatus::drop;  // too short for even a header: nothing to answer
  q.id = read_u16(p);
  if (p[2] & flags1::QR) return ParseStatus::drop;
  q.opcode = opcode_of(p);
  q.rd = p[2] & flags1::RD;
  q.cd = p[3] & flags2::CD;
  const uint16_t qd = count(p, Count::question), an = count(p, Count::answer), ns = count(p, Count::authority),
                 ar = count(p, Count::additional);
  if (qd != 1) return q.opcode != opcode::QUERY ? ParseStatus::notimp : ParseStatus::formerr;

  size_t off = kHeaderSize;
  q.qname_len = read_uncompressed_name(p, len, off, q.qname_orig, q.qname_lower);
  if (q.qname_len == 0 || off + 4 > len) return ParseStatus::formerr;
  q.qtype = read_u16(p + off);
  q.qclass = read_u16(p + off + 2);
  off += 4;
  q.have_question = true;
  if (q.opcode != opcode::QUERY) return ParseStatus::notimp;

  // Answer and authority sections of a query are skipped, but an OPT there is malformed (RFC 6891 §6.1.1).
  const unsigned records = an + ns;
  RecordReader rr(p, len, off);
  for (unsigned i = 0; i < records + ar; ++i) {
    Record r;
    if (!rr.next(r)) return ParseStatus::formerr;
    if (r.type != zones::rrtype::OPT) {
      ++q.other_records;
      continue;
    }
    if (i < records || q.has_edns) {
      // Wrong section, or a second OPT (RFC 6891 §6.1.1): FORMERR without OPT, since which OPT
      // speaks for the client is unknowable (Knot and NSD answer the same way).
      q.has_edns = false;
      return ParseStatus::formerr;
    }
    if (r.fixed != r.owner + 1 || p[r.owner] != 0) return ParseStatus::formerr;  // owner must be the root
    q.has_edns = true;
    q.udp_size = r.rrclass;
    q.edns_version = static_cast<uint8_t>(r.ttl >> 16);
    q.do_bit = r.ttl & 0x8000;
    // Options must tile the rdata exactly; which ones change the answer is for the stages to say.
    OptionReader options(p + r.rdata, r.rdlen);
    for (EdnsOption o; options.next(o);) {
      if (o.code != edns_option::COOKIE || q.cookie_len) continue;
      // RFC 7873 §5.2.2: a client cookie alone (8 octets) or with a server cookie of 8..32.
      if (o.len != 8 && (o.len < 16 || o.len > 40)) return ParseStatus::formerr;
      std::memcpy(q.cookie, o.data, o.len);
      q.cookie_len = static_cast<uint8_t>(o.len);
    }
    if (!options.ok()) return ParseStatus::formerr;
    q.edns_options_at = static_cast<uint32_t>(r.rdata);
    q.edns_options_len = r.rdlen;
  }
  return ParseStatus::ok;
}

}  // namespace phoenix::wire
