#include "plan.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "dns_checks.hpp"
#include "label.hpp"
#include "loader.hpp"

namespace phoenix::horizon {
namespace {

/// Candidate address records for one zone, checked for conflicts as they arrive.
class NameTable {
 public:
  NameTable(std::string zone, Diagnostics& diag) : zone_(std::move(zone)), diag_(diag) {}

  /// Adds owner -> ip. The same ip from several sources is fine; another ip is a conflict.
  void add(const std::string& owner, const IpAddr& ip, const std::string& source, const Location& where) {
    auto& list = names_[owner];
    for (auto& e : list) {
      if (e.ip.family != ip.family) continue;
      if (e.ip == ip) return;
      Diagnostic d{Severity::error, where.file, where.pointer,
                   "name " + owner + " conflicts: " + ip.to_string() + " from " + source + " vs " +
                       e.ip.to_string() + " from " + e.source,
                   "name-conflict", {}};
      diag_.add(std::move(d));
      return;
    }
    list.push_back({ip, source});
  }
  bool has(const std::string& owner) const { return names_.count(owner) > 0; }

  struct Entry {
    IpAddr ip;
    std::string source;
  };
  std::map<std::string, std::vector<Entry>> names_;

 private:
  std::string zone_;
  Diagnostics& diag_;
};

std::string where_text(const Location& l) { return l.file + ": " + l.pointer; }

/// "qdrant.internal.thinkheads.ai" relative to zone "internal.thinkheads.ai" -> "qdrant"; nullopt if outside.
std::optional<std::string> relative_to(const std::string& fqdn, const std::string& zone) {
  if (fqdn == zone) return std::string("@");
  if (fqdn.size() > zone.size() + 1 && fqdn.compare(fqdn.size() - zone.size(), zone.size(), zone) == 0 &&
      fqdn[fqdn.size() - zone.size() - 1] == '.')
    return fqdn.substr(0, fqdn.size() - zone.size() - 1);
  return std::nullopt;
}

std::string absolute(const std::string& rel, const std::string& zone) { return rel == "@" ? zone : rel + "." + zone; }

GatewayChoice choose_gateway(const Inventory& inv) {
  if (inv.dns.gateway_ip) return {inv.dns.gateway_ip, "dns_server.gateway_ip"};
  for (auto& g : inv.guests)
    if (g.ip && g.service && sanitize_label(g.service->name) == "nginx")
      return {g.ip->addr, "guest " + g.describe() + " declares traefik service nginx"};
  for (auto& g : inv.guests) {
    std::string lower = normalize_fqdn(g.name);
    if (g.ip && lower.rfind("nginx", 0) == 0) return {g.ip->addr, "guest " + g.describe() + " is named nginx*"};
  }
  return {std::nullopt, "no gateway found"};
}

/// A Portainer agent speaks raw TCP; an HTTP proxy cannot carry it.
bool is_tcp_service(const Guest& g, const Service& s, const Inventory& inv) {
  if (!s.protocol.empty()) return s.protocol == "tcp";
  if (g.portainer_role != "agent") return false;
  std::string agent = normalize_fqdn(g.portainer_agent_hostname);
  std::string first = agent.substr(0, agent.find('.'));
  return s.port == inv.host.portainer_agent_port || (!first.empty() && sanitize_label(s.name) == first);
}

ZonePlan make_zone(std::string origin, ZoneKind kind, const Inventory& inv, const std::string& internal_zone) {
  ZonePlan z;
  z.origin = std::move(origin);
  z.kind = kind;
  z.ttl = inv.dns.ttl;
  // Forward zones name their own server so that every view can resolve the NS target.
  bool forward = kind != ZoneKind::reverse;
  z.primary_ns = forward ? "ns1." + z.origin : "ns1." + internal_zone;
  z.hostmaster = "hostmaster." + (forward ? z.origin : internal_zone);
  return z;
}

void add_records(ZonePlan& z, const NameTable& table) {
  for (auto& [owner, entries] : table.names_)
    for (auto& e : entries)
      z.records.push_back({owner, e.ip.is_v4() ? RecordKind::a : RecordKind::aaaa, e.ip.to_string(), e.source});
}

std::string reverse_owner(const IpAddr& a) {
  return std::to_string(a.bytes[3]) + "." + std::to_string(a.bytes[2]) + "." + std::to_string(a.bytes[1]) + "." +
         std::to_string(a.bytes[0]) + ".in-addr.arpa";
}

/// Explicit authoritative_zones records win over derived ones for the same name and view.
void apply_explicit(ZonePlan& z, const std::vector<ExplicitRecord>& recs, const std::string& horizon) {
  std::map<std::string, std::vector<const ExplicitRecord*>> by_owner;
  for (auto& r : recs) {
    if (r.zone != z.origin) continue;
    std::string host = normalize_fqdn(r.hostname);
    std::string owner;
    if (host == "@") owner = z.origin;
    else if (r.hostname.back() == '.') owner = host;
    else if (relative_to(host, z.origin)) owner = host;  // already a full name inside the zone
    else owner = host + "." + z.origin;
    by_owner[owner].push_back(&r);
  }
  // Collect every replacement first and erase the replaced derived records in one pass: erasing per
  // owner is quadratic, which a zone of 100k explicit names turns into minutes.
  std::vector<PlanRecord> add;
  std::set<std::string_view> replaced;
  for (auto& [owner, list] : by_owner) {
    size_t before = add.size();
    for (auto* r : list) {
      const std::optional<IpAddr>& ip = horizon == "internal" ? (r->ip_internal ? r->ip_internal : r->ip_external)
                                                               : r->ip_external;
      if (!ip) continue;
      add.push_back({owner, ip->is_v4() ? RecordKind::a : RecordKind::aaaa, ip->to_string(),
                     "dns_server.authoritative_zones at " + where_text(r->where)});
    }
    if (add.size() != before) replaced.insert(owner);
  }
  if (add.empty()) return;
  std::erase_if(z.records, [&](const PlanRecord& p) { return p.kind != RecordKind::ptr && replaced.count(p.owner); });
  z.records.insert(z.records.end(), std::make_move_iterator(add.begin()), std::make_move_iterator(add.end()));
}

}  // namespace

std::string reverse_zone_for(const IpPrefix& subnet) {
  unsigned octets = subnet.length / 8;
  std::string out;
  for (unsigned i = octets; i-- > 0;) out += std::to_string(subnet.addr.bytes[i]) + ".";
  return out + "in-addr.arpa";
}

HorizonPlan derive_plan(const Inventory& inv, Diagnostics& diag) {
  HorizonPlan plan;
  const std::string& domain = inv.host.domain_name;
  auto dot = domain.find('.');
  std::string base = dot == std::string::npos ? domain : domain.substr(dot + 1);
  plan.internal_zone = inv.dns.internal_zone.value_or("internal." + base);
  plan.external_zone = inv.dns.external_zone.value_or("phoenix." + base);
  if (inv.host.default_subnet.length < 8) {
    diag.error(kHypervisorFile, "/network/default_subnet",
               "subnet " + inv.host.default_subnet.to_string() + " is too wide for a reverse zone (needs /8 or longer)");
  }
  plan.reverse_zone = reverse_zone_for(inv.host.default_subnet);
  plan.upstreams = inv.dns.upstreams;
  plan.forward = inv.dns.forward;
  plan.forward.search_zone = plan.internal_zone;
  plan.forward.own_subnets = {inv.host.default_subnet.network()};
  plan.zone_files = inv.dns.zone_files;
  plan.chaos_version = inv.dns.chaos_version;
  plan.require_cookie = inv.dns.require_cookie;
  plan.tsig_keys = inv.dns.tsig_keys;
  plan.chaos_identity = inv.dns.chaos_identity;
  plan.listen = inv.dns.listen;
  plan.metrics_listen = inv.dns.metrics_listen;
  plan.dnstap = inv.dns.dnstap;
  if (plan.listen.empty()) plan.listen.push_back({inv.host.address.addr, 53});
  plan.gateway = choose_gateway(inv);

  NameTable internal(plan.internal_zone, diag), external(plan.external_zone, diag);
  internal.add("ns1." + plan.internal_zone, inv.host.address.addr, "the host address",
               {kHypervisorFile, "/network/interfaces/address"});
  external.add("ns1." + plan.external_zone, inv.host.address.addr, "the host address",
               {kHypervisorFile, "/network/interfaces/address"});

  std::map<IpAddr::Family, std::map<std::string, std::string>> unused;
  for (auto& g : inv.guests) {
    std::string src = g.describe() + " at " + where_text(g.where);
    if (!g.ip) {
      if (g.dhcp) diag.warning(g.where.file, g.where.pointer + "/network_config/ip",
                               g.describe() + " uses dhcp; no address records");
      if (g.service)
        diag.warning(g.service->where.file, g.service->where.pointer,
                     "service " + g.service->name + " on " + g.describe() + " has no static address; not published");
      continue;
    }
    const IpAddr& ip = g.ip->addr;
    std::string label = sanitize_label(g.name);
    if (label != normalize_fqdn(g.name))
      diag.warning(g.where.file, g.where.pointer + "/name", "name \"" + g.name + "\" published as \"" + label + "\"");
    internal.add(label + "." + plan.internal_zone, ip, src, g.where);

    if (g.service) {
      const Service& s = *g.service;
      std::string sl = sanitize_label(s.name);
      bool tcp = is_tcp_service(g, s, inv);
      internal.add(sl + "." + plan.internal_zone, ip, "traefik service " + s.name + " of " + src, s.where);
      PublishedService ps{sl, sl + "." + plan.internal_zone, tcp ? "" : sl + "." + plan.external_zone, ip, s.port,
                          s.protocol == "https" ? "https" : (s.protocol == "http" ? "http" : ""), tcp, false,
                          g.describe(), s.where, {}, {}, std::nullopt, ""};
      plan.services.push_back(ps);
    }
    if (!g.portainer_agent_hostname.empty()) {
      std::string host = normalize_fqdn(g.portainer_agent_hostname);
      auto rel = relative_to(host, plan.internal_zone);
      if (host.find('.') == std::string::npos) rel = host;
      Location loc{g.where.file, g.where.pointer + "/portainer_agent_hostname"};
      if (!rel || !is_valid_hostname(*rel))
        diag.warning(loc.file, loc.pointer, "agent host name " + host + " is outside " + plan.internal_zone + "; not published");
      else
        internal.add(absolute(*rel, plan.internal_zone), ip, "portainer agent of " + src, loc);
    }
  }

  // Stack routes: names that exist only as proxy routes resolve to the gateway, internally too.
  bool routes_without_gateway = false;
  for (auto& r : inv.stack_routes) {
    std::string src = "stack " + r.stack + "/" + r.environment + "/" + r.service + " at " + where_text(r.where);
    auto rel_int = relative_to(r.host, plan.internal_zone);
    auto rel_ext = relative_to(r.host, plan.external_zone);
    if (!rel_int && !rel_ext) {
      diag.warning(r.where.file, r.where.pointer, "route host " + r.host + " is outside " + plan.internal_zone +
                                                      " and " + plan.external_zone + "; ignored");
      continue;
    }
    std::string rel = rel_int ? *rel_int : *rel_ext;
    std::string int_name = absolute(rel, plan.internal_zone);
    if (!plan.gateway.ip) {
      routes_without_gateway = true;  // reported once below
      continue;
    }
    if (rel_int && !internal.has(int_name)) internal.add(int_name, *plan.gateway.ip, "proxy route of " + src, r.where);
    // The stack runs on the guest that lists it; a dhcp guest has no address to route to.
    std::optional<IpAddr> backend;
    for (auto& g : inv.guests)
      if (g.ip && g.runs(r.stack, r.environment)) {
        backend = g.ip->addr;
        break;
      }
    PublishedService ps{rel, int_name, absolute(rel, plan.external_zone), backend, r.port, r.scheme, false, true,
                        "stack " + r.stack + "/" + r.environment + "/" + r.service, r.where,
                        r.entrypoints, r.middlewares, r.tls, r.certresolver};
    plan.services.push_back(ps);
  }

  bool need_gateway = routes_without_gateway ||
                      std::any_of(plan.services.begin(), plan.services.end(), [](auto& s) { return !s.tcp; });
  if (!plan.gateway.ip && need_gateway) {
    // Without a guest file the gateway guest may simply be absent: the loader has said which file is
    // missing, and the published names wait for it instead of refusing the rest.
    if (!inv.missing_files.empty())
      diag.warning(kHypervisorFile, "/dns_server",
                   "published services have no gateway, so no external names (" + inv.missing_files.front() +
                       " not found; set dns_server.gateway_ip to publish anyway)");
    else
      diag.error(kHypervisorFile, "/dns_server",
                 "no gateway for published services (set dns_server.gateway_ip or declare a guest with traefik service nginx)");
  }
  if (plan.gateway.ip) {
    for (auto& s : plan.services)
      if (!s.tcp) external.add(s.external_fqdn, *plan.gateway.ip, "gateway for " + s.owner + " service " + s.name, s.where);
  }

  ZonePlan zi = make_zone(plan.internal_zone, ZoneKind::internal, inv, plan.internal_zone);
  ZonePlan ze = make_zone(plan.external_zone, ZoneKind::external, inv, plan.internal_zone);
  add_records(zi, internal);
  add_records(ze, external);

  ZonePlan zr = make_zone(plan.reverse_zone, ZoneKind::reverse, inv, plan.internal_zone);
  std::map<std::string, std::set<std::string>> ptrs;
  auto add_ptr = [&](const IpAddr& ip, const std::string& target, const std::string& src) {
    if (!inv.host.default_subnet.contains(ip)) return;
    if (ptrs[reverse_owner(ip)].insert(target).second) zr.records.push_back({reverse_owner(ip), RecordKind::ptr, target, src});
  };
  add_ptr(inv.host.address.addr, "ns1." + plan.internal_zone, "the host address");
  for (auto& g : inv.guests)
    if (g.ip) add_ptr(g.ip->addr, sanitize_label(g.name) + "." + plan.internal_zone, g.describe() + " at " + where_text(g.where));

  // Zones named only by authoritative_zones get their own zone, in every view that has data for them.
  std::set<std::string> extra_names;
  for (auto& r : inv.dns.explicit_records)
    if (r.zone != plan.internal_zone && r.zone != plan.external_zone && r.zone != plan.reverse_zone)
      extra_names.insert(r.zone);

  std::vector<ViewSpec> specs = inv.dns.views;
  if (specs.empty()) {
    ViewSpec in, ex;
    in.name = in.horizon = "internal";
    in.match_clients = {inv.host.default_subnet, *IpPrefix::parse("127.0.0.0/8"), *IpPrefix::parse("::1/128")};
    ex.name = ex.horizon = "external";
    ex.match_clients = {*IpPrefix::parse("0.0.0.0/0"), *IpPrefix::parse("::/0")};
    specs = {in, ex};
  }
  std::set<std::string> known = {plan.internal_zone, plan.external_zone, plan.reverse_zone};
  known.insert(extra_names.begin(), extra_names.end());
  for (auto& zf : inv.dns.zone_files) known.insert(zf.origin);

  for (auto& spec : specs) {
    ViewPlan v;
    v.name = spec.name;
    v.match_clients = spec.match_clients;
    v.horizon = spec.horizon;
    v.recursion = spec.recursion.value_or(spec.horizon == "internal");
    if (spec.rate_limit) {
      v.rate_limit = *spec.rate_limit;
    } else {
      // Off where only known prefixes are served, on where anyone may ask (a view matching "any").
      bool any = std::any_of(spec.match_clients.begin(), spec.match_clients.end(),
                             [](const IpPrefix& p) { return p.length == 0; });
      v.rate_limit = inv.dns.rate_limit;
      v.rate_limit.enabled = inv.dns.rate_limit_enabled.value_or(any);
    }
    v.where = spec.where;
    v.match_keys = spec.match_keys;
    v.match_destinations = spec.match_destinations;
    v.transfer = spec.transfer;
    v.catalog = spec.catalog;
    std::vector<std::string> names;
    if (spec.zones) {
      names = *spec.zones;
    } else if (spec.name == "internal" || spec.name == "external") {
      if (spec.name == "internal") names = {plan.internal_zone, plan.external_zone, plan.reverse_zone};
      else names = {plan.external_zone};
      names.insert(names.end(), extra_names.begin(), extra_names.end());
    } else {
      diag.error(spec.where.file, spec.where.pointer, "view \"" + spec.name + "\" needs a \"zones\" list");
    }
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string& zn = names[i];
      if (!known.count(zn)) {
        diag.error(spec.where.file, spec.where.pointer + "/zones/" + std::to_string(i), "unknown zone \"" + zn + "\"");
        continue;
      }
      v.zone_names.push_back(zn);
      auto file = std::find_if(inv.dns.zone_files.begin(), inv.dns.zone_files.end(), [&](auto& f) {
        return f.origin == zn && (f.views.empty() || std::find(f.views.begin(), f.views.end(), v.name) != f.views.end());
      });
      if (file != inv.dns.zone_files.end()) {
        // The zone file replaces the derived zone in this view; say so, since the inventory's names vanish.
        bool derived = zn == plan.internal_zone || zn == plan.external_zone || zn == plan.reverse_zone ||
                       extra_names.count(zn);
        if (derived)
          diag.warning(file->where.file, file->where.pointer,
                       "zone file " + file->file.filename().string() + " replaces the derived zone \"" + zn +
                           "\" in view \"" + v.name + "\"");
        continue;
      }
      ZonePlan z = zn == plan.internal_zone   ? zi
                   : zn == plan.external_zone ? ze
                   : zn == plan.reverse_zone  ? zr
                                              : make_zone(zn, ZoneKind::extra, inv, plan.internal_zone);
      apply_explicit(z, inv.dns.explicit_records, v.horizon);
      if (z.kind == ZoneKind::extra && z.records.empty()) continue;  // nothing visible from this side
      std::sort(z.records.begin(), z.records.end(), [](const PlanRecord& a, const PlanRecord& b) {
        return std::tie(a.owner, a.kind, a.value) < std::tie(b.owner, b.kind, b.value);
      });
      v.zones.push_back(std::move(z));
    }
    // Zone files named for this view (or for every view) that the zone list did not mention.
    for (auto& f : inv.dns.zone_files) {
      bool for_view = f.views.empty() || std::find(f.views.begin(), f.views.end(), v.name) != f.views.end();
      if (for_view && std::find(v.zone_names.begin(), v.zone_names.end(), f.origin) == v.zone_names.end())
        v.zone_names.push_back(f.origin);
    }
    plan.views.push_back(std::move(v));
  }
  for (auto& f : inv.dns.zone_files)
    for (size_t i = 0; i < f.views.size(); ++i)
      if (std::none_of(plan.views.begin(), plan.views.end(), [&](auto& v) { return v.name == f.views[i]; }))
        diag.error(f.where.file, f.where.pointer + "/views/" + std::to_string(i), "unknown view \"" + f.views[i] + "\"");
  check_dns(inv, plan, diag);
  return plan;
}

}  // namespace phoenix::horizon
