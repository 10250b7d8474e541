// loader.cpp -- the only place that knows the JSON shape of the Phoenix inventory.
#include "loader.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "label.hpp"
#include "tsig_keys.hpp"

namespace phoenix::horizon {
namespace {

using nlohmann::json;

std::string escape_pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string child(const std::string& ptr, const std::string& key) { return ptr + "/" + escape_pointer_token(key); }
std::string child(const std::string& ptr, size_t index) { return ptr + "/" + std::to_string(index); }

std::string quoted(const json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

/// Typed access to one file's JSON, reporting each problem with file + pointer.
class FileReader {
 public:
  FileReader(std::string file, Diagnostics& diag) : file_(std::move(file)), diag_(diag) {}

  void error(const std::string& ptr, const std::string& msg) { diag_.error(file_, ptr, msg); }
  void warning(const std::string& ptr, const std::string& msg) { diag_.warning(file_, ptr, msg); }
  Location at(const std::string& ptr) const { return {file_, ptr}; }
  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() { return diag_; }

  /// Object member if present and an object; reports a wrong type.
  const json* object(const json& parent, const std::string& ptr, const char* key) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return nullptr;
    if (!it->is_object()) {
      error(child(ptr, key), "invalid value " + quoted(*it) + " (expected an object)");
      return nullptr;
    }
    return &*it;
  }

  const json* array(const json& parent, const std::string& ptr, const char* key) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return nullptr;
    if (!it->is_array()) {
      error(child(ptr, key), "invalid value " + quoted(*it) + " (expected an array)");
      return nullptr;
    }
    return &*it;
  }

  std::optional<std::string> string(const json& parent, const std::string& ptr, const char* key,
                                    bool required = false) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      if (required) error(ptr, std::string("missing required field \"") + key + "\"");
      return std::nullopt;
    }
    if (!it->is_string()) {
      error(child(ptr, key), "invalid value " + quoted(*it) + " (expected a string)");
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  std::optional<bool> boolean(const json& parent, const std::string& ptr, const char* key) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) {
      error(child(ptr, key), "invalid value " + quoted(*it) + " (expected true or false)");
      return std::nullopt;
    }
    return it->get<bool>();
  }

  /// A port given as a number or a numeric string.
  std::optional<uint16_t> port(const json& parent, const std::string& ptr, const char* key) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return std::nullopt;
    long v = -1;
    if (it->is_number_integer()) v = it->get<long>();
    else if (it->is_string()) {
      try {
        size_t used = 0;
        auto s = it->get<std::string>();
        v = std::stol(s, &used);
        if (used != s.size()) v = -1;
      } catch (const std::exception&) {
        v = -1;
      }
    }
    if (v < 1 || v > 65535) {
      error(child(ptr, key), "invalid port " + quoted(*it) + " (expected 1..65535)");
      return std::nullopt;
    }
    return static_cast<uint16_t>(v);
  }

  std::optional<uint32_t> uint(const json& parent, const std::string& ptr, const char* key, uint32_t max) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() || it->get<long long>() < 0 || it->get<long long>() > max) {
      error(child(ptr, key), "invalid value " + quoted(*it) + " (expected an integer 0.." + std::to_string(max) + ")");
      return std::nullopt;
    }
    return static_cast<uint32_t>(it->get<long long>());
  }

  std::optional<IpAddr> address(const json& parent, const std::string& ptr, const char* key) {
    auto s = string(parent, ptr, key);
    if (!s) return std::nullopt;
    auto a = IpAddr::parse(*s);
    if (!a) error(child(ptr, key), "\"" + *s + "\" is not an IP address");
    return a;
  }

  /// A list given either as a JSON array of strings or a string separated by spaces/commas.
  std::vector<std::string> string_list(const json& parent, const std::string& ptr, const char* key) {
    std::vector<std::string> out;
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) return out;
    auto split = [&](const std::string& s) {
      std::string cur;
      for (char c : s + " ") {
        if (c == ' ' || c == ',' || c == '\t') {
          if (!cur.empty()) out.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
    };
    if (it->is_string()) {
      split(it->get<std::string>());
    } else if (it->is_array()) {
      for (size_t i = 0; i < it->size(); ++i) {
        if ((*it)[i].is_string()) out.push_back((*it)[i].get<std::string>());
        else error(child(child(ptr, key), i), "invalid value " + quoted((*it)[i]) + " (expected a string)");
      }
    } else {
      error(child(ptr, key), "invalid value " + quoted(*it) + " (expected a string or a list of strings)");
    }
    return out;
  }

 private:
  std::string file_;
  Diagnostics& diag_;
};

std::optional<json> read_json(const std::filesystem::path& path, const std::string& name, bool required,
                              Diagnostics& diag) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (required) diag.error(name, "", "cannot read file (not found in " + path.parent_path().string() + ")");
    return std::nullopt;
  }
  // A FIFO or device would block the reload (or read forever), so only regular files are read.
  if (!std::filesystem::is_regular_file(path, ec)) {
    diag.error(name, "", "cannot read file (not a regular file)");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.error(name, "", "cannot read file (permission denied or not a file)");
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    diag.error(name, "", "cannot read file (I/O error)");
    return std::nullopt;
  }
  try {
    auto j = json::parse(buf.str());
    if (!j.is_object()) {
      diag.error(name, "", "invalid document (expected a JSON object at the top level)");
      return std::nullopt;
    }
    return j;
  } catch (const json::parse_error& e) {
    // nlohmann reports a byte offset; turn it into a line number an editor can jump to.
    std::string text = buf.str();
    size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(std::min(e.byte, text.size())), '\n'));
    diag.error(name, "line " + std::to_string(line), std::string("not valid JSON (") + e.what() + ")");
    return std::nullopt;
  } catch (const json::exception& e) {
    // Regression (fuzz_inventory, issue 3): a number too large for a double (1e400) is not a
    // parse_error but an out_of_range, and used to escape and end the process.
    diag.error(name, "", std::string("not valid JSON (") + e.what() + ")");
    return std::nullopt;
  }
}

/// Ports as a number or a string ("80", "80,443", "8000:8010"); netgen validates the text.
std::string port_text(FileReader& r, const json& rj, const std::string& p, const char* key) {
  auto it = rj.find(key);
  if (it != rj.end() && it->is_number_integer()) return std::to_string(it->get<long>());
  return r.string(rj, p, key).value_or("");
}

// The rule keys Proxmox's firewall files have and netgen writes; any other key is kept by name, so
// that netgen can refuse it rather than write a wider rule than the inventory asked for.
const std::set<std::string> kRuleKeys = {"type", "action", "source", "dest", "proto", "port", "dport", "sport",
                                         "iface", "macro", "enable", "enabled", "log", "comment"};

