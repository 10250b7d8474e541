#include "secondary.hpp"

#include <algorithm>
#include <cctype>

#include "horizon/tsig_keys.hpp"

namespace phoenix::netgen {

namespace {

const horizon::TsigKey* find_key(const horizon::HorizonPlan& plan, const std::string& name) {
  auto it = std::find_if(plan.tsig_keys.begin(), plan.tsig_keys.end(), [&](auto& k) { return k.name == name; });
  return it == plan.tsig_keys.end() ? nullptr : &*it;
}

bool allows_key(const horizon::ViewPlan& v, const std::string& key) {
  return std::any_of(v.transfer.allow.begin(), v.transfer.allow.end(), [&](auto& a) { return a.key == key; });
}

/// Everything one secondary needs to know, whatever its syntax.
struct Facts {
  std::string view;
  const horizon::TsigKey* key = nullptr;
  std::string secret;  ///< base64
  horizon::Endpoint primary;
  std::vector<std::string> zones;  ///< without trailing dot
  std::optional<std::string> catalog;  ///< set when the secondary consumes it instead of `zones`
  std::string id;  ///< a name for the primary's remote/pattern/primaries statement
};

std::string header(const Facts& f, const char* comment, const char* server) {
  std::string c = comment;
  std::string s = c + " " + server + " secondary of phoenix-dns view \"" + f.view + "\" at " + f.primary.to_string() +
                  ", written by phoenix-netgen secondary-config.\n";
  if (f.key)
    s += c + " It holds the secret of TSIG key " + f.key->name + ": keep this file readable by the server only.\n";
  if (f.catalog)
    s += c + " The zones come from the catalog " + *f.catalog + " (RFC 9432): new zones of the view appear by\n" + c +
         " themselves.\n";
  return s;
}

std::string knot(const Facts& f) {
  std::string s = header(f, "#", "Knot DNS");
  const std::string remote = f.id, acl = f.id + "-notify";
  if (f.key)
    s += "\nkey:\n  - id: " + f.key->name + "\n    algorithm: " + horizon::tsig_algorithm_name(f.key->algorithm) +
         "\n    secret: " + f.secret + "\n";
  s += "\nremote:\n  - id: " + remote + "\n    address: " + f.primary.addr.to_string() + "@" +
       std::to_string(f.primary.port) + "\n" + (f.key ? "    key: " + f.key->name + "\n" : "");
  // NOTIFY comes from the primary's address (phoenix-dns sends from its listen address).
  s += "\nacl:\n  - id: " + acl + "\n    address: " + f.primary.addr.to_string() + "\n" +
       (f.key ? "    key: " + f.key->name + "\n" : "") + "    action: notify\n";
  const std::string follow = "    master: " + remote + "\n    acl: " + acl + "\n";
  if (f.catalog) {
    s += "\ntemplate:\n  - id: " + f.id + "-member\n" + follow;
    s += "\nzone:\n  - domain: " + *f.catalog + "\n" + follow + "    catalog-role: interpret\n    catalog-template: " +
         f.id + "-member\n";
    return s;
  }
  s += "\nzone:\n";
  for (auto& z : f.zones) s += "  - domain: " + z + "\n" + follow;
  return s;
}

std::string nsd(const Facts& f) {
  std::string s = header(f, "#", "NSD");
  const std::string key = f.key ? f.key->name : "NOKEY";
  if (f.key)
    s += "\nkey:\n    name: \"" + f.key->name + "\"\n    algorithm: " + horizon::tsig_algorithm_name(f.key->algorithm) +
         "\n    secret: \"" + f.secret + "\"\n";
  s += "\npattern:\n    name: \"" + f.id + "\"\n    request-xfr: " + f.primary.addr.to_string() + "@" +
       std::to_string(f.primary.port) + " " + key + "\n    allow-notify: " + f.primary.addr.to_string() + " " + key + "\n";
  for (auto& z : f.zones) s += "\nzone:\n    name: \"" + z + "\"\n    include-pattern: \"" + f.id + "\"\n";
  return s;
}

std::string bind_primary(const Facts& f) {
  return f.primary.addr.to_string() + " port " + std::to_string(f.primary.port) +
         (f.key ? " key \"" + f.key->name + "\"" : "");
}

std::string bind(const Facts& f) {
  std::string s = header(f, "//", "BIND 9");
  if (f.key)
    s += "\nkey \"" + f.key->name + "\" {\n\talgorithm " + horizon::tsig_algorithm_name(f.key->algorithm) +
         ";\n\tsecret \"" + f.secret + "\";\n};\n";
  s += "\nprimaries \"" + f.id + "\" { " + bind_primary(f) + "; };\n";
  const std::string notify = f.key ? "key \"" + f.key->name + "\"" : f.primary.addr.to_string();
  auto zone = [&](const std::string& z) {
    return "\nzone \"" + z + "\" {\n\ttype secondary;\n\tprimaries { \"" + f.id + "\"; };\n\tallow-notify { " + notify +
           "; };\n};\n";
  };
  if (f.catalog) {
    // catalog-zones is an option: merge this block into the server's own options statement.
    s += "\n// catalog-zones belongs in the options statement: merge it into yours.\noptions {\n\tcatalog-zones {\n"
         "\t\tzone \"" + *f.catalog + "\" default-primaries { " + bind_primary(f) + "; } in-memory yes;\n\t};\n};\n";
    s += zone(*f.catalog);
    return s;
  }
  for (auto& z : f.zones) s += zone(z);
  return s;
}

}  // namespace

const horizon::TsigKey* secondary_key(const horizon::HorizonPlan& plan, const horizon::ViewPlan& view) {
  for (auto& a : view.transfer.allow)
    if (!a.key.empty() && std::find(view.match_keys.begin(), view.match_keys.end(), a.key) != view.match_keys.end())
      if (auto* k = find_key(plan, a.key)) return k;
  for (auto& a : view.transfer.allow)
    if (!a.key.empty())
      if (auto* k = find_key(plan, a.key)) return k;
  for (auto& name : view.match_keys)
    if (auto* k = find_key(plan, name)) return k;
  for (auto& t : view.transfer.notify)
    if (!t.key.empty())
      if (auto* k = find_key(plan, t.key)) return k;
  return nullptr;
}

std::optional<std::string> secondary_config(const horizon::HorizonPlan& plan, const zones::Snapshot& snap,
                                            const SecondaryRequest& req, std::string& error,
                                            std::vector<std::string>& notes) {
  auto v = std::find_if(plan.views.begin(), plan.views.end(), [&](auto& x) { return x.name == req.view; });
  auto vd = std::find_if(snap.view_data.begin(), snap.view_data.end(), [&](auto& x) { return x.name == req.view; });
  if (v == plan.views.end() || vd == snap.view_data.end()) {
    error = "no view \"" + req.view + "\" (views:";
    for (auto& x : plan.views) error += " " + x.name;
    error += ")";
    return std::nullopt;
  }
  if (req.server != "knot" && req.server != "nsd" && req.server != "bind") {
    error = "unknown secondary \"" + req.server + "\" (knot, nsd or bind)";
    return std::nullopt;
  }
  Facts f;
  f.view = v->name;
  f.primary = req.primary;
  f.id = "phoenix-" + v->name;
  std::replace_if(f.id.begin(), f.id.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)) && c != '-'; }, '-');
  if (!req.key.empty()) {
    std::string name = req.key;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!name.empty() && name.back() == '.') name.pop_back();
    f.key = find_key(plan, name);
    if (!f.key) {
      error = "no TSIG key \"" + req.key + "\" in the inventory (tsig_keys, tsig_keys_file)";
      return std::nullopt;
    }
  } else {
    f.key = secondary_key(plan, *v);
  }
  if (f.key) {
    f.secret = horizon::encode_base64(f.key->secret);
    if (!allows_key(*v, f.key->name))
      notes.push_back("warning: view \"" + v->name + "\" does not allow transfers signed with key " + f.key->name +
                      " (transfer.allow has no \"key:" + f.key->name + "\"): the secondary will be refused");
    if (std::find(v->match_keys.begin(), v->match_keys.end(), f.key->name) == v->match_keys.end())
      notes.push_back("warning: key " + f.key->name + " is not in view \"" + v->name +
                      "\"'s match_keys: its requests are matched by address instead");
  } else {
    notes.push_back("warning: view \"" + v->name +
                    "\" names no TSIG key: transfers and NOTIFY are authenticated by address only");
    if (v->transfer.allow.empty())
      notes.push_back("warning: view \"" + v->name + "\" has no transfer.allow: every transfer is refused");
  }
  for (auto& z : vd->own_zones()) {
    std::string name = z->origin().to_text();
    if (name.size() > 1) name.pop_back();
    if (v->catalog && name == *v->catalog) continue;
    f.zones.push_back(name);
  }
  const bool consumes_catalog = req.server != "nsd";
  if (v->catalog && consumes_catalog) f.catalog = v->catalog;
  if (v->catalog && !consumes_catalog)
    notes.push_back("note: NSD cannot consume catalog zones (RFC 9432): the zones are listed one by one; "
                    "run secondary-config again when the view's zones change");
  if (req.server == "knot") return knot(f);
  if (req.server == "nsd") return nsd(f);
  return bind(f);
}

}  // namespace phoenix::netgen
