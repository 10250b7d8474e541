#include "zone.hpp"

#include <algorithm>
#include <cstring>

#include "hash.hpp"

namespace phoenix::zones {
namespace {

constexpr const char* kProblemText[] = {
    "record outside the zone",
    "CNAME and other data at the same name",
    "more than one CNAME at the same name",
    "no SOA at the zone apex",
    "no NS at the zone apex",
    "more than one SOA",
    "SOA not at the zone apex",
    "invalid rdata",
    "records of one RRset with different TTLs (first TTL used)",
    "non-glue data below a delegation",
    "zone too large (4 GiB of names or rdata, or 65535 records in one RRset)",
};

/// Lower-cases the embedded names of well-known types so that following them is a byte compare.
void lower_rdata_names(uint16_t type, uint8_t* p, size_t size) {
  auto names = rdata_names(type);
  if (!names) return;
  size_t off = names->first;
  for (int n = 0; n < (names->two ? 2 : 1); ++n) {
    size_t len = wire_name_length(p + off, size - off);
    for (size_t i = off; i < off + len && p[i] != 0; i += p[i] + 1u)
      for (size_t k = i + 1; k <= i + p[i]; ++k) p[k] = lower_octet(p[k]);
    off += len;
  }
}

std::string_view target_of(RRsetView rrset, std::string_view rdata) {
  auto names = rdata_names(rrset.type());
  size_t off = names ? names->first : 0;
  auto p = reinterpret_cast<const uint8_t*>(rdata.data());
  return rdata.substr(off, wire_name_length(p + off, rdata.size() - off));
}

const char* wire_ptr(NodeView n) { return n.owner_wire().data(); }

}  // namespace

RRsetView NodeView::find(uint16_t type) const {
  for (RRsetView r : rrsets())
    if (r.type() == type) return r;
  return {};
}

size_t NodeView::encoded_size() const {
  const uint8_t* q = p_ + 3 + p_[0];
  for (uint16_t i = 0, n = rrset_count(); i < n; ++i) q += RRsetView(q).encoded_size();
  return static_cast<size_t>(q - p_);
}

const char* zone_problem_text(ZoneProblem p) { return kProblemText[static_cast<int>(p)]; }

uint32_t Zone::serial() const {
  std::string_view r = *soa_.begin();
  auto p = reinterpret_cast<const uint8_t*>(r.data());
  size_t a = wire_name_length(p, r.size());
  size_t b = wire_name_length(p + a, r.size() - a);
  return read_u32(p + a + b);
}

NodeView Zone::find_node(std::string_view wire) const noexcept {
  if (index_.empty() || wire.size() > kMaxNameWire) return {};
  uint64_t h = hash_bytes(wire);
  auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = index_[i];
    if (s.offset == 0) return {};
    if (s.tag != tag) continue;
    const uint8_t* p = arena_.data() + (s.offset - 1);
    if (p[0] == wire.size() && std::memcmp(p + 1, wire.data(), wire.size()) == 0) return NodeView(p);
  }
}

std::vector<NodeView> Zone::sorted_nodes() const {
  std::vector<NodeView> nodes;
  nodes.reserve(node_count_);
  for_each_node([&](NodeView n) { nodes.push_back(n); });
  // Sorting a big zone compares names ~n log n times; canonical_less_wire splits both names into labels
  // each time. Each owner is turned once into a key whose plain byte order is the canonical order
  // (RFC 4034 §6.1): its labels from the right, each followed by 0x00, with 0x00 and 0x01 inside a
  // label escaped as 0x01 0x01 and 0x01 0x02 so that the end of a label sorts before any octet of a
  // longer one. The keys share one buffer, freed on return.
  std::string keys;
  std::vector<std::pair<uint32_t, uint32_t>> span(nodes.size());  // offset and length in `keys`
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string_view w = nodes[i].owner_wire();
    uint16_t at[128];
    size_t n = label_starts(w, at);
    const size_t start = keys.size();
    while (n > 0) {
      const size_t j = at[--n];
      std::string_view label = w.substr(j + 1u, static_cast<uint8_t>(w[j]));
      for (char c : label) {
        const auto b = static_cast<uint8_t>(c);
        if (b < 2) {
          keys += '\x01';
          keys += static_cast<char>(b + 1);
        } else {
          keys += c;
        }
      }
      keys += '\0';
    }
    span[i] = {static_cast<uint32_t>(start), static_cast<uint32_t>(keys.size() - start)};
  }
  std::vector<uint32_t> order(nodes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  auto key = [&](uint32_t i) { return std::string_view(keys.data() + span[i].first, span[i].second); };
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return key(a) < key(b); });
  std::vector<NodeView> out;
  out.reserve(nodes.size());
  for (uint32_t i : order) out.push_back(nodes[i]);
  return out;
}

