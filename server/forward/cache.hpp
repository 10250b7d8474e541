// cache -- forwarded answers, positive and negative (RFC 2308), shared by every worker thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "message.hpp"

namespace phoenix::forward {

/// A memory-bounded cache of upstream answers keyed by make_key() (view, name, type, class, DO, CD),
/// each kept as the wire bytes the precompiled stage copies (Answer, query::StoredReply).
///
/// Hits (serve()) take no lock and allocate nothing: the table is a hash of singly linked chains whose
/// links are atomics, and entries are immutable once published. Writers (insert, eviction, clear:
/// the forwarder thread, and a worker that follows a reload) take one mutex among themselves, unlink
/// an entry and free it only once no reader can still hold it (epoch-based reclamation): a reader
/// announces the epoch it started in, in a slot of its own thread's, and a retired entry is freed when
/// every slot is idle or has moved past the epoch it was retired in. That announcement, one store with
/// a full fence to a cache line no other thread writes, is the whole cost of sharing the cache; the
/// alternatives cost more per hit: a lock or a reference count writes a line every core shares, and
/// one cache per worker asks upstream once per worker. Eviction is CLOCK (second chance): a hit sets
/// a used bit (only when it is clear, so a hot entry does not bounce its line between cores), and the
/// oldest entry is evicted unless its bit is set, in which case it is kept as if new.
/// Expired entries are never returned.
class Cache {
 public:
  explicit Cache(size_t max_bytes = 16u << 20);
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  /// Any thread, the hit path: if `key` has an entry alive at `now`, returns f(entry) (a reply
  /// length), else 0. The entry stays valid while f runs. No lock, no allocation.
  template <class F>
  size_t serve(std::string_view key, Clock::time_point now, F&& f) const noexcept {
    Reading r(*this);
    const Answer* a = lookup(key, now);
    return a ? f(*a) : 0;
  }

  /// The entry for `key` if it is still alive at `now` (and marks it recently used); an expired one is
  /// dropped. Takes the writers' mutex: for the forwarder thread, not for hits.
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
  struct Node;
  struct Table;
  struct alignas(64) ReaderSlot {
    std::atomic<uint64_t> epoch{0};  ///< 0: not reading; else the epoch its current read began in
  };

  /// A reader's announcement for one serve(): its thread's slot, or (a thread beyond the slots) the
  /// writers' mutex, so that reading stays correct however many threads read.
  class Reading {
   public:
    explicit Reading(const Cache& c) noexcept;
    ~Reading();
    Reading(const Reading&) = delete;
    Reading& operator=(const Reading&) = delete;

   private:
    const Cache& c_;
    ReaderSlot* slot_;
  };

  const Answer* lookup(std::string_view key, Clock::time_point now) const noexcept;
  // With mu_ held:
  Node* find_node(std::string_view key, uint64_t hash) const;
  void link_newest(Node* n);
  void unlink_order(Node* n);
  void remove(Node* n);  ///< out of the table and the order, retired
  void evict(size_t bound);
  void replace_table(size_t buckets, bool keep_entries);
  void reclaim();

  std::atomic<size_t> max_bytes_;
  std::atomic<Table*> table_;
  std::atomic<uint64_t> epoch_{1};
  std::unique_ptr<ReaderSlot[]> readers_;
  mutable std::mutex mu_;  ///< writers among themselves; guards everything below
  Node* oldest_ = nullptr;
  Node* newest_ = nullptr;
  size_t bytes_ = 0, entries_ = 0;
  uint64_t evictions_ = 0;
  std::vector<std::pair<uint64_t, Node*>> retired_nodes_;    ///< (epoch retired in, node)
  std::vector<std::pair<uint64_t, Table*>> retired_tables_;
};

}  // namespace phoenix::forward
