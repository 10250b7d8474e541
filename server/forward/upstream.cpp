#include "upstream.hpp"

#include <sys/random.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <random>

#include "server/dnstap/tap.hpp"
#include "server/net/endpoint.hpp"
#include "server/query/processor.hpp"

namespace phoenix::forward {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

uint32_t random_u32() {
  uint32_t v = 0;
  if (::getrandom(&v, sizeof v, 0) == static_cast<ssize_t>(sizeof v)) return v;
  // getrandom only fails before the kernel pool is seeded or on ancient kernels.
  static thread_local std::random_device rd;
  return rd();
}

namespace {

/// RFC 5452 §9.2: pick the source port at random over the whole unprivileged range, so that an
/// off-path spoofer must guess it as well as the ID. Falls back to the kernel's choice if unlucky.
void bind_random_port(udp::socket& s, const udp::endpoint& remote, error_code& ec) {
  udp::endpoint local(remote.address().is_v4() ? asio::ip::address(asio::ip::address_v4::any())
                                               : asio::ip::address(asio::ip::address_v6::any()),
                      0);
  for (int i = 0; i < 16; ++i) {
    local.port(static_cast<uint16_t>(1024 + random_u32() % (65536 - 1024)));
    s.bind(local, ec);
    if (!ec) return;
  }
  local.port(0);
  s.bind(local, ec);
}

/// Cancels `sock` at `deadline`: the watchdog that bounds every wait on an upstream.
template <class Socket>
void arm_watchdog(asio::steady_timer& timer, const std::shared_ptr<Socket>& sock, Clock::time_point deadline) {
  timer.expires_at(deadline);
  timer.async_wait([w = std::weak_ptr<Socket>(sock)](const error_code& e) {
    if (e) return;
    if (auto s = w.lock()) {
      error_code ignored;
      s->cancel(ignored);
    }
  });
}

/// dnstap: one message of the exchange with `ep` (its address and port are the responder's).
template <class Endpoint>
void tap_message(dnstap::Ring* tap, dnstap::Kind kind, bool tcp, const Endpoint& ep, const uint8_t* msg, size_t len) {
  if (!tap || !(kind == dnstap::Kind::forwarder_query ? tap->queries() : tap->responses())) return;
  tap->push(kind, tcp, server::to_ip(ep.address()), ep.port(), 0, msg, len);
}

constexpr int kMaxIgnoredDatagrams = 64;  // bounded: a flood of junk ends the attempt, not the thread

asio::awaitable<ReplyCheck> ask_udp(asio::io_context& io, const udp::endpoint& ep, const Question& q,
                                    const horizon::ForwardSettings& limits, Clock::time_point deadline, Answer& out,
                                    bool& timed_out, dnstap::Ring* tap) {
  error_code ec;
  auto sock = std::make_shared<udp::socket>(io);
  sock->open(ep.protocol(), ec);
  if (!ec) bind_random_port(*sock, ep, ec);
  // Connected: the kernel delivers only datagrams from the upstream's address and port, and a closed
  // port comes back as ECONNREFUSED at once instead of a timeout.
  if (!ec) sock->connect(ep, ec);
  if (ec) co_return ReplyCheck::failed;
  const uint16_t id = static_cast<uint16_t>(random_u32());
  auto msg = build_upstream_query(q, id, query::kOurPayload);
  asio::steady_timer timer(io);
  arm_watchdog(timer, sock, deadline);
  co_await sock->async_send(asio::buffer(msg), asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) tap_message(tap, dnstap::Kind::forwarder_query, false, ep, msg.data(), msg.size());
  std::vector<uint8_t> buf(65535);
  for (int n = 0; !ec && n < kMaxIgnoredDatagrams; ++n) {
    // The watchdog may have fired while we were checking a datagram: then it cancelled nothing.
    if (Clock::now() >= deadline) break;
    udp::endpoint from;
    size_t len =
        co_await sock->async_receive_from(asio::buffer(buf), from, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (from != ep) continue;  // not from the upstream we asked
    ReplyCheck c = check_reply(buf.data(), len, q, id, limits, Clock::now(), out);
    if (c != ReplyCheck::mismatch) {
      tap_message(tap, dnstap::Kind::forwarder_response, false, ep, buf.data(), len);
      timer.cancel();
      co_return c;
    }
  }
  timer.cancel();
  timed_out = !ec || ec == asio::error::operation_aborted;
  co_return ReplyCheck::failed;
}

/// RFC 7766 §5: a truncated UDP reply is asked again over TCP, with a 2-octet length prefix.
asio::awaitable<ReplyCheck> ask_tcp(asio::io_context& io, const tcp::endpoint& ep, const Question& q,
                                    const horizon::ForwardSettings& limits, Clock::time_point deadline, Answer& out,
                                    bool& timed_out, dnstap::Ring* tap) {
  error_code ec;
  auto sock = std::make_shared<tcp::socket>(io);
  asio::steady_timer timer(io);
  arm_watchdog(timer, sock, deadline);
  ReplyCheck result = ReplyCheck::failed;
  co_await sock->async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
  const uint16_t id = static_cast<uint16_t>(random_u32());
  auto msg = build_upstream_query(q, id, query::kOurPayload);
  std::vector<uint8_t> frame(2 + msg.size());
  frame[0] = static_cast<uint8_t>(msg.size() >> 8);
  frame[1] = static_cast<uint8_t>(msg.size());
  std::copy(msg.begin(), msg.end(), frame.begin() + 2);
  if (!ec) co_await asio::async_write(*sock, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) tap_message(tap, dnstap::Kind::forwarder_query, true, ep, msg.data(), msg.size());
  uint8_t len_buf[2];
  if (!ec) co_await asio::async_read(*sock, asio::buffer(len_buf), asio::redirect_error(asio::use_awaitable, ec));
  std::vector<uint8_t> buf;
  if (!ec) {
    buf.resize(static_cast<size_t>((len_buf[0] << 8) | len_buf[1]));
    co_await asio::async_read(*sock, asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!ec) {
    result = check_reply(buf.data(), buf.size(), q, id, limits, Clock::now(), out);
    if (result != ReplyCheck::mismatch) tap_message(tap, dnstap::Kind::forwarder_response, true, ep, buf.data(), buf.size());
    // On a stream we opened ourselves a reply that is not ours, or still truncated, is just wrong.
    if (result == ReplyCheck::mismatch || result == ReplyCheck::truncated) result = ReplyCheck::malformed;
  }
  timed_out = ec == asio::error::operation_aborted;
  timer.cancel();
  sock->close(ec);
  co_return result;
}

}  // namespace

asio::awaitable<Exchange> exchange(asio::io_context& io, horizon::Endpoint upstream, const Question& q,
                                   const horizon::ForwardSettings& limits, Clock::time_point deadline,
                                   dnstap::Ring* tap) {
  Exchange ex;
  bool timed_out = false;
  ReplyCheck c =
      co_await ask_udp(io, server::to_asio<udp>(upstream), q, limits, deadline, ex.answer, timed_out, tap);
  if (c == ReplyCheck::truncated)
    c = co_await ask_tcp(io, server::to_asio<tcp>(upstream), q, limits, deadline, ex.answer, timed_out, tap);
  ex.status = c == ReplyCheck::ok ? Exchange::Status::ok
              : timed_out         ? Exchange::Status::timeout
                                  : Exchange::Status::failed;
  co_return ex;
}

}  // namespace phoenix::forward