std::string record_to_text(const Name& owner, uint16_t type, uint32_t ttl, std::string_view rdata) {
  return owner.to_text() + "\t" + std::to_string(ttl) + "\tIN\t" + type_to_text(type) + "\t" + rdata_to_text(type, rdata);
}

namespace {

/// zone_to_text's body; false (and `out` incomplete) when `stop` said so.
bool write_zone_text(const Zone& zone, ZoneTextStyle style, std::string& out, const std::function<bool()>& stop) {
  const bool master = style == ZoneTextStyle::master_file;
  // A master file starts with SOA, then NS (the conventional head); otherwise RRsets go by type code.
  auto rank = [master](uint16_t t) {
    return std::pair(master ? (t == rrtype::SOA ? 0 : t == rrtype::NS ? 1 : 2) : 0, t);
  };
  std::vector<RRsetView> sets;
  std::vector<std::string> lines;
  size_t done = 0;
  for (NodeView node : zone.sorted_nodes()) {
    if (stop && ++done % 4096 == 0 && stop()) return false;
    sets.clear();
    for (RRsetView rr : node.rrsets()) sets.push_back(rr);
    std::sort(sets.begin(), sets.end(), [&](RRsetView a, RRsetView b) { return rank(a.type()) < rank(b.type()); });
    const Name owner = node.owner();
    const std::string owner_text = owner.to_text();
    for (RRsetView rr : sets) {
      lines.clear();
      for (std::string_view rd : rr)
        lines.push_back(master ? record_to_text(owner, rr.type(), rr.ttl(), rd)
                               : owner_text + " " + std::to_string(rr.ttl()) + " " + type_to_text(rr.type()) + " " +
                                     rdata_to_text(rr.type(), rd));
      if (master) std::sort(lines.begin(), lines.end());  // one order, whatever order the records came in
      for (auto& l : lines) {
        out += l;
        out += '\n';
      }
    }
  }
  return true;
}

}  // namespace

std::string zone_to_text(const Zone& zone, ZoneTextStyle style) {
  std::string out;
  write_zone_text(zone, style, out, {});
  return out;
}

const std::string* ZoneTexts::text(const Zone& zone) {
  if (stopped_ || (stop_ && stop_())) {
    stopped_ = true;
    return nullptr;
  }
  auto [it, fresh] = texts_.try_emplace(&zone);
  if (fresh && !write_zone_text(zone, ZoneTextStyle::compare, it->second, stop_)) {
    texts_.erase(it);
    stopped_ = true;
    return nullptr;
  }
  return &it->second;
}

void Zone::add_additional(RRsetView rrset, LookupResult& out) const {
  uint16_t type = rrset.type();
  if (type != rrtype::NS && type != rrtype::MX && type != rrtype::SRV) return;
  for (std::string_view rd : rrset) {
    std::string_view target = target_of(rrset, rd);
    if (!wire_has_suffix(target, origin_.wire())) continue;
    NodeView n = find_node(target);
    if (!n) continue;
    for (uint16_t t : {rrtype::A, rrtype::AAAA})
      if (RRsetView glue = n.find(t)) out.additional.push({glue, wire_ptr(n), glue.ttl()});
  }
}

