#include "resolv_conf.hpp"

namespace phoenix::server {

std::vector<horizon::Endpoint> parse_resolv_conf(std::string_view text) {
  std::vector<horizon::Endpoint> out;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // resolv.conf(5): a keyword at the start of the line, then its value; '#' or ';' start comments.
    if (auto c = line.find_first_of("#;"); c != std::string_view::npos) line = line.substr(0, c);
    constexpr std::string_view kKeyword = "nameserver";
    if (line.substr(0, kKeyword.size()) != kKeyword || line.size() == kKeyword.size() || !is_space(line[kKeyword.size()]))
      continue;
    line.remove_prefix(kKeyword.size());
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    size_t end = 0;
    while (end < line.size() && !is_space(line[end])) ++end;
    if (auto a = horizon::IpAddr::parse(line.substr(0, end))) out.push_back({*a, 53});
  }
  return out;
}

std::vector<horizon::Endpoint> other_nameservers(const std::vector<horizon::Endpoint>& nameservers,
                                                 const std::vector<horizon::Endpoint>& listen) {
  std::vector<horizon::Endpoint> out;
  for (auto& ns : nameservers) {
    bool ours = false;
    for (auto& l : listen) {
      if (l.port != ns.port) continue;
      bool wildcard = l.addr == horizon::IpAddr{l.addr.family, {}};
      ours = ours || l.addr.unmapped() == ns.addr.unmapped() || (wildcard && l.addr.family == ns.addr.family);
    }
    if (!ours) out.push_back(ns);
  }
  return out;
}

}  // namespace phoenix::server
