#include "message.hpp"

#include "zones/rrset.hpp"

#include <algorithm>
#include <cstring>

#include "server/query/processor.hpp"

namespace phoenix::forward {
namespace {


constexpr uint16_t kTypeOpt = 41, kTypeSoa = 6;
constexpr uint8_t kRcodeNoerror = 0, kRcodeNxdomain = 3;

/// Skips a possibly compressed name. A pointer ends the name, so this reads each octet at most once.
bool skip_name(const uint8_t* p, size_t len, size_t& off) {
  size_t total = 0;
  while (off < len) {
    uint8_t l = p[off];
    if ((l & 0xc0) == 0xc0) {
      if (off + 2 > len) return false;
      off += 2;
      return true;
    }
    if (l & 0xc0) return false;
    ++off;
    if (l == 0) return true;
    total += l + 1u;
    off += l;
    if (total > 255) return false;
  }
  return false;
}

/// The OPT we append to replies for EDNS clients; `ede` >= 0 adds an Extended DNS Error (RFC 8914).
size_t put_opt(uint8_t* p, bool do_bit, int ede) {
  p[0] = 0;
  zones::write_u16(p + 1, kTypeOpt);
  zones::write_u16(p + 3, query::kOurPayload);
  p[5] = 0;
  p[6] = 0;
  p[7] = do_bit ? 0x80 : 0;
  p[8] = 0;
  zones::write_u16(p + 9, static_cast<uint16_t>(ede >= 0 ? 6 : 0));
  if (ede < 0) return 11;
  zones::write_u16(p + 11, 15);
  zones::write_u16(p + 13, 2);
  zones::write_u16(p + 15, static_cast<uint16_t>(ede));
  return 17;
}

/// Header and the client's own question; the caller sets counts beyond QDCOUNT.
size_t put_header_question(const query::ParsedQuery& q, uint8_t flags2, uint8_t* out) {
  std::memset(out, 0, 12);
  zones::write_u16(out, q.id);
  out[2] = static_cast<uint8_t>(0x80 | (q.rd ? 0x01 : 0));
  out[3] = flags2;
  zones::write_u16(out + 4, 1);
  std::memcpy(out + 12, q.qname_orig, q.qname_len);
  zones::write_u16(out + 12 + q.qname_len, q.qtype);
  zones::write_u16(out + 14 + q.qname_len, q.qclass);
  return 16 + q.qname_len;
}

/// An error or truncated reply: header, question, and OPT for EDNS clients.
size_t write_empty(const query::ParsedQuery& q, uint8_t flags2, bool tc, int ede, uint8_t* out, size_t limit) {
  size_t need = 16 + q.qname_len + (q.has_edns ? (ede >= 0 ? 17 : 11) : 0);
  if (need > limit) return 0;
  size_t n = put_header_question(q, flags2, out);
  if (tc) out[2] |= 0x02;
  if (q.has_edns) {
    n += put_opt(out + n, q.do_bit, ede);
    zones::write_u16(out + 10, 1);
  }
  return n;
}

}  // namespace

Question question_of(const query::ParsedQuery& q) {
  Question out;
  out.qname.assign(reinterpret_cast<const char*>(q.qname_lower), q.qname_len);
  out.qtype = q.qtype;
  out.qclass = q.qclass;
  out.do_bit = q.do_bit;
  out.cd = q.cd;
  return out;
}

size_t make_key(const uint8_t* qname_lower, size_t qname_len, uint16_t qtype, uint16_t qclass, bool do_bit, bool cd,
                uint8_t* buf) noexcept {
  std::memcpy(buf, qname_lower, qname_len);
  zones::write_u16(buf + qname_len, qtype);
  zones::write_u16(buf + qname_len + 2, qclass);
  buf[qname_len + 4] = static_cast<uint8_t>((do_bit ? 1 : 0) | (cd ? 2 : 0));
  return qname_len + 5;
}

std::string make_key(const Question& q) {
  uint8_t buf[kMaxKey];
  size_t n = make_key(reinterpret_cast<const uint8_t*>(q.qname.data()), q.qname.size(), q.qtype, q.qclass, q.do_bit,
                      q.cd, buf);
  return std::string(reinterpret_cast<const char*>(buf), n);
}

std::vector<uint8_t> build_upstream_query(const Question& q, uint16_t id, uint16_t payload) {
  std::vector<uint8_t> m(12 + q.qname.size() + 4 + 11);
  zones::write_u16(m.data(), id);
  m[2] = 0x01;                  // RD: the upstream resolves for us
  m[3] = q.cd ? 0x10 : 0x00;
  zones::write_u16(m.data() + 4, 1);
  zones::write_u16(m.data() + 10, 1);
  std::memcpy(m.data() + 12, q.qname.data(), q.qname.size());
  size_t off = 12 + q.qname.size();
  zones::write_u16(m.data() + off, q.qtype);
  zones::write_u16(m.data() + off + 2, q.qclass);
  off += 4;
  m[off] = 0;
  zones::write_u16(m.data() + off + 1, kTypeOpt);
  zones::write_u16(m.data() + off + 3, payload);
  m[off + 5] = 0;
  m[off + 6] = 0;
  m[off + 7] = q.do_bit ? 0x80 : 0;
  m[off + 8] = 0;
  zones::write_u16(m.data() + off + 9, 0);
  return m;
}

ReplyCheck check_reply(const uint8_t* p, size_t len, const Question& q, uint16_t id,
                       const horizon::ForwardSettings& limits, Clock::time_point now, Answer& out) {
  // Only a response to our ID, with our one question, is ours (RFC 5452 §4.3); anything else could
  // be a spoofing attempt or a late reply to an earlier query, and is ignored.
  if (len < 12 || zones::read_u16(p) != id || !(p[2] & 0x80)) return ReplyCheck::mismatch;
  if (((p[2] >> 3) & 0x0f) != 0 || zones::read_u16(p + 4) != 1) return ReplyCheck::mismatch;
  size_t off = 12;
  for (size_t i = 0;; ) {
    if (off >= len || i >= q.qname.size()) return ReplyCheck::mismatch;
    uint8_t l = p[off];
    if (l != static_cast<uint8_t>(q.qname[i]) || off + 1 + l > len) return ReplyCheck::mismatch;
    for (size_t k = 1; k <= l; ++k)
      if (zones::lower_octet(p[off + k]) != static_cast<uint8_t>(q.qname[i + k])) return ReplyCheck::mismatch;
    off += l + 1u;
    i += l + 1u;
    if (l == 0) break;
  }
  if (off + 4 > len || zones::read_u16(p + off) != q.qtype || zones::read_u16(p + off + 2) != q.qclass) return ReplyCheck::mismatch;
  off += 4;
  if (p[2] & 0x02) return ReplyCheck::truncated;

  uint8_t rcode = p[3] & 0x0f;
  const unsigned an = zones::read_u16(p + 6), ns = zones::read_u16(p + 8), ar = zones::read_u16(p + 10);
  std::vector<uint16_t> ttl_offsets;
  ttl_offsets.reserve(an + ns + ar);
  size_t opt_start = 0;
  bool have_soa = false;
  uint32_t soa_ttl = 0;
  for (unsigned i = 0; i < an + ns + ar; ++i) {
    size_t start = off;
    if (!skip_name(p, len, off) || off + 10 > len) return ReplyCheck::malformed;
    uint16_t type = zones::read_u16(p + off);
    uint32_t ttl = zones::read_u32(p + off + 4);
    size_t rdlen = zones::read_u16(p + off + 8);
    if (off + 10 + rdlen > len) return ReplyCheck::malformed;
    if (type == kTypeOpt) {
      // The upstream's OPT is about the upstream hop only; it must be the last record so that removing
      // it cannot break a compression pointer behind it.
      if (i < an + ns || i + 1 != an + ns + ar || opt_start) return ReplyCheck::malformed;
      if (p[off + 4] != 0) return ReplyCheck::failed;  // an extended rcode (BADVERS, ...)
      opt_start = start;
    } else {
      if (type == kTypeSoa && i >= an && i < an + ns && rdlen >= 20) {
        // RFC 2308 §5: a negative answer lives for min(SOA TTL, SOA MINIMUM).
        uint32_t minimum = zones::read_u32(p + off + 10 + rdlen - 4);
        soa_ttl = std::min(ttl, minimum);
        have_soa = true;
      }
      ttl_offsets.push_back(static_cast<uint16_t>(off + 4));
    }
    off += 10 + rdlen;
  }
  if (off != len) return ReplyCheck::malformed;
  if (rcode != kRcodeNoerror && rcode != kRcodeNxdomain) return ReplyCheck::failed;

  out.wire.assign(p, p + (opt_start ? opt_start : len));
  if (opt_start) zones::write_u16(out.wire.data() + 10, static_cast<uint16_t>(ar - 1));
  out.ttl_offsets = std::move(ttl_offsets);
  out.rcode = rcode;
  out.ad = p[3] & 0x20;
  out.negative = rcode == kRcodeNxdomain || an == 0;
  out.stored = now;
  // RFC 2181 §8: a TTL with the top bit set means zero. Caps keep one odd record from pinning an entry.
  const uint32_t cap = out.negative ? limits.cache_max_negative_ttl : limits.cache_max_ttl;
  uint32_t lifetime = cap;
  for (uint16_t at : out.ttl_offsets) {
    uint32_t t = zones::read_u32(out.wire.data() + at);
    if (t & 0x80000000u) t = 0;
    uint16_t type = zones::read_u16(out.wire.data() + at - 4);
    if (type == kTypeSoa && have_soa && t > soa_ttl) t = soa_ttl;
    t = std::min(t, cap);
    zones::write_u32(out.wire.data() + at, t);
    lifetime = std::min(lifetime, t);
  }
  // RFC 2308 §5: negative answers without an SOA are not cached. Neither is an empty answer.
  if (out.ttl_offsets.empty() || (out.negative && !have_soa)) lifetime = 0;
  out.lifetime = lifetime;
  return ReplyCheck::ok;
}

size_t write_client_reply(const Answer& a, const query::ParsedQuery& q, uint32_t elapsed, uint8_t* out,
                          size_t limit) noexcept {
  // AD only for clients that showed they understand it (RFC 6840 §5.8); RA: we recurse for this view.
  bool ad = a.ad && q.do_bit;
  uint8_t flags2 = static_cast<uint8_t>(0x80 | (ad ? 0x20 : 0) | (q.cd ? 0x10 : 0) | a.rcode);
  size_t opt = q.has_edns ? 11 : 0;
  if (a.wire.size() < 16 + q.qname_len) return 0;
  if (a.wire.size() + opt > limit) return write_empty(q, flags2, true, -1, out, limit);
  std::memcpy(out, a.wire.data(), a.wire.size());
  // The upstream's question has the same length as the client's (same name, maybe other case), so
  // every compression pointer in the copied sections still lands where it did.
  put_header_question(q, flags2, out);
  std::memcpy(out + 6, a.wire.data() + 6, 6);
  for (uint16_t at : a.ttl_offsets) {
    uint32_t t = zones::read_u32(out + at);
    zones::write_u32(out + at, t > elapsed ? t - elapsed : 0);
  }
  size_t n = a.wire.size();
  if (q.has_edns) {
    n += put_opt(out + n, q.do_bit, -1);
    zones::write_u16(out + 10, static_cast<uint16_t>(zones::read_u16(out + 10) + 1));
  }
  return n;
}

size_t write_servfail(const query::ParsedQuery& q, uint8_t* out, size_t limit) noexcept {
  uint8_t flags2 = static_cast<uint8_t>(0x80 | (q.cd ? 0x10 : 0) | 2);
  return write_empty(q, flags2, false, 22, out, limit);
}

size_t write_refused(const query::ParsedQuery& q, int ede, uint8_t* out, size_t limit) noexcept {
  uint8_t flags2 = static_cast<uint8_t>(0x80 | (q.cd ? 0x10 : 0) | 5);
  return write_empty(q, flags2, false, ede, out, limit);
}

}  // namespace phoenix::forward
