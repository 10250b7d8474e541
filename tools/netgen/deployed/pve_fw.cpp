#include "pve_fw.hpp"

#include <set>

#include "horizon/ip_prefix.hpp"
#include "text.hpp"

namespace phoenix::netgen::deployed {
namespace {

const std::set<std::string> kLogLevels = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"};

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

/// Addresses as Proxmox compares them: 10.0.0.12/32 is 10.0.0.12, a network loses its host bits;
/// alias and ipset names are case-insensitive.
std::string address_key(const std::string& list) {
  if (list.empty()) return "";
  std::string out;
  for (auto& part : split(list, ',')) {
    if (!out.empty()) out += ",";
    if (auto p = horizon::IpPrefix::parse(part)) {
      bool host = p->length == (p->addr.is_v4() ? 32 : 128);
      out += host ? p->addr.to_string() : p->network().to_string();
    } else {
      out += lower(part);
    }
  }
  return out;
}

std::string no_spaces(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ') out += c;
  return out;
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& path) : text_(text) { f_.path = path; }

  FwFile run() {
    auto lines = lines_of(text_);
    for (size_t i = 0; i < lines.size(); ++i) line(trim(lines[i]), i + 1);
    return std::move(f_);
  }

 private:
  enum class Section { none, options, rules, aliases, ipset, group };

  void problem(size_t line, std::string msg) { f_.problems.push_back({f_.path, line, std::move(msg)}); }

  void line(const std::string& l, size_t n) {
    if (l.empty()) return;
    if (l[0] == '[') return header(l, n);
    if (l[0] == '#') return;  // a whole-line comment, anywhere
    switch (section_) {
      case Section::none: return problem(n, "\"" + l + "\" outside of any [SECTION]");
      case Section::options: return option(l, n);
      case Section::rules:
        if (auto r = parse_rule(l, n)) f_.rules.push_back(std::move(*r));
        return;
      case Section::group:
        if (auto r = parse_rule(l, n)) f_.groups[name_].push_back(std::move(*r));
        return;
      case Section::aliases: return alias(l, n);
      case Section::ipset: return ipset_entry(l, n);
    }
  }

  void header(const std::string& l, size_t n) {
    auto close = l.find(']');
    std::string rest = close == std::string::npos ? "" : trim(std::string_view(l).substr(close + 1));
    if (close == std::string::npos || (!rest.empty() && rest[0] != '#')) {
      section_ = Section::none;
      return problem(n, "\"" + l + "\" is not a section header ([OPTIONS], [RULES], [ALIASES], [IPSET name], [group name])");
    }
    auto w = words(std::string_view(l).substr(1, close - 1));
    std::string kind = w.empty() ? "" : upper(w[0]);
    name_ = w.size() > 1 ? lower(w[1]) : "";
    if (w.size() == 1 && kind == "OPTIONS") section_ = Section::options;
    else if (w.size() == 1 && kind == "RULES") {
      section_ = Section::rules;
      f_.rules_line = n;
    } else if (w.size() == 1 && kind == "ALIASES") section_ = Section::aliases;
    else if (w.size() == 2 && kind == "IPSET") {
      section_ = Section::ipset;
      f_.ipsets[name_];
    } else if (w.size() == 2 && kind == "GROUP") {
      section_ = Section::group;
      f_.groups[name_];
    } else {
      section_ = Section::none;
      problem(n, "unknown section \"" + l + "\"");
    }
  }

