// processor -- bytes in, bytes out: the one answer path shared by UDP, TCP, netgen, fuzzers and benches.
//
// Stages, in order (in processor.cpp): parse -> TSIG -> view -> transfer -> precompiled -> zone (-> forwarded, for a
// name outside the view's zones) -> lookup -> answer -> authority -> additional -> EDNS -> truncate.
// The query is parsed once, the view chosen once, and the size limit, RA and our OPT decided once;
// the precompiled stage (precompiled.hpp) only copies a reply built earlier by these same stages, and
// the forwarded stage copies one the forwarder's cache holds through that same stage. Only finish_error() turns a failure into an rcode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "horizon/ip_prefix.hpp"
#include "server/query/cookie.hpp"
#include "server/query/counters.hpp"
#include "server/query/transfer.hpp"
#include "server/wire/reader.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::query {

// The query path speaks the wire module's types; these names keep its callers short.
using wire::ParsedQuery;
using wire::ParseStatus;
using wire::parse_query;
namespace rcode = wire::rcode;
inline constexpr uint16_t kOurPayload = wire::kOurPayload;
inline constexpr size_t kMaxTcpReply = wire::kMaxMessage;

/// Per-worker counters, summed when read: one writer each (the worker), read by the metrics
/// scraper without locks (see Counter).
struct QueryStats {
  Counter queries, answered, dropped, formerr, refused, nxdomain, notimp, truncated;
  Counter cache_hits, cache_misses;  ///< forwarded queries answered from the cache, or sent on
  std::array<ViewCounters, kViewSlots> by_view;  ///< indexed by zones::ViewData::metrics_slot
  Counter precompiled;     ///< of `answered`, the replies copied by the precompiled stage
  Counter forward_cached;  ///< of `answered`, forwarded names answered from the forwarder's cache
  Counter notify_refused;  ///< NOTIFY messages received (RFC 1996; we are the primary: all refused)
  std::array<Counter, kTsigFailureNames.size()> tsig_failed;  ///< signed requests not accepted, by error
  std::array<Counter, kKeySlots> tsig_accepted;  ///< verified signatures, by zones::Snapshot::tsig_key_slots
  /// Transfer requests that reached a view, by zones::ViewData::zone_slots (last: large and rarely touched).
  std::array<XfrCounters, kZoneSlots> xfr;
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
/// with recursion and upstreams, that the forwarder's cache (ForwardedReplies) did not answer.
/// process_query() then returns 0, and the transport hands `query` to the forwarder (upstreams)
/// and sends that reply itself.
struct ForwardRequest {
  bool wanted = false;
  bool from_cache = false;  ///< set when the forwarded stage answered from the cache (for dnstap's CLIENT_*)
  horizon::ViewId view = horizon::kNoView;  ///< the view that forwards it: cached answers are kept per view
  ParsedQuery query;
};

/// What the processor decided before a stored reply (precompiled, or the forwarder's cache) is copied.
struct PrecompiledInput {
  const ParsedQuery& q;  ///< class IN, opcode QUERY (for the precompiled table: a plain query, ParsedQuery::plain)
  horizon::ViewId view;
  uint8_t flags1, flags2;  ///< the reply's header flags so far (QR, opcode, RD; RA, CD): OR-ed in
  size_t limit;            ///< the largest reply the client takes
};

/// Finished replies for names the processor would forward (the forwarder's cache). The processor asks
/// it after choosing a view that forwards, before handing the query to the transport, so a cache hit
/// is answered inside process_query like any other reply. Must not block or allocate.
class ForwardedReplies {
 public:
  /// The reply to `in.q` in view `in.view`, written by the precompiled stage (write_stored_reply in
  /// precompiled.hpp) with the processor's flags and limit into `out`, or 0 when there is none.
  virtual size_t reply(const zones::Snapshot& snap, const PrecompiledInput& in, uint8_t* out) noexcept = 0;

 protected:
  ~ForwardedReplies() = default;
};

/// What the processor says about the reply it wrote, so that response rate limiting (rrl.hpp) classifies
/// it without matching the view again or reading the reply back. Views into the snapshot's zones: valid
/// while the caller holds the snapshot.
struct ReplyFacts {
  horizon::ViewId view = horizon::kNoView;  ///< the view that answered; kNoView: none was chosen
  uint8_t view_slot = kNoViewSlot;
  uint8_t qname_len = 0;      ///< the question's name length (it follows the header, uncompressed); 0: none
  std::string_view wildcard;  ///< the wildcard the answer was synthesised from (lower-cased wire), else empty
  std::string_view zone;      ///< the zone of ours the reply speaks for (lower-cased wire origin), else empty
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
  /// Whether the precompiled stage may answer; off, every query runs every stage (that is how the
  /// replies are precompiled, and how tests compare the two).
  bool precompiled = true;
  /// Where cached replies to forwarded names come from; null: every such name goes to `forward`.
  ForwardedReplies* forwarded = nullptr;
  /// DNS cookies (RFC 7873): the secrets and time, and where the verdict on the query's cookie goes;
  /// null: COOKIE options are parsed (malformed ones are FORMERR) but not answered.
  CookieState* cookie = nullptr;
  /// The local address the query arrived on, for views with match_destinations (the transports
  /// fill it when snapshot->views.has_destinations()); unspecified (0.0.0.0): not known.
  horizon::IpAddr local{};
  /// Where an allowed AXFR/IXFR over TCP goes for the transport to stream; null: transfers over TCP
  /// are REFUSED. An IXFR over UDP is answered by the processor itself.
  XfrRequest* xfr = nullptr;
  /// Seconds since the epoch, for TSIG (RFC 8945 §5.2.3); 0: the processor reads the clock when a
  /// request is signed.
  uint64_t now = 0;
  /// Filled with what the reply was, when not null (the UDP transport's rate limiting reads it).
  ReplyFacts* facts = nullptr;
};

/// The largest UDP reply this client accepts (RFC 6891 §6.2.3: never below 512; at most what we advertise).
size_t udp_reply_limit(const ParsedQuery& q) noexcept;

/// Answers the query in `in` into `out` (capacity `cap`, at least 512; 65535 for TCP).
/// Returns the reply length, or 0 when no reply must be sent. Never throws, never allocates.
size_t process_query(const uint8_t* in, size_t in_len, const QueryContext& ctx, uint8_t* out, size_t cap) noexcept;

}  // namespace phoenix::query
