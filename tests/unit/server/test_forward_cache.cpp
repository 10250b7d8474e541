// Issue 7: the forwarder's reply checks, answer replay and cache (positive, negative, bounded, expiring).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "example_inventory.hpp"
#include "server/forward/cache.hpp"
#include "server/forward/forwarder.hpp"
#include "server/forward/message.hpp"
#include "server/query/processor.hpp"
#include "server/wire/writer.hpp"
#include "server/wire/query_builder.hpp"
#include "server/wire/reader.hpp"
#include "zones/name.hpp"

using namespace phoenix;
using forward::Answer;
using forward::Cache;
using forward::Clock;
using forward::ReplyCheck;

namespace {

std::string wire(const std::string& name) { return wire::text_to_wire(name); }

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, uint16_t(x >> 16));
  put16(v, uint16_t(x));
}

forward::Question question(const std::string& name, uint16_t type = 1) {
  forward::Question q;
  q.qname = wire(name);
  q.qtype = type;
  q.qclass = 1;
  return q;
}

/// An upstream reply: header, question (as written, any case), then records built by the caller.
struct ReplyBuilder {
  std::vector<uint8_t> b;
  ReplyBuilder(uint16_t id, const std::string& qname, uint16_t qtype, uint8_t rcode, uint16_t an, uint16_t ns,
               uint16_t ar, uint8_t flags1 = 0x81) {
    put16(b, id);
    b.push_back(flags1);
    b.push_back(uint8_t(0x80 | rcode));
    put16(b, 1);
    put16(b, an);
    put16(b, ns);
    put16(b, ar);
    auto n = wire(qname);
    b.insert(b.end(), n.begin(), n.end());
    put16(b, qtype);
    put16(b, 1);
  }
  ReplyBuilder& a(uint32_t ttl, uint8_t last_octet) {
    put16(b, 0xc00c);
    put16(b, 1);
    put16(b, 1);
    put32(b, ttl);
    put16(b, 4);
    b.insert(b.end(), {192, 0, 2, last_octet});
    return *this;
  }
  ReplyBuilder& soa(uint32_t ttl, uint32_t minimum) {
    put16(b, 0xc00c);  // owner: the question name will do
    put16(b, 6);
    put16(b, 1);
    put32(b, ttl);
    put16(b, 2 + 2 + 20);
    put16(b, 0xc00c);
    put16(b, 0xc00c);
    for (uint32_t v : {1u, 3600u, 900u, 1209600u}) put32(b, v);
    put32(b, minimum);
    return *this;
  }
  ReplyBuilder& opt() {
    uint8_t o[wire::kOptFixed];
    wire::write_opt(o, sizeof o, wire::OptRecord{1232});
    b.insert(b.end(), o, o + sizeof o);
    return *this;
  }
};

/// A client's query as the processor parses it (RD set).
wire::ParsedQuery client(const std::string& name, uint16_t id, bool edns = false, uint16_t qtype = 1) {
  auto m = wire::build_query(name, qtype, id, true, edns ? std::optional<uint16_t>(1232) : std::nullopt);
  wire::ParsedQuery q;
  EXPECT_EQ(wire::parse_query(m.data(), m.size(), q), wire::ParseStatus::ok);
  return q;
}

uint32_t ttl_at(const std::vector<uint8_t>& m, size_t off) {
  return (uint32_t(m[off]) << 24) | (uint32_t(m[off + 1]) << 16) | (uint32_t(m[off + 2]) << 8) | m[off + 3];
}

const horizon::ForwardSettings kLimits{};

}  // namespace

TEST(ForwardReply, AcceptsOnlyOurIdAndQuestion) {
  auto q = question("www.example.test");
  auto r = ReplyBuilder(0x4242, "WWW.Example.test", 1, 0, 1, 0, 0).a(30, 1).b;  // case may differ (RFC 4343)
  Answer a;
  auto now = Clock::now();
  EXPECT_EQ(forward::check_reply(r.data(), r.size(), q, 0x4242, kLimits, now, a), ReplyCheck::ok);
  EXPECT_EQ(forward::check_reply(r.data(), r.size(), q, 0x4243, kLimits, now, a), ReplyCheck::mismatch);
  EXPECT_EQ(forward::check_reply(r.data(), r.size(), question("ww.example.test"), 0x4242, kLimits, now, a),
            ReplyCheck::mismatch);
  EXPECT_EQ(forward::check_reply(r.data(), r.size(), question("www.example.test", 28), 0x4242, kLimits, now, a),
            ReplyCheck::mismatch);
  auto not_response = ReplyBuilder(0x4242, "www.example.test", 1, 0, 0, 0, 0, 0x01).b;
  EXPECT_EQ(forward::check_reply(not_response.data(), not_response.size(), q, 0x4242, kLimits, now, a),
            ReplyCheck::mismatch);
}

