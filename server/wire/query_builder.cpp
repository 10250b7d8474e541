#include "query_builder.hpp"

#include <algorithm>

namespace phoenix::wire {

namespace {
OptRecord opt_of(const QuerySpec& q) { return {q.edns_payload.value_or(0), 0, q.do_bit, ede::kNoEde, q.options}; }
}  // namespace

size_t write_query(const QuerySpec& q, uint8_t* m, size_t cap) noexcept {
  const size_t question = kHeaderSize + q.qname.size() + 4;
  const size_t n = question + (q.edns_payload ? opt_size(opt_of(q)) : 0);
  if (n > cap) return 0;
  std::fill(m, m + kHeaderSize, uint8_t{0});
  write_u16(m, q.id);
  m[2] = q.rd ? flags1::RD : 0;
  m[3] = q.cd ? flags2::CD : 0;
  set_count(m, Count::question, 1);
  std::copy(q.qname.begin(), q.qname.end(), m + kHeaderSize);
  write_u16(m + question - 4, q.qtype);
  write_u16(m + question - 2, q.qclass);
  if (q.edns_payload) {
    write_opt(m + question, n - question, opt_of(q));
    set_count(m, Count::additional, 1);
  }
  return n;
}

std::vector<uint8_t> write_query(const QuerySpec& q) {
  std::vector<uint8_t> m(kHeaderSize + q.qname.size() + 4 + (q.edns_payload ? opt_size(opt_of(q)) : 0));
  write_query(q, m.data(), m.size());
  return m;
}

std::string text_to_wire(std::string_view name) {
  std::string w;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (i > start) {
        w.push_back(static_cast<char>(i - start));
        w.append(name.substr(start, i - start));
      }
      start = i + 1;
    }
  }
  w.push_back('\0');
  return w;
}

std::vector<uint8_t> build_query(std::string_view name, uint16_t qtype, uint16_t id, bool rd,
                                 std::optional<uint16_t> edns_payload) {
  std::string wire = text_to_wire(name);
  QuerySpec q;
  q.qname = wire;
  q.qtype = qtype;
  q.id = id;
  q.rd = rd;
  q.edns_payload = edns_payload;
  return write_query(q);
}

}  // namespace phoenix::wire
