// The processor's TSIG, view-by-key, destination and transfer stages, on the example inventory with
// keys and transfer settings added, built by the real pipeline.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "server/query/processor.hpp"
#include "server/reload.hpp"
#include "server/wire/query_builder.hpp"
#include "server/xfr/tsig.hpp"

using namespace phoenix;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSecret = "q8bAy2Z4aDcO8vaJDHDp6Ehf5rb9wT1bS1+q0t5K3zA=";

/// The example with a key per view, key-only transfers, and match_destinations on a third view.
std::shared_ptr<zones::Snapshot> snapshot() {
  static std::shared_ptr<zones::Snapshot> snap = [] {
    fs::path dir = fs::temp_directory_path() / ("phoenix-xfrproc-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path src = fs::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory";
    for (auto& f : fs::directory_iterator(src)) fs::copy(f.path(), dir / f.path().filename());
    nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir / "phoenix_hypervisor_config.json"));
    auto& dns = doc["dns_server"];
    dns["tsig_keys"] = {{"internal-xfr", {{"algorithm", "hmac-sha256"}, {"secret", kSecret}}},
                        {"external-xfr", {{"algorithm", "hmac-sha1"}, {"secret", kSecret}}}};
    dns["views"] = nlohmann::json::parse(R"([
      {"name": "internal", "match_clients": ["127.0.0.1"], "match_keys": ["internal-xfr"],
       "transfer": {"allow": ["key:internal-xfr", "127.0.0.5"]}},
      {"name": "lan", "horizon": "internal", "zones": ["internal.thinkheads.ai"], "match_clients": ["127.0.0.0/8"],
       "match_destinations": ["127.0.0.53"]},
      {"name": "external", "match_clients": ["any"], "match_keys": ["external-xfr"], "rate_limit": false,
       "transfer": {"allow": ["key:external-xfr"]}}])");
    std::ofstream(dir / "phoenix_hypervisor_config.json") << doc.dump();
    zones::SerialStore serials(std::nullopt);
    auto out = server::load_snapshot(dir, serials);
    fs::remove_all(dir);
    return out.snapshot;
  }();
  return snap;
}

const horizon::TsigKey& key(const char* name) { return *horizon::find_tsig_key(snapshot()->tsig_keys, name); }

std::vector<uint8_t> make_query(const char* name, uint16_t qtype, const horizon::TsigKey* k = nullptr,
                           xfr::TsigContext* ctx = nullptr, uint64_t at = 0) {
  auto q = wire::build_query(name, qtype, 0x1234, false, std::nullopt);
  if (!k) return q;
  size_t len = q.size();
  q.resize(len + xfr::kMaxTsigSpace);
  xfr::TsigContext local;
  size_t n = xfr::sign_request(q.data(), len, q.size(), *k, at ? at : static_cast<uint64_t>(::time(nullptr)),
                               ctx ? *ctx : local);
  q.resize(n);
  return q;
}

struct Answer {
  std::vector<uint8_t> bytes;
  query::XfrRequest xfr;
  uint16_t rcode() const { return bytes.size() < 12 ? 0xffff : bytes[3] & 0x0f; }
  uint16_t ancount() const { return static_cast<uint16_t>(bytes[6] << 8 | bytes[7]); }
};

Answer ask(const std::vector<uint8_t>& q, const char* client, bool tcp = false, const char* local = "127.0.0.1") {
  Answer a;
  a.bytes.resize(65535);
  query::QueryContext ctx{snapshot().get(), *horizon::IpAddr::parse(client), tcp};
  ctx.local = *horizon::IpAddr::parse(local);
  ctx.xfr = &a.xfr;
  size_t n = query::process_query(q.data(), q.size(), ctx, a.bytes.data(), a.bytes.size());
  a.bytes.resize(n);
  return a;
}

/// The A record in the first answer (the view shows in which address ollama gets).
std::string first_a(const Answer& a) {
  // Header, question (name + 4), then the first answer: a compression pointer, type, class, ttl, len.
  size_t off = 12;
  while (a.bytes[off]) off += a.bytes[off] + 1;
  off += 5 + 12;
  return std::to_string(a.bytes[off]) + "." + std::to_string(a.bytes[off + 1]) + "." + std::to_string(a.bytes[off + 2]) +
         "." + std::to_string(a.bytes[off + 3]);
}

}  // namespace

TEST(TransferProcessor, TheKeySelectsTheViewBeforeTheAddress) {
  ASSERT_TRUE(snapshot());
  // Unsigned from 127.0.0.9: external; the internal zone is refused there.
  EXPECT_EQ(ask(make_query("ollama.internal.thinkheads.ai", zones::rrtype::A), "127.0.0.9").rcode(), 5);
  // Signed with the internal key from the same address: the internal view, and a signed reply.
  xfr::TsigContext ctx;
  auto q = make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &key("internal-xfr"), &ctx);
  Answer a = ask(q, "127.0.0.9");
  ASSERT_EQ(a.rcode(), 0);
  EXPECT_EQ(first_a(a), "10.0.0.155");
  xfr::TsigStreamVerifier v(ctx);
  EXPECT_EQ(v.verify(a.bytes.data(), a.bytes.size(), static_cast<uint64_t>(::time(nullptr))), xfr::TsigStatus::ok);
  // The external key from 127.0.0.1 (an internal address): the external view.
  EXPECT_EQ(ask(make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &key("external-xfr")), "127.0.0.1").rcode(), 5);
}

