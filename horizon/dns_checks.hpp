// dns_checks -- what is wrong with the DNS an inventory describes, judged once for both binaries:
// phoenix-dns (start, reload, --check) and phoenix-netgen check report these with the same severity.
#pragma once

#include "diagnostics.hpp"
#include "inventory.hpp"
#include "plan.hpp"

namespace phoenix::horizon {

/// Adds, with their codes: errors duplicate-ip (two guests, or a guest and the host, on one address),
/// name-collision (names equal after sanitising, with different addresses), leak (an external view
/// serving the internal or reverse zone, a direct guest address, or a name that is not an HTTP
/// service), view-never-matches; warnings outside-subnet, name-collision with one address,
/// view-selector-shadowed. derive_plan calls it on the plan it derived.
void check_dns(const Inventory& inv, const HorizonPlan& plan, Diagnostics& diag);

}  // namespace phoenix::horizon
