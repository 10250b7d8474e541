#include "udp_worker.hpp"

#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <system_error>

#include "endpoint.hpp"
#include "server/dnstap/tap.hpp"
#include "server/forward/forwarder.hpp"

namespace phoenix::server {

namespace {

[[noreturn]] void fail(int fd, const char* what, const horizon::Endpoint& ep) {
  int err = errno;
  if (fd >= 0) ::close(fd);
  throw std::system_error(err, std::generic_category(), std::string(what) + " udp " + ep.to_string());
}

}  // namespace

UdpWorker::UdpWorker(const horizon::Endpoint& ep, SnapshotHolder& holder)
    : holder_(holder), rrl_(std::random_device{}()), fwd_rrl_(std::make_shared<query::RateLimiter>(std::random_device{}())) {
  local_ = ep.addr;
  wildcard_ = ep.addr == horizon::IpAddr{} || ep.addr == horizon::IpAddr{horizon::IpAddr::Family::v6, {}};
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(ep, ss);
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(fd, "socket", ep);
  int one = 1;
  // One socket per worker on the same address: the kernel spreads datagrams across them.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) fail(fd, "reuseport", ep);
  if (ss.ss_family == AF_INET6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
    fail(fd, "v6only", ep);
  // The socket stays blocking: the worker sleeps in recvmmsg itself rather than in a reactor, which
  // saves an epoll_wait and a last recvmmsg that finds the socket empty on every wake-up. The timeout
  // bounds how long a stop request or a new snapshot can go unnoticed on an idle socket.
  timeval tv{0, static_cast<suseconds_t>(std::chrono::microseconds(kIdleWake).count())};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) fail(fd, "rcvtimeo", ep);
  if (wildcard_) {
    // Views with match_destinations need each datagram's local address; a specific bind is that address.
    if (ss.ss_family == AF_INET ? ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0
                                : ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0)
      fail(fd, "pktinfo", ep);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) fail(fd, "bind", ep);
  socklen_t got = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &got) != 0) fail(fd, "getsockname", ep);
  port_ = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  fd_ = fd;
  socket_ = std::make_shared<SharedSocket>();
  socket_->fd = fd;
  for (unsigned i = 0; i < kBatch; ++i) {
    rx_iov_[i] = {rx_[i].data(), kRxSize};
    rx_msg_[i].msg_hdr.msg_iov = &rx_iov_[i];
    rx_msg_[i].msg_hdr.msg_iovlen = 1;
    tx_msg_[i].msg_hdr.msg_iov = &tx_iov_[i];
    tx_msg_[i].msg_hdr.msg_iovlen = 1;
  }
}

UdpWorker::~UdpWorker() {
  request_stop();
  join();
  socket_->close();  // never started: the thread did not close it
}

bool UdpWorker::steer_by_cpu(unsigned workers) {
  // A classic BPF program for the reuseport group: A = the receiving CPU; A %= workers; return A,
  // the index of the socket in bind order.
  sock_filter code[] = {
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_CPU)},
      {BPF_ALU | BPF_MOD | BPF_K, 0, 0, workers},
      {BPF_RET | BPF_A, 0, 0, 0},
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  return workers > 1 && ::setsockopt(fd_, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0;
}

void UdpWorker::start(const char* name) {
  thread_ = std::thread([this] { run(); });
  ::pthread_setname_np(thread_.native_handle(), name);
}

void UdpWorker::join() {
  if (thread_.joinable()) thread_.join();
}

void UdpWorker::run() noexcept {
  // The task root: a stray exception is logged and the loop goes on serving.
  for (;;) {
    try {
      serve();
      break;
    } catch (const std::exception& e) {
      spdlog::error("udp: worker error ({}); continuing", e.what());
    }
  }
  socket_->close();
  done_.store(true, std::memory_order_release);
}