TEST(TransferProcessor, BadSignaturesGetNotauthWithTheTsigError) {
  ASSERT_TRUE(snapshot());
  auto q = make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &key("internal-xfr"));
  q[q.size() - 10] ^= 0x55;  // inside the MAC
  Answer a = ask(q, "127.0.0.1");
  EXPECT_EQ(a.rcode(), xfr::kRcodeNotauth);
  EXPECT_EQ(a.ancount(), 0);
  xfr::TsigRecord t;
  ASSERT_EQ(xfr::find_tsig(a.bytes.data(), a.bytes.size(), t), xfr::TsigParse::ok);
  EXPECT_EQ(t.error, xfr::tsig_error::BADSIG);
  EXPECT_EQ(t.mac_len, 0);

  horizon::TsigKey stranger = key("internal-xfr");
  stranger.name = "stranger";
  a = ask(make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &stranger), "127.0.0.1");
  EXPECT_EQ(a.rcode(), xfr::kRcodeNotauth);
  ASSERT_EQ(xfr::find_tsig(a.bytes.data(), a.bytes.size(), t), xfr::TsigParse::ok);
  EXPECT_EQ(t.error, xfr::tsig_error::BADKEY);

  a = ask(make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &key("internal-xfr"), nullptr, 1000), "127.0.0.1");
  EXPECT_EQ(a.rcode(), xfr::kRcodeNotauth);
  ASSERT_EQ(xfr::find_tsig(a.bytes.data(), a.bytes.size(), t), xfr::TsigParse::ok);
  EXPECT_EQ(t.error, xfr::tsig_error::BADTIME);
}

TEST(TransferProcessor, MatchDestinationsNeedsTheLocalAddress) {
  ASSERT_TRUE(snapshot());
  // 127.0.0.2 is in "lan"'s match_clients; only queries that arrived on 127.0.0.53 are lan's.
  auto q = make_query("ollama.internal.thinkheads.ai", zones::rrtype::A);
  EXPECT_EQ(ask(q, "127.0.0.2", false, "127.0.0.53").rcode(), 0);
  EXPECT_EQ(ask(q, "127.0.0.2", false, "127.0.0.1").rcode(), 5);  // external
  EXPECT_EQ(ask(q, "127.0.0.2", false, "0.0.0.0").rcode(), 5);    // not known: not lan
}

TEST(TransferProcessor, TransfersGoToAllowedClientsOnly) {
  ASSERT_TRUE(snapshot());
  const char* zone = "internal.thinkheads.ai";
  // Unsigned from an internal address that allow does not list: REFUSED, over TCP too.
  Answer a = ask(make_query(zone, zones::rrtype::AXFR), "127.0.0.1", true);
  EXPECT_EQ(a.rcode(), 5);
  EXPECT_FALSE(a.xfr.wanted);
  // Signed with the internal key: the transport streams it, from the internal view's zone.
  xfr::TsigContext ctx;
  a = ask(make_query(zone, zones::rrtype::AXFR, &key("internal-xfr"), &ctx), "127.0.0.9", true);
  EXPECT_TRUE(a.bytes.empty());
  ASSERT_TRUE(a.xfr.wanted);
  EXPECT_EQ(a.xfr.view, "internal");
  EXPECT_EQ(a.xfr.zone->origin().to_text(), "internal.thinkheads.ai.");
  ASSERT_TRUE(a.xfr.tsig);
  EXPECT_EQ(a.xfr.tsig->key->name, "internal-xfr");
  // The external key: the external view has no such zone (NOTAUTH, RFC 5936 §2.2.1).
  a = ask(make_query(zone, zones::rrtype::AXFR, &key("external-xfr")), "127.0.0.1", true);
  EXPECT_EQ(a.rcode(), xfr::kRcodeNotauth);
  EXPECT_FALSE(a.xfr.wanted);
  // At the bound of concurrent transfers: REFUSED.
  {
    Answer b;
    b.bytes.resize(65535);
    b.xfr.busy = true;
    auto q = make_query(zone, zones::rrtype::AXFR, &key("internal-xfr"));
    query::QueryContext c{snapshot().get(), *horizon::IpAddr::parse("127.0.0.1"), true};
    c.xfr = &b.xfr;
    b.bytes.resize(query::process_query(q.data(), q.size(), c, b.bytes.data(), b.bytes.size()));
    EXPECT_EQ(b.rcode(), 5);
    EXPECT_FALSE(b.xfr.wanted);
  }
  // AXFR over UDP: NOTIMP (RFC 5936 §4.2).
  EXPECT_EQ(ask(make_query(zone, zones::rrtype::AXFR, &key("internal-xfr")), "127.0.0.1").rcode(), 4);
}

TEST(TransferProcessor, NotifyIsRefused) {
  ASSERT_TRUE(snapshot());
  auto q = make_query("internal.thinkheads.ai", zones::rrtype::SOA);
  q[2] = static_cast<uint8_t>(wire::opcode::NOTIFY << 3) | 0x04;  // NOTIFY, AA
  EXPECT_EQ(ask(q, "127.0.0.1").rcode(), 5);
}
