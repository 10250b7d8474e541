#include "query_file.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "server/wire/query_builder.hpp"
#include "zones/rrset.hpp"

namespace phoenix::bench {

std::vector<WireQuery> load_queries(const std::string& path, bool edns, bool rd, bool cookie) {
  // A client cookie of zeros, written over per source at send time (and a server cookie appended).
  static const uint8_t zeros[kClientCookie] = {};
  const wire::EdnsOption opt{wire::edns_option::COOKIE, zeros, kClientCookie};
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<WireQuery> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name, type;
    if (!(ls >> name >> type) || name[0] == '#') continue;
    auto t = zones::type_from_text(type);
    if (!t) throw std::runtime_error("unknown query type " + type);
    const std::string qname = wire::text_to_wire(name == "." ? "" : name);
    if (qname.size() > zones::kMaxNameWire) throw std::runtime_error("bad name " + name);
    // ID 0 (patched per send); RD clear for authoritative traffic, set for a resolver's.
    wire::QuerySpec spec;
    spec.qname = qname;
    spec.qtype = *t;
    spec.rd = rd;
    if (edns || cookie) spec.edns_payload = 1232;
    if (cookie) spec.options = {&opt, 1};
    out.push_back(WireQuery{wire::write_query(spec)});
  }
  if (out.empty()) throw std::runtime_error("no queries in " + path);
  return out;
}

}  // namespace phoenix::bench
