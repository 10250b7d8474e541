#include <gtest/gtest.h>

#include <vector>

#include "server/dnstap/tap.hpp"

using namespace phoenix;

TEST(DnstapRing, FullRingDropsAndCountsWithoutWaiting) {
  dnstap::Ring ring(true, true);
  auto peer = *horizon::IpAddr::parse("127.0.0.2");
  std::vector<uint8_t> msg(40, 7);
  for (size_t i = 0; i < dnstap::Ring::kSlots + 5; ++i)
    ring.push(dnstap::Kind::auth_query, false, peer, 5300, 2, msg.data(), msg.size());
  EXPECT_EQ(ring.dropped_full, 5u);
  // Oversized messages never take a slot.
  std::vector<uint8_t> big(dnstap::Ring::kMaxMessage + 1);
  ring.push(dnstap::Kind::auth_response, true, peer, 5300, 2, big.data(), big.size());
  EXPECT_EQ(ring.dropped_large, 1u);
  // The consumer sees them in order, with what was recorded; freed slots take new messages.
  const dnstap::Ring::Entry* e = ring.front();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, dnstap::Kind::auth_query);
  EXPECT_EQ(e->port, 5300);
  EXPECT_EQ(e->view_slot, 2);
  EXPECT_EQ(e->len, 40);
  EXPECT_EQ(e->addr[3], 2);
  EXPECT_FALSE(e->v6);
  ring.release();
  ring.push(dnstap::Kind::client_query, false, peer, 1, 1, msg.data(), msg.size());
  EXPECT_EQ(ring.dropped_full, 5u);
  size_t n = 0;
  while ((e = ring.front())) {
    ++n;
    ring.release();
  }
  EXPECT_EQ(n, dnstap::Ring::kSlots);
}

TEST(DnstapRing, SwitchesChooseWhatIsRecorded) {
  dnstap::Ring ring(false, true);
  zones::Snapshot snap;  // no views: the "none" slot
  auto peer = *horizon::IpAddr::parse("127.0.0.1");
  std::vector<uint8_t> q(20), r(30);
  ring.exchange(snap, false, peer, 1, q.data(), q.size(), r.data(), r.size(), true);
  const dnstap::Ring::Entry* e = ring.front();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->kind, dnstap::Kind::client_response);
  EXPECT_EQ(e->view_slot, query::kNoViewSlot);
  ring.release();
  EXPECT_EQ(ring.front(), nullptr);
}
