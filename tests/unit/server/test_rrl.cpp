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

/// The real reply of the external view to `name` from 192.0.2.x.
std::vector<uint8_t> reply(const std::string& name, uint16_t type = 1) {
  auto q = wire::build_query(name, type, 0x4242, false, 1232);
  std::vector<uint8_t> out(1232);
  query::QueryContext ctx{&example(), *horizon::IpAddr::parse("192.0.2.1"), false, nullptr};
  out.resize(query::process_query(q.data(), q.size(), ctx, out.data(), out.size()));
  return out;
}

horizon::RateLimitSettings on(uint32_t rate, uint32_t slip = 0) {
  horizon::RateLimitSettings s;
  s.enabled = true;
  s.responses_per_second = s.nxdomains_per_second = s.errors_per_second = rate;
  s.slip = slip;
  return s;
}

/// How many of `n` copies of `r` from `client` at `now_ms` go out unchanged.
int sent(query::RateLimiter& l, const std::vector<uint8_t>& r, const char* client, int n,
         const horizon::RateLimitSettings& s, uint64_t now_ms) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    auto copy = r;
    ok += l.limit(copy.data(), copy.size(), *horizon::IpAddr::parse(client), 1, 1, s, now_ms) == copy.size();
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
  EXPECT_EQ(l.counters(1).limited, 15u);
  EXPECT_EQ(l.counters(1).dropped, 15u);
  EXPECT_EQ(l.counters(0).limited, 0u);  // counted per view
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
    auto copy = r;
    size_t n = l.limit(copy.data(), copy.size(), *horizon::IpAddr::parse("192.0.2.1"), 1, 1, s, 1000);
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
  EXPECT_EQ(l.counters(1).slipped, 5u);
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
    auto copy = r;
    l.limit(copy.data(), copy.size(), horizon::IpAddr::v4(0x0a000000u + i), 1, 1, s, 1000 + i / 1000);
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
