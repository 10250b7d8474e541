#include "audit.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <yaml-cpp/yaml.h>

#include "deployed_fw.hpp"
#include "text.hpp"

namespace phoenix::netgen::deployed {
namespace {

namespace fs = std::filesystem;
using horizon::Location;

Location child(Location l, const std::string& key) {
  l.pointer += "/" + key;
  return l;
}

/// The Proxmox command that switches the NIC's firewall flag on, keeping the rest of its settings.
std::string firewall_on_command(const GuestConf& c, const Nic& nic) {
  std::vector<std::string> parts;
  bool set = false;
  for (auto& p : split(nic.value, ',')) {
    if (p.rfind("firewall=", 0) == 0) {
      parts.push_back("firewall=1");
      set = true;
    } else {
      parts.push_back(p);
    }
  }
  if (!set) parts.push_back("firewall=1");
  return std::string(c.kind == GuestConf::Kind::lxc ? "pct" : "qm") + " set " + std::to_string(c.vmid) + " -net" +
         std::to_string(nic.index) + " " + join(parts, ",");
}

class Auditor {
 public:
  Auditor(const Model& m, const AuditInput& in) : m_(m), in_(in) {}

  std::vector<AuditFinding> run() {
    for (auto& p : in_.tree->problems) add(Severity::error, "deployed-invalid", p.message, p.file, p.line, std::nullopt);
    firewall();
    guests();
    for (auto& p : in_.proxies) proxy(p);
    std::stable_sort(out_.begin(), out_.end(), [](auto& a, auto& b) { return a.severity < b.severity; });
    return std::move(out_);
  }

 private:
  void add(Severity s, std::string code, std::string msg, std::string file, size_t line, std::optional<Location> inv) {
    out_.push_back({s, std::move(code), std::move(msg), std::move(file), line, std::move(inv)});
  }

  const RuleSet* set_for(const std::string& name) const {
    if (name == "cluster.fw") return &in_.fw->cluster;
    for (auto& s : in_.fw->guests)
      if (s.file_name() == name) return &s;
    return nullptr;
  }

  void firewall() {
    const PveTree& t = *in_.tree;
    std::set<unsigned> generated_ids;
    for (auto& g : in_.generated_fw) {
      FwFile gen = parse_fw_file(g.content, "generated " + g.path);
      const RuleSet* set = set_for(g.path);
      Location inv = set ? set->where : Location{};
      std::string path = (t.firewall_dir / g.path).string();
      const FwFile* dep = nullptr;
      if (g.path == "cluster.fw") {
        dep = t.cluster ? &*t.cluster : nullptr;
      } else if (auto id = parse_vmid(fs::path(g.path).stem().string())) {
        generated_ids.insert(*id);
        auto it = t.guest_fw.find(*id);
        dep = it == t.guest_fw.end() ? nullptr : &it->second;
      }
      if (!dep) {
        add(Severity::error, "file-missing", g.path + " is not deployed: none of its " + std::to_string(gen.rules.size()) +
            " rules and options apply", path, 0, inv);
        continue;
      }
      options(gen, *dep, g.path == "cluster.fw", inv);
      rules(gen, *dep, set, inv);
    }
    // A node's host.fw filters that host besides cluster.fw's rules; the inventory has no such level.
    for (auto& [node, f] : t.host_fw) {
      size_t live = std::count_if(f.rules.begin(), f.rules.end(), [](auto& r) { return r.enabled; });
      if (live)
        add(Severity::warning, "host-rules", "node " + node + " has " + std::to_string(live) +
            " enabled rules of its own; they filter its traffic too, and the inventory does not describe them",
            f.path, f.rules.front().line, std::nullopt);
      if (!f.flag("enable", true))
        add(Severity::warning, "host-disabled", "node " + node + " has enable: 0: cluster.fw's rules do not filter it",
            f.path, f.option_line("enable"), std::nullopt);
    }
    for (auto& [id, f] : t.guest_fw) {
      if (generated_ids.count(id)) continue;
      std::string name = std::to_string(id) + ".fw";
      size_t live = std::count_if(f.rules.begin(), f.rules.end(), [](auto& r) { return r.enabled; });
      std::string what = std::to_string(live) + " enabled rules, still live";
      if (in_.fw_manifest.owns(name))
        add(Severity::error, "stale-file", name + " was written by netgen but the inventory no longer produces it (" + what +
            "); apply removes it", f.path, 0, std::nullopt);
      else
        add(Severity::warning, "foreign-file", name + " was not written by netgen and the inventory has no rules for VMID " +
            std::to_string(id) + " (" + what + "); apply leaves it alone", f.path, 0, std::nullopt);
    }
  }

