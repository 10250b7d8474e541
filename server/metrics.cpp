#include "metrics.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>

#include "server/http_request.hpp"
#include "server/net/endpoint.hpp"

namespace phoenix::server {

// ---- Exposition

namespace {

void append_escaped(std::string& out, std::string_view v, bool quote_too) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote_too) out += "\\\"";
    else out += c;
  }
}

}  // namespace

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::head(std::string_view name, Labels labels) {
  out_ += name;
  if (labels.size()) {
    char sep = '{';
    for (auto& [k, v] : labels) {
      out_ += sep;
      out_ += k;
      out_ += "=\"";
      append_escaped(out_, v, true);
      out_ += '"';
      sep = ',';
    }
    out_ += '}';
  }
  out_ += ' ';
}

void Exposition::sample(std::string_view name, Labels labels, uint64_t value) {
  head(name, labels);
  out_ += std::to_string(value);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, Labels labels, double value) {
  head(name, labels);
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  out_.append(buf, r.ptr);
  out_ += '\n';
}

// ---- MetricSlots

void MetricSlots::assign(zones::Snapshot& snap) {
  std::lock_guard lock(mu_);
  for (auto& vd : snap.view_data) {
    vd.metrics_slot = static_cast<uint8_t>(views_.slot(vd.name));
    const auto own = vd.own_zones();
    vd.zone_slots.resize(own.size());
    for (size_t i = 0; i < own.size(); ++i)
      vd.zone_slots[i] = static_cast<uint16_t>(zones_.slot({vd.name, own[i]->origin().to_text()}));
    // "none" cannot be a zone's label: those end with a dot.
    vd.unknown_zone_slot = static_cast<uint16_t>(zones_.slot({vd.name, "none"}));
  }
  snap.tsig_key_slots.resize(snap.tsig_keys.size());
  for (size_t i = 0; i < snap.tsig_keys.size(); ++i)
    snap.tsig_key_slots[i] = static_cast<uint8_t>(keys_.slot(snap.tsig_keys[i].name));
}

std::vector<std::string> MetricSlots::names() const {
  std::lock_guard lock(mu_);
  auto n = views_.labels();
  // The overflow slot is labelled only once some view had to share it.
  if (views_.full()) n.push_back("other");
  return n;
}

std::vector<MetricSlots::ZoneLabel> MetricSlots::zones() const {
  std::lock_guard lock(mu_);
  return zones_.labels();
}

std::vector<std::string> MetricSlots::keys() const {
  std::lock_guard lock(mu_);
  return keys_.labels();
}

// ---- render_metrics

namespace {

/// The workers' counters summed per transport, in first-seen order.
struct Transport {
  std::string_view name;
  std::vector<const query::QueryStats*> stats;
  template <class F>
  uint64_t sum(F&& f) const {
    uint64_t n = 0;
    for (auto* s : stats) n += f(*s);
    return n;
  }
};

std::vector<Transport> by_transport(const std::vector<WorkerStats>& workers) {
  std::vector<Transport> out;
  for (auto& w : workers) {
    auto it = std::find_if(out.begin(), out.end(), [&](const Transport& t) { return t.name == w.transport; });
    if (it == out.end()) it = out.insert(out.end(), Transport{w.transport, {}});
    it->stats.push_back(w.stats);
  }
  return out;
}

constexpr std::string_view kP = "phoenix_dns_";

std::string n(std::string_view suffix) { return std::string(kP) + std::string(suffix); }

/// The samples of a family by view, transport and one more label, whose values `names` match the
/// cells `cells` of each view's counters. Slot 0 and the overflow slot only when used; a named view
/// shows every value, zeros too.
template <size_t N>
void per_view(Exposition& e, const std::string& name, std::string_view label, const std::array<std::string_view, N>& names,
              std::array<query::Counter, N> query::ViewCounters::*cells, const std::vector<Transport>& transports,
              const std::vector<std::string>& view_names, size_t slots) {
  for (size_t v = 0; v < slots; ++v)
    for (auto& t : transports)
      for (size_t i = 0; i < N; ++i) {
        uint64_t c = t.sum([&](const query::QueryStats& s) { return (s.by_view[v].*cells)[i].load(); });
        if (c || (v != query::kNoViewSlot && v != query::kOtherViewSlot))
          e.sample(name, {{"view", view_names[v]}, {"transport", t.name}, {label, names[i]}}, c);
      }
}

/// Sums one cell of every worker's counters, whatever its transport.
template <class F>
uint64_t sum_workers(const MetricsInput& in, F&& f) {
  uint64_t n = 0;
  for (auto& w : in.workers) n += f(*w.stats);
  return n;
}

std::string bound_text(double b) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, b);
  return std::string(buf, r.ptr);
}