FirewallRule read_rule(FileReader& r, const json& rj, const std::string& p) {
  FirewallRule rule;
  rule.where = r.at(p);
  rule.direction = r.string(rj, p, "type").value_or("");
  rule.action = r.string(rj, p, "action").value_or("");
  rule.source = r.string(rj, p, "source").value_or("");
  rule.dest = r.string(rj, p, "dest").value_or("");
  rule.proto = r.string(rj, p, "proto").value_or("");
  rule.port = port_text(r, rj, p, "port");
  if (rj.contains("dport")) {
    if (!rule.port.empty()) r.error(child(p, "dport"), "both \"port\" and \"dport\" given (they are the same field)");
    else rule.port = port_text(r, rj, p, "dport");
  }
  rule.sport = port_text(r, rj, p, "sport");
  rule.iface = r.string(rj, p, "iface").value_or("");
  rule.macro = r.string(rj, p, "macro").value_or("");
  for (const char* key : {"enable", "enabled"}) {
    auto it = rj.find(key);
    if (it == rj.end() || it->is_null()) continue;
    // Proxmox writes enable: 0/1; JSON files use true/false.
    if (it->is_boolean()) rule.enable = it->get<bool>();
    else if (it->is_number_integer() && (it->get<long>() == 0 || it->get<long>() == 1)) rule.enable = it->get<long>() == 1;
    else r.error(child(p, key), "invalid value " + quoted(*it) + " (expected true, false, 0 or 1)");
  }
  rule.log = r.string(rj, p, "log").value_or("");
  rule.comment = r.string(rj, p, "comment").value_or("");
  for (auto& [key, value] : rj.items())
    if (!kRuleKeys.count(key)) rule.unknown_keys.push_back(key);
  return rule;
}

void read_rules(FileReader& r, const json& rules, const std::string& rptr, Firewall& out) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const json& rj = rules[i];
    auto p = child(rptr, i);
    if (!rj.is_object()) {
      r.error(p, "invalid rule " + quoted(rj) + " (expected an object)");
      continue;
    }
    out.rules.push_back(read_rule(r, rj, p));
  }
}

/// A firewall section: an object {enabled, policies, rules} or, for the global rules, a bare list.
/// `cluster` selects the global shape (global_firewall_rules, default_*_policy) and its defaults.
Firewall read_firewall(FileReader& r, const json& fw, const std::string& ptr, bool cluster) {
  Firewall out;
  out.present = true;
  out.where = r.at(ptr);
  if (fw.is_array()) {
    read_rules(r, fw, ptr, out);
    if (cluster) {
      out.policy_in = "DROP";
      out.policy_out = "ACCEPT";
    }
    return out;
  }
  if (auto e = r.boolean(fw, ptr, "enabled")) {
    out.enabled = *e;
    out.enabled_given = true;
  }
  // Either spelling of the policies, at either level: Proxmox's own (policy_in) or the hypervisor
  // file's (default_input_policy).
  for (auto [field, keys] : {std::pair{&out.policy_in, std::array{"policy_in", "default_input_policy"}},
                             std::pair{&out.policy_out, std::array{"policy_out", "default_output_policy"}}})
    for (const char* key : keys)
      if (auto v = r.string(fw, ptr, key)) {
        if (!field->empty()) r.error(child(ptr, key), "policy given twice (" + std::string(keys[0]) + " and " + keys[1] + ")");
        *field = *v;
      }
  if (cluster) {
    if (out.policy_in.empty()) out.policy_in = "DROP";
    if (out.policy_out.empty()) out.policy_out = "ACCEPT";
  }
  static const std::set<std::string> known = {"enabled", "rules", "global_firewall_rules", "policy_in", "policy_out",
                                              "default_input_policy", "default_output_policy"};
  for (auto& [key, value] : fw.items())
    if (!known.count(key)) out.unknown_keys.push_back(key);
  bool any = false;
  for (const char* key : {"global_firewall_rules", "rules"}) {
    if (!cluster && std::string(key) == "global_firewall_rules") continue;
    if (const json* rules = r.array(fw, ptr, key)) {
      if (any) r.error(child(ptr, key), "rules given twice (global_firewall_rules and rules)");
      else read_rules(r, *rules, child(ptr, key), out);
      any = true;
    }
  }
  if (!cluster && fw.contains("global_firewall_rules")) out.unknown_keys.push_back("global_firewall_rules");
  return out;
}

std::optional<Service> read_service(FileReader& r, const json& parent, const std::string& ptr) {
  const json* s = r.object(parent, ptr, "traefik_service");
  if (!s) return std::nullopt;
  auto p = child(ptr, "traefik_service");
  Service svc;
  svc.where = r.at(p);
  auto name = r.string(*s, p, "name", true);
  if (!name) return std::nullopt;
  svc.name = *name;
  svc.port = r.port(*s, p, "port").value_or(0);
  svc.protocol = r.string(*s, p, "protocol").value_or("");
  if (!svc.protocol.empty() && svc.protocol != "http" && svc.protocol != "https" && svc.protocol != "tcp") {
    r.error(child(p, "protocol"), "invalid protocol \"" + svc.protocol + "\" (expected http, https or tcp)");
  }
  if (sanitize_label(svc.name).empty()) {
    r.error(child(p, "name"), "invalid service name \"" + svc.name + "\" (no usable DNS label)");
    return std::nullopt;
  }
  for (auto& [key, value] : s->items())
    if (key != "name" && key != "port" && key != "protocol") svc.unknown_keys.push_back(key);
  return svc;
}

/// docker_stacks entries: a stack name, or {"name", "environment"} choosing one of its environments.
void read_guest_stacks(FileReader& r, const json& g, const std::string& ptr, Guest& guest) {
  const json* list = r.array(g, ptr, "docker_stacks");
  if (!list) return;
  auto lp = child(ptr, "docker_stacks");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    auto p = child(lp, i);
    Guest::StackRef ref;
    ref.where = r.at(p);
    if (e.is_string()) {
      ref.name = e.get<std::string>();
    } else if (e.is_object()) {
      auto name = r.string(e, p, "name", true);
      if (!name) continue;
      ref.name = *name;
      ref.environment = r.string(e, p, "environment").value_or("");
    } else {
      r.error(p, "invalid value " + quoted(e) + " (expected a stack name or {\"name\", \"environment\"})");
      continue;
    }
    if (ref.name.empty()) {
      r.error(p, "empty stack name");
      continue;
    }
    guest.docker_stacks.push_back(std::move(ref));
  }
}

/// VM "volumes": the NFS mounts matter to the firewall (the guest must reach the server on 2049 and 111).
void read_guest_volumes(FileReader& r, const json& g, const std::string& ptr, Guest& guest) {
  const json* list = r.array(g, ptr, "volumes");
  if (!list) return;
  auto lp = child(ptr, "volumes");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& v = (*list)[i];
    auto p = child(lp, i);
    if (!v.is_object()) continue;
    auto type = r.string(v, p, "type");
    if (!type || *type != "nfs") continue;
    if (auto server = r.address(v, p, "server")) guest.nfs_mounts.push_back({*server, r.at(child(p, "server"))});
  }
}