TEST(ForwardReply, SortsTruncatedFailedAndMalformed) {
  auto q = question("www.example.test");
  Answer a;
  auto now = Clock::now();
  auto tc = ReplyBuilder(7, "www.example.test", 1, 0, 0, 0, 0, 0x83).b;
  EXPECT_EQ(forward::check_reply(tc.data(), tc.size(), q, 7, kLimits, now, a), ReplyCheck::truncated);
  auto servfail = ReplyBuilder(7, "www.example.test", 1, 2, 0, 0, 0).b;
  EXPECT_EQ(forward::check_reply(servfail.data(), servfail.size(), q, 7, kLimits, now, a), ReplyCheck::failed);
  auto cut = ReplyBuilder(7, "www.example.test", 1, 0, 1, 0, 0).a(30, 1).b;
  cut.resize(cut.size() - 2);
  EXPECT_EQ(forward::check_reply(cut.data(), cut.size(), q, 7, kLimits, now, a), ReplyCheck::malformed);
  auto trailing = ReplyBuilder(7, "www.example.test", 1, 0, 1, 0, 0).a(30, 1).b;
  trailing.push_back(0);
  EXPECT_EQ(forward::check_reply(trailing.data(), trailing.size(), q, 7, kLimits, now, a), ReplyCheck::malformed);
}

TEST(ForwardReply, PositiveLifetimeIsTheSmallestTtlAndOptIsDropped) {
  auto q = question("www.example.test");
  auto r = ReplyBuilder(1, "www.example.test", 1, 0, 2, 0, 1).a(300, 1).a(60, 2).opt().b;
  Answer a;
  ASSERT_EQ(forward::check_reply(r.data(), r.size(), q, 1, kLimits, Clock::now(), a), ReplyCheck::ok);
  EXPECT_EQ(a.lifetime, 60u);
  EXPECT_FALSE(a.negative);
  EXPECT_EQ(a.wire.size(), r.size() - 11);
  EXPECT_EQ(a.wire[11], 0);  // ARCOUNT without the OPT
  EXPECT_EQ(a.ttl_offsets.size(), 2u);
}

TEST(ForwardReply, TtlsAreCappedByTheSettings) {
  horizon::ForwardSettings limits;
  limits.cache_max_ttl = 100;
  auto r = ReplyBuilder(1, "www.example.test", 1, 0, 1, 0, 0).a(0x7fffffff, 1).b;
  Answer a;
  ASSERT_EQ(forward::check_reply(r.data(), r.size(), question("www.example.test"), 1, limits, Clock::now(), a),
            ReplyCheck::ok);
  EXPECT_EQ(a.lifetime, 100u);
  EXPECT_EQ(ttl_at(a.wire, a.ttl_offsets[0]), 100u);
}

TEST(ForwardReply, NegativeLifetimeIsSoaMinimumOrTtl) {
  // RFC 2308 §5: min(SOA TTL, SOA MINIMUM), for NXDOMAIN and NODATA alike.
  auto q = question("nope.example.test");
  Answer a;
  auto nx = ReplyBuilder(1, "nope.example.test", 1, 3, 0, 1, 0).soa(300, 5).b;
  ASSERT_EQ(forward::check_reply(nx.data(), nx.size(), q, 1, kLimits, Clock::now(), a), ReplyCheck::ok);
  EXPECT_TRUE(a.negative);
  EXPECT_EQ(a.rcode, 3);
  EXPECT_EQ(a.lifetime, 5u);
  EXPECT_EQ(ttl_at(a.wire, a.ttl_offsets[0]), 5u);  // the SOA is served with the negative TTL
  auto nodata = ReplyBuilder(1, "nope.example.test", 1, 0, 0, 1, 0).soa(4, 60).b;
  ASSERT_EQ(forward::check_reply(nodata.data(), nodata.size(), q, 1, kLimits, Clock::now(), a), ReplyCheck::ok);
  EXPECT_TRUE(a.negative);
  EXPECT_EQ(a.lifetime, 4u);
  horizon::ForwardSettings limits;
  limits.cache_max_negative_ttl = 2;
  ASSERT_EQ(forward::check_reply(nx.data(), nx.size(), q, 1, limits, Clock::now(), a), ReplyCheck::ok);
  EXPECT_EQ(a.lifetime, 2u);
}