/// Transfers by view, zone and type. A (view, zone) the current snapshot serves to someone (the view
/// has transfer.allow entries) shows its "ok" series and its sent/duration series with zeros too, so
/// that rate() sees them from the start; the others (refusals, zones gone since, the "none" and
/// "other" slots) appear once counted.
void render_transfers(Exposition& e, const MetricsInput& in) {
  using query::XfrCounters;
  using query::XfrForm;
  using query::XfrResult;
  using query::XfrType;
  const size_t slots = std::min(in.zone_slots.size(), query::kZoneSlots);
  std::vector<bool> live(slots, false);
  if (in.snapshot)
    for (auto& vd : in.snapshot->view_data)
      for (size_t i = 0; i < vd.own_zones().size() && !vd.transfer.allow.empty(); ++i)
        if (size_t z = vd.zone_slot(i); z != query::kOtherZoneSlot && z < slots) live[z] = true;
  auto cell = [&](size_t slot, auto&& f) {
    return sum_workers(in, [&](const query::QueryStats& s) { return f(s.xfr[slot]).load(); });
  };
  // Which forms a type can answer with: AXFR only the zone, IXFR over UDP anything.
  auto form_of = [](XfrType t, XfrForm f) {
    switch (t) {
      case XfrType::axfr: return f == XfrForm::axfr;
      case XfrType::ixfr: return f != XfrForm::soa_only;
      case XfrType::ixfr_udp: break;
    }
    return true;
  };

  e.family(n("transfers_total"), "counter",
           "Zone transfer requests that reached a view, by view, zone (\"none\": a name that is no zone of the view), "
           "type (axfr, ixfr over TCP, ixfr_udp), form (what was streamed: axfr, incremental, up_to_date = the SOA "
           "alone, soa_only = the SOA alone because the answer did not fit a datagram; \"none\" for errors) and "
           "result (ok, aborted, failed; refused, notauth, formerr, busy, servfail).");
  for (size_t z = 0; z < slots; ++z) {
    const auto& [view, zone] = in.zone_slots[z];
    for (size_t t = 0; t < query::kXfrTypeNames.size(); ++t)
      for (size_t r = 0; r < query::kXfrResultNames.size(); ++r) {
        const auto result = static_cast<XfrResult>(r);
        const bool streamed = r < query::kXfrStreamed;
        for (size_t f = 0; f < (streamed ? query::kXfrFormNames.size() : 1); ++f) {
          const auto form = static_cast<XfrForm>(f);
          const size_t o = XfrCounters::outcome(result, form);
          const uint64_t c = cell(z, [&](const XfrCounters& x) -> const query::Counter& { return x.outcomes[t][o]; });
          const bool zero_ok = live[z] && result == XfrResult::ok && form_of(static_cast<XfrType>(t), form);
          if (!c && !zero_ok) continue;
          e.sample(n("transfers_total"),
                   {{"view", view}, {"zone", zone}, {"type", query::kXfrTypeNames[t]},
                    {"form", streamed ? query::kXfrFormNames[f] : std::string_view("none")},
                    {"result", query::kXfrResultNames[r]}},
                   c);
        }
      }
  }

  struct Sent {
    std::string_view name, help;
    std::array<query::Counter, query::kXfrTypeNames.size()> XfrCounters::*field;
  };
  for (auto f : {Sent{"transfer_messages_total", "DNS messages sent in transfers (streamed, or the one datagram of an IXFR over UDP), by view, zone and type.", &XfrCounters::messages},
                 Sent{"transfer_bytes_total", "Octets of the DNS messages sent in transfers (without TCP's two-octet length), by view, zone and type.", &XfrCounters::bytes}}) {
    e.family(n(f.name), "counter", f.help);
    for (size_t z = 0; z < slots; ++z)
      for (size_t t = 0; t < query::kXfrTypeNames.size(); ++t) {
        const uint64_t c = cell(z, [&](const XfrCounters& x) -> const query::Counter& { return (x.*f.field)[t]; });
        if (c || live[z])
          e.sample(n(f.name), {{"view", in.zone_slots[z].first}, {"zone", in.zone_slots[z].second}, {"type", query::kXfrTypeNames[t]}}, c);
      }
  }

  const std::string h = n("transfer_duration_seconds");
  e.family(h, "histogram", "How long streaming a transfer over TCP took, from the first message to the last taken by the socket (aborted ones too), by view, zone and type.");
  std::vector<std::string> bounds;
  for (double b : XfrCounters::kDurationBounds) bounds.push_back(bound_text(b));
  bounds.push_back("+Inf");
  for (size_t z = 0; z < slots; ++z)
    for (size_t t = 0; t < 2; ++t) {
      uint64_t cumulative = 0;
      std::vector<uint64_t> buckets;
      for (size_t b = 0; b < bounds.size(); ++b)
        buckets.push_back(cumulative += cell(z, [&](const XfrCounters& x) -> const query::Counter& { return x.duration_buckets[t][b]; }));
      if (!cumulative && !live[z]) continue;
      const auto& [view, zone] = in.zone_slots[z];
      for (size_t b = 0; b < bounds.size(); ++b)
        e.sample(h + "_bucket", {{"view", view}, {"zone", zone}, {"type", query::kXfrTypeNames[t]}, {"le", bounds[b]}}, buckets[b]);
      const uint64_t us = cell(z, [&](const XfrCounters& x) -> const query::Counter& { return x.duration_us[t]; });
      e.sample(h + "_sum", {{"view", view}, {"zone", zone}, {"type", query::kXfrTypeNames[t]}}, static_cast<double>(us) / 1e6);
      e.sample(h + "_count", {{"view", view}, {"zone", zone}, {"type", query::kXfrTypeNames[t]}}, cumulative);
    }
}

