#include "zone.hpp"

#include <algorithm>

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
};

/// Lower-cases the embedded names of well-known types so that following them is a byte compare.
void lower_rdata_names(uint16_t type, std::string& rdata) {
  auto names = rdata_names(type);
  if (!names) return;
  auto p = reinterpret_cast<uint8_t*>(rdata.data());
  size_t off = names->first;
  for (int n = 0; n < (names->two ? 2 : 1); ++n) {
    size_t len = wire_name_length(p + off, rdata.size() - off);
    for (size_t i = off; i < off + len && p[i] != 0; i += p[i] + 1u)
      for (size_t k = i + 1; k <= i + p[i]; ++k) p[k] = lower_octet(p[k]);
    off += len;
  }
}

std::string_view target_of(const RRset& rrset, const std::string& rdata) {
  auto names = rdata_names(rrset.type);
  size_t off = names ? names->first : 0;
  auto p = reinterpret_cast<const uint8_t*>(rdata.data());
  return std::string_view(rdata).substr(off, wire_name_length(p + off, rdata.size() - off));
}

}  // namespace

const char* zone_problem_text(ZoneProblem p) { return kProblemText[static_cast<int>(p)]; }

uint32_t Zone::serial() const {
  const std::string& r = soa_->rdata.front();
  auto p = reinterpret_cast<const uint8_t*>(r.data());
  size_t a = wire_name_length(p, r.size());
  size_t b = wire_name_length(p + a, r.size() - a);
  return read_u32(p + a + b);
}

