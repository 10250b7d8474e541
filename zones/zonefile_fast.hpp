// zonefile_fast -- the plain master-file line (owner, TTL, IN, A/AAAA/NS/CNAME/PTR/MX) read without
// ldns. A million-record zone is almost only such lines, and ldns spends microseconds on each
// (a character at a time through stdio, several allocations per record). Anything else, from a
// quote, escape, parenthesis or directive to an unknown type, is left to ldns, so this is only ever
// a faster way to the result ldns gives (tests/unit/zones/test_zonefile_fast.cpp and the zonefile
// fuzz target compare the two).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "name.hpp"

namespace phoenix::zones {

struct SimpleRecord {
  uint8_t owner[kMaxNameWire];  ///< lower-cased uncompressed wire
  size_t owner_len = 0;
  uint16_t type = 0;
  uint32_t ttl = 0;
  uint8_t rdata[2 + kMaxNameWire];  ///< uncompressed wire, as ldns writes it
  size_t rdata_len = 0;
};

enum class SimpleLine {
  record,  ///< `out` holds the record
  blank,   ///< nothing but blanks and a comment
  other,   ///< not for this parser: give the line to ldns
};

/// Parses one physical line (without its newline). `origin` is the current $ORIGIN and `prev` the
/// previous owner (empty if none yet), both lower-cased wire; `default_ttl` is the current $TTL.
SimpleLine parse_simple_line(std::string_view line, std::string_view origin, std::string_view prev,
                             uint32_t default_ttl, SimpleRecord& out);

}  // namespace phoenix::zones
