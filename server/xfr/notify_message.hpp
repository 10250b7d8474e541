// notify_message -- the primary's side of RFC 1996: the NOTIFY message for one zone, the check that a
// datagram is its acknowledgement (RFC 1996 §4.7: same id, opcode and question, verified when signed,
// RFC 8945 §5.3), and the retransmission schedule (§3.6). No sockets: server/net/notify_sender.hpp
// sends and receives, this decides.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "horizon/inventory.hpp"
#include "horizon/plan.hpp"
#include "server/xfr/tsig.hpp"
#include "zones/diff.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::xfr {

/// How often and how long to wait: `max_tries` messages, the first reply awaited for `first_wait`,
/// each later one `factor` times longer (1+2+4+8+16 s by default, like BIND's five tries).
struct NotifyPolicy {
  unsigned max_tries = 5;
  std::chrono::milliseconds first_wait{1000};
  unsigned factor = 2;
};

/// What a datagram or a timeout did to the exchange.
enum class NotifyOutcome {
  pending,       ///< keep waiting (not our reply, or one that does not verify)
  resend,        ///< the wait is over: send the message again
  acknowledged,  ///< a NOERROR reply that matches (and verifies)
  rejected,      ///< a verified reply with another rcode: the secondary said no, resending will not help
  gave_up,       ///< max_tries messages without an acknowledgement
};
const char* notify_outcome_text(NotifyOutcome o);
/// "NOERROR", "REFUSED", ... ("rcode 23" past NOTZONE), for the log.
std::string rcode_name(uint16_t rc);

/// One NOTIFY of one zone to one secondary, from the first message to its outcome.
class NotifyExchange {
 public:
  /// `zone_wire` is the zone's uncompressed wire name, `soa_rdata` its SOA's rdata (sent in the
  /// answer section as the serial hint, RFC 1996 §3.7); signed with `key` when given, at `now`
  /// (seconds since the epoch). `key` must outlive the exchange (its reply is verified with it).
  NotifyExchange(uint16_t id, std::string_view zone_wire, uint32_t soa_ttl, std::string_view soa_rdata,
                 const horizon::TsigKey* key, uint64_t now, NotifyPolicy policy = {});

  /// The bytes to send; empty when the message could not be built (a zone name over 255 bytes).
  const std::vector<uint8_t>& message() const { return message_; }
  /// Counts one more message sent; returns how long to wait for its reply.
  std::chrono::milliseconds sent();
  /// A datagram from the secondary's address at `now`.
  NotifyOutcome on_reply(const uint8_t* msg, size_t len, uint64_t now);
  /// The wait after the last message is over: `resend`, or `gave_up` after max_tries.
  NotifyOutcome on_timeout();

  unsigned tries() const { return tries_; }
  uint16_t id() const { return id_; }
  /// The rcode of the reply that ended the exchange (acknowledged, rejected).
  uint16_t rcode() const { return rcode_; }
  /// Why the last reply that did not end the exchange was ignored ("" if none was): the log says so
  /// when the exchange gives up.
  const std::string& last_problem() const { return last_problem_; }

 private:
  uint16_t id_;
  std::string qname_;  ///< lower-cased wire
  std::vector<uint8_t> message_;
  std::optional<TsigContext> tsig_;
  NotifyPolicy policy_;
  unsigned tries_ = 0;
  std::chrono::milliseconds wait_{0};
  uint16_t rcode_ = 0;
  std::string last_problem_;
};

/// One zone to announce to one secondary.
struct NotifyJob {
  std::string view, zone;  ///< for the log; zone with its trailing dot
  horizon::Endpoint target;
  std::optional<horizon::TsigKey> key;  ///< sign with it when set
  std::string zone_wire;                ///< the zone's uncompressed wire name
  uint32_t serial = 0;
  uint32_t soa_ttl = 0;
  std::string soa_rdata;
  /// Send from this address (the server's listen address of the target's family), so that a
  /// secondary that accepts NOTIFY only from its primary's address accepts it; else the kernel picks.
  std::optional<horizon::IpAddr> source;
};

/// What became of the NOTIFYs of one zone of one view to one target (server/net/notify_sender.cpp
/// counts them). Each exchange begun counts in `sent` once and ends in one of the last four, unless it
/// is still going: acknowledged, rejected (a verified reply with another rcode), failed (no
/// acknowledgement after the last try, or no socket to send from), superseded (a newer serial of the
/// zone replaced it). `retried`: the messages sent again.
struct NotifyTally {
  std::string view, zone, target;
  uint64_t sent = 0, retried = 0, acknowledged = 0, rejected = 0, failed = 0, superseded = 0;
};

/// The NOTIFYs to send once `snap` (built from `plan`) is published: for every view with
/// transfer.notify targets, each zone it serves (its catalog too) whose serial `changes` says moved or
/// that is new, or, without `changes` (start-up), every zone, to every target. `listen` gives the
/// source addresses. A target naming a key the plan does not define is skipped (the loader refuses
/// such an inventory).
std::vector<NotifyJob> notify_jobs(const zones::Snapshot& snap, const horizon::HorizonPlan& plan,
                                   const std::vector<zones::ZoneDiff>* changes,
                                   const std::vector<horizon::Endpoint>& listen);

}  // namespace phoenix::xfr
