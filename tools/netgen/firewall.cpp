#include "firewall.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

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

// Proxmox's macros (pve-firewall's $pve_fw_macros, imported from Shorewall), the ones a Phoenix
// estate plausibly uses. Each entry matches on its own; "Ping" is ICMP echo-request, which reach's
// "icmp" flows are.
struct MacroDef {
  const char* name;
  std::vector<MatchSpec> entries;
};
const std::vector<MacroDef>& macros() {
  auto tcp = [](uint16_t lo, uint16_t hi = 0) { return MatchSpec{"tcp", {{lo, hi ? hi : lo}}, {}}; };
  auto udp = [](uint16_t lo, uint16_t hi = 0) { return MatchSpec{"udp", {{lo, hi ? hi : lo}}, {}}; };
  static const std::vector<MacroDef> list = {
      {"Auth", {tcp(113)}},
      {"BGP", {tcp(179)}},
      {"DHCPfwd", {MatchSpec{"udp", {{67, 68}}, {{67, 68}}}}},
      {"DNS", {udp(53), tcp(53)}},
      {"FTP", {tcp(21)}},
      {"Git", {tcp(9418)}},
      {"HTTP", {tcp(80)}},
      {"HTTPS", {tcp(443)}},
      {"IMAP", {tcp(143)}},
      {"IMAPS", {tcp(993)}},
      {"LDAP", {tcp(389)}},
      {"LDAPS", {tcp(636)}},
      {"Mail", {tcp(25), tcp(465), tcp(587)}},
      {"MySQL", {tcp(3306)}},
      {"NTP", {udp(123)}},
      {"OpenVPN", {udp(1194)}},
      {"Ping", {MatchSpec{"icmp", {}, {}}}},
      {"POP3", {tcp(110)}},
      {"POP3S", {tcp(995)}},
      {"PostgreSQL", {tcp(5432)}},
      {"RDP", {tcp(3389)}},
      {"Rsync", {tcp(873)}},
      {"SMTP", {tcp(25)}},
      {"SMTPS", {tcp(465)}},
      {"SNMP", {udp(161, 162), tcp(161)}},
      {"SSH", {tcp(22)}},
      {"Squid", {tcp(3128)}},
      {"Submission", {tcp(587)}},
      {"Syslog", {udp(514), tcp(514)}},
      {"Telnet", {tcp(23)}},
      {"TFTP", {udp(69)}},
      {"VNC", {tcp(5900, 5999)}},
      {"Web", {tcp(80), tcp(443)}},
      {"Webcache", {tcp(8080)}},
  };
  return list;
}

