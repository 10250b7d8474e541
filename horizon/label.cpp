#include "label.hpp"

namespace phoenix::horizon {

std::string sanitize_label(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-';
    if (!ok) l = '-';
    if (l == '-' && !out.empty() && out.back() == '-') continue;
    out.push_back(l);
  }
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 63) {
    out.resize(63);
    while (!out.empty() && out.back() == '-') out.pop_back();
  }
  return out;
}

bool is_valid_hostname(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '*';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::string normalize_fqdn(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out.back() == '.') out.pop_back();
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace phoenix::horizon
