// model -- the inventory as phoenix-netgen sees it: the server's loader and plan, plus the facts the
// tool needs on top (who is the gateway, who is Traefik, which proxy routes exist). No second parser.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "horizon/diagnostics.hpp"
#include "horizon/inventory.hpp"
#include "horizon/plan.hpp"

namespace phoenix::netgen {

/// One file a command produced: a path relative to --out, and its exact bytes.
struct OutputFile {
  std::string path;
  std::string content;
};

enum class Severity { error, warning, info };
const char* severity_text(Severity s);

/// One problem found by a command, with the inventory locations involved.
struct Finding {
  Severity severity = Severity::error;
  std::string code;  ///< stable kebab-case identifier, e.g. "route-dropped"
  std::string message;
  std::vector<horizon::Location> where;
  std::string format() const;  ///< "error route-dropped: ... [file: /pointer; ...]"
};

/// The Traefik instance the gateway proxies to, and why we think it is that one.
struct TraefikChoice {
  std::optional<horizon::IpAddr> ip;
  const horizon::Guest* guest = nullptr;
  std::string reason;
};

/// Nginx talks plain HTTP to Traefik's "web" entry point; TLS ends at the gateway.
inline constexpr uint16_t kTraefikPort = 80;

/// An HTTP route through the proxies: Nginx -> Traefik -> backend.
struct Route {
  std::string id;                  ///< unique Traefik router and service name
  std::vector<std::string> hosts;  ///< every name the router matches, internal zone first
  std::optional<horizon::IpAddr> backend;
  uint16_t port = 0;
  std::string scheme;  ///< http or https, after the documented default rule
  std::string url;     ///< scheme://backend:port, "" when no backend is known
  const horizon::PublishedService* service = nullptr;
};

class Model {
 public:
  /// Loads the inventory with horizon::load_inventory and derives the plan. Returns nullopt when the
  /// loader refused the inventory; every diagnostic (errors and warnings) is in `diagnostics()` either way.
  static std::optional<Model> load(const std::filesystem::path& dir, horizon::Diagnostics& diag);

  const horizon::Inventory& inventory() const { return inv_; }
  const horizon::HorizonPlan& plan() const { return plan_; }
  /// Problems derive_plan reported (conflicting names, missing gateway, ...).
  const horizon::Diagnostics& plan_diagnostics() const { return plan_diag_; }
  const TraefikChoice& traefik() const { return traefik_; }
  const std::vector<Route>& routes() const { return routes_; }

  const horizon::Guest* guest_by_ip(const horizon::IpAddr& ip) const;
  const horizon::Guest* guest_by_id(uint32_t id) const;
  bool is_host(const horizon::IpAddr& ip) const { return ip == inv_.host.address.addr; }
  /// "lxc 914 (ollama-gpu0)", "host 10.0.0.13", or the bare address.
  std::string describe(const horizon::IpAddr& ip) const;

  /// Backend scheme rule: the stack's loadbalancer.server.scheme, else the service's "protocol" when it
  /// is http or https, else https for ports 443, 8443 and 9443, else http.
  static std::string backend_scheme(const horizon::PublishedService& s);

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

 private:
  Model() = default;
  void derive_routes();
  horizon::Inventory inv_;
  horizon::HorizonPlan plan_;
  horizon::Diagnostics plan_diag_;
  TraefikChoice traefik_;
  std::vector<Route> routes_;
};

/// Joins with a separator.
std::string join(const std::vector<std::string>& parts, const std::string& sep);

}  // namespace phoenix::netgen