TEST(ForwardReply, NegativeWithoutSoaIsNotCached) {
  auto r = ReplyBuilder(1, "nope.example.test", 1, 3, 0, 0, 0).b;
  Answer a;
  ASSERT_EQ(forward::check_reply(r.data(), r.size(), question("nope.example.test"), 1, kLimits, Clock::now(), a),
            ReplyCheck::ok);
  EXPECT_EQ(a.lifetime, 0u);
}

TEST(ForwardReply, ClientReplyEchoesIdCaseAndCountsTtlsDown) {
  auto r = ReplyBuilder(1, "www.example.test", 1, 0, 1, 0, 0).a(30, 1).b;
  Answer a;
  ASSERT_EQ(forward::check_reply(r.data(), r.size(), question("www.example.test"), 1, kLimits, Clock::now(), a),
            ReplyCheck::ok);
  auto cq = client("WwW.ExAmple.TEST", 0xbeef, true);
  std::vector<uint8_t> out(1232);
  size_t n = forward::write_client_reply(a, cq, 7, out.data(), out.size());
  ASSERT_EQ(n, a.wire.size() + 11);
  EXPECT_EQ(out[0], 0xbe);
  EXPECT_EQ(out[1], 0xef);
  EXPECT_EQ(out[2] & 0x80, 0x80);  // QR
  EXPECT_EQ(out[2] & 0x04, 0);     // never AA for forwarded data
  EXPECT_EQ(out[3] & 0x80, 0x80);  // RA
  EXPECT_EQ(std::memcmp(out.data() + 12, cq.qname_orig, cq.qname_len), 0);
  EXPECT_EQ(ttl_at(out, a.ttl_offsets[0]), 23u);
  EXPECT_EQ(out[11], 1);  // our OPT
}

TEST(ForwardReply, TooBigForTheClientGivesTc) {
  ReplyBuilder big(1, "big.example.test", 1, 0, 60, 0, 0);
  for (int i = 0; i < 60; ++i) big.a(30, uint8_t(i));
  Answer a;
  ASSERT_EQ(forward::check_reply(big.b.data(), big.b.size(), question("big.example.test"), 1, kLimits, Clock::now(), a),
            ReplyCheck::ok);
  auto cq = client("big.example.test", 9);
  std::vector<uint8_t> out(512);
  size_t n = forward::write_client_reply(a, cq, 0, out.data(), out.size());
  ASSERT_GT(n, 12u);
  EXPECT_EQ(out[2] & 0x02, 0x02);
  EXPECT_EQ(out[7], 0);  // no answers
}

TEST(ForwardReply, ServfailCarriesEde22) {
  auto cq = client("x.example.test", 5, true);
  std::vector<uint8_t> out(512);
  size_t n = forward::write_servfail(cq, out.data(), out.size());
  ASSERT_GT(n, 12u);
  EXPECT_EQ(out[3] & 0x0f, 2);
  EXPECT_EQ(out[n - 1], 22);
}

TEST(ForwardReply, KeyIncludesTypeClassAndDnssecBits) {
  auto q = question("www.example.test");
  auto k = forward::make_key(q);
  q.do_bit = true;
  EXPECT_NE(forward::make_key(q), k);
  q.do_bit = false;
  q.qtype = 28;
  EXPECT_NE(forward::make_key(q), k);
}

namespace {
std::shared_ptr<Answer> answer(uint32_t lifetime, Clock::time_point stored, size_t payload = 100) {
  auto a = std::make_shared<Answer>();
  a->wire.assign(payload, 0);
  a->lifetime = lifetime;
  a->stored = stored;
  return a;
}
}  // namespace

