#include <gtest/gtest.h>

#include "horizon/ip_prefix.hpp"
#include "horizon/label.hpp"

using namespace phoenix::horizon;

TEST(Label, SanitisesAsTheInventoryContractSays) {
  EXPECT_EQ(sanitize_label("Copy-Cuda12.8"), "copy-cuda12-8");
  EXPECT_EQ(sanitize_label("Traefik-Internal"), "traefik-internal");
  EXPECT_EQ(sanitize_label("--a__b..c--"), "a-b-c");
  EXPECT_EQ(sanitize_label("granite-3.3-8b-fp8"), "granite-3-3-8b-fp8");
  EXPECT_EQ(sanitize_label("..."), "");
  EXPECT_EQ(sanitize_label(std::string(100, 'x')).size(), 63u);
}

TEST(Label, ValidatesHostnames) {
  EXPECT_TRUE(is_valid_hostname("a.b.c"));
  EXPECT_TRUE(is_valid_hostname("a.b.c."));
  EXPECT_FALSE(is_valid_hostname("a..b"));
  EXPECT_FALSE(is_valid_hostname(std::string(64, 'a') + ".b"));
  EXPECT_FALSE(is_valid_hostname("a b"));
}

TEST(IpPrefix, ParsesAndMatches) {
  auto p = IpPrefix::parse("10.0.0.13/24");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(*IpAddr::parse("10.0.0.200")));
  EXPECT_FALSE(p->contains(*IpAddr::parse("10.0.1.1")));
  EXPECT_EQ(p->network().to_string(), "10.0.0.0/24");
  EXPECT_FALSE(IpPrefix::parse("10.0.0.300/24"));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.1/33"));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.1/"));
  auto v6 = IpPrefix::parse("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*IpAddr::parse("fd12::1")));
  EXPECT_FALSE(v6->contains(*IpAddr::parse("10.0.0.1")));
}

TEST(Endpoint, ParsesPorts) {
  EXPECT_EQ(Endpoint::parse("127.0.0.1:5353", 53)->port, 5353);
  EXPECT_EQ(Endpoint::parse("127.0.0.1", 53)->port, 53);
  EXPECT_EQ(Endpoint::parse("[::1]:5300", 53)->to_string(), "[::1]:5300");
  EXPECT_EQ(Endpoint::parse("::1", 53)->port, 53);
  EXPECT_FALSE(Endpoint::parse("127.0.0.1:0", 53));
  EXPECT_FALSE(Endpoint::parse("127.0.0.1:99999", 53));
  EXPECT_FALSE(Endpoint::parse("host:53", 53));
}
