// fuzz_ixfr_history -- any bytes as the IXFR history file. The input is tried as it is and, so that the
// fuzzer gets past the checksum into the parser, with a correct checksum appended. Whatever parses
// must serialize to bytes that parse to the same history; what is refused must leave no history.
#include <cstdint>
#include <string>
#include <string_view>

#include "server/xfr/ixfr_history.hpp"
#include "zones/serial.hpp"

using namespace phoenix;

namespace {

void check(std::string_view bytes) {
  xfr::IxfrHistoryStore store(8, 4096);
  if (!xfr::IxfrHistoryStore::parse(bytes, store).empty()) {
    if (store.zone_count() != 0) __builtin_trap();  // a refused file leaves no half history
    return;
  }
  const std::string again = store.serialize();
  xfr::IxfrHistoryStore copy(8, 4096);
  if (!xfr::IxfrHistoryStore::parse(again, copy).empty() || copy.serialize() != again) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  check(raw);
  std::string summed(raw);
  uint64_t h = zones::content_hash(summed);
  for (int i = 7; i >= 0; --i) summed.push_back(static_cast<char>(h >> (8 * i)));
  check(summed);
  return 0;
}
