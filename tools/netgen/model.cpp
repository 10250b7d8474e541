#include "model.hpp"

#include <algorithm>
#include <map>

#include "horizon/label.hpp"
#include "horizon/loader.hpp"

namespace phoenix::netgen {

using horizon::Guest;
using horizon::IpAddr;

const char* severity_text(Severity s) {
  switch (s) {
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::info: return "info";
  }
  return "?";
}

std::string Finding::format() const {
  std::string s = std::string(severity_text(severity)) + " " + code + ": " + message;
  if (!where.empty()) {
    s += " [";
    for (size_t i = 0; i < where.size(); ++i) s += (i ? "; " : "") + where[i].to_string();
    s += "]";
  }
  return s;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

std::optional<Model> Model::load(const std::filesystem::path& dir, horizon::Diagnostics& diag) {
  auto loaded = horizon::load_inventory(dir);
  diag.append(loaded.diagnostics);
  if (!loaded.inventory) return std::nullopt;
  Model m;
  m.inv_ = std::move(*loaded.inventory);
  m.plan_ = horizon::derive_plan(m.inv_, m.plan_diag_);
  diag.append(m.plan_diag_);

  // Traefik is not declared as such in the inventory: it is the guest whose service or name says so,
  // or the address an explicit "traefik" record gives (older real files keep it there).
  for (auto& g : m.inv_.guests)
    if (g.ip && g.service && horizon::sanitize_label(g.service->name) == "traefik") {
      m.traefik_ = {g.ip->addr, &g, g.describe() + " declares traefik service traefik"};
      break;
    }
  if (!m.traefik_.ip)
    for (auto& g : m.inv_.guests)
      if (g.ip && horizon::sanitize_label(g.name).rfind("traefik", 0) == 0) {
        m.traefik_ = {g.ip->addr, &g, g.describe() + " is named traefik*"};
        break;
      }
  if (!m.traefik_.ip)
    for (auto& r : m.inv_.dns.explicit_records) {
      std::string host = horizon::normalize_fqdn(r.hostname);
      if (host != "traefik" && host != "traefik." + r.zone) continue;
      auto ip = r.ip_internal ? r.ip_internal : r.ip_external;
      if (!ip) continue;
      m.traefik_ = {ip, m.guest_by_ip(*ip), "explicit record traefik at " + r.where.to_string()};
      break;
    }
  if (!m.traefik_.ip) m.traefik_.reason = "no guest named traefik* and no traefik record";
  m.derive_routes();
  return m;
}

std::string Model::backend_scheme(const horizon::PublishedService& s) {
  std::string scheme = horizon::normalize_fqdn(s.scheme);
  if (scheme == "http" || scheme == "https") return scheme;
  if (s.port == 443 || s.port == 8443 || s.port == 9443) return "https";
  return "http";
}

void Model::derive_routes() {
  std::map<std::string, int> used;
  for (auto& s : plan_.services) {
    if (s.tcp) continue;
    // The gateway's own service would route Nginx back to itself.
    if (s.backend && plan_.gateway.ip && *s.backend == *plan_.gateway.ip) continue;
    Route r;
    r.service = &s;
    r.hosts.push_back(s.internal_fqdn);
    if (!s.external_fqdn.empty() && s.external_fqdn != s.internal_fqdn) r.hosts.push_back(s.external_fqdn);
    int n = ++used[s.name];
    r.id = n == 1 ? s.name : s.name + "-" + std::to_string(n);
    r.backend = s.backend;
    r.port = s.port;
    r.scheme = backend_scheme(s);
    // A guest that talks to this backend by URL (Traefik's bootstrap_ca_url, the Step-CA) says what it
    // speaks, when the service itself does not.
    if (horizon::normalize_fqdn(s.scheme).empty() && s.backend)
      for (auto& g : inv_.guests) {
        const std::string& url = g.bootstrap_ca_url;
        auto sep = url.find("://");
        if (sep == std::string::npos) continue;
        std::string authority = url.substr(sep + 3);
        authority = authority.substr(0, authority.find('/'));
        auto ep = horizon::Endpoint::parse(authority, 0);
        if (ep && ep->addr == *s.backend && ep->port == s.port) r.scheme = horizon::normalize_fqdn(url.substr(0, sep));
      }
    if (r.backend) {
      r.url = r.scheme + "://" + r.backend->to_string();
      if (r.port) r.url += ":" + std::to_string(r.port);
    }
    routes_.push_back(std::move(r));
  }
}

const Guest* Model::guest_by_ip(const IpAddr& ip) const {
  for (auto& g : inv_.guests)
    if (g.ip && g.ip->addr == ip) return &g;
  return nullptr;
}

const Guest* Model::guest_by_id(uint32_t id) const {
  for (auto& g : inv_.guests)
    if (g.id == id) return &g;
  return nullptr;
}

std::string Model::describe(const IpAddr& ip) const {
  if (is_host(ip)) return "host " + ip.to_string();
  if (auto* g = guest_by_ip(ip)) return g->describe() + " " + ip.to_string();
  return ip.to_string();
}

}  // namespace phoenix::netgen
