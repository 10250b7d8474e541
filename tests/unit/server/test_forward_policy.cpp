// Issue 12: the forwarding protections of views with recursion (server/forward/policy.hpp) -- rebind
// filter, RFC 6303 locally served zones, single-label names -- and how the processor applies them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "example_inventory.hpp"
#include "server/forward/policy.hpp"
#include "server/query/processor.hpp"
#include "server/wire/query_builder.hpp"
#include "server/reload.hpp"
#include "zones/rrset.hpp"

using namespace phoenix;

namespace {

std::string to_wire(const std::string& text) { return zones::Name::from_text(text)->wire(); }

horizon::IpAddr ip(const char* s) { return *horizon::IpAddr::parse(s); }

/// An upstream reply for `qname` with one answer record per (type, rdata), owners compressed to the question.
std::vector<uint8_t> reply(const std::string& qname, uint16_t qtype,
                           const std::vector<std::pair<uint16_t, std::string>>& answers) {
  std::vector<uint8_t> m = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, static_cast<uint8_t>(answers.size()), 0, 0, 0, 0};
  for (char c : to_wire(qname)) m.push_back(static_cast<uint8_t>(c));
  m.insert(m.end(), {static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  for (auto& [type, rdata] : answers) {
    m.insert(m.end(), {0xc0, 0x0c, static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 1, 0, 0, 0, 60, 0,
                       static_cast<uint8_t>(rdata.size())});
    m.insert(m.end(), rdata.begin(), rdata.end());
  }
  return m;
}

std::string v4(const char* s) { return std::string(reinterpret_cast<const char*>(ip(s).bytes.data()), 4); }
std::string v6(const char* s) { return std::string(reinterpret_cast<const char*>(ip(s).bytes.data()), 16); }

}  // namespace

TEST(ForwardPolicy, SingleLabelNamesAreNeverForwarded) {
  horizon::ForwardSettings s;
  EXPECT_EQ(forward::route_outside_zones(to_wire("foo"), s), forward::Route::nxdomain);
  EXPECT_EQ(forward::route_outside_zones(to_wire("www.example.com"), s), forward::Route::forward);
  EXPECT_EQ(forward::route_outside_zones(to_wire("example.com"), s), forward::Route::forward);
  EXPECT_EQ(forward::route_outside_zones(to_wire("."), s), forward::Route::forward);  // the root is no single label
  s.search_single_label = true;
  s.search_zone = "internal.thinkheads.ai";
  EXPECT_EQ(forward::route_outside_zones(to_wire("foo"), s), forward::Route::search);
  uint8_t out[256];
  size_t n = forward::search_name(to_wire("foo"), s, out);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), n), to_wire("foo.internal.thinkheads.ai"));
  // A label so long that the searched name would pass 255 octets is not searched.
  s.search_zone = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c');
  EXPECT_EQ(forward::search_name(to_wire(std::string(63, 'x')), s, out), 0u);
}

TEST(ForwardPolicy, PrivateAddresses) {
  std::vector<horizon::IpPrefix> own = {*horizon::IpPrefix::parse("203.0.113.0/24")};
  for (const char* a : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.5", "127.0.0.1", "169.254.1.1",
                        "0.0.0.0", "0.1.2.3", "203.0.113.7", "fd00::1", "fc00::1", "fe80::1", "febf::1", "::1", "::",
                        "::ffff:192.168.1.1"})
    EXPECT_TRUE(forward::is_private_address(ip(a), own)) << a;
  for (const char* a : {"172.32.0.1", "172.15.0.1", "192.0.2.1", "8.8.8.8", "100.64.0.1", "2001:db8::1", "fec0::1",
                        "::ffff:8.8.8.8", "203.0.114.1"})
    EXPECT_FALSE(forward::is_private_address(ip(a), own)) << a;
}

