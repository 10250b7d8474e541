// rrl -- response rate limiting (BIND's and Knot's RRL) for UDP replies: a fixed table of token
// buckets per client prefix and response class, owned by one worker, so no lock and no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "horizon/inventory.hpp"
#include "horizon/ip_prefix.hpp"
#include "horizon/view_table.hpp"
#include "server/query/counters.hpp"
#include "server/query/processor.hpp"

namespace phoenix::query {

/// Per view: how many replies went over the limit, and what became of them (limited = dropped +
/// slipped). Single-writer cells: the limiter's thread counts, the metrics scraper reads.
struct RrlCounters {
  Counter limited, dropped, slipped;
};

/// One per UDP worker. limit() looks at a reply about to be sent and decides: send it, drop it, or
/// send it truncated (TC=1, question only) so that a real client retries over TCP while a spoofed
/// victim gets nothing larger than the query (RFC 5358's concern, BIND's "slip").
///
/// Buckets are keyed by the view, the client's address cut to ipv4_prefix/ipv6_prefix, and the
/// response class: answers by name (the wildcard's, for a synthesised one) and type, NXDOMAIN by zone
/// (ours, or the SOA owner in a forwarded reply), errors as one class. Each bucket holds up to one second's worth of credit and up to `window` seconds'
/// worth of debt, so a client that floods stays limited until its average falls below the rate.
class RateLimiter {
 public:
  static constexpr size_t kBuckets = size_t{1} << 16;  ///< a power of two; 16 bytes each, in sets of four

  /// `seed` keys the bucket hash, so that nobody can aim collisions at a bucket.
  explicit RateLimiter(uint64_t seed);

  /// Returns the length to send: `len` (within the rate, exempt, or not a reply we limit), 0 (drop),
  /// or the length of the truncated reply it wrote over `reply` (slip). `now_ms`: a monotonic clock.
  /// `facts`: what the processor said of the reply (for a forwarded reply only the view is known); the
  /// verdict is counted under its view_slot (zones::ViewData::metrics_slot, as the query counters are).
  size_t limit(uint8_t* reply, size_t len, const horizon::IpAddr& client, const ReplyFacts& facts,
               const horizon::RateLimitSettings& s, uint64_t now_ms) noexcept {
    const uint64_t k = key(reply, len, client, facts, s);
    return k ? verdict(k, reply, len, facts.view_slot, s, now_ms) : len;
  }

  /// limit() in two halves, for a worker with a batch of replies: key() says which bucket a reply
  /// counts in (0: none, the reply is sent as it is) and starts loading that bucket's cache line;
  /// verdict() then decides as limit() does. Keying a whole batch before judging it overlaps the
  /// table's cache misses instead of waiting for each in turn.
  uint64_t key(const uint8_t* reply, size_t len, const horizon::IpAddr& client, const ReplyFacts& facts,
               const horizon::RateLimitSettings& s) const noexcept;
  size_t verdict(uint64_t key, uint8_t* reply, size_t len, uint8_t view_slot, const horizon::RateLimitSettings& s,
                 uint64_t now_ms) noexcept;

  /// Any thread: the counts of one view slot.
  const RrlCounters& counters(uint8_t view_slot) const { return counters_[view_slot < kViewSlots ? view_slot : kOtherViewSlot]; }

 private:
  struct Bucket {           ///< 16 bytes: a set of four fills one cache line
    uint32_t tag = 0;       ///< the key's upper half (the set is chosen by the lower); 0: empty
    uint32_t last_ms = 0;   ///< when credit was last added (the clock mod 2^32)
    int32_t balance = 0;    ///< thousandths of a reply; negative: debt
    uint32_t drops = 0;     ///< replies over the limit, for the slip count
  };
  struct alignas(64) Set {
    Bucket ways[4];
  };
  static constexpr size_t kSets = kBuckets / 4;
  uint64_t seed_;
  std::unique_ptr<Set[]> table_;
  std::array<RrlCounters, kViewSlots> counters_{};
};

/// Rewrites the reply in `reply` into its truncated form in place: the header with TC set and no
/// records, and the question. Returns the new length (the header alone if the question is unreadable).
size_t truncate_reply(uint8_t* reply, size_t len) noexcept;

}  // namespace phoenix::query
