#include "cache.hpp"

#include <algorithm>
#include <functional>

namespace phoenix::forward {
namespace {

// What a node, its bucket link and the key cost beyond the answer itself (roughly, on 64-bit).
constexpr size_t kEntryOverhead = 128;
// One answer may take at most this share of the bound; a bigger one is not worth what it evicts.
constexpr size_t kLargestShare = 16;
// Reader slots: more threads than any server runs workers; a thread beyond them reads under the mutex.
constexpr size_t kReaderSlots = 128;

std::atomic<bool> g_slot_taken[kReaderSlots];

/// The slot index of this thread in every Cache's reader array: claimed at its first read, given back
/// when it exits (so that test binaries and restarts that make many threads do not run out).
struct ThreadSlot {
  int index = -1;
  ThreadSlot() noexcept {
    for (size_t i = 0; i < kReaderSlots; ++i) {
      bool expected = false;
      if (g_slot_taken[i].compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
        index = static_cast<int>(i);
        return;
      }
    }
  }
  ~ThreadSlot() {
    if (index >= 0) g_slot_taken[index].store(false, std::memory_order_release);
  }
};

int thread_slot() noexcept {
  thread_local ThreadSlot slot;
  return slot.index;
}

size_t buckets_for(size_t max_bytes) {
  // About one entry a bucket at the bound (entries are a few hundred bytes).
  size_t n = 256;
  while (n < max_bytes / 256 && n < (size_t{1} << 22)) n <<= 1;
  return n;
}

uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }

}  // namespace

/// Immutable once linked, but for `next` (a writer unlinks the node after it) and `used`.
struct Cache::Node {
  std::atomic<Node*> next{nullptr};
  mutable std::atomic<bool> used{false};
  uint64_t hash = 0;
  std::string key;
  std::shared_ptr<const Answer> answer;
  size_t bytes = 0;
  Node* older = nullptr;  ///< writers only: the eviction order
  Node* newer = nullptr;
};

struct Cache::Table {
  explicit Table(size_t n) : mask(n - 1), buckets(new std::atomic<Node*>[n]()) {}
  size_t mask;
  std::unique_ptr<std::atomic<Node*>[]> buckets;
};

Cache::Cache(size_t max_bytes)
    : max_bytes_(max_bytes), table_(new Table(buckets_for(max_bytes))), readers_(new ReaderSlot[kReaderSlots]) {}

Cache::~Cache() {
  // No reader may run any more: everything goes at once.
  for (Node* n = oldest_; n;) {
    Node* next = n->newer;
    delete n;
    n = next;
  }
  for (auto& [e, n] : retired_nodes_) delete n;
  for (auto& [e, t] : retired_tables_) delete t;
  delete table_.load(std::memory_order_relaxed);
}

