// Issue 7: the processor hands names outside our zones to the forwarder only in views with recursion.
#include <gtest/gtest.h>

#include <vector>

#include "example_inventory.hpp"
#include "server/query/processor.hpp"
#include "server/query/query_builder.hpp"
#include "server/reload.hpp"

using namespace phoenix;

namespace {

const zones::Snapshot& example() { return test_data::example_snapshot(); }


std::vector<uint8_t> query_for(const std::string& name) { return query::build_query(name, 1, 0x1234, true, std::nullopt); }

struct Outcome {
  size_t len;
  std::vector<uint8_t> reply;
  query::ForwardRequest fwd;
};

Outcome ask(const std::string& name, const char* client, bool can_forward = true) {
  Outcome o{0, std::vector<uint8_t>(1232), {}};
  auto q = query_for(name);
  query::QueryContext ctx{&example(), *horizon::IpAddr::parse(client), false, nullptr,
                          can_forward ? &o.fwd : nullptr};
  o.len = query::process_query(q.data(), q.size(), ctx, o.reply.data(), o.reply.size());
  return o;
}

}  // namespace

TEST(ProcessorForwarding, OutOfZoneNameInRecursionViewGoesToTheForwarder) {
  auto o = ask("WWW.Example.COM", "127.0.0.1");
  EXPECT_EQ(o.len, 0u);
  ASSERT_TRUE(o.fwd.wanted);
  EXPECT_EQ(o.fwd.query.id, 0x1234);
  EXPECT_EQ(o.fwd.query.qname_orig[1], 'W');
  EXPECT_EQ(o.fwd.query.qname_lower[1], 'w');
}

TEST(ProcessorForwarding, ExternalViewNeverForwards) {
  auto o = ask("www.example.com", "127.0.0.2");
  EXPECT_FALSE(o.fwd.wanted);
  ASSERT_GT(o.len, 12u);
  EXPECT_EQ(o.reply[3] & 0x0f, 5);     // REFUSED
  EXPECT_EQ(o.reply[3] & 0x80, 0);     // no RA: not an open resolver
}

TEST(ProcessorForwarding, WithoutAForwarderOutOfZoneIsRefused) {
  auto o = ask("www.example.com", "127.0.0.1", false);
  ASSERT_GT(o.len, 12u);
  EXPECT_EQ(o.reply[3] & 0x0f, 5);
  EXPECT_EQ(o.reply[3] & 0x80, 0);
}

TEST(ProcessorForwarding, OwnZonesAreAnsweredFirstWithRaInRecursionViews) {
  auto o = ask("ollama.internal.thinkheads.ai", "127.0.0.1");
  EXPECT_FALSE(o.fwd.wanted);
  ASSERT_GT(o.len, 12u);
  EXPECT_EQ(o.reply[2] & 0x04, 0x04);  // AA
  EXPECT_EQ(o.reply[3] & 0x80, 0x80);  // RA
  auto ext = ask("ollama.phoenix.thinkheads.ai", "127.0.0.2");
  EXPECT_EQ(ext.reply[3] & 0x80, 0);
}
