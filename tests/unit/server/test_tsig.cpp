#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "horizon/tsig_keys.hpp"
#include "server/wire/query_builder.hpp"
#include "server/xfr/tsig.hpp"
#include "unit/server/dns_tool_peer.hpp"

using namespace phoenix;
using xfr::TsigStatus;

namespace {

constexpr const char* kSecret = test::kTestSecret;

std::vector<horizon::TsigKey> make_keys(const char* name = "xfr-key", const char* secret = kSecret,
                                        const char* alg = "hmac-sha256") {
  auto keys = test::tsig_keys(name, secret, alg);
  EXPECT_EQ(keys.size(), 1u);
  return keys;
}

uint64_t now() { return static_cast<uint64_t>(std::time(nullptr)); }

std::vector<uint8_t> signed_query(const horizon::TsigKey& key, uint64_t at, xfr::TsigContext& ctx) {
  auto q = wire::build_query("www.example.com", 1, 0x4242, true, std::nullopt);
  size_t len = q.size();
  q.resize(len + xfr::tsig_space(key));
  size_t n = xfr::sign_request(q.data(), len, q.size(), key, at, ctx);
  EXPECT_GT(n, len);
  q.resize(n);
  return q;
}

/// A reply to `request` (question copied, TSIG and other additional records dropped) with `answers`
/// A records 192.0.2.N owned by the query name; room left for a TSIG.
std::vector<uint8_t> reply_to(const std::vector<uint8_t>& request, int answers) {
  size_t qend = 12;
  while (request[qend] != 0) qend += request[qend] + 1u;
  qend += 5;
  std::vector<uint8_t> r(request.begin(), request.begin() + static_cast<long>(qend));
  r[2] = static_cast<uint8_t>(0x84 | (request[2] & 0x01));  // QR, AA, RD copied
  r[3] = 0;
  r[6] = 0, r[7] = static_cast<uint8_t>(answers), r[8] = r[9] = r[10] = r[11] = 0;
  for (int i = 1; i <= answers; ++i) {
    const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, static_cast<uint8_t>(i)};
    r.insert(r.end(), rr, rr + sizeof rr);
  }
  return r;
}

size_t sign_into(std::vector<uint8_t>& msg, const std::function<size_t(uint8_t*, size_t, size_t)>& sign) {
  size_t len = msg.size();
  msg.resize(len + xfr::kMaxTsigSpace);
  size_t n = sign(msg.data(), len, msg.size());
  msg.resize(n ? n : len);
  return n;
}

/// A query signed with the test key at 1000000; `server` is for the side that verifies it.
class TsigSignedQuery : public ::testing::Test {
 protected:
  std::vector<horizon::TsigKey> keys = make_keys();
  xfr::TsigContext client, server;
  std::vector<uint8_t> q = signed_query(keys[0], 1000000, client);
};

}  // namespace

TEST_F(TsigSignedQuery, SignedRequestVerifies) {
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, 1000000, server), TsigStatus::ok);
  EXPECT_EQ(server.key, &keys[0]);
  EXPECT_EQ(server.mac_len, 32u);
  EXPECT_EQ(std::memcmp(server.mac, client.mac, 32), 0);
  // Within the fudge either way, then just outside it.
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, 1000000 + 300, server), TsigStatus::ok);
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, 1000000 - 300, server), TsigStatus::ok);
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, 1000000 + 301, server), TsigStatus::badtime);
  EXPECT_EQ(server.error, xfr::tsig_error::BADTIME);
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, 1000000 - 301, server), TsigStatus::badtime);
}

