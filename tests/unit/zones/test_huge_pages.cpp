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

TEST(HugePages, AbsurdSizesThrowInsteadOfWrapping) {
  HugePageAllocator<uint64_t> a;
  EXPECT_THROW((void)a.allocate(SIZE_MAX / 4), std::bad_array_new_length);
}

}  // namespace