void Zone::answer_node(NodeView node, const char* owner, uint16_t qtype, LookupResult& out, int depth) const {
  if (qtype == rrtype::ANY && node.rrset_count() > 0) {
    // RFC 8482 §4.2: answer ANY with one RRset rather than everything the name has.
    RRsetView first = *node.rrsets().begin();
    out.answer.push({first, owner, first.ttl()});
    out.status = LookupStatus::answer;
    return;
  }
  if (RRsetView rr = node.find(qtype)) {
    out.answer.push({rr, owner, rr.ttl()});
    add_additional(rr, out);
    out.status = LookupStatus::answer;
    return;
  }
  if (RRsetView cname = node.find(rrtype::CNAME); cname && qtype != rrtype::CNAME) {
    // RFC 1034 §4.3.2 step 3a: restart at the CNAME target while it stays in this zone.
    out.answer.push({cname, owner, cname.ttl()});
    out.status = LookupStatus::answer;
    std::string_view target = target_of(cname, *cname.begin());
    if (depth >= 8 || !wire_has_suffix(target, origin_.wire())) return;
    if (target == out.qname) return;  // a loop back to the query name
    for (size_t i = 0; i + 1 < out.answer.size; ++i) {
      const char* prev = out.answer.items[i].owner;
      if (prev && target == std::string_view(prev, wire_name_length(reinterpret_cast<const uint8_t*>(prev), kMaxNameWire)))
        return;  // a loop: stop with the chain so far
    }
    lookup_chain(target, target.data(), qtype, out, depth + 1);
    return;
  }
  out.status = LookupStatus::nodata;
  out.authority.push({soa_, wire_ptr(apex_), negative_ttl_});
}

void Zone::lookup(std::string_view qname, uint16_t qtype, LookupResult& out) const {
  out.qname = qname;
  lookup_chain(qname, nullptr, qtype, out, 0);
}

void Zone::lookup_chain(std::string_view qname, const char* owner, uint16_t qtype, LookupResult& out,
                        int depth) const {
  // Label starts of qname strictly below the apex, walked from the apex down.
  std::array<uint8_t, 128> starts{};
  size_t n = 0;
  size_t below = qname.size() - origin_.wire().size();
  for (size_t i = 0; i < below && n < starts.size(); i += static_cast<uint8_t>(qname[i]) + 1u)
    starts[n++] = static_cast<uint8_t>(i);
  NodeView closest = apex_;
  NodeView exact = n == 0 ? apex_ : NodeView();
  for (size_t k = n; k-- > 0;) {
    NodeView node = find_node(qname.substr(starts[k]));
    if (!node) break;
    // RFC 4035 §3.1.4.1: DS lives on the parent side of a cut, so a DS query for the cut itself is
    // answered here (NODATA with our SOA when we hold none), not referred.
    bool ds_at_cut = k == 0 && qtype == rrtype::DS;
    RRsetView ns = has_delegations_ && !ds_at_cut ? node.find(rrtype::NS) : RRsetView();
    if (ns) {
      // RFC 1034 §4.3.2 step 3b: a zone cut on the way down means a referral, not an answer.
      if (depth == 0) {
        out.authoritative = false;
        out.status = LookupStatus::referral;
      }
      out.authority.push({ns, wire_ptr(node), ns.ttl()});
      add_additional(ns, out);
      return;
    }
    closest = node;
    if (k == 0) exact = node;
  }
  if (exact) {
    answer_node(exact, owner, qtype, out, depth);
    return;
  }
  if (has_wildcards_) {
    // RFC 4592 §3.3.1: the source of synthesis is "*." + the closest encloser; an empty
    // non-terminal on the way is a closest encloser too, so it blocks the wildcard above it.
    char buf[kMaxNameWire + 2];
    std::string_view ce = closest.owner_wire();
    if (ce.size() + 2 <= kMaxNameWire) {
      buf[0] = 1;
      buf[1] = '*';
      std::copy(ce.begin(), ce.end(), buf + 2);
      if (NodeView wc = find_node(std::string_view(buf, ce.size() + 2))) {
        if (depth == 0) out.wildcard = wc.owner_wire();
        answer_node(wc, owner, qtype, out, depth);
        return;
      }
    }
  }
  out.status = LookupStatus::nxdomain;
  out.authority.push({soa_, wire_ptr(apex_), negative_ttl_});
}

