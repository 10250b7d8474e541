#include "pve_tree.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace phoenix::netgen::deployed {

namespace fs = std::filesystem;

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return s.str();
}

std::optional<unsigned> parse_vmid(const std::string& s) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      s[0] == '0')
    return std::nullopt;
  return static_cast<unsigned>(std::stoul(s));
}

namespace {

/// Files named "<vmid><ext>" in `dir`, sorted by VMID.
std::vector<std::pair<unsigned, fs::path>> numbered(const fs::path& dir, const std::string& ext) {
  std::vector<std::pair<unsigned, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ext) continue;
    if (auto id = parse_vmid(e.path().stem().string())) out.emplace_back(*id, e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void read_guests(PveTree& t, const fs::path& dir, GuestConf::Kind kind, std::map<unsigned, fs::path>& canonical) {
  for (auto& [id, path] : numbered(dir, ".conf")) {
    std::error_code ec;
    fs::path real = fs::weakly_canonical(path, ec);
    if (auto it = canonical.find(id); it != canonical.end()) {
      // /etc/pve/lxc is a link to nodes/<this node>/lxc: the same file seen twice is one guest.
      if (it->second != real)
        t.problems.push_back({path.string(), 0, "VMID " + std::to_string(id) + " is also configured in " + t.guests[id].path});
      continue;
    }
    auto text = read_file(path);
    if (!text) {
      t.problems.push_back({path.string(), 0, "cannot be read"});
      continue;
    }
    canonical[id] = real;
    auto g = parse_guest_conf(*text, path.string(), kind, id);
    t.problems.insert(t.problems.end(), g.problems.begin(), g.problems.end());
    t.guests[id] = std::move(g);
  }
}

}  // namespace

PveTree load_pve_tree(const fs::path& root) {
  PveTree t;
  t.root = root;
  t.firewall_dir = root / "firewall";
  auto read_fw = [&](const fs::path& p) -> std::optional<FwFile> {
    auto text = read_file(p);
    if (!text) return std::nullopt;
    auto f = parse_fw_file(*text, p.string());
    t.problems.insert(t.problems.end(), f.problems.begin(), f.problems.end());
    return f;
  };
  std::error_code ec;
  if (fs::exists(t.firewall_dir / "cluster.fw", ec)) {
    t.cluster = read_fw(t.firewall_dir / "cluster.fw");
    if (!t.cluster) t.problems.push_back({(t.firewall_dir / "cluster.fw").string(), 0, "cannot be read"});
  }
  for (auto& [id, path] : numbered(t.firewall_dir, ".fw")) {
    if (auto f = read_fw(path)) t.guest_fw[id] = std::move(*f);
    else t.problems.push_back({path.string(), 0, "cannot be read"});
  }
  std::map<unsigned, fs::path> canonical;
  read_guests(t, root / "lxc", GuestConf::Kind::lxc, canonical);
  read_guests(t, root / "qemu-server", GuestConf::Kind::qemu, canonical);
  std::vector<fs::path> nodes;
  if (fs::is_directory(root / "nodes", ec))
    for (auto& e : fs::directory_iterator(root / "nodes", ec))
      if (e.is_directory()) nodes.push_back(e.path());
  std::sort(nodes.begin(), nodes.end());
  for (auto& n : nodes) {
    if (fs::exists(n / "host.fw", ec))
      if (auto f = read_fw(n / "host.fw")) t.host_fw[n.filename().string()] = std::move(*f);
    read_guests(t, n / "lxc", GuestConf::Kind::lxc, canonical);
    read_guests(t, n / "qemu-server", GuestConf::Kind::qemu, canonical);
  }
  return t;
}

}  // namespace phoenix::netgen::deployed
