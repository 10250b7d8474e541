// tcp_listener -- RFC 7766 DNS over TCP: an acceptor per address, one coroutine per connection, and a
// connection table that a flood cannot take over.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
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
  /// RFC 7766 §6.2.3: a connection with no answered query for this long is closed. It shrinks once the
  /// table is more than half full (see idle_timeout_at).
  std::chrono::milliseconds idle_timeout{10000};
  /// A message must arrive whole within this time of its first octet (slow senders).
  std::chrono::milliseconds message_timeout{3000};
  /// The table's size; 0 follows RLIMIT_NOFILE (see connection_cap). At the cap a new connection
  /// closes the longest-idle one.
  size_t max_connections = 0;
  /// Connections one client (its address cut to the prefixes below) may hold; beyond, new ones are
  /// closed at once. 0: no per-client cap.
  size_t max_per_client = 64;
  uint8_t client_prefix_v4 = 32, client_prefix_v6 = 64;
  /// A client whose unsent replies (ours and the kernel's send queue) pass this is closed.
  size_t max_unsent = 256 * 1024;
  /// Zone transfers (AXFR, IXFR) streaming at once; more are REFUSED until one ends, so that
  /// secondaries cannot take the TCP thread from queries.
  size_t max_transfers = 8;
  /// A transfer message must be taken by the secondary within this time, else the connection closes.
  std::chrono::milliseconds transfer_timeout{20000};
};

/// What the listener did to whom (server/query/counters.hpp): written by the TCP thread alone.
using TcpStats = query::TcpConnCounters;

/// The listen backlog: room for a burst of connections the accept loop has not taken yet.
inline constexpr int kListenBacklog = 4096;

/// Descriptors kept out of the TCP table for UDP sockets, the forwarder's sockets and files.
size_t reserved_descriptors(size_t nofile);
/// The table size for `limits` under a descriptor limit of `nofile`: max_connections when set (but
/// never more than the descriptors allow), else all the descriptors not reserved. At least 1.
size_t connection_cap(const TcpLimits& limits, size_t nofile);
/// The idle timeout with `open` of `cap` connections in use: the configured one up to half full,
/// then shrinking linearly to a tenth of it when full, so that idle connections make room early.
std::chrono::milliseconds idle_timeout_at(const TcpLimits& limits, size_t open, size_t cap);
/// `a` cut to the per-client prefix (the key of the per-client cap).
horizon::IpAddr client_key(const TcpLimits& limits, const horizon::IpAddr& a);

/// Accepts on every listen address and serves each connection from its own coroutine on one
/// io_context. Queries on a connection are answered in order; pipelined queries are all answered.
class TcpListener {
 public:
  TcpListener(boost::asio::io_context& io, SnapshotHolder& holder, TcpLimits limits);
  ~TcpListener();
  void listen(const horizon::Endpoint& ep);  ///< throws on bind failure
  /// Sizes the table (raising the soft RLIMIT_NOFILE to the hard one first) and starts accepting.
  void start();
  /// Stops accepting; idle connections close now, the others once what they already received is answered.
  void stop();
  size_t connections() const { return table_.size; }
  size_t capacity() const { return cap_; }
  void refresh() { holder_.acquire(slot_); }
  const query::QueryStats& stats() const { return stats_; }
  const TcpStats& tcp_stats() const { return tcp_stats_; }
  size_t transfers() const { return *transfers_; }
  /// Names outside our zones in views with recursion go there; without one they are REFUSED.
  void set_forwarder(forward::Forwarder* f) { forwarder_ = f; }
  /// dnstap: the TCP thread's ring (set before start()).
  void set_tap(dnstap::Ring* ring) { tap_ = ring; }
  /// DNS cookies are answered with these secrets; unset: not answered.
  void set_cookies(const std::atomic<const query::CookieSecrets*>* s) { cookies_ = s; }
  /// Transfer messages are built on this executor's thread (the server's runs at SCHED_IDLE), so a
  /// secondary reading as fast as we send takes only CPU time the query threads leave; unset: on the
  /// TCP thread. The thread must run until this listener's io_context has stopped.
  void set_transfer_executor(boost::asio::any_io_executor ex) { xfr_ex_ = std::move(ex); }

 private:
  struct Session;
  /// An intrusive list: linking and unlinking never allocate, and a session knows its own place.
  struct Link {
    Session* prev = nullptr;
    Session* next = nullptr;
    bool linked = false;
  };
  struct List {
    Session* head = nullptr;
    Session* tail = nullptr;
    size_t size = 0;
    void push_back(Session* s, Link Session::*hook);
    void unlink(Session* s, Link Session::*hook);
  };
  struct KeyHash {
    size_t operator()(const horizon::IpAddr& a) const noexcept;
  };
  enum class CloseReason { evicted, idle, slow, unsent, done };

  /// Answers a query the processor handed to the forwarder into `out`; only this connection waits.
  boost::asio::awaitable<size_t> forward(const query::ForwardRequest& req, const zones::Snapshot& snap, uint8_t* out);
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);
  boost::asio::awaitable<void> serve(std::shared_ptr<Session> session);
  /// Streams one allowed transfer (RFC 5936 §2.2, RFC 1995 §4) into `buf` message by message, each
  /// TSIG-signed when the request was (RFC 8945 §5.3.1). False when the connection must close.
  boost::asio::awaitable<bool> transfer(std::shared_ptr<Session> session, query::XfrRequest& r, uint8_t* buf);
  /// Runs build() (one transfer message) on the transfer executor, then resumes on the TCP thread.
  template <class Build>
  boost::asio::awaitable<size_t> build_elsewhere(Build& build);
  /// Takes the session out of the table and closes its socket; its coroutine ends at its next step.
  void close(Session& s, CloseReason why);
  /// Closes the connections idle too long and the messages arriving too slowly; re-arms itself.
  void sweep();
  void touch(Session& s);  ///< a query was answered: the session is now the most recently active

  boost::asio::io_context& io_;
  std::optional<boost::asio::any_io_executor> xfr_ex_;
  SnapshotHolder& holder_;
  SnapshotHolder::Slot slot_;
  TcpLimits limits_;
  size_t cap_ = 1;
  query::QueryStats stats_;
  TcpStats tcp_stats_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  List table_;    ///< every open session, least recently active first
  List partial_;  ///< sessions with a message under way, oldest first message first
  std::unordered_map<horizon::IpAddr, uint32_t, KeyHash> per_client_;
  boost::asio::steady_timer sweep_timer_;
  std::chrono::steady_clock::time_point last_full_warning_{};
  bool stopping_ = false;
  std::shared_ptr<size_t> transfers_ = std::make_shared<size_t>(0);  ///< transfers streaming now
  forward::Forwarder* forwarder_ = nullptr;
  const std::atomic<const query::CookieSecrets*>* cookies_ = nullptr;
  dnstap::Ring* tap_ = nullptr;
};

}  // namespace phoenix::server