Cache::Reading::Reading(const Cache& c) noexcept : c_(c), slot_(nullptr) {
  const int i = thread_slot();
  if (i < 0) {
    c.mu_.lock();  // beyond the slots: correct, if slower
    return;
  }
  slot_ = &c.readers_[static_cast<size_t>(i)];
  // seq_cst: the announcement is ordered before every load of the read (see reclaim()).
  slot_->epoch.store(c.epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
}

Cache::Reading::~Reading() {
  if (slot_) slot_->epoch.store(0, std::memory_order_release);
  else c_.mu_.unlock();
}

const Answer* Cache::lookup(std::string_view key, Clock::time_point now) const noexcept {
  const uint64_t h = hash_of(key);
  const Table* t = table_.load(std::memory_order_seq_cst);
  for (const Node* n = t->buckets[h & t->mask].load(std::memory_order_seq_cst); n;
       n = n->next.load(std::memory_order_seq_cst)) {
    if (n->hash != h || n->key != key) continue;
    // RFC 1035 §3.2.1 / RFC 2308 §5: past its TTL an entry is gone; we never serve it stale. A
    // writer drops it later (find(), or eviction).
    if (now >= n->answer->expires()) return nullptr;
    if (!n->used.load(std::memory_order_relaxed)) n->used.store(true, std::memory_order_relaxed);
    return n->answer.get();
  }
  return nullptr;
}

Cache::Node* Cache::find_node(std::string_view key, uint64_t hash) const {
  const Table* t = table_.load(std::memory_order_relaxed);
  for (Node* n = t->buckets[hash & t->mask].load(std::memory_order_relaxed); n; n = n->next.load(std::memory_order_relaxed))
    if (n->hash == hash && n->key == key) return n;
  return nullptr;
}

void Cache::link_newest(Node* n) {
  n->older = newest_;
  n->newer = nullptr;
  (newest_ ? newest_->newer : oldest_) = n;
  newest_ = n;
}

void Cache::unlink_order(Node* n) {
  (n->older ? n->older->newer : oldest_) = n->newer;
  (n->newer ? n->newer->older : newest_) = n->older;
  n->older = n->newer = nullptr;
}

void Cache::remove(Node* n) {
  Table* t = table_.load(std::memory_order_relaxed);
  std::atomic<Node*>* link = &t->buckets[n->hash & t->mask];
  while (link->load(std::memory_order_relaxed) != n) link = &link->load(std::memory_order_relaxed)->next;
  // Readers already on `n` go on from it to what followed; new ones skip it.
  link->store(n->next.load(std::memory_order_relaxed), std::memory_order_seq_cst);
  unlink_order(n);
  bytes_ -= n->bytes;
  --entries_;
  retired_nodes_.emplace_back(epoch_.load(std::memory_order_seq_cst), n);
}

void Cache::reclaim() {
  if (retired_nodes_.empty() && retired_tables_.empty()) return;
  // A node retired in epoch E is unlinked before the epoch moves past E. A reader that announced a
  // later epoch read the counter after that move, so it started after the unlink and cannot reach
  // the node; one that announced E or earlier may hold it. A slot read as idle belongs to a reader
  // that has finished, or whose announcement (and so every load after it) comes after the unlink.
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  uint64_t oldest = UINT64_MAX;
  for (size_t i = 0; i < kReaderSlots; ++i)
    if (uint64_t e = readers_[i].epoch.load(std::memory_order_seq_cst); e != 0 && e < oldest) oldest = e;
  auto free_nodes = std::partition(retired_nodes_.begin(), retired_nodes_.end(),
                                   [&](const auto& r) { return r.first >= oldest; });
  for (auto it = free_nodes; it != retired_nodes_.end(); ++it) delete it->second;
  retired_nodes_.erase(free_nodes, retired_nodes_.end());
  auto free_tables = std::partition(retired_tables_.begin(), retired_tables_.end(),
                                    [&](const auto& r) { return r.first >= oldest; });
  for (auto it = free_tables; it != retired_tables_.end(); ++it) delete it->second;
  retired_tables_.erase(free_tables, retired_tables_.end());
}

std::shared_ptr<const Answer> Cache::find(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  Node* n = find_node(key, hash_of(key));
  if (!n) return nullptr;
  if (now >= n->answer->expires()) {
    remove(n);
    reclaim();
    return nullptr;
  }
  n->used.store(true, std::memory_order_relaxed);
  return n->answer;
}

void Cache::insert(std::string_view key, std::shared_ptr<const Answer> a) {
  const size_t bound = max_bytes();
  if (!a || a->lifetime == 0 || bound == 0) return;
  const size_t cost = a->memory() + key.size() + kEntryOverhead;
  if (cost > bound / kLargestShare) return;
  auto node = std::make_unique<Node>();  // built outside the lock
  node->hash = hash_of(key);
  node->key.assign(key);
  node->answer = std::move(a);
  node->bytes = cost;
  std::lock_guard lock(mu_);
  if (Node* old = find_node(key, node->hash)) remove(old);
  Table* t = table_.load(std::memory_order_relaxed);
  std::atomic<Node*>& bucket = t->buckets[node->hash & t->mask];
  node->next.store(bucket.load(std::memory_order_relaxed), std::memory_order_relaxed);
  Node* n = node.release();
  bucket.store(n, std::memory_order_seq_cst);  // published whole: readers see it complete or not at all
  link_newest(n);
  bytes_ += cost;
  ++entries_;
  evict(bound);
  reclaim();
}

void Cache::evict(size_t bound) {
  // CLOCK: an entry hit since it was last at the old end gets one more round, at most once per entry
  // and call (hits keep setting bits meanwhile, and eviction must end).
  size_t chances = entries_;
  while (bytes_ > bound && oldest_) {
    Node* n = oldest_;
    if (chances > 0 && n->used.exchange(false, std::memory_order_relaxed)) {
      --chances;
      unlink_order(n);
      link_newest(n);
      continue;
    }
    remove(n);
    ++evictions_;
  }
}

void Cache::replace_table(size_t buckets, bool keep_entries) {
  auto fresh = std::make_unique<Table>(buckets);
  // Copies, in the same order, linked into the new table; readers of the old one keep the originals.
  std::vector<std::unique_ptr<Node>> copies;
  if (keep_entries) {
    copies.reserve(entries_);
    for (Node* n = oldest_; n; n = n->newer) {
      auto c = std::make_unique<Node>();
      c->used.store(n->used.load(std::memory_order_relaxed), std::memory_order_relaxed);
      c->hash = n->hash;
      c->key = n->key;
      c->answer = n->answer;
      c->bytes = n->bytes;
      std::atomic<Node*>& bucket = fresh->buckets[c->hash & fresh->mask];
      c->next.store(bucket.load(std::memory_order_relaxed), std::memory_order_relaxed);
      bucket.store(c.get(), std::memory_order_relaxed);
      copies.push_back(std::move(c));
    }
  }
  retired_nodes_.reserve(retired_nodes_.size() + entries_);
  retired_tables_.reserve(retired_tables_.size() + 1);
  // Nothing below throws.
  Table* old = table_.exchange(fresh.release(), std::memory_order_seq_cst);
  const uint64_t e = epoch_.load(std::memory_order_seq_cst);
  for (Node* n = oldest_; n;) {
    Node* next = n->newer;
    retired_nodes_.emplace_back(e, n);
    n = next;
  }
  retired_tables_.emplace_back(e, old);
  oldest_ = newest_ = nullptr;
  bytes_ = entries_ = 0;
  for (auto& c : copies) {
    bytes_ += c->bytes;
    ++entries_;
    link_newest(c.release());
  }
}

void Cache::clear() {
  std::lock_guard lock(mu_);
  replace_table(table_.load(std::memory_order_relaxed)->mask + 1, false);
  reclaim();
}

void Cache::set_max_bytes(size_t max_bytes) {
  max_bytes_.store(max_bytes, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  evict(max_bytes);
  if (size_t b = buckets_for(max_bytes); b != table_.load(std::memory_order_relaxed)->mask + 1) replace_table(b, true);
  reclaim();
}

size_t Cache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t Cache::entries() const {
  std::lock_guard lock(mu_);
  return entries_;
}

uint64_t Cache::evictions() const {
  std::lock_guard lock(mu_);
  return evictions_;
}

}  // namespace phoenix::forward