/// Fields shared by LXC and VM guests.
void read_guest_common(FileReader& r, const json& g, const std::string& ptr, Guest& guest) {
  guest.where = r.at(ptr);
  guest.name = r.string(g, ptr, "name", true).value_or("");
  if (!guest.name.empty() && sanitize_label(guest.name).empty())
    r.error(child(ptr, "name"), "invalid guest name \"" + guest.name + "\" (no usable DNS label)");
  if (const json* net = r.object(g, ptr, "network_config")) {
    auto np = child(ptr, "network_config");
    if (auto ip = r.string(*net, np, "ip")) {
      if (*ip == "dhcp" || *ip == "DHCP") {
        guest.dhcp = true;
      } else {
        auto pfx = IpPrefix::parse(*ip);
        if (!pfx || !pfx->addr.is_v4())
          r.error(child(np, "ip"), "\"" + *ip + "\" is not an IPv4 address/prefix");
        else
          guest.ip = pfx;
      }
    }
    guest.nameservers = r.string_list(*net, np, "nameservers");
    for (auto& ns : r.string_list(*net, np, "nameserver")) guest.nameservers.push_back(ns);
  }
  guest.service = read_service(r, g, ptr);
  guest.portainer_role = r.string(g, ptr, "portainer_role").value_or("");
  guest.portainer_agent_hostname = r.string(g, ptr, "portainer_agent_hostname").value_or("");
  read_guest_stacks(r, g, ptr, guest);
  guest.bootstrap_ca_url = r.string(g, ptr, "bootstrap_ca_url").value_or("");
  read_guest_volumes(r, g, ptr, guest);
  if (const json* mounts = r.array(g, ptr, "mount_points"))
    for (size_t i = 0; i < mounts->size(); ++i)
      if ((*mounts)[i].is_object())
        if (auto path = r.string((*mounts)[i], child(child(ptr, "mount_points"), i), "container_path"))
          guest.mount_paths.push_back(*path);
  if (const json* fw = r.object(g, ptr, "firewall")) guest.firewall = read_firewall(r, *fw, child(ptr, "firewall"), false);
}

void read_lxcs(const json& doc, Diagnostics& diag, Inventory& inv) {
  FileReader r(kLxcFile, diag);
  const json* lxcs = r.object(doc, "", "lxc_configs");
  if (!lxcs) {
    r.warning("", "no \"lxc_configs\" object; no containers loaded");
    return;
  }
  for (auto& [key, g] : lxcs->items()) {
    auto ptr = child("/lxc_configs", key);
    Guest guest;
    guest.kind = Guest::Kind::lxc;
    try {
      size_t used = 0;
      unsigned long id = std::stoul(key, &used);
      if (used != key.size() || id == 0 || id > 999999999) throw std::invalid_argument("range");
      guest.id = static_cast<uint32_t>(id);
    } catch (const std::exception&) {
      r.error(ptr, "invalid container id \"" + key + "\" (expected a number)");
      continue;
    }
    if (!g.is_object()) {
      r.error(ptr, "invalid container " + quoted(g) + " (expected an object)");
      continue;
    }
    read_guest_common(r, g, ptr, guest);
    inv.guests.push_back(std::move(guest));
  }
}

void read_vms(const json& doc, Diagnostics& diag, Inventory& inv) {
  FileReader r(kVmFile, diag);
  const json* vms = r.array(doc, "", "vms");
  if (!vms) {
    r.warning("", "no \"vms\" array; no virtual machines loaded");
    return;
  }
  for (size_t i = 0; i < vms->size(); ++i) {
    const json& g = (*vms)[i];
    auto ptr = child("/vms", i);
    if (!g.is_object()) {
      r.error(ptr, "invalid vm " + quoted(g) + " (expected an object)");
      continue;
    }
    Guest guest;
    guest.kind = Guest::Kind::vm;
    auto id = r.uint(g, ptr, "vmid", 999999999);
    if (!id) {
      if (g.find("vmid") == g.end()) r.error(ptr, "missing required field \"vmid\"");
      continue;
    }
    guest.id = *id;
    read_guest_common(r, g, ptr, guest);
    inv.guests.push_back(std::move(guest));
  }
}

/// Every `name` inside Host(`name`, ...) of a Traefik rule, lower-cased.
std::vector<std::string> hosts_in_rule(const std::string& rule) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = rule.find("Host(", pos)) != std::string::npos) {
    size_t end = rule.find(')', pos);
    if (end == std::string::npos) break;
    std::string inner = rule.substr(pos + 5, end - pos - 5);
    size_t q = 0;
    while ((q = inner.find('`', q)) != std::string::npos) {
      size_t q2 = inner.find('`', q + 1);
      if (q2 == std::string::npos) break;
      out.push_back(normalize_fqdn(inner.substr(q + 1, q2 - q - 1)));
      q = q2 + 1;
    }
    pos = end;
  }
  return out;
}

/// The traefik.http.* labels of one service of a stack, sorted by what they say; linked into routes
/// by link_routes once all of them are read (a router may come before its service).
struct ServiceLabels {
  struct RouterLabel {
    std::string field, value, ptr;
  };
  std::vector<StackRoute> routes;                                 ///< one per Host() name of a router's rule
  std::map<std::string, uint16_t> ports;                          ///< service -> loadbalancer.server.port
  std::map<std::string, std::string> schemes;                     ///< service -> loadbalancer.server.scheme
  std::map<std::string, std::vector<RouterLabel>> router_labels;  ///< router -> its labels other than rule
};

/// The router labels netgen writes into Traefik's file provider; any other one would be lost there,
/// so it is named (a warning: the route itself still works, only that setting is missing).
void apply_router_labels(FileReader& r, const std::vector<ServiceLabels::RouterLabel>& labels, StackRoute& route) {
  auto list = [](const std::string& v) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : v + ",") {
      if (c == ',') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else if (c != ' ') {
        cur += c;
      }
    }
    return out;
  };
  for (auto& l : labels) {
    if (l.field == "entrypoints") route.entrypoints = list(l.value);
    else if (l.field == "middlewares") route.middlewares = list(l.value);
    else if (l.field == "tls.certresolver") route.certresolver = l.value;
    else if (l.field == "tls") {
      if (l.value == "true") route.tls = true;
      else if (l.value == "false") route.tls = false;
      else r.error(l.ptr, "invalid value \"" + l.value + "\" for tls (expected true or false)");
    } else if (l.field != "service") {
      r.warning(l.ptr, "router label \"" + l.field + "\" is not written to Traefik's file by netgen");
    }
  }
}

