#include "last_good.hpp"

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "horizon/json_number.hpp"
#include "horizon/tsig_keys.hpp"
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

json rate_limit_json(const horizon::RateLimitSettings& r) {
  return {{"enabled", r.enabled},
          {"responses_per_second", r.responses_per_second},
          {"nxdomains_per_second", r.nxdomains_per_second},
          {"errors_per_second", r.errors_per_second},
          {"window", r.window},
          {"slip", r.slip},
          {"ipv4_prefix", r.ipv4_prefix},
          {"ipv6_prefix", r.ipv6_prefix},
          {"exempt", to_strings(r.exempt)}};
}

horizon::RateLimitSettings parse_rate_limit(const json& j) {
  horizon::RateLimitSettings r;
  r.enabled = j.at("enabled").get<bool>();
  r.responses_per_second = horizon::json_whole_number<uint32_t>(j.at("responses_per_second"), "rate_limit.responses_per_second");
  r.nxdomains_per_second = horizon::json_whole_number<uint32_t>(j.at("nxdomains_per_second"), "rate_limit.nxdomains_per_second");
  r.errors_per_second = horizon::json_whole_number<uint32_t>(j.at("errors_per_second"), "rate_limit.errors_per_second");
  r.window = horizon::json_whole_number<uint32_t>(j.at("window"), "rate_limit.window");
  r.slip = horizon::json_whole_number<uint32_t>(j.at("slip"), "rate_limit.slip");
  r.ipv4_prefix = horizon::json_whole_number<uint8_t>(j.at("ipv4_prefix"), "rate_limit.ipv4_prefix");
  r.ipv6_prefix = horizon::json_whole_number<uint8_t>(j.at("ipv6_prefix"), "rate_limit.ipv6_prefix");
  if (r.ipv4_prefix > 32 || r.ipv6_prefix > 128) throw std::runtime_error("rate_limit prefix length out of range");
  r.exempt = parse_list<horizon::IpPrefix>(j.at("exempt"), "rate_limit exempt prefix");
  return r;
}

/// transfer.allow as the inventory writes it: a prefix, or "key:NAME".
json transfer_json(const horizon::TransferSettings& t) {
  json allow = json::array(), notify = json::array();
  for (auto& a : t.allow) allow.push_back(a.prefix ? a.prefix->to_string() : "key:" + a.key);
  for (auto& n : t.notify) notify.push_back({{"address", n.address.to_string()}, {"key", n.key}});
  return {{"allow", allow}, {"notify", notify}};
}

horizon::TransferSettings parse_transfer(const json& j) {
  horizon::TransferSettings t;
  for (auto& a : j.at("allow")) {
    auto text = a.get<std::string>();
    horizon::TransferAllow entry;
    if (text.rfind("key:", 0) == 0 && text.size() > 4) entry.key = text.substr(4);
    else if (auto p = horizon::IpPrefix::parse(text)) entry.prefix = *p;
    else throw std::runtime_error("bad transfer.allow entry \"" + text + "\"");
    t.allow.push_back(std::move(entry));
  }
  for (auto& n : j.at("notify")) {
    auto text = n.at("address").get<std::string>();
    auto ep = horizon::Endpoint::parse(text, 53);
    if (!ep) throw std::runtime_error("bad transfer.notify address \"" + text + "\"");
    t.notify.push_back({*ep, n.at("key").get<std::string>(), {}});
  }
  return t;
}

}  // namespace

std::string last_good_text(const zones::Snapshot& snap, const horizon::HorizonPlan& plan,
                           const std::filesystem::path& inventory, std::string_view written,
                           zones::ZoneTexts* texts) {
  zones::ZoneTexts own;
  if (!texts) texts = &own;
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
      if (fresh) {
        const std::string* text = texts->text(*z);
        if (!text) return "";
        zones_j.push_back({{"origin", z->origin().to_text()}, {"text", *text}});
      }
      zs.push_back(it->second);
    }
    const horizon::ViewPlan* vp = v < plan.views.size() ? &plan.views[v] : nullptr;
    json view = {{"name", vd.name},
                 {"match_clients", vp ? to_strings(vp->match_clients) : json::array()},
                 {"match_destinations", vp ? to_strings(vp->match_destinations) : json::array()},
                 {"match_keys", vp ? json(vp->match_keys) : json::array()},
                 {"recursion", vd.recursion},
                 {"rate_limit", rate_limit_json(vd.rate_limit)},
                 {"transfer", transfer_json(vd.transfer)},
                 {"zones", zs}};
    if (vd.catalog) view["catalog"] = *vd.catalog;
    views_j.push_back(std::move(view));
  }
  // The secrets too: without them a restart on this data answers every signed transfer BADKEY. The
  // file is written 0600 (save_last_good), as a key file should be.
  json keys = json::object();
  for (auto& k : snap.tsig_keys)
    keys[k.name] = {{"algorithm", horizon::tsig_algorithm_name(k.algorithm)}, {"secret", horizon::encode_base64(k.secret)}};
  doc["tsig_keys"] = keys;
  doc["require_cookie"] = snap.require_cookie;
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
      auto destinations = parse_list<horizon::IpPrefix>(vj.at("match_destinations"), "match-destinations prefix");
      auto keys = vj.at("match_keys").get<std::vector<std::string>>();
      zones::ViewData vd;
      vd.name = vj.at("name").get<std::string>();
      vd.recursion = vj.at("recursion").get<bool>();
      vd.rate_limit = parse_rate_limit(vj.at("rate_limit"));
      vd.transfer = parse_transfer(vj.at("transfer"));
      if (vj.contains("catalog")) vd.catalog = vj.at("catalog").get<std::string>();
      snap->rate_limited = snap->rate_limited || vd.rate_limit.enabled;
      for (auto& i : vj.at("zones")) {
        size_t at = horizon::json_whole_number<size_t>(i, "view zone index");
        if (at >= zones.size()) throw std::runtime_error("view " + vd.name + " names zone " + std::to_string(at));
        vd.zones.add(zones[at]);
      }
      snap->views.add_view(vd.name, clients, destinations, keys);
      snap->view_data.push_back(std::move(vd));
    }
    if (snap->view_data.empty()) throw std::runtime_error("no views");
    snap->require_cookie = doc.at("require_cookie").get<bool>();
    horizon::Diagnostics key_diag;
    horizon::read_tsig_keys_json(doc.at("tsig_keys"), kLastGoodFile, "/tsig_keys", snap->tsig_keys, key_diag);
    if (key_diag.has_errors()) throw std::runtime_error(key_diag.items().front().format());
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
                           const horizon::HorizonPlan& plan, const std::filesystem::path& inventory,
                           zones::ZoneTexts* texts) {
  std::string text = last_good_text(snap, plan, inventory, utc_now(), texts);
  if (texts && texts->stopped()) return "";
  return zones::write_file_atomically(dir / kLastGoodFile, text, 0600);
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
