// Response rate limiting: token buckets per client prefix and response class, slip, window, exempt.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/query/processor.hpp"
#include "server/wire/query_builder.hpp"
#include "server/query/rrl.hpp"
#include "unit/server/example_snapshot.hpp"

using namespace phoenix;

namespace {

const zones::Snapshot& example() { return test::example_snapshot(); }

/// The real reply of the external view to `name` from 192.0.2.x, and what the processor said of it.
struct Reply {
  std::vector<uint8_t> bytes;
  query::ReplyFacts facts;
  size_t size() const { return bytes.size(); }
  uint8_t operator[](size_t i) const { return bytes[i]; }
};

Reply reply(const std::string& name, uint16_t type = 1, const zones::Snapshot& snap = example()) {
  auto q = wire::build_query(name, type, 0x4242, false, 1232);
  Reply r;
  r.bytes.resize(1232);
  query::QueryContext ctx{&snap, *horizon::IpAddr::parse("192.0.2.1"), false, nullptr};
  ctx.facts = &r.facts;
  r.bytes.resize(query::process_query(q.data(), q.size(), ctx, r.bytes.data(), r.bytes.size()));
  return r;
}

horizon::RateLimitSettings on(uint32_t rate, uint32_t slip = 0) {
  horizon::RateLimitSettings s;
  s.enabled = true;
  s.responses_per_second = s.nxdomains_per_second = s.errors_per_second = rate;
  s.slip = slip;
  return s;
}

/// How many of `n` copies of `r` from `client` at `now_ms` go out unchanged.
int sent(query::RateLimiter& l, const Reply& r, const char* client, int n,
         const horizon::RateLimitSettings& s, uint64_t now_ms) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    auto copy = r.bytes;
    ok += l.limit(copy.data(), copy.size(), *horizon::IpAddr::parse(client), r.facts, s, now_ms) == copy.size();
  }
  return ok;
}

const char* kName = "ollama.phoenix.thinkheads.ai";

}  // namespace

TEST(RateLimiter, AllowsTheRateThenDrops) {
  query::RateLimiter l(1);
  auto s = on(5);
  auto r = reply(kName);
  ASSERT_EQ(r[3] & 0x0f, 0);
  EXPECT_EQ(sent(l, r, "192.0.2.1", 20, s, 1000), 5);  // one second's credit
  EXPECT_EQ(l.counters(r.facts.view_slot).limited, 15u);
  EXPECT_EQ(l.counters(r.facts.view_slot).dropped, 15u);
  EXPECT_EQ(l.counters(r.facts.view_slot + 1).limited, 0u);  // counted per view slot
}

TEST(RateLimiter, BucketsArePerPrefixAndClass) {
  query::RateLimiter l(2);
  auto s = on(3);
  auto r = reply(kName);
  EXPECT_EQ(sent(l, r, "192.0.2.1", 10, s, 1000), 3);
  EXPECT_EQ(sent(l, r, "192.0.2.200", 10, s, 1000), 0);  // same /24: the same bucket
  EXPECT_EQ(sent(l, r, "192.0.3.1", 10, s, 1000), 3);    // another /24: its own
  EXPECT_EQ(sent(l, reply(kName, 28), "192.0.2.1", 10, s, 1000), 3);  // another type: its own
  // NXDOMAIN counts by zone: different missing names share one bucket.
  int nx = 0;
  for (int i = 0; i < 10; ++i) {
    auto r2 = reply("missing" + std::to_string(i) + ".phoenix.thinkheads.ai");
    ASSERT_EQ(r2[3] & 0x0f, 3);
    nx += sent(l, r2, "192.0.2.1", 1, s, 1000);
  }
  EXPECT_EQ(nx, 3);
  s.ipv4_prefix = 32;
  EXPECT_EQ(sent(l, r, "192.0.2.201", 10, s, 1000), 3);  // per address now
}

TEST(RateLimiter, CreditReturnsAtTheRateAndDebtIsBoundedByTheWindow) {
  query::RateLimiter l(3);
  auto s = on(10);
  s.window = 2;
  auto r = reply(kName);
  EXPECT_EQ(sent(l, r, "192.0.2.1", 10, s, 1000), 10);
  EXPECT_EQ(sent(l, r, "192.0.2.1", 1000, s, 1000), 0);  // deep in debt, but at most 2 s of it
  EXPECT_EQ(sent(l, r, "192.0.2.1", 1, s, 2500), 0);     // 1.5 s later: still paying back
  EXPECT_EQ(sent(l, r, "192.0.2.1", 5, s, 4100), 5);     // after the window: credit again
}