/// traefik.http.routers.<router>.<field>=<value>: a rule gives one route per Host() name (a copy of
/// `origin`, which names the stack, environment and service); any other field is kept for the router.
void read_router_label(FileReader& r, const std::string& rest, const std::string& value, const std::string& ptr,
                       const StackRoute& origin, ServiceLabels& out) {
  auto dot = rest.find('.');
  if (dot == std::string::npos) return;
  auto router = rest.substr(0, dot), field = rest.substr(dot + 1);
  if (field != "rule") {
    out.router_labels[router].push_back({field, value, ptr});
    return;
  }
  auto hosts = hosts_in_rule(value);
  if (hosts.empty()) r.warning(ptr, "router \"" + router + "\" has no Host() rule; ignored");
  for (auto& h : hosts) {
    if (!is_valid_hostname(h)) {
      r.error(ptr, "invalid host name \"" + h + "\" in Host() rule");
      continue;
    }
    StackRoute route = origin;
    route.router = router;
    route.host = h;
    route.where = r.at(ptr);
    out.routes.push_back(std::move(route));
  }
}

/// traefik.http.services.<name>.<field>=<value>: the backend's port and scheme.
void read_service_label(FileReader& r, const std::string& rest, const std::string& value, const std::string& ptr,
                        ServiceLabels& out) {
  auto dot = rest.find('.');
  if (dot == std::string::npos) return;
  auto name = rest.substr(0, dot), field = rest.substr(dot + 1);
  if (field == "loadbalancer.server.port") {
    try {
      size_t used = 0;
      long v = std::stol(value, &used);
      if (used != value.size() || v < 1 || v > 65535) throw std::out_of_range("port");
      out.ports[name] = static_cast<uint16_t>(v);
    } catch (const std::exception&) {
      r.error(ptr, "invalid port \"" + value + "\" (expected 1..65535)");
    }
  } else if (field == "loadbalancer.server.scheme") {
    out.schemes[name] = value;
  }
}

/// A service's traefik_labels array at `lp`; labels that are not key=value or not traefik.http.* are ignored.
ServiceLabels read_traefik_labels(FileReader& r, const json& labels, const std::string& lp, const StackRoute& origin) {
  static const std::string router_prefix = "traefik.http.routers.";
  static const std::string service_prefix = "traefik.http.services.";
  ServiceLabels out;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!labels[i].is_string()) {
      r.error(child(lp, i), "invalid label " + quoted(labels[i]) + " (expected a string)");
      continue;
    }
    auto label = labels[i].get<std::string>();
    auto eq = label.find('=');
    if (eq == std::string::npos) continue;
    auto key = label.substr(0, eq), value = label.substr(eq + 1);
    if (key.rfind(router_prefix, 0) == 0)
      read_router_label(r, key.substr(router_prefix.size()), value, child(lp, i), origin, out);
    else if (key.rfind(service_prefix, 0) == 0)
      read_service_label(r, key.substr(service_prefix.size()), value, child(lp, i), out);
  }
  return out;
}

/// The routes with their backend port, scheme and router settings. Traefik links a router to the
/// service of the same name, or to the only service declared.
std::vector<StackRoute> link_routes(FileReader& r, ServiceLabels labels) {
  for (auto& route : labels.routes) {
    auto pick = [&](auto& m) -> decltype(m.begin()) {
      auto it = m.find(route.router);
      if (it == m.end() && m.size() == 1) it = m.begin();
      return it;
    };
    if (auto it = pick(labels.ports); it != labels.ports.end()) route.port = it->second;
    if (auto it = pick(labels.schemes); it != labels.schemes.end()) route.scheme = it->second;
    apply_router_labels(r, labels.router_labels[route.router], route);
  }
  return std::move(labels.routes);
}

/// docker_stacks.<stack>.environments.<env>.services.<service>.traefik_labels, for every stack: the
/// environment names (a guest's docker_stacks entry picks one) and the routes.
void read_stacks(const json& doc, Diagnostics& diag, Inventory& inv) {
  FileReader r(kStacksFile, diag);
  const json* stacks = r.object(doc, "", "docker_stacks");
  if (!stacks) return;
  for (auto& [stack, sj] : stacks->items()) {
    auto sp = child("/docker_stacks", stack);
    auto& env_names = inv.stack_environments[stack];
    if (!sj.is_object()) continue;
    const json* envs = r.object(sj, sp, "environments");
    if (!envs) continue;
    for (auto& [env, ej] : envs->items()) {
      env_names.push_back(env);
      auto ep = child(child(sp, "environments"), env);
      if (!ej.is_object()) continue;
      const json* services = r.object(ej, ep, "services");
      if (!services) continue;
      for (auto& [svc, vj] : services->items()) {
        auto vp = child(child(ep, "services"), svc);
        if (!vj.is_object()) continue;
        const json* labels = r.array(vj, vp, "traefik_labels");
        if (!labels) continue;
        StackRoute origin;
        origin.stack = stack;
        origin.environment = env;
        origin.service = svc;
        for (auto& route : link_routes(r, read_traefik_labels(r, *labels, child(vp, "traefik_labels"), origin)))
          inv.stack_routes.push_back(std::move(route));
      }
    }
  }
}

std::optional<std::string> zone_name(FileReader& r, const json& parent, const std::string& ptr, const char* key) {
  auto s = r.string(parent, ptr, key);
  if (!s) return std::nullopt;
  if (!is_valid_hostname(*s)) {
    r.error(child(ptr, key), "invalid zone name \"" + *s + "\"");
    return std::nullopt;
  }
  return normalize_fqdn(*s);
}

/// The keys of dns_server.rate_limit and a view's rate_limit, over `s` (the defaults, or the global
/// settings for a view). An unknown key is an error: a misspelt limit would silently not apply.
void read_rate_limit(FileReader& r, const json& o, const std::string& p, RateLimitSettings& s,
                     std::optional<bool>& enabled) {
  static const std::set<std::string> known = {"enabled", "responses_per_second", "nxdomains_per_second",
                                              "errors_per_second", "window", "slip", "ipv4_prefix",
                                              "ipv6_prefix", "exempt"};
  for (auto it = o.begin(); it != o.end(); ++it)
    if (!known.count(it.key())) r.error(child(p, it.key()), "unknown rate_limit key \"" + it.key() + "\"");
  if (auto v = r.boolean(o, p, "enabled")) enabled = v;
  if (auto v = r.uint(o, p, "responses_per_second", 1000000)) s.responses_per_second = *v;
  if (auto v = r.uint(o, p, "nxdomains_per_second", 1000000)) s.nxdomains_per_second = *v;
  if (auto v = r.uint(o, p, "errors_per_second", 1000000)) s.errors_per_second = *v;
  if (auto v = r.uint(o, p, "window", 3600)) {
    if (*v == 0) r.error(child(p, "window"), "invalid value 0 (expected an integer 1..3600)");
    else s.window = *v;
  }
  if (auto v = r.uint(o, p, "slip", 10)) s.slip = *v;
  if (auto v = r.uint(o, p, "ipv4_prefix", 32)) s.ipv4_prefix = static_cast<uint8_t>(*v);
  if (auto v = r.uint(o, p, "ipv6_prefix", 128)) s.ipv6_prefix = static_cast<uint8_t>(*v);
  if (o.contains("exempt")) {
    s.exempt.clear();
    auto list = r.string_list(o, p, "exempt");
    for (size_t k = 0; k < list.size(); ++k) {
      if (auto pfx = IpPrefix::parse(list[k])) s.exempt.push_back(pfx->network());
      else r.error(child(child(p, "exempt"), k), "\"" + list[k] + "\" is not an address prefix");
    }
  }
}

