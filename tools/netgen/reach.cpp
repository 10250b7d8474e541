#include "reach.hpp"

#include <algorithm>

#include "horizon/label.hpp"

namespace phoenix::netgen {
namespace {

using horizon::IpAddr;

std::string flow_text(const Party& src, const Party& dst, const std::string& proto, uint16_t port) {
  std::string s = src.addr.to_string() + " -> " + dst.addr.to_string();
  return port ? s + ":" + std::to_string(port) + "/" + proto : s + " " + proto;
}

/// Proxmox's built-in host rules let the cluster network manage the hosts whatever [RULES] say
/// (pve-firewall's "local_network" accepts: SSH, the web UI, SPICE proxy, VNC consoles).
bool management_port(const std::string& proto, uint16_t port) {
  return proto == "tcp" && (port == 22 || port == 8006 || port == 3128 || (port >= 5900 && port <= 5999));
}

ReachStep evaluate(const RuleSet& set, Direction dir, const Flow& flow, const std::string& level) {
  ReachStep step;
  step.level = level + " " + direction_text(dir);
  for (auto& r : set.rules) {
    if (r.direction != dir || !rule_matches(r, flow, set.iface)) continue;
    step.verdict = action_text(r.action);
    step.reason = "by rule " + std::to_string(r.index) + " \"" + r.to_proxmox() + "\"";
    step.rule = &r;
    step.where = r.where;
    return step;
  }
  step.verdict = dir == Direction::in ? set.policy_in : set.policy_out;
  step.reason = std::string("(no rule matched: ") + (dir == Direction::in ? "policy_in " : "policy_out ") + step.verdict + ")";
  step.where = set.where;
  return step;
}

}  // namespace

std::string Party::describe() const {
  if (host) return "host " + addr.to_string();
  if (guest) return guest->describe() + " " + addr.to_string();
  return addr.to_string();
}

std::optional<Target> resolve_target(const Model& m, const std::string& text, std::string& why) {
  const auto& inv = m.inventory();
  const auto& zone = m.plan().internal_zone;
  auto of_guest = [&](const horizon::Guest& g) -> std::optional<Target> {
    if (!g.ip) {
      why = g.describe() + " has no static address (dhcp)";
      return std::nullopt;
    }
    return Target{horizon::sanitize_label(g.name) + "." + zone, g.ip->addr};
  };
  if (auto a = IpAddr::parse(text)) return Target{"", *a};
  std::string lower = horizon::normalize_fqdn(text);
  if (lower == "host" || lower == "hypervisor") return Target{"ns1." + zone, inv.host.address.addr};
  bool number = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (number && text.size() < 10)
    if (auto* g = m.guest_by_id(static_cast<uint32_t>(std::stoul(text)))) return of_guest(*g);
  for (auto& g : inv.guests)
    if (horizon::normalize_fqdn(g.name) == lower || horizon::sanitize_label(g.name) == lower) return of_guest(g);
  for (auto& g : inv.guests)
    if (g.service && horizon::sanitize_label(g.service->name) == lower) {
      auto t = of_guest(g);
      if (t) t->fqdn = lower + "." + zone;
      return t;
    }
  // The two proxies by their role, as the README names them: Traefik is rarely a guest called so.
  if (lower == "traefik" && m.traefik().ip) {
    if (m.traefik().guest) return of_guest(*m.traefik().guest);
    return Target{"traefik." + zone, *m.traefik().ip};
  }
  if ((lower == "gateway" || lower == "nginx") && m.plan().gateway.ip)
    if (auto* g = m.guest_by_ip(*m.plan().gateway.ip)) return of_guest(*g);
  // A DNS name: the address the internal view gives it (what a guest would connect to). A bare label
  // ("portainer-agent") is taken as a name of the internal zone, as a guest's search domain would.
  std::string name = lower.find('.') == std::string::npos ? lower + "." + zone : lower;
  for (auto& v : m.plan().views) {
    if (v.horizon != "internal") continue;
    for (auto& z : v.zones)
      for (auto& r : z.records)
        if (r.owner == name && r.kind == horizon::RecordKind::a) return Target{name, *IpAddr::parse(r.value)};
  }
  why = "\"" + text + "\" is not an address, \"host\", a guest id or name, a service name, traefik or gateway, or a name "
        "in the internal zone";
  return std::nullopt;
}

std::optional<Party> resolve_party(const Model& m, const std::string& text, std::string& why) {
  auto t = resolve_target(m, text, why);
  if (!t) return std::nullopt;
  Party p;
  p.text = text;
  p.addr = t->addr;
  p.host = m.is_host(t->addr);
  p.guest = p.host ? nullptr : m.guest_by_ip(t->addr);
  return p;
}

bool parse_port_proto(const std::string& text, uint16_t& port, std::string& proto) {
  auto slash = text.find('/');
  std::string p = text.substr(0, slash);
  proto = slash == std::string::npos ? "tcp" : horizon::normalize_fqdn(text.substr(slash + 1));
  bool digits = !p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    // "icmp" alone: a protocol without ports.
    if (slash != std::string::npos || p.empty()) return false;
    proto = horizon::normalize_fqdn(p);
    port = 0;
    return proto == "icmp" || proto == "icmpv6";
  }
  long v = std::stol(p);
  if (v < 1 || v > 65535) return false;
  port = static_cast<uint16_t>(v);
  return proto == "tcp" || proto == "udp" || proto == "sctp" || proto == "udplite";
}

