#include "huge_pages.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <map>
#include <mutex>

namespace phoenix::zones::huge_regions {

namespace {

size_t huge_round(size_t bytes) { return (bytes + kHuge - 1) & ~(kHuge - 1); }

/// Builds run on one thread at a time and the query path never allocates these buffers, so the
/// lock is never contended where it matters.
struct Regions {
  std::mutex mu;
  std::multimap<size_t, void*> kept;  ///< by length, for the best fit
  size_t kept_bytes = 0, live_bytes = 0;
  size_t live_peak = 0;  ///< the most live_bytes since keep() was last called
  bool keep = false;
};

Regions& regions() {
  static Regions* r = new Regions;  // never destroyed: buffers may be freed during static destruction
  return *r;
}

void* map_new(size_t len) {
  // Over-map by one huge page and trim, so the region starts on a huge-page boundary.
  void* raw = ::mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  auto base = reinterpret_cast<uintptr_t>(raw);
  uintptr_t start = (base + kHuge - 1) & ~(kHuge - 1);
  if (start > base) ::munmap(raw, start - base);
  if (uintptr_t end = base + len + kHuge; end > start + len) ::munmap(reinterpret_cast<void*>(start + len), end - start - len);
  ::madvise(reinterpret_cast<void*>(start), len, MADV_HUGEPAGE);  // advice: failure only means 4 KiB pages
  return reinterpret_cast<void*>(start);
}

}  // namespace

void* take(size_t bytes) {
  const size_t len = huge_round(bytes);
  Regions& r = regions();
  {
    std::lock_guard lock(r.mu);
    if (auto it = r.kept.lower_bound(len); it != r.kept.end()) {
      auto [have, p] = *it;
      r.kept.erase(it);
      r.kept_bytes -= have;
      if (have > len) {  // the rest stays kept, still huge-aligned
        r.kept.emplace(have - len, static_cast<char*>(p) + len);
        r.kept_bytes += have - len;
      }
      r.live_bytes += len;
      r.live_peak = std::max(r.live_peak, r.live_bytes);
      return p;
    }
  }
  void* p = map_new(len);
  std::lock_guard lock(r.mu);
  r.live_bytes += len;
  r.live_peak = std::max(r.live_peak, r.live_bytes);
  return p;
}

void give(void* p, size_t bytes) noexcept {
  const size_t len = huge_round(bytes);
  Regions& r = regions();
  std::lock_guard lock(r.mu);
  r.live_bytes -= len;
  if (!r.keep) {
    ::munmap(p, len);
    return;
  }
  // MADV_FREE: the content is no longer needed; the pages stay until the kernel wants them.
  ::madvise(p, len, MADV_FREE);
  r.kept.emplace(len, p);
  r.kept_bytes += len;
  // The smallest go first: the big ones serve the big buffers, and smaller requests by splitting.
  while (r.kept_bytes > r.live_peak - r.live_bytes) {
    auto it = r.kept.begin();
    ::munmap(it->second, it->first);
    r.kept_bytes -= it->first;
    r.kept.erase(it);
  }
}

void keep() {
  Regions& r = regions();
  std::lock_guard lock(r.mu);
  r.keep = true;
  r.live_peak = r.live_bytes;
}

size_t kept_bytes() {
  Regions& r = regions();
  std::lock_guard lock(r.mu);
  return r.kept_bytes;
}

size_t live_bytes() {
  Regions& r = regions();
  std::lock_guard lock(r.mu);
  return r.live_bytes;
}

}  // namespace phoenix::zones::huge_regions
