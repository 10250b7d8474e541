// udp_worker -- one per thread and listen address: SO_REUSEPORT socket, recvmmsg/sendmmsg batches.
#pragma once

#include <sys/socket.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <vector>

#include "horizon/ip_prefix.hpp"
#include "server/query/precompiled.hpp"
#include "server/snapshot_holder.hpp"

namespace phoenix::forward {
class Forwarder;
}

namespace phoenix::server {

/// Owns one UDP socket. When it becomes readable, drains up to kBatch datagrams per system call,
/// answers each with process_query(), and sends all replies with one sendmmsg. All buffers are
/// preallocated: nothing on this path allocates or locks (except a snapshot refresh after a reload).
class UdpWorker {
 public:
  static constexpr unsigned kBatch = 64;  ///< datagrams per recvmmsg/sendmmsg
  static constexpr size_t kRxSize = 4096;   ///< larger queries are truncated by the kernel and parse as FORMERR
  static constexpr size_t kTxSize = query::kOurPayload;

  UdpWorker(boost::asio::io_context& io, const horizon::Endpoint& ep, SnapshotHolder& holder);
  UdpWorker(const UdpWorker&) = delete;
  UdpWorker& operator=(const UdpWorker&) = delete;

  void start();
  void stop();
  const query::QueryStats& stats() const { return stats_; }
  /// Picks up a new snapshot even when no traffic arrives, so the old one can be freed.
  void refresh() { holder_.acquire(slot_); }
  /// Names outside our zones in views with recursion go there; without one they are REFUSED.
  void set_forwarder(forward::Forwarder* f) { forwarder_ = f; }

 private:
  void wait();
  void drain();
  /// A query the processor handed to the forwarder: a cache hit is written to `out` (its length is
  /// returned); a miss returns 0 and the reply is sent later by send_later(), on this thread.
  size_t forward(const zones::Snapshot& snap, unsigned i, uint8_t* out);
  void send_later(const sockaddr_storage& to, socklen_t to_len, const std::vector<uint8_t>& reply);

  boost::asio::ip::udp::socket socket_;
  SnapshotHolder& holder_;
  SnapshotHolder::Slot slot_;
  query::QueryStats stats_;
  bool stopping_ = false;
  forward::Forwarder* forwarder_ = nullptr;
  query::ForwardRequest fwd_;

  std::array<std::array<uint8_t, kRxSize>, kBatch> rx_{};
  std::array<std::array<uint8_t, kTxSize>, kBatch> tx_{};
  std::array<sockaddr_storage, kBatch> addr_{};
  std::array<iovec, kBatch> rx_iov_{}, tx_iov_{};
  std::array<mmsghdr, kBatch> rx_msg_{}, tx_msg_{};
};

}  // namespace phoenix::server
