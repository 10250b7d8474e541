#include "reload.hpp"

#include <malloc.h>

#include "horizon/loader.hpp"
#include "server/query/serving_snapshot.hpp"

namespace phoenix::server {

LoadOutcome load_snapshot(const std::filesystem::path& inventory, zones::SerialStore& serials) {
  LoadOutcome out;
  auto loaded = horizon::load_inventory(inventory);
  out.diagnostics = loaded.diagnostics;
  if (!loaded.inventory) return out;
  out.plan = horizon::derive_plan(*loaded.inventory, out.diagnostics);
  if (out.diagnostics.has_errors()) return out;
  out.snapshot = query::build_serving_snapshot(out.plan, serials, out.diagnostics);
  if (!out.snapshot) return out;
  // Building a big zone frees as much as it keeps (file text, builder pools); glibc keeps freed heap
  // pages mapped unless asked, and the resident size is what an operator watches.
  ::malloc_trim(0);
  return out;
}

std::string describe_snapshot(const horizon::HorizonPlan& plan, const zones::Snapshot& snap) {
  std::string s;
  if (plan.gateway.ip) s += "gateway " + plan.gateway.ip->to_string() + " (" + plan.gateway.reason + ")\n";
  for (size_t v = 0; v < snap.view_data.size(); ++v) {
    const auto& vd = snap.view_data[v];
    std::string clients;
    for (auto& p : plan.views[v].match_clients) clients += (clients.empty() ? "" : ", ") + p.to_string();
    s += "view " + vd.name + " (match-clients " + clients + (vd.recursion ? "; recursion" : "") + ")\n";
    for (size_t i = 0; i < vd.own_zone_count(); ++i) {
      const auto& z = vd.zones.zones()[i];
      s += "  zone " + z->origin().to_text() + " serial " + std::to_string(z->serial()) + ", " +
           std::to_string(z->record_count()) + " records\n";
    }
    if (vd.local_zones)
      s += "  and " + std::to_string(vd.local_zones) + " locally served reverse zones (RFC 6303) no zone above covers\n";
  }
  s += snap.summary();
  return s;
}

}  // namespace phoenix::server
