// Issue 7: the processor hands names outside our zones to the forwarder only in views with recursion.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "server/forward/message.hpp"
#include "example_inventory.hpp"
#include "server/query/processor.hpp"
#include "server/wire/format.hpp"
#include "server/wire/query_builder.hpp"
#include "server/reload.hpp"

using namespace phoenix;

namespace {

const zones::Snapshot& example() { return test_data::example_snapshot(); }


std::vector<uint8_t> query_for(const std::string& name) { return wire::build_query(name, 1, 0x1234, true, std::nullopt); }

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

namespace {

/// A cache holding one upstream answer for www.example.com A, replayed as the forwarder replays it.
struct OneAnswerCache final : query::ForwardedReplies {
  forward::Answer answer;
  size_t asked = 0, last_limit = 0;
  OneAnswerCache() {
    // The upstream's reply: our question, one A record 192.0.2.7 with TTL 60, pointing at the question.
    auto m = wire::build_query("www.example.com", 1, 0x4242, true, std::nullopt);
    m[2] |= wire::flags1::QR;
    m[3] |= wire::flags2::RA;
    wire::set_count(m.data(), wire::Count::answer, 1);
    m.insert(m.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7});
    forward::Question fq;
    fq.qname = wire::text_to_wire("www.example.com");
    fq.qtype = 1;
    fq.qclass = 1;
    EXPECT_EQ(forward::check_reply(m.data(), m.size(), fq, 0x4242, {}, forward::Clock::now(), answer),
              forward::ReplyCheck::ok);
  }
  size_t reply(const zones::Snapshot&, const query::PrecompiledInput& in, uint8_t* out) noexcept override {
    const query::ParsedQuery& q = in.q;
    const size_t limit = in.limit;
    ++asked;
    last_limit = limit;
    if (std::string_view(reinterpret_cast<const char*>(q.qname_lower), q.qname_len) != wire::text_to_wire("www.example.com"))
      return 0;
    return forward::write_client_reply(answer, q, 0, out, limit);
  }
};

}  // namespace

TEST(ProcessorForwarding, CacheHitsAreAnsweredByTheProcessorWithItsLimit) {
  OneAnswerCache cache;
  query::ForwardRequest fwd;
  query::QueryStats stats;
  query::QueryContext ctx{&example(), *horizon::IpAddr::parse("127.0.0.1"), false, &stats, &fwd};
  ctx.forwarded = &cache;
  std::vector<uint8_t> out(1232);
  auto q = wire::build_query("WWW.example.com", 1, 0x9999, true, 1000);
  size_t n = query::process_query(q.data(), q.size(), ctx, out.data(), out.size());
  ASSERT_GT(n, 12u);
  EXPECT_FALSE(fwd.wanted);
  EXPECT_EQ(cache.last_limit, 1000u);  // the client's EDNS size, decided by the processor
  EXPECT_EQ(wire::read_u16(out.data()), 0x9999);
  EXPECT_EQ(out[12 + 1], 'W');  // the client's case
  EXPECT_EQ(out[3] & wire::flags2::RA, wire::flags2::RA);
  EXPECT_EQ(wire::count(out.data(), wire::Count::answer), 1);
  EXPECT_EQ(stats.forward_cached, 1u);
  EXPECT_EQ(stats.answered, 1u);
  // A miss still goes to the forwarder; names in our zones never ask the cache.
  auto miss = wire::build_query("other.example.com", 1, 1, true, std::nullopt);
  EXPECT_EQ(query::process_query(miss.data(), miss.size(), ctx, out.data(), out.size()), 0u);
  EXPECT_TRUE(fwd.wanted);
  fwd.wanted = false;
  size_t asked = cache.asked;
  auto own = wire::build_query("ollama.internal.thinkheads.ai", 1, 2, true, std::nullopt);
  EXPECT_GT(query::process_query(own.data(), own.size(), ctx, out.data(), out.size()), 12u);
  EXPECT_EQ(cache.asked, asked);
  // The external view does not forward: no cache either.
  ctx.client = *horizon::IpAddr::parse("127.0.0.2");
  n = query::process_query(q.data(), q.size(), ctx, out.data(), out.size());
  EXPECT_EQ(out[3] & 0x0f, wire::rcode::REFUSED);
  EXPECT_EQ(cache.asked, asked);
}
