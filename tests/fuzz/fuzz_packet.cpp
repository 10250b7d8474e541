// fuzz_packet -- any bytes through parse and the whole answer path, against the example inventory
// plus the differential-test zone file (CNAME chains, wildcards, delegations, truncation).
//
// Byte 0 picks the transport and the client (so both views and TCP limits are reached), whether
// cookies are answered (and required), and whether the reply then goes through the response rate
// limiter, which parses replies (server/query/rrl.hpp); the rest is the packet. Checked invariants: no crash or sanitizer report, the reply fits the buffer, and a reply
// is a response (QR=1) carrying the query's ID.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "horizon/loader.hpp"
#include "horizon/plan.hpp"
#include "server/query/processor.hpp"
#include "server/query/rrl.hpp"
#include "zones/snapshot.hpp"

using namespace phoenix;

namespace {

std::shared_ptr<zones::Snapshot> g_snapshot;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto loaded = horizon::load_inventory(PHOENIX_SOURCE_DIR "/packaging/examples/inventory");
  if (!loaded.inventory) std::abort();
  horizon::ZoneFileSpec lab;
  lab.file = PHOENIX_SOURCE_DIR "/tests/integration/data/lab.zone";
  lab.origin = "lab.example";
  loaded.inventory->dns.zone_files.push_back(lab);
  horizon::Diagnostics diag;
  auto plan = horizon::derive_plan(*loaded.inventory, diag);
  zones::SerialStore serials(std::nullopt);
  g_snapshot = zones::build_snapshot(plan, serials, diag);
  if (!g_snapshot) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const bool tcp = mode & 1;
  static const auto internal = *horizon::IpAddr::parse("127.0.0.1");
  static const auto external = *horizon::IpAddr::parse("127.0.0.2");
  // A copy of exactly the packet bytes, so ASan sees any read past its end.
  std::vector<uint8_t> in(data + 1, data + size);
  const size_t cap = tcp ? query::kMaxTcpReply : 1232 + (mode & 2 ? 0 : 3000);
  std::vector<uint8_t> out(cap);
  query::QueryStats stats;
  query::QueryContext ctx{g_snapshot.get(), (mode & 4) ? external : internal, tcp, &stats};
  static const query::CookieSecrets secrets = [] {
    query::CookieSecrets s;
    for (size_t i = 0; i < 16; ++i) s.current[i] = static_cast<uint8_t>(i), s.previous[i] = static_cast<uint8_t>(i * 7);
    s.has_previous = true;
    return s;
  }();
  query::CookieState cookie{&secrets, 1700000000u, (mode & 0x10) != 0};
  if (mode & 8) ctx.cookie = &cookie;
  query::ReplyFacts facts;
  ctx.facts = &facts;
  size_t n = query::process_query(in.data(), in.size(), ctx, out.data(), out.size());
  if (mode & 0x20 && n > 0) {
    static query::RateLimiter limiter(1);
    static uint64_t now = 0;
    horizon::RateLimitSettings rl;
    rl.enabled = true;
    rl.responses_per_second = rl.nxdomains_per_second = rl.errors_per_second = 1;
    size_t before = n;
    // As a forwarded reply is judged: only the view known, the rest read back from the bytes.
    if (mode & 0x40) facts = query::ReplyFacts{1, 1, 0, {}, {}};
    n = limiter.limit(out.data(), n, ctx.client, facts, rl, now += 10);
    if (n > before) std::abort();
    if (n == 0) return 0;
  }
  if (n > cap) std::abort();
  if (n > 0) {
    if (n < 12 || in.size() < 2 || !(out[2] & 0x80)) std::abort();
    if (std::memcmp(out.data(), in.data(), 2) != 0) std::abort();
    // UDP replies never exceed what the client may receive (RFC 6891 §6.2.5: at most 1232 here).
    if (!tcp && n > 1232) std::abort();
  }
  return 0;
}
