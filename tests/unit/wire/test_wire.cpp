// The wire module: names, records, EDNS options, the query writer and parser, the empty replies.
#include <gtest/gtest.h>
#include <algorithm>
#include <cstring>

#include <string>
#include <vector>

#include "server/wire/format.hpp"
#include "server/wire/query_builder.hpp"
#include "server/wire/reader.hpp"
#include "server/wire/writer.hpp"

using namespace phoenix;

namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<uint8_t> v;
  for (int b : list) v.push_back(static_cast<uint8_t>(b));
  return v;
}

/// A header, then "a.b" at 12, then a pointer to 14 ("b") preceded by label "c": "c.b".
std::vector<uint8_t> message_with_pointers() {
  auto m = bytes({0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  auto names = bytes({1, 'a', 1, 'B', 0, 1, 'c', 0xc0, 14});
  m.insert(m.end(), names.begin(), names.end());
  return m;
}

}  // namespace

TEST(WireNames, SkipAndDecodeFollowBackwardPointers) {
  auto m = message_with_pointers();
  size_t off = 17;
  ASSERT_TRUE(wire::skip_name(m.data(), m.size(), off));
  EXPECT_EQ(off, m.size());  // a name ends after its first pointer
  uint8_t out[255];
  off = 17;
  size_t n = wire::decode_name(m.data(), m.size(), off, out, true);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), n), std::string("\1c\1b\0", 5));
  EXPECT_EQ(off, m.size());
  EXPECT_TRUE(wire::name_equals(m.data(), m.size(), 17, reinterpret_cast<const uint8_t*>("\1C\1b")));
  EXPECT_FALSE(wire::name_equals(m.data(), m.size(), 17, reinterpret_cast<const uint8_t*>("\1c\1a")));
}

TEST(WireNames, ForwardSelfAndHeaderPointersAndLongNamesAreMalformed) {
  auto m = message_with_pointers();
  uint8_t out[255];
  for (std::vector<uint8_t> ptr : {bytes({0xc0, 30}), bytes({0xc0, 21}), bytes({0xc0, 2}), bytes({0x40, 0}),
                                   bytes({0xc0})}) {
    auto bad = m;
    bad.insert(bad.end(), ptr.begin(), ptr.end());
    size_t off = m.size();
    EXPECT_FALSE(wire::skip_name(bad.data(), bad.size(), off));
    off = m.size();
    EXPECT_EQ(wire::decode_name(bad.data(), bad.size(), off, out, false), 0u);
  }
  std::vector<uint8_t> long_name(12, 0);
  for (int i = 0; i < 5; ++i) {
    long_name.push_back(63);
    long_name.insert(long_name.end(), 63, 'x');
  }
  long_name.push_back(0);
  size_t off = 12;
  EXPECT_FALSE(wire::skip_name(long_name.data(), long_name.size(), off));
  uint8_t lower[255];
  off = 12;
  EXPECT_EQ(wire::read_uncompressed_name(long_name.data(), long_name.size(), off, out, lower), 0u);
}

TEST(WireNames, QuestionNamesAreCopiedAndLoweredOctetByOctetAtEveryLength) {
  // Every octet value, in names of every length up to the bound (the copy works in words: short
  // names, exact multiples of a word and overlapping last words must all come out the same).
  for (size_t total = 1; total <= 255; ++total) {
    if (total == 2) continue;  // no name is two octets: a label takes two at least, then the root
    std::vector<uint8_t> m(12, 0);
    size_t left = total - 1;  // octets before the root label
    for (size_t k = 0; left > 0; ++k) {
      size_t l = std::min<size_t>(left - 1, 63);
      if (left - (l + 1) == 1) --l;  // never leave one octet: it could only be an empty label
      m.push_back(static_cast<uint8_t>(l));
      for (size_t i = 0; i < l; ++i) m.push_back(static_cast<uint8_t>((total * 7 + k * 64 + i) & 0xff));
      left -= l + 1;
    }
    m.push_back(0);
    m.insert(m.end(), {0xde, 0xad});  // what follows the name is not copied
    uint8_t exact[255], lower[255];
    std::memset(exact, 0xee, sizeof exact);
    std::memset(lower, 0xee, sizeof lower);
    size_t off = 12;
    ASSERT_EQ(wire::read_uncompressed_name(m.data(), m.size(), off, exact, lower), total) << total;
    EXPECT_EQ(off, 12 + total);
    for (size_t i = 0; i < total; ++i) {
      ASSERT_EQ(exact[i], m[12 + i]) << total << " at " << i;
      ASSERT_EQ(lower[i], zones::lower_octet(m[12 + i])) << total << " at " << i;
    }
    if (total < 255) {
      EXPECT_EQ(exact[total], 0xee) << total;
      EXPECT_EQ(lower[total], 0xee) << total;
    }
  }
}

