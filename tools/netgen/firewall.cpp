#include "firewall.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "text.hpp"

namespace phoenix::netgen {
namespace {

using horizon::IpPrefix;

std::optional<uint16_t> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  long v = std::stol(s);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// Proxmox accepts these protocol names (and numbers); only some of them carry ports.
const std::set<std::string> kProtocols = {"tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "esp", "ah",
                                          "gre", "sctp", "udplite", "igmp", "ipip", "ipv6", "ospf", "vrrp"};
bool has_ports(const std::string& proto) {
  return proto == "tcp" || proto == "udp" || proto == "sctp" || proto == "udplite";
}

bool prefix_covers(const IpPrefix& a, const IpPrefix& b) {
  return a.addr.family == b.addr.family && a.length <= b.length && a.contains(b.addr);
}

/// An empty list means any address.
bool list_covers(const std::vector<IpPrefix>& a, const std::vector<IpPrefix>& b) {
  if (a.empty()) return true;
  if (b.empty()) return false;
  return std::all_of(b.begin(), b.end(), [&](const IpPrefix& pb) {
    return std::any_of(a.begin(), a.end(), [&](const IpPrefix& pa) { return prefix_covers(pa, pb); });
  });
}

bool ports_cover(const std::vector<PortRange>& a, const std::vector<PortRange>& b) {
  if (a.empty()) return true;
  if (b.empty()) return false;
  // Small lists: check each port range of b is inside the union of a's ranges.
  for (auto& rb : b) {
    uint32_t p = rb.lo;
    while (p <= rb.hi) {
      auto it = std::find_if(a.begin(), a.end(), [&](const PortRange& ra) { return ra.lo <= p && p <= ra.hi; });
      if (it == a.end()) return false;
      p = uint32_t{it->hi} + 1;
    }
  }
  return true;
}

std::string addresses_text(const std::vector<IpPrefix>& list) {
  std::vector<std::string> parts;
  for (auto& p : list) {
    bool host = p.length == (p.addr.is_v4() ? 32 : 128);
    parts.push_back(host ? p.addr.to_string() : p.network().to_string());
  }
  return join(parts, ",");
}

std::string ports_text(const std::vector<PortRange>& ports) {
  std::vector<std::string> parts;
  for (auto& r : ports) parts.push_back(r.lo == r.hi ? std::to_string(r.lo) : std::to_string(r.lo) + ":" + std::to_string(r.hi));
  return join(parts, ",");
}

/// Proxmox ends a rule at '#'; a newline would end the file's line.
std::string clean_comment(const std::string& c) {
  std::string out;
  for (char ch : c) out += (ch == '\n' || ch == '\r') ? ' ' : ch;
  return trim(out);
}

class RuleReader {
 public:
  explicit RuleReader(std::vector<Finding>& problems) : problems_(problems) {}