  void options(const FwFile& gen, const FwFile& dep, bool cluster, const Location& inv) {
    bool gen_on = gen.flag("enable", false), dep_on = dep.flag("enable", false);
    size_t line = dep.option_line("enable");
    if (cluster && !dep_on)
      add(gen_on ? Severity::error : Severity::warning, "cluster-disabled",
          "cluster.fw has enable: 0: no firewall rule applies anywhere, guests included" +
              std::string(gen_on ? " (the inventory enables it)" : ""),
          dep.path, line, child(inv, "enabled"));
    else if (gen_on != dep_on)
      add(Severity::error, "enable-differs",
          std::string("enable is ") + (dep_on ? "1" : "0") + " deployed, " + (gen_on ? "1" : "0") + " in the inventory",
          dep.path, line, child(inv, "enabled"));
    for (auto [key, fallback, json_key] : {std::tuple{"policy_in", "DROP", "default_input_policy"},
                                           std::tuple{"policy_out", "ACCEPT", "default_output_policy"}}) {
      std::string g = upper(gen.option(key).value_or(fallback)), d = upper(dep.option(key).value_or(fallback));
      if (g != d)
        add(Severity::error, "policy-differs", std::string(key) + " is " + d + " deployed, " + g + " in the inventory",
            dep.path, dep.option_line(key), cluster ? child(inv, json_key) : inv);
    }
  }

  /// Rule lists compared in order (first match wins): the longest common subsequence is "the same";
  /// the rest is missing, extra, or the same rule at another place.
  void rules(const FwFile& gen, const FwFile& dep, const RuleSet* set, const Location& inv) {
    const auto &a = gen.rules, &b = dep.rules;
    const FwFile* cluster = in_.tree->cluster ? &*in_.tree->cluster : nullptr;
    std::vector<std::string> ka, kb;
    for (auto& r : a) ka.push_back(canonical_rule(r, &gen, nullptr).key());
    for (auto& r : b) kb.push_back(canonical_rule(r, &dep, cluster).key());
    std::vector<std::vector<size_t>> lcs(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
    for (size_t i = a.size(); i-- > 0;)
      for (size_t j = b.size(); j-- > 0;)
        lcs[i][j] = ka[i] == kb[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    std::vector<bool> a_matched(a.size()), b_matched(b.size());
    for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
      if (ka[i] == kb[j]) {
        a_matched[i++] = b_matched[j++] = true;
      } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
        ++i;
      } else {
        ++j;
      }
    }
    auto rule_where = [&](size_t i) {
      return set && i < set->merged.size() ? std::optional(set->merged[i].where) : std::optional(inv);
    };
    for (size_t i = 0; i < a.size(); ++i) {
      if (a_matched[i]) continue;
      auto moved = std::find_if(b.begin(), b.end(), [&](auto& r) {
        return !b_matched[&r - b.data()] && kb[&r - b.data()] == ka[i];
      });
      if (moved != b.end()) {
        b_matched[moved - b.begin()] = true;
        add(Severity::error, "rule-order", "\"" + moved->text(false) + "\" is deployed at another position than the inventory's rule " +
            std::to_string(i + 1) + " (first match wins, so the order matters)", dep.path, moved->line, rule_where(i));
        continue;
      }
      auto disabled = std::find_if(b.begin(), b.end(), [&](auto& r) {
        return !b_matched[&r - b.data()] && !r.enabled && "|" + ka[i] == kb[&r - b.data()];
      });
      if (disabled != b.end()) {
        b_matched[disabled - b.begin()] = true;
        add(Severity::error, "rule-disabled", "\"" + a[i].text(false) + "\" is deployed disabled ('|'), so it never matches",
            dep.path, disabled->line, rule_where(i));
        continue;
      }
      add(Severity::error, "rule-missing", "\"" + a[i].text(false) + "\" is in the inventory but not deployed",
          dep.path, dep.rules_line, rule_where(i));
    }
    for (size_t j = 0; j < b.size(); ++j)
      if (!b_matched[j])
        add(Severity::error, "rule-extra", "\"" + b[j].text(false) + "\" is deployed but not in the inventory",
            dep.path, b[j].line, inv);
  }