void UdpWorker::serve() {
  holder_.acquire(slot_);
  while (!stop_.load(std::memory_order_relaxed)) {
    // MSG_WAITFORONE: sleep until one datagram is there, then take whatever else is queued, without waiting.
    if (unsigned n = receive(MSG_WAITFORONE)) answer_batch(n);
    else holder_.acquire(slot_);  // idle: drop a replaced snapshot, so that it can be freed
  }
  // Stopping: queries already queued are in flight, so answer them before the socket closes (bounded,
  // so that a flood cannot hold the stop).
  for (int round = 0; round < 64; ++round) {
    unsigned n = receive(MSG_DONTWAIT);
    if (n == 0) break;
    answer_batch(n);
  }
}

unsigned UdpWorker::receive(int flags) {
  for (unsigned i = 0; i < kBatch; ++i) {
    rx_msg_[i].msg_hdr.msg_name = &addr_[i];
    rx_msg_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    rx_msg_[i].msg_len = 0;
    if (wildcard_) {
      rx_msg_[i].msg_hdr.msg_control = control_[i].data();
      rx_msg_[i].msg_hdr.msg_controllen = kControlSize;
    }
  }
  int n = ::recvmmsg(fd_, rx_msg_.data(), kBatch, flags, nullptr);
  // <= 0: the timeout (EAGAIN), a signal, or an error a datagram socket recovers from by itself.
  return n > 0 ? static_cast<unsigned>(n) : 0;
}

void UdpWorker::answer_batch(unsigned n) {
  const zones::Snapshot* snap = holder_.acquire(slot_);
  // One clock read per batch, and the coarse clock (no hardware counter read): RRL counts in milliseconds.
  const uint64_t now_ms = snap->rate_limited ? coarse_now_ms() : 0;
  query::CookieState cookie;
  if (cookies_) {
    cookie.secrets = cookies_->load(std::memory_order_acquire);
    cookie.now = static_cast<uint32_t>(::time(nullptr));
    cookie.require = snap->require_cookie;
  }
  // Two passes: the first answers every query and keys the rate limiter (which starts loading each
  // reply's bucket), the second judges and sends; so the table's cache misses overlap across the batch.
  for (unsigned i = 0; i < n; ++i) {
    query::QueryContext ctx{snap, to_ip(addr_[i]), false, &stats_, forwarder_ ? &fwd_ : nullptr};
    cookie.valid = false;
    if (cookies_) ctx.cookie = &cookie;
    ctx.local = wildcard_ && snap->views.has_destinations() ? destination(i) : local_;
    ctx.forwarded = forwarder_;
    query::ReplyFacts facts;
    if (snap->rate_limited) ctx.facts = &facts;
    Pending& p = pending_[i];
    p.len = query::process_query(rx_[i].data(), rx_msg_[i].msg_len, ctx, tx_[i].data(), kTxSize);
    // Forwarded: a cache hit answered by the processor, or a miss answered later by the forwarder thread.
    p.forwarded = fwd_.from_cache || (p.len == 0 && fwd_.wanted);
    fwd_.from_cache = false;
    p.rrl_key = 0;
    if (snap->rate_limited && p.len != 0 && facts.view == horizon::kNoView) {
      // A reply from before the view stage (FORMERR, NOTIMP, BADVERS...): the client's view limits it all the same.
      facts.view = snap->views.match(ctx.client, ctx.local);
      if (facts.view != horizon::kNoView) facts.view_slot = snap->view_data[facts.view].metrics_slot;
    }
    // RRL applies to UDP only: TCP, like a valid server cookie, proves the source address.
    const bool limit = snap->rate_limited && !cookie.valid && facts.view != horizon::kNoView;
    if (p.len == 0 && fwd_.wanted) forward(*snap, i, limit ? &facts : nullptr);
    if (p.len != 0 && limit) {
      p.rrl_key = rrl_.key(tx_[i].data(), p.len, ctx.client, facts, snap->view_data[facts.view].rate_limit);
      p.view = facts.view;
      p.view_slot = facts.view_slot;
    }
  }
  unsigned out = 0;
  for (unsigned i = 0; i < n; ++i) {
    Pending& p = pending_[i];
    size_t len = p.len;
    if (p.rrl_key)
      len = rrl_.verdict(p.rrl_key, tx_[i].data(), len, p.view_slot, snap->view_data[p.view].rate_limit, now_ms);
    if (tap_) {
      uint16_t port = 0;
      auto peer = dnstap::peer_address(addr_[i], port);
      tap_->exchange(*snap, false, peer, port, rx_[i].data(), rx_msg_[i].msg_len, tx_[i].data(), len, p.forwarded);
    }
    if (len == 0) continue;  // dropped (or forwarded): compact the batch
    tx_iov_[out] = {tx_[i].data(), len};
    tx_msg_[out].msg_hdr.msg_name = &addr_[i];
    tx_msg_[out].msg_hdr.msg_namelen = rx_msg_[i].msg_hdr.msg_namelen;
    ++out;
  }
  unsigned sent = 0;
  while (sent < out) {
    int k = ::sendmmsg(fd_, tx_msg_.data() + sent, out - sent, MSG_DONTWAIT);
    if (k <= 0) break;  // a full send buffer drops replies, as for any UDP server under overload
    sent += static_cast<unsigned>(k);
  }
}

