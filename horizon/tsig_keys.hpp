// tsig_keys -- TSIG key definitions (RFC 8945) from a tsig-keygen key file or the inventory's JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "diagnostics.hpp"
#include "inventory.hpp"

namespace phoenix::horizon {


/// "hmac-sha256" (any case, one trailing dot allowed, as in the TSIG algorithm name) -> algorithm.
std::optional<TsigAlgorithm> tsig_algorithm_from_name(std::string_view name);
/// The algorithm's name as tsig-keygen and the TSIG record write it, without trailing dot.
const char* tsig_algorithm_name(TsigAlgorithm a);
/// Bytes of the algorithm's HMAC output.
size_t tsig_mac_size(TsigAlgorithm a);


/// Strict RFC 4648 §4 base64 (whitespace between characters is skipped, as BIND does in key files);
/// nullopt on any other character, bad padding or non-zero trailing bits.
std::optional<std::string> decode_base64(std::string_view text);
/// RFC 4648 §4 base64 with padding: how a key's secret is written back into a configuration.
std::string encode_base64(std::string_view bytes);

/// Reads the key statements of a BIND-syntax key file (what `tsig-keygen` prints; several keys per
/// text; `//`, `#` and `/* */` comments) and appends them to `keys`. Every problem is reported to
/// `diag` naming `file` and "line N"; a key already in `keys` (from any source) is a duplicate error.
void read_tsig_key_text(std::string_view text, const std::string& file, std::vector<TsigKey>& keys,
                        Diagnostics& diag);

/// The same for a file on disk; `display` names it in messages (relative to the inventory directory).
void read_tsig_key_file(const std::string& path, const std::string& display, std::vector<TsigKey>& keys,
                        Diagnostics& diag);

/// The inline form {"name": {"algorithm": "hmac-sha256", "secret": "base64"}} found at JSON pointer
/// `pointer` of `file`; problems name file and the pointer of the offending member.
void read_tsig_keys_json(const nlohmann::json& value, const std::string& file, const std::string& pointer,
                         std::vector<TsigKey>& keys, Diagnostics& diag);

/// The key called `name` (any case, trailing dot allowed), or nullptr.
const TsigKey* find_tsig_key(const std::vector<TsigKey>& keys, std::string_view name);

}  // namespace phoenix::horizon
