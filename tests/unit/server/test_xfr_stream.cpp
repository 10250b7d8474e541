#include <gtest/gtest.h>

#include <ldns/ldns.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "horizon/tsig_keys.hpp"
#include "server/wire/query_builder.hpp"
#include "server/xfr/xfr_stream.hpp"
#include "unit/server/dns_tool_peer.hpp"
#include "zones/zonefile.hpp"

using namespace phoenix;

namespace {

/// A zone of every shape the writer compresses differently, `hosts` names big.
std::string zone_text(int hosts) {
  std::string t =
      "$ORIGIN xfr.test.\n$TTL 300\n"
      "@ IN SOA ns1.xfr.test. hostmaster.xfr.test. 42 3600 600 86400 300\n"
      "@ NS ns1\n@ NS ns2.elsewhere.example.\n@ MX 10 mail\n@ TXT \"v=spf1 -all\" \"second string\"\n"
      "ns1 A 192.0.2.53\nns1 AAAA 2001:db8::53\nmail A 192.0.2.25\n"
      "_sip._tcp SRV 10 60 5060 sip.xfr.test.\nsip CNAME mail\n*.wild TXT \"wildcard\"\n"
      "sub NS ns.sub\nns.sub A 192.0.2.99\n";
  for (int i = 0; i < hosts; ++i) {
    t += "host" + std::to_string(i) + " 600 A 10." + std::to_string(i / 65536 % 256) + "." +
         std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + "\n";
    if (i % 7 == 0) t += "host" + std::to_string(i) + " AAAA 2001:db8::" + std::to_string(i % 10000) + "\n";
    if (i % 11 == 0) t += "alias" + std::to_string(i) + " CNAME host" + std::to_string(i) + "\n";
  }
  return t;
}

std::shared_ptr<const zones::Zone> load(const std::string& text) {
  horizon::Diagnostics diag;
  auto z = zones::load_zone_text(text, *zones::Name::from_text("xfr.test"), "xfr.zone", diag);
  EXPECT_TRUE(z) << (diag.items().empty() ? "" : diag.items()[0].format());
  return z;
}

std::string rr_text(ldns_rr* rr) {
  ldns_rr2canonical(rr);
  char* s = ldns_rr2str(rr);
  std::string out = s ? s : "";
  free(s);
  return out;
}

/// Every record of the zone text as ldns reads it (the reference), canonical, sorted.
std::vector<std::string> expected_records(const std::string& text) {
  FILE* f = fmemopen(const_cast<char*>(text.data()), text.size(), "r");
  ldns_zone* z = nullptr;
  int line = 0;
  EXPECT_EQ(ldns_zone_new_frm_fp_l(&z, f, nullptr, 300, LDNS_RR_CLASS_IN, &line), LDNS_STATUS_OK);
  fclose(f);
  std::vector<std::string> out;
  out.push_back(rr_text(ldns_zone_soa(z)));
  for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_zone_rrs(z)); ++i)
    out.push_back(rr_text(ldns_rr_list_rr(ldns_zone_rrs(z), i)));
  ldns_zone_deep_free(z);
  std::sort(out.begin(), out.end());
  return out;
}

xfr::XfrQuestion question(uint16_t id = 0x5151, const char* name = "XFR.test") {
  auto q = wire::build_query(name, zones::rrtype::AXFR, id, false, std::nullopt);
  xfr::XfrQuestion out;
  EXPECT_TRUE(xfr::make_xfr_question(id, q.data() + 12, q.size() - 16, zones::rrtype::AXFR, 1, false, out));
  return out;
}

struct Transfer {
  std::vector<std::vector<uint8_t>> messages;
  bool failed = false;
};

Transfer run(std::shared_ptr<const zones::Zone> zone, size_t max_message, xfr::TsigStreamSigner* signer = nullptr) {
  xfr::AxfrSource source(std::move(zone));
  xfr::XfrMessageStream stream(question(), max_message);
  Transfer t;
  std::vector<uint8_t> buf(65535);
  while (!stream.done() && t.messages.size() < 10000) {
    size_t n = stream.next(source, buf.data(), buf.size(), signer, 1000000);
    if (n == 0) break;
    t.messages.emplace_back(buf.begin(), buf.begin() + static_cast<long>(n));
  }
  t.failed = stream.failed();
  return t;
}