horizon::IpAddr UdpWorker::destination(unsigned i) const {
  msghdr& h = const_cast<msghdr&>(rx_msg_[i].msg_hdr);
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    horizon::IpAddr a;
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      std::memcpy(a.bytes.data(), &pi.ipi_addr, 4);
      return a;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      a.family = horizon::IpAddr::Family::v6;
      std::memcpy(a.bytes.data(), &pi.ipi6_addr, 16);
      return a.unmapped();
    }
  }
  return local_;
}

uint64_t UdpWorker::coarse_now_ms() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void UdpWorker::forward(const zones::Snapshot& snap, unsigned i, const query::ReplyFacts* facts) {
  fwd_.wanted = false;
  const query::ParsedQuery& q = fwd_.query;
  const size_t limit = query::udp_reply_limit(q);
  // A miss must not hold up the rest of the batch: the forwarder thread asks upstream and sends the
  // reply itself. sendto on a UDP socket is safe from any thread; SharedSocket makes it safe against
  // the close at stop.
  try {
    sockaddr_storage to = addr_[i];
    socklen_t to_len = rx_msg_[i].msg_hdr.msg_namelen;
    // dnstap: the forwarded reply is recorded where it is sent, on the forwarder thread, in its ring.
    dnstap::Ring* tap = fwd_tap_ && fwd_tap_->responses() ? fwd_tap_ : nullptr;
    uint8_t slot = 0;
    if (tap) slot = snap.view_data[snap.views.match(to_ip(to))].metrics_slot;
    // The upstream's reply is rate limited like ours, by the forwarder thread with this worker's
    // limiter for forwarded replies (only that thread uses it); the settings are copied, since the
    // snapshot may be gone by then.
    std::shared_ptr<query::RateLimiter> rrl;
    std::optional<horizon::RateLimitSettings> settings;
    query::ReplyFacts seen;
    if (facts && snap.view_data[facts->view].rate_limit.enabled) {
      rrl = fwd_rrl_;
      settings = snap.view_data[facts->view].rate_limit;
      seen.view = facts->view;
      seen.view_slot = facts->view_slot;
    }
    forwarder_->resolve(snap, fwd_, limit, [socket = socket_, to, to_len, tap, slot, rrl, settings = std::move(settings),
                                         seen](std::vector<uint8_t> reply) {
      if (rrl) {
        reply.resize(rrl->limit(reply.data(), reply.size(), to_ip(to), seen, *settings, coarse_now_ms()));
        if (reply.empty()) return;  // dropped
      }
      socket->send(reply, to, to_len);
      if (tap) {
        uint16_t port = 0;
        auto peer = dnstap::peer_address(to, port);
        tap->push(dnstap::Kind::client_response, false, peer, port, slot, reply.data(), reply.size());
      }
    });
  } catch (const std::exception&) {
    // Out of memory: no reply, as with any overload; the client retries.
  }
}

void UdpWorker::SharedSocket::send(const std::vector<uint8_t>& reply, const sockaddr_storage& to, socklen_t to_len) {
  std::lock_guard lock(mu);
  if (fd < 0) return;  // stopped meanwhile: the client retries elsewhere
  ::sendto(fd, reply.data(), reply.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), to_len);
}

void UdpWorker::SharedSocket::close() {
  std::lock_guard lock(mu);
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace phoenix::server
