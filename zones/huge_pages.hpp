// huge_pages -- an allocator for the few big, long-lived buffers of a zone (arena, index, answer
// table, builder pools) that asks the kernel for transparent huge pages.
//
// Why: loading a 100k-name zone touches about 40 MB once. With 4 KiB pages that is ten thousand page
// faults, and on a virtual machine each costs several microseconds: a third of the start-up time was
// spent in the kernel. Debian's default THP mode is "madvise", so a buffer gets 2 MiB pages only when
// it asks. Buffers below kMin, and every buffer under AddressSanitizer (whose checks need its own
// allocator), come from operator new as usual.
#pragma once

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

/// Where the allocator's big buffers come from and go: mmap'd, 2 MiB-aligned regions whose length is
/// a whole number of huge pages.
///
/// Kept regions: on a virtual machine whose balloon driver reports free memory to the host
/// (virtio-balloon free page reporting, which QEMU and Firecracker offer), a 2 MiB block given back
/// to the kernel goes back to the host, and the next one touched costs a host fault per 4 KiB: a
/// reload of a million names spent 1.5 s of its 2.8 s there, against 0.05 s when the memory is
/// reused. So, as glibc's heap keeps what a program frees, the buffers a reload frees (the builder's
/// scratch, the generation it replaces) are kept for the next build, once keep() has been called
/// (the server calls it after its first publication and as each reload starts; tools and --check
/// never do). Kept and live buffers together stay within the most that was live since the latest
/// keep(): between reloads the process holds no more than it did during the last one. Kept buffers
/// are marked MADV_FREE (LazyFree in /proc/PID/smaps): the kernel takes them back when it needs memory.
namespace huge_regions {
inline constexpr size_t kHuge = size_t{2} << 20;  ///< the x86-64 and arm64 (4 KiB granule) THP size
/// A region of at least `bytes` (rounded up to whole huge pages); throws std::bad_alloc.
void* take(size_t bytes);
/// Gives back what take(bytes) returned.
void give(void* p, size_t bytes) noexcept;
/// From now on, freed regions are kept, within the most live from now on (see above).
void keep();
/// Bytes kept for reuse, and bytes handed out and not given back.
size_t kept_bytes();
size_t live_bytes();
}  // namespace huge_regions

template <class T>
class HugePageAllocator {
 public:
  using value_type = T;
  static constexpr size_t kHuge = huge_regions::kHuge;
  static constexpr size_t kMin = kHuge;  ///< smaller buffers would not hold one whole huge page

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    if (n > (SIZE_MAX - 2 * kHuge) / sizeof(T)) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (!use_mmap(bytes)) return std::allocator<T>{}.allocate(n);
    return static_cast<T*>(huge_regions::take(bytes));
  }

  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (!use_mmap(bytes)) return std::allocator<T>{}.deallocate(p, n);
    huge_regions::give(p, bytes);
  }

  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }

 private:
  static bool use_mmap(size_t bytes) {
    return !kUnderAsan && bytes >= kMin;
  }
};

/// A vector whose buffer, once big, sits on transparent huge pages.
template <class T>
using BigVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace phoenix::zones
