// metrics_text -- reading samples back out of a Prometheus text exposition, for unit tests.
#pragma once

#include <string>

namespace phoenix::test {

/// The value of the one sample line that starts with `series ` in `text`, or -1.
inline double value_of(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace phoenix::test
