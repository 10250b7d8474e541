// upstream -- one question asked of one upstream server: UDP first, TCP when the reply is truncated.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>

#include "horizon/ip_prefix.hpp"
#include "message.hpp"

namespace phoenix::dnstap {
class Ring;
}

namespace phoenix::forward {

struct Exchange {
  enum class Status { ok, timeout, failed } status = Status::failed;
  Answer answer;  ///< filled when ok
};

/// Asks `q` of `upstream` until `deadline`. Each attempt uses a fresh socket with a random source
/// port and a random ID (RFC 5452 §9.2); a datagram counts only if it comes from the upstream's
/// address and port and carries our ID and question. Anything else is ignored while we keep
/// waiting, so a spoofer has to guess both 16-bit values inside the time window.
/// With `tap`, the question sent and the reply accepted are recorded as FORWARDER_QUERY/RESPONSE.
boost::asio::awaitable<Exchange> exchange(boost::asio::io_context& io, horizon::Endpoint upstream, const Question& q,
                                          const horizon::ForwardSettings& limits, Clock::time_point deadline,
                                          dnstap::Ring* tap = nullptr);

/// 16 (or 32) unpredictable bits from the kernel (getrandom), for IDs and ports.
uint32_t random_u32();

}  // namespace phoenix::forward
