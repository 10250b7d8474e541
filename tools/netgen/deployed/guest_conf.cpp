#include "guest_conf.hpp"

#include <algorithm>
#include <map>

#include "text.hpp"

namespace phoenix::netgen::deployed {
namespace {

/// "netN" / "ipconfigN" -> N; nullopt for anything else.
std::optional<unsigned> indexed(const std::string& key, const std::string& prefix) {
  if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0 || key.size() > prefix.size() + 2)
    return std::nullopt;
  std::string n = key.substr(prefix.size());
  if (!std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return static_cast<unsigned>(std::stoul(n));
}

bool is_qemu_model(const std::string& k) {
  static const char* models[] = {"virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "ne2k_pci", "pcnet", "i82551",
                                 "i82557b", "i82559er", "ne2k_isa", "e1000-82540em", "e1000-82544gc", "e1000-82545em"};
  return std::any_of(std::begin(models), std::end(models), [&](const char* m) { return k == m; });
}

}  // namespace

const Nic* GuestConf::nic(unsigned index) const {
  for (auto& n : nics)
    if (n.index == index) return &n;
  return nullptr;
}

const Nic* GuestConf::nic_for(const std::string& ip) const {
  for (auto& n : nics)
    if (!n.ip.empty() && n.ip.substr(0, n.ip.find('/')) == ip) return &n;
  return nic(0);
}

GuestConf parse_guest_conf(std::string_view text, const std::string& path, GuestConf::Kind kind, unsigned vmid) {
  GuestConf g;
  g.kind = kind;
  g.path = path;
  g.vmid = vmid;
  auto problem = [&](size_t line, std::string msg) { g.problems.push_back({path, line, std::move(msg)}); };
  std::map<std::string, size_t> seen;
  std::map<unsigned, Nic> nics;
  std::map<unsigned, std::pair<std::string, size_t>> ipconfigs;
  auto lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t n = i + 1;
    std::string l = trim(lines[i]);
    if (l.empty() || l[0] == '#') continue;  // '#' lines are the guest's description
    if (l[0] == '[') break;  // [snapshot], [PENDING], [special:cloudinit]: not the current state
    auto colon = l.find(':');
    if (colon == std::string::npos || colon == 0) {
      problem(n, "\"" + l + "\" is not a \"key: value\" line");
      continue;
    }
    std::string key = trim(std::string_view(l).substr(0, colon)), value = trim(std::string_view(l).substr(colon + 1));
    // Raw LXC keys pass through to lxc.container.conf(5), where lxc.idmap, lxc.mount.entry or
    // lxc.cgroup2.devices.allow are meant to be repeated; none of them is one netgen reads.
    if (kind == GuestConf::Kind::lxc && key.rfind("lxc.", 0) == 0) continue;
    if (seen.count(key)) {
      problem(n, "\"" + key + "\" set twice (line " + std::to_string(seen[key]) + " and here)");
      continue;
    }
    seen[key] = n;
    if ((kind == GuestConf::Kind::lxc && key == "hostname") || (kind == GuestConf::Kind::qemu && key == "name")) {
      g.name = value;
      g.name_line = n;
    } else if (auto idx = indexed(key, "net")) {
      Nic nic;
      nic.index = *idx;
      nic.line = n;
      nic.value = value;
      for (auto& part : split(value, ',')) {
        auto eq = part.find('=');
        std::string k = part.substr(0, eq), v = eq == std::string::npos ? "" : part.substr(eq + 1);
        if (kind == GuestConf::Kind::qemu && is_qemu_model(k)) nic.mac = v;
        else if (eq == std::string::npos) problem(n, key + ": \"" + part + "\" is not key=value");
        else if (k == "bridge") nic.bridge = v;
        else if (k == "firewall") {
          if (v != "0" && v != "1") problem(n, key + ": firewall=" + v + " is not 0 or 1");
          else nic.firewall = v == "1";
        } else if (k == "name" && kind == GuestConf::Kind::lxc) nic.ifname = v;
        else if (k == "hwaddr" || k == "macaddr") nic.mac = v;
        else if (k == "ip" && kind == GuestConf::Kind::lxc) {
          nic.ip = v;
          nic.ip_line = n;
        } else if (k == "gw" && kind == GuestConf::Kind::lxc) nic.gw = v;
      }
      nics[*idx] = nic;
    } else if (auto cidx = indexed(key, "ipconfig"); cidx && kind == GuestConf::Kind::qemu) {
      ipconfigs[*cidx] = {value, n};
    }
  }
  for (auto& [idx, cfg] : ipconfigs) {
    auto it = nics.find(idx);
    if (it == nics.end()) {
      problem(cfg.second, "ipconfig" + std::to_string(idx) + " without net" + std::to_string(idx));
      continue;
    }
    for (auto& part : split(cfg.first, ',')) {
      auto eq = part.find('=');
      if (eq == std::string::npos) continue;
      std::string k = part.substr(0, eq), v = part.substr(eq + 1);
      if (k == "ip") {
        it->second.ip = v;
        it->second.ip_line = cfg.second;
      } else if (k == "gw") it->second.gw = v;
    }
  }
  for (auto& [idx, nic] : nics) g.nics.push_back(nic);
  return g;
}

}  // namespace phoenix::netgen::deployed
