// NOTIFY (RFC 1996) as the primary sends it: the message, which replies acknowledge it, the schedule.
#include <gtest/gtest.h>

#include <ldns/ldns.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <chrono>
#include <ctime>
#include <functional>
#include <map>

#include "server/net/notify_sender.hpp"
#include "server/wire/query_builder.hpp"
#include "server/xfr/notify_message.hpp"
#include "unit/server/dns_tool_peer.hpp"
#include "zones/name.hpp"
#include "zones/rrset.hpp"

using namespace phoenix;
using xfr::NotifyOutcome;

namespace {

const std::string kZone = wire::text_to_wire("Internal.Example");

std::string soa_rdata(uint32_t serial) {
  return zones::rdata_soa(*zones::Name::from_text("ns.internal.example."),
                          *zones::Name::from_text("hostmaster.internal.example."), serial, 3600, 900, 1209600, 300);
}

/// The secondary's reply: the message's header and question with QR set, no other records.
std::vector<uint8_t> reply_to(const std::vector<uint8_t>& msg, uint8_t rcode = 0) {
  size_t qend = 12 + kZone.size() + 4;
  std::vector<uint8_t> r(msg.begin(), msg.begin() + static_cast<long>(qend));
  r[2] |= 0x80;
  r[3] = rcode;
  r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
  return r;
}

uint64_t now() { return static_cast<uint64_t>(std::time(nullptr)); }

}  // namespace

TEST(NotifyMessage, IsANotifyForTheZoneWithItsSoaAsLdnsReadsIt) {
  xfr::NotifyExchange ex(0x1234, kZone, 300, soa_rdata(77), nullptr, now());
  const auto& m = ex.message();
  ASSERT_FALSE(m.empty());
  ldns_pkt* pkt = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&pkt, m.data(), m.size()), LDNS_STATUS_OK);
  EXPECT_EQ(ldns_pkt_get_opcode(pkt), LDNS_PACKET_NOTIFY);
  EXPECT_TRUE(ldns_pkt_aa(pkt));
  EXPECT_FALSE(ldns_pkt_qr(pkt));
  EXPECT_EQ(ldns_pkt_id(pkt), 0x1234);
  ASSERT_EQ(ldns_pkt_qdcount(pkt), 1);
  ldns_rr* q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
  EXPECT_EQ(ldns_rr_get_type(q), LDNS_RR_TYPE_SOA);
  char* qn = ldns_rdf2str(ldns_rr_owner(q));
  EXPECT_STREQ(qn, "Internal.Example.");
  free(qn);
  ASSERT_EQ(ldns_pkt_ancount(pkt), 1);
  ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_answer(pkt), 0);
  EXPECT_EQ(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
  EXPECT_EQ(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), 77u);
  EXPECT_EQ(ldns_pkt_arcount(pkt), 0);  // unsigned: no TSIG
  ldns_pkt_free(pkt);
}

TEST(NotifyMessage, OnlyAMatchingNoerrorReplyAcknowledges) {
  xfr::NotifyExchange ex(0x1234, kZone, 300, soa_rdata(77), nullptr, now());
  auto r = reply_to(ex.message());
  auto other_id = r;
  other_id[1] ^= 1;
  EXPECT_EQ(ex.on_reply(other_id.data(), other_id.size(), now()), NotifyOutcome::pending);
  auto not_a_reply = r;
  not_a_reply[2] &= 0x7f;
  EXPECT_EQ(ex.on_reply(not_a_reply.data(), not_a_reply.size(), now()), NotifyOutcome::pending);
  auto query_opcode = r;
  query_opcode[2] &= static_cast<uint8_t>(~0x78);
  EXPECT_EQ(ex.on_reply(query_opcode.data(), query_opcode.size(), now()), NotifyOutcome::pending);
  auto other_zone = r;
  other_zone[13] = 'X';  // "Xnternal.example"
  EXPECT_EQ(ex.on_reply(other_zone.data(), other_zone.size(), now()), NotifyOutcome::pending);
  EXPECT_EQ(ex.last_problem(), "a reply with another question");
  EXPECT_EQ(ex.on_reply(r.data(), 5, now()), NotifyOutcome::pending);  // truncated
  // The question's case may differ (RFC 4343).
  auto lower = r;
  lower[13] = 'i';
  EXPECT_EQ(ex.on_reply(lower.data(), lower.size(), now()), NotifyOutcome::acknowledged);
  EXPECT_EQ(ex.rcode(), 0);
}

TEST(NotifyMessage, AnErrorReplyRejects) {
  xfr::NotifyExchange ex(7, kZone, 300, soa_rdata(1), nullptr, now());
  auto r = reply_to(ex.message(), 5);
  EXPECT_EQ(ex.on_reply(r.data(), r.size(), now()), NotifyOutcome::rejected);
  EXPECT_EQ(xfr::rcode_name(ex.rcode()), "REFUSED");
}

