// wire_reader -- bounds-checked parse of a query: header, the one question, and EDNS(0).
#pragma once

#include <cstddef>
#include <cstdint>

namespace phoenix::query {

namespace rcode {
inline constexpr uint16_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5,
                          BADVERS = 16;
}

/// What parsing decided. `drop` means no reply at all (RFC 1035 §4.1.1: never answer a response).
enum class ParseStatus { ok, drop, formerr, notimp };

struct ParsedQuery {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool rd = false, cd = false;
  bool have_question = false;  ///< question parsed, so an error reply can echo it
  uint16_t qtype = 0, qclass = 0;
  uint8_t qname_lower[256];    ///< lower-cased wire: the lookup key
  uint8_t qname_orig[256];     ///< the client's exact bytes: echoed in the question (0x20 works)
  size_t qname_len = 0;
  bool has_edns = false;
  uint16_t udp_size = 512;     ///< the client's advertised payload size, as sent
  uint8_t edns_version = 0;
  bool do_bit = false;
};

/// Skips the possibly compressed name at `off` in the message `p` of `len` bytes, leaving `off` just
/// after it; false if it is malformed (pointers must point backwards, RFC 1035 §4.1.4).
bool skip_name(const uint8_t* p, size_t len, size_t& off);

/// Parses `len` bytes at `p`. Never reads outside them, never allocates, never loops unbounded.
ParseStatus parse_query(const uint8_t* p, size_t len, ParsedQuery& q) noexcept;

}  // namespace phoenix::query
