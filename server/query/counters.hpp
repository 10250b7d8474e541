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

/// TCP connection counts, kept by the TCP thread (server/net/tcp_listener.cpp says when each moves).
struct TcpConnCounters {
  Counter accepted;            ///< taken into the table
  Counter evicted;             ///< the longest idle, closed to make room at the cap (RFC 7766 §6.2.3)
  Counter refused_per_client;  ///< closed at once: their client already held its share
  Counter closed_idle, closed_slow, closed_unsent;  ///< idle timeout, message timeout, not reading
  Counter open;                ///< a gauge: the connections in the table now
};

}  // namespace phoenix::query
