#include "snapshot.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "zonefile.hpp"

namespace phoenix::zones {
namespace {

constexpr uint32_t kRefresh = 3600, kRetry = 900, kExpire = 1209600;

std::string issue_text(const ZoneIssue& i) {
  std::string s = std::string(zone_problem_text(i.problem)) + " at " + i.owner;
  if (!i.detail.empty()) s += " (" + i.detail + ")";
  return s;
}

/// The view's catalog zone (RFC 9432) over the zones it serves so far; its serial moves with its
/// membership like any zone's with its content.
bool add_catalog(const horizon::ViewPlan& v, ViewData& vd, SerialStore& serials, horizon::Diagnostics& diag) {
  const std::string& catalog = *v.catalog;
  std::vector<std::string> members;
  for (auto& z : vd.zones.zones()) {
    std::string name = z->origin().to_text();
    if (name.size() > 1 && name.back() == '.') name.pop_back();
    if (name == catalog) {
      diag.error(v.where.file, v.where.pointer + "/catalog",
                 "catalog \"" + catalog + "\" is also a zone of view \"" + v.name + "\"");
      return false;
    }
    members.push_back(std::move(name));
  }
  uint32_t serial = serials.serial_for(v.name + "/" + catalog, content_hash(catalog_text(catalog, members)));
  std::vector<ZoneIssue> issues;
  auto zone = build_catalog_zone(catalog, members, serial, issues);
  for (auto& i : issues) diag.error(v.where.file, v.where.pointer + "/catalog", "[" + catalog + "] " + issue_text(i));
  if (!zone) return false;
  vd.zones.add(std::move(zone));
  return true;
}

}  // namespace

void ZoneSet::add(std::shared_ptr<const Zone> zone) {
  by_origin_[zone->origin().wire()] = zone.get();
  zones_.push_back(std::move(zone));
}

const Zone* ZoneSet::find_zone(std::string_view qname) const {
  // Longest suffix first: the query name itself, then each parent.
  for (size_t i = 0; i < qname.size(); i += static_cast<uint8_t>(qname[i]) + 1u) {
    auto it = by_origin_.find(qname.substr(i));
    if (it != by_origin_.end()) return it->second;
    if (qname[i] == 0) break;
  }
  return nullptr;
}

size_t Snapshot::zone_count() const {
  size_t n = 0;
  for (auto& v : view_data) n += v.own_zone_count();
  return n;
}

size_t Snapshot::record_count() const {
  size_t n = 0;
  for (auto& v : view_data)
    for (size_t i = 0; i < v.own_zone_count(); ++i) n += v.zones.zones()[i]->record_count();
  return n;
}

std::string Snapshot::summary() const {
  size_t local = 0;
  for (auto& v : view_data) local += v.local_zones;
  return std::to_string(view_data.size()) + " views, " + std::to_string(zone_count()) + " zones, " +
         std::to_string(record_count()) + " records" +
         (local ? " (and " + std::to_string(local) + " locally served reverse zones, RFC 6303)" : "");
}

std::string zone_plan_text(const horizon::ZonePlan& zp) {
  std::string s = zp.origin + " " + std::to_string(zp.ttl) + " " + zp.primary_ns + " " + zp.hostmaster + "\n";
  for (auto& r : zp.records) s += r.owner + " " + std::to_string(static_cast<int>(r.kind)) + " " + r.value + "\n";
  return s;
}

std::shared_ptr<const Zone> build_zone(const horizon::ZonePlan& zp, uint32_t serial, std::vector<ZoneIssue>& issues) {
  auto origin = Name::from_text(zp.origin);
  auto mname = Name::from_text(zp.primary_ns);
  auto rname = Name::from_text(zp.hostmaster);
  if (!origin || !mname || !rname) {
    issues.push_back({ZoneProblem::invalid_rdata, zp.origin, "invalid zone, server or hostmaster name", true});
    return nullptr;
  }
  ZoneBuilder b(*origin);
  b.add(*origin, rrtype::SOA, zp.ttl, rdata_soa(*mname, *rname, serial, kRefresh, kRetry, kExpire, zp.ttl),
        "derived SOA");
  b.add(*origin, rrtype::NS, zp.ttl, rdata_name(*mname), "derived NS");
  for (auto& r : zp.records) {
    auto owner = Name::from_text(r.owner);
    if (!owner) {
      issues.push_back({ZoneProblem::invalid_rdata, r.owner, "invalid owner name from " + r.source, true});
      continue;
    }
    std::string rdata;
    uint16_t type = rrtype::A;
    if (r.kind == horizon::RecordKind::ptr) {
      auto target = Name::from_text(r.value);
      if (!target) {
        issues.push_back({ZoneProblem::invalid_rdata, r.owner, "invalid PTR target from " + r.source, true});
        continue;
      }
      type = rrtype::PTR;
      rdata = rdata_name(*target);
    } else {
      auto ip = horizon::IpAddr::parse(r.value);
      if (!ip) {
        issues.push_back({ZoneProblem::invalid_rdata, r.owner, "invalid address from " + r.source, true});
        continue;
      }
      type = ip->is_v4() ? rrtype::A : rrtype::AAAA;
      rdata.assign(reinterpret_cast<const char*>(ip->bytes.data()), ip->is_v4() ? 4 : 16);
    }
    b.add(*owner, type, zp.ttl, std::move(rdata), r.source);
  }
  return b.build(issues);
}

std::string catalog_member_id(std::string_view member) {
  std::string name(member);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.empty() || name.back() != '.') name += '.';
  uint64_t h = content_hash(name, 0xcbf29ce484222325ULL);  // FNV-1a's own offset basis: anyone can recompute it
  static const char* hex = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) id[static_cast<size_t>(i)] = hex[h & 15];
  return id;
}

