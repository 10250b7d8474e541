#include "format.hpp"

#include <cstring>

namespace phoenix::wire {
namespace {

constexpr uint8_t kPointer = 0xc0;

/// One step of a name walk: at a pointer, jumps (checking it points backwards and past the header);
/// returns false when malformed. `end` is set once, after the first pointer or the root label.
struct NameWalk {
  const uint8_t* msg;
  size_t len;
  size_t pos;
  size_t total = 0;
  bool jumped = false;
  size_t end = 0;

  /// Moves to the next label; returns its length octet position, or false when malformed.
  bool label(uint8_t& l) noexcept {
    for (;;) {
      if (pos >= len) return false;
      l = msg[pos];
      if ((l & kPointer) == kPointer) {
        if (pos + 2 > len) return false;
        size_t target = static_cast<size_t>(((l & 0x3f) << 8) | msg[pos + 1]);
        if (target >= pos || target < kHeaderSize) return false;  // forward, self or into the header
        if (!jumped) end = pos + 2;                                // the name ends after its first pointer
        jumped = true;
        pos = target;
        continue;
      }
      if (l & kPointer) return false;
      total += l + 1u;
      if (total > zones::kMaxNameWire || pos + 1u + l > len) return false;
      if (l == 0 && !jumped) end = pos + 1;
      return true;
    }
  }
};

/// zones::lower_octet on each of eight octets at once: 0x20 is set where the octet is 'A'..'Z'. Each
/// octet's sums stay below 0x100 (0x7f + 0x3f), so no carry crosses into the next octet.
inline uint64_t lower_word(uint64_t x) noexcept {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  const uint64_t low7 = x & ~kHigh;
  const uint64_t at_least_a = low7 + (0x80 - 'A') * kOnes;    // high bit: low 7 bits >= 'A'
  const uint64_t above_z = low7 + (0x80 - 'Z' - 1) * kOnes;   // high bit: low 7 bits > 'Z'
  const uint64_t upper = at_least_a & ~above_z & ~x & kHigh;  // ...and the octet itself below 0x80
  return x | (upper >> 2);
}

}  // namespace

bool skip_name(const uint8_t* msg, size_t len, size_t& off) noexcept {
  NameWalk w{msg, len, off};
  for (uint8_t l;;) {
    if (!w.label(l)) return false;
    if (l == 0) break;
    w.pos += l + 1u;
  }
  off = w.end;
  return true;
}

size_t decode_name(const uint8_t* msg, size_t len, size_t& off, uint8_t* out, bool lower) noexcept {
  NameWalk w{msg, len, off};
  size_t n = 0;
  for (uint8_t l;;) {
    if (!w.label(l)) return 0;
    out[n] = l;
    for (size_t k = 1; k <= l; ++k) out[n + k] = lower ? zones::lower_octet(msg[w.pos + k]) : msg[w.pos + k];
    n += l + 1u;
    if (l == 0) break;
    w.pos += l + 1u;
  }
  off = w.end;
  return n;
}

size_t read_uncompressed_name(const uint8_t* msg, size_t len, size_t& off, uint8_t* exact, uint8_t* lower) noexcept {
  // The labels are checked first and the name copied after, over all of it at once: a loop per
  // label and octet was a seventh of the instructions of a pipelined TCP query. Length octets
  // (0..63) are below 'A', so lowering the whole name leaves them as they are.
  size_t total = 0;
  for (;;) {
    if (off + total >= len) return 0;
    const uint8_t l = msg[off + total];
    if (l & kPointer) return 0;
    if (total + l + 1u > zones::kMaxNameWire || off + total + l + 1u > len) return 0;
    total += l + 1u;
    if (l == 0) break;
  }
  const uint8_t* name = msg + off;
  if (total < 8) {
    for (size_t i = 0; i < total; ++i) exact[i] = name[i], lower[i] = zones::lower_octet(name[i]);
  } else {
    // Eight octets at a time; the last word overlaps the one before it, so nothing past the name
    // is read or written.
    for (size_t i = 0;; i += 8) {
      if (i + 8 > total) i = total - 8;
      uint64_t w;
      std::memcpy(&w, name + i, 8);
      std::memcpy(exact + i, &w, 8);
      w = lower_word(w);
      std::memcpy(lower + i, &w, 8);
      if (i + 8 == total) break;
    }
  }
  off += total;
  return total;
}

bool name_equals(const uint8_t* msg, size_t len, size_t off, const uint8_t* name) noexcept {
  NameWalk w{msg, len, off};
  for (size_t i = 0;; ) {
    uint8_t l;
    if (!w.label(l) || l != name[i]) return false;
    if (l == 0) return true;
    for (size_t k = 1; k <= l; ++k)
      if (zones::lower_octet(msg[w.pos + k]) != zones::lower_octet(name[i + k])) return false;
    w.pos += l + 1u;
    i += l + 1u;
  }
}


}  // namespace phoenix::wire
