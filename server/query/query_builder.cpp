#include "query_builder.hpp"

namespace phoenix::query {

std::vector<uint8_t> build_query(std::string_view name, uint16_t qtype, uint16_t id, bool rd,
                                 std::optional<uint16_t> edns_payload) {
  std::vector<uint8_t> q = {uint8_t(id >> 8), uint8_t(id), uint8_t(rd ? 0x01 : 0x00), 0, 0, 1, 0, 0, 0, 0, 0,
                            uint8_t(edns_payload ? 1 : 0)};
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (i > start) {
        q.push_back(uint8_t(i - start));
        q.insert(q.end(), name.begin() + long(start), name.begin() + long(i));
      }
      start = i + 1;
    }
  }
  q.push_back(0);
  q.insert(q.end(), {uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});
  if (edns_payload) q.insert(q.end(), {0, 0, 41, uint8_t(*edns_payload >> 8), uint8_t(*edns_payload), 0, 0, 0, 0, 0, 0});
  return q;
}

}  // namespace phoenix::query
