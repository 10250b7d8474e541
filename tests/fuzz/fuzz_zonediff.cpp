// fuzz_zonediff -- zones::diff_zone_text on two arbitrary texts (before NUL after), e.g. a damaged
// --state-dir/served file against a zone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "zones/diff.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nul = in.find('\0');
  std::string_view before = in.substr(0, nul), after = nul == std::string_view::npos ? "" : in.substr(nul + 1);
  auto d = phoenix::zones::diff_zone_text(before, after);
  auto same = phoenix::zones::diff_zone_text(after, after);
  // A text compared with itself never changes; swapping the sides swaps added and removed.
  if (same.records_changed()) std::abort();
  auto back = phoenix::zones::diff_zone_text(after, before);
  if (back.added != d.removed || back.removed != d.added || back.changed != d.changed) std::abort();
  (void)phoenix::zones::describe(d);
  return 0;
}
