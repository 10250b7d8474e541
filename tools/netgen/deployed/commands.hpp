// commands -- the subcommands that read or change what a Proxmox host has deployed: audit, diff,
// apply, rollback, and the deployed firewall that reach and check judge with --deployed.
#pragma once

#include <string>
#include <vector>

#include "cli.hpp"
#include "firewall.hpp"
#include "model.hpp"

namespace phoenix::netgen::deployed {

/// audit, diff, apply (the model is loaded; `messages` holds the loader's diagnostics).
CommandResult run_deployed_command(const Model& m, const Options& opt, std::vector<std::string> messages);

/// rollback BACKUP: needs no inventory.
CommandResult run_rollback(const Options& opt);

/// The firewall reach and check judge: the inventory's, or with --deployed the one under --pve-root.
FirewallModel firewall_for(const Model& m, const Options& opt, std::vector<std::string>& messages);

}  // namespace phoenix::netgen::deployed