TEST(ForwardPolicy, RebindViolationFindsThePrivateAddressInTheAnswer) {
  horizon::ForwardSettings s;
  auto q = to_wire("rebind.example");
  EXPECT_EQ(forward::rebind_violation(reply("rebind.example", 1, {{1, v4("192.0.2.1")}}), q, s), std::nullopt);
  EXPECT_EQ(forward::rebind_violation(reply("rebind.example", 1, {{1, v4("192.0.2.1")}, {1, v4("192.168.1.5")}}), q, s),
            "192.168.1.5");
  EXPECT_EQ(forward::rebind_violation(reply("rebind.example", 28, {{28, v6("fd12::5")}}), q, s), "fd12::5");
  // A CNAME is no address; a TXT that happens to be 4 bytes is none either.
  EXPECT_EQ(forward::rebind_violation(reply("rebind.example", 16, {{16, std::string("\x03" "abc", 4)}}), q, s),
            std::nullopt);
  s.own_subnets = {*horizon::IpPrefix::parse("198.51.100.0/24")};
  EXPECT_EQ(forward::rebind_violation(reply("rebind.example", 1, {{1, v4("198.51.100.9")}}), q, s), "198.51.100.9");
  // rebind_allow exempts the domain and everything below it, and nothing else.
  s.rebind_allow = {"example"};
  EXPECT_EQ(forward::rebind_violation(reply("rebind.example", 1, {{1, v4("192.168.1.5")}}), q, s), std::nullopt);
  s.rebind_allow = {"other.example", "ample"};
  EXPECT_EQ(forward::rebind_violation(reply("rebind.example", 1, {{1, v4("192.168.1.5")}}), q, s), "192.168.1.5");
  // A message that cannot be walked never passes.
  auto cut = reply("rebind.example", 1, {{1, v4("192.0.2.1")}});
  cut.resize(cut.size() - 2);
  EXPECT_NE(forward::rebind_violation(cut, q, {}), std::nullopt);
}

TEST(ForwardPolicy, LocallyServedZonesCoverRfc6303AndRfc7793) {
  const auto& z = forward::locally_served_zones();
  auto has = [&](const char* name) { return std::find(z.begin(), z.end(), name) != z.end(); };
  EXPECT_TRUE(has("10.in-addr.arpa"));
  EXPECT_TRUE(has("16.172.in-addr.arpa"));
  EXPECT_TRUE(has("31.172.in-addr.arpa"));
  EXPECT_FALSE(has("32.172.in-addr.arpa"));
  EXPECT_TRUE(has("168.192.in-addr.arpa"));
  EXPECT_TRUE(has("254.169.in-addr.arpa"));
  EXPECT_TRUE(has("127.in-addr.arpa"));
  EXPECT_TRUE(has("64.100.in-addr.arpa"));
  EXPECT_TRUE(has("127.100.in-addr.arpa"));
  EXPECT_TRUE(has("d.f.ip6.arpa"));
  EXPECT_TRUE(has("b.e.f.ip6.arpa"));
  EXPECT_TRUE(has("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"));
  EXPECT_EQ(z.size(), 1u + 16 + 8 + 64 + 2 + 6);
}

namespace {

const zones::Snapshot& example() { return test_data::example_snapshot(); }

struct Answer {
  size_t len = 0;
  std::vector<uint8_t> reply = std::vector<uint8_t>(1232);
  query::ForwardRequest fwd;
  uint8_t rcode() const { return reply[3] & 0x0f; }
  uint16_t count(int section) const { return zones::read_u16(reply.data() + 6 + 2 * section); }
};

Answer ask(const zones::Snapshot& snap, const std::string& name, uint16_t type, const char* client) {
  Answer a;
  auto q = wire::build_query(name, type, 0x4242, true, std::nullopt);
  query::QueryContext ctx{&snap, ip(client), false, nullptr, &a.fwd};
  a.len = query::process_query(q.data(), q.size(), ctx, a.reply.data(), a.reply.size());
  return a;
}

}  // namespace

