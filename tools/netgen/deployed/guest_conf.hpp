// guest_conf -- Proxmox guest configurations: lxc/<vmid>.conf (pct.conf(5)) and qemu-server/<vmid>.conf
// (qm.conf(5)). Only the current configuration counts: a `[snapshot]` or `[PENDING]` section holds
// other states of the guest and never overrides it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pve_fw.hpp"

namespace phoenix::netgen::deployed {

/// One network device, netN (with qemu's ipconfigN folded in).
struct Nic {
  unsigned index = 0;  ///< N of netN
  size_t line = 0;     ///< the netN line
  std::string ifname;  ///< lxc name=eth0; "" for VMs
  std::string bridge;
  std::string mac;
  std::optional<bool> firewall;  ///< firewall=0/1; nullopt when not written (Proxmox: off)
  std::string ip, gw;            ///< lxc ip=/gw=, qemu ipconfigN ip=/gw=
  size_t ip_line = 0;            ///< line where ip= was written (ipconfigN for VMs)
  std::string value;             ///< the netN value as written (for the `pct set`/`qm set` that fixes it)
};

struct GuestConf {
  enum class Kind { lxc, qemu };
  Kind kind = Kind::lxc;
  std::string path;
  unsigned vmid = 0;
  std::string name;  ///< lxc hostname, qemu name
  size_t name_line = 0;
  std::vector<Nic> nics;
  std::vector<FileProblem> problems;
  const Nic* nic(unsigned index) const;
  /// The NIC carrying `ip` (address without prefix), else net0, else nullptr.
  const Nic* nic_for(const std::string& ip) const;
};

GuestConf parse_guest_conf(std::string_view text, const std::string& path, GuestConf::Kind kind, unsigned vmid);

}  // namespace phoenix::netgen::deployed