ZoneBuilder::ZoneBuilder(Name origin) : origin_(std::move(origin)) {
  index_.assign(1024, 0);
  node_for(origin_.wire());  // node 0 is the apex
}

uint32_t ZoneBuilder::find(std::string_view wire, uint64_t h) const {
  const size_t mask = index_.size() - 1;
  const uint64_t tag = h >> 32;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    uint64_t v = index_[i];
    if (v == 0) return kNone;
    // The tag saves a trip to the node and its name (two cache misses) for nearly every mismatch.
    if ((v >> 32) == tag && name_of(nodes_[(v & 0xffffffffu) - 1]) == wire) return static_cast<uint32_t>(v - 1);
  }
}

void ZoneBuilder::insert_index(uint32_t node, uint64_t h) {
  const size_t mask = index_.size() - 1;
  size_t i = h & mask;
  while (index_[i] != 0) i = (i + 1) & mask;
  index_[i] = (h >> 32 << 32) | (node + 1u);
}

uint32_t ZoneBuilder::node_for(std::string_view wire) {
  uint64_t h = hash_bytes(wire);
  if (uint32_t n = find(wire, h); n != kNone) return n;
  if ((nodes_.size() + 1) * 2 > index_.size()) rehash(index_.size() * 2);  // load <= 1/2: short probes
  PendingNode pn;
  pn.name_off = static_cast<uint32_t>(names_.size());
  pn.name_len = static_cast<uint8_t>(wire.size());
  names_.insert(names_.end(), wire.begin(), wire.end());
  auto id = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(pn);
  insert_index(id, h);
  // Empty non-terminals between the owner and the apex exist as empty nodes (RFC 4592 §2.2.2). The
  // apex always exists: most owners sit right below it, so skip the lookup for it.
  size_t parent = 1u + static_cast<uint8_t>(wire[0]);
  if (wire.size() > origin_.wire().size() && wire.size() - parent > origin_.wire().size())
    node_for(wire.substr(parent));
  return id;
}

void ZoneBuilder::reserve(size_t records, size_t bytes) {
  records_.reserve(records);
  nodes_.reserve(records + 1);
  names_.reserve(bytes);
  rdata_.reserve(bytes);
  wheres_.reserve(records * 12);
  size_t cap = index_.size();
  while (cap < records * 2) cap <<= 1;
  if (cap > index_.size()) rehash(cap);
}

void ZoneBuilder::rehash(size_t cap) {
  index_.assign(cap, 0);
  for (uint32_t i = 0; i < nodes_.size(); ++i) insert_index(i, hash_bytes(name_of(nodes_[i])));
}

void ZoneBuilder::add(const Name& owner, uint16_t type, uint32_t ttl, std::string_view rdata, std::string_view where) {
  add_wire(owner.wire(), type, ttl, rdata, where);
}

