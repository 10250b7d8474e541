#include "check.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "horizon/label.hpp"
#include "horizon/loader.hpp"
#include "reach.hpp"
#include "routes.hpp"

namespace phoenix::netgen {
namespace {

using horizon::Guest;
using horizon::IpAddr;
using horizon::IpPrefix;
using horizon::Location;

Location at(const Location& base, const std::string& suffix) { return {base.file, base.pointer + suffix}; }

class Checker {
 public:
  Checker(const Model& m, const FirewallModel& fw) : m_(m), fw_(fw), inv_(m.inventory()), plan_(m.plan()) {}

  std::vector<Finding> run() {
    // The DNS checks live in the shared model (horizon/dns_checks), so that phoenix-dns --check says
    // the same; their codes and severities come through unchanged.
    for (auto& d : m_.plan_diagnostics().items()) {
      if (d.severity != horizon::Severity::error && d.code.empty()) continue;
      std::vector<Location> where{{d.file, d.location}};
      for (auto& [file, ptr] : d.also) where.push_back({file, ptr});
      add(d.severity == horizon::Severity::error ? Severity::error : Severity::warning,
          d.code.empty() ? "inventory" : d.code, d.message, where);
    }
    for (auto& p : fw_.problems) out_.push_back(p);
    for (auto& p : service_key_problems(m_)) out_.push_back(p);
    shadowed_rules();
    nameservers();
    dhcp_routes();
    tcp_services();
    proxy_paths();
    portainer_agents();
    host_services();
    host_resolvers();
    internal_names();
    public_names();
    duplicate_routes();
    std::stable_sort(out_.begin(), out_.end(), [](auto& a, auto& b) { return a.severity < b.severity; });
    return std::move(out_);
  }

 private:
  void add(Severity s, std::string code, std::string msg, std::vector<Location> where) {
    out_.push_back({s, std::move(code), std::move(msg), std::move(where)});
  }

  std::optional<Party> party(const IpAddr& ip) const {
    std::string why;
    return resolve_party(m_, ip.to_string(), why);
  }

  void shadowed_rules() {
    std::vector<const RuleSet*> sets{&fw_.cluster};
    for (auto& s : fw_.guests) sets.push_back(&s);
    for (auto* set : sets) {
      const auto& rules = set->rules;
      for (size_t j = 0; j < rules.size(); ++j)
        for (size_t i = 0; i < j; ++i) {
          // A disabled rule never decides anything, and never hides another.
          if (!rules[i].enabled || !rules[j].enabled || !rules[i].covers(rules[j])) continue;
          bool same = rules[i].same_match(rules[j]);
          if (same && rules[i].action == rules[j].action) break;  // a duplicate, reported as such
          bool conflict = rules[i].action != rules[j].action;
          add(conflict ? Severity::error : Severity::warning, "shadowed-rule",
              set->describe() + ": rule " + std::to_string(rules[j].index) + " (" + rules[j].to_proxmox() +
                  ") never decides: rule " + std::to_string(rules[i].index) + " (" + rules[i].to_proxmox() +
                  ") matches all its traffic first" + (conflict ? ", with the opposite action" : ""),
              {rules[i].where, rules[j].where});
          break;
        }
    }
  }



  void nameservers() {
    std::string host = inv_.host.address.addr.to_string();
    for (auto& g : inv_.guests) {
      if (g.nameservers.empty() || g.nameservers.front() == host) continue;
      add(Severity::warning, "nameserver-bypass",
          g.describe() + " asks " + g.nameservers.front() + " first, not the host's DNS " + host +
              ": it cannot resolve " + plan_.internal_zone + " names and gets other answers than the views give",
          {at(g.where, "/network_config")});
    }
  }

