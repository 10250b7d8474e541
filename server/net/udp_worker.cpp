#include "udp_worker.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "endpoint.hpp"
#include "server/forward/forwarder.hpp"

#include <netinet/in.h>

#include <cstring>

namespace phoenix::server {

namespace asio = boost::asio;

UdpWorker::UdpWorker(asio::io_context& io, const horizon::Endpoint& ep, SnapshotHolder& holder)
    : socket_(io), holder_(holder) {
  auto endpoint = to_asio<asio::ip::udp>(ep);
  socket_.open(endpoint.protocol());
  int one = 1;
  // One socket per worker on the same address: the kernel spreads datagrams across them.
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (!ep.addr.is_v4()) socket_.set_option(asio::ip::v6_only(true));
  socket_.bind(endpoint);
  socket_.non_blocking(true);
  for (unsigned i = 0; i < kBatch; ++i) {
    rx_iov_[i] = {rx_[i].data(), kRxSize};
    rx_msg_[i].msg_hdr.msg_iov = &rx_iov_[i];
    rx_msg_[i].msg_hdr.msg_iovlen = 1;
    tx_msg_[i].msg_hdr.msg_iov = &tx_iov_[i];
    tx_msg_[i].msg_hdr.msg_iovlen = 1;
  }
}

void UdpWorker::start() {
  holder_.acquire(slot_);
  wait();
}

void UdpWorker::stop() {
  // Queries already queued on the socket are in flight: answer them, then close, so that from
  // here on the kernel refuses instead of queueing datagrams nobody will read.
  drain();
  stopping_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
}

void UdpWorker::wait() {
  if (stopping_) return;
  socket_.async_wait(asio::ip::udp::socket::wait_read, [this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    drain();
    wait();
  });
}

void UdpWorker::drain() {
  const int fd = socket_.native_handle();
  // Bounded so that one busy socket cannot starve the other work on this io_context.
  for (int round = 0; round < 64; ++round) {
    for (unsigned i = 0; i < kBatch; ++i) {
      rx_msg_[i].msg_hdr.msg_name = &addr_[i];
      rx_msg_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      rx_msg_[i].msg_len = 0;
    }
    int n = ::recvmmsg(fd, rx_msg_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;  // EAGAIN, or an error a datagram socket recovers from by itself
    const zones::Snapshot* snap = holder_.acquire(slot_);
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
      query::QueryContext ctx{snap, to_ip(addr_[i]), false, &stats_, forwarder_ ? &fwd_ : nullptr};
      size_t len = query::answer_query(rx_[i].data(), rx_msg_[i].msg_len, ctx, tx_[out].data(), kTxSize);
      if (len == 0 && fwd_.wanted) len = forward(*snap, static_cast<unsigned>(i), tx_[out].data());
      if (len == 0) continue;  // dropped: compact the batch
      tx_iov_[out] = {tx_[out].data(), len};
      tx_msg_[out].msg_hdr.msg_name = &addr_[i];
      tx_msg_[out].msg_hdr.msg_namelen = rx_msg_[i].msg_hdr.msg_namelen;
      ++out;
    }
    unsigned sent = 0;
    while (sent < out) {
      int k = ::sendmmsg(fd, tx_msg_.data() + sent, out - sent, MSG_DONTWAIT);
      if (k <= 0) break;  // a full send buffer drops replies, as for any UDP server under overload
      sent += static_cast<unsigned>(k);
    }
    // A short batch does not mean the socket is empty: under load more datagrams arrive while we
    // answer, and reading them now saves a trip through the reactor (the next recvmmsg says EAGAIN
    // when it really is empty).
  }
}

size_t UdpWorker::forward(const zones::Snapshot& snap, unsigned i, uint8_t* out) {
  fwd_.wanted = false;
  const query::ParsedQuery& q = fwd_.query;
  const size_t limit = query::udp_reply_limit(q);
  if (size_t n = forwarder_->answer_from_cache(snap, q, out, limit)) return n;
  // A miss must not hold up the rest of the batch: the forwarder thread asks upstream, and the reply
  // comes back to this thread as a posted handler that sends one datagram.
  try {
    sockaddr_storage to = addr_[i];
    socklen_t to_len = rx_msg_[i].msg_hdr.msg_namelen;
    forwarder_->resolve(snap, q, limit, [this, to, to_len](std::vector<uint8_t> reply) {
      asio::post(socket_.get_executor(),
                 [this, to, to_len, reply = std::move(reply)] { send_later(to, to_len, reply); });
    });
  } catch (const std::exception&) {
    // Out of memory: no reply, as with any overload; the client retries.
  }
  return 0;
}

void UdpWorker::send_later(const sockaddr_storage& to, socklen_t to_len, const std::vector<uint8_t>& reply) {
  if (stopping_) return;
  ::sendto(socket_.native_handle(), reply.data(), reply.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to),
           to_len);
}

}  // namespace phoenix::server