  void guests() {
    const PveTree& t = *in_.tree;
    std::set<unsigned> known;
    for (auto& g : m_.inventory().guests) {
      known.insert(g.id);
      bool lxc = g.kind == horizon::Guest::Kind::lxc;
      auto it = t.guests.find(g.id);
      if (it == t.guests.end()) {
        add(Severity::warning, "guest-missing", g.describe() + " has no " + (lxc ? "lxc/" : "qemu-server/") +
            std::to_string(g.id) + ".conf under " + t.root.string() + " (nor under nodes/*/)", t.root.string(), 0, g.where);
        continue;
      }
      const GuestConf& c = it->second;
      if ((c.kind == GuestConf::Kind::lxc) != lxc) {
        add(Severity::error, "guest-kind-differs", g.describe() + " is deployed as a " +
            (lxc ? "VM" : "container"), c.path, 0, g.where);
        continue;
      }
      if (!c.name.empty() && lower(c.name) != lower(g.name))
        add(Severity::info, "guest-name-differs", "deployed name \"" + c.name + "\", inventory \"" + g.name + "\"",
            c.path, c.name_line, child(g.where, "name"));
      const Nic* nic = c.nic_for(g.ip ? g.ip->addr.to_string() : "");
      if (g.firewall.present && g.firewall.enabled) {
        if (!nic)
          add(Severity::error, "nic-firewall-off", g.describe() + " has no network device, so none of its rules apply",
              c.path, 0, child(g.firewall.where, "enabled"));
        else if (!nic->firewall.value_or(false))
          add(Severity::error, "nic-firewall-off", "net" + std::to_string(nic->index) +
              (nic->firewall ? " has firewall=0" : " has no firewall=1") +
              ": the inventory enables this guest's firewall, but none of its rules apply to this NIC (fix: " +
              firewall_on_command(c, *nic) + ")",
              c.path, nic->line, child(g.firewall.where, "enabled"));
      }
      if (nic && !nic->ip.empty()) {
        bool dep_dhcp = lower(nic->ip) == "dhcp";
        auto dep_ip = horizon::IpPrefix::parse(nic->ip);
        bool same = g.dhcp ? dep_dhcp : (g.ip && dep_ip && *dep_ip == *g.ip);
        if (!same && (g.ip || g.dhcp))
          add(Severity::error, "guest-ip-differs", "net" + std::to_string(nic->index) + " has ip=" + nic->ip +
              ", the inventory says " + (g.dhcp ? "dhcp" : g.ip->to_string()), c.path, nic->ip_line,
              child(child(g.where, "network_config"), "ip"));
      }
    }
    for (auto& [id, c] : t.guests)
      if (!known.count(id))
        add(Severity::warning, "guest-extra", std::string(c.kind == GuestConf::Kind::lxc ? "container " : "VM ") +
            std::to_string(id) + (c.name.empty() ? "" : " (" + c.name + ")") + " is deployed but not in the inventory",
            c.path, c.name_line, std::nullopt);
  }

