#include "precompiled.hpp"

#include "zones/rrset.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "wire_reader.hpp"

namespace phoenix::query {
namespace {


constexpr size_t kHeader = 12;
constexpr size_t kOptLen = 11;

}  // namespace

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
  std::vector<uint8_t> q, out(kMaxTcpReply);
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
        q.assign({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
        q.insert(q.end(), owner.begin(), owner.end());
        const uint16_t type = rrset.type();
        q.insert(q.end(), {uint8_t(type >> 8), uint8_t(type), 0, zones::rrclass::IN});
        // As TCP, so that the whole reply is built; per query, a reply above the client's limit
        // goes to the full path, which truncates it.
        // No forwarder: names in our zones are never forwarded, and RA is patched per query.
        QueryContext ctx{&snap, {}, true, nullptr, nullptr, view};
        size_t n = process_query(q.data(), q.size(), ctx, out.data(), out.size());
        size_t body = kHeader + owner.size() + 4;
        if (n < body || (out[2] & 0x02) || zones::read_u16(out.data() + 10) == 0xffff) continue;
        table->add(views, owner, type, out.data(), out.data() + body, n - body);
      }
    });
  }
  table->freeze();
  snap.answers = std::move(table);
  return true;
}

size_t precompiled_reply(const uint8_t* p, size_t len, const QueryContext& ctx, uint8_t* out, size_t cap) noexcept {
  const zones::AnswerTable* table = ctx.snapshot->answers.get();
  if (!table || len < kHeader + 5) return 0;
  // Only the plainest query shape: QR clear, opcode QUERY, one question, no answer/authority records,
  // at most one additional (the OPT checked below).
  if ((p[2] & 0xf8) != 0 || zones::read_u16(p + 4) != 1 || zones::read_u16(p + 6) != 0 || zones::read_u16(p + 8) != 0) return 0;
  uint16_t ar = zones::read_u16(p + 10);
  if (ar > 1) return 0;

  uint8_t lower[256];
  size_t off = kHeader, qlen = 0;
  for (;;) {
    if (off >= len) return 0;
    uint8_t l = p[off];
    if ((l & 0xc0) || qlen + l + 1u > 255 || off + l + 1u > len) return 0;
    lower[qlen] = l;
    for (size_t k = 1; k <= l; ++k) {
      uint8_t c = p[off + k];
      lower[qlen + k] = (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
    }
    qlen += l + 1u;
    off += l + 1u;
    if (l == 0) break;
  }
  if (off + 4 > len) return 0;
  uint16_t qtype = zones::read_u16(p + off), qclass = zones::read_u16(p + off + 2);
  if (qclass != zones::rrclass::IN) return 0;
  off += 4;

  size_t limit = 512;
  bool edns = false, do_bit = false;
  if (ar == 1) {
    // A bare OPT: root owner, version 0, no options (options, e.g. cookies, may change the reply).
    if (len != off + kOptLen || p[off] != 0 || zones::read_u16(p + off + 1) != zones::rrtype::OPT || p[off + 6] != 0 ||
        zones::read_u16(p + off + 9) != 0)
      return 0;
    edns = true;
    do_bit = p[off + 7] & 0x80;
    uint16_t udp = zones::read_u16(p + off + 3);
    limit = udp < 512 ? 512 : udp > kOurPayload ? kOurPayload : udp;
  } else if (len != off) {
    return 0;
  }
  if (ctx.tcp) limit = cap;

  const zones::Snapshot& snap = *ctx.snapshot;
  horizon::ViewId view = ctx.view_override != horizon::kNoView ? ctx.view_override : snap.views.match(ctx.client);
  if (view == horizon::kNoView) return 0;
  zones::AnswerTable::Entry e;
  if (!table->find(view, std::string_view(reinterpret_cast<const char*>(lower), qlen), qtype, e)) return 0;

  size_t question = qlen + 4;
  size_t total = kHeader + question + e.body_len + (edns ? kOptLen : 0);
  if (total > limit || total > cap) return 0;  // would truncate: the full path decides what to drop

  std::memcpy(out, e.header, kHeader);
  out[0] = p[0];
  out[1] = p[1];
  out[2] = static_cast<uint8_t>(out[2] | (p[2] & 0x01));  // RD is copied (RFC 1035 §4.1.1)
  out[3] = static_cast<uint8_t>(out[3] | (p[3] & 0x10));  // CD is copied (RFC 4035 §3.2.2)
  // RA, as the full path sets it: this view forwards, and this transport can forward.
  const zones::ViewData& vd = snap.view_data[view];
  if (vd.recursion && !snap.upstreams.empty() && ctx.forward != nullptr) out[3] |= 0x80;
  std::memcpy(out + kHeader, p + kHeader, question);     // the client's exact bytes: 0x20 case echo
  std::memcpy(out + kHeader + question, e.body, e.body_len);
  if (edns) {
    uint8_t* o = out + kHeader + question + e.body_len;
    const uint8_t opt[kOptLen] = {0, 0, 41, uint8_t(kOurPayload >> 8), uint8_t(kOurPayload & 0xff), 0, 0,
                                  uint8_t(do_bit ? 0x80 : 0), 0, 0, 0};
    std::memcpy(o, opt, kOptLen);
    uint16_t arcount = static_cast<uint16_t>(zones::read_u16(out + 10) + 1);
    out[10] = static_cast<uint8_t>(arcount >> 8);
    out[11] = static_cast<uint8_t>(arcount);
  }
  if (QueryStats* st = ctx.stats) {
    ++st->queries;
    ++st->answered;
    if ((out[3] & 0x0f) == rcode::NXDOMAIN) ++st->nxdomain;
    count_reply(st, vd.metrics_slot, qtype, out[3] & 0x0f);
  }
  return total;
}

}  // namespace phoenix::query
