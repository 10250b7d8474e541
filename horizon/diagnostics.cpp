#include "diagnostics.hpp"

#include <algorithm>

namespace phoenix::horizon {

std::string Diagnostic::format() const {
  std::string out = severity == Severity::error ? "error: " : "warning: ";
  if (!file.empty()) out += file + ": ";
  if (!location.empty()) out += location + ": ";
  out += message;
  return out;
}

void Diagnostics::error(std::string file, std::string location, std::string message) {
  items_.push_back({Severity::error, std::move(file), std::move(location), std::move(message)});
}

void Diagnostics::warning(std::string file, std::string location, std::string message) {
  items_.push_back({Severity::warning, std::move(file), std::move(location), std::move(message)});
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

size_t Diagnostics::error_count() const {
  return static_cast<size_t>(std::count_if(items_.begin(), items_.end(),
                                           [](const Diagnostic& d) { return d.severity == Severity::error; }));
}

size_t Diagnostics::warning_count() const { return items_.size() - error_count(); }

}  // namespace phoenix::horizon
