// The TCP table's sizing rules: the cap follows the descriptor limit, the idle time shrinks as the
// table fills, and the per-client key cuts addresses to the configured prefixes.
#include <gtest/gtest.h>

#include "server/net/tcp_listener.hpp"

using namespace phoenix;
using server::TcpLimits;
using std::chrono::milliseconds;

TEST(TcpLimits, CapFollowsTheDescriptorLimit) {
  TcpLimits l;
  EXPECT_EQ(server::connection_cap(l, 65536), 65536u - 1024u);  // the unit's LimitNOFILE
  EXPECT_EQ(server::connection_cap(l, 1024), 512u);             // small limits keep half for the rest
  l.max_connections = 5000;
  EXPECT_EQ(server::connection_cap(l, 65536), 5000u);
  EXPECT_EQ(server::connection_cap(l, 4096), 4096u - 1024u);  // never more than the descriptors allow
  EXPECT_EQ(server::connection_cap(l, 1), 1u);
}

TEST(TcpLimits, IdleTimeoutShrinksPastHalfFull) {
  TcpLimits l;
  l.idle_timeout = milliseconds(10000);
  EXPECT_EQ(server::idle_timeout_at(l, 0, 1000), milliseconds(10000));
  EXPECT_EQ(server::idle_timeout_at(l, 500, 1000), milliseconds(10000));
  EXPECT_EQ(server::idle_timeout_at(l, 750, 1000), milliseconds(5500));
  EXPECT_EQ(server::idle_timeout_at(l, 1000, 1000), milliseconds(1000));
  EXPECT_EQ(server::idle_timeout_at(l, 2000, 1000), milliseconds(1000));  // bounded below
  auto prev = milliseconds(10001);
  for (size_t open = 0; open <= 1000; open += 10) {
    auto t = server::idle_timeout_at(l, open, 1000);
    EXPECT_LE(t, prev) << open;
    prev = t;
  }
}

TEST(TcpLimits, ClientKeyCutsToThePrefix) {
  TcpLimits l;
  auto a = *horizon::IpAddr::parse("192.0.2.77");
  EXPECT_EQ(server::client_key(l, a), a);  // /32 by default: one address
  l.client_prefix_v4 = 24;
  EXPECT_EQ(server::client_key(l, a), *horizon::IpAddr::parse("192.0.2.0"));
  auto b = *horizon::IpAddr::parse("2001:db8:1:2:3:4:5:6");
  EXPECT_EQ(server::client_key(l, b), *horizon::IpAddr::parse("2001:db8:1:2::"));  // /64 by default
  l.client_prefix_v6 = 48;
  EXPECT_EQ(server::client_key(l, b), *horizon::IpAddr::parse("2001:db8:1::"));
}
