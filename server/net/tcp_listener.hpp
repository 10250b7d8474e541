// tcp_listener -- RFC 7766 DNS over TCP: an acceptor per address, one coroutine per connection.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <vector>

#include "horizon/ip_prefix.hpp"
#include "server/query/processor.hpp"
#include "server/snapshot_holder.hpp"

namespace phoenix::forward {
class Forwarder;
}
namespace phoenix::dnstap {
class Ring;
}

namespace phoenix::server {

struct TcpLimits {
  std::chrono::milliseconds idle_timeout{10000};  ///< RFC 7766 §6.2.3: close idle connections
  size_t max_connections = 256;                   ///< beyond this, new connections are closed at once
};

/// Accepts on every listen address and serves each connection from its own coroutine on one
/// io_context. Queries on a connection are answered in order; pipelined queries are all answered.
class TcpListener {
 public:
  TcpListener(boost::asio::io_context& io, SnapshotHolder& holder, TcpLimits limits);
  void listen(const horizon::Endpoint& ep);  ///< throws on bind failure
  void start();
  /// Stops accepting; idle connections close now, the others once what they already received is answered.
  void stop();
  size_t connections() const { return sessions_.size(); }
  void refresh() { holder_.acquire(slot_); }
  const query::QueryStats& stats() const { return stats_; }
  /// Connections accepted, refused (over max_connections), closed idle, open; read by the metrics scraper.
  const query::TcpConnCounters& connection_stats() const { return conn_; }
  /// Names outside our zones in views with recursion go there; without one they are REFUSED.
  void set_forwarder(forward::Forwarder* f) { forwarder_ = f; }
  /// dnstap: the TCP thread's ring (set before start()).
  void set_tap(dnstap::Ring* ring) { tap_ = ring; }

 private:
  /// Answers a query the processor handed to the forwarder into `out`; only this connection waits.
  boost::asio::awaitable<size_t> forward(const query::ParsedQuery& q, const zones::Snapshot& snap, uint8_t* out);
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
  boost::asio::awaitable<void> serve(std::shared_ptr<boost::asio::ip::tcp::socket> socket, horizon::IpAddr client);

  boost::asio::io_context& io_;
  SnapshotHolder& holder_;
  SnapshotHolder::Slot slot_;
  TcpLimits limits_;
  query::QueryStats stats_;
  query::TcpConnCounters conn_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::set<std::shared_ptr<boost::asio::ip::tcp::socket>> sessions_;
  std::set<boost::asio::ip::tcp::socket*> waiting_;  ///< sessions between queries (may be closed on stop)
  bool stopping_ = false;
  forward::Forwarder* forwarder_ = nullptr;
  dnstap::Ring* tap_ = nullptr;
};

}  // namespace phoenix::server
