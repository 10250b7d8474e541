// counters -- per-worker statistics cells: written by one thread, read by the metrics scraper.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace phoenix::query {

/// A counter with one writer. The increment is a relaxed load and store, not a read-modify-write:
/// on x86-64 it compiles to the same add as a plain integer (no lock prefix, no shared cache line
/// with other workers), and a reader on another thread sees a whole, possibly slightly old, value
/// without a data race.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter& o) : v_(o.load()) {}
  Counter& operator=(const Counter& o) {
    v_.store(o.load(), std::memory_order_relaxed);
    return *this;
  }
  void add(uint64_t n) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  Counter& operator++() noexcept {
    add(1);
    return *this;
  }
  /// For gauges (connections open): still one writer.
  void set(uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }
  operator uint64_t() const noexcept { return load(); }

 private:
  std::atomic<uint64_t> v_{0};
};

/// Views are counted by a slot that stays with the view's name across reloads (server/metrics.hpp
/// hands them out); slot 0 is for queries answered before a view was chosen, the last slot for
/// views beyond the table, so a long run of renamed views cannot grow it.
inline constexpr size_t kViewSlots = 16;
inline constexpr uint8_t kNoViewSlot = 0;
inline constexpr uint8_t kOtherViewSlot = kViewSlots - 1;

/// The query types counted by name; every other one is "other", so that the number of series stays
/// bounded whatever clients send.
inline constexpr std::array<std::string_view, 11> kQtypeNames{"A",  "AAAA", "PTR", "SOA", "NS", "MX",
                                                              "TXT", "SRV", "CNAME", "ANY", "other"};
inline constexpr std::array<std::string_view, 9> kRcodeNames{"NOERROR", "FORMERR", "SERVFAIL",  "NXDOMAIN", "NOTIMP",
                                                             "REFUSED", "BADVERS", "BADCOOKIE", "other"};

constexpr size_t qtype_bucket(uint16_t t) noexcept {
  switch (t) {
    case 1: return 0;    // A
    case 28: return 1;   // AAAA
    case 12: return 2;   // PTR
    case 6: return 3;    // SOA
    case 2: return 4;    // NS
    case 15: return 5;   // MX
    case 16: return 6;   // TXT
    case 33: return 7;   // SRV
    case 5: return 8;    // CNAME
    case 255: return 9;  // ANY
    default: return 10;
  }
}
constexpr size_t rcode_bucket(uint16_t rc) noexcept { return rc <= 5 ? rc : rc == 16 ? 6 : rc == 23 ? 7 : 8; }

/// What a query's COOKIE option carried (RFC 7873 §5.2): a client cookie alone, or with a server
/// cookie that verified, or with one that did not (stale, another server's, forged: treated as none).
enum class CookieSeen : uint8_t { client_only, valid, invalid };
inline constexpr std::array<std::string_view, 3> kCookieNames{"client_only", "valid", "invalid"};

struct ViewCounters {
  std::array<Counter, kQtypeNames.size()> qtype;  ///< every query with a reply or handed on, by type
  std::array<Counter, kRcodeNames.size()> rcode;  ///< replies written from our own data and errors
  Counter forwarded;                               ///< handed to the forwarder (cache or upstream)
  std::array<Counter, kCookieNames.size()> cookies;  ///< queries with a COOKIE option, by CookieSeen
};

/// Zone transfers are counted per (view, zone) slot, handed out by name like the view slots
/// (server/metrics.hpp), so that a zone's counts stay with it across reloads. Slot 0 takes what has
/// no slot: zones beyond the table, and snapshots nobody assigned slots in (tests, tools).
inline constexpr size_t kZoneSlots = 64;
inline constexpr uint16_t kOtherZoneSlot = 0;

/// What was asked for: AXFR (TCP), IXFR over TCP, IXFR over UDP (RFC 1995 §2).
enum class XfrType : uint8_t { axfr, ixfr, ixfr_udp };
inline constexpr std::array<std::string_view, 3> kXfrTypeNames{"axfr", "ixfr", "ixfr_udp"};

