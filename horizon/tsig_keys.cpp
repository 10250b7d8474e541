#include "tsig_keys.hpp"

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "label.hpp"

namespace phoenix::horizon {
namespace {

struct AlgorithmInfo {
  TsigAlgorithm algorithm;
  const char* name;
  size_t mac_size;
};
constexpr std::array<AlgorithmInfo, 5> kAlgorithms{{
    {TsigAlgorithm::hmac_sha1, "hmac-sha1", 20},
    {TsigAlgorithm::hmac_sha224, "hmac-sha224", 28},
    {TsigAlgorithm::hmac_sha256, "hmac-sha256", 32},
    {TsigAlgorithm::hmac_sha384, "hmac-sha384", 48},
    {TsigAlgorithm::hmac_sha512, "hmac-sha512", 64},
}};

constexpr const char* kAlgorithmList = "hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512";

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 60) return out + "...";
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

/// Checks one definition and appends it; `where` locates it for every message.
void add_key(std::string_view name, std::string_view algorithm, std::string_view secret, const Location& where,
             std::vector<TsigKey>& keys, Diagnostics& diag) {
  bool ok = true;
  if (!is_valid_hostname(name)) {
    diag.error(where.file, where.pointer,
               "invalid TSIG key name \"" + printable(name) +
                   "\" (expected a domain name of letters, digits, '-' and '_')");
    ok = false;
  }
  auto alg = tsig_algorithm_from_name(algorithm);
  if (!alg) {
    diag.error(where.file, where.pointer,
               "TSIG key \"" + printable(name) + "\": unknown algorithm \"" + printable(algorithm) + "\" (expected " +
                   kAlgorithmList + ")");
    ok = false;
  }
  auto bytes = decode_base64(secret);
  if (!bytes) {
    diag.error(where.file, where.pointer, "TSIG key \"" + printable(name) + "\": secret is not valid base64");
    ok = false;
  } else if (bytes->empty()) {
    diag.error(where.file, where.pointer, "TSIG key \"" + printable(name) + "\": empty secret");
    ok = false;
  }
  if (!ok) return;
  std::string norm = normalize_fqdn(name);
  if (const TsigKey* prev = find_tsig_key(keys, norm)) {
    diag.error(where.file, where.pointer,
               "duplicate TSIG key \"" + norm + "\" (first defined at " + prev->where.to_string() + ")");
    return;
  }
  keys.push_back({std::move(norm), *alg, std::move(*bytes), where});
}

/// The lexical side of named.conf that key files use: words, quoted strings, '{', '}', ';'.
class KeyFileLexer {
 public:
  enum class Kind { end, word, string, open, close, semicolon, error };
  struct Token {
    Kind kind = Kind::end;
    std::string text;
    size_t line = 0;
  };

  explicit KeyFileLexer(std::string_view text) : s_(text) {}

  Token next() {
    skip_space_and_comments();
    Token t;
    t.line = line_;
    if (!error_.empty()) return {Kind::error, error_, error_line_};
    if (pos_ >= s_.size()) return t;
    char c = s_[pos_];
    if (c == '{' || c == '}' || c == ';') {
      ++pos_;
      t.kind = c == '{' ? Kind::open : c == '}' ? Kind::close : Kind::semicolon;
      t.text = std::string(1, c);
      return t;
    }
    if (c == '"') {
      ++pos_;
      t.kind = Kind::string;
      for (;;) {
        if (pos_ >= s_.size()) return {Kind::error, "unterminated string", t.line};
        char d = s_[pos_++];
        if (d == '"') return t;
        if (d == '\n') ++line_;
        if (d == '\\' && pos_ < s_.size()) d = s_[pos_++];
        t.text += d;
      }
    }
    t.kind = Kind::word;
    while (pos_ < s_.size()) {
      char d = s_[pos_];
      if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == '{' || d == '}' || d == ';' || d == '"' ||
          d == '#' || (d == '/' && pos_ + 1 < s_.size() && (s_[pos_ + 1] == '/' || s_[pos_ + 1] == '*')))
        break;
      t.text += d;
      ++pos_;
    }
    return t;
  }

 private:
  void skip_space_and_comments() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#' || (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '/')) {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else if (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '*') {
        size_t start_line = line_;
        size_t close = s_.find("*/", pos_ + 2);
        if (close == std::string_view::npos) {
          error_ = "unterminated /* comment";
          error_line_ = start_line;
          pos_ = s_.size();
          return;
        }
        for (size_t i = pos_; i < close; ++i)
          if (s_[i] == '\n') ++line_;
        pos_ = close + 2;
      } else {
        return;
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t line_ = 1;
  std::string error_;
  size_t error_line_ = 0;
};

std::string line_of(size_t line) { return "line " + std::to_string(line); }

std::string describe(const KeyFileLexer::Token& t) {
  using K = KeyFileLexer::Kind;
  switch (t.kind) {
    case K::end: return "end of file";
    case K::string: return "\"" + printable(t.text) + "\"";
    default: return "'" + printable(t.text) + "'";
  }
}

}  // namespace

std::optional<TsigAlgorithm> tsig_algorithm_from_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  for (const auto& a : kAlgorithms)
    if (iequals(name, a.name)) return a.algorithm;
  return std::nullopt;
}

const char* tsig_algorithm_name(TsigAlgorithm a) { return kAlgorithms[static_cast<size_t>(a)].name; }
size_t tsig_mac_size(TsigAlgorithm a) { return kAlgorithms[static_cast<size_t>(a)].mac_size; }