  void option(const std::string& l, size_t n) {
    auto colon = l.find(':');
    std::string key = colon == std::string::npos ? "" : lower(trim(std::string_view(l).substr(0, colon)));
    if (key.empty() || key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0-9_") != std::string::npos)
      return problem(n, "\"" + l + "\" is not an option line (key: value)");
    if (f_.options.count(key)) problem(n, "option \"" + key + "\" set twice (line " + std::to_string(f_.options[key].line) + " and here)");
    f_.options[key] = {trim(std::string_view(l).substr(colon + 1)), n};
  }

  void alias(const std::string& l, size_t n) {
    auto body = trim(std::string_view(l).substr(0, l.find('#')));
    auto w = words(body);
    if (w.size() != 2) return problem(n, "\"" + l + "\" is not an alias line (name address)");
    if (!horizon::IpPrefix::parse(w[1])) return problem(n, "alias " + w[0] + ": \"" + w[1] + "\" is not an address or CIDR");
    f_.aliases[lower(w[0])] = {w[1], n};
  }

  void ipset_entry(const std::string& l, size_t n) {
    auto body = trim(std::string_view(l).substr(0, l.find('#')));
    auto w = words(body);
    if (w.size() != 1) return problem(n, "\"" + l + "\" is not an IP set entry ([!]address, CIDR or alias)");
    IpSetEntry e;
    e.negated = w[0][0] == '!';
    e.cidr = e.negated ? w[0].substr(1) : w[0];
    e.line = n;
    f_.ipsets[name_].push_back(e);
  }

  std::optional<FwRule> parse_rule(const std::string& l, size_t n) {
    FwRule r;
    r.line = n;
    auto hash = l.find('#');
    std::string body = trim(std::string_view(l).substr(0, hash));
    if (hash != std::string::npos) r.comment = trim(std::string_view(l).substr(hash + 1));
    if (!body.empty() && body[0] == '|') {
      r.enabled = false;
      body = trim(std::string_view(body).substr(1));
    }
    auto w = words(body);
    if (w.size() < 2) {
      problem(n, "\"" + l + "\" is not a rule (IN|OUT|GROUP ACTION [options])");
      return std::nullopt;
    }
    r.type = upper(w[0]);
    if (r.type != "IN" && r.type != "OUT" && r.type != "GROUP" && r.type != "FORWARD") {
      problem(n, "rule type \"" + w[0] + "\" is not IN, OUT, FORWARD or GROUP");
      return std::nullopt;
    }
    if (r.type == "GROUP") {
      r.action = lower(w[1]);
    } else {
      std::string a = w[1];
      auto open = a.find('(');
      if (open != std::string::npos) {
        if (a.back() != ')' || open == 0) {
          problem(n, "\"" + a + "\" is not ACTION or MACRO(ACTION)");
          return std::nullopt;
        }
        r.macro = a.substr(0, open);
        a = a.substr(open + 1, a.size() - open - 2);
      }
      r.action = upper(a);
      if (r.action != "ACCEPT" && r.action != "DROP" && r.action != "REJECT") {
        problem(n, "action \"" + a + "\" is not ACCEPT, DROP or REJECT");
        return std::nullopt;
      }
    }
    for (size_t i = 2; i < w.size(); i += 2) {
      const std::string& opt = w[i];
      if (i + 1 >= w.size()) {
        problem(n, "option \"" + opt + "\" has no value");
        return std::nullopt;
      }
      const std::string& v = w[i + 1];
      std::string* slot = opt == "-i" ? &r.iface
                          : opt == "-source" ? &r.source
                          : opt == "-dest" ? &r.dest
                          : opt == "-p" ? &r.proto
                          : opt == "-dport" ? &r.dport
                          : opt == "-sport" ? &r.sport
                          : opt == "-icmp-type" ? &r.icmp_type
                          : opt == "-log" ? &r.log
                          : nullptr;
      if (!slot) {
        // An option we do not know could narrow the rule; dropping it would widen it.
        problem(n, "unknown rule option \"" + opt + "\"");
        return std::nullopt;
      }
      if (!slot->empty()) {
        problem(n, "option \"" + opt + "\" given twice");
        return std::nullopt;
      }
      *slot = v;
    }
    if (!r.log.empty() && !kLogLevels.count(lower(r.log))) {
      problem(n, "log level \"" + r.log + "\" is not one of emerg, alert, crit, err, warning, notice, info, debug, nolog");
      return std::nullopt;
    }
    if (r.type == "GROUP" && (!r.source.empty() || !r.dest.empty() || !r.proto.empty() || !r.dport.empty() ||
                              !r.sport.empty() || !r.log.empty() || !r.icmp_type.empty())) {
      problem(n, "a GROUP rule takes only -i");
      return std::nullopt;
    }
    return r;
  }

  std::string_view text_;
  FwFile f_;
  Section section_ = Section::none;
  std::string name_;
};

}  // namespace

std::string FileProblem::format() const { return file + ":" + std::to_string(line) + ": " + message; }

std::string FwRule::key() const {
  std::string log_level = log.empty() ? "nolog" : lower(log);
  return std::string(enabled ? "" : "|") + type + " " + lower(macro) + "(" + (type == "GROUP" ? lower(action) : action) +
         ") i=" + iface + " s=" + address_key(source) + " d=" + address_key(dest) + " p=" + lower(proto) +
         " dport=" + no_spaces(dport) + " sport=" + no_spaces(sport) + " icmp=" + lower(icmp_type) +
         (type == "GROUP" ? "" : " log=" + log_level);
}

std::string FwRule::text(bool with_comment) const {
  std::string s = std::string(enabled ? "" : "|") + type + " " + (macro.empty() ? action : macro + "(" + action + ")");
  for (auto [flag, v] : {std::pair{"-i", &iface}, {"-source", &source}, {"-dest", &dest}, {"-p", &proto},
                         {"-dport", &dport}, {"-sport", &sport}, {"-icmp-type", &icmp_type}, {"-log", &log}})
    if (!v->empty()) s += std::string(" ") + flag + " " + *v;
  if (with_comment && !comment.empty()) s += " # " + comment;
  return s;
}

bool FwFile::flag(const std::string& key, bool fallback) const {
  auto it = options.find(key);
  if (it == options.end()) return fallback;
  std::string v = lower(it->second.value);
  return v == "1" || v == "yes" || v == "on" || v == "true";
}

std::optional<std::string> FwFile::option(const std::string& key) const {
  auto it = options.find(key);
  if (it == options.end()) return std::nullopt;
  return it->second.value;
}

size_t FwFile::option_line(const std::string& key) const {
  auto it = options.find(key);
  return it == options.end() ? 0 : it->second.line;
}

FwFile parse_fw_file(std::string_view text, const std::string& path) { return Parser(text, path).run(); }

}  // namespace phoenix::netgen::deployed
