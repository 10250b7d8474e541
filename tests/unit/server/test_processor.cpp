#include <gtest/gtest.h>

#include <vector>

#include "horizon/loader.hpp"
#include "server/query/processor.hpp"
#include "server/wire/format.hpp"
#include "server/wire/query_builder.hpp"
#include "server/wire/reader.hpp"
#include "server/reload.hpp"
#include "zones/zonefile.hpp"

using namespace phoenix;

namespace {

std::vector<uint8_t> make_query(const std::string& name, uint16_t type, uint16_t id = 0x1234, bool edns = false) {
  return wire::build_query(name, type, id, true, edns ? std::optional<uint16_t>(4096) : std::nullopt);
}

/// The example inventory as a snapshot, built by the real pipeline.
const zones::Snapshot& example() {
  static std::shared_ptr<zones::Snapshot> snap = [] {
    zones::SerialStore serials(std::nullopt);
    auto out = server::load_snapshot(std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory", serials);
    return out.snapshot;
  }();
  return *snap;
}


struct Reply {
  std::vector<uint8_t> bytes;
  int rcode() const { return bytes[3] & 0x0f; }
  bool aa() const { return bytes[2] & 0x04; }
  bool tc() const { return bytes[2] & 0x02; }
  int count(int section) const { return (bytes[4 + 2 * section] << 8) | bytes[5 + 2 * section]; }
};

Reply ask(const std::vector<uint8_t>& q, const char* client = "127.0.0.1", bool tcp = false) {
  std::vector<uint8_t> out(tcp ? 65535 : 1232);
  query::QueryContext ctx{&example(), *horizon::IpAddr::parse(client), tcp, nullptr};
  size_t n = query::process_query(q.data(), q.size(), ctx, out.data(), out.size());
  out.resize(n);
  return {out};
}

}  // namespace

TEST(Processor, AnswersInternalNameWithAa) {
  auto r = ask(make_query("ollama.internal.thinkheads.ai", 1));
  ASSERT_GE(r.bytes.size(), 12u);
  EXPECT_EQ(r.rcode(), 0);
  EXPECT_TRUE(r.aa());
  EXPECT_EQ(r.count(1), 1);
  EXPECT_EQ(r.bytes[0], 0x12);
  EXPECT_EQ(r.bytes[1], 0x34);
  // The last four bytes are the A record's rdata.
  std::vector<uint8_t> tail(r.bytes.end() - 4, r.bytes.end());
  EXPECT_EQ(tail, (std::vector<uint8_t>{10, 0, 0, 155}));
}

TEST(Processor, ExternalClientRefusedForInternalZone) {
  auto r = ask(make_query("ollama.internal.thinkheads.ai", 1), "127.0.0.2");
  EXPECT_EQ(r.rcode(), 5);
  EXPECT_FALSE(r.aa());
  EXPECT_EQ(r.count(1), 0);
}

TEST(Processor, ResponsesAreDropped) {
  auto q = make_query("ollama.internal.thinkheads.ai", 1);
  q[2] |= 0x80;
  EXPECT_TRUE(ask(q).bytes.empty());
}

TEST(Processor, ShortPacketsAreDropped) {
  std::vector<uint8_t> q = {1, 2, 3};
  EXPECT_TRUE(ask(q).bytes.empty());
}

TEST(Processor, TwoQuestionsIsFormerr) {
  auto q = make_query("ollama.internal.thinkheads.ai", 1);
  q[5] = 2;
  EXPECT_EQ(ask(q).rcode(), 1);
}

TEST(Processor, TruncatedQuestionIsFormerr) {
  auto q = make_query("ollama.internal.thinkheads.ai", 1);
  q.resize(q.size() - 3);
  EXPECT_EQ(ask(q).rcode(), 1);
}

TEST(Processor, CompressionPointerInQuestionIsFormerr) {
  std::vector<uint8_t> q = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
  EXPECT_EQ(ask(q).rcode(), 1);
}

TEST(Processor, OtherOpcodeIsNotimp) {
  auto q = make_query("ollama.internal.thinkheads.ai", 1);
  q[2] = 0x10;  // opcode 2 (STATUS)
  EXPECT_EQ(ask(q).rcode(), 4);
}

namespace {
/// A second, bare OPT record after the query's own.
void append_opt(std::vector<uint8_t>& q, uint16_t payload) {
  uint8_t opt[wire::kOptFixed];
  wire::write_opt(opt, sizeof opt, wire::OptRecord{payload});
  q.insert(q.end(), opt, opt + sizeof opt);
}
}  // namespace

TEST(Processor, LyingCountsAreFormerr) {
  auto q = make_query("ollama.internal.thinkheads.ai", 1);
  q[7] = 5;  // ANCOUNT 5 with no records
  EXPECT_EQ(ask(q).rcode(), 1);
}

TEST(Processor, TwoOptRecordsAreFormerr) {
  auto q = make_query("ollama.internal.thinkheads.ai", 1, 7, true);
  q[11] = 2;
  append_opt(q, 4096);
  EXPECT_EQ(ask(q).rcode(), 1);
}

TEST(Processor, EdnsQueryGetsOpt) {
  auto r = ask(make_query("ollama.internal.thinkheads.ai", 1, 7, true));
  EXPECT_EQ(r.rcode(), 0);
  EXPECT_EQ(r.count(3), 1);
}

TEST(Processor, NxdomainHasSoa) {
  auto r = ask(make_query("nope.internal.thinkheads.ai", 1));
  EXPECT_EQ(r.rcode(), 3);
  EXPECT_TRUE(r.aa());
  EXPECT_EQ(r.count(2), 1);
}

TEST(Processor, NonInClassIsRefused) {
  auto q = make_query("ollama.internal.thinkheads.ai", 1);
  q[q.size() - 1] = 3;  // CH
  EXPECT_EQ(ask(q).rcode(), 5);
}

TEST(Processor, GarbageNeverCrashes) {
  // A deterministic sweep of mutated packets: every reply is either nothing or a well-formed header.
  auto base = make_query("ollama.internal.thinkheads.ai", 1, 9, true);
  uint32_t seed = 12345;
  for (int i = 0; i < 20000; ++i) {
    auto q = base;
    for (int k = 0; k < 4; ++k) {
      seed = seed * 1103515245 + 12345;
      q[(seed >> 8) % q.size()] = uint8_t(seed >> 16);
    }
    seed = seed * 1103515245 + 12345;
    q.resize((seed >> 8) % (q.size() + 1));
    auto r = ask(q);
    if (!r.bytes.empty()) {
      ASSERT_GE(r.bytes.size(), 12u);
      EXPECT_TRUE(r.bytes[2] & 0x80);
    }
  }
}

TEST(Processor, TwoOptRecordsGetFormerrWithoutOpt) {
  // RFC 6891 §6.1.1; like Knot and NSD, no OPT in the reply (which of the two would speak for the client?).
  auto q = make_query("ollama.internal.thinkheads.ai", 1, 7, true);
  q[11] = 2;
  append_opt(q, 4096);
  auto r = ask(q);
  EXPECT_EQ(r.rcode(), 1);
  EXPECT_EQ(r.count(3), 0);
}

TEST(Processor, ChaosIdentityIsRefusedUnlessConfigured) {
  auto q = make_query("version.bind", 16);
  q[q.size() - 1] = 3;  // CH
  EXPECT_EQ(ask(q).rcode(), 5);
}

TEST(Processor, ForwardAndSelfPointersInAdditionalAreFormerr) {
  // Regression (issue 3): pointers in a query must point to a prior occurrence (RFC 1035 §4.1.4).
  for (uint8_t lo : {uint8_t(0xff), uint8_t(0)}) {
    auto q = make_query("ollama.internal.thinkheads.ai", 1);
    q[11] = 1;
    size_t self = q.size();
    q.insert(q.end(), {0xc0, lo == 0 ? uint8_t(self) : lo, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
    EXPECT_EQ(ask(q).rcode(), 1) << int(lo);
  }
  auto ok = make_query("ollama.internal.thinkheads.ai", 1);
  ok[11] = 1;
  ok.insert(ok.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});  // a backward pointer is fine
  EXPECT_EQ(ask(ok).rcode(), 0);
}

TEST(Processor, ReferralIsTruncatedOnlyWhenInDomainGlueDoesNotFit) {
  // RFC 9471: "wide" has ten name servers inside it, each with A and AAAA glue (over 512 bytes in all);
  // "far" has ten inside our zone but outside the delegation (sibling glue, optional).
  std::string text = "$ORIGIN t.test.\n$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
  for (int i = 1; i <= 10; ++i) {
    std::string n = std::to_string(10 + i);
    text += "wide NS ns" + n + ".wide\nns" + n + ".wide A 192.0.2." + n + "\nns" + n + ".wide AAAA 2001:db8::" + n + "\n";
    text += "far NS ns" + n + ".other\nns" + n + ".other A 192.0.2." + n + "\nns" + n + ".other AAAA 2001:db8::" + n + "\n";
  }
  horizon::Diagnostics diag;
  auto zone = zones::load_zone_text(text, *zones::Name::from_text("t.test"), "t.zone", diag);
  ASSERT_TRUE(zone) << (diag.items().empty() ? "" : diag.items()[0].format());
  zones::Snapshot snap;
  snap.views.add_view("any", {*horizon::IpPrefix::parse("0.0.0.0/0")});
  zones::ViewData vd;
  vd.zones.add(zone);
  snap.view_data.push_back(std::move(vd));
  auto ask_snap = [&](const std::string& name, bool edns) {
    auto q = make_query(name, 1, 7, edns);
    std::vector<uint8_t> out(1232);
    query::QueryContext ctx{&snap, *horizon::IpAddr::parse("192.0.2.200"), false, nullptr};
    out.resize(query::process_query(q.data(), q.size(), ctx, out.data(), out.size()));
    return Reply{out};
  };

  Reply small = ask_snap("www.wide.t.test", false);  // 512 bytes: the glue does not all fit
  EXPECT_TRUE(small.tc());
  EXPECT_FALSE(small.aa());
  EXPECT_EQ(small.count(2), 10);  // the NS RRset is kept, so a client sees the referral it was given
  EXPECT_LT(small.count(3), 20);
  Reply big = ask_snap("www.wide.t.test", true);  // 4096: everything fits
  EXPECT_FALSE(big.tc());
  EXPECT_EQ(big.count(3), 20 + 1);  // every A and AAAA, and the OPT
  Reply sibling = ask_snap("www.far.t.test", false);  // glue dropped, but none of it was in-domain
  EXPECT_FALSE(sibling.tc());
  EXPECT_EQ(sibling.count(2), 10);
  EXPECT_LT(sibling.count(3), 20);
}
