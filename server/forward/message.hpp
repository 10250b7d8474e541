// message -- the wire side of forwarding: the query we send upstream, the checks a reply must pass,
// and an upstream answer turned into something every waiting client (and the cache) can reuse.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "horizon/inventory.hpp"
#include "server/query/precompiled.hpp"
#include "server/wire/reader.hpp"

namespace phoenix::forward {

using Clock = std::chrono::steady_clock;

/// What we ask upstream: the client's question, lower-cased, with the bits that change the answer.
struct Question {
  std::string qname;  ///< lower-cased uncompressed wire form
  uint16_t qtype = 0, qclass = 0;
  bool do_bit = false;  ///< RFC 3225: DNSSEC records only when the client asked for them
  bool cd = false;      ///< RFC 4035 §3.2.2: checking disabled travels upstream
  friend bool operator==(const Question&, const Question&) = default;
};

Question question_of(const wire::ParsedQuery& q);

/// The cache and coalescing key of a question asked in a view: the view, name, type, class and the
/// DO and CD bits. Writes at most kMaxKey bytes into `buf` and returns the length.
inline constexpr size_t kMaxKey = 2 + 255 + 5;
size_t make_key(horizon::ViewId view, const uint8_t* qname_lower, size_t qname_len, uint16_t qtype, uint16_t qclass,
                bool do_bit, bool cd, uint8_t* buf) noexcept;
std::string make_key(const Question& q, horizon::ViewId view = 0);

/// Our query to an upstream: header with `id`, RD set (we want the upstream to recurse), the
/// question, and an OPT advertising `payload` (RFC 6891) with the client's DO bit.
std::vector<uint8_t> build_upstream_query(const Question& q, uint16_t id, uint16_t payload);

/// What a datagram from an upstream turned out to be.
enum class ReplyCheck {
  mismatch,   ///< not the reply to our query (wrong ID, not a response, other question): ignore it
  truncated,  ///< ours, but TC is set: ask again over TCP (RFC 7766 §5)
  malformed,  ///< ours, but it cannot be used: try the next upstream
  failed,     ///< ours, but SERVFAIL, REFUSED and the like: try the next upstream
  ok,         ///< ours and usable: `answer` is filled
};

/// A usable upstream reply, ready to be replayed to any client that asked the same question.
/// `wire` is the upstream message without its OPT (hop-by-hop, RFC 6891 §6.1.1), its header reduced
/// to what belongs to the answer (ID 0; AD, the rcode, the counts): a query::StoredReply, written by
/// the precompiled stage with each client's ID, flags and question case, every TTL counted down.
struct Answer {
  std::vector<uint8_t> wire;
  uint16_t body_at = 0;               ///< where the sections start in `wire` (after the question)
  std::vector<uint16_t> ttl_offsets;  ///< where each record's TTL sits in `wire` (values are as stored)
  uint8_t rcode = 0;                  ///< NOERROR or NXDOMAIN
  bool ad = false;                    ///< the upstream's AD bit
  bool negative = false;              ///< NXDOMAIN or NODATA (RFC 2308 §1)
  uint32_t lifetime = 0;              ///< seconds it may be served; 0 = not cacheable
  Clock::time_point stored;

  size_t memory() const { return sizeof(Answer) + wire.capacity() + ttl_offsets.capacity() * 2; }
  Clock::time_point expires() const { return stored + std::chrono::seconds(lifetime); }
};

/// Checks that `p` is the reply to our query `id` for `q`, and if so fills `out` (TTLs capped by
/// `limits`, stored at `now`). Never reads outside `len` bytes.
ReplyCheck check_reply(const uint8_t* p, size_t len, const Question& q, uint16_t id,
                       const horizon::ForwardSettings& limits, Clock::time_point now, Answer& out);

/// `a` as the precompiled stage writes it, `age` seconds after it was stored; too big, it truncates.
query::StoredReply stored_reply(const Answer& a, uint32_t age) noexcept;
/// Seconds from when `a` was stored to `now`.
uint32_t age_of(const Answer& a, Clock::time_point now) noexcept;

/// Writes the reply to one client from `a`, `elapsed` seconds after it was stored: the client's ID,
/// RD, CD and question case, RA set, TTLs lowered by `elapsed`, our OPT if the client sent one.
/// If it does not fit in `limit`, writes an empty reply with TC set (RFC 2181 §9). Returns the length
/// (0 when `q` is not the question `a` answers). What the processor does for a cache hit, for the
/// clients the forwarder thread answers itself.
size_t write_client_reply(const Answer& a, const wire::ParsedQuery& q, uint32_t elapsed, uint8_t* out, size_t limit) noexcept;

/// SERVFAIL for a forwarded query nobody answered, with EDE 22 "No Reachable Authority" (RFC 8914 §4.23).
size_t write_servfail(const wire::ParsedQuery& q, uint8_t* out, size_t limit) noexcept;

/// REFUSED with RA and EDE `ede` for a forwarded query the policy will not resolve or whose answer it
/// will not pass on (server/forward/policy.hpp).
size_t write_refused(const wire::ParsedQuery& q, int ede, uint8_t* out, size_t limit) noexcept;

}  // namespace phoenix::forward
