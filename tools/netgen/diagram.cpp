#include "diagram.hpp"

#include <set>

#include "reach.hpp"
#include "routes.hpp"

namespace phoenix::netgen {
namespace {

using horizon::IpAddr;

struct Node {
  std::string id;
  std::vector<std::string> lines;
  bool tcp = false;
};

struct Edge {
  std::string from, to, label;
  bool dropped = false;  ///< the firewall drops this hop
  bool dns = false;      ///< a name resolution, not a packet path
};

/// The graph both renderers draw, so the two pictures cannot disagree.
struct Graph {
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  void add(Node n) {
    for (auto& o : nodes)
      if (o.id == n.id) return;
    nodes.push_back(std::move(n));
  }
};

std::string node_id(const std::string& s) {
  std::string out;
  for (char c : s) out += ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
  return out;
}

std::string shorten(const std::vector<std::string>& names, size_t max) {
  std::vector<std::string> head(names.begin(), names.begin() + static_cast<long>(std::min(max, names.size())));
  std::string s = join(head, ", ");
  if (names.size() > max) s += " and " + std::to_string(names.size() - max) + " more";
  return s;
}

std::string count(size_t n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

Graph build_graph(const Model& m, const FirewallModel& fw) {
  Graph g;
  const auto& plan = m.plan();
  auto verdict = [&](const IpAddr& a, const IpAddr& b, uint16_t port) {
    std::string why;
    auto src = resolve_party(m, a.to_string(), why), dst = resolve_party(m, b.to_string(), why);
    return src && dst ? reach(m, fw, *src, *dst, "tcp", port).allowed : false;
  };
  g.add({"clients", {"clients"}, false});
  std::string gw_ip = plan.gateway.ip ? plan.gateway.ip->to_string() : "";
  for (auto& v : plan.views) {
    std::vector<std::string> sel;
    for (auto& p : v.match_clients) sel.push_back(p.to_string());
    g.add({"view_" + node_id(v.name), {"view " + v.name, shorten(sel, 4), "zones: " + join(v.zone_names, ", ")}, false});
    g.edges.push_back({"clients", "view_" + node_id(v.name), "from " + shorten(sel, 3), false, true});
    std::vector<std::string> to_gw;
    size_t direct = 0;
    for (auto& z : v.zones)
      for (auto& r : z.records) {
        if (r.kind == horizon::RecordKind::ptr) continue;
        if (r.value == gw_ip) to_gw.push_back(r.owner);
        else ++direct;
      }
    if (plan.gateway.ip && !to_gw.empty())
      g.edges.push_back({"view_" + node_id(v.name), "gateway", count(to_gw.size(), "name") + " -> " + gw_ip, false, true});
    if (direct)
      g.edges.push_back({"view_" + node_id(v.name), "clients", count(direct, "name") + " -> direct addresses", false, true});
  }
  if (plan.gateway.ip) {
    g.add({"gateway", {"Nginx gateway", m.describe(*plan.gateway.ip)}, false});
    g.edges.push_back({"clients", "gateway", "HTTP(S), " + count(gateway_names(m).size(), "name"), false, false});
  }
  const auto& tr = m.traefik().ip;
  if (tr) {
    g.add({"traefik", {"Traefik", m.describe(*tr)}, false});
    if (plan.gateway.ip) {
      bool ok = verdict(*plan.gateway.ip, *tr, kTraefikPort);
      g.edges.push_back({"gateway", "traefik", std::string(ok ? "ALLOW" : "DROP") + " :" + std::to_string(kTraefikPort) + "/tcp", !ok, false});
    }
  }
  for (auto& r : m.routes()) {
    std::string id = "route_" + node_id(r.id);
    std::vector<std::string> lines{r.id};
    lines.insert(lines.end(), r.hosts.begin(), r.hosts.end());
    lines.push_back(r.service->owner);
    lines.push_back(r.url.empty() ? "no backend" : r.url);
    g.add({id, lines, false});
    if (!tr) continue;
    if (r.backend && r.port) {
      bool ok = verdict(*tr, *r.backend, r.port);
      g.edges.push_back({"traefik", id, std::string(ok ? "ALLOW" : "DROP") + " :" + std::to_string(r.port) + "/tcp", !ok, false});
    } else {
      g.edges.push_back({"traefik", id, "no backend", true, false});
    }
  }
  // Raw TCP: reached directly; Portainer's server is the client the inventory names.
  for (auto& s : plan.services) {
    if (!s.tcp || !s.backend) continue;
    std::string id = "tcp_" + node_id(s.name);
    g.add({id, {s.name + " (raw TCP)", m.describe(*s.backend) + ":" + std::to_string(s.port)}, true});
    bool any_client = false;
    for (auto& guest : m.inventory().guests) {
      if (guest.portainer_role != "primary" || !guest.ip) continue;
      std::string cid = "guest_" + std::to_string(guest.id);
      g.add({cid, {guest.describe(), guest.ip->addr.to_string()}, false});
      bool ok = verdict(guest.ip->addr, *s.backend, s.port);
      g.edges.push_back({cid, id, std::string(ok ? "ALLOW" : "DROP") + " :" + std::to_string(s.port) + "/tcp direct", !ok, false});
      any_client = true;
    }
    if (!any_client) g.edges.push_back({"clients", id, "direct :" + std::to_string(s.port) + "/tcp", false, false});
  }
  return g;
}

std::string mermaid_text(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '"' ? '\'' : c;
  return out;
}

std::string dot_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::vector<OutputFile> diagram_files(const Model& m, const FirewallModel& fw) {
  Graph g = build_graph(m, fw);
  std::string mm = "%% Generated by phoenix-netgen: traffic paths of the Phoenix inventory.\n";
  mm += "%% Solid: packets (with the firewall's verdict); dotted: DNS answers; red: dropped.\nflowchart LR\n";
  for (auto& n : g.nodes) {
    std::string label = mermaid_text(join(n.lines, "<br/>"));
    mm += "  " + n.id + (n.tcp ? "[[\"" : "[\"") + label + (n.tcp ? "\"]]" : "\"]") + "\n";
  }
  std::vector<size_t> red;
  for (size_t i = 0; i < g.edges.size(); ++i) {
    auto& e = g.edges[i];
    std::string arrow = e.dns ? " -.->" : (e.dropped ? " --x" : " -->");
    mm += "  " + e.from + arrow + "|\"" + mermaid_text(e.label) + "\"| " + e.to + "\n";
    if (e.dropped) red.push_back(i);
  }
  for (size_t i : red) mm += "  linkStyle " + std::to_string(i) + " stroke:#c00,stroke-width:2px\n";

  std::string d = "// Generated by phoenix-netgen: traffic paths of the Phoenix inventory.\n";
  d += "// Solid: packets (with the firewall's verdict); dotted: DNS answers; red: dropped.\n";
  d += "digraph phoenix {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (auto& n : g.nodes)
  {
    std::vector<std::string> lines;
    for (auto& l : n.lines) lines.push_back(dot_text(l));
    d += "  " + n.id + " [label=\"" + join(lines, "\\n") + "\"" + (n.tcp ? ", shape=box3d" : "") + "];\n";
  }
  for (auto& e : g.edges) {
    d += "  " + e.from + " -> " + e.to + " [label=\"" + dot_text(e.label) + "\"";
    if (e.dns) d += ", style=dotted";
    if (e.dropped) d += ", color=red, fontcolor=red";
    d += "];\n";
  }
  d += "}\n";
  return {{"diagram.mmd", mm}, {"diagram.dot", d}};
}

}  // namespace phoenix::netgen
