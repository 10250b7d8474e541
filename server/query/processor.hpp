// processor -- bytes in, bytes out: the transport-agnostic answer path shared by UDP, TCP, fuzzers and benches.
//
// Stages, in order (each is a function below): parse -> view -> zone -> lookup -> answer ->
// authority -> additional -> EDNS -> truncate. Only finish_error() turns a failure into an rcode.
#pragma once

#include <cstddef>
#include <cstdint>

#include "horizon/ip_prefix.hpp"
#include "server/query/counters.hpp"
#include "server/query/cookie.hpp"
#include "server/query/wire_reader.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::query {

inline constexpr uint16_t kOurPayload = 1232;  ///< advertised EDNS payload (DNS flag day 2020)
inline constexpr size_t kMaxTcpReply = 65535;

/// Per-worker counters, summed when read: one writer each (the worker), read by the metrics
/// scraper without locks (see Counter).
struct QueryStats {
  Counter queries, answered, dropped, formerr, refused, nxdomain, notimp, truncated;
  Counter cache_hits, cache_misses;  ///< forwarded queries answered from the cache, or sent on
  std::array<ViewCounters, kViewSlots> by_view;  ///< indexed by zones::ViewData::metrics_slot
};

/// Counts a reply (or, with `forwarded`, a hand-off to the forwarder) in its view's cells.
inline void count_reply(QueryStats* st, uint8_t view_slot, uint16_t qtype, uint16_t rcode) noexcept {
  if (!st) return;
  ViewCounters& v = st->by_view[view_slot < kViewSlots ? view_slot : kOtherViewSlot];
  ++v.qtype[qtype_bucket(qtype)];
  ++v.rcode[rcode_bucket(rcode)];
}
inline void count_forwarded(QueryStats* st, uint8_t view_slot, uint16_t qtype) noexcept {
  if (!st) return;
  ViewCounters& v = st->by_view[view_slot < kViewSlots ? view_slot : kOtherViewSlot];
  ++v.qtype[qtype_bucket(qtype)];
  ++v.forwarded;
}

/// Filled by the processor when a query is for the forwarder: a name outside every zone of a view
/// with recursion and upstreams. process_query() then returns 0, and the transport hands `query`
/// to the forwarder (cache first, then upstreams) and sends that reply itself.
struct ForwardRequest {
  bool wanted = false;
  ParsedQuery query;
};

struct QueryContext {
  const zones::Snapshot* snapshot = nullptr;
  horizon::IpAddr client;
  bool tcp = false;
  QueryStats* stats = nullptr;  ///< may be null
  /// Where a query to forward is described; null when this caller cannot forward (fuzzers, benches):
  /// such names are then REFUSED as before, and RA stays clear.
  ForwardRequest* forward = nullptr;
  /// Answer as this view instead of matching `client` (used to precompile replies per view).
  horizon::ViewId view_override = horizon::kNoView;
  /// DNS cookies (RFC 7873): the secrets and time, and where the verdict on the query's cookie goes;
  /// null: COOKIE options are parsed (malformed ones are FORMERR) but not answered.
  CookieState* cookie = nullptr;
};

/// The largest UDP reply this client accepts (RFC 6891 §6.2.3: never below 512; at most what we advertise).
size_t udp_reply_limit(const ParsedQuery& q) noexcept;

/// Answers the query in `in` into `out` (capacity `cap`, at least 512; 65535 for TCP).
/// Returns the reply length, or 0 when no reply must be sent. Never throws, never allocates.
size_t process_query(const uint8_t* in, size_t in_len, const QueryContext& ctx, uint8_t* out, size_t cap) noexcept;

}  // namespace phoenix::query
