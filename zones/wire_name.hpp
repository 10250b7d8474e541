// wire_name -- a possibly compressed name read out of a received message.
#pragma once

#include <cstddef>
#include <cstdint>

namespace phoenix::zones {

/// Reads the name at `off` of the `len` bytes at `msg` and moves `off` past it as it sits there.
/// RFC 1035 §4.1.4 pointers must go to a prior position after the header (forward and self pointers
/// are malformed); since every cycle left then passes a non-empty label, the 255-octet bound on the
/// decoded name ends the walk. Labels over 63 (the 0x40/0x80 types, RFC 6891 §5) are malformed.
/// With `out` (256 bytes) the name is also written there uncompressed and lower-cased, its length
/// to `*out_len`. Never reads outside the message; false if the name is malformed.
bool read_message_name(const uint8_t* msg, size_t len, size_t& off, uint8_t* out = nullptr,
                       size_t* out_len = nullptr) noexcept;

}  // namespace phoenix::zones
