// check -- every contradiction between DNS, firewall and proxy routes that the inventory implies.
#pragma once

#include <vector>

#include "firewall.hpp"
#include "model.hpp"

namespace phoenix::netgen {

/// Codes, one per kind of contradiction (README lists them):
///   invalid-rule, duplicate-rule, shadowed-rule, tcp-behind-gateway, route-dropped, duplicate-ip,
///   outside-subnet, name-collision, nameserver-bypass, route-to-dhcp, leak, public-name-without-route,
///   route-without-public-name, route-without-backend, duplicate-route, view-never-matches,
///   view-selector-shadowed, gateway-unreachable, inventory (a problem derive_plan reported).
/// Findings come errors first, then warnings, each group in inventory order.
std::vector<Finding> check_inventory(const Model& m, const FirewallModel& fw);

}  // namespace phoenix::netgen
