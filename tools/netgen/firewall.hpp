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

/// One validated rule. Empty address, protocol or port lists mean "any".
struct Rule {
  Direction direction = Direction::in;
  Action action = Action::accept;
  std::vector<horizon::IpPrefix> source, dest;
  std::string proto;  ///< lower-case protocol name or number, "" for any
  std::vector<PortRange> dports;
  std::string comment;
  horizon::Location where;
  size_t index = 0;  ///< position in its rule list, 1-based, as an admin counts

  /// "IN ACCEPT -source 10.0.0.12 -p tcp -dport 8000 -log nolog # comment"
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
};
bool rule_matches(const Rule& r, const Flow& f);

/// The rules of one level: the cluster (filtering the hosts) or one guest.
struct RuleSet {
  const horizon::Guest* guest = nullptr;  ///< nullptr: cluster level
  bool enabled = false;
  std::string policy_in = "DROP", policy_out = "ACCEPT";
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
const char* direction_text(Direction d);

}  // namespace phoenix::netgen
