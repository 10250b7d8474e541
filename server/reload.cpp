#include "reload.hpp"

#include <malloc.h>

#include <algorithm>
#include <map>

#include "horizon/loader.hpp"
#include "server/query/serving_snapshot.hpp"
#include "server/xfr/ixfr_history.hpp"

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

std::string attach_ixfr_history(const zones::Snapshot* old, zones::Snapshot& fresh, const std::filesystem::path* state_dir) {
  auto store = std::make_shared<xfr::IxfrHistoryStore>();
  std::string warning;
  bool changed = false;
  if (!old) {
    // A state directory we may not read (the user dropped to) is no history, not a failed start.
    try {
      if (state_dir) warning = store->load(*state_dir);
    } catch (const std::exception& e) {
      *store = xfr::IxfrHistoryStore();
      warning = e.what();
    }
  } else if (old->ixfr) {
    *store = *old->ixfr;  // copies the step pointers, not the steps
  }
  std::vector<std::pair<std::string, std::string>> keep;
  xfr::IxfrHistoryStore::StepCache steps;
  for (const auto& vd : fresh.view_data) {
    const zones::ViewData* before = nullptr;
    if (old)
      for (const auto& ov : old->view_data)
        if (ov.name == vd.name) before = &ov;
    for (const auto& z : vd.own_zones()) {
      keep.emplace_back(vd.name, z->origin().wire());
      if (!before) continue;
      for (const auto& oz : before->own_zones())
        if (oz->origin() == z->origin() && oz->serial() != z->serial()) {
          store->record(vd.name, *oz, *z, &steps);
          changed = true;
        }
    }
  }
  const size_t had = store->zone_count();
  store->retain(keep);
  changed = changed || store->zone_count() != had;
  if (changed && state_dir) {
    try {
      if (auto err = store->save(*state_dir); !err.empty()) warning = err;
    } catch (const std::exception& e) {
      warning = e.what();
    }
  }
  fresh.ixfr = std::move(store);
  return warning;
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

bool count_step(const xfr::IxfrHistory& history, uint32_t from, uint32_t to, zones::ZoneDiff& d) {
  if (history.steps().empty()) return false;
  const xfr::ZoneDiff& step = *history.steps().back();
  if (step.from_serial() != from || step.to_serial() != to) return false;
  // As the text compare counts: per owner and type, a deleted and an added record pair up as one change.
  std::map<std::pair<std::string_view, uint16_t>, std::pair<size_t, size_t>> per_rrset;
  for (auto& r : step.removed) ++per_rrset[{r.owner, r.type}].first;
  for (auto& r : step.added) ++per_rrset[{r.owner, r.type}].second;
  for (auto& [key, n] : per_rrset) {
    size_t changed = std::min(n.first, n.second);
    d.changed += changed;
    d.removed += n.first - changed;
    d.added += n.second - changed;
  }
  return true;
}

std::vector<zones::ZoneDiff> reload_changes(const zones::Snapshot& old, const zones::Snapshot& fresh) {
  return zones::diff_snapshots(old, fresh, [&](const std::string& view, const zones::Zone& before, const zones::Zone& after,
                                                zones::ZoneDiff& d) {
    const xfr::IxfrHistory* h = fresh.ixfr ? fresh.ixfr->find(view, after.origin().wire()) : nullptr;
    return h && count_step(*h, before.serial(), after.serial(), d);
  });
}

}  // namespace phoenix::server
