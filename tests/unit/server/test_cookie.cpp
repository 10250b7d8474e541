// DNS cookies: SipHash-2-4, RFC 9018's server cookies (its Appendix A vectors), verification with
// the previous secret, the COOKIE option in the processor, and the secret file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "server/cookie_secret.hpp"
#include "server/query/cookie.hpp"
#include "server/query/precompiled.hpp"
#include "server/wire/query_builder.hpp"
#include "unit/server/example_snapshot.hpp"

using namespace phoenix;

namespace {

std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return out;
}
std::string hex(const uint8_t* p, size_t n) {
  std::string out;
  char b[3];
  for (size_t i = 0; i < n; ++i) std::snprintf(b, sizeof b, "%02x", p[i]), out += b;
  return out;
}
query::CookieSecret secret(const std::string& h) {
  query::CookieSecret s;
  auto v = unhex(h);
  std::memcpy(s.data(), v.data(), 16);
  return s;
}

struct Vector {
  const char *secret, *client_cookie, *ip;
  uint32_t at;
  const char* server_cookie;
};
// RFC 9018 Appendix A.1-A.3, and A.4's cookie made with the secret before the roll-over.
const Vector kVectors[] = {
    {"e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", 1559731985,
     "010000005cf79f111f8130c3eee29480"},
    {"e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", 1559734385,
     "010000005cf7a871d4a564a1442aca77"},
    {"e5e973e5a6b2a43f48e7dc849e37bfcf", "fc93fc62807ddb86", "203.0.113.203", 1559734700,
     "010000005cf7a9acf73a7810aca2381e"},
    {"dd3bdf9344b678b185a6f5cb60fca715", "22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741817,
     "010000005cf7c57926556bd0934c72f8"},
};

}  // namespace

TEST(Cookie, SipHashReferenceVectors) {
  // The SipHash paper's Appendix A: key 00..0f; messages 00..0e (15 octets) and the empty one.
  query::CookieSecret key;
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  uint8_t msg[15], out[8];
  for (int i = 0; i < 15; ++i) msg[i] = static_cast<uint8_t>(i);
  query::siphash24(key, msg, 15, out);
  EXPECT_EQ(hex(out, 8), "e545be4961ca29a1");
  query::siphash24(key, msg, 0, out);
  EXPECT_EQ(hex(out, 8), "310e0edd47db6f72");
}

TEST(Cookie, Rfc9018ServerCookies) {
  for (auto& v : kVectors) {
    uint8_t out[16];
    auto cc = unhex(v.client_cookie);
    query::make_server_cookie(secret(v.secret), cc.data(), *horizon::IpAddr::parse(v.ip), v.at, out);
    EXPECT_EQ(hex(out, 16), v.server_cookie) << v.ip;
  }
}

TEST(Cookie, VerificationAcceptsThePreviousSecretAndRejectsTheRest) {
  const auto& v = kVectors[3];
  auto cc = unhex(v.client_cookie);
  auto sc = unhex(v.server_cookie);
  auto ip = *horizon::IpAddr::parse(v.ip);
  query::CookieSecrets s;
  s.current = secret("445536bcd2513298075a5d379663c962");  // A.4: rolled over to this one
  EXPECT_FALSE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), ip, v.at + 10));
  s.previous = secret(v.secret);
  s.has_previous = true;
  EXPECT_TRUE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), ip, v.at + 10));
  EXPECT_FALSE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), *horizon::IpAddr::parse("2001:db8::1"),
                                          v.at + 10));  // another address
  EXPECT_TRUE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), ip, v.at + 3600));
  EXPECT_FALSE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), ip, v.at + 3601));  // over an hour
  EXPECT_TRUE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), ip, v.at - 300));
  EXPECT_FALSE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), ip, v.at - 301));  // from the future
  sc[15] ^= 1;
  EXPECT_FALSE(query::server_cookie_valid(s, cc.data(), sc.data(), sc.size(), ip, v.at + 10));
  EXPECT_FALSE(query::server_cookie_valid(s, cc.data(), sc.data(), 8, ip, v.at + 10));  // not ours: 8 octets
}

