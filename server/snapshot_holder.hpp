// snapshot_holder -- publishes immutable snapshots to workers: one atomic load per batch on the hot path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "zones/snapshot.hpp"

namespace phoenix::server {

/// Writers (the control thread) publish a complete snapshot; each worker keeps its own cached
/// reference in a Slot and re-fetches only when the generation moved (pdns sholder.hh pattern).
/// Old snapshots are destroyed by whichever thread calls retire_unused(), never by a worker (the
/// server calls it on its low-priority reload thread: freeing a big zone takes a while).
class SnapshotHolder {
 public:
  struct alignas(64) Slot {
    std::shared_ptr<const zones::Snapshot> cached;
    uint64_t generation = 0;
  };

  /// Installs `snap` as the current generation (numbered here) and returns that number.
  uint64_t publish(std::shared_ptr<zones::Snapshot> snap);
  /// The current snapshot for a worker; the pointer stays valid until the next acquire on this slot.
  const zones::Snapshot* acquire(Slot& slot) noexcept;
  std::shared_ptr<const zones::Snapshot> current() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  /// Frees retired snapshots that no worker holds any more; returns how many are still held.
  size_t retire_unused();

 private:
  std::atomic<uint64_t> generation_{0};
  mutable std::mutex mu_;
  std::shared_ptr<const zones::Snapshot> current_;
  std::vector<std::shared_ptr<const zones::Snapshot>> retired_;
};

}  // namespace phoenix::server
