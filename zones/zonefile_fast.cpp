#include "zonefile_fast.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "rrset.hpp"

namespace phoenix::zones {
namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower_octet(static_cast<uint8_t>(a[i])) != static_cast<uint8_t>(b[i])) return false;
  return true;
}

/// Decimal without sign, at most 9 digits (ldns also takes units such as 1h: those go to ldns).
bool small_number(std::string_view t, uint32_t& v) {
  if (t.empty() || t.size() > 9) return false;
  v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return true;
}

/// A host-name-like token ("@", relative or absolute) to lower-cased wire; false for anything
/// unusual (escapes, empty labels, the root, odd characters, overlong), which ldns then judges.
bool parse_name(std::string_view t, std::string_view origin, uint8_t* out, size_t& len) {
  if (t == "@") {
    std::memcpy(out, origin.data(), origin.size());
    len = origin.size();
    return true;
  }
  bool absolute = t.back() == '.';
  if (absolute) t.remove_suffix(1);
  if (t.empty()) return false;
  len = 0;
  size_t label_at = 0;
  out[0] = 0;
  len = 1;
  for (char ch : t) {
    auto c = static_cast<uint8_t>(ch);
    if (c == '.') {
      if (len - label_at == 1) return false;  // empty label
      out[label_at] = static_cast<uint8_t>(len - label_at - 1);
      label_at = len;
      out[len++] = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '*';
    if (!ok || len - label_at > kMaxLabel || len + 2 > kMaxNameWire) return false;
    out[len++] = lower_octet(c);
  }
  if (len - label_at == 1 || len - label_at - 1 > kMaxLabel) return false;
  out[label_at] = static_cast<uint8_t>(len - label_at - 1);
  if (absolute) {
    if (len + 1 > kMaxNameWire) return false;
    out[len++] = 0;
    return true;
  }
  if (len + origin.size() > kMaxNameWire) return false;
  std::memcpy(out + len, origin.data(), origin.size());
  len += origin.size();
  return true;
}

}  // namespace

SimpleLine parse_simple_line(std::string_view line, std::string_view origin, std::string_view prev,
                             uint32_t default_ttl, SimpleRecord& out) {
  // Characters that change how a line is read (quotes, escapes, parentheses) or directives, and any
  // byte but printable ASCII and tab (ldns reads through C strings: a NUL ends its token early).
  for (char ch : line) {
    auto c = static_cast<uint8_t>(ch);
    if (c == '"' || c == '\\' || c == '(' || c == ')' || c == '$' || (c < 0x20 && c != '\t') || c > 0x7e)
      return SimpleLine::other;
  }
  if (auto semi = line.find(';'); semi != std::string_view::npos) line = line.substr(0, semi);
  std::array<std::string_view, 8> tok;
  size_t n = 0;
  for (size_t i = 0; i < line.size();) {
    if (blank(line[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < line.size() && !blank(line[j])) ++j;
    if (n == tok.size()) return SimpleLine::other;
    tok[n++] = line.substr(i, j - i);
    i = j;
  }
  if (n == 0) return SimpleLine::blank;
  size_t k = 0;
  if (!blank(line[0])) {
    if (!parse_name(tok[k++], origin, out.owner, out.owner_len)) return SimpleLine::other;
  } else {
    if (prev.empty()) return SimpleLine::other;  // no previous owner: ldns says what is wrong
    std::memcpy(out.owner, prev.data(), prev.size());
    out.owner_len = prev.size();
  }
  // [TTL] [IN]. RFC 1035 §5.1 allows the class first too, but ldns refuses that order, and this
  // parser must never accept what ldns would not.
  out.ttl = default_ttl;
  if (uint32_t ttl; k < n && small_number(tok[k], ttl)) {
    out.ttl = ttl;
    ++k;
  }
  if (k < n && iequals(tok[k], "in")) ++k;
  if (k >= n) return SimpleLine::other;
  std::string_view type = tok[k++];
  const size_t args = n - k;
  const bool v4 = iequals(type, "a"), v6 = iequals(type, "aaaa");
  if ((v4 || v6) && args == 1) {
    // inet_pton, as ldns uses, so both accept exactly the same spellings.
    char buf[48];
    if (tok[k].size() >= sizeof buf) return SimpleLine::other;
    std::memcpy(buf, tok[k].data(), tok[k].size());
    buf[tok[k].size()] = 0;
    if (inet_pton(v4 ? AF_INET : AF_INET6, buf, out.rdata) != 1) return SimpleLine::other;
    out.type = v4 ? rrtype::A : rrtype::AAAA;
    out.rdata_len = v4 ? 4 : 16;
    return SimpleLine::record;
  }
  uint16_t name_type = iequals(type, "ns") ? rrtype::NS : iequals(type, "cname") ? rrtype::CNAME
                       : iequals(type, "ptr") ? rrtype::PTR : 0;
  if (name_type && args == 1) {
    if (!parse_name(tok[k], origin, out.rdata, out.rdata_len)) return SimpleLine::other;
    out.type = name_type;
    return SimpleLine::record;
  }
  if (iequals(type, "mx") && args == 2) {
    uint32_t pref;
    if (!small_number(tok[k], pref) || pref > 0xffff || !parse_name(tok[k + 1], origin, out.rdata + 2, out.rdata_len))
      return SimpleLine::other;
    write_u16(out.rdata, static_cast<uint16_t>(pref));
    out.rdata_len += 2;
    out.type = rrtype::MX;
    return SimpleLine::record;
  }
  return SimpleLine::other;
}

}  // namespace phoenix::zones
