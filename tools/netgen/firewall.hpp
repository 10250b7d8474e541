// firewall -- the inventory's firewall rules, validated, in Proxmox's model: cluster.fw holds the
// datacenter options and the rules that filter the hosts; <vmid>.fw holds a guest's own rules, which
// filter that guest's interfaces (bridged guest traffic never passes the host rules).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model.hpp"

namespace phoenix::netgen {

enum class Direction { in, out };
enum class Action { accept, drop, reject };

struct PortRange {
  uint16_t lo = 0, hi = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

/// What one rule (or one entry of its macro) matches besides addresses and interface.
struct MatchSpec {
  std::string proto;  ///< lower-case protocol name or number, "" for any
  std::vector<PortRange> dports, sports;  ///< empty = any port
};

/// One validated rule, in Proxmox's model: the type every netgen level shares (the inventory's rules
/// are read into it here; rules read back from deployed .fw files use it too). Empty address,
/// protocol or port lists mean "any".
///
/// Semantics, as pve-firewall applies them: a rule with `enabled == false` is kept in the file (with a
/// leading "|") and never matches; `iface` restricts it to one interface (a guest's net0, or a host
/// interface such as vmbr0 in cluster.fw); `macro` replaces proto/ports by the macro's entries, each
/// one matching on its own (`matches()`); `log` only adds a log line, it never changes the verdict.
struct Rule {
  Direction direction = Direction::in;
  Action action = Action::accept;
  std::string macro;  ///< Proxmox's spelling ("SSH", "HTTPS"), "" for none
  std::vector<horizon::IpPrefix> source, dest;
  std::string proto;  ///< lower-case protocol name or number, "" for any (with a macro: what was written)
  std::vector<PortRange> dports, sports;
  std::string iface;  ///< "" = every interface
  bool enabled = true;
  std::string log = "nolog";  ///< nolog, emerg, alert, crit, err, warning, notice, info, debug
  std::string comment;
  horizon::Location where;
  size_t index = 0;  ///< position in its rule list, 0-based like the JSON pointer ("rule 3" is .../rules/3)

  /// The protocol/port combinations this rule matches: the macro's entries, or the rule's own one.
  std::vector<MatchSpec> matches() const;
  /// "IN ACCEPT -source 10.0.0.12 -p tcp -dport 8000 -log nolog # comment"; "|IN SSH(ACCEPT) -i net0 ..."
  std::string to_proxmox() const;
  /// Same traffic matched (comments and actions aside).
  bool same_match(const Rule& o) const;
  /// Every packet `o` matches, this rule matches too.
  bool covers(const Rule& o) const;
};

/// A packet of a new connection, as the rules see it.
struct Flow {
  horizon::IpAddr src, dst;
  std::string proto;  ///< tcp, udp, icmp, ...
  uint16_t port = 0;  ///< destination port; 0 for protocols without ports
  /// The source port is the client's ephemeral one, unknown here: a -sport rule matches only when it
  /// allows every unprivileged port (1024:65535).
};
/// Whether `r` decides `f` at a level whose packets pass interface `iface` ("net0", "vmbr0").
bool rule_matches(const Rule& r, const Flow& f, const std::string& iface);

/// The rules of one level: the cluster (filtering the hosts) or one guest.
struct RuleSet {
  const horizon::Guest* guest = nullptr;  ///< nullptr: cluster level
  bool enabled = false;
  std::string policy_in = "DROP", policy_out = "ACCEPT";
  std::string iface;  ///< the interface this level's packets pass: "net0" for a guest, the host's bridge
  std::vector<Rule> rules;   ///< every valid rule, in inventory order
  std::vector<Rule> merged;  ///< with identical rules merged into the first: what the files contain
  horizon::Location where;
  std::string file_name() const;  ///< "cluster.fw" or "<vmid>.fw"
  std::string describe() const;   ///< "cluster.fw (hosts)" or "lxc 102 (Traefik-Internal)"
};

struct FirewallModel {
  RuleSet cluster;
  std::vector<RuleSet> guests;  ///< guests with a firewall section, in inventory order
  std::vector<Finding> problems;  ///< invalid fields (errors) and merged duplicates (warnings)
  const RuleSet* guest_rules(const horizon::Guest* g) const;
};

/// Validates every rule of the inventory into the Proxmox model.
FirewallModel build_firewall(const horizon::Inventory& inv);

/// cluster.fw and one <vmid>.fw per guest with rules, byte-for-byte deterministic.
std::vector<OutputFile> firewall_files(const FirewallModel& fw);

const char* action_text(Action a);
/// The macros netgen knows, as pve-firewall defines them (its $pve_fw_macros); nullptr when unknown.
/// `name` is matched case-insensitively; `canonical` receives Proxmox's spelling.
const std::vector<MatchSpec>* find_macro(const std::string& name, std::string* canonical = nullptr);
const char* direction_text(Direction d);

}  // namespace phoenix::netgen