/// The answer records of every message as ldns parses them; checks SOA first and last on the way.
std::vector<std::string> parsed_records(const Transfer& t) {
  std::vector<std::string> out;
  for (size_t m = 0; m < t.messages.size(); ++m) {
    const auto& msg = t.messages[m];
    ldns_pkt* pkt = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&pkt, msg.data(), msg.size()), LDNS_STATUS_OK) << "message " << m;
    if (!pkt) continue;
    EXPECT_TRUE(ldns_pkt_qr(pkt));
    EXPECT_TRUE(ldns_pkt_aa(pkt));
    EXPECT_EQ(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
    EXPECT_EQ(ldns_pkt_id(pkt), 0x5151);
    EXPECT_EQ(ldns_pkt_qdcount(pkt), m == 0 ? 1 : 0);
    ldns_rr_list* an = ldns_pkt_answer(pkt);
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) out.push_back(rr_text(ldns_rr_list_rr(an, i)));
    ldns_pkt_free(pkt);
  }
  return out;
}

}  // namespace

TEST(XfrStream, AxfrIsSoaEveryRecordSoaAcrossMessages) {
  const std::string text = zone_text(20000);
  auto zone = load(text);
  ASSERT_TRUE(zone);
  const size_t zone_records = zone->record_count();
  // The stream holds the version it started with: the caller may drop its own reference.
  size_t plain = 12 + 4 + 10;  // header, question, and the uncompressed size of every record sent
  {
    xfr::AxfrSource walk(zone);
    for (xfr::XfrRecord r; walk.peek(r); walk.advance())
      plain += zones::wire_name_length(r.owner, 256) + 10 + r.rdata.size();
  }
  auto t = run(std::exchange(zone, nullptr), 65535);
  ASSERT_FALSE(t.failed);
  ASSERT_GE(t.messages.size(), 4u);
  size_t bytes = 0;
  for (const auto& m : t.messages) {
    EXPECT_LE(m.size(), 65535u);
    bytes += m.size();
  }
  // Full messages: all but the last are within a record of the limit.
  for (size_t i = 0; i + 1 < t.messages.size(); ++i) EXPECT_GT(t.messages[i].size(), 65535u - 300) << i;
  auto got = parsed_records(t);
  ASSERT_EQ(got.size(), zone_records + 1);
  EXPECT_NE(got.front().find("\tSOA\t"), std::string::npos) << got.front();
  EXPECT_EQ(got.front(), got.back());
  got.pop_back();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected_records(text));
  // Compression: owners and names in rdata point at earlier names.
  EXPECT_LT(bytes, plain * 4 / 5) << bytes << " of " << plain;
}

TEST(XfrStream, SmallMessagesAndTheEmptiestZone) {
  const std::string text = zone_text(300);
  auto t = run(load(text), 512);
  ASSERT_FALSE(t.failed);
  EXPECT_GT(t.messages.size(), 10u);
  for (const auto& m : t.messages) EXPECT_LE(m.size(), 512u);
  auto got = parsed_records(t);
  got.pop_back();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected_records(text));

  const std::string tiny = "$ORIGIN xfr.test.\n@ 60 SOA ns hm 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n";
  auto one = run(load(tiny), 65535);
  ASSERT_EQ(one.messages.size(), 1u);
  EXPECT_EQ(parsed_records(one).size(), 4u);

  // A buffer too small for one record fails instead of looping.
  auto none = run(load(tiny), 40);
  EXPECT_TRUE(none.failed);
}

