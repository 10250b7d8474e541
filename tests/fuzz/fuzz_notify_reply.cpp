// fuzz_notify_reply -- any bytes as the datagram a secondary sends back to our NOTIFY: the matcher
// must stay inside the input, and only a reply with the NOTIFY's id, opcode and question (and, for the
// signed NOTIFY, a TSIG that verifies) may end the exchange. The first input byte picks the signed or
// unsigned NOTIFY; the rest is the reply (its first two bytes the id, so the corpus reaches the checks).
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "horizon/tsig_keys.hpp"
#include "server/wire/query_builder.hpp"
#include "server/xfr/notify_message.hpp"
#include "zones/name.hpp"
#include "zones/rrset.hpp"

using namespace phoenix;

namespace {

const horizon::TsigKey& key() {
  static const std::vector<horizon::TsigKey> k = [] {
    std::vector<horizon::TsigKey> out;
    horizon::Diagnostics diag;
    auto j = nlohmann::json::parse(
        R"({"notify-key": {"algorithm": "hmac-sha256", "secret": "ypiLzrz0E9kwNXG5prjzk76f2lTc9EatxYlvYCPI7vE="}})");
    horizon::read_tsig_keys_json(j, "fuzz", "", out, diag);
    return out;
  }();
  return k.at(0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool sign = data[0] & 1;
  const uint8_t* reply = data + 1;
  const size_t len = size - 1;
  const uint16_t id = static_cast<uint16_t>(reply[0] << 8 | reply[1]);
  static const std::string zone = wire::text_to_wire("internal.example");
  static const std::string soa = zones::rdata_soa(*zones::Name::from_text("ns.internal.example."),
                                                  *zones::Name::from_text("h.internal.example."), 1, 2, 3, 4, 5);
  xfr::NotifyExchange ex(id, zone, 300, soa, sign ? &key() : nullptr, 1000000);
  if (ex.message().empty()) std::abort();
  auto o = ex.on_reply(reply, len, 1000000);
  if (o == xfr::NotifyOutcome::acknowledged || o == xfr::NotifyOutcome::rejected) {
    // Ending the exchange needs at least the header and the whole question.
    if (len < 12 + zone.size() + 4) std::abort();
    if ((reply[2] & 0x80) == 0 || ((reply[2] >> 3) & 0x0f) != 4) std::abort();
  }
  if (o != xfr::NotifyOutcome::pending && o != xfr::NotifyOutcome::acknowledged && o != xfr::NotifyOutcome::rejected)
    std::abort();
  return 0;
}