void ZoneBuilder::add_wire(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata,
                           std::string_view where) {
  auto text = [&] { return Name::from_wire(owner).to_text(); };
  if (!wire_has_suffix(owner, origin_.wire())) {
    early_.push_back({ZoneProblem::out_of_zone, text(), std::string(where), true});
    return;
  }
  if (!rdata_valid(type, rdata) || rdata.size() > 0xffff) {
    early_.push_back({ZoneProblem::invalid_rdata, text(),
                      std::string(where) + (where.empty() ? "" : " ") + type_to_text(type), true});
    return;
  }
  if (names_.size() + owner.size() > 0xffffffffu || rdata_.size() + rdata.size() > 0xffffffffu ||
      records_.size() >= kNone - 1) {
    early_.push_back({ZoneProblem::too_large, text(), std::string(where), true});
    return;
  }
  uint32_t n = node_for(owner);
  const auto off = static_cast<uint32_t>(rdata_.size());
  rdata_.insert(rdata_.end(), rdata.begin(), rdata.end());
  lower_rdata_names(type, reinterpret_cast<uint8_t*>(rdata_.data() + off), rdata.size());
  std::string_view mine(rdata_.data() + off, rdata.size());
  uint32_t same_type = kNone;
  const bool big = nodes_[n].count >= kLinearMax;
  if (!big) {
    for (uint32_t r = nodes_[n].first; r != kNone; r = records_[r].next) {
      if (records_[r].type != type) continue;
      if (same_type == kNone) same_type = r;
      if (rdata_of(records_[r]) == mine) {
        rdata_.resize(off);  // a duplicate record: RFC 2181 §5 says an RRset holds it once
        return;
      }
    }
  } else {
    if (dup_find(n, type, mine)) {
      rdata_.resize(off);
      return;
    }
    if (auto it = first_of_type_.find(uint64_t{n} << 16 | type); it != first_of_type_.end()) same_type = it->second;
  }
  if (same_type != kNone && records_[same_type].ttl != ttl)
    early_.push_back({ZoneProblem::ttl_mismatch, text(), std::string(where), false});
  PendingNode& node = nodes_[n];
  auto id = static_cast<uint32_t>(records_.size());
  records_.push_back({kNone, off, ttl, static_cast<uint16_t>(rdata.size()), type});
  if (node.first == kNone) {
    node.first = id;
    node.where_off = static_cast<uint32_t>(wheres_.size());
    node.where_len = static_cast<uint16_t>(std::min<size_t>(where.size(), 0xffff));
    wheres_.insert(wheres_.end(), where.begin(), where.begin() + node.where_len);
  } else {
    records_[node.last].next = id;
  }
  node.last = id;
  // Counted only when a record is kept, so a node is indexed exactly once, the moment it outgrows the
  // walk; from then on each new record goes in as it comes.
  if (++node.count == kLinearMax) {
    for (uint32_t r = node.first; r != kNone; r = records_[r].next) {
      dup_insert(n, r);
      first_of_type_.emplace(uint64_t{n} << 16 | records_[r].type, r);
    }
  } else if (big) {
    dup_insert(n, id);
    first_of_type_.emplace(uint64_t{n} << 16 | type, id);
  }
}

uint64_t ZoneBuilder::dup_hash(uint32_t node, uint16_t type, std::string_view rdata) {
  return hash_bytes(rdata, uint64_t{node} << 16 | type);
}

void ZoneBuilder::dup_insert(uint32_t node, uint32_t record) {
  if ((dup_count_ + 1) * 2 > dup_.size()) {
    std::vector<uint64_t> old(std::max<size_t>(1024, dup_.size() * 2), 0);
    old.swap(dup_);
    dup_count_ = 0;
    for (uint64_t e : old)
      if (e) dup_insert(static_cast<uint32_t>(e >> 32), static_cast<uint32_t>(e) - 1);
  }
  const size_t mask = dup_.size() - 1;
  size_t i = dup_hash(node, records_[record].type, rdata_of(records_[record])) & mask;
  while (dup_[i] != 0) i = (i + 1) & mask;
  dup_[i] = uint64_t{node} << 32 | (record + 1u);
  ++dup_count_;
}

