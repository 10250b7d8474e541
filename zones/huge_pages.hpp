// huge_pages -- an allocator for the few big, long-lived buffers of a zone (arena, index, answer
// table, builder pools) that asks the kernel for transparent huge pages.
//
// Why: loading a 100k-name zone touches about 40 MB once. With 4 KiB pages that is ten thousand page
// faults, and on a virtual machine each costs several microseconds: a third of the start-up time was
// spent in the kernel. Debian's default THP mode is "madvise", so a buffer gets 2 MiB pages only when
// it asks. Buffers below kMin, and every buffer under AddressSanitizer (whose checks need its own
// allocator), come from operator new as usual.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace phoenix::zones {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif
#else
inline constexpr bool kUnderAsan = false;
#endif

template <class T>
class HugePageAllocator {
 public:
  using value_type = T;
  static constexpr size_t kHuge = size_t{2} << 20;  ///< the x86-64 and arm64 (4 KiB granule) THP size
  static constexpr size_t kMin = kHuge;             ///< smaller buffers would not hold one whole huge page

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n > (SIZE_MAX - 2 * kHuge) / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (!use_mmap(bytes)) return std::allocator<T>{}.allocate(n);
    const size_t len = page_round(bytes);
    // Over-map by one huge page and trim, so the buffer starts on a huge-page boundary.
    void* raw = ::mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto base = reinterpret_cast<uintptr_t>(raw);
    uintptr_t start = (base + kHuge - 1) & ~(kHuge - 1);
    if (start > base) ::munmap(raw, start - base);
    if (uintptr_t end = base + len + kHuge; end > start + len) ::munmap(reinterpret_cast<void*>(start + len), end - start - len);
    ::madvise(reinterpret_cast<void*>(start), len, MADV_HUGEPAGE);  // advice: failure only means 4 KiB pages
    return reinterpret_cast<T*>(start);
  }

  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (!use_mmap(bytes)) return std::allocator<T>{}.deallocate(p, n);
    ::munmap(p, page_round(bytes));
  }

  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static size_t page_round(size_t bytes) {
    static const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    return (bytes + page - 1) & ~(page - 1);
  }
  static bool use_mmap(size_t bytes) {
    return !kUnderAsan && bytes >= kMin;
  }
};

/// A vector whose buffer, once big, sits on transparent huge pages.
template <class T>
using BigVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace phoenix::zones
