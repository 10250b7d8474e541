// inventory -- the Phoenix inventory as plain structs. Only loader.cpp knows the JSON shape.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
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

/// One Proxmox firewall rule as written in the inventory. The loader only reads the JSON types;
/// phoenix-netgen validates the values (tools/netgen/firewall.cpp) and rejects every key listed in
/// `unknown_keys`, since dropping a key it does not understand could widen the rule.
struct FirewallRule {
  std::string direction;  ///< "in" / "out" (the inventory's "type")
  std::string action;     ///< ACCEPT / DROP / REJECT
  std::string source;
  std::string dest;
  std::string proto;
  std::string port;       ///< destination ports ("port" or "dport"): "80", "80,443", "8000:8010"
  std::string sport;      ///< source ports, same syntax
  std::string iface;      ///< Proxmox "-i": net0 for a guest, a host interface (vmbr0) for cluster.fw
  std::string macro;      ///< a Proxmox macro ("SSH", "HTTPS", ...): written as "IN SSH(ACCEPT)"
  std::optional<bool> enable;  ///< "enable" (true/false or 1/0); false: written with "|", never matches
  std::string log;        ///< "-log" level: nolog, info, warning, ...; "" = nolog
  std::string comment;
  std::vector<std::string> unknown_keys;  ///< keys of the rule object not listed above
  Location where;
};

struct Firewall {
  bool present = false;
  bool enabled = false;
  bool enabled_given = false;  ///< "enabled" was written (a missing one keeps the firewall off)
  std::string policy_in;   ///< cluster: default_input_policy; guest: policy_in ("" = Proxmox's default)
  std::string policy_out;  ///< cluster: default_output_policy; guest: policy_out
  std::vector<FirewallRule> rules;
  std::vector<std::string> unknown_keys;  ///< keys of the firewall object netgen does not know
  Location where;
};

