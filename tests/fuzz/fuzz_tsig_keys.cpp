// fuzz_tsig_keys -- any text through the BIND-syntax TSIG key-file reader: it must never crash, every
// problem must name the file and a line inside the text, and every key it accepts must be usable
// (a known algorithm, a non-empty secret, a name no other accepted key has).
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "horizon/tsig_keys.hpp"

using namespace phoenix;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<horizon::TsigKey> keys;
  horizon::Diagnostics diag;
  horizon::read_tsig_key_text(text, "fuzz.keys", keys, diag);
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& d : diag.items()) {
    if (d.file != "fuzz.keys" || d.location.rfind("line ", 0) != 0) __builtin_trap();
    size_t line = std::stoul(d.location.substr(5));
    if (line == 0 || line > lines) __builtin_trap();
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    if (k.secret.empty() || k.name.empty() || k.name.back() == '.') __builtin_trap();
    if (horizon::tsig_algorithm_from_name(horizon::tsig_algorithm_name(k.algorithm)) != k.algorithm) __builtin_trap();
    if (horizon::find_tsig_key(keys, k.name) != &k) __builtin_trap();
  }
  return 0;
}
