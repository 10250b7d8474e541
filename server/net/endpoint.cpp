#include "endpoint.hpp"

#include <netinet/in.h>

namespace phoenix::server {

horizon::IpAddr to_ip(const sockaddr_storage& ss) {
  horizon::IpAddr a;
  if (ss.ss_family == AF_INET) {
    auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    std::memcpy(a.bytes.data(), &s4->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    a.family = horizon::IpAddr::Family::v6;
    std::memcpy(a.bytes.data(), &s6->sin6_addr, 16);
  }
  return a;
}

horizon::IpAddr to_ip(const boost::asio::ip::address& addr) {
  horizon::IpAddr a;
  if (addr.is_v4()) {
    auto b = addr.to_v4().to_bytes();
    std::memcpy(a.bytes.data(), b.data(), 4);
  } else {
    auto b = addr.to_v6().to_bytes();
    a.family = horizon::IpAddr::Family::v6;
    std::memcpy(a.bytes.data(), b.data(), 16);
  }
  return a;
}

}  // namespace phoenix::server