bool ZoneBuilder::dup_find(uint32_t node, uint16_t type, std::string_view rdata) const {
  if (dup_.empty()) return false;
  const size_t mask = dup_.size() - 1;
  for (size_t i = dup_hash(node, type, rdata) & mask; dup_[i] != 0; i = (i + 1) & mask) {
    const auto r = static_cast<uint32_t>(dup_[i]) - 1;
    if (dup_[i] >> 32 == node && records_[r].type == type && rdata_of(records_[r]) == rdata) return true;
  }
  return false;
}

void ZoneBuilder::node_types(const PendingNode& node, NodeTypes& out) const {
  out.types.clear();
  out.counts.clear();
  for (uint32_t r = node.first; r != kNone; r = records_[r].next) {
    auto it = std::find(out.types.begin(), out.types.end(), records_[r].type);
    if (it == out.types.end()) {
      out.types.push_back(records_[r].type);
      out.counts.push_back(1);
    } else {
      ++out.counts[static_cast<size_t>(it - out.types.begin())];
    }
  }
}

uint32_t ZoneBuilder::NodeTypes::count_of(uint16_t t) const {
  auto it = std::find(types.begin(), types.end(), t);
  return it == types.end() ? 0 : counts[static_cast<size_t>(it - types.begin())];
}

void ZoneBuilder::report(Checks& c, ZoneProblem p, const PendingNode& node, bool fatal) const {
  c.issues.push_back({p, Name::from_wire(name_of(node)).to_text(), where_of(node), fatal});
  c.fatal |= fatal;
}

size_t ZoneBuilder::check_nodes(Checks& c, Zone& z) {
  NodeTypes nt;
  size_t arena = 0;
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    PendingNode& node = nodes_[i];
    node_types(node, nt);
    if (i == 0) {  // the apex
      uint32_t soa = nt.count_of(rrtype::SOA);
      if (soa == 0) report(c, ZoneProblem::no_soa, node, true);
      else if (soa > 1) report(c, ZoneProblem::multiple_soa, node, true);
      if (nt.count_of(rrtype::NS) == 0) report(c, ZoneProblem::no_apex_ns, node, true);
    } else {
      if (nt.count_of(rrtype::SOA)) report(c, ZoneProblem::soa_not_at_apex, node, true);
      if (nt.count_of(rrtype::NS)) node.cut = z.has_delegations_ = true;
    }
    if (uint32_t cn = nt.count_of(rrtype::CNAME)) {
      if (cn > 1) report(c, ZoneProblem::multiple_cnames, node, true);
      if (nt.types.size() > 1) report(c, ZoneProblem::cname_and_other_data, node, true);
    }
    if (node.name_len >= 2 && names_[node.name_off] == 1 && names_[node.name_off + 1] == '*') z.has_wildcards_ = true;
    arena += 3u + node.name_len + RRsetView::kHeader * nt.types.size();
    bool fits = nt.types.size() <= 0xffff;  // the counts are u16 in the arena
    for (uint32_t k : nt.counts) fits = fits && k <= 0xffff;
    if (!fits) report(c, ZoneProblem::too_large, node, true);
    for (uint32_t r = node.first; r != kNone; r = records_[r].next) {
      arena += 2u + records_[r].rdata_len;
      ++z.record_count_;
    }
  }
  if (arena > 0xfffffff0u) report(c, ZoneProblem::too_large, nodes_[0], true);
  return arena;
}

void ZoneBuilder::check_below_cuts(Checks& c) const {
  // Only glue (addresses) may sit below a zone cut; anything else is occluded (RFC 1034 §4.2.1).
  for (const PendingNode& node : nodes_) {
    std::string_view w = name_of(node);
    bool below_cut = false;
    for (size_t at = 1u + static_cast<uint8_t>(w[0]); w.size() - at > origin_.wire().size() && !below_cut;
         at += 1u + static_cast<uint8_t>(w[at])) {
      std::string_view parent = w.substr(at);
      uint32_t p = find(parent, hash_bytes(parent));
      below_cut = p != kNone && nodes_[p].cut;
    }
    if (!below_cut) continue;
    for (uint32_t r = node.first; r != kNone; r = records_[r].next)
      if (records_[r].type != rrtype::A && records_[r].type != rrtype::AAAA) {
        report(c, ZoneProblem::data_below_delegation, node, false);
        break;
      }
  }
}

