#include "wire_name.hpp"

#include "name.hpp"

namespace phoenix::zones {

bool read_message_name(const uint8_t* msg, size_t len, size_t& off, uint8_t* out, size_t* out_len) noexcept {
  size_t pos = off, total = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= len) return false;
    const uint8_t l = msg[pos];
    if ((l & 0xc0) == 0xc0) {
      if (pos + 2 > len) return false;
      const size_t target = static_cast<size_t>(((l & 0x3f) << 8) | msg[pos + 1]);
      if (target >= pos || target < 12) return false;
      if (!jumped) off = pos + 2;  // the name ends after its first pointer
      jumped = true;
      pos = target;
      continue;
    }
    if ((l & 0xc0) || total + l + 1u > kMaxNameWire || pos + l + 1u > len) return false;
    if (out) {
      out[total] = l;
      for (size_t k = 1; k <= l; ++k) out[total + k] = lower_octet(msg[pos + k]);
    }
    total += l + 1u;
    if (l == 0) {
      if (!jumped) off = pos + 1;
      if (out_len) *out_len = total;
      return true;
    }
    pos += l + 1u;
  }
}

}  // namespace phoenix::zones