/// What the answer streams (server/query/transfer.hpp chooses): the whole zone (AXFR, or IXFR in AXFR
/// form, RFC 1995 §4), a difference sequence, the SOA alone because the client is up to date, or
/// (over UDP) the SOA alone because the answer does not fit a datagram, which sends the client to TCP.
enum class XfrForm : uint8_t { axfr, incremental, up_to_date, soa_only };
inline constexpr std::array<std::string_view, 4> kXfrFormNames{"axfr", "incremental", "up_to_date", "soa_only"};

/// How a transfer request ended. The first three follow a chosen form: sent whole, cut off (the
/// secondary stopped reading or closed), failed (a record does not fit a message). The others are
/// answered with an error before anything is streamed: refused (transfer.allow), notauth (not a zone
/// of the view, RFC 5936 §2.2.1), formerr (an IXFR without a usable serial), busy (REFUSED at the
/// bound of concurrent transfers), servfail.
enum class XfrResult : uint8_t { ok, aborted, failed, refused, notauth, formerr, busy, servfail };
inline constexpr std::array<std::string_view, 8> kXfrResultNames{"ok",      "aborted", "failed", "refused",
                                                                 "notauth", "formerr", "busy",   "servfail"};
inline constexpr size_t kXfrStreamed = 3;  ///< results up to here carry a form

/// The cells of one slot: outcomes per type (streamed results by form, the others once), and per
/// type what was sent and, for the TCP types, how long the streaming took.
struct XfrCounters {
  static constexpr size_t kOutcomes = kXfrStreamed * kXfrFormNames.size() + kXfrResultNames.size() - kXfrStreamed;
  static constexpr size_t outcome(XfrResult r, XfrForm f) noexcept {
    const auto ri = static_cast<size_t>(r);
    return ri < kXfrStreamed ? ri * kXfrFormNames.size() + static_cast<size_t>(f)
                             : kXfrStreamed * kXfrFormNames.size() + ri - kXfrStreamed;
  }
  /// Upper bounds of the duration buckets, in seconds; the last bucket is +Inf.
  static constexpr std::array<double, 6> kDurationBounds{0.001, 0.01, 0.1, 1, 10, 60};
  std::array<std::array<Counter, kOutcomes>, kXfrTypeNames.size()> outcomes;
  std::array<Counter, kXfrTypeNames.size()> messages, bytes;  ///< DNS messages and their octets (no TCP length)
  std::array<std::array<Counter, kDurationBounds.size() + 1>, 2> duration_buckets;  ///< axfr, ixfr: non-cumulative
  std::array<Counter, 2> duration_us;                                              ///< their sum

  void count(XfrType t, XfrResult r, XfrForm f = XfrForm::axfr) noexcept { ++outcomes[static_cast<size_t>(t)][outcome(r, f)]; }
  void sent(XfrType t, uint64_t msgs, uint64_t octets) noexcept {
    messages[static_cast<size_t>(t)].add(msgs);
    bytes[static_cast<size_t>(t)].add(octets);
  }
  /// A TCP transfer's streaming time.
  void took(XfrType t, uint64_t us) noexcept {
    const size_t ti = t == XfrType::axfr ? 0 : 1;
    size_t b = 0;
    while (b < kDurationBounds.size() && static_cast<double>(us) > kDurationBounds[b] * 1e6) ++b;
    ++duration_buckets[ti][b];
    duration_us[ti].add(us);
  }
};

/// Why a signed request was not accepted (RFC 8945 §5.2: the TSIG errors, and FORMERR for a TSIG
/// that does not parse or sits anywhere but last, §5.1).
inline constexpr std::array<std::string_view, 5> kTsigFailureNames{"BADKEY", "BADSIG", "BADTIME", "BADTRUNC", "FORMERR"};
/// Accepted signatures are counted per key slot (named like the views, by key name); slot 0 takes
/// keys beyond the table.
inline constexpr size_t kKeySlots = 32;
inline constexpr uint8_t kOtherKeySlot = 0;

/// TCP connection counts, kept by the TCP thread (server/net/tcp_listener.cpp says when each moves).
struct TcpConnCounters {
  Counter accepted;            ///< taken into the table
  Counter evicted;             ///< the longest idle, closed to make room at the cap (RFC 7766 §6.2.3)
  Counter refused_per_client;  ///< closed at once: their client already held its share
  Counter closed_idle, closed_slow, closed_unsent;  ///< idle timeout, message timeout, not reading
  Counter open;                ///< a gauge: the connections in the table now
};

}  // namespace phoenix::query