TEST(WireEdns, OptWithEdeAndAnOptionIsWrittenAndReadBack) {
  const uint8_t cookie[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  wire::EdnsOption opts[] = {{wire::edns_option::COOKIE, cookie, 8}};
  wire::OptRecord o{1232, 1, true, wire::ede::NOT_SUPPORTED, opts};
  ASSERT_EQ(wire::opt_size(o), 11u + 6u + 12u);
  std::vector<uint8_t> buf(64);
  EXPECT_EQ(wire::write_opt(buf.data(), 28, o), 0u);  // does not fit: nothing written
  ASSERT_EQ(wire::write_opt(buf.data(), buf.size(), o), 29u);
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + 17),
            bytes({0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 18, 0, 15, 0, 2, 0, 21}));
  wire::OptionReader r(buf.data() + 11, 18);
  wire::EdnsOption got;
  ASSERT_TRUE(r.next(got));
  EXPECT_EQ(got.code, wire::edns_option::EDE);
  ASSERT_TRUE(r.next(got));
  EXPECT_EQ(got.code, wire::edns_option::COOKIE);
  EXPECT_EQ(std::vector<uint8_t>(got.data, got.data + got.len), std::vector<uint8_t>(cookie, cookie + 8));
  EXPECT_FALSE(r.next(got));
  EXPECT_TRUE(r.ok());
  wire::OptionReader cut(buf.data() + 11, 17);  // the cookie runs past the rdata
  while (cut.next(got)) {
  }
  EXPECT_FALSE(cut.ok());
}

TEST(WireQuery, WrittenQueriesParseBackWithTheirOptions) {
  const uint8_t cookie[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  wire::EdnsOption opts[] = {{wire::edns_option::COOKIE, cookie, 8}};
  std::string name = wire::text_to_wire("WwW.Example.test");
  wire::QuerySpec spec;
  spec.qname = name;
  spec.qtype = zones::rrtype::AAAA;
  spec.id = 0xabcd;
  spec.rd = spec.cd = true;
  spec.edns_payload = 4096;
  spec.do_bit = true;
  spec.options = opts;
  auto m = wire::write_query(spec);
  wire::ParsedQuery q;
  ASSERT_EQ(wire::parse_query(m.data(), m.size(), q), wire::ParseStatus::ok);
  EXPECT_EQ(q.id, 0xabcd);
  EXPECT_TRUE(q.rd && q.cd && q.do_bit && q.has_edns);
  EXPECT_EQ(q.udp_size, 4096);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(q.qname_orig), q.qname_len), name);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(q.qname_lower), q.qname_len), wire::text_to_wire("www.example.test"));
  EXPECT_FALSE(q.plain());  // an option may change the answer
  wire::OptionReader r(q.edns_options(m.data()), q.edns_options_len);
  wire::EdnsOption got;
  ASSERT_TRUE(r.next(got));
  EXPECT_EQ(got.code, wire::edns_option::COOKIE);
  EXPECT_EQ(got.data[0], 9);

  spec.options = {};
  auto bare = wire::write_query(spec);
  ASSERT_EQ(wire::parse_query(bare.data(), bare.size(), q), wire::ParseStatus::ok);
  EXPECT_TRUE(q.plain());
  EXPECT_EQ(q.edns_options_len, 0u);
}

