// The simple-line parser is only a shortcut: every text must load to the same zone, and give the
// same diagnostics, as when ldns reads every line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "zones/zonefile.hpp"
#include "zones/zonefile_fast.hpp"

using namespace phoenix;
using namespace phoenix::zones;

namespace {

const Name kOrigin = *Name::from_text("lab.example");

struct Loaded {
  std::string zone;  // zone_to_text, or "no zone"
  std::string diag;
};

Loaded load(const std::string& text, bool fast) {
  horizon::Diagnostics d;
  auto z = load_zone_text(text, kOrigin, "t.zone", d, fast);
  Loaded out{z ? zone_to_text(*z) : "no zone", ""};
  for (auto& i : d.items()) out.diag += i.format() + "\n";
  return out;
}

void expect_same(const std::string& text) {
  Loaded fast = load(text, true), slow = load(text, false);
  EXPECT_EQ(fast.zone, slow.zone) << text;
  EXPECT_EQ(fast.diag, slow.diag) << text;
}

const std::string kHead = "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n";

}  // namespace

TEST(ZoneFileFast, SimpleLinesAreParsedWithoutLdns) {
  SimpleRecord r;
  std::string origin = kOrigin.wire();
  ASSERT_EQ(parse_simple_line("WWW 300 IN A 192.0.2.80 ; web", origin, "", 3600, r), SimpleLine::record);
  EXPECT_EQ(std::string_view(reinterpret_cast<char*>(r.owner), r.owner_len), Name::from_text("www.lab.example")->wire());
  EXPECT_EQ(r.type, rrtype::A);
  EXPECT_EQ(r.ttl, 300u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(r.rdata), r.rdata_len), std::string("\xc0\x00\x02\x50", 4));
  ASSERT_EQ(parse_simple_line("\tIN MX 10 mail.other.test.", origin, Name::from_text("a.lab.example")->wire(), 60, r),
            SimpleLine::record);
  EXPECT_EQ(r.type, rrtype::MX);
  EXPECT_EQ(r.ttl, 60u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(r.owner), r.owner_len), Name::from_text("a.lab.example")->wire());
  EXPECT_EQ(parse_simple_line("   ; only a comment", origin, "", 60, r), SimpleLine::blank);
  EXPECT_EQ(parse_simple_line("", origin, "", 60, r), SimpleLine::blank);
  // Everything else is ldns's to read.
  for (const char* other : {"t TXT \"x\"", "s SOA ns h ( 1 2 3 4 5 )", "$ORIGIN x.", "a\\.b A 192.0.2.1",
                            "a A 192.0.2.1 extra", "a 1h A 192.0.2.1", "a CH A 192.0.2.1", "a A 300.0.0.1",
                            "a SRV 0 0 80 x", "a..b A 192.0.2.1", ". A 192.0.2.1", " A 192.0.2.1", "a A 192.0.2.1\r"})
    EXPECT_EQ(parse_simple_line(other, origin, "", 60, r), SimpleLine::other) << other;
}

TEST(ZoneFileFast, SameZonesAndDiagnosticsAsLdnsAlone) {
  const std::string cases[] = {
      kHead + "www A 192.0.2.80\n     AAAA 2001:db8::80\nWWW.lab.example. 60 A 192.0.2.81\n",
      kHead + "a 120 A 192.0.2.2\n  IN 7 A 192.0.2.3\n b IN A 192.0.2.4\n",  // owner omitted after TTL/class
      kHead + "$TTL 60\nx A 192.0.2.9\n$ORIGIN sub.lab.example.\ny A 192.0.2.10\n@ NS ns1\nns1 A 192.0.2.11\n",
      kHead + "txt TXT \"a b\" ; quoted\n    A 192.0.2.12\nmx MX 10 mail\nmail CNAME www\nptr PTR @\n",
      kHead + "s SOA ns1 h ( 2 3\n 4 5 6 )\nafter A 192.0.2.13\n",                  // multi-line, then simple
      kHead + "bad A 999.1.1.1\nok A 192.0.2.14\nout.of.zone. A 192.0.2.15\n",      // errors on the way
      kHead + "dup A 192.0.2.16\ndup A 192.0.2.16\ndup 99 A 192.0.2.17\n",          // duplicate, TTL mismatch
      kHead + "*.wild A 192.0.2.18\n_srv._tcp SRV 0 0 80 www\nx-y_z A 192.0.2.19\n",
      kHead + "c1 CNAME c2\nc1 A 192.0.2.20\n",                                     // CNAME and other data
      kHead + "ch CH A 192.0.2.21\n$INCLUDE other.zone\n",
      "www A 192.0.2.1\n",                                                          // no SOA, no $TTL
      kHead + "  \t \n;\n\nlast A 192.0.2.22",                                      // no final newline
      kHead + "dos A 192.0.2.23\r\nunix A 192.0.2.24\n",
      kHead + "in A 192.0.2.25\na IN 300 A 192.0.2.26\nb 0300 A 192.0.2.27\n",
      kHead + "$ORIGIN other.test.\nfar A 192.0.2.28\n$ORIGIN lab.example.\nnear A 192.0.2.29\n",
      "$TTL PTR60\n@ SOA ns hm 1 2 3 4 5\n NS ns\nns A 192.0.2.1\n",  // found by the fuzzer
      "$TTL 0\n@ SOA ns hm 1 2 3 4 5\n NS ns\nns A 192.0.2.1\nzero 0 A 192.0.2.2\n",
  };
  for (auto& text : cases) expect_same(text);
}

TEST(ZoneFileFast, ABigGeneratedZoneLoadsTheSame) {
  std::string text = kHead;
  for (int i = 0; i < 3000; ++i) {
    text += "host" + std::to_string(i) + (i % 3 ? " A 10.0." : " 600 IN A 10.0.") + std::to_string(i / 256) + "." +
            std::to_string(i % 256) + "\n";
    if (i % 7 == 0) text += "  AAAA 2001:db8::" + std::to_string(i % 9999) + "\n";
    if (i % 11 == 0) text += "alias" + std::to_string(i) + " CNAME host" + std::to_string(i) + "\n";
    if (i % 13 == 0) text += "t" + std::to_string(i) + " TXT \"v=" + std::to_string(i) + "\"\n";
  }
  Loaded fast = load(text, true), slow = load(text, false);
  EXPECT_EQ(fast.diag, "");
  EXPECT_EQ(fast.zone, slow.zone);
  EXPECT_NE(fast.zone.find("host2999.lab.example. 3600 A 10.0.11.183"), std::string::npos);
}

TEST(ZoneFileFast, FuzzerCorpusAndRegressionsLoadTheSame) {
  // The fuzz target checks this on every input it makes; here on the committed ones, in every build.
  size_t n = 0;
  for (const char* dir : {"tests/fuzz/corpus/zonefile", "tests/fuzz/regressions/zonefile"})
    for (auto& f : std::filesystem::directory_iterator(std::filesystem::path(PHOENIX_SOURCE_DIR) / dir)) {
      std::ifstream in(f.path(), std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find("IPSECKEY") != std::string::npos) continue;  // the upstream ldns leak, see fuzz_zonefile.cpp
      SCOPED_TRACE(f.path().string());
      expect_same(text);
      ++n;
    }
  EXPECT_GT(n, 5u);
}