/// A view's match_keys, match_destinations, transfer and catalog (RFC 5936 / 1995 / 1996 / 9432).
/// Key names are checked against the defined keys afterwards (check_tsig_key_refs), since
/// tsig_keys_file and tsig_keys may come in any order in the file.
void read_view_transfer(FileReader& r, const json& vj, const std::string& p, ViewSpec& v) {
  auto keys = r.string_list(vj, p, "match_keys");
  for (size_t k = 0; k < keys.size(); ++k) {
    if (is_valid_hostname(keys[k])) v.match_keys.push_back(normalize_fqdn(keys[k]));
    else r.error(child(child(p, "match_keys"), k), "invalid TSIG key name \"" + keys[k] + "\"");
  }
  auto dests = r.string_list(vj, p, "match_destinations");
  for (size_t k = 0; k < dests.size(); ++k) {
    if (dests[k] == "any") {
      v.match_destinations.push_back(*IpPrefix::parse("0.0.0.0/0"));
      v.match_destinations.push_back(*IpPrefix::parse("::/0"));
    } else if (auto pfx = IpPrefix::parse(dests[k])) {
      v.match_destinations.push_back(pfx->network());
    } else {
      r.error(child(child(p, "match_destinations"), k), "\"" + dests[k] + "\" is not an address prefix or \"any\"");
    }
  }
  if (vj.contains("catalog") && !vj["catalog"].is_null()) {
    if (auto c = zone_name(r, vj, p, "catalog")) v.catalog = *c;
  }
  const json* t = r.object(vj, p, "transfer");
  if (!t) return;
  // A new object: a misspelt key would silently leave transfers refused or secondaries unnotified.
  auto tp = child(p, "transfer");
  for (auto& [key, value] : t->items())
    if (key != "allow" && key != "notify")
      r.error(child(tp, key), "unknown key \"" + key + "\" (expected allow, notify)");
  auto allow = r.string_list(*t, tp, "allow");
  for (size_t k = 0; k < allow.size(); ++k) {
    const std::string& a = allow[k];
    auto ap = child(child(tp, "allow"), k);
    TransferAllow entry;
    entry.where = r.at(ap);
    if (a.rfind("key:", 0) == 0) {
      std::string name = a.substr(4);
      if (!is_valid_hostname(name)) {
        r.error(ap, "invalid TSIG key name \"" + name + "\" (expected \"key:NAME\")");
        continue;
      }
      entry.key = normalize_fqdn(name);
    } else if (a == "any") {
      v.transfer.allow.push_back({IpPrefix::parse("0.0.0.0/0"), "", entry.where});
      entry.prefix = IpPrefix::parse("::/0");
    } else if (auto pfx = IpPrefix::parse(a)) {
      entry.prefix = pfx->network();
    } else {
      r.error(ap, "\"" + a + "\" is not an address prefix or \"key:NAME\"");
      continue;
    }
    v.transfer.allow.push_back(std::move(entry));
  }
  const json* notify = r.array(*t, tp, "notify");
  if (!notify) return;
  auto np = child(tp, "notify");
  for (size_t k = 0; k < notify->size(); ++k) {
    const json& nj = (*notify)[k];
    auto ep = child(np, k);
    if (!nj.is_object()) {
      r.error(ep, "invalid value " + quoted(nj) + " (expected {\"address\", \"key\"})");
      continue;
    }
    for (auto& [key, value] : nj.items())
      if (key != "address" && key != "key")
        r.error(child(ep, key), "unknown key \"" + key + "\" (expected address, key)");
    NotifyTarget target;
    target.where = r.at(ep);
    auto addr = r.string(nj, ep, "address", true);
    if (!addr) continue;
    auto e = Endpoint::parse(*addr, 53);
    if (!e) {
      r.error(child(ep, "address"), "\"" + *addr + "\" is not an address or address:port");
      continue;
    }
    target.address = *e;
    if (auto key = r.string(nj, ep, "key")) {
      if (!is_valid_hostname(*key)) {
        r.error(child(ep, "key"), "invalid TSIG key name \"" + *key + "\"");
        continue;
      }
      target.key = normalize_fqdn(*key);
    }
    v.transfer.notify.push_back(std::move(target));
  }
}

/// dns_server.tsig_keys_file (tsig-keygen format, relative to the inventory directory) and
/// dns_server.tsig_keys (inline), merged into d.tsig_keys; a name defined twice is an error.
void read_tsig_settings(FileReader& r, const json& dns, const std::string& dp, const std::filesystem::path& dir,
                        DnsSettings& d) {
  if (auto file = r.string(dns, dp, "tsig_keys_file")) {
    std::filesystem::path path = std::filesystem::path(*file).is_absolute() ? std::filesystem::path(*file) : dir / *file;
    std::error_code ec;
    if (file->empty() || !std::filesystem::is_regular_file(path, ec))
      r.error(child(dp, "tsig_keys_file"), "cannot read TSIG key file \"" + *file + "\" (not found or not a file)");
    else
      read_tsig_key_file(path.string(), *file, d.tsig_keys, r.diagnostics());
  }
  if (auto it = dns.find("tsig_keys"); it != dns.end() && !it->is_null())
    read_tsig_keys_json(*it, r.file(), child(dp, "tsig_keys"), d.tsig_keys, r.diagnostics());
}

/// Every key a view names (match_keys, transfer.allow, transfer.notify) must be defined.
void check_tsig_key_refs(FileReader& r, const DnsSettings& d) {
  auto check = [&](const std::string& name, const std::string& ptr) {
    if (!find_tsig_key(d.tsig_keys, name))
      r.error(ptr, "TSIG key \"" + name + "\" is not defined (in dns_server.tsig_keys or tsig_keys_file)");
  };
  for (const auto& v : d.views) {
    const std::string& p = v.where.pointer;
    for (size_t k = 0; k < v.match_keys.size(); ++k) check(v.match_keys[k], child(child(p, "match_keys"), k));
    for (const auto& a : v.transfer.allow)
      if (!a.key.empty()) check(a.key, a.where.pointer);
    for (const auto& n : v.transfer.notify)
      if (!n.key.empty()) check(n.key, child(n.where.pointer, "key"));
  }
}

