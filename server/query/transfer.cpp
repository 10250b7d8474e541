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

std::unique_ptr<xfr::RecordSource> transfer_source(const XfrRequest& r, XfrForm& form) {
  form = XfrForm::axfr;
  if (r.question.qtype == zones::rrtype::AXFR) return std::make_unique<xfr::AxfrSource>(r.zone);
  const xfr::IxfrHistory* h = r.history ? r.history->find(r.view, r.zone->origin().wire()) : nullptr;
  size_t first = 0;
  switch (xfr::plan_ixfr(h, r.client_serial, r.zone->serial(), first)) {
    case xfr::IxfrAnswer::up_to_date:
      form = XfrForm::up_to_date;
      return std::make_unique<xfr::SoaSource>(r.zone);
    case xfr::IxfrAnswer::incremental:
      form = XfrForm::incremental;
      return std::make_unique<xfr::IxfrSource>(r.zone, *h, first);
    case xfr::IxfrAnswer::axfr:
      break;
  }
  return std::make_unique<xfr::AxfrSource>(r.zone);
}

const char* describe_transfer(uint16_t qtype, XfrForm form) {
  if (qtype == zones::rrtype::AXFR) return "AXFR";
  switch (form) {
    case XfrForm::incremental: return "IXFR, incremental";
    case XfrForm::up_to_date: return "IXFR, up to date (SOA only)";
    case XfrForm::soa_only: return "IXFR, SOA only (the answer does not fit)";
    case XfrForm::axfr: break;
  }
  return "IXFR, AXFR form (serial not in the history)";
}

}  // namespace phoenix::query
