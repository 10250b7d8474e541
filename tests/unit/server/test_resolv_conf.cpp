// Issue 12: without upstream_servers, the host's resolv.conf nameservers that are not this server.
#include <gtest/gtest.h>

#include "server/resolv_conf.hpp"

using namespace phoenix;

namespace {
std::vector<std::string> text(const std::vector<horizon::Endpoint>& eps) {
  std::vector<std::string> out;
  for (auto& e : eps) out.push_back(e.to_string());
  return out;
}
horizon::Endpoint ep(const char* s) { return *horizon::Endpoint::parse(s, 53); }
}  // namespace

TEST(ResolvConf, NameserversInOrderOnPort53) {
  auto ns = server::parse_resolv_conf(
      "# written by the installer\n"
      "search internal.thinkheads.ai\n"
      "nameserver 10.0.0.13\n"
      "nameserver\t1.1.1.1 # Cloudflare\n"
      ";nameserver 9.9.9.9\n"
      "nameserver 2001:db8::53\n"
      "nameserver fe80::1%eth0\n"     // a scope cannot be kept: skipped
      "nameservers 8.8.4.4\n"         // not the keyword
      "nameserver 300.1.1.1\n"        // not an address
      "  nameserver 8.8.8.8\n"        // the keyword must start the line
      "nameserver 192.0.2.1");        // no final newline
  EXPECT_EQ(text(ns), (std::vector<std::string>{"10.0.0.13:53", "1.1.1.1:53", "[2001:db8::53]:53", "192.0.2.1:53"}));
  EXPECT_TRUE(server::parse_resolv_conf("").empty());
}

TEST(ResolvConf, ThisServerIsLeftOut) {
  std::vector<horizon::Endpoint> ns = {ep("10.0.0.13"), ep("127.0.0.1"), ep("1.1.1.1"), ep("::1")};
  EXPECT_EQ(text(server::other_nameservers(ns, {ep("10.0.0.13:53")})),
            (std::vector<std::string>{"127.0.0.1:53", "1.1.1.1:53", "[::1]:53"}));
  // On another port we are not what resolv.conf names.
  EXPECT_EQ(server::other_nameservers(ns, {ep("10.0.0.13:5353")}).size(), 4u);
  // The wildcard is every address of its family.
  EXPECT_EQ(text(server::other_nameservers(ns, {ep("0.0.0.0:53")})), (std::vector<std::string>{"[::1]:53"}));
  EXPECT_EQ(text(server::other_nameservers(ns, {ep("[::]:53"), ep("127.0.0.1")})),
            (std::vector<std::string>{"10.0.0.13:53", "1.1.1.1:53"}));
}