void ZoneBuilder::write_arena(Zone& z, size_t arena) const {
  // Every node back to back, RRsets grouped by type in the order their types first appeared.
  NodeTypes nt;
  z.arena_.resize(arena);
  uint8_t* out = z.arena_.data();
  for (const PendingNode& node : nodes_) {
    node_types(node, nt);
    *out++ = node.name_len;
    std::memcpy(out, names_.data() + node.name_off, node.name_len);
    out += node.name_len;
    write_u16(out, static_cast<uint16_t>(nt.types.size()));
    out += 2;
    for (size_t k = 0; k < nt.types.size(); ++k) {
      uint8_t* head = out;
      out += RRsetView::kHeader;
      uint32_t ttl = 0;
      bool first = true;
      for (uint32_t r = node.first; r != kNone; r = records_[r].next) {
        const PendingRecord& rec = records_[r];
        if (rec.type != nt.types[k]) continue;
        if (first) ttl = rec.ttl;  // an RRset has one TTL: the first record's (RFC 2181 §5.2)
        first = false;
        write_u16(out, rec.rdata_len);
        std::memcpy(out + 2, rdata_.data() + rec.rdata_off, rec.rdata_len);
        out += 2u + rec.rdata_len;
      }
      write_u16(head, nt.types[k]);
      write_u32(head + 2, ttl);
      write_u16(head + 6, static_cast<uint16_t>(nt.counts[k]));
      write_u32(head + 8, static_cast<uint32_t>(out - head - RRsetView::kHeader));
    }
  }
}

void ZoneBuilder::index_nodes(Zone& z) const {
  size_t cap = 16;
  while (cap < nodes_.size() * 2) cap <<= 1;
  z.index_.assign(cap, Zone::Slot{});
  z.mask_ = cap - 1;
  z.node_count_ = nodes_.size();
  z.for_each_node([&](NodeView n) {
    uint64_t h = hash_bytes(n.owner_wire());
    size_t i = h & z.mask_;
    while (z.index_[i].offset != 0) i = (i + 1) & z.mask_;
    auto offset = static_cast<uint32_t>(n.owner_wire().data() - 1 - reinterpret_cast<const char*>(z.arena_.data()));
    z.index_[i] = {static_cast<uint32_t>(h >> 32), offset + 1};
  });
  z.apex_ = NodeView(z.arena_.data());
  z.soa_ = z.apex_.find(rrtype::SOA);
  std::string_view soa = *z.soa_.begin();
  z.negative_ttl_ = std::min(z.soa_.ttl(), read_u32(reinterpret_cast<const uint8_t*>(soa.data()) + soa.size() - 4));
}

void ZoneBuilder::release_pools() {
  // The pools are as large as the zone itself; a builder is used once.
  BigVector<char>().swap(names_);
  BigVector<char>().swap(rdata_);
  BigVector<PendingRecord>().swap(records_);
  std::vector<uint64_t>().swap(dup_);
  first_of_type_.clear();
}

std::shared_ptr<const Zone> ZoneBuilder::build(std::vector<ZoneIssue>& issues) {
  auto zone = std::make_unique<Zone>();
  zone->origin_ = origin_;
  Checks c{issues};
  for (auto& e : early_) {
    issues.push_back(e);
    c.fatal |= e.fatal;
  }
  const size_t arena = check_nodes(c, *zone);
  if (zone->has_delegations_) check_below_cuts(c);
  if (c.fatal) return nullptr;
  write_arena(*zone, arena);
  index_nodes(*zone);
  release_pools();
  return std::shared_ptr<const Zone>(std::move(zone));
}

}  // namespace phoenix::zones