std::string encode_base64(std::string_view bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[v & 63] : '=';
  }
  return out;
}

std::optional<std::string> decode_base64(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t symbols = 0, padding = 0;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      ++padding;
      ++symbols;
      continue;
    }
    int v = base64_value(c);
    if (v < 0 || padding > 0) return std::nullopt;  // a data character after '=' is not base64
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (symbols % 4 != 0 || padding > 2) return std::nullopt;
  // The padding must be exactly what the last group needs, and the bits it leaves over zero (RFC 4648 §3.5).
  size_t expect_padding = bits == 4 ? 2 : bits == 2 ? 1 : 0;
  if (padding != expect_padding) return std::nullopt;
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

void read_tsig_key_text(std::string_view text, const std::string& file, std::vector<TsigKey>& keys,
                        Diagnostics& diag) {
  using K = KeyFileLexer::Kind;
  KeyFileLexer lex(text);
  // A syntax error leaves the rest of the file unreadable: report it and stop (keys so far stay).
  auto fail = [&](const KeyFileLexer::Token& t, const std::string& expected) {
    if (t.kind == K::error) diag.error(file, line_of(t.line), t.text);
    else diag.error(file, line_of(t.line), "expected " + expected + ", found " + describe(t));
  };
  for (;;) {
    auto t = lex.next();
    if (t.kind == K::end) return;
    if (t.kind != K::word || !iequals(t.text, "key")) {
      if (t.kind == K::error) return fail(t, "");
      return fail(t, "a key statement (key \"name\" { algorithm ...; secret \"...\"; };)");
    }
    const size_t key_line = t.line;
    auto name = lex.next();
    if (name.kind != K::word && name.kind != K::string) return fail(name, "a key name");
    auto open = lex.next();
    if (open.kind != K::open) return fail(open, "'{'");
    std::optional<std::string> algorithm, secret;
    for (;;) {
      auto clause = lex.next();
      if (clause.kind == K::close) break;
      if (clause.kind != K::word) return fail(clause, "algorithm, secret or '}'");
      auto value = lex.next();
      if (value.kind != K::word && value.kind != K::string) return fail(value, "a value for " + clause.text);
      auto semi = lex.next();
      if (semi.kind != K::semicolon) return fail(semi, "';'");
      std::optional<std::string>* slot = iequals(clause.text, "algorithm") ? &algorithm
                                         : iequals(clause.text, "secret")  ? &secret
                                                                           : nullptr;
      if (!slot) {
        diag.error(file, line_of(clause.line),
                   "unknown clause \"" + printable(clause.text) + "\" in key \"" + printable(name.text) +
                       "\" (expected algorithm or secret)");
        continue;
      }
      if (*slot) {
        diag.error(file, line_of(clause.line),
                   "key \"" + printable(name.text) + "\": " + clause.text + " given twice");
        continue;
      }
      *slot = value.text;
    }
    auto semi = lex.next();
    if (semi.kind != K::semicolon) return fail(semi, "';' after the key statement");
    if (!algorithm || !secret) {
      diag.error(file, line_of(key_line),
                 "key \"" + printable(name.text) + "\": missing " + (!algorithm ? "algorithm" : "secret"));
      continue;
    }
    add_key(name.text, *algorithm, *secret, {file, line_of(key_line)}, keys, diag);
  }
}

void read_tsig_key_file(const std::string& path, const std::string& display, std::vector<TsigKey>& keys,
                        Diagnostics& diag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.error(display, "", "cannot read TSIG key file");
    return;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  read_tsig_key_text(ss.str(), display, keys, diag);
}

void read_tsig_keys_json(const nlohmann::json& value, const std::string& file, const std::string& pointer,
                         std::vector<TsigKey>& keys, Diagnostics& diag) {
  using nlohmann::json;
  if (!value.is_object()) {
    diag.error(file, pointer, "invalid value " + printable(value.dump()) + " (expected an object of TSIG keys)");
    return;
  }
  const json::json_pointer base(pointer);
  for (const auto& [name, def] : value.items()) {
    const std::string at = (base / name).to_string();
    if (!def.is_object()) {
      diag.error(file, at, "invalid value " + printable(def.dump()) + " (expected {\"algorithm\", \"secret\"})");
      continue;
    }
    bool ok = true;
    std::string fields[2];
    const char* names[2] = {"algorithm", "secret"};
    for (int i = 0; i < 2; ++i) {
      auto it = def.find(names[i]);
      if (it == def.end() || !it->is_string()) {
        diag.error(file, (base / name / names[i]).to_string(),
                   it == def.end() ? "missing (required)" : "invalid value " + printable(it->dump()) + " (expected a string)");
        ok = false;
      } else {
        fields[i] = it->get<std::string>();
      }
    }
    for (const auto& [member, unused] : def.items()) {
      (void)unused;
      if (member != "algorithm" && member != "secret") {
        diag.error(file, (base / name / member).to_string(), "unknown TSIG key field (expected algorithm or secret)");
        ok = false;
      }
    }
    if (ok) add_key(name, fields[0], fields[1], {file, at}, keys, diag);
  }
}

const TsigKey* find_tsig_key(const std::vector<TsigKey>& keys, std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  for (const auto& k : keys)
    if (iequals(k.name, name)) return &k;
  return nullptr;
}

}  // namespace phoenix::horizon
