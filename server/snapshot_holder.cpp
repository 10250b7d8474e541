#include "snapshot_holder.hpp"

#include <algorithm>

namespace phoenix::server {

uint64_t SnapshotHolder::publish(std::shared_ptr<zones::Snapshot> snap) {
  std::lock_guard lock(mu_);
  uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  snap->generation = gen;
  if (current_) retired_.push_back(std::move(current_));
  current_ = std::move(snap);
  generation_.store(gen, std::memory_order_release);
  return gen;
}

const zones::Snapshot* SnapshotHolder::acquire(Slot& slot) noexcept {
  uint64_t gen = generation_.load(std::memory_order_acquire);
  if (slot.generation != gen) {
    // Rare: only after a reload. The old reference is dropped here, but the holder's retired list
    // still owns the snapshot, so its destructor never runs on this worker.
    std::lock_guard lock(mu_);
    slot.cached = current_;
    slot.generation = current_ ? current_->generation : 0;
  }
  return slot.cached.get();
}

std::shared_ptr<const zones::Snapshot> SnapshotHolder::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

size_t SnapshotHolder::retire_unused() {
  std::vector<std::shared_ptr<const zones::Snapshot>> dead;
  size_t remaining = 0;
  {
    std::lock_guard lock(mu_);
    auto keep = std::partition(retired_.begin(), retired_.end(), [](auto& s) { return s.use_count() > 1; });
    dead.assign(std::make_move_iterator(keep), std::make_move_iterator(retired_.end()));
    retired_.erase(keep, retired_.end());
    remaining = retired_.size();
  }
  return remaining;  // `dead` is destroyed here, outside the lock, on the caller's thread
}

}  // namespace phoenix::server
