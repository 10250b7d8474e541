// reader -- bounds-checked parse of a query: header, the one question, and EDNS(0), in one pass.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format.hpp"

namespace phoenix::wire {

/// What parsing decided. `drop` means no reply at all (RFC 1035 §4.1.1: never answer a response).
enum class ParseStatus { ok, drop, formerr, notimp };

struct ParsedQuery {
  // Not value-initialised on purpose: the name buffers are written before they are read, and
  // zeroing 512 bytes per query is measurable on the fast path.
  ParsedQuery() noexcept {}

  uint16_t id = 0;
  uint8_t opcode = 0;
  bool rd = false, cd = false;
  bool have_question = false;  ///< question parsed, so an error reply can echo it
  uint16_t qtype = 0, qclass = 0;
  uint8_t qname_lower[zones::kMaxNameWire];  ///< lower-cased wire: the lookup key
  uint8_t qname_orig[zones::kMaxNameWire];   ///< the client's exact bytes: echoed in the question (0x20 works)
  size_t qname_len = 0;
  bool has_edns = false;
  uint16_t udp_size = kMinUdpPayload;  ///< the client's advertised payload size, as sent
  uint8_t edns_version = 0;
  bool do_bit = false;
  /// Where the OPT record's options are in the message (read them with OptionReader); 0 = none.
  uint32_t edns_options_at = 0, edns_options_len = 0;
  /// The first COOKIE option (RFC 7873 §4): the client cookie (8 octets), then the server cookie if any.
  uint8_t cookie[40];
  uint8_t cookie_len = 0;  ///< 0: none; else 8 or 16..40 (other lengths are FORMERR, RFC 7873 §5.2.2)
  /// Records other than the OPT (in any section): a plain query has none.
  uint32_t other_records = 0;

  /// One question, no records beyond a bare version-0 OPT: the shape whose reply depends only on
  /// the question, the view, RD/CD/DO and the size limit (what precompiled replies may answer).
  bool plain() const { return other_records == 0 && edns_options_len == 0 && edns_version == 0; }
  const uint8_t* edns_options(const uint8_t* msg) const { return msg + edns_options_at; }
};

/// Parses `len` bytes at `p`. Never reads outside them, never allocates, never loops unbounded.
ParseStatus parse_query(const uint8_t* p, size_t len, ParsedQuery& q) noexcept;

}  // namespace phoenix::wire
