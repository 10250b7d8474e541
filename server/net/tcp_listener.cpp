#include "tcp_listener.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <optional>

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <boost/asio/ip/v6_only.hpp>

#include "endpoint.hpp"
#include "server/dnstap/tap.hpp"
#include "server/forward/forwarder.hpp"
#include "server/query/processor.hpp"
#include "zones/hash.hpp"

namespace phoenix::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;

/// Raises the soft descriptor limit to the hard one (what the unit's LimitNOFILE sets) and returns it.
size_t descriptor_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : static_cast<size_t>(rl.rlim_cur);
}

}  // namespace

size_t reserved_descriptors(size_t nofile) { return std::min<size_t>(1024, nofile / 2); }

size_t connection_cap(const TcpLimits& limits, size_t nofile) {
  size_t room = nofile - reserved_descriptors(nofile);
  size_t cap = limits.max_connections ? std::min(limits.max_connections, room) : room;
  return std::max<size_t>(cap, 1);
}

std::chrono::milliseconds idle_timeout_at(const TcpLimits& limits, size_t open, size_t cap) {
  const auto full = limits.idle_timeout;
  if (cap < 2 || open * 2 <= cap) return full;
  const auto floor = full / 10;
  const size_t half = cap / 2;
  const size_t over = std::min(open, cap) - half;
  const size_t span = cap - half;
  return full - (full - floor) * static_cast<int64_t>(over) / static_cast<int64_t>(span);
}

horizon::IpAddr client_key(const TcpLimits& limits, const horizon::IpAddr& a) {
  horizon::IpPrefix p{a, a.is_v4() ? limits.client_prefix_v4 : limits.client_prefix_v6};
  return p.network().addr;
}

struct TcpListener::Session {
  explicit Session(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  horizon::IpAddr client, key;
  horizon::IpAddr local{};  ///< where it arrived; read once, only when a view has match_destinations
  bool local_known = false;
  Clock::time_point active;     ///< accepted, or its last query answered
  Clock::time_point msg_start;  ///< the first octet of the message under way arrived
  Link lru, partial;
  bool in_table = false;
  bool waiting = false;  ///< between queries, nothing received: stop() may close it
};

void TcpListener::List::push_back(Session* s, Link Session::*hook) {
  Link& l = s->*hook;
  l.prev = tail;
  l.next = nullptr;
  l.linked = true;
  if (tail) (tail->*hook).next = s;
  else head = s;
  tail = s;
  ++size;
}

void TcpListener::List::unlink(Session* s, Link Session::*hook) {
  Link& l = s->*hook;
  if (!l.linked) return;
  if (l.prev) (l.prev->*hook).next = l.next;
  else head = l.next;
  if (l.next) (l.next->*hook).prev = l.prev;
  else tail = l.prev;
  l = {};
  --size;
}

size_t TcpListener::KeyHash::operator()(const horizon::IpAddr& a) const noexcept {
  const std::string_view bytes(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
  return static_cast<size_t>(zones::hash_bytes(bytes, static_cast<uint8_t>(a.family)));
}

TcpListener::TcpListener(asio::io_context& io, SnapshotHolder& holder, TcpLimits limits)
    : io_(io), holder_(holder), limits_(limits), sweep_timer_(io) {}

TcpListener::~TcpListener() {
  // Sessions still listed belong to coroutines the io_context never finished: unlink them, so that
  // their destruction (with the io_context's) finds no table to update.
  while (table_.head) {
    Session* s = table_.head;
    table_.unlink(s, &Session::lru);
    partial_.unlink(s, &Session::partial);
    s->in_table = false;
  }
}

void TcpListener::listen(const horizon::Endpoint& ep) {
  auto endpoint = to_asio<tcp>(ep);
  auto acc = std::make_unique<tcp::acceptor>(io_);
  acc->open(endpoint.protocol());
  acc->set_option(tcp::acceptor::reuse_address(true));
  if (!ep.addr.is_v4()) acc->set_option(asio::ip::v6_only(true));
  acc->bind(endpoint);
  // The kernel caps this at net.core.somaxconn (4096 since Linux 5.4).
  acc->listen(kListenBacklog);
  acceptors_.push_back(std::move(acc));
}

void TcpListener::start() {
  holder_.acquire(slot_);
  const size_t nofile = descriptor_limit();
  cap_ = connection_cap(limits_, nofile);
  if (limits_.max_connections > cap_)
    spdlog::warn("tcp: {} connections asked for, but RLIMIT_NOFILE ({}) allows {}", limits_.max_connections, nofile,
                 cap_);
  spdlog::info("tcp: at most {} connections ({} per client), idle {} ms, message {} ms", cap_,
               limits_.max_per_client ? std::to_string(limits_.max_per_client) : std::string("any number"),
               limits_.idle_timeout.count(), limits_.message_timeout.count());
  for (auto& acc : acceptors_) asio::co_spawn(io_, accept_loop(*acc), asio::detached);
  sweep();
}

void TcpListener::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  for (auto& acc : acceptors_) acc->close(ec);
  // A session waiting for its next query with nothing received is closed now. One that is reading,
  // answering or writing, or that already has a query queued, is in flight: it answers everything
  // already received and then closes (see serve()); the server's stop grace period bounds this.
  for (Session* s = table_.head; s; s = s->lru.next)
    if (s->waiting && s->socket.available(ec) == 0) s->socket.cancel(ec);
}

void TcpListener::close(Session& s, CloseReason why) {
  if (!s.in_table) return;
  s.in_table = false;
  table_.unlink(&s, &Session::lru);
  tcp_stats_.open.set(table_.size);
  partial_.unlink(&s, &Session::partial);
  if (auto it = per_client_.find(s.key); it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  switch (why) {
    case CloseReason::evicted: ++tcp_stats_.evicted; break;
    case CloseReason::idle: ++tcp_stats_.closed_idle; break;
    case CloseReason::slow: ++tcp_stats_.closed_slow; break;
    case CloseReason::unsent: ++tcp_stats_.closed_unsent; break;
    case CloseReason::done: break;
  }
  boost::system::error_code ignored;
  if (why != CloseReason::done) s.socket.shutdown(tcp::socket::shutdown_both, ignored);
  s.socket.close(ignored);
}

void TcpListener::touch(Session& s) {
  s.active = Clock::now();
  table_.unlink(&s, &Session::lru);
  table_.push_back(&s, &Session::lru);
}

void TcpListener::sweep() {
  // Both lists are in time order, so each walk stops at the first session still in time: the cost is
  // the number of sessions closed, not the table's size.
  const auto now = Clock::now();
  const auto idle = idle_timeout_at(limits_, table_.size, cap_);
  while (table_.head && now - table_.head->active >= idle) close(*table_.head, CloseReason::idle);
  while (partial_.head && now - partial_.head->msg_start >= limits_.message_timeout)
    close(*partial_.head, CloseReason::slow);
  if (stopping_ && table_.size == 0) return;  // let the io_context run out of work
  sweep_timer_.expires_after(std::chrono::milliseconds(100));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sweep();
  });
}

