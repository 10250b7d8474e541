// policy -- what a view with recursion does with names outside its zones, beyond asking upstream:
// the protections a LAN's forwarding resolver owes its clients. Each rule is one function here, so
// the processor and the forwarder only ask, and the rules are tested on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "horizon/inventory.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::forward {

/// What happens to a query for a name outside every zone of a view with recursion and upstreams.
enum class Route {
  forward,       ///< the cache, then (with RD set) the upstreams
  nxdomain,      ///< a single-label name: NXDOMAIN here, never forwarded (dnsmasq's domain-needed)
  search,        ///< a single-label name looked up as <name>.<search_zone> (search_single_label)
};

/// Decides by the name alone (lower-cased wire). Never allocates.
Route route_outside_zones(std::string_view qname, const horizon::ForwardSettings& s) noexcept;

/// Writes <single label>.<s.search_zone> as lower-cased wire into `out` (at least 255 bytes);
/// returns its length, or 0 if it would be longer than a name may be.
size_t search_name(std::string_view qname, const horizon::ForwardSettings& s, uint8_t* out) noexcept;

/// RFC 6303 §4 (and RFC 7793 for 100.64.0.0/10): the reverse zones for private, loopback, link-local,
/// documentation and unique-local space, which a recursive server answers itself so that their
/// lookups never leave the site (dnsmasq's bogus-priv serves the same list).
const std::vector<std::string>& locally_served_zones();

/// Adds to every view with recursion an empty zone (SOA and NS only, RFC 6303 §3) for each locally
/// served zone that no zone of the view equals or contains. Their names then get NXDOMAIN with that
/// SOA, while a zone of ours inside one (our own reverse zone) still answers: the longest zone wins,
/// and the empty zone holds a delegation to ours so the names in between exist (RFC 8020).
/// Returns how many zones were added.
size_t add_locally_served_zones(zones::Snapshot& snap);

/// True for the addresses an answer from the internet has no business giving a LAN client: RFC 1918,
/// 127/8, 169.254/16, 0/8, fc00::/7, fe80::/10, ::1, ::, IPv4-mapped forms of those, and `own`.
bool is_private_address(const horizon::IpAddr& a, const std::vector<horizon::IpPrefix>& own) noexcept;

/// DNS rebinding protection (dnsmasq's stop-dns-rebind): the first A or AAAA record in the answer
/// section of the upstream message `wire` with a private address, as text, unless the
/// question `qname` (lower-cased wire) lies in a domain of s.rebind_allow. nullopt: the answer may pass.
/// A message that cannot be walked is reported too (it passed check_reply, so it never is in practice).
std::optional<std::string> rebind_violation(const std::vector<uint8_t>& wire, std::string_view qname,
                                            const horizon::ForwardSettings& s);

}  // namespace phoenix::forward