TEST(ForwardCache, FindsLiveEntriesOnly) {
  Cache c(1 << 20);
  auto now = Clock::now();
  c.insert("live", answer(30, now));
  c.insert("old", answer(5, now - std::chrono::seconds(6)));
  EXPECT_NE(c.find("live", now), nullptr);
  EXPECT_EQ(c.find("old", now), nullptr);  // expired is never served
  EXPECT_EQ(c.find("live", now + std::chrono::seconds(30)), nullptr);
  EXPECT_EQ(c.find("missing", now), nullptr);
}

TEST(ForwardCache, DoesNotStoreUncacheableAnswers) {
  Cache c(1 << 20);
  c.insert("zero", answer(0, Clock::now()));
  EXPECT_EQ(c.entries(), 0u);
  Cache off(0);
  off.insert("x", answer(30, Clock::now()));
  EXPECT_EQ(off.entries(), 0u);
}

TEST(ForwardCache, StaysWithinItsMemoryBound) {
  const size_t bound = 64 * 1024;
  Cache c(bound);
  auto now = Clock::now();
  for (int i = 0; i < 5000; ++i) c.insert("name" + std::to_string(i), answer(300, now, 200));
  EXPECT_LE(c.bytes(), bound);
  EXPECT_GT(c.entries(), 0u);
  EXPECT_LT(c.entries(), 5000u);
  // The most recent entries survive; the oldest were evicted.
  EXPECT_NE(c.find("name4999", now), nullptr);
  EXPECT_EQ(c.find("name0", now), nullptr);
  c.set_max_bytes(0);
  EXPECT_EQ(c.entries(), 0u);
}

TEST(ForwardCache, RecentlyUsedEntriesSurviveEviction) {
  Cache c(16 * 4096);  // 4 KiB per shard
  auto now = Clock::now();
  c.insert("keep", answer(300, now, 200));
  for (int i = 0; i < 2000; ++i) {
    ASSERT_NE(c.find("keep", now), nullptr) << i;
    c.insert("filler" + std::to_string(i), answer(300, now, 200));
  }
}

TEST(ForwardCache, ReplacesAndClears) {
  Cache c(1 << 20);
  auto now = Clock::now();
  c.insert("k", answer(30, now, 10));
  c.insert("k", answer(60, now, 20));
  EXPECT_EQ(c.entries(), 1u);
  EXPECT_EQ(c.find("k", now)->lifetime, 60u);
  c.clear();
  EXPECT_EQ(c.entries(), 0u);
  EXPECT_EQ(c.bytes(), 0u);
}

TEST(ForwardReply, GarbageNeverCrashesOrMatches) {
  // Bit flips and cuts of a valid reply: whatever check_reply says, it stays inside the buffer (ASan).
  auto q = question("www.example.test");
  auto good = ReplyBuilder(0x1111, "www.example.test", 1, 0, 2, 1, 1).a(30, 1).a(40, 2).soa(60, 5).opt().b;
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  Answer a;
  for (int round = 0; round < 20000; ++round) {
    auto m = good;
    for (int flips = 1 + int(next() % 4); flips > 0; --flips) m[next() % m.size()] ^= uint8_t(1u << (next() % 8));
    if (next() % 3 == 0) m.resize(next() % m.size());
    auto c = forward::check_reply(m.data(), m.size(), q, 0x1111, kLimits, Clock::now(), a);
    if (c == ReplyCheck::ok) {
      std::vector<uint8_t> out(1232);
      auto cq = client("www.example.test", 1, true);
      EXPECT_LE(forward::write_client_reply(a, cq, 1, out.data(), out.size()), out.size());
    }
  }
}

// ---- Cache hits as stored wire bytes: the precompiled stage ages TTLs, and entries are kept per view.