/// NOTIFY as the primary sends it, per view, zone and target.
void render_notify(Exposition& e, const MetricsInput& in) {
  struct PerTarget {
    std::string_view name, help;
    uint64_t xfr::NotifyTally::*field;
  };
  for (auto f : {PerTarget{"notify_sent_total", "NOTIFY exchanges begun (RFC 1996), one per changed zone per target; each ends acknowledged, rejected, failed or superseded.", &xfr::NotifyTally::sent},
                 PerTarget{"notify_retries_total", "NOTIFY messages sent again after no acknowledgement in time (RFC 1996 section 3.6).", &xfr::NotifyTally::retried},
                 PerTarget{"notify_acknowledged_total", "NOTIFY exchanges the secondary acknowledged (NOERROR, verified when signed).", &xfr::NotifyTally::acknowledged},
                 PerTarget{"notify_rejected_total", "NOTIFY exchanges the secondary answered with an error rcode (not sent again).", &xfr::NotifyTally::rejected},
                 PerTarget{"notify_failed_total", "NOTIFY exchanges given up: no acknowledgement after the last try, or no socket to send from.", &xfr::NotifyTally::failed},
                 PerTarget{"notify_superseded_total", "NOTIFY exchanges replaced by a newer serial of the zone before they ended.", &xfr::NotifyTally::superseded}}) {
    e.family(n(f.name), "counter", f.help);
    for (auto& t : in.notify) e.sample(n(f.name), {{"view", t.view}, {"zone", t.zone}, {"target", t.target}}, t.*f.field);
  }
}