  void dhcp_routes() {
    for (auto& g : inv_.guests) {
      if (g.ip) continue;
      if (g.service)
        add(Severity::error, "route-to-dhcp",
            g.describe() + " uses dhcp but declares traefik service " + g.service->name +
                ": no fixed address for DNS, Traefik or firewall rules",
            {g.service->where, at(g.where, "/network_config/ip")});
      for (auto& ref : g.docker_stacks)
        for (auto& r : inv_.stack_routes)
          if (r.stack == ref.name && g.runs(r.stack, r.environment))
            add(Severity::error, "route-to-dhcp",
                "route " + r.host + " of stack " + ref.name + " runs on " + g.describe() + ", which uses dhcp",
                {r.where, ref.where});
    }
  }

  bool is_proxy(const IpAddr& ip) const {
    return (plan_.gateway.ip && ip == *plan_.gateway.ip) || (m_.traefik().ip && ip == *m_.traefik().ip);
  }

  bool declared_tcp(const horizon::PublishedService& s) const {
    const Guest* g = s.backend ? m_.guest_by_ip(*s.backend) : nullptr;
    return g && g->service && g->service->protocol == "tcp";
  }

  void tcp_services() {
    for (auto& s : plan_.services) {
      // traefik_service asks for a proxy route; raw TCP cannot have one, so the request does nothing.
      // An explicit "protocol": "tcp" says the admin knows: then it only names the service.
      if (s.tcp && !s.from_stack && s.scheme.empty() && !declared_tcp(s))
        add(Severity::warning, "traefik-service-on-tcp",
            "traefik_service " + s.name + " of " + s.owner + " is raw TCP (port " + std::to_string(s.port) +
                "): Traefik's HTTP routers cannot carry it, so it is neither routed nor published; clients reach it "
                "directly at " + s.internal_fqdn + " (say \"protocol\": \"tcp\" to make that explicit)",
            {s.where});
      if (!s.tcp || !s.backend) continue;
      const Guest* g = m_.guest_by_ip(*s.backend);
      // DNS sending the TCP client to the HTTP gateway, which cannot carry raw TCP.
      for (auto& v : plan_.views)
        for (auto& z : v.zones)
          for (auto& r : z.records)
            if (r.owner == s.internal_fqdn && plan_.gateway.ip && r.value == plan_.gateway.ip->to_string())
              add(Severity::error, "tcp-behind-gateway",
                  "raw-TCP service " + s.name + " of " + s.owner + ": view " + v.name + " resolves " + r.owner +
                      " to the HTTP gateway " + r.value + " (" + r.source + "), which cannot carry it",
                  {s.where});
      for (auto& route : m_.routes())
        if (std::find(route.hosts.begin(), route.hosts.end(), s.internal_fqdn) != route.hosts.end())
          add(Severity::error, "tcp-behind-gateway",
              "raw-TCP service " + s.name + " of " + s.owner + " has an HTTP proxy route " + route.id + " (" +
                  route.service->owner + ")",
              {s.where, route.service->where});
      if (!g) continue;
      const RuleSet* set = fw_.guest_rules(g);
      if (!set || !set->enabled || !fw_.cluster.enabled) continue;
      bool direct = false, proxied = false;
      for (auto& r : set->rules) {
        if (r.direction != Direction::in || r.action != Action::accept || !r.enabled) continue;
        auto ms = r.matches();
        bool port_match = std::any_of(ms.begin(), ms.end(), [&](const MatchSpec& m) {
          return (m.proto.empty() || m.proto == "tcp") &&
                 (m.dports.empty() ||
                  std::any_of(m.dports.begin(), m.dports.end(), [&](auto& p) { return p.lo <= s.port && s.port <= p.hi; }));
        });
        if (!port_match) continue;
        if (r.source.empty()) direct = true;
        for (auto& src : r.source) {
          bool host_prefix = src.length == 32 && is_proxy(src.addr);
          (host_prefix ? proxied : direct) = true;
        }
      }
      if (proxied && !direct)
        add(Severity::error, "tcp-behind-gateway",
            "raw-TCP service " + s.name + " on " + g->describe() + " port " + std::to_string(s.port) +
                " accepts connections only from the HTTP proxies, so it is reachable only through them",
            {s.where, set->where});
    }
  }

