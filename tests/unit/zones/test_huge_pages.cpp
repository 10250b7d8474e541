#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

#include "zones/huge_pages.hpp"

using phoenix::zones::BigVector;
using phoenix::zones::HugePageAllocator;
using phoenix::zones::kUnderAsan;

namespace {

constexpr size_t kHuge = HugePageAllocator<char>::kHuge;

TEST(HugePages, BigBufferStartsOnAHugePageBoundaryAndKeepsItsContentAcrossGrowth) {
  BigVector<uint32_t> v;
  // Grow by doubling from small (operator new) through big (mmap): every reallocation copies.
  for (uint32_t i = 0; i < 3 * kHuge / sizeof(uint32_t); ++i) v.push_back(i);
  ASSERT_GE(v.capacity() * sizeof(uint32_t), kHuge);
  if (!kUnderAsan) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kHuge, 0u);
  }
  uint64_t sum = std::accumulate(v.begin(), v.end(), uint64_t{0});
  uint64_t n = v.size();
  EXPECT_EQ(sum, n * (n - 1) / 2);
  v.shrink_to_fit();  // big to big, exact size
  EXPECT_EQ(v.back(), n - 1);
  v.resize(10);
  v.shrink_to_fit();  // big to small: freed by munmap, the new buffer from operator new
  EXPECT_EQ(v[9], 9u);
}

TEST(HugePages, OddSizesAreMappedAndUnmappedWhole) {
  // Sizes that are not multiples of a page or of a huge page: the whole buffer must be writable.
  for (size_t bytes : {kHuge, kHuge + 1, 2 * kHuge + 4095, 5 * kHuge - 7}) {
    BigVector<char> v(bytes, 'x');
    v.back() = 'y';
    EXPECT_EQ(v.front(), 'x');
    EXPECT_EQ(v.back(), 'y');
  }
}

TEST(HugePages, SmallBuffersComeFromOperatorNew) {
  // operator new never hands out a 2 MiB-aligned block for a few bytes; checking a few makes a
  // coincidence negligible.
  int aligned = 0;
  std::vector<BigVector<int>> vs(8);
  for (auto& v : vs) {
    v.assign(16, 1);
    aligned += reinterpret_cast<uintptr_t>(v.data()) % kHuge == 0;
  }
  EXPECT_LT(aligned, 8);
}

// The kept regions are process-wide; this test binary is the only user of keep(), and the test runs
// after the others above have freed their buffers (gtest runs a file's tests in order).
TEST(HugePages, FreedRegionsAreKeptOnlyAfterKeepAndWithinTheMostThatWasLive) {
  if (kUnderAsan) GTEST_SKIP() << "under AddressSanitizer big buffers come from operator new";
  namespace hr = phoenix::zones::huge_regions;
  ASSERT_EQ(hr::kept_bytes(), 0u);
  ASSERT_EQ(hr::live_bytes(), 0u) << "the numbers below assume no other big buffer is alive";
  {
    BigVector<char> scratch(3 * kHuge);
    EXPECT_EQ(hr::live_bytes(), 3 * kHuge);
  }
  EXPECT_EQ(hr::kept_bytes(), 0u) << "before keep() a freed buffer is unmapped";
  EXPECT_EQ(hr::live_bytes(), 0u);

  hr::keep();
  BigVector<char> live(4 * kHuge, 'l');  // what the "current generation" holds
  const char* freed_at = nullptr;
  {
    BigVector<char> scratch(3 * kHuge - 100, 's');  // a "build" peaks at 7 huge pages
    freed_at = scratch.data();
  }
  EXPECT_EQ(hr::kept_bytes(), 3 * kHuge) << "whole huge pages are kept";
  {
    // The best fit is reused, split: the first huge page goes out, the other two stay kept.
    BigVector<char> again(kHuge, 'a');
    EXPECT_EQ(again.data(), freed_at);
    EXPECT_EQ(hr::kept_bytes(), 2 * kHuge);
    EXPECT_EQ(again.back(), 'a');
  }
  EXPECT_EQ(hr::kept_bytes(), 3 * kHuge);
  {
    BigVector<char> big(2 * kHuge, 'b');  // reuses kept pages: none mapped anew
    EXPECT_EQ(hr::kept_bytes(), kHuge);
    BigVector<char> more(4 * kHuge, 'm');  // nothing kept is big enough: a new mapping; the peak is 10
    EXPECT_EQ(hr::kept_bytes(), kHuge);
    EXPECT_EQ(more[4 * kHuge - 1], 'm');
  }
  // Freeing `more` would keep 5 with 6 live: over the peak of 10, so the smallest (1) went.
  EXPECT_EQ(hr::kept_bytes(), 6 * kHuge);
  EXPECT_EQ(hr::kept_bytes() + hr::live_bytes(), 10 * kHuge);
  {
    BigVector<char> reuse(4 * kHuge, 'r');
    EXPECT_EQ(hr::kept_bytes(), 2 * kHuge);
  }
  // A new "build" that needs less: what it frees is kept only within its own peak (5), so with 4 live
  // at most one huge page stays kept, and the regions kept from before are unmapped first.
  hr::keep();
  { BigVector<char> small(kHuge, 's'); }
  EXPECT_LE(hr::kept_bytes(), kHuge);
  EXPECT_EQ(live.front(), 'l');
}

TEST(HugePages, AbsurdSizesThrowInsteadOfWrapping) {
  HugePageAllocator<uint64_t> a;
  EXPECT_THROW((void)a.allocate(SIZE_MAX / 4), std::bad_array_new_length);
}

}  // namespace
