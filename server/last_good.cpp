#include "last_good.hpp"

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "horizon/json_number.hpp"
#include "server/forward/policy.hpp"
#include "server/query/precompiled.hpp"
#include "zones/serial.hpp"
#include "zones/zonefile.hpp"

namespace phoenix::server {
namespace {

using nlohmann::json;
constexpr const char* kFormat = "phoenix-dns last good data";

std::string utc_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

template <class T>
json to_strings(const std::vector<T>& v) {
  json out = json::array();
  for (auto& x : v) out.push_back(x.to_string());
  return out;
}

/// Reads a list of addresses (T = Endpoint or IpPrefix) the way the file writes them; throws on a bad one.
template <class T>
std::vector<T> parse_list(const json& j, const char* what) {
  std::vector<T> out;
  for (auto& s : j) {
    std::optional<T> v;
    if constexpr (std::is_same_v<T, horizon::Endpoint>) v = horizon::Endpoint::parse(s.get<std::string>(), 53);
    else v = horizon::IpPrefix::parse(s.get<std::string>());
    if (!v) throw std::runtime_error(std::string("bad ") + what + " \"" + s.get<std::string>() + "\"");
    out.push_back(*v);
  }
  return out;
}

}  // namespace

std::string last_good_text(const zones::Snapshot& snap, const horizon::HorizonPlan& plan,
                           const std::filesystem::path& inventory, std::string_view written) {
  json doc = {{"format", kFormat}, {"version", kLastGoodVersion}, {"written", written},
              {"inventory", inventory.string()}};
  // A zone served in several views (a zone file, or the same derived zone) is one immutable object: once.
  std::map<const zones::Zone*, size_t> index;
  json zones_j = json::array(), views_j = json::array();
  for (size_t v = 0; v < snap.view_data.size(); ++v) {
    const auto& vd = snap.view_data[v];
    json zs = json::array();
    for (size_t i = 0; i < vd.own_zone_count(); ++i) {
      const zones::Zone* z = vd.zones.zones()[i].get();
      auto [it, fresh] = index.emplace(z, zones_j.size());
      if (fresh) zones_j.push_back({{"origin", z->origin().to_text()}, {"text", zones::zone_to_text(*z)}});
      zs.push_back(it->second);
    }
    views_j.push_back({{"name", vd.name},
                       {"match_clients", v < plan.views.size() ? to_strings(plan.views[v].match_clients) : json::array()},
                       {"recursion", vd.recursion},
                       {"zones", zs}});
  }
  doc["views"] = views_j;
  doc["zones"] = zones_j;
  doc["listen"] = to_strings(plan.listen);
  doc["upstreams"] = to_strings(plan.upstreams);
  const auto& f = snap.forward;
  doc["forward"] = {{"timeout_ms", f.timeout_ms},
                    {"total_timeout_ms", f.total_timeout_ms},
                    {"cache_max_bytes", f.cache_max_bytes},
                    {"cache_max_ttl", f.cache_max_ttl},
                    {"cache_max_negative_ttl", f.cache_max_negative_ttl},
                    {"rebind_allow", f.rebind_allow},
                    {"search_single_label", f.search_single_label},
                    {"search_zone", f.search_zone},
                    {"own_subnets", to_strings(f.own_subnets)}};
  if (plan.chaos_version) doc["chaos"]["version"] = *plan.chaos_version;
  if (plan.chaos_identity) doc["chaos"]["identity"] = *plan.chaos_identity;
  return doc.dump(1) + "\n";
}

std::optional<LastGood> parse_last_good(std::string_view text, std::string& error) {
  try {
    json doc = json::parse(text);
    if (!doc.is_object() || doc.value("format", "") != kFormat) throw std::runtime_error("not a last good data file");
    if (horizon::json_whole_number<int>(doc.at("version"), "version") != kLastGoodVersion)
      throw std::runtime_error("version " + doc.at("version").dump() + ", this build reads version " +
                               std::to_string(kLastGoodVersion));
    LastGood out;
    out.written = doc.at("written").get<std::string>();
    out.inventory = doc.at("inventory").get<std::string>();
    out.listen = parse_list<horizon::Endpoint>(doc.at("listen"), "listen address");
    auto snap = std::make_shared<zones::Snapshot>();
    snap->upstreams = parse_list<horizon::Endpoint>(doc.at("upstreams"), "upstream");
    const json& f = doc.at("forward");
    snap->forward.timeout_ms = horizon::json_whole_number<uint32_t>(f.at("timeout_ms"), "forward.timeout_ms");
    snap->forward.total_timeout_ms = horizon::json_whole_number<uint32_t>(f.at("total_timeout_ms"), "forward.total_timeout_ms");
    snap->forward.cache_max_bytes = horizon::json_whole_number<uint32_t>(f.at("cache_max_bytes"), "forward.cache_max_bytes");
    snap->forward.cache_max_ttl = horizon::json_whole_number<uint32_t>(f.at("cache_max_ttl"), "forward.cache_max_ttl");
    snap->forward.cache_max_negative_ttl = horizon::json_whole_number<uint32_t>(f.at("cache_max_negative_ttl"), "forward.cache_max_negative_ttl");
    snap->forward.rebind_allow = f.at("rebind_allow").get<std::vector<std::string>>();
    snap->forward.search_single_label = f.at("search_single_label").get<bool>();
    snap->forward.search_zone = f.at("search_zone").get<std::string>();
    snap->forward.own_subnets = parse_list<horizon::IpPrefix>(f.at("own_subnets"), "subnet");
    if (doc.contains("chaos")) {
      const json& ch = doc.at("chaos");
      auto text_of = [&](const char* k) {
        return ch.contains(k) ? std::optional<std::string>(ch.at(k).get<std::string>()) : std::nullopt;
      };
      auto version = text_of("version"), identity = text_of("identity");
      if ((version && version->size() > 255) || (identity && identity->size() > 255))
        throw std::runtime_error("CH identity text over 255 octets");
      snap->chaos_version = zones::identity_txt(version);
      snap->chaos_identity = zones::identity_txt(identity);
    }
    std::vector<std::shared_ptr<const zones::Zone>> zones;
    for (auto& zj : doc.at("zones")) {
      auto origin_text = zj.at("origin").get<std::string>();
      auto origin = zones::Name::from_text(origin_text);
      if (!origin) throw std::runtime_error("bad zone origin \"" + origin_text + "\"");
      horizon::Diagnostics diag;
      auto zone = zones::load_zone_text(zj.at("text").get<std::string>(), *origin, "zone " + origin_text, diag);
      if (!zone || diag.has_errors())
        throw std::runtime_error(diag.items().empty() ? "zone " + origin_text + " does not load"
                                                      : diag.items().front().format());
      zones.push_back(std::move(zone));
    }
    for (auto& vj : doc.at("views")) {
      auto clients = parse_list<horizon::IpPrefix>(vj.at("match_clients"), "match-clients prefix");
      zones::ViewData vd;
      vd.name = vj.at("name").get<std::string>();
      vd.recursion = vj.at("recursion").get<bool>();
      for (auto& i : vj.at("zones")) {
        size_t at = horizon::json_whole_number<size_t>(i, "view zone index");
        if (at >= zones.size()) throw std::runtime_error("view " + vd.name + " names zone " + std::to_string(at));
        vd.zones.add(zones[at]);
      }
      snap->views.add_view(vd.name, clients);
      snap->view_data.push_back(std::move(vd));
    }
    if (snap->view_data.empty()) throw std::runtime_error("no views");
    forward::add_locally_served_zones(*snap);
    query::precompile_answers(*snap);
    out.snapshot = std::move(snap);
    return out;
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

std::string save_last_good(const std::filesystem::path& dir, const zones::Snapshot& snap,
                           const horizon::HorizonPlan& plan, const std::filesystem::path& inventory) {
  return zones::write_file_atomically(dir / kLastGoodFile, last_good_text(snap, plan, inventory, utc_now()));
}

std::optional<LastGood> load_last_good(const std::filesystem::path& dir, std::string& error) {
  error.clear();
  auto path = dir / kLastGoodFile;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    error = "cannot read " + path.string();
    return std::nullopt;
  }
  auto out = parse_last_good(text.str(), error);
  if (!out) error = path.string() + ": " + error;
  return out;
}

}  // namespace phoenix::server
