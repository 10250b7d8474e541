// resolv_conf -- the host's resolv.conf(5) nameservers: the upstreams when the inventory names none.
#pragma once

#include <string_view>
#include <vector>

#include "horizon/ip_prefix.hpp"

namespace phoenix::server {

/// The `nameserver` addresses of a resolv.conf text, in order, each on port 53. Like the resolver
/// itself, lines it does not understand are skipped; so are IPv6 addresses with a %scope, which an
/// Endpoint cannot carry. Never throws on any input.
std::vector<horizon::Endpoint> parse_resolv_conf(std::string_view text);

/// The nameservers that are not this server: not one of `listen` (address and port), nor any address
/// of that family when we listen on the wildcard (0.0.0.0 or ::) on their port. Forwarding to
/// ourselves would loop every question until it timed out.
std::vector<horizon::Endpoint> other_nameservers(const std::vector<horizon::Endpoint>& nameservers,
                                                 const std::vector<horizon::Endpoint>& listen);

}  // namespace phoenix::server
