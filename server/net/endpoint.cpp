#include "endpoint.hpp"

#include <netinet/in.h>

namespace phoenix::server {

socklen_t to_sockaddr(const horizon::Endpoint& ep, sockaddr_storage& ss) {
  ss = {};
  if (ep.addr.is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(ep.port);
    std::memcpy(&s4->sin_addr, ep.addr.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(ep.port);
  std::memcpy(&s6->sin6_addr, ep.addr.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

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