TEST_F(TsigSignedQuery, EveryFlippedByteFailsAndUnsignedIsUnsigned) {
  xfr::TsigRecord t;
  ASSERT_EQ(xfr::find_tsig(q.data(), q.size(), t), xfr::TsigParse::ok);
  for (size_t i = 0; i < q.size(); ++i) {
    auto bad = q;
    bad[i] ^= 0x01;
    auto s = xfr::verify_request(bad.data(), bad.size(), keys, 1000000, server);
    // Only the ID may change (a forwarder may rewrite it; the Original ID is what is signed).
    if (i < 2) EXPECT_EQ(s, TsigStatus::ok) << i;
    else EXPECT_NE(s, TsigStatus::ok) << "byte " << i << " of " << q.size();
  }
  auto plain = wire::build_query("www.example.com", 1, 1, true, 1232);
  EXPECT_EQ(xfr::verify_request(plain.data(), plain.size(), keys, 0, server), TsigStatus::unsigned_message);
  EXPECT_FALSE(server.signed_request);
  size_t len = plain.size();
  EXPECT_EQ(xfr::sign_reply(plain.data(), len, len, server, 0), len);  // nothing to sign
}

TEST_F(TsigSignedQuery, UnknownKeyOrAlgorithmIsBadkeyAndItsReplyIsUnsigned) {
  auto other_name = make_keys("other-key");
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), other_name, 1000000, server), TsigStatus::badkey);
  auto other_alg = make_keys("xfr-key", kSecret, "hmac-sha512");
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), other_alg, 1000000, server), TsigStatus::badkey);
  EXPECT_EQ(server.key, nullptr);
  auto other_secret = make_keys("XFR-Key.", "Zm9vYmFyYmF6cXV4");
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), other_secret, 1000000, server), TsigStatus::badsig);

  // The BADKEY reply carries a TSIG with the request's key name, no MAC and the error.
  EXPECT_EQ(xfr::verify_request(q.data(), q.size(), other_name, 1000000, server), TsigStatus::badkey);
  auto r = reply_to(q, 0);
  ASSERT_GT(sign_into(r, [&](uint8_t* m, size_t l, size_t c) { return xfr::sign_reply(m, l, c, server, 1000001); }), 0u);
  xfr::TsigRecord t;
  ASSERT_EQ(xfr::find_tsig(r.data(), r.size(), t), xfr::TsigParse::ok);
  EXPECT_EQ(t.mac_len, 0);
  EXPECT_EQ(t.error, xfr::tsig_error::BADKEY);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.key_name), t.key_name_len), std::string("\7xfr-key", 9));
  xfr::TsigStreamVerifier v(client);
  EXPECT_EQ(v.verify(r.data(), r.size(), 1000001), TsigStatus::badkey);
}

TEST_F(TsigSignedQuery, TruncatedAndMisplacedTsigs) {
  xfr::TsigRecord t;
  ASSERT_EQ(xfr::find_tsig(q.data(), q.size(), t), xfr::TsigParse::ok);
  // Cut the MAC to 16 bytes (half of SHA-256: allowed, but not by our policy) and to 8 (never allowed).
  auto cut = [&](size_t keep) {
    std::vector<uint8_t> m(q.begin(), q.begin() + (t.mac - q.data()) + static_cast<long>(keep));
    m.insert(m.end(), t.mac + t.mac_len, static_cast<const uint8_t*>(q.data() + q.size()));
    size_t macsize_at = static_cast<size_t>(t.mac - q.data()) - 2, rdlen_at = t.offset + t.key_name_len + 8;
    m[macsize_at + 1] = static_cast<uint8_t>(keep);
    size_t rdlen = ((q[rdlen_at] << 8) | q[rdlen_at + 1]) - (t.mac_len - keep);
    m[rdlen_at] = static_cast<uint8_t>(rdlen >> 8), m[rdlen_at + 1] = static_cast<uint8_t>(rdlen);
    return m;
  };
  auto half = cut(16), tiny = cut(8);
  EXPECT_EQ(xfr::verify_request(half.data(), half.size(), keys, 1000000, server), TsigStatus::badtrunc);
  EXPECT_EQ(xfr::verify_request(tiny.data(), tiny.size(), keys, 1000000, server), TsigStatus::formerr);
  auto formerr = reply_to(tiny, 0);
  const size_t unsigned_len = formerr.size();
  EXPECT_EQ(sign_into(formerr, [&](uint8_t* m, size_t l, size_t c) { return xfr::sign_reply(m, l, c, server, 1); }),
            unsigned_len);  // no TSIG on a FORMERR
  // A TSIG followed by another record is malformed: duplicate the OPT-less query's TSIG.
  auto twice = q;
  twice.insert(twice.end(), q.begin() + static_cast<long>(t.offset), q.end());
  twice[11] = 2;
  EXPECT_EQ(xfr::find_tsig(twice.data(), twice.size(), t), xfr::TsigParse::malformed);
  EXPECT_EQ(xfr::verify_request(twice.data(), twice.size(), keys, 1000000, server), TsigStatus::formerr);
  // Trailing garbage, and a TSIG counted in the answer section.
  auto trailing = q;
  trailing.push_back(0);
  EXPECT_EQ(xfr::find_tsig(trailing.data(), trailing.size(), t), xfr::TsigParse::malformed);
  auto in_answer = q;
  in_answer[7] = 1, in_answer[11] = 0;
  EXPECT_EQ(xfr::find_tsig(in_answer.data(), in_answer.size(), t), xfr::TsigParse::malformed);
}

