// cookie -- DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018): SipHash-2-4 over
// the client cookie, version, reserved octets, timestamp and client address, keyed by a secret.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "horizon/ip_prefix.hpp"

namespace phoenix::query {

inline constexpr uint16_t kCookieOption = 10;  ///< RFC 7873 §4
inline constexpr size_t kClientCookieLen = 8, kServerCookieLen = 16;

using CookieSecret = std::array<uint8_t, 16>;

/// The secrets a server accepts: cookies are made with `current`; during the overlap after a
/// rotation, those made with `previous` still count (RFC 9018 §5).
struct CookieSecrets {
  CookieSecret current{};
  CookieSecret previous{};
  bool has_previous = false;
};

/// SipHash-2-4 (64-bit output) of `len` octets under a 128-bit key; the 8 output octets in the
/// order RFC 9018 puts them on the wire (little-endian, as the SipHash reference writes them).
void siphash24(const CookieSecret& key, const uint8_t* data, size_t len, uint8_t out[8]) noexcept;

/// RFC 9018 §4.2: version 1, reserved 0, `now` (seconds, mod 2^32), the hash: 16 octets in `out`.
void make_server_cookie(const CookieSecret& secret, const uint8_t client_cookie[8], const horizon::IpAddr& client,
                        uint32_t now, uint8_t out[16]) noexcept;

/// RFC 9018 §4.3: a server cookie of 16 octets, version 1, stamped at most an hour ago and at most five
/// minutes ahead, whose hash (over the reserved octets as sent) matches one of the secrets.
bool server_cookie_valid(const CookieSecrets& secrets, const uint8_t client_cookie[8], const uint8_t* server_cookie,
                         size_t server_len, const horizon::IpAddr& client, uint32_t now) noexcept;

/// Handed to the processor by the transport: the secrets, the time, and what came of the query's cookie.
struct CookieState {
  const CookieSecrets* secrets = nullptr;  ///< null: cookies are not answered (as before)
  uint32_t now = 0;                        ///< seconds since the epoch, mod 2^32
  bool require = false;                    ///< dns_server.require_cookie: BADCOOKIE for UDP without a valid one
  bool valid = false;                      ///< out: the query carried a valid server cookie
};

}  // namespace phoenix::query
