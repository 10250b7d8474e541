// The precompiled fast path must write exactly the bytes the full path writes, for every query shape.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/query/precompiled.hpp"
#include "server/query/processor.hpp"
#include "server/reload.hpp"
#include "server/wire/query_builder.hpp"

using namespace phoenix;

namespace {

std::shared_ptr<zones::Snapshot> load(const std::filesystem::path& dir) {
  zones::SerialStore serials(std::nullopt);
  auto out = server::load_snapshot(dir, serials);
  return out.snapshot;
}

const std::filesystem::path kExample = std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory";

const zones::Snapshot& snapshot() {
  static std::shared_ptr<zones::Snapshot> snap = load(kExample);
  return *snap;
}

/// The example plus a zone file served in both views and a child zone of it served only internally:
/// one precompiled entry answers both views for the shared zone, and under the child zone the two
/// views get different answers for the same name.
const zones::Snapshot& shared_zone_snapshot() {
  static std::shared_ptr<zones::Snapshot> snap = [] {
    auto dir = std::filesystem::temp_directory_path() / ("phoenix-precompiled-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::copy(kExample, dir);
    std::ofstream(dir / "shared.zone") << "$ORIGIN shared.test.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 60\n@ NS ns1\n"
                                          "ns1 A 192.0.2.1\nwww A 192.0.2.2\nmail MX 10 www\n"
                                          "sub NS ns1.sub\nns1.sub A 192.0.2.3\nhost.sub A 192.0.2.4\n";
    std::ofstream(dir / "sub.zone") << "$ORIGIN sub.shared.test.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 60\n@ NS ns1\n"
                                       "ns1 A 192.0.2.3\nhost A 198.51.100.4\n";
    auto path = dir / "phoenix_hypervisor_config.json";
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(path));
    cfg["dns_server"]["zone_files"] = {{{"file", "shared.zone"}, {"origin", "shared.test"}},
                                       {{"file", "sub.zone"}, {"origin", "sub.shared.test"}, {"views", {"internal"}}}};
    std::ofstream(path) << cfg.dump();
    auto out = load(dir);
    std::filesystem::remove_all(dir);
    return out;
  }();
  return *snap;
}

std::vector<std::string> owner_names(const zones::Snapshot& snap) {
  std::vector<std::string> names;
  for (auto& vd : snap.view_data)
    for (auto& z : vd.zones.zones()) z->for_each_node([&](zones::NodeView n) { names.emplace_back(n.owner_wire()); });
  names.push_back(std::string("\x07missing\x08internal\x0athinkheads\x02" "ai\x00", 32));
  return names;
}

struct Shape {
  uint8_t flags1 = 0, flags2 = 0;  // RD in flags1, CD in flags2
  int edns_size = -1;              // -1: no OPT
  bool do_bit = false;
  bool opt_option = false;         // an (unknown) EDNS option: must take the full path
};

std::vector<uint8_t> make_query(const std::string& wire_name, uint16_t type, const Shape& s, uint16_t id) {
  static const wire::EdnsOption kUnknownOption{0xfde9, nullptr, 0};  // from the private-use range
  wire::QuerySpec spec;
  spec.qname = wire_name;
  spec.qtype = type;
  spec.id = id;
  spec.rd = s.flags1 & wire::flags1::RD;
  spec.cd = s.flags2 & wire::flags2::CD;
  if (s.edns_size >= 0) {
    spec.edns_payload = static_cast<uint16_t>(s.edns_size);
    spec.do_bit = s.do_bit;
    if (s.opt_option) spec.options = {&kUnknownOption, 1};
  }
  return wire::write_query(spec);
}

/// Mixes the case of letters in a wire name, deterministically from `seed`.
std::string mix_case(std::string wire, unsigned seed) {
  for (size_t i = 0; i < wire.size(); ++i) {
    char& c = wire[i];
    if (c >= 'a' && c <= 'z' && ((seed >> (i % 16)) & 1)) c = static_cast<char>(c - 32);
  }
  return wire;
}

/// The processor's reply when its precompiled stage wrote it, else 0.
size_t precompiled_reply(const std::vector<uint8_t>& q, query::QueryContext ctx, uint8_t* out, size_t cap) {
  query::QueryStats stats;
  ctx.stats = &stats;
  ctx.precompiled = true;
  size_t n = query::process_query(q.data(), q.size(), ctx, out, cap);
  return stats.precompiled == 1 ? n : 0;
}

/// The processor's reply with every stage run (the precompiled one off).
size_t full_path_reply(const std::vector<uint8_t>& q, query::QueryContext ctx, uint8_t* out, size_t cap) {
  ctx.precompiled = false;
  return query::process_query(q.data(), q.size(), ctx, out, cap);
}

}  // namespace

TEST(Precompiled, TableIsBuiltByTheLoadPipeline) {
  ASSERT_NE(snapshot().answers, nullptr);
  EXPECT_GT(snapshot().answers->size(), 10u);
}