  /// One routed name as a proxy file has it: where, and the backends it goes to ("" when the file's
  /// format does not say: Nginx, which always proxies to Traefik, and Traefik TOML).
  struct Routed {
    std::string file;
    size_t line = 0;
    std::set<std::string> backends;
    /// What else the router says that changes how the name is served (Traefik YAML only):
    /// its entry points (any order), middlewares (in order) and TLS with its certificate resolver.
    std::optional<std::string> router;
  };
  using RouteMap = std::map<std::string, Routed>;

  static void host_names(const std::string& rule, const std::string& file, size_t line, const std::set<std::string>& backends,
                         RouteMap& out, const std::optional<std::string>& router = std::nullopt) {
    for (size_t pos = rule.find("Host("); pos != std::string::npos; pos = rule.find("Host(", pos + 5)) {
      size_t close = rule.find(')', pos);
      if (close == std::string::npos) break;
      for (auto& h : split(rule.substr(pos + 5, close - pos - 5), ',')) {
        std::string name = h;
        std::erase_if(name, [](char c) { return c == '`' || c == '"' || c == '\''; });
        if (!name.empty() && !out.count(lower(name))) out[lower(name)] = {file, line, backends, router};
      }
    }
  }

  /// A router's entryPoints, middlewares and tls, in words that compare equal whatever the YAML style.
  static std::string router_settings(const YAML::Node& router) {
    auto names = [](const YAML::Node& n) {
      std::vector<std::string> v;
      if (n && n.IsSequence())
        for (auto e : n)
          if (e.IsScalar()) v.push_back(e.as<std::string>());
      if (n && n.IsScalar()) v.push_back(n.as<std::string>());
      return v;
    };
    auto eps = names(router["entryPoints"]);
    std::sort(eps.begin(), eps.end());
    eps.erase(std::unique(eps.begin(), eps.end()), eps.end());
    std::string s = "entryPoints [" + join(eps, ", ") + "], middlewares [" + join(names(router["middlewares"]), ", ") + "], ";
    YAML::Node tls = router["tls"];
    if (!tls || tls.IsNull() || (tls.IsScalar() && lower(tls.as<std::string>()) == "false")) return s + "no tls";
    s += "tls";
    if (tls.IsMap() && tls["certResolver"] && tls["certResolver"].IsScalar())
      s += " (certResolver " + tls["certResolver"].as<std::string>() + ")";
    return s;
  }

  /// Traefik's dynamic YAML, read with yaml-cpp: http.routers.<r>.rule's Host() names, each with the
  /// URLs of http.services.<service>.loadBalancer.servers.
  void traefik_yaml(const std::string& text, const std::string& file, RouteMap& out) {
    YAML::Node doc;
    try {
      doc = YAML::Load(text);
      YAML::Node http = doc["http"];
      if (!http || !http["routers"]) return;
      for (auto r : http["routers"]) {
        YAML::Node rule = r.second["rule"];
        if (!rule || !rule.IsScalar()) continue;
        std::set<std::string> urls;
        if (auto svc = r.second["service"]; svc && svc.IsScalar() && http["services"])
          if (auto lb = http["services"][svc.as<std::string>()]["loadBalancer"]; lb && lb["servers"])
            for (auto server : lb["servers"])
              if (server["url"] && server["url"].IsScalar()) urls.insert(lower(server["url"].as<std::string>()));
        host_names(rule.as<std::string>(), file, static_cast<size_t>(rule.Mark().line) + 1, urls, out,
                   router_settings(r.second));
      }
    } catch (const YAML::Exception& e) {
      add(Severity::error, "deployed-invalid", "not valid YAML: " + e.msg, file, static_cast<size_t>(e.mark.line) + 1,
          std::nullopt);
    }
  }