TEST_F(TsigSignedQuery, ReplyAndStreamVerifyOverThePreviousMac) {
  ASSERT_EQ(xfr::verify_request(q.data(), q.size(), keys, 1000002, server), TsigStatus::ok);
  xfr::TsigStreamSigner signer(server);
  std::vector<std::vector<uint8_t>> msgs;
  for (int i = 0; i < 4; ++i) {
    msgs.push_back(reply_to(q, i + 1));
    ASSERT_GT(sign_into(msgs.back(), [&](uint8_t* m, size_t l, size_t c) { return signer.sign(m, l, c, 1000003); }), 0u);
  }
  {
    xfr::TsigStreamVerifier v(client);
    for (auto& m : msgs) EXPECT_EQ(v.verify(m.data(), m.size(), 1000004), TsigStatus::ok);
    EXPECT_TRUE(v.complete());
  }
  {  // Out of order: the second message is not signed over the first's MAC.
    xfr::TsigStreamVerifier v(client);
    EXPECT_EQ(v.verify(msgs[1].data(), msgs[1].size(), 1000004), TsigStatus::badsig);
  }
  {  // A message dropped in the middle breaks the chain.
    xfr::TsigStreamVerifier v(client);
    EXPECT_EQ(v.verify(msgs[0].data(), msgs[0].size(), 1000004), TsigStatus::ok);
    EXPECT_EQ(v.verify(msgs[2].data(), msgs[2].size(), 1000004), TsigStatus::badsig);
  }
  {  // Late: the client's clock is past the fudge.
    xfr::TsigStreamVerifier v(client);
    EXPECT_EQ(v.verify(msgs[0].data(), msgs[0].size(), 1000003 + 301), TsigStatus::badtime);
  }
}

