// diagnostics -- problems found while loading, each naming file, JSON pointer (or line) and value.
#pragma once

#include <string>
#include <vector>

namespace phoenix::horizon {

enum class Severity { warning, error };

/// One problem: "phoenix_vm_configs.json: /vms/2/network_config/ip: "10.0.0.300/24" is not ...".
struct Diagnostic {
  Severity severity = Severity::error;
  std::string file;      ///< file name relative to the inventory directory (or as given)
  std::string location;  ///< JSON pointer, or "line N" for zone files; may be empty
  std::string message;

  /// The one-line form used by logs, --check and tests.
  std::string format() const;
};

/// Collects every problem so that a load reports all of them at once, then refuses.
class Diagnostics {
 public:
  void error(std::string file, std::string location, std::string message);
  void warning(std::string file, std::string location, std::string message);
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void append(const Diagnostics& other);

  bool has_errors() const;
  size_t error_count() const;
  size_t warning_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace phoenix::horizon
