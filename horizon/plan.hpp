// plan -- what the inventory means for DNS: per view, which zones, which names, which addresses, and why.
//
// The plan is the one derived truth shared by the server (which builds zones from it) and by
// phoenix-netgen (which builds proxy routes and checks from it), so the two cannot disagree.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"
#include "inventory.hpp"

namespace phoenix::horizon {

enum class RecordKind { a, aaaa, ptr };

/// One derived record. Owner and value are lower-case absolute names without the trailing dot.
struct PlanRecord {
  std::string owner;
  RecordKind kind = RecordKind::a;
  std::string value;   ///< address text for A/AAAA, target name for PTR
  std::string source;  ///< why it exists: "lxc 914 (ollama-gpu0) at phoenix_lxc_configs.json: /lxc_configs/914"
};

enum class ZoneKind { internal, external, reverse, extra };

struct ZonePlan {
  std::string origin;  ///< lower-case, no trailing dot
  ZoneKind kind = ZoneKind::extra;
  uint32_t ttl = 300;
  std::string primary_ns;  ///< SOA MNAME and the apex NS target
  std::string hostmaster;  ///< SOA RNAME
  std::vector<PlanRecord> records;  ///< sorted by owner then value; apex NS/SOA are added by the builder
};

struct ViewPlan {
  std::string name;
  std::vector<IpPrefix> match_clients;
  std::string horizon;  ///< "internal" or "external"
  bool recursion = false;
  RateLimitSettings rate_limit;  ///< resolved: the view's own, else dns_server.rate_limit with the default on/off
  std::vector<ZonePlan> zones;
  std::vector<std::string> zone_names;  ///< every zone the view serves, zone files included
  Location where;                       ///< empty file for the built-in defaults
  /// Copied from the ViewSpec (horizon/inventory.hpp), which says what each means.
  std::vector<std::string> match_keys;
  std::vector<IpPrefix> match_destinations;
  TransferSettings transfer;
  std::optional<std::string> catalog;
};

/// An HTTP or TCP service the inventory publishes, with its names and its backend.
struct PublishedService {
  std::string name;            ///< label in both zones
  std::string internal_fqdn;   ///< name.<internal zone>
  std::string external_fqdn;   ///< name.<external zone>, "" when raw TCP (never behind the HTTP gateway)
  std::optional<IpAddr> backend;  ///< guest address; for a stack route the guest listing it in docker_stacks
  uint16_t port = 0;
  std::string scheme;          ///< http / https, "" when unknown
  bool tcp = false;
  bool from_stack = false;
  std::string owner;           ///< "lxc 914 (ollama-gpu0)" or "stack qdrant_service/production/qdrant"
  Location where;
  /// The stack router's labels (StackRoute), copied: the plan outlives the inventory in the server.
  std::vector<std::string> entrypoints, middlewares;
  std::optional<bool> tls;
  std::string certresolver;
};

struct GatewayChoice {
  std::optional<IpAddr> ip;
  std::string reason;  ///< "dns_server.gateway_ip", "guest lxc 101 (Nginx-Phoenix) declares traefik service nginx", ...
};

struct HorizonPlan {
  std::string internal_zone, external_zone, reverse_zone;
  GatewayChoice gateway;
  std::vector<ViewPlan> views;
  std::vector<PublishedService> services;
  std::vector<Endpoint> upstreams;
  ForwardSettings forward;
  std::vector<Endpoint> listen;  ///< inventory listen list, or the host address on port 53
  std::vector<ZoneFileSpec> zone_files;
  std::optional<std::string> chaos_version, chaos_identity;  ///< dns_server.chaos
  std::optional<Endpoint> metrics_listen;                    ///< dns_server.metrics.listen
  std::optional<DnstapSettings> dnstap;                      ///< dns_server.dnstap
  bool require_cookie = false;                              ///< dns_server.require_cookie
  std::vector<TsigKey> tsig_keys;                           ///< dns_server.tsig_keys and tsig_keys_file
};

/// The reverse zone name for an IPv4 prefix, on the enclosing octet boundary: 10.0.0.0/24 -> 0.0.10.in-addr.arpa.
std::string reverse_zone_for(const IpPrefix& subnet);

/// Derives the plan. Conflicts (one name, two addresses from different sources) are errors naming
/// both sources; messy data gives warnings. The plan is complete only if `diag` has no errors.
HorizonPlan derive_plan(const Inventory& inv, Diagnostics& diag);

}  // namespace phoenix::horizon
