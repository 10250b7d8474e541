#include "query_file.hpp"

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace phoenix::bench {
namespace {

uint16_t type_code(const std::string& t) {
  static const std::map<std::string, uint16_t> known = {{"A", 1},    {"NS", 2},   {"CNAME", 5}, {"SOA", 6},
                                                        {"PTR", 12}, {"MX", 15},  {"TXT", 16},  {"AAAA", 28},
                                                        {"SRV", 33}, {"ANY", 255}};
  if (auto it = known.find(t); it != known.end()) return it->second;
  if (t.rfind("TYPE", 0) == 0) return static_cast<uint16_t>(std::stoul(t.substr(4)));
  throw std::runtime_error("unknown query type " + t);
}

}  // namespace

std::vector<WireQuery> load_queries(const std::string& path, bool edns) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<WireQuery> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name, type;
    if (!(ls >> name >> type) || name[0] == '#') continue;
    WireQuery q;
    auto& b = q.bytes;
    // Header: ID 0 (patched per send), RD clear (authoritative traffic), one question.
    b = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, static_cast<uint8_t>(edns ? 1 : 0)};
    size_t start = 0;
    if (name == ".") name.clear();
    while (start < name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      size_t len = dot - start;
      if (len == 0 || len > 63) throw std::runtime_error("bad name " + name);
      b.push_back(static_cast<uint8_t>(len));
      b.insert(b.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
      start = dot + 1;
    }
    b.push_back(0);
    uint16_t t = type_code(type);
    b.insert(b.end(), {static_cast<uint8_t>(t >> 8), static_cast<uint8_t>(t), 0, 1});
    if (edns) b.insert(b.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});  // OPT, payload 1232, no options
    out.push_back(std::move(q));
  }
  if (out.empty()) throw std::runtime_error("no queries in " + path);
  return out;
}

}  // namespace phoenix::bench