namespace {

/// An upstream answer for `name` A: one record per address in `last_octets`, TTL `ttl` each,
/// checked as the forwarder checks it, stored at `stored`.
std::shared_ptr<Answer> upstream_answer(const std::string& name, std::vector<std::pair<uint32_t, uint8_t>> records,
                                        Clock::time_point stored) {
  ReplyBuilder r(0x4242, name, 1, 0, static_cast<uint16_t>(records.size()), 0, 0);
  for (auto [ttl, octet] : records) r.a(ttl, octet);
  auto a = std::make_shared<Answer>();
  EXPECT_EQ(forward::check_reply(r.b.data(), r.b.size(), question(name), 0x4242, kLimits, stored, *a), ReplyCheck::ok);
  return a;
}

/// The reply the forwarded stage gives a client of `view` for `name` (RD, mixed case, EDNS 1232).
std::vector<uint8_t> hit(forward::Forwarder& f, horizon::ViewId view, const std::string& name) {
  auto cq = client(name, 0x5151, true);
  std::vector<uint8_t> out(1232);
  query::PrecompiledInput in{cq, view, wire::reply_flags1(cq, false), wire::reply_flags2(cq, 0, true), out.size()};
  out.resize(f.reply(test_data::example_snapshot(), in, out.data()));
  return out;
}

/// Where the i-th answer record's TTL and address sit in a reply to `name` (each record 16 bytes).
size_t record_at(const std::string& name, size_t i) { return 12 + wire::text_to_wire(name).size() + 4 + 16 * i; }

}  // namespace

TEST(ForwardCacheHit, TtlsAreCountedDownByTheEntrysAge) {
  forward::Forwarder f;
  auto stored = Clock::now() - std::chrono::seconds(10);
  f.cache().insert(forward::make_key(question("www.example.test"), 0),
                   upstream_answer("www.example.test", {{300, 1}, {60, 2}}, stored));
  auto r = hit(f, 0, "WWW.example.TEST");
  ASSERT_GT(r.size(), 12u);
  EXPECT_EQ(wire::read_u16(r.data()), 0x5151);
  EXPECT_EQ(std::memcmp(r.data() + 12, wire::text_to_wire("WWW.example.TEST").data(), wire::text_to_wire("www.example.test").size()), 0);
  EXPECT_EQ(r[3] & wire::flags2::RA, wire::flags2::RA);
  EXPECT_EQ(wire::count(r.data(), wire::Count::answer), 2);
  // 10 or 11 seconds have passed, depending on where the second boundary fell.
  uint32_t first = ttl_at(r, record_at("www.example.test", 0) + 6), second = ttl_at(r, record_at("www.example.test", 1) + 6);
  EXPECT_TRUE(first == 290u || first == 289u) << first;
  EXPECT_EQ(300u - first, 60u - second);
  EXPECT_EQ(r[record_at("www.example.test", 1) + 15], 2);
  EXPECT_EQ(wire::count(r.data(), wire::Count::additional), 1);  // our OPT
}

TEST(ForwardCacheHit, AnAgeBeyondATtlGivesZeroAndAnExpiredEntryIsAMiss) {
  Answer a = *upstream_answer("www.example.test", {{30, 1}, {90, 2}}, Clock::now());
  std::vector<uint8_t> out(1232);
  auto cq = client("www.example.test", 1);
  size_t n = forward::write_client_reply(a, cq, 45, out.data(), out.size());
  ASSERT_GT(n, 12u);
  out.resize(n);
  EXPECT_EQ(ttl_at(out, record_at("www.example.test", 0) + 6), 0u);   // never wraps below zero
  EXPECT_EQ(ttl_at(out, record_at("www.example.test", 1) + 6), 45u);
  // The stored bytes are untouched: every client ages them from the stored TTL.
  EXPECT_EQ(ttl_at(a.wire, a.ttl_offsets[0]), 30u);

  forward::Forwarder f;
  f.cache().insert(forward::make_key(question("old.example.test"), 0),
                   upstream_answer("old.example.test", {{30, 1}}, Clock::now() - std::chrono::seconds(31)));
  EXPECT_TRUE(hit(f, 0, "old.example.test").empty());
}

