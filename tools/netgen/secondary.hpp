// secondary -- `secondary-config`: a ready configuration for a Knot, NSD or BIND secondary of one
// view of phoenix-dns: its key, the primary, the zones (or the view's RFC 9432 catalog where the
// secondary can consume one) and who may NOTIFY it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "horizon/inventory.hpp"
#include "model.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::netgen {

struct SecondaryRequest {
  std::string view;
  std::string server;  ///< knot, nsd, bind
  horizon::Endpoint primary;
  std::string key;  ///< a key of the inventory; "" = the view's own (see secondary_key)
};

/// The key a secondary of `view` signs with: the first `key:` entry of transfer.allow that also
/// selects the view (match_keys), else the first of either, else the notify targets' key; nullptr
/// when the view names none (the secondary then transfers by address).
const horizon::TsigKey* secondary_key(const horizon::HorizonPlan& plan, const horizon::ViewPlan& view);

/// The configuration text; nullopt with `error` for an unknown view, server or key. `notes` gets
/// what the admin should know (no catalog support, transfers not allowed for that key, ...).
std::optional<std::string> secondary_config(const horizon::HorizonPlan& plan, const zones::Snapshot& snap,
                                            const SecondaryRequest& req, std::string& error,
                                            std::vector<std::string>& notes);

}  // namespace phoenix::netgen
