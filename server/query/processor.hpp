// processor -- bytes in, bytes out: the transport-agnostic answer path shared by UDP, TCP, fuzzers and benches.
//
// Stages, in order (each is a function below): parse -> view -> zone -> lookup -> answer ->
// authority -> additional -> EDNS -> truncate. Only finish_error() turns a failure into an rcode.
#pragma once

#include <cstddef>
#include <cstdint>

#include "horizon/ip_prefix.hpp"
#include "server/query/cookie.hpp"
#include "server/query/wire_reader.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::query {

inline constexpr uint16_t kOurPayload = 1232;  ///< advertised EDNS payload (DNS flag day 2020)
inline constexpr size_t kMaxTcpReply = 65535;

/// Per-worker counters, summed when read; never shared between threads.
struct QueryStats {
  uint64_t queries = 0, answered = 0, dropped = 0, formerr = 0, refused = 0, nxdomain = 0, notimp = 0,
           truncated = 0;
};

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
