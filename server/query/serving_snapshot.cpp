#include "serving_snapshot.hpp"

#include "precompiled.hpp"
#include "server/forward/policy.hpp"

namespace phoenix::query {

std::shared_ptr<zones::Snapshot> build_serving_snapshot(const horizon::HorizonPlan& plan, zones::SerialStore& serials,
                                                        horizon::Diagnostics& diag) {
  auto snap = zones::build_snapshot(plan, serials, diag);
  if (!snap || diag.has_errors()) return nullptr;
  // Views that resolve for clients serve the private reverse zones themselves (RFC 6303).
  forward::add_locally_served_zones(*snap);
  precompile_answers(*snap);  // built aside, like the rest of the snapshot
  return snap;
}

}  // namespace phoenix::query