TEST(ForwardCacheHit, EntriesAreKeptPerView) {
  forward::Forwarder f;
  auto now = Clock::now();
  EXPECT_NE(forward::make_key(question("www.example.test"), 0), forward::make_key(question("www.example.test"), 1));
  f.cache().insert(forward::make_key(question("www.example.test"), 0), upstream_answer("www.example.test", {{60, 1}}, now));
  f.cache().insert(forward::make_key(question("www.example.test"), 1), upstream_answer("www.example.test", {{60, 2}}, now));
  const size_t address_end = record_at("www.example.test", 0) + 16;
  auto v0 = hit(f, 0, "www.example.test");
  auto v1 = hit(f, 1, "www.example.test");
  ASSERT_GT(v0.size(), address_end);
  ASSERT_GT(v1.size(), address_end);
  EXPECT_EQ(v0[address_end - 1], 1);
  EXPECT_EQ(v1[address_end - 1], 2);
  EXPECT_TRUE(hit(f, 2, "www.example.test").empty());  // a view that never asked has nothing cached
}

TEST(ForwardCacheHit, TheProcessorServesAHitInTheClientsViewWithItsFlags) {
  const zones::Snapshot& snap = test_data::example_snapshot();
  const horizon::ViewId internal = snap.views.match(*horizon::IpAddr::parse("127.0.0.1"));
  forward::Forwarder f;
  f.cache().insert(forward::make_key(question("www.example.test"), internal),
                   upstream_answer("www.example.test", {{60, 9}}, Clock::now()));
  query::ForwardRequest fwd;
  query::QueryContext ctx{&snap, *horizon::IpAddr::parse("127.0.0.1"), false, nullptr, &fwd};
  ctx.forwarded = &f;
  auto m = wire::build_query("www.Example.test", 1, 0x7777, true, std::nullopt);
  std::vector<uint8_t> out(512);
  size_t n = query::process_query(m.data(), m.size(), ctx, out.data(), out.size());
  ASSERT_GT(n, 12u);
  EXPECT_FALSE(fwd.wanted);
  EXPECT_TRUE(fwd.from_cache);
  EXPECT_EQ(wire::read_u16(out.data()), 0x7777);
  EXPECT_EQ(out[2] & (wire::flags1::QR | wire::flags1::RD | wire::flags1::AA), wire::flags1::QR | wire::flags1::RD);
  EXPECT_EQ(out[3] & wire::flags2::RA, wire::flags2::RA);
  EXPECT_EQ(out[record_at("www.example.test", 0) + 15], 9);
  EXPECT_EQ(wire::count(out.data(), wire::Count::additional), 0);  // no OPT for a client without EDNS
  // A miss names the view it is to be cached for.
  auto miss = wire::build_query("other.example.test", 1, 1, true, std::nullopt);
  EXPECT_EQ(query::process_query(miss.data(), miss.size(), ctx, out.data(), out.size()), 0u);
  EXPECT_TRUE(fwd.wanted);
  EXPECT_EQ(fwd.view, internal);
}

TEST(ForwardCache, HitsStaySafeWhileWritersReplaceEvictAndClear) {
  // Readers on two threads, a writer replacing, evicting and clearing: every hit sees a whole entry
  // (ASan builds catch an entry freed under a reader). Bounded by iterations, not time.
  Cache c(64 * 1024);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> hits{0}, torn{0};
  auto key = [](int i) { return "key" + std::to_string(i); };
  auto make = [](int i, size_t payload) {
    auto a = std::make_shared<Answer>();
    a->wire.assign(payload, static_cast<uint8_t>(i));
    a->lifetime = 300;
    a->stored = Clock::now();
    return a;
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      std::vector<std::string> keys;
      for (int i = 0; i < 64; ++i) keys.push_back(key(i));
      while (!stop.load(std::memory_order_relaxed))
        for (int i = 0; i < 64; ++i)
          c.serve(keys[i], Clock::now(), [&](const Answer& a) {
            hits.fetch_add(1, std::memory_order_relaxed);
            for (uint8_t b : a.wire)
              if (b != static_cast<uint8_t>(i)) torn.fetch_add(1, std::memory_order_relaxed);
            return a.wire.size();
          });
    });
  for (int round = 0; round < 3000; ++round) {
    c.insert(key(round % 64), make(round % 64, 100 + round % 300));
    if (round % 500 == 499) c.clear();
    if (round % 1000 == 999) c.set_max_bytes(round % 2000 == 999 ? 1 << 20 : 64 * 1024);
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_LE(c.bytes(), c.max_bytes());
}