TEST_F(TsigSignedQuery, UnsignedMessagesInAStreamAreCoveredByTheNextSignedOne) {
  // The signer side skipping signatures is built here by hand with OpenSSL's one-shot HMAC over the
  // RFC 8945 §5.3.1 digest: previous MAC (size + bytes), the unsigned message, the signed message, timers.
  ASSERT_EQ(xfr::verify_request(q.data(), q.size(), keys, 1000000, server), TsigStatus::ok);
  xfr::TsigStreamSigner signer(server);
  auto first = reply_to(q, 1);
  ASSERT_GT(sign_into(first, [&](uint8_t* m, size_t l, size_t c) { return signer.sign(m, l, c, 1000000); }), 0u);
  xfr::TsigRecord t;
  ASSERT_EQ(xfr::find_tsig(first.data(), first.size(), t), xfr::TsigParse::ok);
  std::vector<uint8_t> prior(t.mac, t.mac + t.mac_len);
  auto middle = reply_to(q, 2), last = reply_to(q, 3);
  // Sign `last` with our signer (to get the record's layout), then replace its MAC by the hand-made one.
  xfr::TsigStreamSigner layout(server);
  ASSERT_GT(sign_into(last, [&](uint8_t* m, size_t l, size_t c) { return layout.sign(m, l, c, 1000000); }), 0u);
  ASSERT_EQ(xfr::find_tsig(last.data(), last.size(), t), xfr::TsigParse::ok);
  std::vector<uint8_t> data = {0, 32};
  data.insert(data.end(), prior.begin(), prior.end());
  data.insert(data.end(), middle.begin(), middle.end());
  std::vector<uint8_t> unsigned_last(last.begin(), last.begin() + static_cast<long>(t.offset));
  unsigned_last[11] = 0;
  data.insert(data.end(), unsigned_last.begin(), unsigned_last.end());
  const uint8_t timers[] = {0, 0, 0, 0x0f, 0x42, 0x40, 0x01, 0x2c};  // 1000000, fudge 300
  data.insert(data.end(), timers, timers + 8);
  unsigned int n = 0;
  HMAC(EVP_sha256(), keys[0].secret.data(), static_cast<int>(keys[0].secret.size()), data.data(), data.size(),
       const_cast<uint8_t*>(t.mac), &n);
  ASSERT_EQ(n, 32u);

  xfr::TsigStreamVerifier v(client);
  EXPECT_EQ(v.verify(first.data(), first.size(), 1000000), TsigStatus::ok);
  EXPECT_EQ(v.verify(middle.data(), middle.size(), 1000000), TsigStatus::unsigned_message);
  EXPECT_FALSE(v.complete());
  EXPECT_EQ(v.verify(last.data(), last.size(), 1000000), TsigStatus::ok);
  EXPECT_TRUE(v.complete());
  // The same `last` without the middle message in front does not verify.
  xfr::TsigStreamVerifier w(client);
  EXPECT_EQ(w.verify(first.data(), first.size(), 1000000), TsigStatus::ok);
  EXPECT_EQ(w.verify(last.data(), last.size(), 1000000), TsigStatus::badsig);
}

TEST(Tsig, EveryAlgorithmRoundTrips) {
  for (const char* alg : {"hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}) {
    auto keys = make_keys("k", kSecret, alg);
    xfr::TsigContext client, server;
    auto q = signed_query(keys[0], 5000, client);
    EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, 5000, server), TsigStatus::ok) << alg;
    EXPECT_EQ(server.mac_len, horizon::tsig_mac_size(keys[0].algorithm)) << alg;
    auto r = reply_to(q, 1);
    ASSERT_GT(sign_into(r, [&](uint8_t* m, size_t l, size_t c) { return xfr::sign_reply(m, l, c, server, 5001); }), 0u);
    xfr::TsigStreamVerifier v(client);
    EXPECT_EQ(v.verify(r.data(), r.size(), 5001), TsigStatus::ok) << alg;
  }
}

TEST_F(TsigSignedQuery, BadtimeReplyIsSignedWithOurClock) {
  ASSERT_EQ(xfr::verify_request(q.data(), q.size(), keys, 2000000, server), TsigStatus::badtime);
  auto r = reply_to(q, 0);
  r[3] = xfr::kRcodeNotauth;
  ASSERT_GT(sign_into(r, [&](uint8_t* m, size_t l, size_t c) { return xfr::sign_reply(m, l, c, server, 2000000); }), 0u);
  xfr::TsigRecord t;
  ASSERT_EQ(xfr::find_tsig(r.data(), r.size(), t), xfr::TsigParse::ok);
  EXPECT_EQ(t.error, xfr::tsig_error::BADTIME);
  EXPECT_EQ(t.time_signed, 1000000u);  // the request's
  ASSERT_EQ(t.other_len, 6);
  EXPECT_EQ((uint64_t{t.other[2]} << 24 | uint64_t{t.other[3]} << 16 | uint64_t{t.other[4]} << 8 | t.other[5]), 2000000u);
  xfr::TsigStreamVerifier v(client);
  EXPECT_EQ(v.verify(r.data(), r.size(), 1000000), TsigStatus::badtime);  // signed, so the error is believed
}