TEST(XfrStream, EveryMessageSignedInSequence) {
  auto keys = test::tsig_keys();
  auto req = wire::build_query("xfr.test", zones::rrtype::AXFR, 0x5151, false, std::nullopt);
  size_t len = req.size();
  req.resize(len + xfr::kMaxTsigSpace);
  xfr::TsigContext client, server;
  req.resize(xfr::sign_request(req.data(), len, req.size(), keys[0], 1000000, client));
  ASSERT_EQ(xfr::verify_request(req.data(), req.size(), keys, 1000000, server), xfr::TsigStatus::ok);
  xfr::TsigStreamSigner signer(server);
  const std::string text = zone_text(8000);
  auto t = run(load(text), 65535, &signer);
  ASSERT_FALSE(t.failed);
  ASSERT_GE(t.messages.size(), 2u);
  EXPECT_EQ(signer.count(), t.messages.size());
  xfr::TsigStreamVerifier v(client);
  for (const auto& m : t.messages) {
    EXPECT_LE(m.size(), 65535u);
    EXPECT_EQ(v.verify(m.data(), m.size(), 1000000), xfr::TsigStatus::ok);
  }
  EXPECT_TRUE(v.complete());
  auto got = parsed_records(t);
  got.pop_back();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected_records(text));
}

// dig and kdig as the secondary: a signed AXFR over TCP, every message signed over the previous MAC.
class AxfrWithTool : public ::testing::TestWithParam<const char*> {};

TEST_P(AxfrWithTool, SignedTransferIsAcceptedAndATamperedOneIsNot) {
  const std::string tool = GetParam();
  if (!test::have_tool(tool.c_str())) GTEST_SKIP() << tool << " not installed";
  auto keys = test::tsig_keys();
  auto zone = load(zone_text(6000));
  ASSERT_TRUE(zone);
  // dig checks every message's MAC over the previous one (RFC 8945 §5.3.1): a wrong second MAC must be
  // caught. kdig 3.2 checks only the first message of a transfer, so that is the one it can catch.
  const size_t tampered = tool == "dig" ? 1 : 0;
  const char* failure = tool == "dig" ? "Some TSIG could not be validated" : "failed to verify TSIG";
  for (bool tamper : {false, true}) {
    test::Peer peer;
    test::Tool run_tool(test::signed_query_command(tool, peer.port(), "xfr.test AXFR"));
    auto q = peer.recv_tcp();
    ASSERT_FALSE(q.empty()) << run_tool.finish();
    xfr::TsigContext ctx;
    const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
    ASSERT_EQ(xfr::verify_request(q.data(), q.size(), keys, now, ctx), xfr::TsigStatus::ok);
    xfr::XfrQuestion xq;
    size_t qend = 12;
    while (q[qend] != 0) qend += q[qend] + 1u;
    ASSERT_TRUE(xfr::make_xfr_question(zones::read_u16(q.data()), q.data() + 12, qend + 1 - 12,
                                       zones::rrtype::AXFR, 1, false, xq));
    xfr::TsigStreamSigner signer(ctx);
    xfr::AxfrSource source(zone);
    xfr::XfrMessageStream stream(xq);
    std::vector<uint8_t> buf(65535);
    size_t messages = 0;
    while (size_t n = stream.next(source, buf.data(), buf.size(), &signer, now)) {
      std::vector<uint8_t> m(buf.begin(), buf.begin() + static_cast<long>(n));
      if (tamper && messages == tampered) m[n - 10] ^= 0x01;  // inside the MAC
      peer.send_tcp(m);
      ++messages;
    }
    ASSERT_GE(messages, 2u);
    std::string out = run_tool.finish();
    peer.close_tcp();
    const std::string count = std::to_string(zone->record_count() + 1);
    // dig: ";; XFR size: N records (messages M, ...)"; kdig: ";; Received B B (M messages, N records)".
    const std::string summary = tool == "dig" ? "XFR size: " + count + " records (messages " + std::to_string(messages)
                                              : "(" + std::to_string(messages) + " messages, " + count + " records)";
    if (!tamper) {
      EXPECT_NE(out.find(summary), std::string::npos) << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
      EXPECT_EQ(out.find(failure), std::string::npos) << out.substr(0, 2000);
    } else {
      EXPECT_NE(out.find(failure), std::string::npos) << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tools, AxfrWithTool, ::testing::Values("dig", "kdig"));
