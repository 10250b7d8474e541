#include "deployed_fw.hpp"

#include <algorithm>

#include "text.hpp"

namespace phoenix::netgen::deployed {
namespace {

using horizon::IpPrefix;

struct MacroEntry {
  std::string proto, dport, sport, icmp_type;
};
struct Macro {
  std::string name;
  std::vector<MacroEntry> entries;
};

// Proxmox's macros (pve-firewall's PVE::Firewall macro table, from Shorewall's macro.* files):
// "Name entry...", an entry "proto[:dports][;sport=ports][;type=icmp-type]" (Proxmox writes an ICMP
// macro's type in its dport).
constexpr const char* kMacros = R"(
Amanda udp:10080 tcp:10080
Auth tcp:113
BGP tcp:179
BitTorrent tcp:6881:6889 udp:6881
BitTorrent32 tcp:6881:6999 udp:6881
CVS tcp:2401
Ceph tcp:6789 tcp:3300 tcp:6800:7300
Citrix tcp:1494 udp:1604 tcp:2598
DAAP tcp:3689 udp:3689
DCC tcp:6277
DHCPfwd udp:67:68;sport=67:68
DHCPv6 udp:546:547
DNS udp:53 tcp:53
Distcc tcp:3632
FTP tcp:21
Finger tcp:79
GNUnet tcp:2086 udp:2086 tcp:1080 udp:1080
GRE 47
Git tcp:9418
HKP tcp:11371
HTTP tcp:80
HTTPS tcp:443
ICPV2 udp:3130
ICQ tcp:5190
IMAP tcp:143
IMAPS tcp:993
IPIP 94
IPsec udp:500;sport=500 50
IPsecah udp:500;sport=500 51
IPsecnat udp:500 udp:4500 50
IRC tcp:6667
Jetdirect tcp:9100
L2TP udp:1701
LDAP tcp:389
LDAPS tcp:636
MDNS udp:5353
MSNP tcp:1863
MSSQL tcp:1433
Mail tcp:25 tcp:465 tcp:587
Munin tcp:4949
MySQL tcp:3306
NNTP tcp:119
NNTPS tcp:563
NTP udp:123
NeighborDiscovery icmpv6
OSPF 89
OpenVPN udp:1194
PCA udp:5632 tcp:5631
PMG tcp:8006
POP3 tcp:110
POP3S tcp:995
PPtP 47 tcp:1723
Ping icmp;type=echo-request
PostgreSQL tcp:5432
Printer tcp:515
RDP tcp:3389
RIP udp:520
RNDC tcp:953
Razor tcp:2703
Rdate tcp:37
Rsync tcp:873
SANE tcp:6566
SMB udp:135,445 udp:137:139 udp:1024:65535;sport=137 tcp:135,139,445
SMBswat tcp:901
SMTP tcp:25
SMTPS tcp:465
SNMP udp:161:162 tcp:161
SPAMD tcp:783
SPICEproxy tcp:3128
SSH tcp:22
SVN tcp:3690
SixXS tcp:3874 udp:3740 41 udp:5072,8374
Squid tcp:3128
Submission tcp:587
Syslog udp:514 tcp:514
TFTP udp:69
Telnet tcp:23
Telnets tcp:992
Time tcp:37
Trcrt udp:33434:33524 icmp;type=echo-request
VNC tcp:5900:5999
VNCL tcp:5500
Web tcp:80 tcp:443
Webcache tcp:8080
Webmin tcp:10000
Whois tcp:43)";

const std::vector<Macro>& macros() {
  static const std::vector<Macro> table = [] {
    std::vector<Macro> out;
    for (auto line : lines_of(kMacros)) {
      auto words = split(trim(line), ' ');
      if (words.size() < 2) continue;
      Macro m{words[0], {}};
      for (size_t i = 1; i < words.size(); ++i) {
        auto fields = split(words[i], ';');
        auto colon = fields[0].find(':');
        MacroEntry e{fields[0].substr(0, colon), colon == std::string::npos ? "" : fields[0].substr(colon + 1), "", ""};
        for (size_t k = 1; k < fields.size(); ++k) {
          if (fields[k].rfind("sport=", 0) == 0) e.sport = fields[k].substr(6);
          if (fields[k].rfind("type=", 0) == 0) e.icmp_type = fields[k].substr(5);
        }
        m.entries.push_back(std::move(e));
      }
      out.push_back(std::move(m));
    }
    return out;
  }();
  return table;
}

/// Lookup is case-insensitive, as in Proxmox.
const Macro* find_macro(const std::string& name) {
  std::string l = lower(name);
  for (auto& m : macros())
    if (lower(m.name) == l) return &m;
  return nullptr;
}

bool parse_ports(const std::string& text, std::vector<PortRange>& out) {
  for (auto& part : split(text, ',')) {
    auto colon = part.find(':');
    auto num = [](const std::string& s) -> std::optional<uint16_t> {
      if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
      long v = std::stol(s);
      if (v < 1 || v > 65535) return std::nullopt;
      return static_cast<uint16_t>(v);
    };
    auto lo = num(part.substr(0, colon));
    auto hi = colon == std::string::npos ? lo : num(part.substr(colon + 1));
    if (!lo || !hi || *lo > *hi) return false;
    out.push_back({*lo, *hi});
  }
  return true;
}

/// Where a name is looked up: "dc/x" only in cluster.fw, "guest/x" only in the rule's own file, a
/// bare name in the rule's file first (Proxmox's scoping of aliases and IP sets). Lower-cases `name`
/// and strips the scope.
std::vector<const FwFile*> name_scopes(std::string& name, const FwFile* file, const FwFile* cluster) {
  name = lower(name);
  if (name.rfind("dc/", 0) == 0) {
    name = name.substr(3);
    return {cluster};
  }
  if (name.rfind("guest/", 0) == 0) {
    name = name.substr(6);
    return {file};
  }
  return {file, cluster};
}

class Resolver {
 public:
  Resolver(const RuleContext& ctx, const FwRule& r, std::vector<FileProblem>& problems)
      : ctx_(ctx), r_(r), problems_(problems) {}