TEST(RateLimiter, SlipSendsEveryNthDropTruncated) {
  query::RateLimiter l(4);
  auto s = on(1, 2);
  auto r = reply(kName);
  int dropped = 0, slipped = 0;
  for (int i = 0; i < 11; ++i) {
    auto copy = r.bytes;
    size_t n = l.limit(copy.data(), copy.size(), *horizon::IpAddr::parse("192.0.2.1"), r.facts, s, 1000);
    if (n == 0) ++dropped;
    else if (n < r.size()) {
      ++slipped;
      EXPECT_TRUE(copy[2] & 0x02);                     // TC
      EXPECT_EQ(copy[5], 1);                           // the question stays
      EXPECT_EQ(copy[7] | copy[9] | copy[11], 0);      // no records
      EXPECT_EQ(n, 12 + 30u + 4);                      // header + ollama.phoenix.thinkheads.ai + type/class
    }
  }
  EXPECT_EQ(dropped, 5);
  EXPECT_EQ(slipped, 5);
  EXPECT_EQ(l.counters(r.facts.view_slot).slipped, 5u);
}

TEST(RateLimiter, ExemptOffAndZeroRateAreNotLimited) {
  query::RateLimiter l(5);
  auto s = on(1);
  s.exempt.push_back(*horizon::IpPrefix::parse("192.0.2.0/25"));
  auto r = reply(kName);
  EXPECT_EQ(sent(l, r, "192.0.2.1", 10, s, 1000), 10);
  EXPECT_EQ(sent(l, r, "192.0.2.130", 10, s, 1000), 1);
  s.enabled = false;
  EXPECT_EQ(sent(l, r, "192.0.2.130", 10, s, 1000), 10);
  s = on(0);
  EXPECT_EQ(sent(l, r, "192.0.2.130", 10, s, 1000), 10);
}

TEST(RateLimiter, ManyClientsStayWithinTheFixedTable) {
  // More keys than buckets: old ones are reused, nothing grows, and a fresh client is still served.
  query::RateLimiter l(6);
  auto s = on(2);
  s.ipv4_prefix = 32;
  auto r = reply(kName);
  for (uint32_t i = 0; i < query::RateLimiter::kBuckets * 2; ++i) {
    auto copy = r.bytes;
    l.limit(copy.data(), copy.size(), horizon::IpAddr::v4(0x0a000000u + i), r.facts, s, 1000 + i / 1000);
  }
  EXPECT_EQ(sent(l, r, "192.0.2.77", 5, s, 2000), 2);
}

TEST(RateLimiter, DefaultsFollowTheViews) {
  // The example: "internal" matches known prefixes only (off), "external" matches any (on).
  const auto& snap = example();
  ASSERT_EQ(snap.view_data.size(), 2u);
  EXPECT_FALSE(snap.view_data[0].rate_limit.enabled);
  EXPECT_TRUE(snap.view_data[1].rate_limit.enabled);
  EXPECT_EQ(snap.view_data[1].rate_limit.responses_per_second, 20u);
  EXPECT_TRUE(snap.rate_limited);
}

TEST(RateLimiter, AReplyReadBackCountsInTheSameBucketAsTheProcessorsFacts) {
  // A forwarded reply comes from upstream: only its view is known, the name is read from the bytes
  // (any case, compressed or not). It must land in the bucket the processor's facts would choose.
  query::RateLimiter l(7);
  auto s = on(4);
  auto r = reply("OLLAMA.phoenix.thinkheads.ai");
  ASSERT_GT(r.facts.qname_len, 0u);
  Reply upstream = reply(kName);
  upstream.facts = query::ReplyFacts{r.facts.view, r.facts.view_slot, 0, {}, {}};
  EXPECT_EQ(sent(l, r, "192.0.2.1", 2, s, 1000), 2);
  EXPECT_EQ(sent(l, upstream, "192.0.2.1", 5, s, 1000), 2);  // the rest of the same credit
  // NXDOMAIN: by our zone from the facts, by the SOA owner when read back: the same zone either way.
  auto nx = reply("nope1.phoenix.thinkheads.ai");
  ASSERT_FALSE(nx.facts.zone.empty());
  Reply nx_up = reply("nope2.phoenix.thinkheads.ai");
  nx_up.facts = query::ReplyFacts{nx.facts.view, nx.facts.view_slot, 0, {}, {}};
  EXPECT_EQ(sent(l, nx, "192.0.2.1", 3, s, 1000), 3);
  EXPECT_EQ(sent(l, nx_up, "192.0.2.1", 3, s, 1000), 1);
}

TEST(RateLimiter, WildcardAnswersCountAsTheWildcard) {
  // Facts as the processor gives them for names synthesised from *.wild.lab.example (zones/zone.cpp
  // sets LookupResult::wildcard): different query names, one bucket.
  query::RateLimiter l(8);
  auto s = on(3);
  auto base = reply(kName);
  static const std::string wild("\x01*\x04wild\x03lab\x07" "example\x00", 19);
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    Reply r = base;
    r.facts.wildcard = wild;
    // Each copy asks a different name: rewrite the first label's last octet.
    r.bytes[13] = static_cast<uint8_t>('a' + i);
    ok += sent(l, r, "192.0.2.1", 1, s, 1000);
  }
  EXPECT_EQ(ok, 3);
  // Without the wildcard fact every name is its own bucket.
  int own = 0;
  for (int i = 0; i < 10; ++i) {
    Reply r = base;
    r.bytes[13] = static_cast<uint8_t>('a' + i);
    own += sent(l, r, "192.0.3.1", 1, s, 1000);
  }
  EXPECT_EQ(own, 10);
}
