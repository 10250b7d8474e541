#include "cache.hpp"

namespace phoenix::forward {
namespace {
// What a map node, its list node and the key cost beyond the answer itself (roughly, on 64-bit).
constexpr size_t kEntryOverhead = 128;
}  // namespace

Cache::Cache(size_t max_bytes) : max_bytes_(max_bytes) {}

std::shared_ptr<const Answer> Cache::find(std::string_view key, Clock::time_point now) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return nullptr;
  if (now >= it->second.answer->expires()) {
    // RFC 1035 §3.2.1 / RFC 2308 §5: past its TTL an entry is gone; we never serve it stale.
    erase(s, it);
    return nullptr;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
  return it->second.answer;
}

void Cache::insert(std::string_view key, std::shared_ptr<const Answer> a) {
  const size_t bound = max_bytes() / kShards;
  if (!a || a->lifetime == 0 || bound == 0) return;
  size_t cost = a->memory() + key.size() + kEntryOverhead;
  if (cost > bound) return;  // one answer larger than a whole shard is not worth keeping
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  if (auto it = s.map.find(key); it != s.map.end()) erase(s, it);
  auto [it, inserted] = s.map.emplace(std::string(key), Item{std::move(a), {}, cost});
  s.lru.push_front(std::string_view(it->first));
  it->second.lru = s.lru.begin();
  s.bytes += cost;
  evict(s, bound);
}

void Cache::erase(Shard& s, std::unordered_map<std::string, Item, Hash, std::equal_to<>>::iterator it) {
  s.bytes -= it->second.bytes;
  s.lru.erase(it->second.lru);
  s.map.erase(it);
}

void Cache::evict(Shard& s, size_t bound) {
  while (s.bytes > bound && !s.lru.empty()) {
    auto it = s.map.find(s.lru.back());
    erase(s, it);
    ++s.evictions;
  }
}

void Cache::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    s.map.clear();
    s.lru.clear();
    s.bytes = 0;
  }
}

void Cache::set_max_bytes(size_t max_bytes) {
  max_bytes_.store(max_bytes, std::memory_order_relaxed);
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    evict(s, max_bytes / kShards);
  }
}

template <class F>
uint64_t Cache::sum_shards(F&& f) const {
  uint64_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += f(s);
  }
  return n;
}

size_t Cache::bytes() const { return sum_shards([](const Shard& s) { return s.bytes; }); }
size_t Cache::entries() const { return sum_shards([](const Shard& s) { return s.map.size(); }); }
uint64_t Cache::evictions() const { return sum_shards([](const Shard& s) { return s.evictions; }); }

}  // namespace phoenix::forward
