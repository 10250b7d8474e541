// metrics -- the Prometheus endpoint: counters summed at scrape time, served on a thread of its own.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "horizon/ip_prefix.hpp"
#include "server/query/counters.hpp"
#include "server/query/processor.hpp"
#include "server/query/rrl.hpp"
#include "server/xfr/notify_message.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::server {

/// Writes the Prometheus text exposition format (version 0.0.4): per family a HELP and a TYPE
/// line, then its samples; label values escaped (backslash, double quote, line feed).
class Exposition {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  /// Starts a family; every sample up to the next family() must carry this name (or name_suffix).
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, double value);
  void sample(std::string_view name, Labels labels, uint64_t value);
  const std::string& text() const { return out_; }

 private:
  void head(std::string_view name, Labels labels);
  std::string out_;
};

/// Stable small numbers for names, so that per-worker counter arrays are indexed without a lookup on
/// the query path and a name's counts stay with it however reloads reorder, add or remove names. The
/// `reserved` labels take the first slots and are never handed out; names get the next slots below
/// `limit`, and `overflow` once those are used up. Not locked: MetricSlots holds the lock.
template <class Key>
class SlotTable {
 public:
  SlotTable(std::vector<Key> reserved, size_t limit, size_t overflow)
      : labels_(std::move(reserved)), reserved_(labels_.size()), limit_(limit), overflow_(overflow) {}
  size_t slot(const Key& k) {
    auto it = std::find(labels_.begin() + static_cast<std::ptrdiff_t>(reserved_), labels_.end(), k);
    if (it != labels_.end()) return static_cast<size_t>(it - labels_.begin());
    if (labels_.size() >= limit_) return overflow_;
    labels_.push_back(k);
    return labels_.size() - 1;
  }
  bool full() const { return labels_.size() >= limit_; }
  const std::vector<Key>& labels() const { return labels_; }

 private:
  std::vector<Key> labels_;
  size_t reserved_, limit_, overflow_;
};

/// The slots of the per-worker counters, by name: views (query::QueryStats::by_view; slot 0 means
/// "no view chosen", the last slot "other"), (view, zone) pairs for transfers (QueryStats::xfr; slot
/// 0 "other", and per view a pair with zone "none" for names that are no zone of it), and TSIG keys
/// (QueryStats::tsig_accepted; slot 0 "other").
class MetricSlots {
 public:
  using ZoneLabel = std::pair<std::string, std::string>;  ///< view, zone (with its trailing dot)
  /// Sets every slot in `snap` (before it is published). Control thread.
  void assign(zones::Snapshot& snap);
  /// Any thread: the label of every slot in use (index = slot).
  std::vector<std::string> names() const;
  std::vector<ZoneLabel> zones() const;
  std::vector<std::string> keys() const;

 private:
  mutable std::mutex mu_;
  SlotTable<std::string> views_{{"none"}, query::kOtherViewSlot, query::kOtherViewSlot};
  SlotTable<ZoneLabel> zones_{{{"other", "other"}}, query::kZoneSlots, query::kOtherZoneSlot};
  SlotTable<std::string> keys_{{"other"}, query::kKeySlots, query::kOtherKeySlot};
};

/// What the control thread knows about reloads; read by the scraper.
struct ReloadCounters {
  std::atomic<uint64_t> succeeded{0}, failed{0};
  std::atomic<int64_t> last_unix_ms{0};     ///< wall-clock end of the last reload attempt (0 = none yet)
  std::atomic<int64_t> last_duration_us{0};
  std::atomic<bool> last_ok{true};
};

/// One worker's counters and the transport they are labelled with.
struct WorkerStats {
  std::string_view transport;  ///< "udp" or "tcp"
  const query::QueryStats* stats;
};

struct UpstreamSample {
  std::string upstream;
  uint64_t queries, timeouts, failures, failovers;
};

/// Everything one scrape reads; gathered by the caller (server.cpp) from the live objects.
struct MetricsInput {
  std::vector<WorkerStats> workers;
  std::vector<std::string> view_names;  ///< MetricSlots::names()
  std::vector<MetricSlots::ZoneLabel> zone_slots;  ///< MetricSlots::zones()
  std::vector<std::string> key_names;               ///< MetricSlots::keys()
  std::vector<xfr::NotifyTally> notify;             ///< NotifySender::tallies()
  std::vector<const query::RateLimiter*> rate_limiters;  ///< UDP replies' (their counters by view slot)
  const query::TcpConnCounters* tcp = nullptr;
  const ReloadCounters* reloads = nullptr;
  std::shared_ptr<const zones::Snapshot> snapshot;
  uint64_t generation = 0;
  bool forwarding = false;  ///< the forwarder families below are filled
  uint64_t cache_entries = 0, cache_bytes = 0, cache_evictions = 0, forward_servfail = 0;
  std::vector<UpstreamSample> upstreams;
  /// Families added later (dnstap drops, ...) write themselves here.
  std::function<void(Exposition&)> extra;
};

/// The whole /metrics document.
std::string render_metrics(const MetricsInput& in);

/// A minimal HTTP/1.1 server for GET /metrics (HEAD too), on its own thread with poll(): every
/// connection has a bounded request size and one deadline for the whole exchange, and at most
/// kMaxConnections are open, so a slow or hostile scraper only ever delays other scrapers, and
/// not for longer than kDeadline. Nothing here touches the workers: render() reads their counters.
class MetricsServer {
 public:
  static constexpr size_t kMaxRequest = 8192;
  static constexpr size_t kMaxConnections = 16;
  static constexpr std::chrono::milliseconds kDeadline{5000};

  /// Binds and listens on `ep` (throws std::system_error naming it); serves nothing until start().
  MetricsServer(const horizon::Endpoint& ep, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  void start();
  void stop();
  uint16_t port() const { return port_; }

 private:
  struct Conn {
    int fd = -1;
    std::string in, out;
    size_t sent = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  void run() noexcept;
  void serve();
  /// The reply to a complete request head (or a too-long one).
  std::string respond(const std::string& head);

  int fd_ = -1;
  int wake_[2] = {-1, -1};  ///< a pipe: stop() writes, the poll loop wakes
  uint16_t port_ = 0;
  std::function<std::string()> render_;
  std::vector<Conn> conns_;
  std::thread thread_;
};

}  // namespace phoenix::server
