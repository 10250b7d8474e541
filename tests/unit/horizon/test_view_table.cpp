#include <gtest/gtest.h>

#include "horizon/view_table.hpp"

using namespace phoenix::horizon;

TEST(ViewTable, FirstMatchWinsInOrder) {
  ViewTable t;
  auto in = t.add_view("internal", {*IpPrefix::parse("10.0.0.0/24"), *IpPrefix::parse("127.0.0.1/32"),
                                     *IpPrefix::parse("::1/128")});
  auto ex = t.add_view("external", {*IpPrefix::parse("0.0.0.0/0"), *IpPrefix::parse("::/0")});
  EXPECT_EQ(t.match(*IpAddr::parse("10.0.0.5")), in);
  EXPECT_EQ(t.match(*IpAddr::parse("127.0.0.1")), in);
  EXPECT_EQ(t.match(*IpAddr::parse("127.0.0.2")), ex);
  EXPECT_EQ(t.match(*IpAddr::parse("::1")), in);
  EXPECT_EQ(t.match(*IpAddr::parse("2001:db8::1")), ex);
  // A dual-stack socket reports IPv4 clients as mapped addresses; they match IPv4 selectors.
  EXPECT_EQ(t.match(*IpAddr::parse("::ffff:10.0.0.7")), in);
  EXPECT_EQ(t.name(ex), "external");
}

TEST(ViewTable, NoMatchIsNoView) {
  ViewTable t;
  t.add_view("only", {*IpPrefix::parse("192.0.2.0/24")});
  EXPECT_EQ(t.match(*IpAddr::parse("198.51.100.1")), kNoView);
  EXPECT_EQ(t.matching_rule(*IpAddr::parse("198.51.100.1")), nullptr);
  ASSERT_NE(t.matching_rule(*IpAddr::parse("192.0.2.9")), nullptr);
}

TEST(ViewTable, EarlierViewShadowsLater) {
  ViewTable t;
  auto a = t.add_view("a", {*IpPrefix::parse("10.0.0.0/8")});
  t.add_view("b", {*IpPrefix::parse("10.0.0.0/24")});
  EXPECT_EQ(t.match(*IpAddr::parse("10.0.0.1")), a);
}