const Node* Zone::find_node(std::string_view wire) const {
  auto it = nodes_.find(wire);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<const Node*> Zone::sorted_nodes() const {
  std::vector<const Node*> out;
  out.reserve(nodes_.size());
  for (auto& [k, n] : nodes_) out.push_back(&n);
  std::sort(out.begin(), out.end(), [](const Node* a, const Node* b) { return canonical_less(a->owner, b->owner); });
  return out;
}

void Zone::add_additional(const RRset& rrset, LookupResult& out) const {
  if (rrset.type != rrtype::NS && rrset.type != rrtype::MX && rrset.type != rrtype::SRV) return;
  for (auto& rd : rrset.rdata) {
    std::string_view target = target_of(rrset, rd);
    if (!wire_has_suffix(target, origin_.wire())) continue;
    const Node* n = find_node(target);
    if (!n) continue;
    for (uint16_t t : {rrtype::A, rrtype::AAAA})
      if (const RRset* glue = n->find(t)) out.additional.push({glue, n->owner.wire().c_str(), glue->ttl});
  }
}

void Zone::answer_node(const Node& node, const char* owner, uint16_t qtype, LookupResult& out, int depth) const {
  if (qtype == rrtype::ANY && !node.rrsets.empty()) {
    // RFC 8482 §4.2: answer ANY with one RRset rather than everything the name has.
    const RRset& first = node.rrsets.front();
    out.answer.push({&first, owner, first.ttl});
    out.status = LookupStatus::answer;
    return;
  }
  if (const RRset* rr = node.find(qtype)) {
    out.answer.push({rr, owner, rr->ttl});
    add_additional(*rr, out);
    out.status = LookupStatus::answer;
    return;
  }
  if (const RRset* cname = node.find(rrtype::CNAME); cname && qtype != rrtype::CNAME) {
    // RFC 1034 §4.3.2 step 3a: restart at the CNAME target while it stays in this zone.
    out.answer.push({cname, owner, cname->ttl});
    out.status = LookupStatus::answer;
    std::string_view target = target_of(*cname, cname->rdata.front());
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
  out.authority.push({soa_, apex_->owner.wire().c_str(), negative_ttl_});
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
  const Node* closest = apex_;
  const Node* exact = n == 0 ? apex_ : nullptr;
  for (size_t k = n; k-- > 0;) {
    const Node* node = find_node(qname.substr(starts[k]));
    if (!node) break;
    // RFC 4035 §3.1.4.1: DS lives on the parent side of a cut, so a DS query for the cut itself is
    // answered here (NODATA with our SOA when we hold none), not referred.
    bool ds_at_cut = k == 0 && qtype == rrtype::DS;
    if (has_delegations_ && !ds_at_cut && node->find(rrtype::NS)) {
      // RFC 1034 §4.3.2 step 3b: a zone cut on the way down means a referral, not an answer.
      const RRset* ns = node->find(rrtype::NS);
      if (depth == 0) {
        out.authoritative = false;
        out.status = LookupStatus::referral;
      }
      out.authority.push({ns, node->owner.wire().c_str(), ns->ttl});
      add_additional(*ns, out);
      return;
    }
    closest = node;
    if (k == 0) exact = node;
  }
  if (exact) {
    answer_node(*exact, owner, qtype, out, depth);
    return;
  }
  if (has_wildcards_) {
    // RFC 4592 §3.3.1: the source of synthesis is "*." + the closest encloser; an empty
    // non-terminal on the way is a closest encloser too, so it blocks the wildcard above it.
    char buf[kMaxNameWire + 2];
    const std::string& ce = closest->owner.wire();
    if (ce.size() + 2 <= kMaxNameWire) {
      buf[0] = 1;
      buf[1] = '*';
      std::copy(ce.begin(), ce.end(), buf + 2);
      if (const Node* wc = find_node(std::string_view(buf, ce.size() + 2))) {
        answer_node(*wc, owner, qtype, out, depth);
        return;
      }
    }
  }
  out.status = LookupStatus::nxdomain;
  out.authority.push({soa_, apex_->owner.wire().c_str(), negative_ttl_});
}

ZoneBuilder::ZoneBuilder(Name origin) : origin_(std::move(origin)), zone_(std::make_unique<Zone>()) {
  zone_->origin_ = origin_;
  zone_->nodes_[origin_.wire()].owner = origin_;
}

void ZoneBuilder::add(const Name& owner, uint16_t type, uint32_t ttl, std::string rdata, std::string where) {
  if (!owner.is_subdomain_of(origin_)) {
    early_.push_back({ZoneProblem::out_of_zone, owner.to_text(), where, true});
    return;
  }
  if (!rdata_valid(type, rdata)) {
    early_.push_back({ZoneProblem::invalid_rdata, owner.to_text(), where + (where.empty() ? "" : " ") + type_to_text(type), true});
    return;
  }
  lower_rdata_names(type, rdata);
  Node& node = zone_->nodes_[owner.wire()];
  node.owner = owner;
  where_.emplace(owner.wire(), where);
  auto it = std::find_if(node.rrsets.begin(), node.rrsets.end(), [&](const RRset& r) { return r.type == type; });
  if (it == node.rrsets.end()) {
    node.rrsets.push_back({type, ttl, {}});
    it = node.rrsets.end() - 1;
  } else if (it->ttl != ttl) {
    early_.push_back({ZoneProblem::ttl_mismatch, owner.to_text(), where, false});
  }
  if (std::find(it->rdata.begin(), it->rdata.end(), rdata) == it->rdata.end()) it->rdata.push_back(std::move(rdata));
  // Empty non-terminals between the owner and the apex exist as empty nodes.
  for (Name p = owner.parent(); p.is_subdomain_of(origin_) && !(p == origin_); p = p.parent()) {
    Node& ent = zone_->nodes_[p.wire()];
    if (ent.owner.is_root()) ent.owner = p;
  }
}

std::shared_ptr<const Zone> ZoneBuilder::build(std::vector<ZoneIssue>& issues) {
  Zone& z = *zone_;
  bool fatal = false;
  auto report = [&](ZoneProblem p, const Name& owner, bool is_fatal) {
    auto w = where_.find(owner.wire());
    issues.push_back({p, owner.to_text(), w == where_.end() ? "" : w->second, is_fatal});
    fatal |= is_fatal;
  };
  for (auto& e : early_) {
    issues.push_back(e);
    fatal |= e.fatal;
  }
  z.apex_ = &z.nodes_.at(origin_.wire());
  z.soa_ = z.apex_->find(rrtype::SOA);
  if (!z.soa_) report(ZoneProblem::no_soa, origin_, true);
  else if (z.soa_->rdata.size() > 1) report(ZoneProblem::multiple_soa, origin_, true);
  if (!z.apex_->find(rrtype::NS)) report(ZoneProblem::no_apex_ns, origin_, true);

  std::vector<const Node*> cuts;
  for (auto& [key, node] : z.nodes_) {
    for (auto& r : node.rrsets) z.record_count_ += r.rdata.size();
    bool apex = &node == z.apex_;
    if (!apex && node.find(rrtype::SOA)) report(ZoneProblem::soa_not_at_apex, node.owner, true);
    if (const RRset* c = node.find(rrtype::CNAME)) {
      if (c->rdata.size() > 1) report(ZoneProblem::multiple_cnames, node.owner, true);
      if (node.rrsets.size() > 1) report(ZoneProblem::cname_and_other_data, node.owner, true);
    }
    if (!apex && node.find(rrtype::NS)) {
      z.has_delegations_ = true;
      cuts.push_back(&node);
    }
    if (key.size() >= 2 && key[0] == 1 && key[1] == '*') z.has_wildcards_ = true;
  }
  for (auto& [key, node] : z.nodes_) {
    for (const Node* cut : cuts) {
      if (&node == cut || !node.owner.is_subdomain_of(cut->owner)) continue;
      bool glue_only = std::all_of(node.rrsets.begin(), node.rrsets.end(),
                                   [](const RRset& r) { return r.type == rrtype::A || r.type == rrtype::AAAA; });
      if (!glue_only) report(ZoneProblem::data_below_delegation, node.owner, false);
    }
  }
  if (fatal) return nullptr;
  const std::string& soa = z.soa_->rdata.front();
  z.negative_ttl_ = std::min(z.soa_->ttl, read_u32(reinterpret_cast<const uint8_t*>(soa.data()) + soa.size() - 4));
  return std::shared_ptr<const Zone>(std::move(zone_));
}

}  // namespace phoenix::zones