const std::set<std::string> kLogLevels = {"nolog", "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};

/// A Linux interface name as pve-firewall accepts it for "-i".
bool valid_iface(const std::string& s) {
  if (s.size() < 2 || s.size() > 20 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool parse_ports(const std::string& text, std::vector<PortRange>& out) {
  for (auto& part : split(text, ',')) {
    auto colon = part.find(':');
    auto lo = parse_port(part.substr(0, colon));
    auto hi = colon == std::string::npos ? lo : parse_port(part.substr(colon + 1));
    if (!lo || !hi || *lo > *hi) return false;
    out.push_back({*lo, *hi});
  }
  return true;
}

class RuleReader {
 public:
  RuleReader(std::vector<Finding>& problems, bool guest) : problems_(problems), guest_(guest) {}

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
    // A key netgen does not know could narrow the rule; writing the rule without it would widen it.
    for (auto& key : fr.unknown_keys)
      bad(key, "unknown rule key \"" + key + "\" (netgen would drop it and write a wider rule; known: type, action, "
               "source, dest, proto, port, dport, sport, iface, macro, enable, log, comment)");
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
    const char* port_key = "port";
    for (auto [text, list, key] : {std::tuple{trim(fr.port), &r.dports, port_key}, std::tuple{trim(fr.sport), &r.sports, "sport"}}) {
      if (text.empty()) continue;
      if (!fr.macro.empty() && r.proto.empty()) continue;  // checked against the macro below
      if (!has_ports(r.proto))
        bad(key, std::string(key) + " \"" + text + "\" needs protocol tcp, udp, sctp or udplite (got \"" + fr.proto + "\")");
      else if (!parse_ports(text, *list))
        bad(key, std::string(key) + " \"" + text + "\" is not a port, a range lo:hi or a list of them (1..65535)");
    }
    r.iface = trim(fr.iface);
    if (!r.iface.empty()) {
      // pve-firewall: a guest's rules name its own NICs (net0, net1, ...), cluster rules a host interface.
      bool netx = r.iface.size() > 3 && r.iface.rfind("net", 0) == 0 &&
                  std::all_of(r.iface.begin() + 3, r.iface.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (guest_ && !netx) bad("iface", "iface \"" + fr.iface + "\" is not a guest interface (net0, net1, ...)");
      else if (!valid_iface(r.iface)) bad("iface", "iface \"" + fr.iface + "\" is not an interface name");
    }
    if (!fr.macro.empty()) {
      auto* entries = find_macro(trim(fr.macro), &r.macro);
      if (!entries) {
        bad("macro", "macro \"" + fr.macro + "\" is not one netgen knows (see README: firewall macros)");
      } else {
        // As pve-firewall's apply_macro: a field the macro sets may be repeated, never changed.
        for (auto& e : *entries) {
          if (!r.proto.empty() && r.proto != e.proto)
            bad("proto", "proto \"" + fr.proto + "\" contradicts macro " + r.macro + " (" + e.proto + ")");
          if (!r.dports.empty() && r.dports != e.dports)
            bad("port", "port \"" + fr.port + "\" contradicts macro " + r.macro);
          if (!r.sports.empty() && !e.sports.empty() && r.sports != e.sports)
            bad("sport", "sport \"" + fr.sport + "\" contradicts macro " + r.macro);
          if (!ok) break;
        }
        if (r.proto.empty() && (!trim(fr.port).empty() || !trim(fr.sport).empty()))
          bad("port", "ports with macro " + r.macro + " need a protocol (or leave them to the macro)");
      }
    }
    r.enabled = fr.enable.value_or(true);
    r.log = lower(trim(fr.log));
    if (r.log.empty()) r.log = "nolog";
    if (!kLogLevels.count(r.log))
      bad("log", "log level \"" + fr.log + "\" is not nolog, emerg, alert, crit, err, warning, notice, info or debug");
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
  bool guest_;
};

void fill(RuleSet& set, const horizon::Firewall& fw, std::vector<Finding>& problems) {
  RuleReader reader(problems, set.guest != nullptr);
  set.enabled = fw.enabled;
  set.where = fw.where;
  for (auto& key : fw.unknown_keys)
    problems.push_back({Severity::error, "invalid-rule",
                        "unknown firewall key \"" + key + "\" (netgen would drop it and change what the file means)",
                        {{fw.where.file, fw.where.pointer + "/" + key}}});
  for (size_t i = 0; i < fw.rules.size(); ++i)
    if (auto r = reader.read(fw.rules[i], i)) set.rules.push_back(std::move(*r));
  for (auto& r : set.rules) {
    auto it = std::find_if(set.merged.begin(), set.merged.end(), [&](const Rule& m) {
      return m.same_match(r) && m.action == r.action && m.enabled == r.enabled && m.log == r.log;
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

const std::vector<MatchSpec>* find_macro(const std::string& name, std::string* canonical) {
  for (auto& m : macros())
    if (lower(m.name) == lower(name)) {
      if (canonical) *canonical = m.name;
      return &m.entries;
    }
  return nullptr;
}

std::vector<MatchSpec> Rule::matches() const {
  if (macro.empty()) return {{proto, dports, sports}};
  std::vector<MatchSpec> out = *find_macro(macro);
  // Fields the macro leaves open take the rule's own value (a source port on a DNS rule, say).
  for (auto& e : out)
    if (e.sports.empty()) e.sports = sports;
  return out;
}

std::string Rule::to_proxmox() const {
  std::string s = enabled ? "" : "|";
  s += direction_text(direction);
  s += macro.empty() ? std::string(" ") + action_text(action) : " " + macro + "(" + action_text(action) + ")";
  if (!iface.empty()) s += " -i " + iface;
  if (!source.empty()) s += " -source " + addresses_text(source);
  if (!dest.empty()) s += " -dest " + addresses_text(dest);
  if (!proto.empty()) s += " -p " + proto;
  if (!dports.empty()) s += " -dport " + ports_text(dports);
  if (!sports.empty()) s += " -sport " + ports_text(sports);
  s += " -log " + log;
  if (!comment.empty()) s += " # " + comment;
  return s;
}

bool Rule::same_match(const Rule& o) const {
  return direction == o.direction && covers(o) && o.covers(*this);
}

bool Rule::covers(const Rule& o) const {
  if (direction != o.direction || enabled != o.enabled) return false;
  if (!iface.empty() && iface != o.iface) return false;
  if (!list_covers(source, o.source) || !list_covers(dest, o.dest)) return false;
  auto mine = matches();
  for (auto& theirs : o.matches()) {
    bool covered = std::any_of(mine.begin(), mine.end(), [&](const MatchSpec& m) {
      return (m.proto.empty() || m.proto == theirs.proto) && ports_cover(m.dports, theirs.dports) &&
             ports_cover(m.sports, theirs.sports);
    });
    if (!covered) return false;
  }
  return true;
}

bool rule_matches(const Rule& r, const Flow& f, const std::string& iface) {
  if (!r.enabled) return false;
  if (!r.iface.empty() && r.iface != iface) return false;
  auto in_list = [](const std::vector<IpPrefix>& l, const horizon::IpAddr& a) {
    return l.empty() || std::any_of(l.begin(), l.end(), [&](const IpPrefix& p) { return p.contains(a); });
  };
  if (!in_list(r.source, f.src) || !in_list(r.dest, f.dst)) return false;
  static const std::vector<PortRange> ephemeral{{1024, 65535}};
  for (auto& m : r.matches()) {
    if (!m.proto.empty() && m.proto != f.proto) continue;
    if (!m.sports.empty() && !ports_cover(m.sports, ephemeral)) continue;
    if (m.dports.empty() ||
        std::any_of(m.dports.begin(), m.dports.end(), [&](const PortRange& p) { return p.lo <= f.port && f.port <= p.hi; }))
      return true;
  }
  return false;
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
  fw.cluster.iface = inv.host.interface_name;
  fill(fw.cluster, inv.host.firewall, fw.problems);
  for (auto& g : inv.guests) {
    if (!g.firewall.present) continue;
    RuleSet set;
    set.guest = &g;
    // The inventory describes one NIC per guest, which Proxmox names net0.
    set.iface = "net0";
    set.policy_in = policy(g.firewall.policy_in, "DROP");
    set.policy_out = policy(g.firewall.policy_out, "ACCEPT");
    for (auto [p, name] : {std::pair{&set.policy_in, "policy_in"}, std::pair{&set.policy_out, "policy_out"}})
      if (*p != "ACCEPT" && *p != "DROP" && *p != "REJECT")
        fw.problems.push_back({Severity::error, "invalid-rule", "policy \"" + *p + "\" is not ACCEPT, DROP or REJECT",
                               {{g.firewall.where.file, g.firewall.where.pointer + "/" + name}}});
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
