#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "zones/wire_name.hpp"

using phoenix::zones::read_message_name;

namespace {

std::vector<uint8_t> message(std::initializer_list<uint8_t> after_header) {
  std::vector<uint8_t> m(12, 0);
  m.insert(m.end(), after_header);
  return m;
}

}  // namespace

TEST(WireName, DecodesPointersToPriorNamesLowerCased) {
  // 12: "\3Www\7Example\0", 25: "\4mail" + pointer to 16 ("example")
  auto m = message({3, 'W', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0, 4, 'm', 'a', 'i', 'l', 0xc0, 16});
  size_t off = 12, n = 0;
  uint8_t out[256];
  ASSERT_TRUE(read_message_name(m.data(), m.size(), off, out, &n));
  EXPECT_EQ(off, 25u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), n), std::string("\3www\7example\0", 13));
  ASSERT_TRUE(read_message_name(m.data(), m.size(), off, out, &n));
  EXPECT_EQ(off, m.size());  // past the pointer, not past what it points at
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), n), std::string("\4mail\7example\0", 14));
  off = 25;
  EXPECT_TRUE(read_message_name(m.data(), m.size(), off));  // skipping only
  EXPECT_EQ(off, m.size());
}

TEST(WireName, RefusesMalformedNames) {
  size_t off = 12;
  auto self = message({0xc0, 12});
  EXPECT_FALSE(read_message_name(self.data(), self.size(), off));
  off = 12;
  auto forward = message({0xc0, 14, 0});
  EXPECT_FALSE(read_message_name(forward.data(), forward.size(), off));
  off = 12;
  auto header = message({0xc0, 2});
  EXPECT_FALSE(read_message_name(header.data(), header.size(), off));
  off = 12;
  auto cut = message({3, 'w', 'w'});
  EXPECT_FALSE(read_message_name(cut.data(), cut.size(), off));
  off = 12;
  auto ext_label = message({0x40, 0});
  EXPECT_FALSE(read_message_name(ext_label.data(), ext_label.size(), off));
  // 128 one-letter labels are 256 octets with the root: one too many.
  std::vector<uint8_t> longname(12, 0);
  for (int i = 0; i < 128; ++i) longname.insert(longname.end(), {1, 'a'});
  longname.push_back(0);
  off = 12;
  EXPECT_FALSE(read_message_name(longname.data(), longname.size(), off));
  longname.erase(longname.begin() + 12, longname.begin() + 14);
  off = 12;
  EXPECT_TRUE(read_message_name(longname.data(), longname.size(), off));
}