/// One object of dns_server.views. `dns` holds the global settings read so far (a view's rate_limit
/// starts from them) and the views before this one (a name may appear once).
std::optional<ViewSpec> read_view(FileReader& r, const json& vj, const std::string& p, const DnsSettings& dns) {
  if (!vj.is_object()) {
    r.error(p, "invalid view " + quoted(vj) + " (expected an object)");
    return std::nullopt;
  }
  ViewSpec v;
  v.where = r.at(p);
  v.name = r.string(vj, p, "name", true).value_or("");
  if (v.name.empty()) return std::nullopt;
  if (std::any_of(dns.views.begin(), dns.views.end(), [&](const ViewSpec& o) { return o.name == v.name; }))
    r.error(child(p, "name"), "duplicate view \"" + v.name + "\"");
  auto clients = r.string_list(vj, p, "match_clients");
  // A view only signed requests select (BIND's match-clients { key NAME; }) needs no addresses.
  if (clients.empty() && !vj.contains("match_keys"))
    r.error(p, "view \"" + v.name + "\" has no \"match_clients\"");
  for (size_t k = 0; k < clients.size(); ++k) {
    const auto& c = clients[k];
    if (c == "any") {
      v.match_clients.push_back(*IpPrefix::parse("0.0.0.0/0"));
      v.match_clients.push_back(*IpPrefix::parse("::/0"));
    } else if (auto pfx = IpPrefix::parse(c)) {
      v.match_clients.push_back(*pfx);
    } else {
      r.error(child(child(p, "match_clients"), k), "\"" + c + "\" is not an address prefix or \"any\"");
    }
  }
  if (vj.contains("zones")) {
    std::vector<std::string> zones;
    for (auto& z : r.string_list(vj, p, "zones")) zones.push_back(normalize_fqdn(z));
    v.zones = zones;
  }
  v.horizon = r.string(vj, p, "horizon").value_or(v.name == "internal" ? "internal" : "external");
  if (v.horizon != "internal" && v.horizon != "external")
    r.error(child(p, "horizon"), "invalid horizon \"" + v.horizon + "\" (expected internal or external)");
  v.recursion = r.boolean(vj, p, "recursion");
  if (auto it = vj.find("rate_limit"); it != vj.end() && !it->is_null()) {
    // true/false turn the global numbers on or off here; an object also overrides some of them.
    RateLimitSettings rl = dns.rate_limit;
    std::optional<bool> on = true;
    if (it->is_boolean()) on = it->get<bool>();
    else if (it->is_object()) read_rate_limit(r, *it, child(p, "rate_limit"), rl, on);
    else r.error(child(p, "rate_limit"), "invalid value " + quoted(*it) + " (expected true, false or an object)");
    rl.enabled = on.value_or(true);
    v.rate_limit = rl;
  }
  read_view_transfer(r, vj, p, v);
  return v;
}

void read_views(FileReader& r, const json& dns, const std::string& dp, DnsSettings& out) {
  const json* views = r.array(dns, dp, "views");
  if (!views) return;
  auto vp = child(dp, "views");
  for (size_t i = 0; i < views->size(); ++i)
    if (auto v = read_view(r, (*views)[i], child(vp, i), out)) out.views.push_back(std::move(*v));
}

/// What the forwarder needs: upstreams, timeouts, cache bounds, rebinding exceptions.
void read_forwarding(FileReader& r, const json& dns, const std::string& dp, DnsSettings& d) {
  auto ups = r.string_list(dns, dp, "upstream_servers");
  for (size_t i = 0; i < ups.size(); ++i) {
    if (auto e = Endpoint::parse(ups[i], 53)) d.upstreams.push_back(*e);
    else r.error(child(child(dp, "upstream_servers"), i), "\"" + ups[i] + "\" is not an address or address:port");
  }
  if (auto v = r.uint(dns, dp, "forward_timeout_ms", 60000)) d.forward.timeout_ms = *v;
  if (auto v = r.uint(dns, dp, "forward_total_timeout_ms", 60000)) d.forward.total_timeout_ms = *v;
  if (auto v = r.uint(dns, dp, "cache_max_bytes", 1u << 30)) d.forward.cache_max_bytes = *v;
  if (auto v = r.uint(dns, dp, "cache_max_ttl", 2147483647)) d.forward.cache_max_ttl = *v;
  if (auto v = r.uint(dns, dp, "cache_max_negative_ttl", 2147483647)) d.forward.cache_max_negative_ttl = *v;
  auto allow = r.string_list(dns, dp, "rebind_allow");
  for (size_t i = 0; i < allow.size(); ++i) {
    if (is_valid_hostname(allow[i])) d.forward.rebind_allow.push_back(normalize_fqdn(allow[i]));
    else r.error(child(child(dp, "rebind_allow"), i), "invalid domain name \"" + allow[i] + "\"");
  }
  d.forward.search_single_label = r.boolean(dns, dp, "search_single_label").value_or(false);
}

void read_listen(FileReader& r, const json& dns, const std::string& dp, DnsSettings& d) {
  auto listen = r.string_list(dns, dp, "listen");
  for (size_t i = 0; i < listen.size(); ++i) {
    if (auto e = Endpoint::parse(listen[i], 53)) d.listen.push_back(*e);
    else r.error(child(child(dp, "listen"), i), "\"" + listen[i] + "\" is not an address or address:port");
  }
}

void read_chaos(FileReader& r, const json& dns, const std::string& dp, DnsSettings& d) {
  const json* ch = r.object(dns, dp, "chaos");
  if (!ch) return;
  // One TXT character-string each (RFC 1035 §3.3: at most 255 octets).
  auto cp = child(dp, "chaos");
  for (auto [key, out] : {std::pair{"version", &d.chaos_version}, std::pair{"identity", &d.chaos_identity}}) {
    auto v = r.string(*ch, cp, key, false);
    if (v && v->size() > 255) r.error(child(cp, key), "invalid text (longer than 255 characters)");
    else *out = v;
  }
}

void read_metrics(FileReader& r, const json& dns, const std::string& dp, DnsSettings& d) {
  const json* m = r.object(dns, dp, "metrics");
  if (!m) return;
  // A new object: a key we do not know is an error rather than a silently missing endpoint.
  auto mp = child(dp, "metrics");
  for (auto& [key, value] : m->items())
    if (key != "listen") r.error(child(mp, key), "unknown key \"" + key + "\" (expected \"listen\")");
  if (auto l = r.string(*m, mp, "listen", true)) {
    if (auto e = Endpoint::parse(*l, 9153)) d.metrics_listen = *e;
    else r.error(child(mp, "listen"), "\"" + *l + "\" is not an address or address:port");
  }
}

