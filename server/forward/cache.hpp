// cache -- forwarded answers, positive and negative (RFC 2308), shared by every worker thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "message.hpp"

namespace phoenix::forward {

/// A memory-bounded LRU of upstream answers keyed by make_key() (name, type, class, DO, CD).
/// Thread-safe: the key space is split over shards, each with its own lock, so workers answering
/// hits rarely wait on each other or on the forwarder thread inserting. Entries are immutable and
/// shared, so a reply is built outside the lock. Expired entries are never returned.
class Cache {
 public:
  explicit Cache(size_t max_bytes = 16u << 20);

  /// The entry for `key` if it is still alive at `now` (and marks it recently used).
  std::shared_ptr<const Answer> find(std::string_view key, Clock::time_point now);
  /// Stores `a` unless it is not cacheable (lifetime 0) or the cache is off (bound 0).
  void insert(std::string_view key, std::shared_ptr<const Answer> a);
  void clear();
  /// Changes the bound; shrinking evicts the least recently used entries at once.
  void set_max_bytes(size_t max_bytes);

  size_t bytes() const;    ///< memory charged to live entries (approximate, includes per-entry overhead)
  size_t entries() const;
  uint64_t evictions() const;  ///< entries pushed out by the memory bound since start (not expiries)
  size_t max_bytes() const { return max_bytes_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 16;
  struct Item {
    std::shared_ptr<const Answer> answer;
    std::list<std::string_view>::iterator lru;
    size_t bytes = 0;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Item, Hash, std::equal_to<>> map;  // guarded by mu
    std::list<std::string_view> lru;                                    // front = most recent; views into map keys
    size_t bytes = 0;
    uint64_t evictions = 0;
  };

  /// Sums f(shard) over the shards, each under its lock.
  template <class F>
  uint64_t sum_shards(F&& f) const;
  Shard& shard_for(std::string_view key) { return shards_[Hash{}(key) % kShards]; }
  void evict(Shard& s, size_t bound);  // with s.mu held
  void erase(Shard& s, std::unordered_map<std::string, Item, Hash, std::equal_to<>>::iterator it);

  std::atomic<size_t> max_bytes_;
  std::array<Shard, kShards> shards_;
};

}  // namespace phoenix::forward
