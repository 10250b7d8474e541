// deployed_fw -- the deployed firewall in netgen's own rule model, so that reach and check give their
// verdicts on what the host really runs: the rules of cluster.fw and <vmid>.fw, each guest's `enable`
// and its NIC's firewall flag (a NIC with firewall=0 is not filtered at all), and the rule's file line.
#pragma once

#include <vector>

#include "firewall.hpp"
#include "model.hpp"
#include "pve_tree.hpp"

namespace phoenix::netgen::deployed {

/// What a parsed rule needs to become model rules: the names it may refer to, and the guest NIC
/// that the flows reach models arrive on.
struct RuleContext {
  const FwFile* file = nullptr;     ///< the file holding the rule (aliases, ipsets)
  const FwFile* cluster = nullptr;  ///< cluster.fw (datacenter aliases, ipsets, security groups)
  std::string nic;                  ///< "net0" for a guest; "" at cluster level
  size_t index = 0;                 ///< the rule's position in its [RULES], 1-based
};

/// THE conversion of a deployed rule into netgen's Rule: a disabled rule gives none; a macro or a
/// security group gives one rule per entry; a rule for another NIC gives none. A rule that cannot be
/// modelled exactly (an unknown name, -sport, -icmp-type, a negated set) gives none and a problem.
std::vector<Rule> to_model_rules(const FwRule& r, const RuleContext& ctx, std::vector<FileProblem>& problems);

/// The rule as Proxmox understands it, for comparing: alias names replaced by their addresses (the
/// rule's file first, then cluster.fw), a one-entry macro by its protocol and ports. Anything that
/// does not resolve stays as written.
FwRule canonical_rule(const FwRule& r, const FwFile* file, const FwFile* cluster);

struct DeployedFirewall {
  FirewallModel fw;
  std::vector<FileProblem> problems;
};

/// cluster.fw and the <vmid>.fw of every inventory guest that the tree configures.
DeployedFirewall build_deployed_firewall(const Model& m, const PveTree& tree);

/// "line 7", the pointer part of a deployed rule's Location.
std::string line_pointer(size_t line);

}  // namespace phoenix::netgen::deployed
