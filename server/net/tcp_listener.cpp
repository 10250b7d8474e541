#include "tcp_listener.hpp"

#include <cstring>

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <boost/asio/ip/v6_only.hpp>

#include "endpoint.hpp"
#include "server/forward/forwarder.hpp"
#include "server/query/processor.hpp"

namespace phoenix::server {

namespace asio = boost::asio;
using asio::ip::tcp;

TcpListener::TcpListener(asio::io_context& io, SnapshotHolder& holder, TcpLimits limits)
    : io_(io), holder_(holder), limits_(limits) {}

void TcpListener::listen(const horizon::Endpoint& ep) {
  auto endpoint = to_asio<tcp>(ep);
  auto acc = std::make_unique<tcp::acceptor>(io_);
  acc->open(endpoint.protocol());
  acc->set_option(tcp::acceptor::reuse_address(true));
  if (!ep.addr.is_v4()) acc->set_option(asio::ip::v6_only(true));
  acc->bind(endpoint);
  acc->listen(asio::socket_base::max_listen_connections);
  acceptors_.push_back(std::move(acc));
}

void TcpListener::start() {
  holder_.acquire(slot_);
  for (auto& acc : acceptors_) asio::co_spawn(io_, accept_loop(*acc), asio::detached);
}

void TcpListener::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  for (auto& acc : acceptors_) acc->close(ec);
  // A session waiting for its next query with nothing received is closed now. One that is reading,
  // answering or writing, or that already has a query queued, is in flight: it answers everything
  // already received and then closes (see serve()); the server's stop grace period bounds this.
  for (auto* s : waiting_)
    if (s->available(ec) == 0) s->cancel(ec);
}

asio::awaitable<void> TcpListener::accept_loop(tcp::acceptor& acceptor) {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::endpoint peer;  // filled by accept itself: no getpeername per connection
    auto socket =
        std::make_shared<tcp::socket>(co_await acceptor.async_accept(peer, asio::redirect_error(asio::use_awaitable, ec)));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off briefly instead of spinning, and keep accepting.
      spdlog::warn("tcp: accept failed ({})", ec.message());
      asio::steady_timer t(io_, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (sessions_.size() >= limits_.max_connections) {
      // Refuse cleanly: the client sees a close, and UDP is not starved by connection state.
      socket->close(ec);
      continue;
    }
    sessions_.insert(socket);
    asio::co_spawn(io_, serve(socket, to_ip(peer.address())), asio::detached);
  }
}

