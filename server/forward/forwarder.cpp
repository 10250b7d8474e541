#include "forwarder.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "policy.hpp"
#include "upstream.hpp"
#include "zones/rrset.hpp"

namespace phoenix::forward {

namespace asio = boost::asio;

Forwarder::Forwarder() : cache_(horizon::ForwardSettings{}.cache_max_bytes) {}

Forwarder::~Forwarder() { stop(); }

void Forwarder::start() {
  if (thread_.joinable()) return;
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] {
    // The task root: a stray exception is logged and the loop keeps forwarding.
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("forward: error ({}); continuing", e.what());
      }
    }
  });
}

void Forwarder::stop() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void Forwarder::sync_cache(const zones::Snapshot& snap) {
  if (snap.generation == cache_generation_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(cache_config_mu_);
  // A worker may still hold the previous snapshot for a moment during a reload: never go back.
  if (snap.generation < cache_generation_.load(std::memory_order_relaxed)) return;
  if (snap.upstreams != cache_upstreams_) {
    // Answers from former upstreams may describe another network's view of the world.
    if (!cache_upstreams_.empty()) cache_.clear();
    cache_upstreams_ = snap.upstreams;
    std::string list;
    for (auto& u : cache_upstreams_) list += (list.empty() ? "" : ", ") + u.to_string();
    spdlog::info("forward: upstreams {}", list.empty() ? "none" : list);
  }
  if (snap.forward.rebind_allow != cache_rebind_allow_ || snap.forward.own_subnets != cache_own_subnets_) {
    // A domain taken off rebind_allow must not keep its private answers until they expire.
    if (!cache_rebind_allow_.empty() || !cache_own_subnets_.empty()) cache_.clear();
    cache_rebind_allow_ = snap.forward.rebind_allow;
    cache_own_subnets_ = snap.forward.own_subnets;
  }
  std::vector<std::string> views;
  for (auto& vd : snap.view_data) views.push_back(vd.name);
  if (views != cache_views_) {
    // Keys number the views: after views are added, removed or reordered, one number may name another view.
    if (!cache_views_.empty()) cache_.clear();
    cache_views_ = std::move(views);
  }
  if (snap.forward.cache_max_bytes != cache_.max_bytes()) cache_.set_max_bytes(snap.forward.cache_max_bytes);
  cache_generation_.store(snap.generation, std::memory_order_release);
}

size_t Forwarder::reply(const zones::Snapshot& snap, const query::PrecompiledInput& in, uint8_t* out) noexcept {
  try {
    sync_cache(snap);  // one atomic load unless a reload happened
  } catch (const std::exception&) {
    return 0;  // out of memory following a reload: a miss, which the forwarder thread answers
  }
  const query::ParsedQuery& q = in.q;
  uint8_t key[kMaxKey];
  const size_t n = make_key(in.view, q.qname_lower, q.qname_len, q.qtype, q.qclass, q.do_bit, q.cd, key);
  const auto now = Clock::now();
  // Counted by the caller, in its own per-worker counters.
  return cache_.serve(std::string_view(reinterpret_cast<const char*>(key), n), now, [&](const Answer& a) {
    return query::write_stored_reply(stored_reply(a, age_of(a, now)), in, out);
  });
}

void Forwarder::count_upstream(const horizon::Endpoint& upstream, uint64_t UpstreamCounters::*field) {
  std::lock_guard lock(upstream_counters_mu_);
  for (auto& [ep, c] : upstream_counters_)
    if (ep == upstream) {
      ++(c.*field);
      return;
    }
  // Bounded: upstream lists are short, but reloads may name new ones for as long as the server runs.
  if (upstream_counters_.size() >= kMaxUpstreamCounters) return;
  upstream_counters_.emplace_back(upstream, UpstreamCounters{});
  ++(upstream_counters_.back().second.*field);
}

std::vector<std::pair<horizon::Endpoint, Forwarder::UpstreamCounters>> Forwarder::upstream_counters() const {
  std::lock_guard lock(upstream_counters_mu_);
  return upstream_counters_;
}

void Forwarder::resolve(const zones::Snapshot& snap, const query::ForwardRequest& req, size_t limit, Deliver deliver) {
  asio::post(io_, [this, w = Waiter{req.view, req.query, limit, std::move(deliver)}, ups = snap.upstreams,
                   s = snap.forward]() mutable {
    enqueue(std::move(w), std::move(ups), s);
  });
}

void Forwarder::answer(Waiter& w, const Answer* a, uint32_t elapsed) {
  std::vector<uint8_t> reply(w.limit);
  size_t n = a ? write_client_reply(*a, w.q, elapsed, reply.data(), reply.size()) : 0;
  if (n == 0) {
    n = write_servfail(w.q, reply.data(), reply.size());
    stats_.servfail.fetch_add(1, std::memory_order_relaxed);
  }
  reply.resize(n);
  try {
    if (n) w.deliver(std::move(reply));
  } catch (const std::exception& e) {
    spdlog::warn("forward: cannot hand a reply back ({})", e.what());
  }
}

void Forwarder::refuse(Waiter& w, int ede) {
  std::vector<uint8_t> reply(w.limit);
  reply.resize(write_refused(w.q, ede, reply.data(), reply.size()));
  try {
    if (!reply.empty()) w.deliver(std::move(reply));
  } catch (const std::exception& e) {
    spdlog::warn("forward: cannot hand a reply back ({})", e.what());
  }
}

void Forwarder::enqueue(Waiter w, std::vector<horizon::Endpoint> upstreams, horizon::ForwardSettings settings) {
  Question question = question_of(w.q);
  // Per view: coalesced with the same question from the same view, cached for that view.
  std::string key = make_key(question, w.view);
  // The answer may have arrived while this question was on its way here.
  auto now = Clock::now();
  if (auto a = cache_.find(key, now)) {
    stats_.cache_hits.fetch_add(1, std::memory_order_relaxed);
    answer(w, a.get(), age_of(*a, now));
    return;
  }
  if (!w.q.rd) {
    // The client asked us not to recurse (RFC 1035 §4.3.1), so it gets what the cache holds or
    // nothing, as from BIND and Unbound: REFUSED, EDE 20 (RFC 8914 §4.21), and no upstream query.
    stats_.not_recursed.fetch_add(1, std::memory_order_relaxed);
    refuse(w, 20);
    return;
  }
  if (auto it = pending_.find(key); it != pending_.end()) {
    // The same question is already upstream: wait for that answer instead of asking again.
    if (it->second->waiters.size() >= kMaxWaiters) {
      stats_.overload.fetch_add(1, std::memory_order_relaxed);
      answer(w, nullptr, 0);
      return;
    }
    stats_.coalesced.fetch_add(1, std::memory_order_relaxed);
    it->second->waiters.push_back(std::move(w));
    return;
  }
  if (pending_.size() >= kMaxPending || upstreams.empty()) {
    stats_.overload.fetch_add(1, std::memory_order_relaxed);
    answer(w, nullptr, 0);
    return;
  }
  auto p = std::make_shared<Pending>();
  p->question = std::move(question);
  p->waiters.push_back(std::move(w));
  p->upstreams = std::move(upstreams);
  p->settings = settings;
  pending_.emplace(key, p);
  stats_.resolutions.fetch_add(1, std::memory_order_relaxed);
  asio::co_spawn(io_, run(std::move(key), std::move(p)), asio::detached);
}

asio::awaitable<void> Forwarder::run(std::string key, std::shared_ptr<Pending> p) {
  std::shared_ptr<Answer> result;
  bool rebind = false;
  const auto& upstreams = p->upstreams;
  const auto& settings = p->settings;
  if (upstreams != upstreams_) {
    upstreams_ = upstreams;
    preferred_ = 0;
  }
  try {
    const auto deadline = Clock::now() + std::chrono::milliseconds(settings.total_timeout_ms);
    const size_t n = upstreams.size();
    const size_t first = preferred_;
    for (size_t i = 0; i < n && Clock::now() < deadline; ++i) {
      size_t idx = (first + i) % n;
      auto attempt_deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(settings.timeout_ms));
      count_upstream(upstreams[idx], &UpstreamCounters::queries);
      Exchange ex = co_await exchange(io_, upstreams[idx], p->question, settings, attempt_deadline, tap_);
      if (ex.status == Exchange::Status::ok) {
        if (upstreams == upstreams_) preferred_ = idx;
        if (auto addr = rebind_violation(ex.answer.wire, p->question.qname, settings)) {
          // DNS rebinding: a name from outside pointing into our network. Debug only, since any web
          // page can cause these; the counter shows how often.
          rebind = true;
          stats_.rebind_blocked.fetch_add(1, std::memory_order_relaxed);
          spdlog::debug("forward: {} {} from {} has the private address {}; refused (rebind protection)",
                        zones::Name::from_wire(p->question.qname).to_text(), zones::type_to_text(p->question.qtype),
                        upstreams[idx].to_string(), *addr);
          break;
        }
        result = std::make_shared<Answer>(std::move(ex.answer));
        break;
      }
      const bool timeout = ex.status == Exchange::Status::timeout;
      (timeout ? stats_.upstream_timeouts : stats_.upstream_failures).fetch_add(1, std::memory_order_relaxed);
      count_upstream(upstreams[idx], timeout ? &UpstreamCounters::timeouts : &UpstreamCounters::failures);
      if (i + 1 < n && Clock::now() < deadline) count_upstream(upstreams[idx], &UpstreamCounters::failovers);
      ++failures_since_warning_;
      if (auto now = Clock::now(); now - last_warning_ >= std::chrono::minutes(1)) {
        spdlog::warn("forward: upstream {} did not answer ({}); {} failed attempts since the last report",
                     upstreams[idx].to_string(), timeout ? "timeout" : "error or unusable reply",
                     failures_since_warning_);
        last_warning_ = now;
        failures_since_warning_ = 0;
      }
    }
  } catch (const std::exception& e) {
    spdlog::warn("forward: resolution failed ({})", e.what());
    result.reset();
  }
  pending_.erase(key);
  if (result) {
    // Only answers from the current upstreams enter the cache (a reload may have happened meanwhile).
    std::lock_guard lock(cache_config_mu_);
    if (upstreams == cache_upstreams_) cache_.insert(key, result);
  }
  for (auto& w : p->waiters) {
    // EDE 15 "Blocked" (RFC 8914 §4.16): refused by the operator's policy, not an upstream failure.
    if (rebind) refuse(w, 15);
    else answer(w, result.get(), 0);
  }
}

}  // namespace phoenix::forward
