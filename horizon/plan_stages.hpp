// plan_stages -- the stages derive_plan (plan.cpp) runs, in its order, each with its own input and
// output so that a test can give one of them a small Inventory and look at what it made.
//
//   name_zones        -> the internal, external and reverse zone names
//   serving_settings  -> listen, forwarding, chaos, metrics, dnstap, cookies, zone files
//   choose_gateway    -> where the external view sends HTTP clients
//   publish_guests    -> each guest's name, its traefik service and Portainer agent name
//   publish_routes    -> the stacks' Traefik routes: names at the gateway, services to their guest
//   check_gateway     -> an error (or a warning) when services are published without a gateway
//   publish_external  -> the services' external names at the gateway
//   reverse_zone      -> PTR records for the host and the guests in the default subnet
//   derive_zones      -> the zones above, plus those named only by authoritative_zones
//   view_specs        -> the inventory's views, or the two built-in ones
//   plan_view         -> one view: its rate limit, its zones (derived, explicit records, zone files)
//   check_zone_file_views -> zone_files naming a view that does not exist
// and then check_dns (dns_checks.hpp) on the finished plan.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "inventory.hpp"
#include "plan.hpp"

namespace phoenix::horizon::plan_stages {

/// The address names of one zone as the stages add them, each with where it came from. The same
/// address from several sources is one record; another address for a name is an error
/// ("name-conflict") naming both sources, said when the second one arrives.
class NameTable {
 public:
  explicit NameTable(Diagnostics& diag) : diag_(diag) {}

  void add(const std::string& owner, const IpAddr& ip, const std::string& source, const Location& where);
  bool has(const std::string& owner) const { return names_.count(owner) > 0; }
  /// A and AAAA records, by owner, each address once, in the order the sources came.
  std::vector<PlanRecord> records() const;

 private:
  struct Entry {
    IpAddr ip;
    std::string source;
  };
  std::map<std::string, std::vector<Entry>> names_;
  Diagnostics& diag_;
};

struct ZoneNames {
  std::string internal, external, reverse;
};

/// dns_server.internal_zone / external_zone, else internal.<base> and phoenix.<base> where <base>
/// is domain_name without its first label; the reverse zone of default_subnet (an error if wider than /8).
ZoneNames name_zones(const Inventory& inv, Diagnostics& diag);

/// Copies what the server needs besides the zones into `plan` (listen defaults to host:53; the
/// forwarder searches the internal zone and treats the default subnet as its own).
void serving_settings(const Inventory& inv, const ZoneNames& zones, HorizonPlan& plan);

/// dns_server.gateway_ip, else the guest whose traefik service is "nginx", else a guest named nginx*.
GatewayChoice choose_gateway(const Inventory& inv);

/// Whether a guest's traefik_service is raw TCP (never behind the HTTP gateway): its protocol says
/// so, or it is the Portainer agent (by agent port or agent host name).
bool is_tcp_service(const Guest& g, const Service& s, const Inventory& inv);

/// Each guest with a static address: <name>.<internal>, its service's name and its Portainer agent
/// host name into `internal`; its service into `services`. Warnings for dhcp guests and odd names.
void publish_guests(const Inventory& inv, const ZoneNames& zones, NameTable& internal,
                    std::vector<PublishedService>& services, Diagnostics& diag);

/// A stack route's host relative to whichever of our zones holds it ("qdrant"), else nullopt.
std::optional<std::string> route_label(const StackRoute& r, const ZoneNames& zones);

/// The stacks' routes, once there is a gateway: an internal name at the gateway unless a guest
/// already has that name, and a published service whose backend is the guest running the stack.
/// Routes outside our zones are warned about and skipped.
void publish_routes(const Inventory& inv, const ZoneNames& zones, const GatewayChoice& gateway, NameTable& internal,
                    std::vector<PublishedService>& services, Diagnostics& diag);

/// No gateway while an HTTP service or a stack route wants one: an error, or a warning when a
/// missing guest file may be why.
void check_gateway(const Inventory& inv, const ZoneNames& zones, const GatewayChoice& gateway,
                   const std::vector<PublishedService>& services, Diagnostics& diag);

/// Every HTTP service's external name at the gateway (none without a gateway, none for raw TCP).
void publish_external(const GatewayChoice& gateway, const std::vector<PublishedService>& services,
                      NameTable& external);

/// An empty zone with its SOA and NS names: forward zones name ns1 inside themselves, the reverse
/// zone ns1 of the internal zone.
ZonePlan make_zone(std::string origin, ZoneKind kind, const Inventory& inv, const std::string& internal_zone);

/// PTR records for the host (ns1.<internal>) and each guest in default_subnet, one per address and target.
ZonePlan reverse_zone(const Inventory& inv, const ZoneNames& zones);

/// The zones the inventory's names make, before any view picks from them.
struct DerivedZones {
  ZonePlan internal, external, reverse;
  std::set<std::string> extra;  ///< zones named only by authoritative_zones
  bool derived(const std::string& origin) const {
    return origin == internal.origin || origin == external.origin || origin == reverse.origin || extra.count(origin);
  }
};

DerivedZones derive_zones(const Inventory& inv, const ZoneNames& zones, const NameTable& internal,
                          const NameTable& external);

/// The inventory's views, or when it has none: "internal" (default subnet and loopback) and
/// "external" (any address).
std::vector<ViewSpec> view_specs(const Inventory& inv);

/// The view's own rate_limit, else dns_server.rate_limit, on by default only where any client may
/// ask (a view matching 0.0.0.0/0 or ::/0).
RateLimitSettings view_rate_limit(const ViewSpec& spec, const DnsSettings& dns);

/// Explicit authoritative_zones records replace derived ones for the same name, as the view's
/// horizon sees them (internal: ip_internal, else ip_external; external: ip_external).
void apply_explicit(ZonePlan& z, const std::vector<ExplicitRecord>& recs, const std::string& horizon);

/// One view: its settings, and for each zone of its list (or the default list for "internal" and
/// "external") the derived zone with the explicit records applied, unless a zone file replaces it;
/// then the zone files meant for this view that the list did not name.
ViewPlan plan_view(const ViewSpec& spec, const DerivedZones& zones, const Inventory& inv, Diagnostics& diag);

/// A zone_files entry naming a view that the plan does not have is an error at that entry.
void check_zone_file_views(const Inventory& inv, const std::vector<ViewPlan>& views, Diagnostics& diag);

}  // namespace phoenix::horizon::plan_stages
