#include "dns_checks.hpp"

#include <map>
#include <set>

#include "label.hpp"
#include "loader.hpp"

namespace phoenix::horizon {
namespace {

Location at(const Location& base, const std::string& suffix) { return {base.file, base.pointer + suffix}; }

void add(Diagnostics& diag, Severity sev, const char* code, const std::string& message, std::vector<Location> where) {
  Diagnostic d;
  d.severity = sev;
  d.code = code;
  d.message = message;
  if (!where.empty()) {
    d.file = where.front().file;
    d.location = where.front().pointer;
    for (size_t i = 1; i < where.size(); ++i) d.also.emplace_back(where[i].file, where[i].pointer);
  }
  diag.add(std::move(d));
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

void addresses(const Inventory& inv, Diagnostics& diag) {
  std::map<std::string, std::vector<const Guest*>> by_ip;
  for (auto& g : inv.guests) {
    if (!g.ip) continue;
    by_ip[g.ip->addr.to_string()].push_back(&g);
    if (!inv.host.default_subnet.contains(g.ip->addr))
      add(diag, Severity::warning, "outside-subnet",
          g.describe() + " address " + g.ip->addr.to_string() + " is outside the subnet " +
              inv.host.default_subnet.to_string() + " (no PTR, and the internal view may not match it)",
          {at(g.where, "/network_config/ip")});
    if (g.ip->addr == inv.host.address.addr)
      add(diag, Severity::error, "duplicate-ip", g.describe() + " uses the host's own address " + g.ip->addr.to_string(),
          {at(g.where, "/network_config/ip"), {kHypervisorFile, "/network/interfaces/address"}});
  }
  for (auto& g : inv.guests) {
    if (!g.ip) continue;
    auto& list = by_ip[g.ip->addr.to_string()];
    if (list.size() < 2 || list.front() != &g) continue;
    std::vector<std::string> names;
    std::vector<Location> where;
    for (auto* o : list) {
      names.push_back(o->describe());
      where.push_back(at(o->where, "/network_config/ip"));
    }
    add(diag, Severity::error, "duplicate-ip", join(names, " and ") + " share the address " + g.ip->addr.to_string(), where);
  }
}

void name_collisions(const Inventory& inv, const HorizonPlan& plan, Diagnostics& diag) {
  struct Entry {
    const Guest* guest;
    std::string raw;
    Location where;
  };
  std::map<std::string, std::vector<Entry>> by_label;
  for (auto& g : inv.guests) {
    if (!g.ip) continue;
    by_label[sanitize_label(g.name)].push_back({&g, g.name, at(g.where, "/name")});
    if (g.service) by_label[sanitize_label(g.service->name)].push_back({&g, g.service->name, at(g.service->where, "/name")});
  }
  for (auto& [label, list] : by_label) {
    std::set<const Guest*> guests;
    for (auto& e : list) guests.insert(e.guest);
    if (guests.size() < 2) continue;
    std::set<std::string> ips;
    std::vector<std::string> who;
    std::vector<Location> where;
    for (auto& e : list) {
      ips.insert(e.guest->ip->addr.to_string());
      who.push_back("\"" + e.raw + "\" of " + e.guest->describe());
      where.push_back(e.where);
    }
    bool conflict = ips.size() > 1;
    add(diag, conflict ? Severity::error : Severity::warning, "name-collision",
        join(who, ", ") + " all become " + label + "." + plan.internal_zone + (conflict ? " with different addresses" : ""),
        where);
  }
}

std::string describe_ip(const Inventory& inv, const IpAddr& ip) {
  if (ip == inv.host.address.addr) return "host " + ip.to_string();
  for (auto& g : inv.guests)
    if (g.ip && g.ip->addr == ip) return g.describe() + " " + ip.to_string();
  return ip.to_string();
}

void leaks(const Inventory& inv, const HorizonPlan& plan, Diagnostics& diag) {
  std::set<std::string> guest_ips;
  for (auto& g : inv.guests)
    if (g.ip && !(plan.gateway.ip && g.ip->addr == *plan.gateway.ip)) guest_ips.insert(g.ip->addr.to_string());
  std::set<std::string> public_names;
  for (auto& s : plan.services)
    if (!s.tcp && !s.external_fqdn.empty()) public_names.insert(s.external_fqdn);
  for (auto& v : plan.views) {
    if (v.horizon != "external") continue;
    Location vw = v.where.file.empty() ? Location{kHypervisorFile, "/dns_server (default views)"} : v.where;
    for (auto& zn : v.zone_names)
      if (zn == plan.internal_zone || zn == plan.reverse_zone)
        add(diag, Severity::error, "leak", "external view " + v.name + " serves the internal-only zone " + zn, {vw});
    for (auto& z : v.zones) {
      if (z.origin == plan.internal_zone || z.origin == plan.reverse_zone) continue;
      for (auto& r : z.records) {
        if (r.kind == RecordKind::ptr) continue;
        if (guest_ips.count(r.value))
          add(diag, Severity::error, "leak",
              "external view " + v.name + " publishes " + r.owner + " -> " + r.value + ", a direct guest address (" +
                  describe_ip(inv, *IpAddr::parse(r.value)) + "), from " + r.source,
              {vw});
        // A name at the gateway that is no HTTP service tells outsiders an internal name; a record
        // for an address outside the inventory is an ordinary external record.
        else if (z.origin == plan.external_zone && r.owner != "ns1." + z.origin && !public_names.count(r.owner) &&
                 plan.gateway.ip && r.value == plan.gateway.ip->to_string())
          add(diag, Severity::error, "leak",
              "external view " + v.name + " publishes " + r.owner + ", which is not an HTTP service (from " + r.source + ")",
              {vw});
      }
    }
  }
}

void views(const HorizonPlan& plan, Diagnostics& diag) {
  const auto& vs = plan.views;
  auto where = [](const ViewPlan& v) {
    return v.where.file.empty() ? Location{kHypervisorFile, "/dns_server (default views)"} : v.where;
  };
  for (size_t i = 1; i < vs.size(); ++i) {
    size_t shadowed = 0;
    Diagnostics partial;
    for (auto& p : vs[i].match_clients) {
      const ViewPlan* by = nullptr;
      for (size_t j = 0; j < i && !by; ++j)
        for (auto& q : vs[j].match_clients)
          if (q.addr.family == p.addr.family && q.length <= p.length && q.contains(p.addr)) {
            by = &vs[j];
            break;
          }
      if (!by) continue;
      ++shadowed;
      add(partial, Severity::warning, "view-selector-shadowed",
          "view " + vs[i].name + " selector " + p.to_string() + " never matches: view " + by->name +
              " comes first and matches all of it",
          {where(vs[i]), where(*by)});
    }
    if (shadowed && shadowed == vs[i].match_clients.size())
      add(diag, Severity::error, "view-never-matches",
          "view " + vs[i].name + " can never match: every selector is covered by earlier views", {where(vs[i])});
    else
      diag.append(partial);
  }
}

}  // namespace

void check_dns(const Inventory& inv, const HorizonPlan& plan, Diagnostics& diag) {
  addresses(inv, diag);
  name_collisions(inv, plan, diag);
  leaks(inv, plan, diag);
  views(plan, diag);
}

}  // namespace phoenix::horizon