  std::optional<Rule> read(const horizon::FirewallRule& fr, size_t index) {
    Rule r;
    r.where = fr.where;
    r.index = index;
    r.comment = clean_comment(fr.comment);
    bool ok = true;
    auto bad = [&](const std::string& field, const std::string& why) {
      problems_.push_back({Severity::error, "invalid-rule", why, {{fr.where.file, fr.where.pointer + "/" + field}}});
      ok = false;
    };
    std::string dir = lower(trim(fr.direction));
    if (dir == "in") r.direction = Direction::in;
    else if (dir == "out") r.direction = Direction::out;
    else bad("type", "direction \"" + fr.direction + "\" is not in or out");
    std::string act = lower(trim(fr.action));
    if (act == "accept") r.action = Action::accept;
    else if (act == "drop") r.action = Action::drop;
    else if (act == "reject") r.action = Action::reject;
    else bad("action", "action \"" + fr.action + "\" is not ACCEPT, DROP or REJECT");
    r.proto = lower(trim(fr.proto));
    if (!r.proto.empty() && !kProtocols.count(r.proto)) {
      bool number = std::all_of(r.proto.begin(), r.proto.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                    r.proto.size() <= 3 && std::stoi(r.proto) <= 255;
      if (!number) bad("proto", "protocol \"" + fr.proto + "\" is not known to Proxmox");
    }
    if (!read_addresses(fr.source, r.source)) bad("source", "source \"" + fr.source + "\" is not an address, CIDR or list of them");
    if (!read_addresses(fr.dest, r.dest)) bad("dest", "dest \"" + fr.dest + "\" is not an address, CIDR or list of them");
    std::string port = trim(fr.port);
    if (!port.empty()) {
      if (!has_ports(r.proto))
        bad("port", "port \"" + fr.port + "\" needs protocol tcp, udp, sctp or udplite (got \"" + fr.proto + "\")");
      for (auto& part : split(port, ',')) {
        auto colon = part.find(':');
        auto lo = parse_port(part.substr(0, colon));
        auto hi = colon == std::string::npos ? lo : parse_port(part.substr(colon + 1));
        if (!lo || !hi || *lo > *hi) {
          bad("port", "port \"" + fr.port + "\" is not a port, a range lo:hi or a list of them (1..65535)");
          break;
        }
        r.dports.push_back({*lo, *hi});
      }
    }
    if (!ok) return std::nullopt;
    return r;
  }

 private:
  static bool read_addresses(const std::string& text, std::vector<IpPrefix>& out) {
    std::string t = trim(text);
    if (t.empty()) return true;
    for (auto& part : split(t, ',')) {
      auto p = IpPrefix::parse(part);
      if (!p) return false;
      out.push_back(*p);
    }
    return true;
  }
  std::vector<Finding>& problems_;
};

void fill(RuleSet& set, const horizon::Firewall& fw, std::vector<Finding>& problems) {
  RuleReader reader(problems);
  set.enabled = fw.enabled;
  set.where = fw.where;
  for (size_t i = 0; i < fw.rules.size(); ++i)
    if (auto r = reader.read(fw.rules[i], i + 1)) set.rules.push_back(std::move(*r));
  for (auto& r : set.rules) {
    auto it = std::find_if(set.merged.begin(), set.merged.end(), [&](const Rule& m) {
      return m.same_match(r) && m.action == r.action;
    });
    if (it == set.merged.end()) {
      set.merged.push_back(r);
      continue;
    }
    problems.push_back({Severity::warning, "duplicate-rule",
                        set.describe() + ": rule " + std::to_string(r.index) + " repeats rule " +
                            std::to_string(it->index) + " (" + r.to_proxmox() + "); merged",
                        {it->where, r.where}});
  }
}

std::string policy(const std::string& p, const char* fallback) {
  std::string u;
  for (char c : p) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u.empty() ? fallback : u;
}

std::string rules_section(const RuleSet& set) {
  std::string s = "[RULES]\n\n";
  for (auto& r : set.merged) s += r.to_proxmox() + "\n";
  return s;
}

}  // namespace

const char* action_text(Action a) {
  switch (a) {
    case Action::accept: return "ACCEPT";
    case Action::drop: return "DROP";
    case Action::reject: return "REJECT";
  }
  return "?";
}

const char* direction_text(Direction d) { return d == Direction::in ? "IN" : "OUT"; }

std::string Rule::to_proxmox() const {
  std::string s = std::string(direction_text(direction)) + " " + action_text(action);
  if (!source.empty()) s += " -source " + addresses_text(source);
  if (!dest.empty()) s += " -dest " + addresses_text(dest);
  if (!proto.empty()) s += " -p " + proto;
  if (!dports.empty()) s += " -dport " + ports_text(dports);
  s += " -log nolog";
  if (!comment.empty()) s += " # " + comment;
  return s;
}

bool Rule::same_match(const Rule& o) const {
  return direction == o.direction && covers(o) && o.covers(*this);
}

bool Rule::covers(const Rule& o) const {
  if (direction != o.direction) return false;
  if (!proto.empty() && proto != o.proto) return false;
  return list_covers(source, o.source) && list_covers(dest, o.dest) && ports_cover(dports, o.dports);
}

bool rule_matches(const Rule& r, const Flow& f) {
  if (!r.proto.empty() && r.proto != f.proto) return false;
  auto in_list = [](const std::vector<IpPrefix>& l, const horizon::IpAddr& a) {
    return l.empty() || std::any_of(l.begin(), l.end(), [&](const IpPrefix& p) { return p.contains(a); });
  };
  if (!in_list(r.source, f.src) || !in_list(r.dest, f.dst)) return false;
  if (r.dports.empty()) return true;
  return std::any_of(r.dports.begin(), r.dports.end(), [&](const PortRange& p) { return p.lo <= f.port && f.port <= p.hi; });
}

std::string RuleSet::file_name() const { return guest ? std::to_string(guest->id) + ".fw" : "cluster.fw"; }

std::string RuleSet::describe() const { return guest ? guest->describe() : "cluster.fw (hosts)"; }

const RuleSet* FirewallModel::guest_rules(const horizon::Guest* g) const {
  for (auto& s : guests)
    if (s.guest == g) return &s;
  return nullptr;
}

FirewallModel build_firewall(const horizon::Inventory& inv) {
  FirewallModel fw;
  fw.cluster.policy_in = policy(inv.host.firewall.policy_in, "DROP");
  fw.cluster.policy_out = policy(inv.host.firewall.policy_out, "ACCEPT");
  for (auto [p, name] : {std::pair{&fw.cluster.policy_in, "default_input_policy"},
                         std::pair{&fw.cluster.policy_out, "default_output_policy"}})
    if (*p != "ACCEPT" && *p != "DROP" && *p != "REJECT")
      fw.problems.push_back({Severity::error, "invalid-rule", "policy \"" + *p + "\" is not ACCEPT, DROP or REJECT",
                             {{inv.host.firewall.where.file, inv.host.firewall.where.pointer + "/" + name}}});
  fill(fw.cluster, inv.host.firewall, fw.problems);
  for (auto& g : inv.guests) {
    if (!g.firewall.present) continue;
    RuleSet set;
    set.guest = &g;
    fill(set, g.firewall, fw.problems);
    fw.guests.push_back(std::move(set));
  }
  return fw;
}

std::vector<OutputFile> firewall_files(const FirewallModel& fw) {
  std::vector<OutputFile> files;
  std::string c = "# Generated by phoenix-netgen from the Phoenix inventory; edit the inventory, not this file.\n";
  c += "# Datacenter options; [RULES] here filter the Proxmox hosts, never the guests.\n\n";
  c += "[OPTIONS]\n\n";
  c += std::string("enable: ") + (fw.cluster.enabled ? "1" : "0") + "\n";
  c += "policy_in: " + fw.cluster.policy_in + "\npolicy_out: " + fw.cluster.policy_out + "\n\n";
  c += rules_section(fw.cluster);
  files.push_back({"cluster.fw", c});
  std::vector<const RuleSet*> sets;
  for (auto& s : fw.guests)
    if (!s.merged.empty()) sets.push_back(&s);
  // Sorted by VMID so that the listing order does not depend on the JSON's key order.
  std::stable_sort(sets.begin(), sets.end(), [](auto* a, auto* b) { return a->guest->id < b->guest->id; });
  for (auto* s : sets) {
    std::string g = "# Generated by phoenix-netgen for " + s->guest->describe() + " from " + s->where.to_string() + ".\n\n";
    g += "[OPTIONS]\n\n";
    g += std::string("enable: ") + (s->enabled ? "1" : "0") + "\n";
    g += "policy_in: " + s->policy_in + "\npolicy_out: " + s->policy_out + "\n\n";
    g += rules_section(*s);
    files.push_back({s->file_name(), g});
  }
  return files;
}

}  // namespace phoenix::netgen
