#include "precompiled.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "server/wire/query_builder.hpp"
#include "server/wire/writer.hpp"

namespace phoenix::query {

bool precompile_answers(zones::Snapshot& snap, size_t max_entries) {
  // Each zone once, however many views serve it: the reply to a name in a zone does not depend on the
  // view (additional data and CNAME chains stay inside the zone; RA is patched per query).
  std::vector<const zones::Zone*> zones;
  size_t entries = 0, bytes = 0;
  for (auto& vd : snap.view_data)
    for (auto& z : vd.zones.zones())
      if (std::find(zones.begin(), zones.end(), z.get()) == zones.end()) {
        zones.push_back(z.get());
        z->for_each_node([&](zones::NodeView node) {
          entries += node.rrset_count();
          // The owner and the answer section: each record's rdata plus a 12-byte head (compressed
          // owner, type, class, TTL, length), where the zone keeps a 2-byte length.
          for (zones::RRsetView r : node.rrsets())
            bytes += node.owner_wire().size() + r.encoded_size() - zones::RRsetView::kHeader + 10u * r.size();
        });
      }
  if (entries > max_entries) {
    snap.answers.reset();  // the full path answers everything; see kPrecompileMax
    return false;
  }
  auto table = std::make_unique<zones::AnswerTable>();
  table->reserve(entries, bytes);
  const size_t nviews = std::min<size_t>(snap.view_data.size(), zones::AnswerTable::kMaxViews);
  std::vector<uint8_t> q(wire::kHeaderSize + zones::kMaxNameWire + 4), out(kMaxTcpReply);
  for (const zones::Zone* zone : zones) {
    zone->for_each_node([&](zones::NodeView node) {
      std::string_view owner = node.owner_wire();
      // The views in which this name is answered from this zone (not from a more specific one).
      uint64_t views = 0;
      for (size_t v = 0; v < nviews; ++v)
        if (snap.view_data[v].zones.find_zone(owner) == zone) views |= uint64_t{1} << v;
      if (views == 0) return;
      auto view = static_cast<horizon::ViewId>(std::countr_zero(views));
      for (zones::RRsetView rrset : node.rrsets()) {
        // The query the full path is asked: no EDNS, RD/CD clear, the lower-case name.
        const uint16_t type = rrset.type();
        wire::QuerySpec spec;
        spec.qname = owner;
        spec.qtype = type;
        size_t qlen = wire::write_query(spec, q.data(), q.size());
        // As TCP, so that the whole reply is built; per query, a reply above the client's limit
        // goes to the full path, which truncates it.
        // No forwarder: names in our zones are never forwarded, and RA is patched per query.
        QueryContext ctx{&snap, {}, true, nullptr, nullptr, view, /*precompiled=*/false};
        size_t n = process_query(q.data(), qlen, ctx, out.data(), out.size());
        size_t body = wire::kHeaderSize + owner.size() + 4;
        if (n < body || (out[2] & wire::flags1::TC) || wire::count(out.data(), wire::Count::additional) == 0xffff)
          continue;
        table->add(views, owner, type, out.data(), out.data() + body, n - body);
      }
    });
  }
  table->freeze();
  snap.answers = std::move(table);
  return true;
}

size_t write_stored_reply(const StoredReply& r, const PrecompiledInput& in, uint8_t* out) noexcept {
  const ParsedQuery& q = in.q;
  const uint8_t rc = r.header[3] & 0x0f;
  const wire::OptRecord opt = wire::reply_opt(q, rc);
  const size_t question = q.qname_len + 4;
  const size_t body = wire::kHeaderSize + question + r.body_len;
  const size_t total = body + (q.has_edns ? wire::opt_size(opt) : 0);
  const auto flags1 = static_cast<uint8_t>(r.header[2] | in.flags1);
  const auto flags2 = static_cast<uint8_t>(r.header[3] | in.flags2);
  if (total > in.limit) {
    if (!r.truncate) return 0;  // the full path decides what to drop
    return wire::write_empty_reply(q, flags1 | wire::flags1::TC, flags2, rc, wire::ede::kNoEde, out, in.limit);
  }

  std::memcpy(out, r.header, wire::kHeaderSize);
  wire::write_u16(out, q.id);
  out[2] = flags1;
  out[3] = flags2;
  std::memcpy(out + wire::kHeaderSize, q.qname_orig, q.qname_len);  // the client's exact bytes: 0x20 case echo
  wire::write_u16(out + wire::kHeaderSize + q.qname_len, q.qtype);
  wire::write_u16(out + wire::kHeaderSize + q.qname_len + 2, q.qclass);
  std::memcpy(out + wire::kHeaderSize + question, r.body, r.body_len);
  for (uint16_t at : r.ttls) {
    if (at + 4u > body) continue;  // never outside the copied bytes
    const uint32_t t = wire::read_u32(out + at);
    wire::write_u32(out + at, t > r.age ? t - r.age : 0);
  }
  if (q.has_edns) {
    wire::write_opt(out + body, total - body, opt);
    wire::bump_count(out, wire::Count::additional);
  }
  return total;
}

size_t precompiled_reply(const zones::AnswerTable& table, const PrecompiledInput& in, uint8_t* out) noexcept {
  zones::AnswerTable::Entry e;
  const ParsedQuery& q = in.q;
  if (!table.find(in.view, std::string_view(reinterpret_cast<const char*>(q.qname_lower), q.qname_len), q.qtype, e))
    return 0;
  return write_stored_reply(StoredReply{e.header, e.body, e.body_len}, in, out);
}

}  // namespace phoenix::query
