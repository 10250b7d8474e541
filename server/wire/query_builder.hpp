// query_builder -- a query as a stub resolver or a forwarder sends it; never the answer path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format.hpp"

namespace phoenix::wire {

/// What a query says. The name is uncompressed wire form, its case kept byte for byte (so 0x20 tests
/// can send mixed case).
struct QuerySpec {
  std::string_view qname;
  uint16_t qtype = zones::rrtype::A;
  uint16_t qclass = zones::rrclass::IN;
  uint16_t id = 0;
  bool rd = false, cd = false;
  /// An OPT record advertising this payload, with DO and `options` (RFC 6891), when set.
  std::optional<uint16_t> edns_payload;
  bool do_bit = false;
  std::span<const EdnsOption> options = {};
};

/// Header (QR=0, opcode QUERY), one question, and the OPT record when asked for.
std::vector<uint8_t> write_query(const QuerySpec& q);
/// The same into `out`; returns the length, or 0 if it needs more than `cap` bytes.
size_t write_query(const QuerySpec& q, uint8_t* out, size_t cap) noexcept;

/// Dotted text to uncompressed wire form, case kept; empty labels ("a..b", a trailing dot) are skipped.
std::string text_to_wire(std::string_view name);

/// write_query for a name in dotted text, class IN.
std::vector<uint8_t> build_query(std::string_view name, uint16_t qtype, uint16_t id, bool rd,
                                 std::optional<uint16_t> edns_payload);

}  // namespace phoenix::wire