void read_dnstap(FileReader& r, const json& dns, const std::string& dp, DnsSettings& d) {
  const json* t = r.object(dns, dp, "dnstap");
  if (!t) return;
  auto tp = child(dp, "dnstap");
  for (auto& [key, value] : t->items())
    if (key != "socket" && key != "file" && key != "queries" && key != "responses")
      r.error(child(tp, key), "unknown key \"" + key + "\" (expected socket, file, queries, responses)");
  DnstapSettings ts;
  auto socket = r.string(*t, tp, "socket"), file = r.string(*t, tp, "file");
  ts.queries = r.boolean(*t, tp, "queries").value_or(true);
  ts.responses = r.boolean(*t, tp, "responses").value_or(true);
  if (socket.has_value() == file.has_value()) {
    r.error(tp, "expected exactly one of \"socket\" and \"file\"");
  } else {
    const char* key = socket ? "socket" : "file";
    const std::string& path = socket ? *socket : *file;
    // The server's working directory is not the inventory's: a relative path would mean different files.
    if (path.empty() || path[0] != '/') r.error(child(tp, key), "\"" + path + "\" is not an absolute path");
    else (socket ? ts.socket : ts.file) = path;
    if (!ts.socket.empty() || !ts.file.empty()) d.dnstap = ts;
  }
}

/// One record of an authoritative_zones entry; nullopt (with the error said) when unusable.
std::optional<ExplicitRecord> read_explicit_record(FileReader& r, const json& rj, const std::string& rp,
                                                   const std::string& zone) {
  if (!rj.is_object()) {
    r.error(rp, "invalid record " + quoted(rj) + " (expected an object)");
    return std::nullopt;
  }
  ExplicitRecord rec;
  rec.zone = zone;
  rec.where = r.at(rp);
  rec.hostname = r.string(rj, rp, "hostname", true).value_or("");
  if (rec.hostname.empty()) return std::nullopt;
  if (rec.hostname != "@" && !is_valid_hostname(rec.hostname)) {
    r.error(child(rp, "hostname"), "invalid host name \"" + rec.hostname + "\"");
    return std::nullopt;
  }
  rec.ip_internal = r.address(rj, rp, "ip_internal");
  rec.ip_external = r.address(rj, rp, "ip_external");
  if (!rec.ip_internal && !rec.ip_external) {
    if (!rj.contains("ip_internal") && !rj.contains("ip_external"))
      r.error(rp, "record \"" + rec.hostname + "\" has neither \"ip_internal\" nor \"ip_external\"");
    return std::nullopt;
  }
  return rec;
}

void read_authoritative_zones(FileReader& r, const json& dns, const std::string& dp, DnsSettings& d) {
  const json* zones = r.array(dns, dp, "authoritative_zones");
  if (!zones) return;
  auto zp = child(dp, "authoritative_zones");
  for (size_t i = 0; i < zones->size(); ++i) {
    const json& zj = (*zones)[i];
    auto p = child(zp, i);
    if (!zj.is_object()) {
      r.error(p, "invalid zone " + quoted(zj) + " (expected an object)");
      continue;
    }
    auto zname = zone_name(r, zj, p, "zone_name");
    if (!zname) {
      if (!zj.contains("zone_name")) r.error(p, "missing required field \"zone_name\"");
      continue;
    }
    const json* recs = r.array(zj, p, "records");
    if (!recs) continue;
    for (size_t k = 0; k < recs->size(); ++k)
      if (auto rec = read_explicit_record(r, (*recs)[k], child(child(p, "records"), k), *zname))
        d.explicit_records.push_back(std::move(*rec));
  }
}

/// dns_server.zone_files; a relative file name is relative to the inventory directory `dir`.
void read_zone_files(FileReader& r, const json& dns, const std::string& dp, const std::filesystem::path& dir,
                     DnsSettings& d) {
  const json* files = r.array(dns, dp, "zone_files");
  if (!files) return;
  auto fp = child(dp, "zone_files");
  for (size_t i = 0; i < files->size(); ++i) {
    const json& fj = (*files)[i];
    auto p = child(fp, i);
    if (!fj.is_object()) {
      r.error(p, "invalid zone file entry " + quoted(fj) + " (expected an object)");
      continue;
    }
    ZoneFileSpec z;
    z.where = r.at(p);
    auto file = r.string(fj, p, "file", true);
    auto origin = zone_name(r, fj, p, "origin");
    if (!file) continue;
    if (!origin) {
      if (!fj.contains("origin")) r.error(p, "missing required field \"origin\"");
      continue;
    }
    z.file = std::filesystem::path(*file).is_absolute() ? std::filesystem::path(*file) : dir / *file;
    z.origin = *origin;
    z.views = r.string_list(fj, p, "views");
    d.zone_files.push_back(std::move(z));
  }
}

/// dns_server: each stage reads its own keys; their order is the order of the messages.
void read_dns(FileReader& r, const json& doc, const std::filesystem::path& dir, Inventory& inv) {
  DnsSettings& d = inv.dns;
  const json* dns = r.object(doc, "", "dns_server");
  if (!dns) return;
  const std::string dp = "/dns_server";
  d.where = r.at(dp);
  d.enabled = r.boolean(*dns, dp, "enabled").value_or(true);
  read_forwarding(r, *dns, dp, d);
  read_listen(r, *dns, dp, d);
  d.internal_zone = zone_name(r, *dns, dp, "internal_zone");
  d.external_zone = zone_name(r, *dns, dp, "external_zone");
  d.gateway_ip = r.address(*dns, dp, "gateway_ip");
  if (auto ttl = r.uint(*dns, dp, "ttl", 2147483647)) d.ttl = *ttl;
  d.require_cookie = r.boolean(*dns, dp, "require_cookie").value_or(false);
  if (const json* rl = r.object(*dns, dp, "rate_limit"))
    read_rate_limit(r, *rl, child(dp, "rate_limit"), d.rate_limit, d.rate_limit_enabled);
  read_tsig_settings(r, *dns, dp, dir, d);
  read_views(r, *dns, dp, d);
  check_tsig_key_refs(r, d);
  read_chaos(r, *dns, dp, d);
  read_metrics(r, *dns, dp, d);
  read_dnstap(r, *dns, dp, d);
  read_authoritative_zones(r, *dns, dp, d);
  read_zone_files(r, *dns, dp, dir, d);
}