  /// An address list: addresses, CIDRs, alias names, "+ipset" (also "+dc/name", "+guest/name").
  bool addresses(const std::string& text, std::vector<IpPrefix>& out) {
    if (text.empty()) return true;
    for (auto& part : split(text, ',')) {
      if (auto p = IpPrefix::parse(part)) {
        out.push_back(*p);
      } else if (!part.empty() && part[0] == '+') {
        if (!ipset(part.substr(1), out)) return false;
      } else if (!alias(part, out)) {
        return fail("\"" + part + "\" is no address, CIDR, alias or +ipset known here");
      }
    }
    return true;
  }

  bool fail(const std::string& why) {
    problems_.push_back({ctx_.file->path, r_.line, why + "; rule left out of the deployed model"});
    return false;
  }

 private:
  std::vector<const FwFile*> scopes(std::string& name) const { return name_scopes(name, ctx_.file, ctx_.cluster); }

  bool alias(std::string name, std::vector<IpPrefix>& out) {
    for (auto* f : scopes(name)) {
      if (!f || !f->aliases.count(name)) continue;
      auto it = f->aliases.find(name);
      if (auto p = IpPrefix::parse(it->second.value)) {
        out.push_back(*p);
        return true;
      }
    }
    return false;
  }

  bool ipset(std::string name, std::vector<IpPrefix>& out) {
    for (auto* f : scopes(name)) {
      if (!f || !f->ipsets.count(name)) continue;
      auto it = f->ipsets.find(name);
      for (auto& e : it->second) {
        if (e.negated) return fail("IP set " + name + " has a negated entry (line " + std::to_string(e.line) + "), which netgen cannot model");
        if (auto p = IpPrefix::parse(e.cidr)) out.push_back(*p);
        else if (!alias(e.cidr, out)) return fail("IP set " + name + ": \"" + e.cidr + "\" is no address or alias");
      }
      return true;
    }
    return fail("IP set \"" + name + "\" is not defined");
  }

  const RuleContext& ctx_;
  const FwRule& r_;
  std::vector<FileProblem>& problems_;
};

}  // namespace

FwRule canonical_rule(const FwRule& r, const FwFile* file, const FwFile* cluster) {
  FwRule c = r;
  auto resolve = [&](std::string& list) {
    if (list.empty()) return;
    std::string out;
    for (auto& part : split(list, ',')) {
      std::string name = part, value = part;
      for (auto* f : name_scopes(name, file, cluster))
        if (f && f->aliases.count(name)) {
          value = f->aliases.at(name).value;
          break;
        }
      out += (out.empty() ? "" : ",") + value;
    }
    list = out;
  };
  resolve(c.source);
  resolve(c.dest);
  if (!c.macro.empty() && c.proto.empty() && c.dport.empty())
    if (const Macro* m = find_macro(c.macro); m && m->entries.size() == 1 && c.sport.empty() && c.icmp_type.empty()) {
      c.proto = m->entries[0].proto;
      c.dport = m->entries[0].dport;
      c.sport = m->entries[0].sport;
      c.icmp_type = m->entries[0].icmp_type;
      c.macro.clear();
    }
  return c;
}

std::string line_pointer(size_t line) { return "line " + std::to_string(line); }

