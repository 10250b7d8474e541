// query_builder -- a query as a stub resolver sends it; for tests, benches and tools, never the answer path.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace phoenix::query {

/// Header (QR=0, opcode QUERY, RD if `rd`), one IN question, and an OPT record when `edns_payload`
/// is set. `name` is dotted text; its case is kept byte for byte, so 0x20 tests can send mixed case.
std::vector<uint8_t> build_query(std::string_view name, uint16_t qtype, uint16_t id, bool rd,
                                 std::optional<uint16_t> edns_payload);

}  // namespace phoenix::query