/// TSIG (RFC 8945) verification of signed requests, per transport.
void render_tsig(Exposition& e, const MetricsInput& in, const std::vector<Transport>& transports) {
  e.family(n("tsig_failures_total"), "counter",
           "Signed requests not accepted, by transport and error: BADKEY, BADSIG, BADTIME, BADTRUNC (answered NOTAUTH "
           "with that TSIG error, RFC 8945 section 5.2), FORMERR (a TSIG that does not parse or is not last).");
  for (auto& t : transports)
    for (size_t i = 0; i < query::kTsigFailureNames.size(); ++i)
      e.sample(n("tsig_failures_total"), {{"transport", t.name}, {"error", query::kTsigFailureNames[i]}},
               t.sum([&](const query::QueryStats& s) { return s.tsig_failed[i].load(); }));
  e.family(n("tsig_accepted_total"), "counter",
           "Signed requests whose signature verified, by transport and key (\"other\": keys beyond the table).");
  const size_t keys = std::min(in.key_names.size(), query::kKeySlots);
  for (size_t k = 0; k < keys; ++k)
    for (auto& t : transports) {
      const uint64_t c = t.sum([&](const query::QueryStats& s) { return s.tsig_accepted[k].load(); });
      if (c || k != query::kOtherKeySlot) e.sample(n("tsig_accepted_total"), {{"transport", t.name}, {"key", in.key_names[k]}}, c);
    }
}

}  // namespace