/// Every name x type x query shape x client x transport: the fast path, when it answers, writes the
/// full path's bytes.
void expect_same_bytes(const zones::Snapshot& snap) {
  std::vector<std::string> names = owner_names(snap);
  ASSERT_GT(names.size(), 5u);

  const uint16_t types[] = {1, 28, 2, 6, 12, 15, 16, 255, 252};
  const Shape shapes[] = {{},
                          {0x01, 0x10, -1, false, false},
                          {0, 0, 1232, false, false},
                          {0x01, 0, 4096, true, false},
                          {0, 0, 100, false, false},
                          {0, 0, 512, false, true}};
  const char* clients[] = {"127.0.0.1", "127.0.0.2", "10.0.0.7", "192.0.2.1", "::1", "2001:db8::1"};
  std::vector<uint8_t> fast(65535), full(65535);
  size_t fast_hits = 0, compared = 0;
  unsigned seed = 1;
  for (auto& name : names)
    for (uint16_t t : types)
      for (auto& shape : shapes)
        for (const char* client : clients)
          for (int variant = 0; variant < 4; ++variant) {
            bool tcp = variant & 1;
            query::ForwardRequest fwd;  // a transport that can forward: RA depends on it
            ++seed;
            auto q = make_query(mix_case(name, seed * 2654435761u), t, shape, uint16_t(seed));
            query::QueryContext ctx{&snap, *horizon::IpAddr::parse(client), tcp, nullptr, variant & 2 ? &fwd : nullptr};
            size_t cap = tcp ? 65535 : 1232;
            size_t hit = precompiled_reply(q, ctx, fast.data(), cap);
            size_t n_full = full_path_reply(q, ctx, full.data(), cap);
            ++compared;
            if (hit == 0) continue;
            ++fast_hits;
            ASSERT_EQ(hit, n_full) << "client " << client << " type " << t;
            ASSERT_EQ(0, std::memcmp(fast.data(), full.data(), hit)) << "client " << client << " type " << t;
          }
  EXPECT_GT(fast_hits, compared / 20) << "the fast path is hardly ever taken";
}

TEST(Precompiled, FastPathWritesTheSameBytesAsTheFullPath) { expect_same_bytes(snapshot()); }

TEST(Precompiled, ZonesSharedByViewsAreStoredOnceAndStillAnswerPerView) {
  const auto& snap = shared_zone_snapshot();
  ASSERT_NE(snap.answers, nullptr);
  expect_same_bytes(snap);
  // host.sub.shared.test: from the child zone for 127.0.0.1 (internal), a referral for 127.0.0.2.
  std::string host("\x04host\x03sub\x06shared\x04test\x00", 22);
  std::vector<uint8_t> inside(1232), outside(1232);
  auto q = make_query(host, 1, {}, 9);
  query::QueryContext in{&snap, *horizon::IpAddr::parse("127.0.0.1"), false, nullptr};
  query::QueryContext out{&snap, *horizon::IpAddr::parse("127.0.0.2"), false, nullptr};
  size_t a = precompiled_reply(q, in, inside.data(), inside.size());
  ASSERT_GT(a, 0u);
  EXPECT_EQ(zones::read_u16(inside.data() + 6), 1u);                       // one answer
  EXPECT_EQ(std::vector<uint8_t>(inside.begin() + a - 4, inside.begin() + a), (std::vector<uint8_t>{198, 51, 100, 4}));
  size_t b = query::process_query(q.data(), q.size(), out, outside.data(), outside.size());
  ASSERT_GT(b, 0u);
  EXPECT_EQ(zones::read_u16(outside.data() + 6), 0u);  // no answer: referred to sub.shared.test
  EXPECT_EQ(outside[2] & 0x04, 0);                     // AA clear
  // www.shared.test is one entry however many views serve the zone.
  size_t per_view = 0;
  zones::AnswerTable::Entry e;
  std::string www("\x03www\x06shared\x04test\x00", 17);
  for (uint16_t v = 0; v < snap.view_data.size(); ++v) per_view += snap.answers->find(v, www, 1, e);
  EXPECT_EQ(per_view, 2u);
  EXPECT_EQ(snap.answers->size(), snapshot().answers->size() + 1 /*apex SOA*/ + 1 /*apex NS*/ + 1 /*ns1*/ + 1 /*www*/ +
                                      1 /*mail*/ + 1 /*sub NS*/ + 1 /*ns1.sub*/ + 1 /*host.sub*/ + 4 /*sub.zone*/);
}

TEST(Precompiled, NothingIsPrecompiledAboveTheLimit) {
  auto snap = load(kExample);
  ASSERT_NE(snap, nullptr);
  EXPECT_TRUE(query::precompile_answers(*snap, 1000));
  EXPECT_NE(snap->answers, nullptr);
  EXPECT_FALSE(query::precompile_answers(*snap, 3));
  EXPECT_EQ(snap->answers, nullptr);
  std::vector<uint8_t> out(1232);
  auto q = make_query(std::string("\x06ollama\x08internal\x0athinkheads\x02" "ai\x00", 31), 1, {}, 7);
  query::QueryContext ctx{snap.get(), *horizon::IpAddr::parse("127.0.0.1"), false, nullptr};
  EXPECT_EQ(precompiled_reply(q, ctx, out.data(), out.size()), 0u);
  EXPECT_GT(query::process_query(q.data(), q.size(), ctx, out.data(), out.size()), 0u);  // the full path answers
}

TEST(Precompiled, QueriesWithOptionsOrExtraRecordsTakeTheFullPath) {
  const auto& snap = snapshot();
  std::string name("\x06ollama\x08internal\x0athinkheads\x02" "ai\x00", 31);
  std::vector<uint8_t> out(1232);
  query::QueryContext ctx{&snap, *horizon::IpAddr::parse("127.0.0.1"), false, nullptr};
  auto plain = make_query(name, 1, {}, 7);
  EXPECT_GT(precompiled_reply(plain, ctx, out.data(), out.size()), 0u);
  Shape with_option{0, 0, 1232, false, true};
  auto opt = make_query(name, 1, with_option, 7);
  EXPECT_EQ(precompiled_reply(opt, ctx, out.data(), out.size()), 0u);
  auto response = plain;
  response[2] |= 0x80;  // a response is never answered, and never by the fast path
  EXPECT_EQ(precompiled_reply(response, ctx, out.data(), out.size()), 0u);
  auto notify = plain;
  notify[2] |= 4 << 3;
  EXPECT_EQ(precompiled_reply(notify, ctx, out.data(), out.size()), 0u);
}
