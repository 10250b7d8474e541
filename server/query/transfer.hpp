// transfer -- the processor's transfer stage: which client may AXFR/IXFR which zone of its view
// (RFC 5936 §4.3.1 and a view's transfer.allow), and what the answer streams. The TCP transport
// streams the messages itself (server/net/tcp_listener.cpp); an IXFR over UDP is answered here in one
// datagram, or with the SOA alone when the answer does not fit (RFC 1995 §2).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "horizon/ip_prefix.hpp"
#include "server/query/counters.hpp"
#include "server/xfr/ixfr_history.hpp"
#include "server/xfr/tsig.hpp"
#include "server/xfr/xfr_stream.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::query {

/// Filled by the processor for an AXFR or IXFR it allows over TCP: process_query() then returns 0
/// and the transport streams the answer from `zone` (and, for IXFR, `history`), which it holds for
/// the transfer's life: a reload meanwhile does not change what is sent.
struct XfrRequest {
  bool wanted = false;  ///< out: stream this transfer
  /// In: the transport is at its bound of concurrent transfers; the request is REFUSED.
  bool busy = false;
  xfr::XfrQuestion question;
  std::shared_ptr<const zones::Zone> zone;
  std::shared_ptr<const xfr::IxfrHistoryStore> history;  ///< the snapshot's; may be null
  std::string view;             ///< the view's name (the history's key)
  uint32_t client_serial = 0;   ///< IXFR: the serial in the request's authority section
  std::optional<xfr::TsigContext> tsig;  ///< set when the request was signed (and verified)
  uint16_t metrics_slot = kOtherZoneSlot;  ///< where the transport counts it (QueryStats::xfr)
};

/// The record source for a transfer: AXFR; for IXFR the difference sequence from the client's
/// serial, the SOA alone when it is up to date, or the whole zone (AXFR form, RFC 1995 §4) when the
/// history does not reach back to that serial. `form` says which.
std::unique_ptr<xfr::RecordSource> transfer_source(const XfrRequest& r, XfrForm& form);
/// The choice in words, for the log: "AXFR", "IXFR, incremental", ...
const char* describe_transfer(uint16_t qtype, XfrForm form);

/// Whether a view's transfer.allow lets this client transfer: an address prefix containing it, or
/// "key:NAME" when the request was validly signed with that key (`key` lower-cased, "" = unsigned).
bool transfer_allowed(const horizon::TransferSettings& t, const horizon::IpAddr& client, std::string_view key);

}  // namespace phoenix::query