std::string render_metrics(const MetricsInput& in) {
  Exposition e;
  const auto transports = by_transport(in.workers);
  const size_t slots = std::min(in.view_names.size(), query::kViewSlots);

  e.family(n("build_info"), "gauge", "Always 1; the version of the running server.");
  e.sample(n("build_info"), {{"version", PHOENIX_VERSION}}, uint64_t{1});

  e.family(n("queries_total"), "counter",
           "Queries received with a question, by view (\"none\": answered before a view was chosen), transport "
           "and query type (a fixed set; the rest is \"other\"); forwarded ones included.");
  per_view(e, n("queries_total"), "qtype", query::kQtypeNames, &query::ViewCounters::qtype, transports, in.view_names, slots);

  e.family(n("responses_total"), "counter",
           "Replies written from our own data or as errors, by view, transport and rcode (forwarded replies are in "
           "phoenix_dns_forwarded_queries_total).");
  per_view(e, n("responses_total"), "rcode", query::kRcodeNames, &query::ViewCounters::rcode, transports, in.view_names, slots);

  e.family(n("forwarded_queries_total"), "counter", "Queries handed to the forwarder (cache, then upstreams), by view and transport.");
  for (size_t v = 1; v < slots; ++v)
    for (auto& t : transports)
      e.sample(n("forwarded_queries_total"), {{"view", in.view_names[v]}, {"transport", t.name}},
               t.sum([&](const query::QueryStats& s) { return s.by_view[v].forwarded.load(); }));

  e.family(n("cookies_total"), "counter",
           "Queries with a DNS cookie (RFC 7873), by view, transport and what it carried: client_only, valid (a "
           "server cookie that verified: exempt from rate limiting), invalid (one that did not: treated as none). "
           "BADCOOKIE replies are in phoenix_dns_responses_total.");
  per_view(e, n("cookies_total"), "cookie", query::kCookieNames, &query::ViewCounters::cookies, transports, in.view_names, slots);

  // Response rate limiting applies to UDP replies only (TCP proves the source address).
  struct PerRrl {
    std::string_view name, help;
    query::Counter query::RrlCounters::*field;
  };
  for (auto f : {PerRrl{"rate_limited_total", "UDP replies over the response rate limit (dropped plus slipped), by view.", &query::RrlCounters::limited},
                 PerRrl{"rate_limited_dropped_total", "Replies over the rate limit not sent at all, by view.", &query::RrlCounters::dropped},
                 PerRrl{"rate_limited_slipped_total", "Replies over the rate limit sent truncated instead (TC=1, the slip setting), by view.", &query::RrlCounters::slipped}}) {
    e.family(n(f.name), "counter", f.help);
    for (size_t v = 1; v < slots; ++v) {
      uint64_t k = 0;
      for (auto* l : in.rate_limiters) k += (l->counters(static_cast<uint8_t>(v)).*f.field).load();
      if (k || v != query::kOtherViewSlot) e.sample(n(f.name), {{"view", in.view_names[v]}, {"transport", "udp"}}, k);
    }
  }

  struct PerTransport {
    std::string_view name, help;
    query::Counter query::QueryStats::*field;
  };
  for (auto f : {PerTransport{"responses_truncated_total", "Replies sent with TC set (too large for the client's UDP limit).", &query::QueryStats::truncated},
                 PerTransport{"malformed_dropped_total", "Messages dropped without a reply (responses, or too short to answer).", &query::QueryStats::dropped},
                 PerTransport{"cache_hits_total", "Forwarded queries answered from the cache.", &query::QueryStats::cache_hits},
                 PerTransport{"cache_misses_total", "Forwarded queries the cache could not answer (sent upstream).", &query::QueryStats::cache_misses},
                 PerTransport{"notify_incoming_refused_total", "NOTIFY messages received and refused: this server is the primary of every zone it serves.", &query::QueryStats::notify_refused}}) {
    e.family(n(f.name), "counter", f.help);
    for (auto& t : transports)
      e.sample(n(f.name), {{"transport", t.name}}, t.sum([&](const query::QueryStats& s) { return (s.*f.field).load(); }));
  }

  if (in.forwarding) {
    e.family(n("cache_entries"), "gauge", "Answers in the forwarding cache.");
    e.sample(n("cache_entries"), {}, in.cache_entries);
    e.family(n("cache_bytes"), "gauge", "Memory charged to the forwarding cache (approximate).");
    e.sample(n("cache_bytes"), {}, in.cache_bytes);
    e.family(n("cache_evictions_total"), "counter", "Cache entries pushed out by the memory bound (cache_max_bytes).");
    e.sample(n("cache_evictions_total"), {}, in.cache_evictions);
    e.family(n("forward_servfail_total"), "counter", "Forwarded queries answered SERVFAIL (no upstream answered in time, or overload).");
    e.sample(n("forward_servfail_total"), {}, in.forward_servfail);
    struct PerUpstream {
      std::string_view name, help;
      uint64_t UpstreamSample::*field;
    };
    for (auto f : {PerUpstream{"upstream_queries_total", "Questions sent to this upstream (each attempt).", &UpstreamSample::queries},
                   PerUpstream{"upstream_timeouts_total", "Attempts at this upstream that timed out.", &UpstreamSample::timeouts},
                   PerUpstream{"upstream_failures_total", "Attempts at this upstream that failed otherwise (error, unusable reply).", &UpstreamSample::failures},
                   PerUpstream{"upstream_failovers_total", "Failed attempts at this upstream after which the next one was asked.", &UpstreamSample::failovers}}) {
      e.family(n(f.name), "counter", f.help);
      for (auto& u : in.upstreams) e.sample(n(f.name), {{"upstream", u.upstream}}, u.*f.field);
    }
  }

  if (in.reloads) {
    e.family(n("reloads_total"), "counter", "Reloads (SIGHUP) by result; a failed one keeps the last good data.");
    e.sample(n("reloads_total"), {{"result", "succeeded"}}, in.reloads->succeeded.load());
    e.sample(n("reloads_total"), {{"result", "failed"}}, in.reloads->failed.load());
    if (int64_t ms = in.reloads->last_unix_ms.load()) {
      e.family(n("last_reload_timestamp_seconds"), "gauge", "When the last reload finished (Unix time).");
      e.sample(n("last_reload_timestamp_seconds"), {}, static_cast<double>(ms) / 1e3);
      e.family(n("last_reload_duration_seconds"), "gauge", "How long the last reload took to read and build.");
      e.sample(n("last_reload_duration_seconds"), {}, static_cast<double>(in.reloads->last_duration_us.load()) / 1e6);
      e.family(n("last_reload_success"), "gauge", "1 if the last reload was published, 0 if it was refused.");
      e.sample(n("last_reload_success"), {}, uint64_t{in.reloads->last_ok.load() ? 1u : 0u});
    }
  }
  e.family(n("generation"), "gauge", "The data generation being served (1 at start, +1 per published reload).");
  e.sample(n("generation"), {}, in.generation);

  if (in.snapshot) {
    e.family(n("zone_records"), "gauge", "Records in each zone, per view.");
    for (auto& vd : in.snapshot->view_data)
      for (auto& z : vd.own_zones())
        e.sample(n("zone_records"), {{"view", vd.name}, {"zone", z->origin().to_text()}}, uint64_t{z->record_count()});
    e.family(n("zone_serial"), "gauge", "The SOA serial of each zone, per view.");
    for (auto& vd : in.snapshot->view_data)
      for (auto& z : vd.own_zones())
        e.sample(n("zone_serial"), {{"view", vd.name}, {"zone", z->origin().to_text()}}, uint64_t{z->serial()});
  }

  if (in.tcp) {
    e.family(n("tcp_connections_open"), "gauge", "TCP connections open now.");
    e.sample(n("tcp_connections_open"), {}, in.tcp->open.load());
    e.family(n("tcp_connections_accepted_total"), "counter", "TCP connections accepted.");
    e.sample(n("tcp_connections_accepted_total"), {}, in.tcp->accepted.load());
    e.family(n("tcp_connections_closed_total"), "counter",
             "TCP connections closed by the server, by reason: idle (RFC 7766 section 6.2.3), evicted (the longest "
             "idle, to make room at the cap), slow (a message not whole in time), unsent (a client not reading).");
    e.sample(n("tcp_connections_closed_total"), {{"reason", "idle"}}, in.tcp->closed_idle.load());
    e.sample(n("tcp_connections_closed_total"), {{"reason", "evicted"}}, in.tcp->evicted.load());
    e.sample(n("tcp_connections_closed_total"), {{"reason", "slow"}}, in.tcp->closed_slow.load());
    e.sample(n("tcp_connections_closed_total"), {{"reason", "unsent"}}, in.tcp->closed_unsent.load());
    e.family(n("tcp_connections_refused_total"), "counter",
             "TCP connections closed at once because their client already held its share of the table.");
    e.sample(n("tcp_connections_refused_total"), {}, in.tcp->refused_per_client.load());
  }
  render_transfers(e, in);
  render_notify(e, in);
  render_tsig(e, in, transports);
  if (in.extra) in.extra(e);
  return e.text();
}