  /// Reports `code` when the firewall drops a new connection from -> to:port/proto; true when it passes.
  bool flow(const IpAddr& from, const IpAddr& to, uint16_t port, const std::string& what, const Location& why,
            const std::string& code = "route-dropped", Severity sev = Severity::error, const std::string& proto = "tcp") {
    auto src = party(from), dst = party(to);
    if (!src || !dst) return true;
    auto r = reach(m_, fw_, *src, *dst, proto, port);
    if (r.allowed) return true;
    const auto& step = r.steps.back();
    std::vector<Location> where{why};
    if (step.where) where.push_back(*step.where);
    add(sev, code,
        what + ": " + src->describe() + " -> " + dst->describe() + ":" + std::to_string(port) + "/" + proto +
            " is dropped at " + step.level + " (" + step.reason + ")",
        where);
    return false;
  }

  /// Portainer's server drives every agent on the agent port, directly over raw TCP, whether or not
  /// the agent declares a traefik_service (seed 000).
  void portainer_agents() {
    uint16_t port = inv_.host.portainer_agent_port;
    for (auto& server : inv_.guests) {
      if (server.portainer_role != "primary" || !server.ip) continue;
      for (auto& agent : inv_.guests)
        if (agent.portainer_role == "agent" && agent.ip)
          flow(server.ip->addr, agent.ip->addr, port, "Portainer server -> agent " + agent.describe(),
               {agent.where.file, agent.where.pointer + "/portainer_role"});
    }
  }

  /// What the guests need from the hosts they name: our DNS server on 53 (UDP and TCP, RFC 7766) when
  /// the host is their nameserver, and the NFS server on 2049 and the portmapper on 111 for NFS volumes.
  void host_services() {
    std::string host = inv_.host.address.addr.to_string();
    for (auto& g : inv_.guests) {
      if (!g.ip) continue;
      if (std::find(g.nameservers.begin(), g.nameservers.end(), host) != g.nameservers.end())
        for (const char* proto : {"udp", "tcp"})
          flow(g.ip->addr, inv_.host.address.addr, 53, g.describe() + " uses the host as its nameserver",
               {g.where.file, g.where.pointer + "/network_config"}, "dns-unreachable", Severity::error, proto);
      std::set<std::string> seen;
      for (auto& nfs : g.nfs_mounts) {
        if (!seen.insert(nfs.server.to_string()).second) continue;
        for (auto [port, proto] : {std::pair{uint16_t{2049}, "tcp"}, std::pair{uint16_t{111}, "tcp"},
                                   std::pair{uint16_t{111}, "udp"}})
          flow(g.ip->addr, nfs.server, port, g.describe() + " mounts an NFS volume from " + nfs.server.to_string(),
               nfs.where, "nfs-unreachable", Severity::error, proto);
      }
    }
  }

  /// The host's own resolvers should be this server (or its upstreams): a guest there makes the host
  /// depend on a guest being up, and anything else answers without our zones.
  void host_resolvers() {
    std::set<std::string> ours = {inv_.host.address.addr.to_string(), "127.0.0.1", "::1"};
    for (auto& l : plan_.listen) ours.insert(l.addr.to_string());
    std::set<std::string> upstream;
    for (auto& u : plan_.upstreams) upstream.insert(u.addr.to_string());
    for (size_t i = 0; i < inv_.host.dns_nameservers.size(); ++i) {
      const std::string& ns = inv_.host.dns_nameservers[i];
      if (ours.count(ns) || upstream.count(ns)) continue;
      Location at_ns{inv_.host.dns_nameservers_where.file, inv_.host.dns_nameservers_where.pointer + "/" + std::to_string(i)};
      auto ip = IpAddr::parse(ns);
      const Guest* g = ip ? m_.guest_by_ip(*ip) : nullptr;
      if (g)
        add(Severity::error, "host-resolver",
            "the host resolves through " + g->describe() + " " + ns + ", a guest, not through this DNS server (" +
                inv_.host.address.addr.to_string() + ")",
            {at_ns, g->where});
      else
        add(Severity::warning, "host-resolver",
            "the host resolves through " + ns + ", which is neither this DNS server (" +
                inv_.host.address.addr.to_string() + ") nor one of its upstreams: it gets other answers than the guests",
            {at_ns});
    }
  }

