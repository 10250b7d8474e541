// endpoint -- conversions between our address types and the socket layer's.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <cstring>

#include "horizon/ip_prefix.hpp"

namespace phoenix::server {

/// The kernel's form of `ep` in `ss`; returns its length.
socklen_t to_sockaddr(const horizon::Endpoint& ep, sockaddr_storage& ss);

/// The address views match on, from a kernel socket address.
horizon::IpAddr to_ip(const sockaddr_storage& ss);
horizon::IpAddr to_ip(const boost::asio::ip::address& a);

template <class Protocol>
typename Protocol::endpoint to_asio(const horizon::Endpoint& ep) {
  namespace ip = boost::asio::ip;
  if (ep.addr.is_v4()) {
    ip::address_v4::bytes_type b;
    std::memcpy(b.data(), ep.addr.bytes.data(), 4);
    return {ip::address_v4(b), ep.port};
  }
  ip::address_v6::bytes_type b;
  std::memcpy(b.data(), ep.addr.bytes.data(), 16);
  return {ip::address_v6(b), ep.port};
}

}  // namespace phoenix::server
