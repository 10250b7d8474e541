// diagnostics -- problems found while loading, each naming file, JSON pointer (or line) and value.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace phoenix::horizon {

enum class Severity { warning, error };

/// One problem: "phoenix_vm_configs.json: /vms/2/network_config/ip: "10.0.0.300/24" is not ...".
struct Diagnostic {
  // A constructor rather than aggregate initialisation, so that {severity, file, location, message}
  // keeps working now that code and also follow.
  Diagnostic(Severity s = Severity::error, std::string f = {}, std::string loc = {}, std::string msg = {},
             std::string c = {}, std::vector<std::pair<std::string, std::string>> more = {})
      : severity(s), file(std::move(f)), location(std::move(loc)), message(std::move(msg)), code(std::move(c)),
        also(std::move(more)) {}

  Severity severity = Severity::error;
  std::string file;      ///< file name relative to the inventory directory (or as given)
  std::string location;  ///< JSON pointer, or "line N" for zone files; may be empty
  std::string message;
  /// A stable kebab-case name for the kind of problem ("leak", "duplicate-ip"), shared by phoenix-dns
  /// --check and phoenix-netgen check; "" for plain load errors.
  std::string code;
  /// Further places involved (file, JSON pointer), e.g. the other guest of a duplicate address.
  std::vector<std::pair<std::string, std::string>> also;

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