  /// One client address standing in for a selector: TEST-NET-3 when inside it, loopback as the host,
  /// else the first address of the selector that no guest and not the host uses.
  std::optional<IpAddr> stand_in(const IpPrefix& sel) const {
    if (!sel.addr.is_v4()) return std::nullopt;
    auto test_net = *IpAddr::parse("203.0.113.1");
    if (sel.contains(test_net)) return test_net;
    IpAddr a = sel.network().addr;
    if (IpPrefix::parse("127.0.0.0/8")->contains(a)) return inv_.host.address.addr;
    if (sel.length == 32) return a;
    for (uint32_t k = 1; k < 256; ++k) {
      IpAddr c = IpAddr::v4(a.v4_host_order() + k);
      if (!sel.contains(c)) break;
      if (!m_.is_host(c) && !m_.guest_by_ip(c)) return c;
    }
    return std::nullopt;
  }

  /// An internal name giving a guest's own address is only useful if internal clients may connect.
  void internal_names() {
    for (auto& v : plan_.views) {
      if (v.horizon != "internal") continue;
      std::optional<IpAddr> client;
      for (auto& sel : v.match_clients)
        if (auto a = stand_in(sel); a && !m_.is_host(*a)) {
          client = a;
          break;
        }
      if (!client) continue;
      for (auto& s : plan_.services) {
        if (!s.backend || !s.port || s.from_stack) continue;
        if (plan_.gateway.ip && *s.backend == *plan_.gateway.ip) continue;  // checked as the gateway
        flow(*client, *s.backend, s.port,
             "view " + v.name + " resolves " + s.internal_fqdn + " to " + s.backend->to_string() + " directly",
             s.where, "internal-name-dropped", Severity::warning);
      }
    }
  }

  void proxy_paths() {
    const auto& gw = plan_.gateway.ip;
    const auto& tr = m_.traefik().ip;
    bool any_route = !m_.routes().empty();
    if (gw && tr && any_route) {
      Location loc = m_.traefik().guest ? m_.traefik().guest->where : Location{horizon::kHypervisorFile, "/dns_server"};
      flow(*gw, *tr, kTraefikPort, "Nginx -> Traefik for every proxied name", loc);
    }
    if (gw && any_route) gateway_clients(*gw);
    if (tr)
      for (auto& r : m_.routes())
        if (r.backend && r.port) flow(*tr, *r.backend, r.port, "Traefik -> backend of route " + r.id, r.service->where);
    // Other raw-TCP services of Portainer agents are driven by the server too.
    for (auto& server : inv_.guests) {
      if (server.portainer_role != "primary" || !server.ip) continue;
      for (auto& s : plan_.services) {
        if (!s.tcp || !s.backend || !s.port || s.port == inv_.host.portainer_agent_port) continue;
        const Guest* agent = m_.guest_by_ip(*s.backend);
        if (agent && agent->portainer_role == "agent")
          flow(server.ip->addr, *s.backend, s.port, "Portainer server -> agent " + s.name, s.where);
      }
    }
  }

  /// Can the clients of a view that answers names with the gateway reach it? Each selector stands in by
  /// one address (stand_in).
  void gateway_clients(const IpAddr& gw) {
    auto dst = party(gw);
    if (!dst) return;
    for (auto& v : plan_.views) {
      bool answers = false;
      for (auto& z : v.zones)
        for (auto& r : z.records) answers |= r.kind != horizon::RecordKind::ptr && r.value == gw.to_string();
      if (!answers) continue;
      std::vector<std::string> tried;
      bool reached = false;
      std::optional<ReachStep> last;
      for (auto& sel : v.match_clients) {
        auto a = stand_in(sel);
        if (!a) continue;
        auto src = party(*a);
        if (!src) continue;
        tried.push_back(a->to_string());
        for (uint16_t port : {uint16_t{80}, uint16_t{443}}) {
          auto r = reach(m_, fw_, *src, *dst, "tcp", port);
          reached |= r.allowed;
          if (!r.allowed) last = r.steps.back();
        }
        if (reached) break;
      }
      if (reached || tried.empty()) continue;
      std::vector<Location> where{v.where.file.empty() ? Location{horizon::kHypervisorFile, "/dns_server"} : v.where};
      if (last && last->where) where.push_back(*last->where);
      // The view hands these clients the gateway's address and nothing else: they cannot get in.
      add(Severity::error, "gateway-unreachable",
          "view " + v.name + " sends clients to the gateway " + gw.to_string() + ", but " + join(tried, ", ") +
              " cannot reach it on 80/tcp or 443/tcp (" + (last ? last->level + " " + last->reason : "") + ")",
          where);
    }
  }