TEST(NotifyMessage, SignedNotifyVerifiesAtTheSecondaryAndNeedsASignedReply) {
  auto keys = test::tsig_keys("notify-key");
  uint64_t t = now();
  xfr::NotifyExchange ex(99, kZone, 300, soa_rdata(5), &keys[0], t);
  const auto& m = ex.message();
  // The secondary's side: the request verifies with the shared key.
  xfr::TsigContext secondary{};
  ASSERT_EQ(xfr::verify_request(m.data(), m.size(), keys, t, secondary), xfr::TsigStatus::ok);
  auto r = reply_to(m);
  // Unsigned, or signed with another secret: ignored, the exchange goes on.
  EXPECT_EQ(ex.on_reply(r.data(), r.size(), t), NotifyOutcome::pending);
  EXPECT_NE(ex.last_problem().find("does not verify"), std::string::npos) << ex.last_problem();
  auto other = test::tsig_keys("notify-key", "c2VjcmV0LW90aGVyLXRoYW4tdGhlLW9uZS13ZS1rbm93");
  xfr::TsigContext forged_ctx = secondary;
  forged_ctx.key = &other[0];
  auto forged = r;
  forged.resize(forged.size() + xfr::kMaxTsigSpace);
  size_t flen = xfr::sign_reply(forged.data(), r.size(), forged.size(), forged_ctx, t);
  ASSERT_GT(flen, r.size());
  EXPECT_EQ(ex.on_reply(forged.data(), flen, t), NotifyOutcome::pending);
  // Signed by the secondary over our MAC: acknowledged.
  auto good = r;
  good.resize(good.size() + xfr::kMaxTsigSpace);
  size_t len = xfr::sign_reply(good.data(), r.size(), good.size(), secondary, t);
  ASSERT_GT(len, r.size());
  EXPECT_EQ(ex.on_reply(good.data(), len, t), NotifyOutcome::acknowledged);
}

TEST(NotifyMessage, RetransmitsWithDoublingWaitsUpToTheBound) {
  xfr::NotifyPolicy p;
  p.max_tries = 4;
  p.first_wait = std::chrono::milliseconds(250);
  xfr::NotifyExchange ex(1, kZone, 300, soa_rdata(1), nullptr, now(), p);
  std::vector<long> waits;
  NotifyOutcome o = NotifyOutcome::resend;
  while (o == NotifyOutcome::resend) {
    waits.push_back(static_cast<long>(ex.sent().count()));
    o = ex.on_timeout();
  }
  EXPECT_EQ(o, NotifyOutcome::gave_up);
  EXPECT_EQ(waits, (std::vector<long>{250, 500, 1000, 2000}));
  EXPECT_EQ(ex.tries(), 4u);
}

TEST(NotifyMessage, ANameTooLongBuildsNoMessage) {
  std::string huge(300, '\x01');
  xfr::NotifyExchange ex(1, huge, 300, soa_rdata(1), nullptr, now());
  EXPECT_TRUE(ex.message().empty());
}

TEST(NotifySender, CountsEveryOutcomePerViewZoneAndTarget) {
  namespace asio = boost::asio;
  using asio::ip::udp;
  asio::io_context io;
  server::NotifySender sender(io, xfr::NotifyPolicy{3, std::chrono::milliseconds(20), 2});
  // Peers on the same io_context: one acknowledges every message, one refuses it; one never reads.
  struct Peer {
    Peer(asio::io_context& io, uint8_t rc) : sock(io, udp::endpoint(asio::ip::address_v4::loopback(), 0)), rcode(rc) {}
    udp::socket sock;
    uint8_t rcode;
    std::array<uint8_t, 4096> buf{};
    udp::endpoint from;
  };
  Peer acker(io, 0), refuser(io, 5), silent(io, 0);
  std::function<void(Peer&)> serve = [&](Peer& p) {
    p.sock.async_receive_from(asio::buffer(p.buf), p.from, [&serve, &p](const boost::system::error_code& ec, size_t n) {
      if (ec) return;
      auto r = reply_to(std::vector<uint8_t>(p.buf.begin(), p.buf.begin() + static_cast<long>(n)), p.rcode);
      p.sock.send_to(asio::buffer(r), p.from);
      serve(p);
    });
  };
  serve(acker);
  serve(refuser);
  auto job = [&](const char* view, const Peer& to) {
    xfr::NotifyJob j;
    j.view = view;
    j.zone = "internal.example.";
    j.target = horizon::Endpoint{*horizon::IpAddr::parse("127.0.0.1"), to.sock.local_endpoint().port()};
    j.zone_wire = kZone;
    j.serial = 7;
    j.soa_ttl = 300;
    j.soa_rdata = soa_rdata(7);
    return j;
  };
  sender.send(job("v", acker));
  sender.send(job("v", refuser));
  sender.send(job("v", silent));
  sender.send(job("w", silent));
  sender.send(job("w", silent));  // a newer serial, say: supersedes the one before
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (sender.in_flight() && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(10));
  ASSERT_EQ(sender.in_flight(), 0u);

  std::map<std::pair<std::string, uint16_t>, xfr::NotifyTally> got;
  for (auto& t : sender.tallies()) {
    EXPECT_EQ(t.zone, "internal.example.");
    got[{t.view, horizon::Endpoint::parse(t.target, 0)->port}] = t;
  }
  ASSERT_EQ(got.size(), 4u);
  auto& a = got[{"v", acker.sock.local_endpoint().port()}];
  EXPECT_EQ(std::tie(a.sent, a.retried, a.acknowledged, a.rejected, a.failed, a.superseded),
            std::make_tuple(1u, 0u, 1u, 0u, 0u, 0u));
  auto& r = got[{"v", refuser.sock.local_endpoint().port()}];
  EXPECT_EQ(std::tie(r.sent, r.retried, r.acknowledged, r.rejected, r.failed, r.superseded),
            std::make_tuple(1u, 0u, 0u, 1u, 0u, 0u));
  // Three tries, then given up.
  auto& s = got[{"v", silent.sock.local_endpoint().port()}];
  EXPECT_EQ(std::tie(s.sent, s.retried, s.acknowledged, s.rejected, s.failed, s.superseded),
            std::make_tuple(1u, 2u, 0u, 0u, 1u, 0u));
  auto& w = got[{"w", silent.sock.local_endpoint().port()}];
  EXPECT_EQ(std::tie(w.sent, w.retried, w.failed, w.superseded), std::make_tuple(2u, 2u, 1u, 1u));
}
