#include "ip_prefix.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace phoenix::horizon {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (text.find(':') == std::string_view::npos) {
    // inet_pton(AF_INET) rejects octal/short forms, which is what we want for an inventory.
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
    a.family = Family::v4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) != 1) return std::nullopt;
  a.family = Family::v6;
  return a;
}

IpAddr IpAddr::v4(uint32_t h) {
  IpAddr a;
  a.bytes[0] = static_cast<uint8_t>(h >> 24);
  a.bytes[1] = static_cast<uint8_t>(h >> 16);
  a.bytes[2] = static_cast<uint8_t>(h >> 8);
  a.bytes[3] = static_cast<uint8_t>(h);
  return a;
}

IpAddr IpAddr::unmapped() const {
  static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family != Family::v6 || std::memcmp(bytes.data(), prefix, 12) != 0) return *this;
  IpAddr a;
  std::memcpy(a.bytes.data(), bytes.data() + 12, 4);
  return a;
}

uint32_t IpAddr::v4_host_order() const {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3];
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned max = addr->is_v4() ? 32 : 128;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc{} || p != digits.data() + digits.size() || len > max) return std::nullopt;
  }
  return IpPrefix{*addr, static_cast<uint8_t>(len)};
}

bool IpPrefix::contains(const IpAddr& a) const {
  if (a.family != addr.family) return false;
  unsigned full = length / 8, rest = length % 8;
  if (std::memcmp(a.bytes.data(), addr.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (addr.bytes[full] & mask);
}

IpPrefix IpPrefix::network() const {
  IpPrefix p = *this;
  unsigned full = length / 8, rest = length % 8;
  for (unsigned i = full; i < 16; ++i) {
    if (i == full && rest) {
      p.addr.bytes[i] &= static_cast<uint8_t>(0xff << (8 - rest));
    } else {
      p.addr.bytes[i] = 0;
    }
  }
  return p;
}

std::string IpPrefix::to_string() const { return addr.to_string() + "/" + std::to_string(length); }

std::optional<Endpoint> Endpoint::parse(std::string_view text, uint16_t default_port) {
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  auto addr = IpAddr::parse(host);
  if (!addr) return std::nullopt;
  Endpoint e{*addr, default_port};
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535) return std::nullopt;
    e.port = static_cast<uint16_t>(v);
  }
  return e;
}

std::string Endpoint::to_string() const {
  if (addr.is_v4()) return addr.to_string() + ":" + std::to_string(port);
  return "[" + addr.to_string() + "]:" + std::to_string(port);
}

}  // namespace phoenix::horizon
