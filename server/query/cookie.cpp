#include "cookie.hpp"

#include <cstring>

namespace phoenix::query {
namespace {

inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline uint64_t load_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct SipState {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  }
  void absorb(uint64_t m) {
    v3 ^= m;
    round(), round();  // c = 2
    v0 ^= m;
  }
};

/// The hashed input of RFC 9018 §4.4: client cookie | version | reserved | timestamp | client address.
size_t hash_input(const uint8_t client_cookie[8], const uint8_t* head, const horizon::IpAddr& client, uint8_t* in) {
  std::memcpy(in, client_cookie, 8);
  std::memcpy(in + 8, head, 8);  // version, reserved (3), timestamp (4)
  const size_t alen = client.is_v4() ? 4 : 16;
  std::memcpy(in + 16, client.bytes.data(), alen);
  return 16 + alen;
}

}  // namespace

void siphash24(const CookieSecret& key, const uint8_t* data, size_t len, uint8_t out[8]) noexcept {
  const uint64_t k0 = load_le(key.data()), k1 = load_le(key.data() + 8);
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
  size_t full = len & ~size_t{7};
  for (size_t i = 0; i < full; i += 8) s.absorb(load_le(data + i));
  uint64_t last = static_cast<uint64_t>(len) << 56;
  for (size_t i = full; i < len; ++i) last |= static_cast<uint64_t>(data[i]) << (8 * (i - full));
  s.absorb(last);
  s.v2 ^= 0xff;
  s.round(), s.round(), s.round(), s.round();  // d = 4
  uint64_t h = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(h >> (8 * i));
}

void make_server_cookie(const CookieSecret& secret, const uint8_t client_cookie[8], const horizon::IpAddr& client,
                        uint32_t now, uint8_t out[16]) noexcept {
  out[0] = 1;  // version
  out[1] = out[2] = out[3] = 0;
  out[4] = static_cast<uint8_t>(now >> 24);
  out[5] = static_cast<uint8_t>(now >> 16);
  out[6] = static_cast<uint8_t>(now >> 8);
  out[7] = static_cast<uint8_t>(now);
  uint8_t in[32];
  siphash24(secret, in, hash_input(client_cookie, out, client, in), out + 8);
}

bool server_cookie_valid(const CookieSecrets& secrets, const uint8_t client_cookie[8], const uint8_t* server_cookie,
                         size_t server_len, const horizon::IpAddr& client, uint32_t now) noexcept {
  if (server_len != kServerCookieLen || server_cookie[0] != 1) return false;
  const uint32_t ts = (uint32_t{server_cookie[4]} << 24) | (uint32_t{server_cookie[5]} << 16) |
                      (uint32_t{server_cookie[6]} << 8) | server_cookie[7];
  // Serial number arithmetic (RFC 1982): the difference as a signed 32-bit number survives the wrap.
  const int32_t age = static_cast<int32_t>(now - ts);
  if (age > 3600 || age < -300) return false;
  uint8_t in[32], mac[8];
  const size_t n = hash_input(client_cookie, server_cookie, client, in);
  siphash24(secrets.current, in, n, mac);
  if (std::memcmp(mac, server_cookie + 8, 8) == 0) return true;
  if (!secrets.has_previous) return false;
  siphash24(secrets.previous, in, n, mac);
  return std::memcmp(mac, server_cookie + 8, 8) == 0;
}

}  // namespace phoenix::query
