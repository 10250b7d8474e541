#include "notify_sender.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "server/net/endpoint.hpp"

namespace phoenix::server {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {
uint64_t unix_now() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}
}  // namespace

struct NotifySender::Flight {
  // The exchange keeps a pointer to the job's key (to verify the reply): both live here, together.
  Flight(asio::io_context& io, NotifyJob j, uint16_t id, xfr::NotifyPolicy policy)
      : job(std::move(j)),
        exchange(id, job.zone_wire, job.soa_ttl, job.soa_rdata, job.key ? &*job.key : nullptr, unix_now(), policy),
        socket(io),
        timer(io) {}
  NotifyJob job;
  xfr::NotifyExchange exchange;
  udp::socket socket;
  asio::steady_timer timer;
  udp::endpoint target, from;
  std::array<uint8_t, 4096> buf{};
  bool done = false;
  std::string describe() const {
    return "view " + job.view + ", zone " + job.zone + " serial " + std::to_string(job.serial) + " to " +
           job.target.to_string() + (job.key ? " (key " + job.key->name + ")" : "");
  }
};

NotifySender::NotifySender(asio::io_context& io, xfr::NotifyPolicy policy) : io_(io), policy_(policy) {}

NotifySender::~NotifySender() { stop(); }

void NotifySender::stop() {
  for (auto& [k, f] : flights_) {
    f->done = true;
    boost::system::error_code ec;
    f->timer.cancel();
    f->socket.close(ec);
  }
  flights_.clear();
}

void NotifySender::send(NotifyJob job) {
  Key key{job.view, job.zone, job.target.to_string()};
  if (auto it = flights_.find(key); it != flights_.end()) {
    spdlog::debug("notify: {}: superseded by serial {}", it->second->describe(), job.serial);
    count(key, &xfr::NotifyTally::superseded);
    it->second->done = true;
    boost::system::error_code ec;
    it->second->timer.cancel();
    it->second->socket.close(ec);
    flights_.erase(it);
  }
  auto f = std::make_shared<Flight>(io_, std::move(job), static_cast<uint16_t>(ids_()), policy_);
  if (f->exchange.message().empty()) {
    spdlog::error("notify: {}: cannot build the message", f->describe());
    count(key, &xfr::NotifyTally::sent);  // begun and failed at once: the counts still add up
    count(key, &xfr::NotifyTally::failed);
    return;
  }
  f->target = to_asio<udp>(f->job.target);
  boost::system::error_code ec;
  f->socket.open(f->target.protocol(), ec);
  if (!ec && f->job.source) f->socket.bind(to_asio<udp>(horizon::Endpoint{*f->job.source, 0}), ec);
  if (ec) {
    spdlog::warn("notify: {}: cannot open a socket ({}); not sent", f->describe(), ec.message());
    count(key, &xfr::NotifyTally::sent);
    count(key, &xfr::NotifyTally::failed);
    return;
  }
  flights_[key] = f;
  count(key, &xfr::NotifyTally::sent);
  receive(f);
  transmit(f);
}

void NotifySender::transmit(const std::shared_ptr<Flight>& f) {
  const auto& m = f->exchange.message();
  f->socket.async_send_to(asio::buffer(m), f->target, [this, f](const boost::system::error_code& ec, size_t) {
    if (f->done) return;
    // A failed send counts as a try: the wait below retries it as it would a lost datagram.
    if (ec) spdlog::debug("notify: {}: send failed ({})", f->describe(), ec.message());
    f->timer.expires_after(f->exchange.sent());
    f->timer.async_wait([this, f](const boost::system::error_code& tec) {
      if (tec || f->done) return;
      auto o = f->exchange.on_timeout();
      if (o == xfr::NotifyOutcome::resend) {
        spdlog::debug("notify: {}: no reply to try {}; sending again", f->describe(), f->exchange.tries());
        count(Key{f->job.view, f->job.zone, f->job.target.to_string()}, &xfr::NotifyTally::retried);
        transmit(f);
      } else {
        finish(f, o);
      }
    });
  });
}

void NotifySender::receive(const std::shared_ptr<Flight>& f) {
  f->socket.async_receive_from(asio::buffer(f->buf), f->from, [this, f](const boost::system::error_code& ec, size_t n) {
    if (f->done) return;
    if (ec) {
      // An ICMP port unreachable from an earlier try shows up here; the timer still decides.
      if (ec != asio::error::operation_aborted) receive(f);
      return;
    }
    if (f->from != f->target) {  // only the secondary itself acknowledges
      spdlog::debug("notify: {}: ignoring a datagram from {}", f->describe(), f->from.address().to_string());
      return receive(f);
    }
    auto o = f->exchange.on_reply(f->buf.data(), n, unix_now());
    if (o == xfr::NotifyOutcome::pending) {
      spdlog::debug("notify: {}: ignoring a reply ({})", f->describe(),
                    f->exchange.last_problem().empty() ? "not an answer to it" : f->exchange.last_problem());
      return receive(f);
    }
    finish(f, o);
  });
}

void NotifySender::finish(const std::shared_ptr<Flight>& f, xfr::NotifyOutcome outcome) {
  f->done = true;
  boost::system::error_code ec;
  f->timer.cancel();
  f->socket.close(ec);
  const auto& ex = f->exchange;
  const Key key{f->job.view, f->job.zone, f->job.target.to_string()};
  switch (outcome) {
    case xfr::NotifyOutcome::acknowledged:
      spdlog::info("notify: {}: acknowledged (try {})", f->describe(), ex.tries());
      count(key, &xfr::NotifyTally::acknowledged);
      break;
    case xfr::NotifyOutcome::rejected:
      spdlog::warn("notify: {}: refused by the secondary ({}, try {})", f->describe(), xfr::rcode_name(ex.rcode()),
                   ex.tries());
      count(key, &xfr::NotifyTally::rejected);
      break;
    default:
      spdlog::warn("notify: {}: no acknowledgement after {} tries{}", f->describe(), ex.tries(),
                   ex.last_problem().empty() ? "" : " (last reply: " + ex.last_problem() + ")");
      count(key, &xfr::NotifyTally::failed);
      break;
  }
  auto it = flights_.find(key);
  if (it != flights_.end() && it->second == f) flights_.erase(it);
}

void NotifySender::count(const Key& key, uint64_t xfr::NotifyTally::*field) {
  std::lock_guard lock(tally_mu_);
  auto [it, fresh] = tallies_.try_emplace(key);
  if (fresh) {
    it->second.view = std::get<0>(key);
    it->second.zone = std::get<1>(key);
    it->second.target = std::get<2>(key);
  }
  ++(it->second.*field);
}

std::vector<xfr::NotifyTally> NotifySender::tallies() const {
  std::lock_guard lock(tally_mu_);
  std::vector<xfr::NotifyTally> out;
  out.reserve(tallies_.size());
  for (auto& [k, t] : tallies_) out.push_back(t);
  return out;
}

}  // namespace phoenix::server