/// The global rules: "firewall" or "shared_volumes.firewall" (real files have used both), each an
/// object or a bare list of rules. Both present: the top-level one is used, and the other is named.
void read_global_firewall(FileReader& r, const json& doc, Inventory& inv) {
  auto section = [&](const json& parent, const std::string& ptr) -> const json* {
    auto it = parent.find("firewall");
    if (it == parent.end() || it->is_null()) return nullptr;
    if (!it->is_object() && !it->is_array()) {
      r.error(child(ptr, "firewall"), "invalid value " + quoted(*it) + " (expected an object or a list of rules)");
      return nullptr;
    }
    return &*it;
  };
  const json* top = section(doc, "");
  const json* shared = nullptr;
  if (const json* sv = r.object(doc, "", "shared_volumes")) shared = section(*sv, "/shared_volumes");
  if (top && shared)
    r.warning("/shared_volumes/firewall", "ignored: the global firewall at /firewall is used (remove one of the two)");
  if (top) inv.host.firewall = read_firewall(r, *top, "/firewall", true);
  else if (shared) inv.host.firewall = read_firewall(r, *shared, "/shared_volumes/firewall", true);
  const Firewall& fw = inv.host.firewall;
  if (fw.present && !fw.enabled_given && !fw.rules.empty())
    r.warning(fw.where.pointer, "no \"enabled\": cluster.fw is written with enable: 0, and no rule applies anywhere");
}

/// network: the host address and subnet, the Portainer agent port, the host's own resolvers.
void read_network(FileReader& r, const json& doc, Inventory& inv) {
  const json* net = r.object(doc, "", "network");
  if (!net) {
    r.error("", "missing required field \"network\"");
    return;
  }
  std::optional<IpPrefix> host;
  auto ifp = std::string("/network/interfaces");
  auto it = net->find("interfaces");
  const json* iface = nullptr;
  if (it != net->end() && it->is_object()) iface = &*it;
  else if (it != net->end() && it->is_array() && !it->empty() && (*it)[0].is_object()) {
    iface = &(*it)[0];
    ifp += "/0";
  }
  if (!iface) {
    r.error("/network", "missing required field \"interfaces\" (with the host's \"address\")");
  } else if (auto addr = r.string(*iface, ifp, "address", true)) {
    host = IpPrefix::parse(*addr);
    if (!host || !host->addr.is_v4()) {
      r.error(ifp + "/address", "\"" + *addr + "\" is not an IPv4 address/prefix");
      host.reset();
    } else {
      inv.host.address = *host;
    }
  }
  if (auto subnet = r.string(*net, "/network", "default_subnet")) {
    auto p = IpPrefix::parse(*subnet);
    if (!p || !p->addr.is_v4()) r.error("/network/default_subnet", "\"" + *subnet + "\" is not an IPv4 prefix");
    else inv.host.default_subnet = p->network();
  } else if (host) {
    r.warning("/network", "no \"default_subnet\"; using the host's network " + host->network().to_string());
    inv.host.default_subnet = host->network();
  }
  if (auto p = r.port(*net, "/network", "portainer_agent_port")) inv.host.portainer_agent_port = *p;
  if (iface) {
    inv.host.interface_name = r.string(*iface, ifp, "name").value_or("");
    inv.host.dns_nameservers = r.string_list(*iface, ifp, "dns_nameservers");
    inv.host.dns_nameservers_where = r.at(child(ifp, "dns_nameservers"));
  }
}

void read_hypervisor(const json& doc, const std::filesystem::path& dir, Diagnostics& diag, Inventory& inv) {
  FileReader r(kHypervisorFile, diag);
  auto domain = r.string(doc, "", "domain_name", true);
  if (domain) {
    if (!is_valid_hostname(*domain) || domain->find('.') == std::string::npos)
      r.error("/domain_name", "invalid domain name \"" + *domain + "\" (expected at least two labels)");
    else
      inv.host.domain_name = normalize_fqdn(*domain);
  }
  read_network(r, doc, inv);
  read_global_firewall(r, doc, inv);
  read_dns(r, doc, dir, inv);
}

/// Each guest's docker_stacks entry names a stack, and an environment of it, that the stacks file has.
void check_stack_refs(const Inventory& inv, Diagnostics& diag) {
  for (auto& g : inv.guests)
    for (auto& ref : g.docker_stacks) {
      auto it = inv.stack_environments.find(ref.name);
      if (it == inv.stack_environments.end()) {
        diag.warning(ref.where.file, ref.where.pointer,
                     g.describe() + " runs stack \"" + ref.name + "\", which " + kStacksFile + " does not define");
        continue;
      }
      if (ref.environment.empty() ||
          std::find(it->second.begin(), it->second.end(), ref.environment) != it->second.end())
        continue;
      std::string known;
      for (auto& e : it->second) known += (known.empty() ? "" : ", ") + e;
      diag.warning(ref.where.file, ref.where.pointer + "/environment",
                   "stack \"" + ref.name + "\" has no environment \"" + ref.environment + "\" (it has: " +
                       (known.empty() ? "none" : known) + "); none of its routes runs on " + g.describe());
    }
}

}  // namespace

LoadResult load_inventory(const std::filesystem::path& dir) {
  LoadResult result;
  Diagnostics& diag = result.diagnostics;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    diag.error(dir.string(), "", "cannot read inventory (not a directory)");
    return result;
  }
  Inventory inv;
  inv.dir = dir;
  if (auto doc = read_json(dir / kHypervisorFile, kHypervisorFile, true, diag)) read_hypervisor(*doc, dir, diag, inv);
  // A missing guest file is said once, here, by name: every later message that depends on those
  // guests (no gateway, no backend) can then point at it instead of guessing.
  for (auto [file, what] : {std::pair{kLxcFile, "no LXC guests"}, std::pair{kVmFile, "no virtual machines"}}) {
    if (std::filesystem::exists(dir / file, ec)) continue;
    diag.warning(file, "", std::string(what) + ": " + file + " not found");
    inv.missing_files.push_back(file);
  }
  if (auto doc = read_json(dir / kLxcFile, kLxcFile, false, diag)) read_lxcs(*doc, diag, inv);
  if (auto doc = read_json(dir / kVmFile, kVmFile, false, diag)) read_vms(*doc, diag, inv);
  if (auto doc = read_json(dir / kStacksFile, kStacksFile, false, diag)) {
    read_stacks(*doc, diag, inv);
    check_stack_refs(inv, diag);
  }
  if (!diag.has_errors()) result.inventory = std::move(inv);
  return result;
}

bool Guest::runs(const std::string& stack, const std::string& environment) const {
  return std::any_of(docker_stacks.begin(), docker_stacks.end(), [&](const StackRef& s) {
    return s.name == stack && (s.environment.empty() || s.environment == environment);
  });
}

std::string Guest::describe() const {
  return std::string(kind == Kind::lxc ? "lxc " : "vm ") + std::to_string(id) + " (" + name + ")";
}

}  // namespace phoenix::horizon
