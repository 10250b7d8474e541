// The processor's TSIG, view-by-key, destination and transfer stages, on the example inventory with
// keys and transfer settings added, built by the real pipeline.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "server/metrics.hpp"
#include "server/query/processor.hpp"
#include "server/reload.hpp"
#include "server/wire/query_builder.hpp"
#include "server/xfr/tsig.hpp"
#include "unit/server/metrics_text.hpp"

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

Answer ask(const std::vector<uint8_t>& q, const char* client, bool tcp = false, const char* local = "127.0.0.1",
           query::QueryStats* stats = nullptr) {
  Answer a;
  a.bytes.resize(65535);
  query::QueryContext ctx{snapshot().get(), *horizon::IpAddr::parse(client), tcp, stats};
  ctx.local = *horizon::IpAddr::parse(local);
  ctx.xfr = &a.xfr;
  size_t n = query::process_query(q.data(), q.size(), ctx, a.bytes.data(), a.bytes.size());
  a.bytes.resize(n);
  return a;
}

/// An IXFR request for `zone` with the client's serial in an authority SOA (RFC 1995 §3), signed with `k`.
std::vector<uint8_t> make_ixfr(const char* zone, uint32_t serial, const horizon::TsigKey* k = nullptr) {
  auto q = wire::build_query(zone, zones::rrtype::IXFR, 0x4321, false, std::nullopt);
  q[9] = 1;  // NSCOUNT
  const uint8_t rr[] = {0xc0, 12, 0, zones::rrtype::SOA, 0, 1, 0, 0, 0, 60, 0, 22, 0, 0};
  q.insert(q.end(), std::begin(rr), std::end(rr));
  for (int shift = 24; shift >= 0; shift -= 8) q.push_back(static_cast<uint8_t>(serial >> shift));
  q.insert(q.end(), 16, 0);  // refresh, retry, expire, minimum
  if (!k) return q;
  size_t len = q.size();
  q.resize(len + xfr::kMaxTsigSpace);
  xfr::TsigContext ctx;
  q.resize(xfr::sign_request(q.data(), len, q.size(), *k, static_cast<uint64_t>(::time(nullptr)), ctx));
  return q;
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

TEST(TransferProcessor, TransferRequestsAndSignaturesAreCounted) {
  auto snap = snapshot();
  ASSERT_TRUE(snap);
  server::MetricSlots slots;
  slots.assign(*snap);
  const auto labels = slots.zones();
  auto slot_of = [&](const char* view, const char* zone) {
    auto it = std::find(labels.begin(), labels.end(), server::MetricSlots::ZoneLabel{view, zone});
    EXPECT_NE(it, labels.end()) << view << " " << zone;
    return static_cast<size_t>(it - labels.begin());
  };
  const size_t internal = slot_of("internal", "internal.thinkheads.ai.");
  const size_t external_none = slot_of("external", "none");
  using query::XfrCounters;
  using query::XfrForm;
  using query::XfrResult;
  auto outcome = [](const query::QueryStats& st, size_t slot, query::XfrType t, XfrResult r, XfrForm f = XfrForm::axfr) {
    return st.xfr[slot].outcomes[static_cast<size_t>(t)][XfrCounters::outcome(r, f)].load();
  };
  query::QueryStats udp, tcp;
  const char* zone = "internal.thinkheads.ai";
  // Unsigned from an address allow does not list: refused.
  EXPECT_EQ(ask(make_query(zone, zones::rrtype::AXFR), "127.0.0.1", true, "127.0.0.1", &tcp).rcode(), 5);
  EXPECT_EQ(outcome(tcp, internal, query::XfrType::axfr, XfrResult::refused), 1u);
  // Signed: handed to the transport, which counts the outcome once it has streamed; the key is counted here.
  Answer a = ask(make_query(zone, zones::rrtype::AXFR, &key("internal-xfr")), "127.0.0.9", true, "127.0.0.1", &tcp);
  ASSERT_TRUE(a.xfr.wanted);
  EXPECT_EQ(a.xfr.metrics_slot, internal);
  EXPECT_EQ(outcome(tcp, internal, query::XfrType::axfr, XfrResult::ok), 0u);
  // At the bound of concurrent transfers: REFUSED, counted as busy.
  {
    query::XfrRequest busy;
    busy.busy = true;
    auto q = make_query(zone, zones::rrtype::AXFR, &key("internal-xfr"));
    std::vector<uint8_t> out(65535);
    query::QueryContext c{snap.get(), *horizon::IpAddr::parse("127.0.0.9"), true, &tcp};
    c.xfr = &busy;
    ASSERT_GT(query::process_query(q.data(), q.size(), c, out.data(), out.size()), 0u);
    EXPECT_EQ(out[3] & 0x0f, 5);
    EXPECT_EQ(outcome(tcp, internal, query::XfrType::axfr, XfrResult::busy), 1u);
  }
  // The external key asks for a zone its view lacks: NOTAUTH, counted under the view's "none".
  EXPECT_EQ(ask(make_query(zone, zones::rrtype::AXFR, &key("external-xfr")), "127.0.0.1", true, "127.0.0.1", &tcp).rcode(),
            xfr::kRcodeNotauth);
  EXPECT_EQ(outcome(tcp, external_none, query::XfrType::axfr, XfrResult::notauth), 1u);
  // IXFR over UDP, signed: up to date, then (no history here) the zone, which does not fit 512
  // octets, so the SOA alone.
  uint32_t serial = 0;
  for (auto& z : snap->view_data[0].own_zones())
    if (z->origin().to_text() == "internal.thinkheads.ai.") serial = z->serial();
  ASSERT_NE(serial, 0u);
  a = ask(make_ixfr(zone, serial, &key("internal-xfr")), "127.0.0.9", false, "127.0.0.1", &udp);
  ASSERT_EQ(a.rcode(), 0);
  const size_t first = a.bytes.size();
  a = ask(make_ixfr(zone, serial - 1, &key("internal-xfr")), "127.0.0.9", false, "127.0.0.1", &udp);
  ASSERT_EQ(a.rcode(), 0);
  EXPECT_EQ(a.ancount(), 1);
  const size_t second = a.bytes.size();
  EXPECT_EQ(outcome(udp, internal, query::XfrType::ixfr_udp, XfrResult::ok, XfrForm::up_to_date), 1u);
  EXPECT_EQ(outcome(udp, internal, query::XfrType::ixfr_udp, XfrResult::ok, XfrForm::soa_only), 1u);
  EXPECT_EQ(udp.xfr[internal].messages[2].load(), 2u);
  EXPECT_EQ(udp.xfr[internal].bytes[2].load(), first + second);
  // An IXFR whose authority section has no SOA: FORMERR.
  EXPECT_EQ(ask(make_query(zone, zones::rrtype::IXFR, &key("internal-xfr")), "127.0.0.9", false, "127.0.0.1", &udp).rcode(), 1);
  EXPECT_EQ(outcome(udp, internal, query::XfrType::ixfr_udp, XfrResult::formerr), 1u);
  // Over TCP, signed: the transport's (form chosen there).
  a = ask(make_ixfr(zone, 1, &key("internal-xfr")), "127.0.0.9", true, "127.0.0.1", &tcp);
  EXPECT_TRUE(a.xfr.wanted);
  EXPECT_EQ(a.xfr.client_serial, 1u);

  // TSIG: the good signatures above (two keys), then each failure.
  auto bad_mac = make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &key("internal-xfr"));
  bad_mac[bad_mac.size() - 10] ^= 0x55;
  ask(bad_mac, "127.0.0.1", false, "127.0.0.1", &udp);
  horizon::TsigKey stranger = key("internal-xfr");
  stranger.name = "stranger";
  ask(make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &stranger), "127.0.0.1", false, "127.0.0.1", &udp);
  ask(make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &key("internal-xfr"), nullptr, 1000), "127.0.0.1",
      false, "127.0.0.1", &udp);
  auto badtsig = make_query("ollama.internal.thinkheads.ai", zones::rrtype::A, &key("internal-xfr"));
  // A record after the TSIG: it must be the last one (RFC 8945 §5.1).
  const uint8_t after[] = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, 1};
  badtsig.insert(badtsig.end(), std::begin(after), std::end(after));
  badtsig[11] = 2;
  EXPECT_EQ(ask(badtsig, "127.0.0.1", false, "127.0.0.1", &udp).rcode(), 1);
  const auto keys = slots.keys();
  auto key_slot = [&](const char* name) { return static_cast<size_t>(std::find(keys.begin(), keys.end(), name) - keys.begin()); };
  ASSERT_LT(key_slot("internal-xfr"), keys.size());
  ASSERT_LT(key_slot("external-xfr"), keys.size());
  EXPECT_EQ(tcp.tsig_accepted[key_slot("internal-xfr")].load(), 3u);
  EXPECT_EQ(tcp.tsig_accepted[key_slot("external-xfr")].load(), 1u);
  EXPECT_EQ(udp.tsig_accepted[key_slot("internal-xfr")].load(), 3u);
  EXPECT_EQ(udp.tsig_failed[0].load(), 1u);  // BADKEY
  EXPECT_EQ(udp.tsig_failed[1].load(), 1u);  // BADSIG
  EXPECT_EQ(udp.tsig_failed[2].load(), 1u);  // BADTIME
  EXPECT_EQ(udp.tsig_failed[4].load(), 1u);  // FORMERR

  // Incoming NOTIFY: refused and counted.
  auto notify = make_query(zone, zones::rrtype::SOA);
  notify[2] = static_cast<uint8_t>(wire::opcode::NOTIFY << 3) | 0x04;
  ask(notify, "127.0.0.1", false, "127.0.0.1", &udp);
  EXPECT_EQ(udp.notify_refused.load(), 1u);

  // And the exposition says the same.
  server::MetricsInput mi;
  mi.workers = {{"udp", &udp}, {"tcp", &tcp}};
  mi.view_names = slots.names();
  mi.zone_slots = labels;
  mi.key_names = keys;
  mi.snapshot = snap;
  const std::string text = server::render_metrics(mi);
  using test::value_of;
  const std::string in = R"(view="internal",zone="internal.thinkheads.ai.",)";
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + in + R"(type="axfr",form="none",result="refused"})"), 1);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + in + R"(type="ixfr_udp",form="soa_only",result="ok"})"), 1);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + in + R"(type="ixfr_udp",form="up_to_date",result="ok"})"), 1);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + in + R"(type="ixfr_udp",form="none",result="formerr"})"), 1);
  // A zone of a view with transfer.allow shows its zero "ok" series; refusals only once counted.
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + in + R"(type="axfr",form="axfr",result="ok"})"), 0);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + in + R"(type="ixfr",form="none",result="refused"})"), -1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_transfers_total{view="external",zone="none",type="axfr",form="none",result="notauth"})"), 1);
  // The "lan" view allows no transfers: no zero series for its zones.
  EXPECT_EQ(text.find(R"(transfers_total{view="lan")"), std::string::npos);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfer_messages_total{" + in + R"(type="ixfr_udp"})"), 2);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfer_bytes_total{" + in + R"(type="ixfr_udp"})"),
            static_cast<double>(first + second));
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_accepted_total{transport="tcp",key="internal-xfr"})"), 3);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + in + R"(type="axfr",form="none",result="busy"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_accepted_total{transport="tcp",key="external-xfr"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_failures_total{transport="udp",error="BADSIG"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_failures_total{transport="udp",error="BADTRUNC"})"), 0);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_notify_incoming_refused_total{transport="udp"})"), 1);
}