  void public_names() {
    std::set<std::string> routed;
    for (auto& r : m_.routes()) routed.insert(r.hosts.begin(), r.hosts.end());
    // The gateway's own names point at it without being routed anywhere.
    std::set<std::string> own;
    if (plan_.gateway.ip)
      for (auto& g : inv_.guests)
        if (g.ip && g.ip->addr == *plan_.gateway.ip) {
          for (auto& zone : {plan_.internal_zone, plan_.external_zone}) {
            own.insert(horizon::sanitize_label(g.name) + "." + zone);
            if (g.service) own.insert(horizon::sanitize_label(g.service->name) + "." + zone);
          }
        }
    std::set<std::string> at_gateway, reported;
    if (plan_.gateway.ip) {
      std::string gw = plan_.gateway.ip->to_string();
      for (auto& v : plan_.views)
        for (auto& z : v.zones)
          for (auto& r : z.records) {
            if (r.kind == horizon::RecordKind::ptr || r.value != gw) continue;
            at_gateway.insert(r.owner);
            if (routed.count(r.owner) || own.count(r.owner) || !reported.insert(r.owner).second) continue;
            add(Severity::error, "public-name-without-route",
                r.owner + " points at the gateway " + gw + " (" + r.source + ") but no proxy route serves it",
                {});
          }
    }
    for (auto& r : m_.routes()) {
      if (r.url.empty())
        add(Severity::warning, "route-without-backend",
            "route " + r.id + " (" + r.service->owner + ") has no backend: no guest lists the stack in docker_stacks",
            {r.service->where});
      bool named = std::any_of(r.hosts.begin(), r.hosts.end(), [&](auto& h) { return at_gateway.count(h) > 0; });
      if (!named)
        add(Severity::warning, "route-without-public-name",
            "route " + r.id + " (" + join(r.hosts, ", ") + ") is never reached: none of its names resolves to the gateway",
            {r.service->where});
    }
  }

  void duplicate_routes() {
    std::map<std::string, std::vector<const Route*>> by_host;
    for (auto& r : m_.routes())
      for (auto& h : r.hosts) by_host[h].push_back(&r);
    std::set<std::pair<const Route*, const Route*>> seen;
    for (auto& [host, list] : by_host)
      for (size_t i = 1; i < list.size(); ++i) {
        if (!seen.insert({list[0], list[i]}).second) continue;
        bool differ = !routes_agree(*list[0], *list[i]);
        bool settings = differ && list[0]->url == list[i]->url;
        add(differ ? Severity::error : Severity::warning, "duplicate-route",
            host + " is routed twice: " + list[0]->id + " -> " + list[0]->url + " (" + list[0]->service->owner + ") and " +
                list[i]->id + " -> " + list[i]->url + " (" + list[i]->service->owner + ")" +
                (settings ? " with different router settings (entry points, middlewares, TLS)" : "") +
                (differ ? "; Traefik picks one of them by rule length, not by intent" : ""),
            {list[0]->service->where, list[i]->service->where});
      }
  }


  const Model& m_;
  const FirewallModel& fw_;
  const horizon::Inventory& inv_;
  const horizon::HorizonPlan& plan_;
  std::vector<Finding> out_;
};

}  // namespace

std::vector<Finding> check_inventory(const Model& m, const FirewallModel& fw) { return Checker(m, fw).run(); }

}  // namespace phoenix::netgen
