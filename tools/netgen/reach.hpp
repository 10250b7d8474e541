// reach -- "can A reach B on port P": a new connection walked through the Proxmox firewall levels it
// meets. Guest-to-guest traffic is bridged, so it meets the source guest's OUT rules and the destination
// guest's IN rules, never cluster.fw; traffic from or to a host meets cluster.fw. Each level is
// first-match-wins, then its policy. Replies ride on connection tracking (ESTABLISHED,RELATED).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "firewall.hpp"
#include "model.hpp"

namespace phoenix::netgen {

/// A flow endpoint: an address, and what the inventory says lives there.
struct Party {
  std::string text;  ///< as the user wrote it
  horizon::IpAddr addr;
  const horizon::Guest* guest = nullptr;
  bool host = false;
  std::string describe() const;
};

/// What a name on the command line means: a DNS name of the internal zone ("" for a bare address) and
/// the address the internal view gives it.
struct Target {
  std::string fqdn;
  horizon::IpAddr addr;
};

/// The one resolver of reach and view: an address, "host", a guest id, a guest name (as written or as
/// its label), a service name, "traefik" or "gateway" (the proxies the model found), or a name of the
/// internal zone (a bare label is taken there). nullopt with `why` when nothing matches.
std::optional<Target> resolve_target(const Model& m, const std::string& text, std::string& why);

/// Resolves "10.0.0.12", "host", "102", "Traefik-Internal", "traefik-internal", or a name from the plan
/// ("ollama.internal.thinkheads.ai"). nullopt with `why` when nothing matches.
std::optional<Party> resolve_party(const Model& m, const std::string& text, std::string& why);

struct ReachStep {
  std::string level;    ///< "vm 1001 (Portainer) OUT", "cluster.fw (host 10.0.0.13) IN"
  std::string verdict;  ///< ACCEPT, DROP, REJECT
  std::string reason;   ///< "by rule 2 ...", "(no rule matched: policy_in DROP)", ...
  const Rule* rule = nullptr;
  std::optional<horizon::Location> where;
  std::string format() const;
};

struct ReachResult {
  bool allowed = false;
  std::vector<ReachStep> steps;
  std::string summary;  ///< "ALLOW 10.0.0.111 -> 10.0.0.102:9001/tcp"
  std::string note;     ///< what happens to replies, or which step decided
  /// "10.0.0.101 is not an address of the inventory": an end no rule set is written for, said aloud
  /// because a verdict about it only reflects the other end's rules.
  std::vector<std::string> strangers;
  std::string format() const;
};

/// Walks `flow` from `src` to `dst` through the levels it meets.
ReachResult reach(const Model& m, const FirewallModel& fw, const Party& src, const Party& dst, const std::string& proto,
                  uint16_t port);

/// Parses "9001/tcp", "53/udp", "icmp", "443" (tcp); false on anything else.
bool parse_port_proto(const std::string& text, uint16_t& port, std::string& proto);

}  // namespace phoenix::netgen
