#include "message.hpp"

#include <algorithm>
#include <cstring>

#include "server/wire/query_builder.hpp"
#include "server/wire/writer.hpp"

namespace phoenix::forward {
namespace {

using zones::rrtype::OPT;
using zones::rrtype::SOA;

}  // namespace

Question question_of(const wire::ParsedQuery& q) {
  Question out;
  out.qname.assign(reinterpret_cast<const char*>(q.qname_lower), q.qname_len);
  out.qtype = q.qtype;
  out.qclass = q.qclass;
  out.do_bit = q.do_bit;
  out.cd = q.cd;
  return out;
}

size_t make_key(horizon::ViewId view, const uint8_t* qname_lower, size_t qname_len, uint16_t qtype, uint16_t qclass,
                bool do_bit, bool cd, uint8_t* buf) noexcept {
  wire::write_u16(buf, view);
  std::memcpy(buf + 2, qname_lower, qname_len);
  wire::write_u16(buf + 2 + qname_len, qtype);
  wire::write_u16(buf + 2 + qname_len + 2, qclass);
  buf[2 + qname_len + 4] = static_cast<uint8_t>((do_bit ? 1 : 0) | (cd ? 2 : 0));
  return 2 + qname_len + 5;
}

std::string make_key(const Question& q, horizon::ViewId view) {
  uint8_t buf[kMaxKey];
  size_t n = make_key(view, reinterpret_cast<const uint8_t*>(q.qname.data()), q.qname.size(), q.qtype, q.qclass,
                      q.do_bit, q.cd, buf);
  return std::string(reinterpret_cast<const char*>(buf), n);
}

std::vector<uint8_t> build_upstream_query(const Question& q, uint16_t id, uint16_t payload) {
  wire::QuerySpec spec;
  spec.qname = q.qname;
  spec.qtype = q.qtype;
  spec.qclass = q.qclass;
  spec.id = id;
  spec.rd = true;  // the upstream resolves for us
  spec.cd = q.cd;
  spec.edns_payload = payload;
  spec.do_bit = q.do_bit;
  return wire::write_query(spec);
}

ReplyCheck check_reply(const uint8_t* p, size_t len, const Question& q, uint16_t id,
                       const horizon::ForwardSettings& limits, Clock::time_point now, Answer& out) {
  // Only a response to our ID, with our one question, is ours (RFC 5452 §4.3); anything else could
  // be a spoofing attempt or a late reply to an earlier query, and is ignored.
  using wire::Count;
  if (len < wire::kHeaderSize || wire::read_u16(p) != id || !(p[2] & wire::flags1::QR)) return ReplyCheck::mismatch;
  if (wire::opcode_of(p) != wire::opcode::QUERY || wire::count(p, Count::question) != 1) return ReplyCheck::mismatch;
  size_t off = wire::kHeaderSize;
  if (!wire::name_equals(p, len, off, reinterpret_cast<const uint8_t*>(q.qname.data())) ||
      !wire::skip_name(p, len, off))
    return ReplyCheck::mismatch;
  if (off + 4 > len || wire::read_u16(p + off) != q.qtype || wire::read_u16(p + off + 2) != q.qclass)
    return ReplyCheck::mismatch;
  off += 4;
  if (p[2] & wire::flags1::TC) return ReplyCheck::truncated;

  const uint8_t rcode = wire::rcode_of(p);
  const unsigned an = wire::count(p, Count::answer), ns = wire::count(p, Count::authority),
                 ar = wire::count(p, Count::additional);
  std::vector<uint16_t> ttl_offsets;
  ttl_offsets.reserve(an + ns + ar);
  size_t opt_start = 0;
  bool have_soa = false;
  uint32_t soa_ttl = 0;
  wire::RecordReader records(p, len, off);
  for (unsigned i = 0; i < an + ns + ar; ++i) {
    wire::Record r;
    if (!records.next(r)) return ReplyCheck::malformed;
    if (r.type == OPT) {
      // The upstream's OPT is about the upstream hop only; it must be the last record so that removing
      // it cannot break a compression pointer behind it.
      if (i < an + ns || i + 1 != an + ns + ar || opt_start) return ReplyCheck::malformed;
      if (r.ttl >> 24 != 0) return ReplyCheck::failed;  // an extended rcode (BADVERS, ...)
      opt_start = r.owner;
    } else {
      if (r.type == SOA && i >= an && i < an + ns && r.rdlen >= 20) {
        // RFC 2308 §5: a negative answer lives for min(SOA TTL, SOA MINIMUM).
        uint32_t minimum = wire::read_u32(p + r.end() - 4);
        soa_ttl = std::min(r.ttl, minimum);
        have_soa = true;
      }
      ttl_offsets.push_back(static_cast<uint16_t>(r.ttl_offset()));
    }
  }
  if (records.offset() != len) return ReplyCheck::malformed;
  if (rcode != wire::rcode::NOERROR && rcode != wire::rcode::NXDOMAIN) return ReplyCheck::failed;

  out.wire.assign(p, p + (opt_start ? opt_start : len));
  if (opt_start) wire::set_count(out.wire.data(), Count::additional, static_cast<uint16_t>(ar - 1));
  out.body_at = static_cast<uint16_t>(wire::kHeaderSize + q.qname.size() + 4);
  out.ttl_offsets = std::move(ttl_offsets);
  out.rcode = rcode;
  out.ad = p[3] & wire::flags2::AD;
  // The header keeps what belongs to the answer; the rest is each client's (write_stored_reply). AD
  // only for clients that showed they understand it (RFC 6840 §5.8): DO is part of the cache key.
  wire::write_u16(out.wire.data(), 0);
  out.wire[2] = 0;  // QR, opcode, RD: the client's; AA never for forwarded data; TC was refused above
  out.wire[3] = static_cast<uint8_t>(rcode | (out.ad && q.do_bit ? wire::flags2::AD : 0));
  out.negative = rcode == wire::rcode::NXDOMAIN || an == 0;
  out.stored = now;
  // RFC 2181 §8: a TTL with the top bit set means zero. Caps keep one odd record from pinning an entry.
  const uint32_t cap = out.negative ? limits.cache_max_negative_ttl : limits.cache_max_ttl;
  uint32_t lifetime = cap;
  for (uint16_t at : out.ttl_offsets) {
    uint32_t t = wire::read_u32(out.wire.data() + at);
    if (t & 0x80000000u) t = 0;
    uint16_t type = wire::read_u16(out.wire.data() + at - 4);
    if (type == SOA && have_soa && t > soa_ttl) t = soa_ttl;
    t = std::min(t, cap);
    wire::write_u32(out.wire.data() + at, t);
    lifetime = std::min(lifetime, t);
  }
  // RFC 2308 §5: negative answers without an SOA are not cached. Neither is an empty answer.
  if (out.ttl_offsets.empty() || (out.negative && !have_soa)) lifetime = 0;
  out.lifetime = lifetime;
  return ReplyCheck::ok;
}

query::StoredReply stored_reply(const Answer& a, uint32_t age) noexcept {
  return query::StoredReply{a.wire.data(), a.wire.data() + a.body_at, a.wire.size() - a.body_at, a.ttl_offsets, age,
                            /*truncate=*/true};
}

uint32_t age_of(const Answer& a, Clock::time_point now) noexcept {
  return now <= a.stored ? 0 : static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - a.stored).count());
}

size_t write_client_reply(const Answer& a, const wire::ParsedQuery& q, uint32_t elapsed, uint8_t* out,
                          size_t limit) noexcept {
  // The client's question takes the place of the upstream's: same name (maybe other case), so the
  // same length, and every compression pointer in the copied sections still lands where it did.
  if (a.body_at < wire::kHeaderSize || a.body_at != wire::kHeaderSize + q.qname_len + 4 || a.wire.size() < a.body_at)
    return 0;
  // RA: we recurse for this view.
  const query::PrecompiledInput in{q, horizon::kNoView, wire::reply_flags1(q, false), wire::reply_flags2(q, 0, true),
                                   limit};
  return query::write_stored_reply(stored_reply(a, elapsed), in, out);
}

size_t write_servfail(const wire::ParsedQuery& q, uint8_t* out, size_t limit) noexcept {
  return wire::write_error_reply(q, wire::rcode::SERVFAIL, wire::ede::NO_REACHABLE_AUTHORITY, true, out, limit);
}

size_t write_refused(const wire::ParsedQuery& q, int ede, uint8_t* out, size_t limit) noexcept {
  return wire::write_error_reply(q, wire::rcode::REFUSED, ede, true, out, limit);
}

}  // namespace phoenix::forward
