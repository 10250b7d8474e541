// answer_table -- precompiled reply bytes keyed by (lower-cased wire name, type) and the set of views
// they answer, built once per snapshot so that the hot path answers the common query with one hash
// probe and two copies. A zone served in several views is stored once, with one bit per view.
//
// This is only a container: zones/ does not know how replies are built. server/query/precompiled.cpp
// fills it by running the real processor, so a precompiled reply is by construction the same bytes
// the full path writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "huge_pages.hpp"

namespace phoenix::zones {

class AnswerTable {
 public:
  /// What is stored for one key: a 12-byte reply header (ID and RD/CD zero) and the sections that
  /// follow the question. Pointers stay valid for the table's lifetime.
  struct Entry {
    const uint8_t* header;
    const uint8_t* body;
    size_t body_len;
  };

  static constexpr uint16_t kMaxViews = 64;  ///< views beyond these are answered by the full path

  /// Adds the reply for (name, type) in every view whose bit is set in `views`; `header` is 12 bytes.
  /// Entries with the same key must have disjoint view sets. Call freeze() once after the last add.
  void add(uint64_t views, std::string_view name, uint16_t type, const uint8_t* header, const uint8_t* body,
           size_t body_len);
  /// Room for about `entries` entries whose names and bodies take `bytes`, so that adding does not regrow and copy the
  /// arena (capacity never written costs address space, not memory).
  void reserve(size_t entries, size_t bytes);
  /// Builds the index; lookups before this find nothing.
  void freeze();

  /// The entry for the key, or false. Never allocates, never throws.
  bool find(uint16_t view, std::string_view name, uint16_t type, Entry& out) const noexcept;

  size_t size() const { return count_; }
  size_t memory_bytes() const { return arena_.capacity() + slots_.capacity() * sizeof(Slot); }

 private:
  // Arena record: views u64, type u16, name_len u8, name, body_len u16, header[12], body.
  struct Slot {
    uint32_t tag = 0;     ///< upper hash bits, to skip most mismatches without touching the arena
    uint32_t offset = 0;  ///< arena offset + 1; 0 = empty
  };
  static constexpr size_t kFixed = 11;  ///< views, type, name_len
  static uint64_t hash(std::string_view name, uint16_t type) noexcept;
  bool matches(uint32_t offset, std::string_view name, uint16_t type) const noexcept;

  struct Pending {
    uint64_t hash;
    uint32_t offset;
  };
  BigVector<uint8_t> arena_;
  BigVector<Pending> pending_;  ///< until freeze(): the index is built without reading the arena again
  BigVector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace phoenix::zones
