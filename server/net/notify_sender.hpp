// notify_sender -- sends the NOTIFYs (RFC 1996) that xfr::NotifyExchange builds and judges: one UDP
// socket per exchange, its retransmissions on a timer, every outcome logged. Runs on the io_context it
// is given (the server's control thread), never on a query worker; nothing in it blocks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

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
  /// Every (view, zone, target) announced since start, with its counts; any thread (the scraper).
  std::vector<xfr::NotifyTally> tallies() const;

 private:
  struct Flight;
  using Key = std::tuple<std::string, std::string, std::string>;
  void finish(const std::shared_ptr<Flight>& f, xfr::NotifyOutcome outcome);
  void transmit(const std::shared_ptr<Flight>& f);
  void receive(const std::shared_ptr<Flight>& f);
  /// Adds one to a count of `key`'s tally (the control thread).
  void count(const Key& key, uint64_t xfr::NotifyTally::*field);

  boost::asio::io_context& io_;
  xfr::NotifyPolicy policy_;
  std::map<Key, std::shared_ptr<Flight>> flights_;
  std::mt19937 ids_{std::random_device{}()};  ///< message ids (RFC 5452 §9.2: not guessable)
  /// Kept for the process's life, so counters never go back; the targets and zones come from the
  /// inventory, so this stays small. The lock is the scraper's and this thread's only.
  mutable std::mutex tally_mu_;
  std::map<Key, xfr::NotifyTally> tallies_;
};

}  // namespace phoenix::server