TEST(Tsig, NoRoomIsZeroAndLeavesTheMessageAlone) {
  auto keys = make_keys();
  xfr::TsigContext ctx;
  auto q = wire::build_query("www.example.com", 1, 7, true, std::nullopt);
  auto before = q;
  EXPECT_EQ(xfr::sign_request(q.data(), q.size(), q.size() + 10, keys[0], 1, ctx), 0u);
  EXPECT_EQ(std::vector<uint8_t>(q.begin(), q.begin() + static_cast<long>(before.size())), before);
}

// --- real tools: their signed queries verify, our signed replies satisfy them ---

class TsigWithTool : public ::testing::TestWithParam<const char*> {};

TEST_P(TsigWithTool, QueryVerifiesAndOurReplyIsAccepted) {
  const std::string tool = GetParam();
  if (!test::have_tool(tool.c_str())) GTEST_SKIP() << tool << " not installed";
  // What each tool prints when a reply's TSIG does not verify.
  const char* failure = tool == "dig" ? "tsig verify failure" : "failed to verify TSIG";
  // ...and when it verified our signed BADTIME error.
  const char* skew = tool == "dig" ? "clocks are unsynchronized" : "status: BADTIME";
  auto keys = make_keys();
  enum Mode { good, corrupt, badtime };
  for (Mode mode : {good, corrupt, badtime}) {
    test::Peer peer;
    ASSERT_NE(peer.port(), 0);
    test::Tool run(test::signed_query_command(tool, peer.port(), "www.example.com A", "xfr-key", 3));
    auto q = peer.recv_udp();
    ASSERT_FALSE(q.empty()) << run.finish();
    xfr::TsigContext ctx;
    ASSERT_EQ(xfr::verify_request(q.data(), q.size(), keys, now(), ctx), TsigStatus::ok);

    // The same query fails each way it should.
    xfr::TsigContext scratch;
    auto flipped = q;
    flipped[12 + 1] ^= 0x20;  // a letter of the question's name
    EXPECT_EQ(xfr::verify_request(flipped.data(), flipped.size(), keys, now(), scratch), TsigStatus::badsig);
    auto wrong_key = make_keys("other-key");
    EXPECT_EQ(xfr::verify_request(q.data(), q.size(), wrong_key, now(), scratch), TsigStatus::badkey);
    EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, now() + 3600, scratch), TsigStatus::badtime);
    EXPECT_EQ(xfr::verify_request(q.data(), q.size(), keys, now() - 3600, scratch), TsigStatus::badtime);

    std::vector<uint8_t> r;
    if (mode == badtime) {
      // As if our clock were an hour ahead: NOTAUTH, signed, TSIG error BADTIME.
      ASSERT_EQ(xfr::verify_request(q.data(), q.size(), keys, now() + 3600, ctx), TsigStatus::badtime);
      r = reply_to(q, 0);
      r[3] = xfr::kRcodeNotauth;
    } else {
      r = reply_to(q, 1);
    }
    const uint64_t ours = mode == badtime ? now() + 3600 : now();
    ASSERT_GT(sign_into(r, [&](uint8_t* m, size_t l, size_t c) { return xfr::sign_reply(m, l, c, ctx, ours); }), 0u);
    if (mode == corrupt) r[r.size() - 10] ^= 0x01;  // inside the MAC
    peer.send_udp(r);
    std::string out = run.finish();
    if (mode == good) {
      EXPECT_NE(out.find("NOERROR"), std::string::npos) << out;
      EXPECT_NE(out.find("192.0.2.1"), std::string::npos) << out;
      EXPECT_EQ(out.find(failure), std::string::npos) << out;
    } else if (mode == corrupt) {
      EXPECT_NE(out.find(failure), std::string::npos) << out;
    } else {
      // The tool verified our signed error and shows it.
      EXPECT_NE(out.find(skew), std::string::npos) << out;
      EXPECT_EQ(out.find(failure), std::string::npos) << out;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tools, TsigWithTool, ::testing::Values("dig", "kdig"));