std::string ReachStep::format() const {
  std::string s = level + ": " + verdict + " " + reason;
  if (where) s += " (" + where->to_string() + ")";
  return s;
}

std::string ReachResult::format() const {
  std::string s = summary + "\n";
  for (auto& w : strangers) s += "  note: " + w + "\n";
  for (size_t i = 0; i < steps.size(); ++i) s += "  " + std::to_string(i + 1) + ". " + steps[i].format() + "\n";
  if (!note.empty()) s += "  " + note + "\n";
  return s;
}

ReachResult reach(const Model& m, const FirewallModel& fw, const Party& src, const Party& dst, const std::string& proto,
                  uint16_t port) {
  ReachResult res;
  Flow flow{src.addr, dst.addr, proto, port};
  std::string text = flow_text(src, dst, proto, port);
  if (!fw.cluster.enabled) {
    // Proxmox applies no rule anywhere, guests included, while the datacenter firewall is off.
    res.allowed = true;
    res.steps.push_back({"cluster.fw", "ACCEPT", "(enable: 0, the whole firewall is off)", nullptr, fw.cluster.where});
  } else {
    // Leaving the source.
    if (src.host) {
      res.steps.push_back(evaluate(fw.cluster, Direction::out, flow, "cluster.fw (host " + src.addr.to_string() + ")"));
    } else if (src.guest) {
      const RuleSet* set = fw.guest_rules(src.guest);
      if (!set || !set->enabled)
        res.steps.push_back({src.guest->describe() + " OUT", "ACCEPT", "(its firewall is disabled)", nullptr,
                             set ? std::optional(set->where) : std::nullopt});
      else
        res.steps.push_back(evaluate(*set, Direction::out, flow, src.guest->describe()));
    }
    // Entering the destination, if the packet got that far.
    bool passed = res.steps.empty() || res.steps.back().verdict == "ACCEPT";
    if (passed) {
      if (dst.host) {
        if (management_port(proto, port) && m.inventory().host.default_subnet.contains(src.addr))
          res.steps.push_back({"cluster.fw (host " + dst.addr.to_string() + ") IN", "ACCEPT",
                               "by Proxmox's built-in management rule for the local network", nullptr, std::nullopt});
        else
          res.steps.push_back(evaluate(fw.cluster, Direction::in, flow, "cluster.fw (host " + dst.addr.to_string() + ")"));
      } else if (dst.guest) {
        const RuleSet* set = fw.guest_rules(dst.guest);
        if (!set || !set->enabled)
          res.steps.push_back({dst.guest->describe() + " IN", "ACCEPT", "(its firewall is disabled)", nullptr,
                               set ? std::optional(set->where) : std::nullopt});
        else
          res.steps.push_back(evaluate(*set, Direction::in, flow, dst.guest->describe()));
      }
    }
    if (res.steps.empty())
      res.steps.push_back({"no Proxmox firewall", "ACCEPT", "(neither end is a host or a guest of this inventory)",
                           nullptr, std::nullopt});
    res.allowed = std::all_of(res.steps.begin(), res.steps.end(), [](auto& s) { return s.verdict == "ACCEPT"; });
  }
  for (const Party* p : {&src, &dst})
    if (!p->host && !p->guest && std::none_of(res.strangers.begin(), res.strangers.end(), [&](auto& w) {
          return w.rfind(p->addr.to_string() + " ", 0) == 0;
        }))
      res.strangers.push_back(p->addr.to_string() + " is not an address of the inventory (no guest, not the host)");
  res.summary = std::string(res.allowed ? "ALLOW " : "DROP ") + text + "  (" + src.describe() + " -> " +
                dst.describe() + ")";
  if (res.allowed)
    res.note = "replies " + dst.addr.to_string() + " -> " + src.addr.to_string() +
               " pass as ESTABLISHED,RELATED (Proxmox's firewall is stateful); no rule is needed for them";
  else
    res.note = "decided at: " + res.steps.back().level +
               (res.steps.back().verdict == "REJECT" ? " (REJECT: the sender is told)" : "");
  return res;
}

}  // namespace phoenix::netgen
