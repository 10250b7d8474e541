// inventory -- the Phoenix inventory as plain structs. Only loader.cpp knows the JSON shape.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ip_prefix.hpp"

namespace phoenix::horizon {

/// Where a value came from: file name and JSON pointer, for every message that talks about it.
struct Location {
  std::string file;
  std::string pointer;
  std::string to_string() const { return file + ": " + pointer; }
};

/// One Proxmox firewall rule as written in the inventory (validated by netgen, not the server).
struct FirewallRule {
  std::string direction;  ///< "in" / "out" (the inventory's "type")
  std::string action;     ///< ACCEPT / DROP / REJECT
  std::string source;
  std::string dest;
  std::string proto;
  std::string port;       ///< "80", "80,443", "8000:8010"
  std::string comment;
  Location where;
};

struct Firewall {
  bool present = false;
  bool enabled = false;
  std::string policy_in;   ///< cluster level: default_input_policy
  std::string policy_out;  ///< cluster level: default_output_policy
  std::vector<FirewallRule> rules;
  Location where;
};

/// A service published through Traefik ("traefik_service": {"name", "port"}).
struct Service {
  std::string name;
  uint16_t port = 0;
  std::string protocol;  ///< "http" (default) or "tcp"; raw TCP is never published behind the gateway
  Location where;
};

struct Guest {
  enum class Kind { lxc, vm };
  Kind kind = Kind::lxc;
  uint32_t id = 0;
  std::string name;
  std::optional<IpPrefix> ip;  ///< nullopt for "dhcp" or missing
  bool dhcp = false;
  std::optional<Service> service;
  std::string portainer_role;
  std::string portainer_agent_hostname;
  std::vector<std::string> nameservers;
  std::vector<std::string> docker_stacks;  ///< stacks (phoenix_stacks_config.json keys) this guest runs
  Firewall firewall;
  Location where;  ///< the guest object itself
  std::string describe() const;  ///< "lxc 914 (ollama-gpu0)"
};

/// A Traefik router from a Docker stack label: Host(`qdrant.internal.thinkheads.ai`).
struct StackRoute {
  std::string stack, environment, service, router;
  std::string host;  ///< lower-case FQDN without trailing dot
  uint16_t port = 0;  ///< loadbalancer.server.port, 0 if not given
  std::string scheme;  ///< loadbalancer.server.scheme, "" if not given
  Location where;
};

/// An explicit split-horizon record from dns_server.authoritative_zones.
struct ExplicitRecord {
  std::string zone;      ///< lower-case, no trailing dot
  std::string hostname;  ///< as written
  std::optional<IpAddr> ip_internal, ip_external;
  Location where;
};

/// A view selector list, in order; first match wins (BIND match-clients).
struct ViewSpec {
  std::string name;
  std::vector<IpPrefix> match_clients;  ///< "any" is stored as 0.0.0.0/0 and ::/0
  std::optional<std::vector<std::string>> zones;  ///< explicit zone list; default by name
  std::string horizon;   ///< "internal" or "external": which side of explicit records it sees
  std::optional<bool> recursion;
  Location where;
};

struct ZoneFileSpec {
  std::filesystem::path file;  ///< resolved against the inventory directory
  std::string origin;
  std::vector<std::string> views;  ///< empty = every view
  Location where;
};

/// How names outside our zones are forwarded and cached (views with recursion only).
struct ForwardSettings {
  uint32_t timeout_ms = 1000;        ///< forward_timeout_ms: one attempt at one upstream
  uint32_t total_timeout_ms = 3000;  ///< forward_total_timeout_ms: all attempts; then SERVFAIL
  uint32_t cache_max_bytes = 16u << 20;  ///< cache_max_bytes: memory bound of the cache; 0 = no cache
  uint32_t cache_max_ttl = 86400;        ///< cache_max_ttl: longer TTLs are cut to this
  uint32_t cache_max_negative_ttl = 3600;  ///< cache_max_negative_ttl (RFC 2308 §5 suggests 1-3 hours)
  /// rebind_allow: domains (lower-case, no trailing dot) whose upstream answers may carry private
  /// addresses, like dnsmasq's rebind-domain-ok; every other forwarded answer with one is refused.
  std::vector<std::string> rebind_allow;
  /// search_single_label: a single-label name ("foo") is looked up as foo.<search_zone> instead of
  /// getting NXDOMAIN at once; never forwarded either way.
  bool search_single_label = false;
  /// From the plan, not a key: the zone single-label names are tried in (the internal zone).
  std::string search_zone;
  /// From the plan, not a key: the host's own subnet, whose addresses an upstream answer may not carry either.
  std::vector<IpPrefix> own_subnets;
  friend bool operator==(const ForwardSettings&, const ForwardSettings&) = default;
};

struct DnsSettings {
  bool enabled = true;
  std::vector<Endpoint> upstreams;
  ForwardSettings forward;
  std::vector<ExplicitRecord> explicit_records;
  std::optional<std::string> internal_zone, external_zone;
  std::optional<IpAddr> gateway_ip;
  std::vector<Endpoint> listen;
  std::vector<ViewSpec> views;  ///< empty = defaults
  std::vector<ZoneFileSpec> zone_files;
  /// dns_server.chaos: the CH TXT answers for version.bind/version.server and id.server/hostname.bind;
  /// unset means those queries are REFUSED like every other CH query (nothing about the server leaks).
  std::optional<std::string> chaos_version, chaos_identity;
  uint32_t ttl = 300;
  Location where;
};

struct Host {
  std::string domain_name;
  IpPrefix address;         ///< the host's own address with its prefix, e.g. 10.0.0.13/24
  IpPrefix default_subnet;  ///< network.default_subnet
  uint16_t portainer_agent_port = 9001;
  Firewall firewall;        ///< global rules: "firewall" or "shared_volumes.firewall"
};

struct Inventory {
  std::filesystem::path dir;
  Host host;
  std::vector<Guest> guests;
  std::vector<StackRoute> stack_routes;
  DnsSettings dns;
};

}  // namespace phoenix::horizon