std::vector<Rule> to_model_rules(const FwRule& r, const RuleContext& ctx, std::vector<FileProblem>& problems) {
  if (!r.enabled) return {};  // Proxmox never loads a '|' rule
  // A rule bound to another interface never sees the guest's inventory address.
  if (!ctx.nic.empty() && !r.iface.empty() && r.iface != ctx.nic) return {};
  Resolver res(ctx, r, problems);
  if (r.type == "GROUP") {
    const FwFile* c = ctx.cluster;
    if (!c || !c->groups.count(lower(r.action))) {
      res.fail("security group \"" + r.action + "\" is not defined in cluster.fw");
      return {};
    }
    auto it = c->groups.find(lower(r.action));
    std::vector<Rule> out;
    RuleContext gctx = ctx;
    gctx.file = c;
    for (auto& gr : it->second) {
      FwRule copy = gr;
      if (copy.iface.empty()) copy.iface = r.iface;
      auto more = to_model_rules(copy, gctx, problems);
      for (auto& m : more) m.index = ctx.index;
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
  if (r.type != "IN" && r.type != "OUT") return {};  // FORWARD rules filter routed vnet traffic only
  if (!r.sport.empty()) {
    res.fail("-sport is not modelled by reach and check");
    return {};
  }
  if (!r.icmp_type.empty()) {
    res.fail("-icmp-type is not modelled by reach and check");
    return {};
  }
  Rule base;
  base.direction = r.type == "IN" ? Direction::in : Direction::out;
  base.action = r.action == "ACCEPT" ? Action::accept : r.action == "DROP" ? Action::drop : Action::reject;
  base.comment = r.comment;
  base.where = {ctx.file->path, line_pointer(r.line)};
  base.index = ctx.index;
  if (!res.addresses(r.source, base.source) || !res.addresses(r.dest, base.dest)) return {};
  std::vector<std::pair<std::string, std::string>> entries;  // proto, dport
  if (!r.macro.empty()) {
    const Macro* m = find_macro(r.macro);
    if (!m) {
      res.fail("macro \"" + r.macro + "\" is not known to netgen");
      return {};
    }
    for (auto& e : m->entries) {
      // As for -sport on the rule itself: the model has no source ports, and an entry without its
      // source port would match more than Proxmox does.
      if (!e.sport.empty()) {
        res.fail("macro " + m->name + " has an entry with a source port (" + e.proto + " " + e.dport + " from " + e.sport +
                 "), which reach and check do not model");
        return {};
      }
      entries.emplace_back(e.proto, e.dport);
    }
  } else {
    entries.emplace_back(lower(r.proto), r.dport);
  }
  std::vector<Rule> out;
  for (auto& [proto, dport] : entries) {
    Rule rule = base;
    rule.proto = proto;
    if (!dport.empty() && !parse_ports(dport, rule.dports)) {
      res.fail("-dport \"" + dport + "\" is not numeric ports or ranges (service names are not modelled)");
      return {};
    }
    out.push_back(std::move(rule));
  }
  return out;
}

DeployedFirewall build_deployed_firewall(const Model& m, const PveTree& tree) {
  DeployedFirewall d;
  auto policy = [](const FwFile* f, const char* key, const char* fallback) {
    auto v = f ? f->option(key) : std::nullopt;
    return v ? upper(*v) : std::string(fallback);
  };
  auto fill = [&](RuleSet& set, const FwFile& f, const std::string& nic) {
    size_t index = 0;
    for (auto& r : f.rules) {
      RuleContext ctx{&f, tree.cluster ? &*tree.cluster : nullptr, nic, ++index};
      auto rules = to_model_rules(r, ctx, d.problems);
      set.rules.insert(set.rules.end(), rules.begin(), rules.end());
    }
    set.merged = set.rules;
  };
  const FwFile* c = tree.cluster ? &*tree.cluster : nullptr;
  std::string cluster_path = (tree.firewall_dir / "cluster.fw").string();
  d.fw.cluster.enabled = c && c->flag("enable", false);
  d.fw.cluster.policy_in = policy(c, "policy_in", "DROP");
  d.fw.cluster.policy_out = policy(c, "policy_out", "ACCEPT");
  d.fw.cluster.where = {cluster_path, c ? line_pointer(c->option_line("enable")) : "missing"};
  if (c) fill(d.fw.cluster, *c, "");
  for (auto& g : m.inventory().guests) {
    auto conf = tree.guests.find(g.id);
    auto fwf = tree.guest_fw.find(g.id);
    if (conf == tree.guests.end() && fwf == tree.guest_fw.end()) continue;
    RuleSet set;
    set.guest = &g;
    const FwFile* f = fwf == tree.guest_fw.end() ? nullptr : &fwf->second;
    set.policy_in = policy(f, "policy_in", "DROP");
    set.policy_out = policy(f, "policy_out", "ACCEPT");
    std::string fw_path = (tree.firewall_dir / (std::to_string(g.id) + ".fw")).string();
    set.enabled = f && f->flag("enable", false);
    set.where = {fw_path, f ? line_pointer(f->option_line("enable")) : "missing (the guest's firewall is off)"};
    std::string nic_name;
    if (conf != tree.guests.end()) {
      const Nic* nic = conf->second.nic_for(g.ip ? g.ip->addr.to_string() : "");
      if (nic) nic_name = "net" + std::to_string(nic->index);
      // Proxmox filters a guest only on NICs with firewall=1; without that, no rule of it applies.
      if (!nic || !nic->firewall.value_or(false)) {
        set.enabled = false;
        set.where = {conf->second.path, nic ? line_pointer(nic->line) + " (" + nic_name +
                                                  (nic->firewall ? " has firewall=0)" : " has no firewall=1)")
                                            : "no network device"};
      }
    }
    if (f) fill(set, *f, nic_name);
    d.fw.guests.push_back(std::move(set));
  }
  return d;
}

}  // namespace phoenix::netgen::deployed
