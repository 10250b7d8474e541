// plan.cpp -- derive_plan as the named stages of plan_stages.hpp, run in order.
#include "plan.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "dns_checks.hpp"
#include "label.hpp"
#include "loader.hpp"
#include "plan_stages.hpp"

namespace phoenix::horizon {
namespace plan_stages {
namespace {

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

std::string reverse_owner(const IpAddr& a) {
  return std::to_string(a.bytes[3]) + "." + std::to_string(a.bytes[2]) + "." + std::to_string(a.bytes[1]) + "." +
         std::to_string(a.bytes[0]) + ".in-addr.arpa";
}

bool names_view(const ZoneFileSpec& f, const std::string& view) {
  return f.views.empty() || std::find(f.views.begin(), f.views.end(), view) != f.views.end();
}

/// The zone list of a view: its own "zones", else the default for the built-in names.
std::vector<std::string> view_zone_list(const ViewSpec& spec, const DerivedZones& zones, Diagnostics& diag) {
  std::vector<std::string> names;
  if (spec.zones) {
    names = *spec.zones;
  } else if (spec.name == "internal" || spec.name == "external") {
    if (spec.name == "internal") names = {zones.internal.origin, zones.external.origin, zones.reverse.origin};
    else names = {zones.external.origin};
    names.insert(names.end(), zones.extra.begin(), zones.extra.end());
  } else {
    diag.error(spec.where.file, spec.where.pointer, "view \"" + spec.name + "\" needs a \"zones\" list");
  }
  return names;
}

}  // namespace

void NameTable::add(const std::string& owner, const IpAddr& ip, const std::string& source, const Location& where) {
  auto& list = names_[owner];
  for (auto& e : list) {
    if (e.ip.family != ip.family) continue;
    if (e.ip == ip) return;
    Diagnostic d{Severity::error, where.file, where.pointer,
                 "name " + owner + " conflicts: " + ip.to_string() + " from " + source + " vs " + e.ip.to_string() +
                     " from " + e.source,
                 "name-conflict", {}};
    diag_.add(std::move(d));
    return;
  }
  list.push_back({ip, source});
}

std::vector<PlanRecord> NameTable::records() const {
  std::vector<PlanRecord> out;
  for (auto& [owner, entries] : names_)
    for (auto& e : entries)
      out.push_back({owner, e.ip.is_v4() ? RecordKind::a : RecordKind::aaaa, e.ip.to_string(), e.source});
  return out;
}

ZoneNames name_zones(const Inventory& inv, Diagnostics& diag) {
  ZoneNames z;
  const std::string& domain = inv.host.domain_name;
  auto dot = domain.find('.');
  std::string base = dot == std::string::npos ? domain : domain.substr(dot + 1);
  z.internal = inv.dns.internal_zone.value_or("internal." + base);
  z.external = inv.dns.external_zone.value_or("phoenix." + base);
  if (inv.host.default_subnet.length < 8) {
    diag.error(kHypervisorFile, "/network/default_subnet",
               "subnet " + inv.host.default_subnet.to_string() + " is too wide for a reverse zone (needs /8 or longer)");
  }
  z.reverse = reverse_zone_for(inv.host.default_subnet);
  return z;
}

void serving_settings(const Inventory& inv, const ZoneNames& zones, HorizonPlan& plan) {
  plan.upstreams = inv.dns.upstreams;
  plan.forward = inv.dns.forward;
  plan.forward.search_zone = zones.internal;
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
}

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

void publish_guests(const Inventory& inv, const ZoneNames& zones, NameTable& internal,
                    std::vector<PublishedService>& services, Diagnostics& diag) {
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
    internal.add(label + "." + zones.internal, ip, src, g.where);

    if (g.service) {
      const Service& s = *g.service;
      std::string sl = sanitize_label(s.name);
      bool tcp = is_tcp_service(g, s, inv);
      internal.add(sl + "." + zones.internal, ip, "traefik service " + s.name + " of " + src, s.where);
      PublishedService ps{sl, sl + "." + zones.internal, tcp ? "" : sl + "." + zones.external, ip, s.port,
                          s.protocol == "https" ? "https" : (s.protocol == "http" ? "http" : ""), tcp, false,
                          g.describe(), s.where, {}, {}, std::nullopt, ""};
      services.push_back(ps);
    }
    if (!g.portainer_agent_hostname.empty()) {
      std::string host = normalize_fqdn(g.portainer_agent_hostname);
      auto rel = relative_to(host, zones.internal);
      if (host.find('.') == std::string::npos) rel = host;
      Location loc{g.where.file, g.where.pointer + "/portainer_agent_hostname"};
      if (!rel || !is_valid_hostname(*rel))
        diag.warning(loc.file, loc.pointer, "agent host name " + host + " is outside " + zones.internal + "; not published");
      else
        internal.add(absolute(*rel, zones.internal), ip, "portainer agent of " + src, loc);
    }
  }
}

std::optional<std::string> route_label(const StackRoute& r, const ZoneNames& zones) {
  if (auto rel = relative_to(r.host, zones.internal)) return rel;
  return relative_to(r.host, zones.external);
}

void publish_routes(const Inventory& inv, const ZoneNames& zones, const GatewayChoice& gateway, NameTable& internal,
                    std::vector<PublishedService>& services, Diagnostics& diag) {
  // Names that exist only as proxy routes resolve to the gateway, internally too.
  for (auto& r : inv.stack_routes) {
    std::string src = "stack " + r.stack + "/" + r.environment + "/" + r.service + " at " + where_text(r.where);
    auto rel = route_label(r, zones);
    if (!rel) {
      diag.warning(r.where.file, r.where.pointer,
                   "route host " + r.host + " is outside " + zones.internal + " and " + zones.external + "; ignored");
      continue;
    }
    std::string int_name = absolute(*rel, zones.internal);
    if (!gateway.ip) continue;  // check_gateway says so, once
    bool in_internal = relative_to(r.host, zones.internal).has_value();
    if (in_internal && !internal.has(int_name)) internal.add(int_name, *gateway.ip, "proxy route of " + src, r.where);
    // The stack runs on the guest that lists it; a dhcp guest has no address to route to.
    std::optional<IpAddr> backend;
    for (auto& g : inv.guests)
      if (g.ip && g.runs(r.stack, r.environment)) {
        backend = g.ip->addr;
        break;
      }
    PublishedService ps{*rel, int_name, absolute(*rel, zones.external), backend, r.port, r.scheme, false, true,
                        "stack " + r.stack + "/" + r.environment + "/" + r.service, r.where,
                        r.entrypoints, r.middlewares, r.tls, r.certresolver};
    services.push_back(ps);
  }
}

void check_gateway(const Inventory& inv, const ZoneNames& zones, const GatewayChoice& gateway,
                   const std::vector<PublishedService>& services, Diagnostics& diag) {
  if (gateway.ip) return;
  bool need_gateway =
      std::any_of(inv.stack_routes.begin(), inv.stack_routes.end(), [&](auto& r) { return route_label(r, zones); }) ||
      std::any_of(services.begin(), services.end(), [](auto& s) { return !s.tcp; });
  if (!need_gateway) return;
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

void publish_external(const GatewayChoice& gateway, const std::vector<PublishedService>& services,
                      NameTable& external) {
  if (!gateway.ip) return;
  for (auto& s : services)
    if (!s.tcp) external.add(s.external_fqdn, *gateway.ip, "gateway for " + s.owner + " service " + s.name, s.where);
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

ZonePlan reverse_zone(const Inventory& inv, const ZoneNames& zones) {
  ZonePlan zr = make_zone(zones.reverse, ZoneKind::reverse, inv, zones.internal);
  std::map<std::string, std::set<std::string>> ptrs;
  auto add_ptr = [&](const IpAddr& ip, const std::string& target, const std::string& src) {
    if (!inv.host.default_subnet.contains(ip)) return;
    if (ptrs[reverse_owner(ip)].insert(target).second) zr.records.push_back({reverse_owner(ip), RecordKind::ptr, target, src});
  };
  add_ptr(inv.host.address.addr, "ns1." + zones.internal, "the host address");
  for (auto& g : inv.guests)
    if (g.ip) add_ptr(g.ip->addr, sanitize_label(g.name) + "." + zones.internal, g.describe() + " at " + where_text(g.where));
  return zr;
}

DerivedZones derive_zones(const Inventory& inv, const ZoneNames& zones, const NameTable& internal,
                          const NameTable& external) {
  DerivedZones d;
  d.internal = make_zone(zones.internal, ZoneKind::internal, inv, zones.internal);
  d.external = make_zone(zones.external, ZoneKind::external, inv, zones.internal);
  d.internal.records = internal.records();
  d.external.records = external.records();
  d.reverse = reverse_zone(inv, zones);
  // Zones named only by authoritative_zones get their own zone, in every view that has data for them.
  for (auto& r : inv.dns.explicit_records)
    if (r.zone != zones.internal && r.zone != zones.external && r.zone != zones.reverse) d.extra.insert(r.zone);
  return d;
}

std::vector<ViewSpec> view_specs(const Inventory& inv) {
  if (!inv.dns.views.empty()) return inv.dns.views;
  ViewSpec in, ex;
  in.name = in.horizon = "internal";
  in.match_clients = {inv.host.default_subnet, *IpPrefix::parse("127.0.0.0/8"), *IpPrefix::parse("::1/128")};
  ex.name = ex.horizon = "external";
  ex.match_clients = {*IpPrefix::parse("0.0.0.0/0"), *IpPrefix::parse("::/0")};
  return {in, ex};
}

RateLimitSettings view_rate_limit(const ViewSpec& spec, const DnsSettings& dns) {
  if (spec.rate_limit) return *spec.rate_limit;
  // Off where only known prefixes are served, on where anyone may ask (a view matching "any").
  bool any = std::any_of(spec.match_clients.begin(), spec.match_clients.end(),
                         [](const IpPrefix& p) { return p.length == 0; });
  RateLimitSettings rl = dns.rate_limit;
  rl.enabled = dns.rate_limit_enabled.value_or(any);
  return rl;
}

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

ViewPlan plan_view(const ViewSpec& spec, const DerivedZones& zones, const Inventory& inv, Diagnostics& diag) {
  ViewPlan v;
  v.name = spec.name;
  v.match_clients = spec.match_clients;
  v.horizon = spec.horizon;
  v.recursion = spec.recursion.value_or(spec.horizon == "internal");
  v.rate_limit = view_rate_limit(spec, inv.dns);
  v.where = spec.where;
  v.match_keys = spec.match_keys;
  v.match_destinations = spec.match_destinations;
  v.transfer = spec.transfer;
  v.catalog = spec.catalog;
  auto names = view_zone_list(spec, zones, diag);
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& zn = names[i];
    bool from_file = std::any_of(inv.dns.zone_files.begin(), inv.dns.zone_files.end(),
                                 [&](auto& f) { return f.origin == zn; });
    if (!zones.derived(zn) && !from_file) {
      diag.error(spec.where.file, spec.where.pointer + "/zones/" + std::to_string(i), "unknown zone \"" + zn + "\"");
      continue;
    }
    v.zone_names.push_back(zn);
    auto file = std::find_if(inv.dns.zone_files.begin(), inv.dns.zone_files.end(),
                             [&](auto& f) { return f.origin == zn && names_view(f, v.name); });
    if (file != inv.dns.zone_files.end()) {
      // The zone file replaces the derived zone in this view; say so, since the inventory's names vanish.
      if (zones.derived(zn))
        diag.warning(file->where.file, file->where.pointer,
                     "zone file " + file->file.filename().string() + " replaces the derived zone \"" + zn +
                         "\" in view \"" + v.name + "\"");
      continue;
    }
    ZonePlan z = zn == zones.internal.origin   ? zones.internal
                 : zn == zones.external.origin ? zones.external
                 : zn == zones.reverse.origin  ? zones.reverse
                                               : make_zone(zn, ZoneKind::extra, inv, zones.internal.origin);
    apply_explicit(z, inv.dns.explicit_records, v.horizon);
    if (z.kind == ZoneKind::extra && z.records.empty()) continue;  // nothing visible from this side
    std::sort(z.records.begin(), z.records.end(), [](const PlanRecord& a, const PlanRecord& b) {
      return std::tie(a.owner, a.kind, a.value) < std::tie(b.owner, b.kind, b.value);
    });
    v.zones.push_back(std::move(z));
  }
  // Zone files named for this view (or for every view) that the zone list did not mention.
  for (auto& f : inv.dns.zone_files)
    if (names_view(f, v.name) && std::find(v.zone_names.begin(), v.zone_names.end(), f.origin) == v.zone_names.end())
      v.zone_names.push_back(f.origin);
  return v;
}

void check_zone_file_views(const Inventory& inv, const std::vector<ViewPlan>& views, Diagnostics& diag) {
  for (auto& f : inv.dns.zone_files)
    for (size_t i = 0; i < f.views.size(); ++i)
      if (std::none_of(views.begin(), views.end(), [&](auto& v) { return v.name == f.views[i]; }))
        diag.error(f.where.file, f.where.pointer + "/views/" + std::to_string(i), "unknown view \"" + f.views[i] + "\"");
}

}  // namespace plan_stages

std::string reverse_zone_for(const IpPrefix& subnet) {
  unsigned octets = subnet.length / 8;
  std::string out;
  for (unsigned i = octets; i-- > 0;) out += std::to_string(subnet.addr.bytes[i]) + ".";
  return out + "in-addr.arpa";
}

HorizonPlan derive_plan(const Inventory& inv, Diagnostics& diag) {
  using namespace plan_stages;
  HorizonPlan plan;
  ZoneNames zones = name_zones(inv, diag);
  plan.internal_zone = zones.internal;
  plan.external_zone = zones.external;
  plan.reverse_zone = zones.reverse;
  serving_settings(inv, zones, plan);
  plan.gateway = choose_gateway(inv);

  NameTable internal(diag), external(diag);
  const Location host_address{kHypervisorFile, "/network/interfaces/address"};
  internal.add("ns1." + zones.internal, inv.host.address.addr, "the host address", host_address);
  external.add("ns1." + zones.external, inv.host.address.addr, "the host address", host_address);
  publish_guests(inv, zones, internal, plan.services, diag);
  publish_routes(inv, zones, plan.gateway, internal, plan.services, diag);
  check_gateway(inv, zones, plan.gateway, plan.services, diag);
  publish_external(plan.gateway, plan.services, external);

  DerivedZones derived = derive_zones(inv, zones, internal, external);
  for (auto& spec : view_specs(inv)) plan.views.push_back(plan_view(spec, derived, inv, diag));
  check_zone_file_views(inv, plan.views, diag);
  check_dns(inv, plan, diag);
  return plan;
}

}  // namespace phoenix::horizon