asio::awaitable<void> TcpListener::accept_loop(tcp::acceptor& acceptor) {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::endpoint peer;  // filled by accept itself: no getpeername per connection
    tcp::socket socket = co_await acceptor.async_accept(peer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off briefly instead of spinning, and keep accepting.
      spdlog::warn("tcp: accept failed ({})", ec.message());
      asio::steady_timer t(io_, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    const horizon::IpAddr client = to_ip(peer.address());
    const horizon::IpAddr key = client_key(limits_, client);
    auto& count = per_client_[key];
    if (limits_.max_per_client && count >= limits_.max_per_client) {
      // One source cannot hold the table: its extra connections are closed at once (Unbound's
      // tcp-connection-limit does the same), and its older ones keep being served.
      ++tcp_stats_.refused_per_client;
      socket.close(ec);
      continue;
    }
    if (table_.size >= cap_) {
      // RFC 7766 §6.2.3: under pressure the server may close idle connections. The longest idle one
      // goes, so a flood of idle connections cannot keep a fresh client out.
      close(*table_.head, CloseReason::evicted);
      auto now = Clock::now();
      if (now - last_full_warning_ >= std::chrono::seconds(10)) {
        last_full_warning_ = now;
        spdlog::warn("tcp: {} connections, the cap; closing the longest idle ones ({} so far)", cap_,
                     tcp_stats_.evicted);
      }
    }
    // The unsent-replies bound is kept by the kernel: a write that cannot complete means the send
    // buffer is full (see flush in serve()).
    if (limits_.max_unsent) socket.set_option(asio::socket_base::send_buffer_size(static_cast<int>(limits_.max_unsent)), ec);
    ++count;
    ++tcp_stats_.accepted;
    auto s = std::make_shared<Session>(std::move(socket));
    s->client = client;
    s->key = key;
    s->active = Clock::now();
    s->in_table = true;
    table_.push_back(s.get(), &Session::lru);
    tcp_stats_.open.set(table_.size);
    asio::co_spawn(io_, serve(std::move(s)), asio::detached);
  }
}

asio::awaitable<void> TcpListener::serve(std::shared_ptr<Session> session) {
  Session& s = *session;
  tcp::socket& socket = s.socket;
  // Buffers live in the coroutine frame: one allocation per connection, none per query. Each holds
  // one largest message plus a batch, so that every query a read brings in is answered before the
  // next read and their replies leave in one write: two system calls per batch of pipelined queries
  // instead of three per query.
  constexpr size_t kBatch = 16384;
  constexpr size_t kInCap = 2 + 65535 + kBatch;
  constexpr size_t kOutCap = 2 + query::kMaxTcpReply + kBatch;
  std::unique_ptr<uint8_t[]> in, out;
  size_t have = 0;  // bytes received and not yet answered (at most one partial message once answered)
  uint16_t client_port = 0;  // only dnstap needs it: one getpeername per connection when it is on
  if (tap_) {
    boost::system::error_code pe;
    client_port = socket.remote_endpoint(pe).port();
  }
  query::ForwardRequest fwd;
  query::XfrRequest xfr;
  try {
    boost::system::error_code ec;
    // A connection that never sends costs no buffers: a flood of idle ones holds only their sockets.
    s.waiting = true;
    co_await socket.async_wait(tcp::socket::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    s.waiting = false;
    if (ec || !socket.is_open()) throw boost::system::system_error(ec);
    // Not zeroed: clearing 160 KiB was 6% of the CPU time of a one-query connection.
    in = std::make_unique_for_overwrite<uint8_t[]>(kInCap);
    out = std::make_unique_for_overwrite<uint8_t[]>(kOutCap);
    socket.non_blocking(true, ec);
    for (;;) {
      size_t off = 0, pending = 0;  // pending: reply bytes (with length prefixes) in `out`
      bool completed = false;       // a message was taken from `in` in this pass
      bool answered = false;        // a reply was written since the session was last touched
      // What the queries of a pass share is read once per pass, as the UDP worker does per batch (the
      // snapshot, the cookie secrets and clock), and read again after anything that may have waited:
      // a reload may have come meanwhile. `stale` says when.
      bool stale = true;
      const zones::Snapshot* snap = nullptr;
      query::CookieState cookie;
      query::QueryContext ctx{nullptr, s.client, true, &stats_, forwarder_ ? &fwd : nullptr};
      ctx.forwarded = forwarder_;
      ctx.xfr = &xfr;
      auto flush = [&]() -> asio::awaitable<void> {
        // The idle time (RFC 7766 §6.2.3) counts from the last answer: a client trickling bytes, or
        // sending what gets no reply, cannot keep a connection by it. Touched here, before the
        // replies leave and before anything that can wait (an upstream, a transfer), rather than per
        // reply: once per batch keeps the clock read and the table's relinking off the per-query path.
        if (answered && s.in_table) touch(s);
        answered = false;
        if (!pending) co_return;
        // Most writes complete at once; one that cannot means the client's window and our send
        // buffer (sized to max_unsent) are full. Past the bound the client is not reading: close.
        size_t n = socket.write_some(asio::buffer(out.get(), pending), ec);
        if (ec == asio::error::would_block) ec = {}, n = 0;
        if (!ec && n < pending) {
          int queued = 0;
          if (limits_.max_unsent && ::ioctl(socket.native_handle(), SIOCOUTQ, &queued) == 0 &&
              static_cast<size_t>(queued) + (pending - n) > limits_.max_unsent) {
            close(s, CloseReason::unsent);
            ec = asio::error::connection_aborted;
          } else {
            co_await asio::async_write(socket, asio::buffer(out.get() + n, pending - n),
                                       asio::redirect_error(asio::use_awaitable, ec));
          }
        }
        pending = 0;
      };
      // Closed under us (idle sweep, eviction, client reset): the rest of the batch is not worth answering.
      while (!ec && socket.is_open() && have - off >= 2) {
        const size_t len = static_cast<size_t>((in[off] << 8) | in[off + 1]);
        if (have - off < 2 + len) break;  // split across segments (RFC 7766 §8): read on
        const uint8_t* q = in.get() + off + 2;
        off += 2 + len;
        // The message timer is for a message still arriving: one received whole is being answered,
        // which may wait on an upstream as long as the forwarder's total timeout (3 s by default, the
        // message timeout too), and must not be closed as slow meanwhile. What is left after the batch
        // is timed again below.
        if (!completed) partial_.unlink(&s, &Session::partial);
        completed = true;
        if (kOutCap - pending < 2 + query::kMaxTcpReply) {
          co_await flush();
          stale = true;
          if (ec) break;
        }
        if (stale) {
          stale = false;
          snap = holder_.acquire(slot_);
          ctx.snapshot = snap;
          ctx.local = {};
          if (snap->views.has_destinations()) {
            if (!s.local_known) {
              boost::system::error_code le;
              auto ep = socket.local_endpoint(le);
              if (!le) s.local = to_ip(ep.address());
              s.local_known = true;
            }
            ctx.local = s.local;
          }
          if (cookies_) {
            cookie.secrets = cookies_->load(std::memory_order_acquire);
            cookie.now = static_cast<uint32_t>(::time(nullptr));
            ctx.cookie = &cookie;
          }
        }
        xfr.busy = *transfers_ >= limits_.max_transfers;
        cookie.valid = false;
        size_t reply = query::process_query(q, len, ctx, out.get() + pending + 2, query::kMaxTcpReply);
        const bool forwarded = fwd.from_cache || (reply == 0 && fwd.wanted);
        fwd.from_cache = false;
        if (reply == 0 && fwd.wanted) {
          fwd.wanted = false;
          // The replies before this one go out first: they must not wait for an upstream.
          co_await flush();
          stale = true;
          if (ec) break;
          reply = co_await forward(fwd, *snap, out.get() + 2);
        }
        if (reply == 0 && xfr.wanted) {
          // The replies before it go out first; then the transfer, from the zone the processor chose
          // (the request holds it: a reload meanwhile changes nothing of what is sent).
          co_await flush();
          stale = true;
          if (ec) break;
          bool ok = co_await transfer(session, xfr, out.get());
          xfr = query::XfrRequest{};
          if (!ok || !socket.is_open()) break;
          continue;
        }
        if (tap_) tap_->exchange(*snap, true, s.client, client_port, q, len, out.get() + pending + 2, reply, forwarded);
        if (reply == 0) continue;  // dropped (a response, say): does not count as activity
        answered = true;
        out[pending] = static_cast<uint8_t>(reply >> 8);
        out[pending + 1] = static_cast<uint8_t>(reply);
        pending += 2 + reply;
      }
      if (ec) break;
      const bool wrote = pending != 0;
      co_await flush();
      // The client has rarely sent its next queries the moment our replies left: a read now mostly
      // fails (EAGAIN) and is tried again once epoll reports data, a wasted system call in most
      // batches. Letting the other connections' ready work run first gives the client that time.
      if (wrote && !ec) co_await asio::post(io_, asio::use_awaitable);
      if (ec || !socket.is_open()) break;
      std::memmove(in.get(), in.get() + off, have - off);
      have -= off;
      // The message timer starts at a message's first octet and is not reset by later ones.
      if (have == 0) partial_.unlink(&s, &Session::partial);
      else if ((completed || !s.partial.linked) && s.in_table) {
        partial_.unlink(&s, &Session::partial);
        s.msg_start = Clock::now();
        partial_.push_back(&s, &Session::partial);
      }
      if (stopping_ && have < 2 && socket.available(ec) == 0) break;
      // Between queries (nothing, or part of a length prefix): stop() may close it.
      s.waiting = have < 2;
      size_t n = co_await socket.async_read_some(asio::buffer(in.get() + have, kInCap - have),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      s.waiting = false;
      if (ec) break;
      if (have == 0 && n > 0 && s.in_table) {
        s.msg_start = Clock::now();
        partial_.push_back(&s, &Session::partial);
      }
      have += n;
    }
  } catch (const boost::system::system_error&) {
    // Closed before it sent anything (idle, evicted, stopped): nothing to report.
  } catch (const std::exception& e) {
    spdlog::error("tcp: connection failed ({})", e.what());
  }
  close(s, CloseReason::done);
}

asio::awaitable<size_t> TcpListener::forward(const query::ForwardRequest& req, const zones::Snapshot& snap, uint8_t* out) {
  const query::ParsedQuery& q = req.query;
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
  forwarder_->resolve(snap, req, query::kMaxTcpReply, [w, &io = io_](std::vector<uint8_t> reply) {
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

template <class Build>
asio::awaitable<size_t> TcpListener::build_elsewhere(Build& build) {
  // The coroutine waits here while the transfer thread builds the message: what `build` uses lives in
  // the waiting frame, and nothing else touches it meanwhile. The guard keeps the TCP io_context from
  // running out of work (and its thread from ending) while the handler is away.
  return asio::async_initiate<decltype(asio::use_awaitable), void(size_t)>(
      [this, &build](auto handler) {
        asio::post(*xfr_ex_, [this, &build, handler = std::move(handler), work = asio::make_work_guard(io_)]() mutable {
          const size_t n = build();
          asio::post(io_, [handler = std::move(handler), n]() mutable { std::move(handler)(n); });
        });
      },
      asio::use_awaitable);
}

asio::awaitable<bool> TcpListener::transfer(std::shared_ptr<Session> session, query::XfrRequest& r, uint8_t* buf) {
  Session& s = *session;
  // The count outlives the listener: a transfer still suspended when the stop's grace period ends is
  // destroyed with the io_context, after the listener (see Server's members).
  ++*transfers_;
  struct Count {
    std::shared_ptr<size_t> n;
    ~Count() { --*n; }
  } count{transfers_};
  const auto start = Clock::now();
  query::XfrForm form = query::XfrForm::axfr;
  std::unique_ptr<xfr::RecordSource> source = query::transfer_source(r, form);
  std::optional<xfr::TsigStreamSigner> signer;
  if (r.tsig) signer.emplace(*r.tsig);
  xfr::XfrMessageStream stream(r.question, query::kMaxTcpReply);
  asio::steady_timer timer(io_);
  boost::system::error_code ec;
  auto timed_out = std::make_shared<bool>(false);  // the timer's handler may outlive this frame
  uint64_t sent = 0, octets = 0;  // taken by the socket
  auto build = [&] {
    return stream.next(*source, buf + 2, query::kMaxTcpReply, signer ? &*signer : nullptr,
                       static_cast<uint64_t>(::time(nullptr)));
  };
  while (s.socket.is_open()) {
    const size_t n = xfr_ex_ ? co_await build_elsewhere(build) : build();
    if (n == 0) break;
    buf[0] = static_cast<uint8_t>(n >> 8);
    buf[1] = static_cast<uint8_t>(n);
    // A secondary that stops reading holds a transfer slot only this long.
    timer.expires_after(limits_.transfer_timeout);
    timer.async_wait([this, session, timed_out](const boost::system::error_code& te) {
      if (te || !session->socket.is_open()) return;
      *timed_out = true;
      close(*session, CloseReason::slow);
    });
    co_await asio::async_write(s.socket, asio::buffer(buf, n + 2), asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (ec) break;
    ++sent;
    octets += n;
    if (s.in_table) touch(s);  // a transfer is activity: the idle sweep must not cut it
  }
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  const auto type = r.question.qtype == zones::rrtype::AXFR ? query::XfrType::axfr : query::XfrType::ixfr;
  const auto result = stream.failed()                          ? query::XfrResult::failed
                      : *timed_out || ec || !stream.done()     ? query::XfrResult::aborted
                                                               : query::XfrResult::ok;
  query::XfrCounters& counts = stats_.xfr[r.metrics_slot < query::kZoneSlots ? r.metrics_slot : query::kOtherZoneSlot];
  counts.count(type, result, form);
  counts.sent(type, sent, octets);
  counts.took(type, static_cast<uint64_t>(took));
  const std::string what = std::string(query::describe_transfer(r.question.qtype, form)) + " of " +
                           r.zone->origin().to_text() + " (view " + r.view + ", serial " +
                           std::to_string(r.zone->serial()) + ") to " + s.client.to_string() +
                           (r.tsig && r.tsig->key ? " key " + r.tsig->key->name : std::string());
  if (result == query::XfrResult::failed) {
    spdlog::error("xfr: {} failed: a record does not fit a message", what);
    co_return false;
  }
  if (result == query::XfrResult::aborted) {
    spdlog::warn("xfr: {} aborted after {} messages ({})", what, sent,
                 *timed_out ? "the secondary stopped reading" : ec ? ec.message() : "connection closed");
    co_return false;
  }
  spdlog::info("xfr: {}: {} messages, {} records, {} ms", what, stream.messages(), stream.records(), took / 1000);
  co_return true;
}

}  // namespace phoenix::server
