#include "answer_table.hpp"

#include "hash.hpp"
#include "rrset.hpp"

#include <cstring>
#include <stdexcept>

namespace phoenix::zones {

uint64_t AnswerTable::hash(std::string_view name, uint16_t type) noexcept { return hash_bytes(name, type); }

void AnswerTable::add(uint64_t views, std::string_view name, uint16_t type, const uint8_t* header, const uint8_t* body,
                      size_t body_len) {
  if (name.size() > 255 || body_len > 0xffff) throw std::length_error("answer too large to precompile");
  if (arena_.size() + kFixed + name.size() + 14 + body_len >= 0xffffffffu) throw std::length_error("answer table full");
  auto off = static_cast<uint32_t>(arena_.size());
  uint8_t fixed[kFixed];
  for (int i = 0; i < 8; ++i) fixed[i] = static_cast<uint8_t>(views >> (56 - 8 * i));
  write_u16(fixed + 8, type);
  fixed[10] = static_cast<uint8_t>(name.size());
  arena_.insert(arena_.end(), fixed, fixed + kFixed);
  arena_.insert(arena_.end(), name.begin(), name.end());
  arena_.push_back(uint8_t(body_len >> 8));
  arena_.push_back(uint8_t(body_len));
  arena_.insert(arena_.end(), header, header + 12);
  arena_.insert(arena_.end(), body, body + body_len);
  pending_.push_back({hash(name, type), off});
}

void AnswerTable::reserve(size_t entries, size_t bytes) {
  pending_.reserve(entries);
  arena_.reserve(bytes + entries * (kFixed + 14));
}

void AnswerTable::freeze() {
  size_t cap = 16;
  while (cap < pending_.size() * 2) cap <<= 1;  // load factor <= 1/2: probes stay short
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  count_ = 0;
  for (const Pending& p : pending_) {
    size_t i = p.hash & mask_;
    while (slots_[i].offset != 0) i = (i + 1) & mask_;
    slots_[i] = {static_cast<uint32_t>(p.hash >> 32), p.offset + 1};
    ++count_;
  }
  BigVector<Pending>().swap(pending_);
  // Copy into an exact buffer only when much is unused: the copy costs a page fault per 4 KiB.
  if (arena_.capacity() - arena_.size() > arena_.size() / 4) arena_.shrink_to_fit();
}

bool AnswerTable::matches(uint32_t off, std::string_view name, uint16_t type) const noexcept {
  const uint8_t* r = arena_.data() + off;
  return read_u16(r + 8) == type && r[10] == name.size() && std::memcmp(r + kFixed, name.data(), name.size()) == 0;
}

bool AnswerTable::find(uint16_t view, std::string_view name, uint16_t type, Entry& out) const noexcept {
  if (slots_.empty() || view >= kMaxViews) return false;
  uint64_t h = hash(name, type);
  auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.offset == 0) return false;
    if (s.tag != tag || !matches(s.offset - 1, name, type)) continue;
    const uint8_t* r = arena_.data() + (s.offset - 1);
    // The same name can be in different zones in different views: the entry must be this view's.
    if (((uint64_t{read_u32(r)} << 32 | read_u32(r + 4)) >> view & 1) == 0) continue;
    r += kFixed + name.size();
    out.body_len = size_t(r[0] << 8) | r[1];
    out.header = r + 2;
    out.body = r + 14;
    return true;
  }
}

}  // namespace phoenix::zones
