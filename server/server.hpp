// server -- owns the threads: UDP workers, the TCP context, and the control loop (signals, reload, stop).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "horizon/ip_prefix.hpp"
#include "server/net/tcp_listener.hpp"

namespace phoenix::server {

/// Under --state-dir: what the server last published, one zone file per view and zone.
inline constexpr const char* kServedDir = "served";

struct ServerOptions {
  std::filesystem::path inventory;
  std::vector<horizon::Endpoint> listen;  ///< replaces the inventory's listen list when not empty
  /// Replaces dns_server.upstream_servers at every load when set; an empty list turns forwarding off.
  std::optional<std::vector<horizon::Endpoint>> upstreams;
  /// Where the upstreams come from when neither --upstream nor dns_server.upstream_servers names any:
  /// its nameservers that are not this server (as dnsmasq does without no-resolv).
  std::filesystem::path resolv_conf = "/etc/resolv.conf";
  unsigned threads = 0;                   ///< UDP worker threads; 0 = one per core
  /// How datagrams are spread over the workers of one address: "cpu" (to the worker of the CPU that
  /// received them) or "flow" (the kernel's hash of the addresses and ports).
  std::string udp_spread = "cpu";
  std::optional<std::filesystem::path> state_dir;
  std::optional<std::string> user;  ///< switch to this user after binding (needs root)
  bool allow_root = false;          ///< serve as root anyway (off: refuse, see privileges.hpp)
  /// The Prometheus endpoint (--metrics-listen); replaces dns_server.metrics.listen when set.
  std::optional<horizon::Endpoint> metrics_listen;
  /// Refuse to start on inventory errors even when --state-dir holds last good data (server/last_good.hpp).
  bool strict = false;
  TcpLimits tcp;
  std::chrono::milliseconds stop_grace{3000};  ///< how long in-flight TCP replies may take on SIGTERM
};

/// Loads the inventory, binds, drops privileges, serves until SIGTERM/SIGINT; SIGHUP reloads.
/// A start whose inventory has errors serves the last good data of --state-dir instead, unless strict.
/// Returns the exit code: 0 after a clean stop, 1 if the first load (with no last good data), the identity check, a bind or
/// the privilege drop failed (before any query was answered).
int run_server(const ServerOptions& options);

}  // namespace phoenix::server
