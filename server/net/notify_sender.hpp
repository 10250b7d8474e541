// notify_sender -- sends the NOTIFYs (RFC 1996) that xfr::NotifyExchange builds and judges: one UDP
// socket per exchange, its retransmissions on a timer, every outcome logged. Runs on the io_context it
// is given (the server's control thread), never on a query worker; nothing in it blocks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>

#include "horizon/inventory.hpp"
#include "server/xfr/notify_message.hpp"

namespace phoenix::server {

using xfr::NotifyJob;

class NotifySender {
 public:
  explicit NotifySender(boost::asio::io_context& io, xfr::NotifyPolicy policy = {});
  ~NotifySender();
  NotifySender(const NotifySender&) = delete;
  NotifySender& operator=(const NotifySender&) = delete;

  /// Starts announcing `job`; an exchange still going for the same view, zone and target is dropped
  /// (its serial is stale: the secondary asks for the current one either way).
  void send(NotifyJob job);
  /// Ends every exchange (at stop); nothing is logged for them.
  void stop();
  size_t in_flight() const { return flights_.size(); }

 private:
  struct Flight;
  using Key = std::tuple<std::string, std::string, std::string>;
  void finish(const std::shared_ptr<Flight>& f, xfr::NotifyOutcome outcome);
  void transmit(const std::shared_ptr<Flight>& f);
  void receive(const std::shared_ptr<Flight>& f);

  boost::asio::io_context& io_;
  xfr::NotifyPolicy policy_;
  std::map<Key, std::shared_ptr<Flight>> flights_;
  std::mt19937 ids_{std::random_device{}()};  ///< message ids (RFC 5452 §9.2: not guessable)
};

}  // namespace phoenix::server
