// hash -- the one hash every zones/ index uses: names are short, so a few multiply-xorshift rounds
// over 8-byte words beat std::hash and spread lower-cased wire names well.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace phoenix::zones {

inline uint64_t hash_bytes(std::string_view s, uint64_t seed = 0) noexcept {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ seed ^ (uint64_t{s.size()} << 40);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  if (n) std::memcpy(&w, p, n);
  h = (h ^ w) * 0x94d049bb133111ebULL;
  h ^= h >> 29;
  return h;
}

}  // namespace phoenix::zones
