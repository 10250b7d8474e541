// ip_prefix -- IPv4/IPv6 addresses and prefixes, parsed strictly and matched fast.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace phoenix::horizon {

/// An IPv4 or IPv6 address. IPv4 is kept in the first 4 bytes so that matching stays a byte compare.
struct IpAddr {
  enum class Family : uint8_t { v4, v6 };
  Family family = Family::v4;
  std::array<uint8_t, 16> bytes{};

  /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text; nullopt on anything else (no leading zeros tricks).
  static std::optional<IpAddr> parse(std::string_view text);
  static IpAddr v4(uint32_t host_order);
  /// Maps ::ffff:a.b.c.d to a.b.c.d so that dual-stack sockets match IPv4 selectors.
  IpAddr unmapped() const;
  uint32_t v4_host_order() const;
  std::string to_string() const;
  bool is_v4() const { return family == Family::v4; }
  friend bool operator==(const IpAddr&, const IpAddr&) = default;
};

/// An address prefix "A.B.C.D/NN" or "x::/NN"; a bare address means a host prefix.
struct IpPrefix {
  IpAddr addr;      ///< the address as written (host bits kept, e.g. the host's own 10.0.0.13/24)
  uint8_t length = 0;

  static std::optional<IpPrefix> parse(std::string_view text);
  /// True if `a` lies inside this prefix (families must agree).
  bool contains(const IpAddr& a) const;
  /// The prefix with its host bits cleared.
  IpPrefix network() const;
  std::string to_string() const;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

/// "ip", "ip:port", "[v6]:port"; `default_port` when none is written.
struct Endpoint {
  IpAddr addr;
  uint16_t port = 53;
  static std::optional<Endpoint> parse(std::string_view text, uint16_t default_port);
  std::string to_string() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace phoenix::horizon
