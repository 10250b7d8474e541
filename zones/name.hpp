// name -- domain names in uncompressed, lower-cased wire form: the key for every lookup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace phoenix::zones {

inline constexpr size_t kMaxNameWire = 255;
inline constexpr size_t kMaxLabel = 63;

/// An absolute domain name. wire() is RFC 1035 §3.1 form ending in the root label, lower-cased,
/// so equal names have equal bytes and a std::string compare/hash is a name compare/hash.
class Name {
 public:
  Name() : wire_(1, '\0') {}  ///< the root

  /// Presentation form, absolute or relative to nothing ("a.b", "a.b.", "."); \. and \DDD escapes.
  static std::optional<Name> from_text(std::string_view text);
  /// From uncompressed wire bytes that the caller has validated; lower-cases.
  static Name from_wire(std::string_view wire);

  const std::string& wire() const { return wire_; }
  std::string to_text() const;  ///< with trailing dot
  size_t label_count() const;
  bool is_root() const { return wire_.size() == 1; }
  /// True if this name equals `zone` or lies below it.
  bool is_subdomain_of(const Name& zone) const;

  friend bool operator==(const Name&, const Name&) = default;
  friend bool operator<(const Name& a, const Name& b) { return a.wire_ < b.wire_; }

 private:
  explicit Name(std::string wire) : wire_(std::move(wire)) {}
  std::string wire_;
};

/// RFC 4034 §6.1 canonical order (labels compared right to left), used for deterministic output.
bool canonical_less(const Name& a, const Name& b);
/// The same order on two uncompressed lower-cased wire names.
bool canonical_less_wire(std::string_view a, std::string_view b);
/// Where each label of an uncompressed wire name starts (at most 128: a 255-octet name has at most
/// 127); returns how many. For walking a name's labels from the right without allocating.
size_t label_starts(std::string_view wire, uint16_t (&at)[128]);

/// Lower-cases ASCII letters in place; DNS names compare case-insensitively (RFC 4343).
inline uint8_t lower_octet(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

/// True if the uncompressed wire name `name` ends with the uncompressed wire name `suffix` on a label boundary.
bool wire_has_suffix(std::string_view name, std::string_view suffix);

}  // namespace phoenix::zones