TEST(ForwardPolicy, PrivateReverseNamesAreAnsweredLocallyWithTheZoneSoa) {
  // Every zone of the list, 10.in-addr.arpa too: ours lies inside it and is delegated to.
  EXPECT_EQ(example().view_data[0].local_zones, forward::locally_served_zones().size());
  EXPECT_EQ(example().view_data[1].local_zones, 0u);  // external: no recursion
  auto a = ask(example(), "1.1.168.192.in-addr.arpa", zones::rrtype::PTR, "127.0.0.1");
  EXPECT_FALSE(a.fwd.wanted);
  ASSERT_GT(a.len, 12u);
  EXPECT_EQ(a.rcode(), 3);                // NXDOMAIN
  EXPECT_EQ(a.reply[2] & 0x04, 0x04);     // AA: a zone served here
  EXPECT_EQ(a.count(1), 1u);              // the synthesized SOA
  // Our own reverse zone inside 10.in-addr.arpa still answers, and the names between exist.
  auto own = ask(example(), "155.0.0.10.in-addr.arpa", zones::rrtype::PTR, "127.0.0.1");
  EXPECT_EQ(own.rcode(), 0);
  EXPECT_EQ(own.count(0), 1u);
  auto between = ask(example(), "0.10.in-addr.arpa", zones::rrtype::PTR, "127.0.0.1");
  EXPECT_EQ(between.rcode(), 0);  // an empty non-terminal: NODATA, not NXDOMAIN (RFC 8020)
  auto other = ask(example(), "5.1.10.in-addr.arpa", zones::rrtype::PTR, "127.0.0.1");
  EXPECT_EQ(other.rcode(), 3);
  // Documentation space (TEST-NET-1) stays local too; a public reverse name still goes upstream; the
  // external view is never given the local zones.
  EXPECT_FALSE(ask(example(), "1.2.0.192.in-addr.arpa", zones::rrtype::PTR, "127.0.0.1").fwd.wanted);
  EXPECT_TRUE(ask(example(), "8.8.8.8.in-addr.arpa", zones::rrtype::PTR, "127.0.0.1").fwd.wanted);
  EXPECT_EQ(ask(example(), "1.1.168.192.in-addr.arpa", zones::rrtype::PTR, "127.0.0.2").rcode(), 5);
}

TEST(ForwardPolicy, SingleLabelNamesGetNxdomainOrTheInternalRecord) {
  auto a = ask(example(), "ollama", zones::rrtype::A, "127.0.0.1");
  EXPECT_FALSE(a.fwd.wanted);
  EXPECT_EQ(a.rcode(), 3);
  EXPECT_EQ(a.reply[2] & 0x04, 0);     // not authoritative for "ollama."
  EXPECT_EQ(a.reply[3] & 0x80, 0x80);  // RA: this view does recurse

  auto snap = test_data::load_example();
  ASSERT_TRUE(snap);
  snap->forward.search_single_label = true;
  auto found = ask(*snap, "OLLAMA", zones::rrtype::A, "127.0.0.1");
  EXPECT_FALSE(found.fwd.wanted);
  EXPECT_EQ(found.rcode(), 0);
  ASSERT_EQ(found.count(0), 1u);
  EXPECT_EQ(found.count(1), 0u);
  // The record is under the client's own name (a pointer to the question) with the guest's address.
  size_t rr = 12 + 8 + 4;  // header, "\x06OLLAMA\x00", type and class
  EXPECT_EQ(found.reply[rr], 0xc0);
  EXPECT_EQ(found.reply[rr + 1], 0x0c);
  EXPECT_EQ(std::vector<uint8_t>(found.reply.begin() + rr + 12, found.reply.begin() + rr + 16),
            (std::vector<uint8_t>{10, 0, 0, 155}));
  auto missing = ask(*snap, "nosuchguest", zones::rrtype::A, "127.0.0.1");
  EXPECT_EQ(missing.rcode(), 3);
  EXPECT_FALSE(missing.fwd.wanted);
}