// ---- MetricsServer

MetricsServer::MetricsServer(const horizon::Endpoint& ep, std::function<std::string()> render)
    : render_(std::move(render)) {
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(ep, ss);
  auto fail = [&](const char* what) {
    int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::system_error(err, std::generic_category(), std::string(what) + " metrics " + ep.to_string());
  };
  fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) fail("socket");
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0) fail("bind");
  if (::listen(fd_, 16) != 0) fail("listen");
  socklen_t got = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &got) != 0) fail("getsockname");
  port_ = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) fail("pipe");
}

MetricsServer::~MetricsServer() {
  stop();
  for (auto& c : conns_) ::close(c.fd);
  if (fd_ >= 0) ::close(fd_);
  for (int f : wake_)
    if (f >= 0) ::close(f);
}

void MetricsServer::start() {
  thread_ = std::thread([this] { run(); });
  ::pthread_setname_np(thread_.native_handle(), "metrics");
}

void MetricsServer::stop() {
  if (!thread_.joinable()) return;
  char c = 1;
  [[maybe_unused]] auto ignored = ::write(wake_[1], &c, 1);
  thread_.join();
}

void MetricsServer::run() noexcept {
  for (;;) {
    try {
      serve();
      return;
    } catch (const std::exception& e) {
      spdlog::error("metrics: error ({}); continuing", e.what());
    }
  }
}