  void routed(const std::string& kind, const std::string& text, const std::string& file, RouteMap& out) {
    if (kind == "traefik" && !file.ends_with(".toml")) return traefik_yaml(text, file, out);
    auto lines = lines_of(text);
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string l = trim(lines[i]);
      if (l.empty() || l[0] == '#') continue;
      if (kind == "traefik") {
        host_names(l, file, i + 1, {}, out);
      } else if (l.rfind("server_name", 0) == 0) {
        std::string rest = l.substr(11);
        rest = rest.substr(0, rest.find(';'));
        for (auto& w : split(trim(rest), ' '))
          if (!w.empty() && w != "_" && !out.count(lower(w))) out[lower(w)] = {file, i + 1, {}, std::nullopt};
      }
    }
  }

  void proxy(const AuditInput::Proxy& p) {
    RouteMap deployed, generated;
    std::vector<fs::path> files;
    std::error_code ec;
    bool dir = fs::is_directory(p.deployed, ec);
    if (dir) {
      for (auto& e : fs::directory_iterator(p.deployed, ec)) {
        auto ext = e.path().extension();
        if (ext == ".yml" || ext == ".yaml" || ext == ".toml") files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
    } else if (fs::exists(p.deployed, ec)) {
      files.push_back(p.deployed);
    } else {
      // Nothing deployed and nothing to deploy (netgen refused to write it, e.g. two routes claiming one
      // Host(): `check` and the generator report that) is no difference between host and inventory.
      if (!p.generated.empty())
        add(Severity::error, "route-file-missing", p.kind + " configuration is not deployed", p.deployed.string(), 0,
            std::nullopt);
      return;
    }
    for (auto& f : files) {
      auto text = read_file(f);
      if (!text) add(Severity::error, "deployed-invalid", "cannot be read", f.string(), 0, std::nullopt);
      else routed(p.kind, *text, f.string(), deployed);
    }
    std::string gen_path = dir && !p.generated.empty() ? (p.deployed / p.generated[0].path).string() : p.deployed.string();
    for (auto& g : p.generated) routed(p.kind, g.content, gen_path, generated);
    for (auto& [name, g] : generated) {
      auto d = deployed.find(name);
      if (d == deployed.end())
        add(Severity::error, "route-missing", name + " is routed by the inventory but not by the deployed " + p.kind,
            gen_path, 0, route_location(name));
      else if (!d->second.backends.empty() && !g.backends.empty() && d->second.backends != g.backends)
        add(Severity::error, "route-differs", name + " goes to " + join({d->second.backends.begin(), d->second.backends.end()}, ", ") +
            " deployed, to " + join({g.backends.begin(), g.backends.end()}, ", ") + " in the inventory",
            d->second.file, d->second.line, route_location(name));
      else if (d->second.router && g.router && *d->second.router != *g.router)
        add(Severity::error, "route-differs", name + "'s router has " + *d->second.router + " deployed, " + *g.router +
            " in the inventory", d->second.file, d->second.line, route_location(name));
    }
    for (auto& [name, d] : deployed)
      if (!generated.count(name))
        add(Severity::error, "route-extra", name + " is routed by the deployed " + p.kind + " but not by the inventory",
            d.file, d.line, std::nullopt);
  }

  std::optional<Location> route_location(const std::string& name) const {
    for (auto& r : m_.routes())
      if (std::find(r.hosts.begin(), r.hosts.end(), name) != r.hosts.end() && r.service) return r.service->where;
    return std::nullopt;
  }

  const Model& m_;
  const AuditInput& in_;
  std::vector<AuditFinding> out_;
};

}  // namespace

std::string AuditFinding::format() const {
  std::string s = std::string(severity_text(severity)) + " " + code + ": " + file + ":" + std::to_string(line) + ": " + message;
  if (inventory) s += " [" + inventory->to_string() + "]";
  return s;
}

std::vector<AuditFinding> audit(const Model& m, const AuditInput& in) { return Auditor(m, in).run(); }

}  // namespace phoenix::netgen::deployed