TEST(WireRecords, ReaderWalksRecordsAndStopsAtACutOne) {
  auto m = message_with_pointers();
  // After the names: a record owned by a pointer to 12, type A, class IN, TTL 300, 4 bytes.
  auto rr = bytes({0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1});
  m.insert(m.end(), rr.begin(), rr.end());
  wire::RecordReader reader(m.data(), m.size(), 21);
  wire::Record r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.type, zones::rrtype::A);
  EXPECT_EQ(r.ttl, 300u);
  EXPECT_EQ(r.rdlen, 4u);
  EXPECT_EQ(r.ttl_offset(), 27u);  // owner pointer at 21, TYPE at 23
  EXPECT_EQ(reader.offset(), m.size());
  EXPECT_FALSE(reader.next(r));
  wire::RecordReader cut(m.data(), m.size() - 1, 21);
  EXPECT_FALSE(cut.next(r));
}

TEST(WireReplies, ErrorRepliesEchoTheQuestionAndCarryEde) {
  auto m = wire::build_query("x.test", 1, 7, true, 1232);
  wire::ParsedQuery q;
  ASSERT_EQ(wire::parse_query(m.data(), m.size(), q), wire::ParseStatus::ok);
  std::vector<uint8_t> out(512);
  size_t n = wire::write_error_reply(q, wire::rcode::REFUSED, wire::ede::NOT_AUTHORITATIVE, false, out.data(), out.size());
  ASSERT_EQ(n, m.size() + wire::kEdeOptionSize);
  EXPECT_EQ(out[2], wire::flags1::QR | wire::flags1::RD);
  EXPECT_EQ(out[3], wire::rcode::REFUSED);
  EXPECT_EQ(wire::count(out.data(), wire::Count::question), 1);
  EXPECT_EQ(wire::count(out.data(), wire::Count::additional), 1);
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 12, out.begin() + 24), std::vector<uint8_t>(m.begin() + 12, m.begin() + 24));
  EXPECT_EQ(out[n - 1], wire::ede::NOT_AUTHORITATIVE);
  // BADVERS: the low bits in the header, the upper ones in OPT (RFC 6891 §6.1.3).
  n = wire::write_error_reply(q, wire::rcode::BADVERS, wire::ede::kNoEde, false, out.data(), out.size());
  EXPECT_EQ(out[3] & 0x0f, 0);
  EXPECT_EQ(out[n - 6], 1);
  // Without a parsed question, only the header.
  wire::ParsedQuery none;
  auto shortq = bytes({0, 9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0});
  ASSERT_EQ(wire::parse_query(shortq.data(), shortq.size(), none), wire::ParseStatus::formerr);
  EXPECT_EQ(wire::write_error_reply(none, wire::rcode::FORMERR, wire::ede::kNoEde, false, out.data(), out.size()), 12u);
  EXPECT_EQ(wire::count(out.data(), wire::Count::question), 0);
}

TEST(WireNames, TheBoundIsExactly255OctetsWithTheRoot) {
  // 127 one-letter labels and the root are 255 octets (RFC 1035 §2.3.4); one more label is too many.
  std::vector<uint8_t> name(12, 0);
  for (int i = 0; i < 128; ++i) name.insert(name.end(), {1, 'A'});
  name.push_back(0);
  size_t off = 12;
  EXPECT_FALSE(wire::skip_name(name.data(), name.size(), off));
  name.erase(name.begin() + 12, name.begin() + 14);
  off = 12;
  ASSERT_TRUE(wire::skip_name(name.data(), name.size(), off));
  EXPECT_EQ(off, name.size());
  uint8_t out[255];
  off = 12;
  ASSERT_EQ(wire::decode_name(name.data(), name.size(), off, out, true), 255u);
  EXPECT_EQ(out[1], 'a');
}