void MetricsServer::serve() {
  using Clock = std::chrono::steady_clock;
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({fd_, POLLIN, 0});
    auto now = Clock::now();
    auto next = now + kDeadline;
    for (auto& c : conns_) {
      fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
      next = std::min(next, c.deadline);
    }
    int wait_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()) + 1;
    int r = ::poll(fds.data(), fds.size(), wait_ms);
    if (r < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    if (fds[0].revents) return;  // stop()
    now = Clock::now();
    // Existing connections first (their indexes match fds[2..]); closed ones are marked fd = -1.
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      short ev = fds[i + 2].revents;
      bool done = false;
      if (ev & (POLLERR | POLLHUP | POLLNVAL)) {
        done = true;
      } else if (ev & POLLIN) {
        char buf[2048];
        ssize_t k = ::recv(c.fd, buf, sizeof buf, 0);
        if (k <= 0) {
          done = k == 0 || (errno != EAGAIN && errno != EINTR);
        } else {
          c.in.append(buf, static_cast<size_t>(k));
          auto end = c.in.find("\r\n\r\n");
          if (end == std::string::npos) end = c.in.find("\n\n");
          if (end != std::string::npos || c.in.size() > kMaxRequest) c.out = respond(c.in);
        }
      } else if (ev & POLLOUT) {
        ssize_t k = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) c.sent += static_cast<size_t>(k);
        done = (k < 0 && errno != EAGAIN && errno != EINTR) || c.sent == c.out.size();
      }
      if (!done && now >= c.deadline) done = true;  // too slow, whichever side: dropped, never waited on
      if (done) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(conns_, [](const Conn& c) { return c.fd < 0; });
    if (fds[1].revents & POLLIN) {
      for (int k = 0; k < 16; ++k) {
        int cfd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) break;
        if (conns_.size() >= kMaxConnections) {
          ::close(cfd);
          continue;
        }
        conns_.push_back(Conn{cfd, {}, {}, 0, now + kDeadline});
      }
    }
  }
}

std::string MetricsServer::respond(const std::string& head) {
  auto reply = [](std::string_view status, std::string_view type, const std::string& body, bool with_body) {
    std::string r = "HTTP/1.1 ";
    r += status;
    r += "\r\nContent-Type: ";
    r += type;
    r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (with_body) r += body;
    return r;
  };
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  const HttpVerdict verdict = classify_request(head, kMaxRequest);
  switch (verdict) {
    case HttpVerdict::too_large: return reply("431 Request Header Fields Too Large", kText, "request too large\n", true);
    case HttpVerdict::bad_request: return reply("400 Bad Request", kText, "bad request\n", true);
    case HttpVerdict::not_found: return reply("404 Not Found", kText, "only /metrics is served here\n", true);
    case HttpVerdict::bad_method: return reply("405 Method Not Allowed", kText, "GET or HEAD\n", true);
    case HttpVerdict::get_metrics:
    case HttpVerdict::head_metrics: break;
  }
  return reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", render_(),
               verdict == HttpVerdict::get_metrics);
}

}  // namespace phoenix::server
