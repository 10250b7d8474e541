// query_file -- the query mix shared by the load generator: "name type" lines encoded to wire once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace phoenix::bench {

/// One pre-encoded query (header with ID 0, question, optional OPT); the generator only patches the ID.
/// The length of a client cookie (RFC 7873 §4.1).
inline constexpr uint16_t kClientCookie = 8;

struct WireQuery {
  std::vector<uint8_t> bytes;
};

/// Reads "name type" lines ("WwW.Host1.bench.test A"); the name keeps its case (0x20 style mixes).
/// Types: any mnemonic zones::type_from_text knows, or TYPEnnn. `rd`: ask for recursion (resolver
/// benchmarks). `cookie`: each query ends with a COOKIE option (RFC 7873 §4) holding a client cookie of
/// kClientCookie zero octets, the last thing in the message, for the generator to fill in. Throws on a
/// bad line.
std::vector<WireQuery> load_queries(const std::string& path, bool edns, bool rd = false, bool cookie = false);

}  // namespace phoenix::bench
