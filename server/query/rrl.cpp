#include "rrl.hpp"

#include <algorithm>
#include <limits>

#include "server/wire/format.hpp"
#include "zones/hash.hpp"
#include "zones/name.hpp"
#include "zones/rrset.hpp"

namespace phoenix::query {
namespace {

enum class Kind : uint8_t { answer = 1, nxdomain = 2, error = 3 };

/// A 64-bit mix (the finaliser of SplitMix64): enough to spread keys over the table.
uint64_t mix(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

uint64_t add(uint64_t h, uint64_t v) { return mix(h ^ v) + 0x9e3779b97f4a7c15ull; }

/// Copies the name at `off` in `msg` into `out` lower-cased, following compression (each pointer must
/// go back, RFC 1035 §4.1.4, so the walk ends). Sets `end` past the name in place and returns the
/// name's length, or 0 if it is malformed.
size_t lower_name(const uint8_t* msg, size_t len, size_t off, uint8_t (&out)[zones::kMaxNameWire], size_t& end) {
  bool jumped = false;
  size_t total = 0;
  for (;;) {
    if (off >= len) return 0;
    uint8_t l = msg[off];
    if ((l & 0xc0) == 0xc0) {
      if (off + 2 > len) return 0;
      size_t target = static_cast<size_t>(((l & 0x3f) << 8) | msg[off + 1]);
      if (target >= off) return 0;
      if (!jumped) end = off + 2;
      jumped = true;
      off = target;
      continue;
    }
    if (l & 0xc0) return 0;
    if (off + 1 + l > len || total + l + 1u > zones::kMaxNameWire) return 0;
    out[total++] = l;
    for (size_t k = 1; k <= l; ++k) out[total++] = zones::lower_octet(msg[off + k]);
    off += 1 + l;
    if (l == 0) {
      if (!jumped) end = off;
      return total;
    }
  }
}

/// The key of a lower-cased wire name: zones' own name hash, so a name costs the same here as in a lookup.
uint64_t name_key(std::string_view lower) { return zones::hash_bytes(lower, 0x5a17); }

/// The key of the question's name in `msg` (`qlen` octets after the header, as the processor found
/// it), lower-cased on the way. Sets `end` past it.
uint64_t question_key(const uint8_t* msg, size_t qlen, size_t& end) {
  uint8_t buf[zones::kMaxNameWire];
  for (size_t i = 0; i < qlen; ++i) buf[i] = zones::lower_octet(msg[12 + i]);
  end = 12 + qlen;
  return name_key({reinterpret_cast<const char*>(buf), qlen});
}

/// Skips one resource record at `off`; false if it runs past the message.
bool skip_rr(const uint8_t* msg, size_t len, size_t& off, uint16_t* type) {
  if (!wire::skip_name(msg, len, off) || off + 10 > len) return false;
  *type = zones::read_u16(msg + off);
  off += 10 + zones::read_u16(msg + off + 8);
  return off <= len;
}

/// The zone of an NXDOMAIN reply: the SOA owner in its authority section (RFC 2308 §3).
uint64_t nxdomain_zone(const uint8_t* msg, size_t len, size_t after_question) {
  size_t off = after_question;
  uint16_t type = 0;
  for (unsigned i = 0, an = zones::read_u16(msg + 6); i < an; ++i)
    if (!skip_rr(msg, len, off, &type)) return 0;
  for (unsigned i = 0, ns = zones::read_u16(msg + 8); i < ns; ++i) {
    uint8_t name[zones::kMaxNameWire];
    size_t end = 0;
    size_t n = lower_name(msg, len, off, name, end);
    if (!n || !skip_rr(msg, len, off, &type)) return 0;
    if (type == zones::rrtype::SOA) return name_key({reinterpret_cast<const char*>(name), n});
  }
  return 0;
}

/// The response class of a reply, and its rate.
Kind kind_of(const uint8_t* reply) {
  const uint8_t rc = reply[3] & 0x0f;
  return rc == 0 ? Kind::answer : rc == 3 ? Kind::nxdomain : Kind::error;
}
uint32_t rate_of(Kind kind, const horizon::RateLimitSettings& s) {
  return kind == Kind::answer     ? s.responses_per_second
         : kind == Kind::nxdomain ? s.nxdomains_per_second
                                  : s.errors_per_second;
}

}  // namespace

RateLimiter::RateLimiter(uint64_t seed) : seed_(mix(seed) | 1), table_(std::make_unique<Set[]>(kSets)) {}

uint64_t RateLimiter::key(const uint8_t* reply, size_t len, const horizon::IpAddr& client, const ReplyFacts& facts,
                          const horizon::RateLimitSettings& s) const noexcept {
  const horizon::ViewId view = facts.view;
  if (!s.enabled || len < 12 || view == horizon::kNoView) return 0;
  for (auto& p : s.exempt)
    if (p.contains(client)) return 0;
  const Kind kind = kind_of(reply);
  if (rate_of(kind, s) == 0) return 0;
  uint64_t h = add(seed_, (uint64_t{view} << 8) | static_cast<uint8_t>(kind));
  if (client.is_v4()) {
    // The common case without the prefix type's byte loop: the address cut to ipv4_prefix bits.
    const unsigned bits = std::min<unsigned>(s.ipv4_prefix, 32);
    const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    h = add(h, uint64_t{client.v4_host_order() & mask} << 32);
  } else {
    const auto net = horizon::IpPrefix{client, s.ipv6_prefix}.network().addr;
    for (size_t i = 0; i < 16; i += 8) {
      uint64_t word = 0;
      for (size_t k = 0; k < 8; ++k) word = (word << 8) | net.bytes[i + k];
      h = add(h, word);
    }
  }
  if (kind != Kind::error && zones::read_u16(reply + 4) == 1) {
    // The question: where the processor said it is, else read from the reply (a forwarded one).
    size_t end = 12;
    uint64_t name = 0;
    if (facts.qname_len && 12u + facts.qname_len <= len) {
      name = question_key(reply, facts.qname_len, end);
    } else {
      uint8_t buf[zones::kMaxNameWire];
      size_t n = lower_name(reply, len, 12, buf, end);
      if (!n) return 0;  // not ours to judge
      name = name_key({reinterpret_cast<const char*>(buf), n});
    }
    if (end + 4 > len) return 0;
    // BIND's classes: an answer synthesised from a wildcard counts as the wildcard's name, so that a
    // flood of random names under one wildcard is one bucket; NXDOMAIN counts by zone.
    if (kind == Kind::answer) h = add(add(h, facts.wildcard.empty() ? name : name_key(facts.wildcard)), zones::read_u16(reply + end));
    else h = add(h, facts.zone.empty() ? nxdomain_zone(reply, len, end + 4) : name_key(facts.zone));
  }
  h += h == 0;  // 0 means "no bucket"
  __builtin_prefetch(&table_[h & (kSets - 1)], 1);
  return h;
}

size_t RateLimiter::verdict(uint64_t h, uint8_t* reply, size_t len, uint8_t view_slot,
                            const horizon::RateLimitSettings& s, uint64_t now_ms) noexcept {
  const uint32_t rate = rate_of(kind_of(reply), s);
  // The bucket: this key's in its set, else the set's stalest (an idle client's is reused first). A set
  // is one cache line, so a verdict costs one memory access to the table however full it is.
  Set& set = table_[h & (kSets - 1)];
  const uint32_t tag = static_cast<uint32_t>(h >> 32) | 1;  // never 0, which marks an empty bucket
  const uint32_t now = static_cast<uint32_t>(now_ms);        // wraps every 49 days: only differences count
  Bucket* b = nullptr;
  Bucket* stalest = &set.ways[0];
  for (Bucket& c : set.ways) {
    if (c.tag == tag) {
      b = &c;
      break;
    }
    if (stalest->tag != 0 && (c.tag == 0 || uint32_t(now - c.last_ms) > uint32_t(now - stalest->last_ms))) stalest = &c;
  }
  // One second's worth of credit; the debt floor is `window` of those, within what 32 bits hold.
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t credit = std::min<int64_t>(int64_t{rate} * 1000, kMax);
  const int64_t floor = -std::min<int64_t>(credit * s.window, kMax);
  if (!b) {
    b = stalest;
    *b = Bucket{tag, now, static_cast<int32_t>(credit), 0};
  }
  // Credit accrues at `rate` per second, up to one second's worth; debt is bounded by `window` seconds.
  const int64_t elapsed = std::min<uint32_t>(now - b->last_ms, 3600000);
  b->last_ms = now;
  int64_t balance = std::min<int64_t>(credit, b->balance + elapsed * rate);
  if (balance >= 1000) {
    b->balance = static_cast<int32_t>(balance - 1000);
    return len;
  }
  b->balance = static_cast<int32_t>(std::max<int64_t>(balance - 1000, floor));
  RrlCounters& c = counters_[view_slot < kViewSlots ? view_slot : kOtherViewSlot];
  ++c.limited;
  if (s.slip && ++b->drops % s.slip == 0) {
    ++c.slipped;
    return truncate_reply(reply, len);
  }
  ++c.dropped;
  return 0;
}

size_t truncate_reply(uint8_t* reply, size_t len) noexcept {
  if (len < 12) return len;
  size_t end = 12;
  bool question = false;
  if (zones::read_u16(reply + 4) == 1) {
    uint8_t ignored[zones::kMaxNameWire];
    question = lower_name(reply, len, 12, ignored, end) && end + 4 <= len;
  }
  reply[2] |= 0x02;  // TC
  reply[4] = 0;
  reply[5] = question ? 1 : 0;
  std::fill(reply + 6, reply + 12, uint8_t{0});
  return question ? end + 4 : 12;
}

}  // namespace phoenix::query
