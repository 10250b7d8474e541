// serving_snapshot -- a plan turned into the snapshot the processor answers from: the zones built and
// checked (zones::build_snapshot), then the precompiled stage's replies. The server's load pipeline
// (server/reload.cpp) and phoenix-netgen both build through it, so netgen answers and prints exactly
// what the server serves.
#pragma once

#include <memory>

#include "horizon/diagnostics.hpp"
#include "horizon/plan.hpp"
#include "zones/serial.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::query {

/// nullptr, with the reasons in `diag`, when a zone has a fatal problem (or `diag` already has errors).
std::shared_ptr<zones::Snapshot> build_serving_snapshot(const horizon::HorizonPlan& plan, zones::SerialStore& serials,
                                                        horizon::Diagnostics& diag);

}  // namespace phoenix::query
