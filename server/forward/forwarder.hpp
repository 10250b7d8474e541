// forwarder -- resolves names outside our zones through the upstream servers, on its own thread.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache.hpp"
#include "server/query/processor.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::dnstap {
class Ring;
}

namespace phoenix::forward {

/// Receives the finished reply for one client; runs on the forwarder thread, so it should only hand
/// the bytes to the client's own transport (post to its io_context), never do slow work.
using Deliver = std::function<void(std::vector<uint8_t> reply)>;

struct ForwardStats {
  std::atomic<uint64_t> cache_hits{0}, resolutions{0}, coalesced{0}, servfail{0}, upstream_failures{0},
      upstream_timeouts{0}, overload{0},
      rebind_blocked{0},  ///< upstream answers refused for carrying a private address (policy.hpp)
      not_recursed{0};    ///< RD=0 queries not in the cache: REFUSED, never asked upstream
};

/// Owns the cache and a thread with its own io_context for every upstream exchange, so a slow or dead
/// upstream can only ever delay forwarded queries: the workers answering our zones never wait on it.
///
/// The processor asks reply() inline (a lookup without lock or allocation, and the precompiled
/// stage's copy of the cached bytes; see Cache), and on a miss the transport calls resolve(),
/// which posts the question to the forwarder thread and returns at once. There identical questions
/// are coalesced into one upstream resolution; upstreams are tried in turn (starting with the one
/// that last answered), each for at most forward_timeout_ms, all within forward_total_timeout_ms,
/// after which every waiter gets SERVFAIL. The forwarding policy (policy.hpp) applies here too: a
/// query without RD is answered from the cache or REFUSED, and an answer with a private address for
/// a name outside rebind_allow is REFUSED (EDE 15) and not cached.
class Forwarder final : public query::ForwardedReplies {
 public:
  Forwarder();
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  void start();
  /// Stops the thread; questions still pending are dropped unanswered (clients retry). Idempotent.
  void stop();

  /// Any thread, the processor's forwarded stage (query::ForwardedReplies): the cached reply to `in.q`
  /// in view `in.view`, written by the precompiled stage into `out`, or 0 on a miss. `snap` is the
  /// caller's snapshot: the first query after a reload that changed the upstreams or the views
  /// empties the cache, so no answer from a former upstream is served once the new list is published.
  size_t reply(const zones::Snapshot& snap, const query::PrecompiledInput& in, uint8_t* out) noexcept override;

  /// Any thread: resolves `req.query` for `req.view` with the upstreams and settings of `snap` (copied,
  /// so `snap` may go away), then calls `deliver` exactly once with a reply of at most `limit` bytes
  /// (answer or SERVFAIL) -- unless the forwarder is stopped first.
  void resolve(const zones::Snapshot& snap, const query::ForwardRequest& req, size_t limit, Deliver deliver);

  /// dnstap: where the forwarder thread records its upstream exchanges (set before start()).
  void set_tap(dnstap::Ring* ring) { tap_ = ring; }
  Cache& cache() { return cache_; }
  const ForwardStats& stats() const { return stats_; }

  /// Per upstream, counted by the forwarder thread: attempts, timeouts, other failures (errors,
  /// unusable replies), and failovers (a failed attempt after which the next upstream was tried).
  struct UpstreamCounters {
    uint64_t queries = 0, timeouts = 0, failures = 0, failovers = 0;
  };
  static constexpr size_t kMaxUpstreamCounters = 64;
  /// Any thread (the metrics scraper): a copy, in the order the upstreams were first asked.
  std::vector<std::pair<horizon::Endpoint, UpstreamCounters>> upstream_counters() const;

  /// Distinct questions in flight; beyond, SERVFAIL at once. Each holds a socket, so this also keeps
  /// a dead upstream under load from eating the descriptors that TCP clients need (default limit 1024).
  static constexpr size_t kMaxPending = 512;
  static constexpr size_t kMaxWaiters = 256;   ///< clients waiting on one question

 private:
  struct Waiter {
    horizon::ViewId view;
    query::ParsedQuery q;
    size_t limit;
    Deliver deliver;
  };
  struct Pending {
    Question question;
    std::vector<Waiter> waiters;
    std::vector<horizon::Endpoint> upstreams;  ///< as the first asker's snapshot had them
    horizon::ForwardSettings settings;
  };

  /// Follows a reload: one atomic load when nothing changed.
  void sync_cache(const zones::Snapshot& snap);
  void enqueue(Waiter w, std::vector<horizon::Endpoint> upstreams, horizon::ForwardSettings settings);
  boost::asio::awaitable<void> run(std::string key, std::shared_ptr<Pending> p);
  void answer(Waiter& w, const Answer* a, uint32_t elapsed);
  void count_upstream(const horizon::Endpoint& upstream, uint64_t UpstreamCounters::*field);
  void refuse(Waiter& w, int ede);

  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  Cache cache_;
  ForwardStats stats_;
  dnstap::Ring* tap_ = nullptr;
  mutable std::mutex upstream_counters_mu_;  ///< between the forwarder thread and the scraper
  std::vector<std::pair<horizon::Endpoint, UpstreamCounters>> upstream_counters_;
  std::atomic<uint64_t> cache_generation_{0};     ///< the newest snapshot generation sync_cache() saw
  std::mutex cache_config_mu_;
  std::vector<horizon::Endpoint> cache_upstreams_;  ///< guarded by cache_config_mu_: where cached answers came from
  /// Guarded by cache_config_mu_: the rebind rules the cached answers passed (policy.hpp).
  std::vector<std::string> cache_rebind_allow_;
  std::vector<horizon::IpPrefix> cache_own_subnets_;
  std::vector<std::string> cache_views_;  ///< guarded by cache_config_mu_: the view names cache keys number
  // Owned by the forwarder thread:
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending_;
  std::vector<horizon::Endpoint> upstreams_;  ///< the list preferred_ refers to
  size_t preferred_ = 0;  ///< index of the upstream that answered last
  Clock::time_point last_warning_{};  ///< failures are summarised at most once a minute, so a dead upstream cannot flood the log
  uint64_t failures_since_warning_ = 0;
};

}  // namespace phoenix::forward