/// A service published through Traefik ("traefik_service": {"name", "port"}).
struct Service {
  std::string name;
  uint16_t port = 0;
  std::string protocol;  ///< "http" (default) or "tcp"; raw TCP is never published behind the gateway
  Location where;
  /// Keys of the traefik_service object other than name, port and protocol: netgen refuses to write
  /// a route without what they may ask for (the DNS names do not depend on them).
  std::vector<std::string> unknown_keys;
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
  /// A stack this guest runs: "qdrant_service" or {"name": "qdrant_service", "environment": "production"}.
  struct StackRef {
    std::string name;         ///< a phoenix_stacks_config.json docker_stacks key
    std::string environment;  ///< "" = every environment of the stack
    Location where;
  };
  std::vector<StackRef> docker_stacks;
  /// An NFS volume the guest mounts (VM "volumes" entries of type nfs).
  struct NfsMount {
    IpAddr server;
    Location where;
  };
  std::vector<NfsMount> nfs_mounts;
  std::string bootstrap_ca_url;  ///< the CA this guest talks to, e.g. "https://10.0.0.10:9000"
  std::vector<std::string> mount_paths;  ///< LXC mount_points[].container_path ("/etc/nginx/ssl")
  /// Whether this guest runs `stack` in `environment` (a route of that stack environment lands here).
  bool runs(const std::string& stack, const std::string& environment) const;
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
  /// The router's own labels, carried into the file provider's router as written.
  std::vector<std::string> entrypoints;  ///< routers.<r>.entrypoints ("web,websecure")
  std::optional<bool> tls;               ///< routers.<r>.tls
  std::string certresolver;              ///< routers.<r>.tls.certresolver
  std::vector<std::string> middlewares;  ///< routers.<r>.middlewares
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
/// dns_server.rate_limit (and a view's override): response rate limiting with BIND's and Knot's
/// meaning. Rates are per client prefix and response class, per second; 0 leaves that class unlimited.
struct RateLimitSettings {
  bool enabled = false;
  uint32_t responses_per_second = 20;  ///< answers (NOERROR, also NODATA and referrals), per name and type
  uint32_t nxdomains_per_second = 10;  ///< NXDOMAIN, per zone
  uint32_t errors_per_second = 10;     ///< every other rcode
  uint32_t window = 15;                ///< seconds a client's debt may reach: how long a flood stays limited
  uint32_t slip = 2;                   ///< every slip-th dropped reply goes out truncated; 0: none
  uint8_t ipv4_prefix = 24, ipv6_prefix = 56;
  std::vector<IpPrefix> exempt;  ///< clients never limited
  friend bool operator==(const RateLimitSettings&, const RateLimitSettings&) = default;
};

/// The HMAC algorithms of RFC 8945 §6 that a TSIG key may use here (MD5 and GSS-TSIG are not offered).
enum class TsigAlgorithm : uint8_t { hmac_sha1, hmac_sha224, hmac_sha256, hmac_sha384, hmac_sha512 };

/// dns_server.tsig_keys / tsig_keys_file: one shared secret (horizon/tsig_keys.hpp reads them).
struct TsigKey {
  std::string name;  ///< lower-cased, without trailing dot: names compare case-insensitively (RFC 8945 §4.2)
  TsigAlgorithm algorithm = TsigAlgorithm::hmac_sha256;
  std::string secret;  ///< the decoded secret bytes
  Location where;      ///< file and JSON pointer or "line N", for messages that name the key
  friend bool operator==(const TsigKey& a, const TsigKey& b) {
    return a.name == b.name && a.algorithm == b.algorithm && a.secret == b.secret;
  }
};

/// One entry of a view's transfer.allow: an address prefix, or "key:NAME" (signed with that key).
struct TransferAllow {
  std::optional<IpPrefix> prefix;  ///< set for an address entry
  std::string key;                 ///< set (lower-case, no trailing dot) for a key entry
  Location where;
  friend bool operator==(const TransferAllow& a, const TransferAllow& b) {
    return a.prefix == b.prefix && a.key == b.key;
  }
};

/// One entry of a view's transfer.notify: where NOTIFY (RFC 1996) goes, signed with `key` if set.
struct NotifyTarget {
  Endpoint address;  ///< port 53 unless given
  std::string key;   ///< lower-case, no trailing dot; empty = unsigned
  Location where;
  friend bool operator==(const NotifyTarget& a, const NotifyTarget& b) {
    return a.address == b.address && a.key == b.key;
  }
};

struct TransferSettings {
  std::vector<TransferAllow> allow;  ///< empty: every AXFR/IXFR of the view is REFUSED
  std::vector<NotifyTarget> notify;
  friend bool operator==(const TransferSettings&, const TransferSettings&) = default;
};

struct ViewSpec {
  std::string name;
  std::vector<IpPrefix> match_clients;  ///< "any" is stored as 0.0.0.0/0 and ::/0
  std::optional<std::vector<std::string>> zones;  ///< explicit zone list; default by name
  std::string horizon;   ///< "internal" or "external": which side of explicit records it sees
  std::optional<bool> recursion;
  Location where;
  std::optional<RateLimitSettings> rate_limit;  ///< the view's own rate_limit, over dns_server.rate_limit
  /// A request validly signed with one of these keys selects this view before any address matching
  /// (first such view), as BIND's match-clients { key ...; } does. Lower-case, no trailing dot.
  std::vector<std::string> match_keys;
  /// When not empty, an unsigned request matches only if it arrived on one of these local addresses
  /// (and match_clients matches its source too).
  std::vector<IpPrefix> match_destinations;
  TransferSettings transfer;
  /// The RFC 9432 (version 2) catalog zone this view also serves and transfers, listing its zones;
  /// lower-case, no trailing dot. Unset: no catalog.
  std::optional<std::string> catalog;
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

/// dns_server.dnstap: where query logs go (exactly one of socket and file) and what they contain.
struct DnstapSettings {
  std::string socket, file;  ///< a unix socket a dnstap collector listens on, or a file
  bool queries = true, responses = true;
  friend bool operator==(const DnstapSettings&, const DnstapSettings&) = default;
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
  /// dns_server.metrics.listen: where the Prometheus endpoint listens; unset = no endpoint.
  std::optional<Endpoint> metrics_listen;
  std::optional<DnstapSettings> dnstap;  ///< unset = no dnstap
  uint32_t ttl = 300;
  /// dns_server.rate_limit's numbers; `rate_limit_enabled` unset: on in views that match any address.
  RateLimitSettings rate_limit;
  std::optional<bool> rate_limit_enabled;
  /// dns_server.require_cookie: UDP clients that send a client cookie must come back with a valid
  /// server cookie (RFC 7873 §5.2.3), else BADCOOKIE; the views' rate_limit.exempt prefixes are spared.
  bool require_cookie = false;
  /// dns_server.tsig_keys (inline) and tsig_keys_file (tsig-keygen format, relative to the inventory
  /// directory), merged; a name defined twice is an error.
  std::vector<TsigKey> tsig_keys;
  Location where;
};

struct Host {
  std::string domain_name;
  IpPrefix address;         ///< the host's own address with its prefix, e.g. 10.0.0.13/24
  IpPrefix default_subnet;  ///< network.default_subnet
  uint16_t portainer_agent_port = 9001;
  std::string interface_name;  ///< network.interfaces.name (vmbr0): what "-i" of a cluster.fw rule names
  std::vector<std::string> dns_nameservers;  ///< network.interfaces.dns_nameservers: the host's own resolvers
  Location dns_nameservers_where;
  Firewall firewall;        ///< global rules: "firewall" or "shared_volumes.firewall"
};

struct Inventory {
  std::filesystem::path dir;
  Host host;
  std::vector<Guest> guests;
  std::vector<StackRoute> stack_routes;
  /// Every stack of phoenix_stacks_config.json with its environment names (routes or not).
  std::map<std::string, std::vector<std::string>> stack_environments;
  /// Guest files that were not there (kLxcFile, kVmFile): later messages say so instead of guessing.
  std::vector<std::string> missing_files;
  DnsSettings dns;
};

}  // namespace phoenix::horizon
