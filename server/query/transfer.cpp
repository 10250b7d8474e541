#include "transfer.hpp"

namespace phoenix::query {

bool transfer_allowed(const horizon::TransferSettings& t, const horizon::IpAddr& client, std::string_view key) {
  const horizon::IpAddr c = client.unmapped();
  for (const auto& a : t.allow) {
    if (a.prefix && a.prefix->contains(c)) return true;
    if (!a.key.empty() && !key.empty() && a.key == key) return true;
  }
  return false;
}

std::unique_ptr<xfr::RecordSource> transfer_source(const XfrRequest& r, const char*& kind) {
  if (r.question.qtype == zones::rrtype::AXFR) {
    kind = "AXFR";
    return std::make_unique<xfr::AxfrSource>(r.zone);
  }
  const xfr::IxfrHistory* h = r.history ? r.history->find(r.view, r.zone->origin().wire()) : nullptr;
  size_t first = 0;
  switch (xfr::plan_ixfr(h, r.client_serial, r.zone->serial(), first)) {
    case xfr::IxfrAnswer::up_to_date:
      kind = "IXFR, up to date (SOA only)";
      return std::make_unique<xfr::SoaSource>(r.zone);
    case xfr::IxfrAnswer::incremental:
      kind = "IXFR, incremental";
      return std::make_unique<xfr::IxfrSource>(r.zone, *h, first);
    case xfr::IxfrAnswer::axfr:
      break;
  }
  kind = "IXFR, AXFR form (serial not in the history)";
  return std::make_unique<xfr::AxfrSource>(r.zone);
}

}  // namespace phoenix::query
