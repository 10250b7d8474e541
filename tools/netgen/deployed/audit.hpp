// audit -- where what a Proxmox host has deployed differs from what the inventory means. Generated
// files and deployed files go through the same parsers (pve_fw, routes_read), so a difference is a
// difference in meaning, never in spelling; each finding names the deployed file and line and the
// inventory location it comes from.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "firewall.hpp"
#include "model.hpp"
#include "owned.hpp"
#include "pve_tree.hpp"

namespace phoenix::netgen::deployed {

struct AuditFinding {
  Severity severity = Severity::error;
  std::string code;
  std::string message;
  std::string file;  ///< the deployed file
  size_t line = 0;   ///< 0: the file as a whole (or a file that is missing)
  std::optional<horizon::Location> inventory;
  std::string format() const;  ///< "error rule-missing: /etc/pve/firewall/102.fw:9: ... [inventory]"
};

/// Inputs of an audit: the tree read from --pve-root and, when given, the deployed proxy files.
struct AuditInput {
  const PveTree* tree = nullptr;
  const FirewallModel* fw = nullptr;  ///< the inventory's firewall (build_firewall)
  std::vector<OutputFile> generated_fw;  ///< firewall_files(fw)
  Manifest fw_manifest;  ///< the firewall directory's manifest (which stale files netgen wrote)
  struct Proxy {
    std::string kind;  ///< "traefik" or "nginx"
    std::filesystem::path deployed;  ///< the file (nginx) or directory (traefik) deployed
    std::vector<OutputFile> generated;
    Manifest manifest;
  };
  std::vector<Proxy> proxies;
};

/// Every difference: firewall files (options, policies, rules, stale files), guest configurations
/// (NIC firewall flags, addresses, guests on one side only), proxy routes. Errors and warnings make
/// the host "not matching"; infos do not.
std::vector<AuditFinding> audit(const Model& m, const AuditInput& in);

}  // namespace phoenix::netgen::deployed