namespace {

const zones::Snapshot& example() { return test::example_snapshot(); }

/// A query for `name` with a COOKIE option of `cookie` (raw content).
std::vector<uint8_t> with_cookie(const std::vector<uint8_t>& cookie) {
  auto q = wire::build_query("ollama.phoenix.thinkheads.ai", 1, 0x7777, false, 1232);
  // build_query ends with a bare OPT whose RDLENGTH is its last two octets.
  size_t rdlen = 4 + cookie.size();
  q[q.size() - 2] = static_cast<uint8_t>(rdlen >> 8);
  q[q.size() - 1] = static_cast<uint8_t>(rdlen);
  q.push_back(0), q.push_back(10), q.push_back(0), q.push_back(static_cast<uint8_t>(cookie.size()));
  q.insert(q.end(), cookie.begin(), cookie.end());
  return q;
}

/// The COOKIE option's content in a reply, or empty.
std::vector<uint8_t> reply_cookie(const std::vector<uint8_t>& r) {
  for (size_t i = 12; i + 4 <= r.size(); ++i)
    if (r[i] == 0 && r[i + 1] == 10 && r[i + 2] == 0 && i + 4 + r[i + 3] == r.size())
      return {r.begin() + static_cast<long>(i) + 4, r.end()};
  return {};
}

struct Asked {
  std::vector<uint8_t> reply;
  bool valid;
  int rcode() const { return (reply[3] & 0x0f); }
};

Asked ask(const std::vector<uint8_t>& q, const query::CookieSecrets& s, uint32_t now, bool require = false,
          bool tcp = false) {
  query::CookieState c{&s, now, require};
  std::vector<uint8_t> out(tcp ? 65535 : 1232);
  query::QueryContext ctx{&example(), *horizon::IpAddr::parse("192.0.2.1"), tcp, nullptr};
  ctx.cookie = &c;
  out.resize(query::process_query(q.data(), q.size(), ctx, out.data(), out.size()));
  return {out, c.valid};
}

}  // namespace

TEST(Cookie, ProcessorAnswersACookieAndVerifiesItsReturn) {
  query::CookieSecrets s;
  s.current = secret(kVectors[0].secret);
  auto cc = unhex("0102030405060708");
  auto first = ask(with_cookie(cc), s, 1000000);
  ASSERT_EQ(first.rcode(), 0);
  EXPECT_FALSE(first.valid);
  auto got = reply_cookie(first.reply);
  ASSERT_EQ(got.size(), 24u);
  EXPECT_TRUE(std::equal(cc.begin(), cc.end(), got.begin()));  // the client cookie echoed
  auto again = ask(with_cookie(got), s, 1000100);
  EXPECT_EQ(again.rcode(), 0);
  EXPECT_TRUE(again.valid);
  // A bad server cookie counts as none: answered, not valid.
  got[20] ^= 0xff;
  auto bad = ask(with_cookie(got), s, 1000100);
  EXPECT_EQ(bad.rcode(), 0);
  EXPECT_FALSE(bad.valid);
  EXPECT_EQ(reply_cookie(bad.reply).size(), 24u);
}

TEST(Cookie, MalformedCookieIsFormerr) {
  query::CookieSecrets s;
  for (size_t len : {0, 7, 9, 15, 41}) {
    auto r = ask(with_cookie(std::vector<uint8_t>(len, 1)), s, 1000);
    EXPECT_EQ(r.rcode(), 1) << len;
  }
  for (size_t len : {8, 16, 40}) EXPECT_EQ(ask(with_cookie(std::vector<uint8_t>(len, 1)), s, 1000).rcode(), 0) << len;
}

TEST(Cookie, RequireCookieSendsBadcookieOverUdpOnly) {
  query::CookieSecrets s;
  s.current = secret(kVectors[1].secret);
  auto r = ask(with_cookie(unhex("0102030405060708")), s, 5000, true);
  EXPECT_EQ(r.rcode(), 23 & 0x0f);  // BADCOOKIE: 7 in the header, 1 in the OPT's extended rcode
  auto cookie = reply_cookie(r.reply);
  ASSERT_EQ(cookie.size(), 24u);
  EXPECT_EQ(ask(with_cookie(cookie), s, 5001, true).rcode(), 0);  // the retry with it is answered
  EXPECT_EQ(ask(with_cookie(unhex("0102030405060708")), s, 5000, true, true).rcode(), 0);  // TCP
}

TEST(CookieSecret, FileRoundTripsAndRotates) {
  auto dir = std::filesystem::temp_directory_path() / ("phoenix-cookie-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "cookie-secret";
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  query::CookieSecrets first;
  {
    server::CookieSecretKeeper k(file);
    EXPECT_EQ(k.refresh(t0), "");
    first = *k.secrets().load();
    EXPECT_FALSE(first.has_previous);
  }
  {
    server::CookieSecretKeeper k(file);  // a restart keeps the secret
    EXPECT_EQ(k.refresh(t0 + std::chrono::hours(1)), "");
    EXPECT_EQ(k.secrets().load()->current, first.current);
    EXPECT_EQ(k.refresh(t0 + std::chrono::hours(25)), "");  // rotated, the old one still accepted
    auto* now = k.secrets().load();
    EXPECT_NE(now->current, first.current);
    EXPECT_TRUE(now->has_previous);
    EXPECT_EQ(now->previous, first.current);
  }
  std::ofstream(file) << "garbage";
  server::CookieSecretKeeper k(file);
  EXPECT_NE(k.refresh(t0), "");  // said, and a fresh secret instead
  EXPECT_NE(k.secrets().load(), nullptr);
  EXPECT_FALSE(server::parse_cookie_secrets("phoenix-cookie-secret 1 5 abc").has_value());
  std::filesystem::remove_all(dir);
}
