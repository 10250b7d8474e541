// The precompiled fast path must write exactly the bytes the full path writes, for every query shape.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "server/query/precompiled.hpp"
#include "server/reload.hpp"

using namespace phoenix;

namespace {

const zones::Snapshot& snapshot() {
  static std::shared_ptr<zones::Snapshot> snap = [] {
    zones::SerialStore serials(std::nullopt);
    auto out = server::load_snapshot(std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory", serials);
    return out.snapshot;
  }();
  return *snap;
}

struct Shape {
  uint8_t flags1 = 0, flags2 = 0;  // RD in flags1, CD in flags2
  int edns_size = -1;              // -1: no OPT
  bool do_bit = false;
  bool opt_option = false;         // an (unknown) EDNS option: must take the full path
};

std::vector<uint8_t> make_query(const std::string& wire_name, uint16_t type, const Shape& s, uint16_t id) {
  // push_back only: GCC 12 at -O2 reports false -Warray-bounds on vector::insert of short ranges.
  std::vector<uint8_t> q;
  auto put = [&](std::initializer_list<int> bytes) {
    for (int b : bytes) q.push_back(static_cast<uint8_t>(b));
  };
  put({id >> 8, id & 0xff, s.flags1, s.flags2, 0, 1, 0, 0, 0, 0, 0, s.edns_size >= 0 ? 1 : 0});
  for (char c : wire_name) q.push_back(static_cast<uint8_t>(c));
  put({type >> 8, type & 0xff, 0, 1});
  if (s.edns_size >= 0) {
    put({0, 0, 41, s.edns_size >> 8, s.edns_size & 0xff, 0, 0, s.do_bit ? 0x80 : 0, 0, 0, s.opt_option ? 4 : 0});
    if (s.opt_option) put({0xfd, 0xe9, 0, 0});
  }
  return q;
}

/// Mixes the case of letters in a wire name, deterministically from `seed`.
std::string mix_case(std::string wire, unsigned seed) {
  for (size_t i = 0; i < wire.size(); ++i) {
    char& c = wire[i];
    if (c >= 'a' && c <= 'z' && ((seed >> (i % 16)) & 1)) c = static_cast<char>(c - 32);
  }
  return wire;
}

}  // namespace

TEST(Precompiled, TableIsBuiltByTheLoadPipeline) {
  ASSERT_NE(snapshot().answers, nullptr);
  EXPECT_GT(snapshot().answers->size(), 10u);
}

TEST(Precompiled, FastPathWritesTheSameBytesAsTheFullPath) {
  const auto& snap = snapshot();
  std::vector<std::string> names;
  for (auto& vd : snap.view_data)
    for (auto& z : vd.zones.zones()) z->for_each_node([&](const zones::Node& n) { names.push_back(n.owner.wire()); });
  names.push_back(std::string("\x07missing\x08internal\x0athinkheads\x02" "ai\x00", 32));
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
            size_t hit = query::precompiled_reply(q.data(), q.size(), ctx, fast.data(), cap);
            size_t n_full = query::process_query(q.data(), q.size(), ctx, full.data(), cap);
            ++compared;
            if (hit == 0) continue;
            ++fast_hits;
            ASSERT_EQ(hit, n_full) << "client " << client << " type " << t;
            ASSERT_EQ(0, std::memcmp(fast.data(), full.data(), hit)) << "client " << client << " type " << t;
          }
  EXPECT_GT(fast_hits, compared / 20) << "the fast path is hardly ever taken";
}

TEST(Precompiled, QueriesWithOptionsOrExtraRecordsTakeTheFullPath) {
  const auto& snap = snapshot();
  std::string name("\x06ollama\x08internal\x0athinkheads\x02" "ai\x00", 31);
  std::vector<uint8_t> out(1232);
  query::QueryContext ctx{&snap, *horizon::IpAddr::parse("127.0.0.1"), false, nullptr};
  auto plain = make_query(name, 1, {}, 7);
  EXPECT_GT(query::precompiled_reply(plain.data(), plain.size(), ctx, out.data(), out.size()), 0u);
  Shape with_option{0, 0, 1232, false, true};
  auto opt = make_query(name, 1, with_option, 7);
  EXPECT_EQ(query::precompiled_reply(opt.data(), opt.size(), ctx, out.data(), out.size()), 0u);
  auto response = plain;
  response[2] |= 0x80;  // a response is never answered, and never by the fast path
  EXPECT_EQ(query::precompiled_reply(response.data(), response.size(), ctx, out.data(), out.size()), 0u);
  auto notify = plain;
  notify[2] |= 4 << 3;
  EXPECT_EQ(query::precompiled_reply(notify.data(), notify.size(), ctx, out.data(), out.size()), 0u);
}
