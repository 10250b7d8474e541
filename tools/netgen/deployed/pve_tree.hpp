// pve_tree -- what a Proxmox host has deployed under /etc/pve: the firewall directory and the guest
// configurations, on a single node (lxc/, qemu-server/) or a cluster (nodes/<node>/lxc/, ...).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "guest_conf.hpp"
#include "pve_fw.hpp"

namespace phoenix::netgen::deployed {

struct PveTree {
  std::filesystem::path root;
  std::filesystem::path firewall_dir;  ///< root/firewall
  std::optional<FwFile> cluster;       ///< firewall/cluster.fw
  std::map<unsigned, FwFile> guest_fw;  ///< firewall/<vmid>.fw
  std::map<unsigned, GuestConf> guests;  ///< lxc/ and qemu-server/ configs, wherever they live
  std::map<std::string, FwFile> host_fw;  ///< nodes/<node>/host.fw, by node name
  std::vector<FileProblem> problems;  ///< every parse problem of every file, plus unreadable files
};

/// Reads every file of the tree; a missing directory is no error (a host may have no VMs).
PveTree load_pve_tree(const std::filesystem::path& root);

/// The whole file, or nullopt when it cannot be read.
std::optional<std::string> read_file(const std::filesystem::path& p);

/// "123" -> 123 for a VMID (100..999999999 in Proxmox); nullopt otherwise.
std::optional<unsigned> parse_vmid(const std::string& s);

}  // namespace phoenix::netgen::deployed