asio::awaitable<void> TcpListener::serve(std::shared_ptr<tcp::socket> socket, horizon::IpAddr client) {
  // Buffers live in the coroutine frame: one allocation per connection, none per query. Each holds
  // one largest message plus a batch, so that every query a read brings in is answered before the
  // next read and their replies leave in one write: two system calls per batch of pipelined queries
  // instead of three per query.
  constexpr size_t kBatch = 16384;
  constexpr size_t kInCap = 2 + 65535 + kBatch;
  constexpr size_t kOutCap = 2 + query::kMaxTcpReply + kBatch;
  // Not zeroed: clearing 160 KiB was 6% of the CPU time of a one-query connection.
  auto in = std::make_unique_for_overwrite<uint8_t[]>(kInCap);
  auto out = std::make_unique_for_overwrite<uint8_t[]>(kOutCap);
  size_t have = 0;  // bytes received and not yet answered (at most one partial message once answered)
  asio::steady_timer idle(io_);
  query::ForwardRequest fwd;
  try {
    boost::system::error_code ec;
    bool arm = true;
    for (;;) {
      size_t off = 0, pending = 0;  // pending: reply bytes (with length prefixes) in `out`
      auto flush = [&]() -> asio::awaitable<void> {
        if (pending)
          co_await asio::async_write(*socket, asio::buffer(out.get(), pending), asio::redirect_error(asio::use_awaitable, ec));
        pending = 0;
      };
      // Closed under us (idle watchdog, client reset): the rest of the batch is not worth answering.
      while (!ec && socket->is_open() && have - off >= 2) {
        const size_t len = static_cast<size_t>((in[off] << 8) | in[off + 1]);
        if (have - off < 2 + len) break;  // split across segments (RFC 7766 §8): read on
        const uint8_t* q = in.get() + off + 2;
        off += 2 + len;
        if (kOutCap - pending < 2 + query::kMaxTcpReply) {
          co_await flush();
          if (ec) break;
        }
        const zones::Snapshot* snap = holder_.acquire(slot_);
        query::QueryContext ctx{snap, client, true, &stats_, forwarder_ ? &fwd : nullptr};
        ctx.forwarded = forwarder_;
        size_t reply = query::process_query(q, len, ctx, out.get() + pending + 2, query::kMaxTcpReply);
        if (reply == 0 && fwd.wanted) {
          fwd.wanted = false;
          // The replies before this one go out first: they must not wait for an upstream.
          co_await flush();
          if (ec) break;
          reply = co_await forward(fwd.query, *snap, out.get() + 2);
        }
        if (reply == 0) continue;  // dropped (a response, say): does not count as activity
        arm = true;
        out[pending] = static_cast<uint8_t>(reply >> 8);
        out[pending + 1] = static_cast<uint8_t>(reply);
        pending += 2 + reply;
      }
      if (ec) break;
      co_await flush();
      if (ec || !socket->is_open()) break;
      std::memmove(in.get(), in.get() + off, have - off);
      have -= off;
      if (stopping_ && have < 2 && socket->available(ec) == 0) break;
      // The idle watchdog (RFC 7766 §6.2.3): if no complete query arrives in time, closing the socket
      // ends the read. It is re-armed only once a query was answered, so a client trickling bytes (or
      // sending what gets no reply) cannot keep a connection, and it stays armed through the replies,
      // so one that stops reading cannot pin it either. Once per batch: a batch's replies must be
      // taken within the idle time.
      if (arm) {
        arm = false;
        idle.expires_after(limits_.idle_timeout);
        idle.async_wait([socket](const boost::system::error_code& e) {
          if (!e) {
            boost::system::error_code ignored;
            socket->close(ignored);
          }
        });
      }
      // Between queries (nothing, or part of a length prefix): stop() may close it.
      if (have < 2) waiting_.insert(socket.get());
      size_t n = co_await socket->async_read_some(asio::buffer(in.get() + have, kInCap - have),
                                                  asio::redirect_error(asio::use_awaitable, ec));
      waiting_.erase(socket.get());
      if (ec) break;
      have += n;
    }
  } catch (const std::exception& e) {
    spdlog::error("tcp: connection failed ({})", e.what());
  }
  idle.cancel();
  boost::system::error_code ignored;
  socket->shutdown(tcp::socket::shutdown_both, ignored);
  socket->close(ignored);
  waiting_.erase(socket.get());
  sessions_.erase(socket);
}

asio::awaitable<size_t> TcpListener::forward(const query::ParsedQuery& q, const zones::Snapshot& snap, uint8_t* out) {
  // The forwarder thread posts the reply back here and wakes us by cancelling the timer; the timer's
  // own expiry is only a backstop, since the forwarder always answers within its total timeout.
  struct Wait {
    explicit Wait(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::vector<uint8_t> reply;
    bool done = false;
  };
  auto w = std::make_shared<Wait>(io_);
  w->timer.expires_after(std::chrono::milliseconds(snap.forward.total_timeout_ms) + std::chrono::seconds(2));
  forwarder_->resolve(snap, q, query::kMaxTcpReply, [w, &io = io_](std::vector<uint8_t> reply) {
    asio::post(io, [w, reply = std::move(reply)]() mutable {
      w->reply = std::move(reply);
      w->done = true;
      w->timer.cancel();
    });
  });
  boost::system::error_code ec;
  if (!w->done) co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!w->done || w->reply.size() > query::kMaxTcpReply) co_return forward::write_servfail(q, out, query::kMaxTcpReply);
  std::memcpy(out, w->reply.data(), w->reply.size());
  co_return w->reply.size();
}

}  // namespace phoenix::server