std::string catalog_text(const std::string& catalog, std::vector<std::string> members) {
  std::sort(members.begin(), members.end());
  std::string s = "catalog " + catalog + " version 2\n";
  for (auto& m : members) s += catalog_member_id(m) + " " + m + "\n";
  return s;
}

std::shared_ptr<const Zone> build_catalog_zone(const std::string& catalog, const std::vector<std::string>& members,
                                               uint32_t serial, std::vector<ZoneIssue>& issues) {
  auto origin = Name::from_text(catalog);
  auto invalid = Name::from_text("invalid.");
  auto version = Name::from_text("version." + catalog);
  if (!origin || !version) {
    issues.push_back({ZoneProblem::invalid_rdata, catalog, "invalid catalog zone name", true});
    return nullptr;
  }
  // TTL 0: a catalog is read by transfer, never meant for resolvers to cache (RFC 9432 §4).
  constexpr uint32_t ttl = 0;
  ZoneBuilder b(*origin);
  b.add(*origin, rrtype::SOA, ttl, rdata_soa(*invalid, *invalid, serial, kRefresh, kRetry, kExpire, ttl), "catalog SOA");
  b.add(*origin, rrtype::NS, ttl, rdata_name(*invalid), "catalog NS");
  b.add(*version, rrtype::TXT, ttl, std::string("\x01" "2", 2), "catalog schema version");
  for (auto& m : members) {
    auto member = Name::from_text(m);
    auto owner = Name::from_text(catalog_member_id(m) + ".zones." + catalog);
    if (!member || !owner) {
      issues.push_back({ZoneProblem::invalid_rdata, m, "invalid catalog member name", true});
      continue;
    }
    b.add(*owner, rrtype::PTR, ttl, rdata_name(*member), "catalog member");
  }
  return b.build(issues);
}

RRsetBlob identity_txt(const std::optional<std::string>& text) {
  if (!text) return {};
  // TTL 0 like BIND/Knot/NSD: identity answers are not cached.
  return RRsetBlob(RRset{rrtype::TXT, 0, {std::string(1, static_cast<char>(text->size())) + *text}});
}

std::shared_ptr<Snapshot> build_snapshot(const horizon::HorizonPlan& plan, SerialStore& serials,
                                               horizon::Diagnostics& diag) {
  auto snap = std::make_shared<Snapshot>();
  snap->upstreams = plan.upstreams;
  snap->forward = plan.forward;
  snap->chaos_version = identity_txt(plan.chaos_version);
  snap->chaos_identity = identity_txt(plan.chaos_identity);
  snap->require_cookie = plan.require_cookie;
  snap->tsig_keys = plan.tsig_keys;
  bool ok = true;
  // Each zone file is read once and the same immutable zone is shared by every view that serves it.
  std::vector<std::shared_ptr<const Zone>> files(plan.zone_files.size());
  for (size_t i = 0; i < plan.zone_files.size(); ++i) {
    const auto& zf = plan.zone_files[i];
    auto origin = Name::from_text(zf.origin);
    if (!origin) {
      diag.error(zf.where.file, zf.where.pointer, "invalid zone file origin \"" + zf.origin + "\"");
      ok = false;
      continue;
    }
    files[i] = load_zone_file(zf.file, *origin, zf.file.string(), diag);
    if (!files[i]) ok = false;
  }
  for (auto& v : plan.views) {
    snap->views.add_view(v.name, v.match_clients, v.match_destinations, v.match_keys);
    ViewData vd;
    vd.name = v.name;
    vd.transfer = v.transfer;
    vd.catalog = v.catalog;
    vd.recursion = v.recursion;
    vd.rate_limit = v.rate_limit;
    snap->rate_limited = snap->rate_limited || v.rate_limit.enabled;
    for (auto& zp : v.zones) {
      std::string text = zone_plan_text(zp);
      std::vector<ZoneIssue> issues;
      // A zone's content can differ between views (explicit records), so its serial is kept per view.
      uint32_t serial = serials.serial_for(v.name + "/" + zp.origin, content_hash(text));
      auto zone = build_zone(zp, serial, issues);
      for (auto& i : issues) {
        std::string msg = "[" + zp.origin + "] " + issue_text(i);
        if (i.fatal) diag.error("", "", msg);
        else diag.warning("", "", msg);
      }
      if (!zone) {
        ok = false;
        continue;
      }
      vd.zones.add(zone);
    }
    for (size_t i = 0; i < plan.zone_files.size(); ++i) {
      const auto& zf = plan.zone_files[i];
      bool for_view = zf.views.empty() || std::find(zf.views.begin(), zf.views.end(), v.name) != zf.views.end();
      if (for_view && files[i]) vd.zones.add(files[i]);
    }
    if (v.catalog && !add_catalog(v, vd, serials, diag)) ok = false;
    snap->view_data.push_back(std::move(vd));
  }
  if (!ok) return nullptr;
  return snap;
}

}  // namespace phoenix::zones
