// udp_worker -- one thread per UDP socket (SO_REUSEPORT), blocking in recvmmsg, answering with sendmmsg.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "horizon/ip_prefix.hpp"
#include "server/query/processor.hpp"
#include "server/query/rrl.hpp"
#include "server/snapshot_holder.hpp"

namespace phoenix::forward {
class Forwarder;
}
namespace phoenix::dnstap {
class Ring;
}

namespace phoenix::server {

/// Owns one UDP socket and the thread that serves it. The thread blocks in recvmmsg until at least
/// one datagram is there, takes up to kBatch at once, answers each with process_query() and sends all
/// replies with one sendmmsg: two system calls per batch, like a bare echo server. All buffers are
/// preallocated: nothing on this path allocates or locks (except a snapshot refresh after a reload).
///
/// The receive wakes up at least every kIdleWake even without traffic, to notice stop and to let go
/// of a snapshot that a reload replaced, so an idle worker never keeps an old generation alive.
class UdpWorker {
 public:
  static constexpr unsigned kBatch = 64;  ///< datagrams per recvmmsg/sendmmsg
  static constexpr size_t kRxSize = 4096;   ///< larger queries are truncated by the kernel and parse as FORMERR
  static constexpr size_t kTxSize = query::kOurPayload;
  static constexpr std::chrono::milliseconds kIdleWake{100};

  /// Opens and binds the socket (throws std::system_error naming the address on failure); serves
  /// nothing until start().
  UdpWorker(const horizon::Endpoint& ep, SnapshotHolder& holder);
  ~UdpWorker();  ///< stops and joins the thread if still running
  UdpWorker(const UdpWorker&) = delete;
  UdpWorker& operator=(const UdpWorker&) = delete;

  /// Names outside our zones in views with recursion go there; without one they are REFUSED. Set
  /// before start(); the forwarder must outlive the thread. Its late replies hold the socket, not
  /// this object, and are dropped once the socket is closed.
  void set_forwarder(forward::Forwarder* f) { forwarder_ = f; }
  /// dnstap: this worker's ring, and the one the forwarder thread records forwarded replies in. Set
  /// before start(); both outlive the thread.
  void set_tap(dnstap::Ring* own, dnstap::Ring* forwarder_thread) {
    tap_ = own;
    fwd_tap_ = forwarder_thread;
  }
  /// DNS cookies are answered with these secrets (read once per batch); unset: not answered.
  void set_cookies(const std::atomic<const query::CookieSecrets*>* s) { cookies_ = s; }
  /// Starts the serving thread, named `name` (at most 15 characters) for top and perf.
  void start(const char* name);
  /// Any thread: answer what is queued on the socket now, then close it and end the thread. Returns
  /// at once; done() tells when it is over. Datagrams arriving after the close are refused by the kernel.
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }
  bool done() const { return done_.load(std::memory_order_acquire); }
  void join();
  /// Call on one socket of a group of `workers` bound to the same address, after all are bound: a
  /// datagram goes to the socket of the CPU that received it (CPU modulo `workers`) instead of by
  /// flow hash. Returns false (and the kernel keeps hashing) if the kernel refuses the program.
  bool steer_by_cpu(unsigned workers);
  /// The bound port (useful when constructed with port 0).
  uint16_t port() const { return port_; }
  /// Read only after join(): the counters are the worker's own, never shared while it runs.
  const query::QueryStats& stats() const { return stats_; }
  /// Response rate limiting and its counters by view slot (any thread may read those, as stats()'s).
  const query::RateLimiter& rate_limiter() const { return rrl_; }
  /// The same for forwarded replies from upstream, which the forwarder thread limits.
  const query::RateLimiter& forward_rate_limiter() const { return *fwd_rrl_; }

 private:
  /// The socket as other threads see it: a forwarded reply may be sent from the forwarder's thread
  /// at any time, also while the worker closes the socket. The lock makes "still open" and the send
  /// one step, so a reply can never go out on a descriptor number the kernel has since reused.
  struct SharedSocket {
    std::mutex mu;
    int fd = -1;  ///< guarded by mu; -1 once closed

    void send(const std::vector<uint8_t>& reply, const sockaddr_storage& to, socklen_t to_len);
    void close();
  };

  void run() noexcept;
  void serve();
  /// One recvmmsg into the rx arrays; returns how many datagrams arrived (0 on timeout or error).
  unsigned receive(int flags);
  void answer_batch(unsigned n);
  /// A query the processor handed on (a cache miss: the processor answers hits itself): the
  /// forwarder's thread sends the reply later, through socket_.
  void forward(const zones::Snapshot& snap, unsigned i, const query::ReplyFacts* facts);
  /// CLOCK_MONOTONIC_COARSE in milliseconds: what RRL's buckets need, at a fraction of a precise read.
  static uint64_t coarse_now_ms() noexcept;

  int fd_ = -1;  ///< the worker's own copy: only the worker thread closes the socket, after its last use
  uint16_t port_ = 0;
  /// The bound address: where every datagram arrived, for views with match_destinations. A wildcard
  /// bind asks the kernel for each datagram's destination instead (IP_PKTINFO, IPV6_RECVPKTINFO).
  horizon::IpAddr local_{};
  bool wildcard_ = false;
  /// Where a datagram on a wildcard socket arrived (the IP_PKTINFO / IPV6_PKTINFO control message).
  horizon::IpAddr destination(unsigned i) const;
  std::shared_ptr<SharedSocket> socket_;
  SnapshotHolder& holder_;
  SnapshotHolder::Slot slot_;
  query::QueryStats stats_;
  forward::Forwarder* forwarder_ = nullptr;
  query::ForwardRequest fwd_;
  dnstap::Ring* tap_ = nullptr;
  dnstap::Ring* fwd_tap_ = nullptr;
  query::RateLimiter rrl_;
  std::shared_ptr<query::RateLimiter> fwd_rrl_;  ///< used by the forwarder thread only
  const std::atomic<const query::CookieSecrets*>* cookies_ = nullptr;  ///< this worker's own buckets: no lock between workers
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;

  /// A reply of the batch between answer_batch's two passes.
  struct Pending {
    size_t len = 0;
    uint64_t rrl_key = 0;  ///< RateLimiter::key(); 0: not rate limited
    horizon::ViewId view = horizon::kNoView;
    uint8_t view_slot = 0;
    bool forwarded = false;
  };
  std::array<Pending, kBatch> pending_{};
  std::array<std::array<uint8_t, kRxSize>, kBatch> rx_{};
  std::array<std::array<uint8_t, kTxSize>, kBatch> tx_{};
  std::array<sockaddr_storage, kBatch> addr_{};
  std::array<iovec, kBatch> rx_iov_{}, tx_iov_{};
  std::array<mmsghdr, kBatch> rx_msg_{}, tx_msg_{};
  static constexpr size_t kControlSize = 64;  ///< room for one in6_pktinfo control message
  std::array<std::array<uint8_t, kControlSize>, kBatch> control_{};
};

}  // namespace phoenix::server
