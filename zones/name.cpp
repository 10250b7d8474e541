#include "name.hpp"

#include <vector>

namespace phoenix::zones {

std::optional<Name> Name::from_text(std::string_view text) {
  if (text == "." ) return Name();
  if (text.empty()) return std::nullopt;
  std::string wire;
  std::string label;
  auto flush = [&]() -> bool {
    if (label.empty() || label.size() > kMaxLabel) return false;
    wire.push_back(static_cast<char>(label.size()));
    for (char c : label) wire.push_back(static_cast<char>(lower_octet(static_cast<uint8_t>(c))));
    label.clear();
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return std::nullopt;
      if (i + 3 < text.size() + 0 && isdigit(static_cast<unsigned char>(text[i + 1])) &&
          isdigit(static_cast<unsigned char>(text[i + 2])) && isdigit(static_cast<unsigned char>(text[i + 3]))) {
        int v = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
        if (v > 255) return std::nullopt;
        label.push_back(static_cast<char>(v));
        i += 3;
      } else {
        label.push_back(text[++i]);
      }
    } else if (c == '.') {
      if (!flush()) return std::nullopt;
    } else {
      label.push_back(c);
    }
  }
  if (!label.empty() && !flush()) return std::nullopt;
  wire.push_back('\0');
  if (wire.size() > kMaxNameWire) return std::nullopt;
  return Name(std::move(wire));
}

Name Name::from_wire(std::string_view wire) {
  std::string w(wire);
  // Only label octets are lower-cased, never the length octets.
  for (size_t i = 0; i < w.size() && w[i] != 0; i += static_cast<uint8_t>(w[i]) + 1)
    for (size_t k = i + 1; k <= i + static_cast<uint8_t>(w[i]) && k < w.size(); ++k)
      w[k] = static_cast<char>(lower_octet(static_cast<uint8_t>(w[k])));
  return Name(std::move(w));
}

std::string Name::to_text() const {
  if (is_root()) return ".";
  std::string out;
  for (size_t i = 0; wire_[i] != 0;) {
    size_t len = static_cast<uint8_t>(wire_[i]);
    for (size_t k = 1; k <= len; ++k) {
      auto c = static_cast<unsigned char>(wire_[i + k]);
      if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c <= 32 || c >= 127) {
        char buf[5];
        snprintf(buf, sizeof buf, "\\%03u", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '.';
    i += len + 1;
  }
  return out;
}

size_t Name::label_count() const {
  size_t n = 0;
  for (size_t i = 0; wire_[i] != 0; i += static_cast<uint8_t>(wire_[i]) + 1) ++n;
  return n;
}

bool wire_has_suffix(std::string_view name, std::string_view suffix) {
  if (suffix.size() > name.size()) return false;
  size_t start = name.size() - suffix.size();
  if (name.substr(start) != suffix) return false;
  // The match must begin on a label boundary of `name`.
  for (size_t i = 0; i < name.size(); i += static_cast<uint8_t>(name[i]) + 1) {
    if (i == start) return true;
    if (i > start || name[i] == 0) return false;
  }
  return false;
}

bool Name::is_subdomain_of(const Name& zone) const { return wire_has_suffix(wire_, zone.wire_); }

size_t label_starts(std::string_view w, uint16_t (&at)[128]) {
  size_t n = 0;
  for (size_t i = 0; i < w.size() && w[i] != 0 && n < 128; i += static_cast<uint8_t>(w[i]) + 1u)
    at[n++] = static_cast<uint16_t>(i);
  return n;
}

bool canonical_less_wire(std::string_view a, std::string_view b) {
  // RFC 4034 §6.1: label by label from the right. Sorting a zone calls this ~n log n times (write_served,
  // zone_to_text, the IXFR difference), so the label offsets live on the stack, not in a vector.
  uint16_t sa[128], sb[128];
  size_t na = label_starts(a, sa), nb = label_starts(b, sb);
  auto label = [](std::string_view w, uint16_t at) { return w.substr(at + 1u, static_cast<uint8_t>(w[at])); };
  while (na > 0 && nb > 0) {
    std::string_view x = label(a, sa[--na]), y = label(b, sb[--nb]);
    if (x != y) return x < y;
  }
  return na < nb;
}

bool canonical_less(const Name& a, const Name& b) { return canonical_less_wire(a.wire(), b.wire()); }

}  // namespace phoenix::zones
