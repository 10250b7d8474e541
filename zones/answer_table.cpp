#include "answer_table.hpp"

#include <cstring>
#include <stdexcept>

namespace phoenix::zones {

uint64_t AnswerTable::hash(uint16_t view, std::string_view name, uint16_t type) noexcept {
  // Eight bytes at a time with a multiply-xorshift mix: names are short, so this is a few cycles.
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t{view} << 16) ^ type ^ (uint64_t{name.size()} << 40);
  const char* p = name.data();
  size_t n = name.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0x94d049bb133111ebULL;
  h ^= h >> 29;
  return h;
}

void AnswerTable::add(uint16_t view, std::string_view name, uint16_t type, const uint8_t* header,
                      const uint8_t* body, size_t body_len) {
  if (name.size() > 255 || body_len > 0xffff) throw std::length_error("answer too large to precompile");
  if (arena_.size() + 7 + name.size() + 12 + body_len >= 0xffffffffu) throw std::length_error("answer table full");
  auto off = static_cast<uint32_t>(arena_.size());
  uint8_t fixed[5] = {uint8_t(view >> 8), uint8_t(view), uint8_t(type >> 8), uint8_t(type), uint8_t(name.size())};
  arena_.insert(arena_.end(), fixed, fixed + 5);
  arena_.insert(arena_.end(), name.begin(), name.end());
  arena_.push_back(uint8_t(body_len >> 8));
  arena_.push_back(uint8_t(body_len));
  arena_.insert(arena_.end(), header, header + 12);
  arena_.insert(arena_.end(), body, body + body_len);
  pending_.push_back(off);
}

void AnswerTable::freeze() {
  size_t cap = 16;
  while (cap < pending_.size() * 2) cap <<= 1;  // load factor <= 1/2: probes stay short
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  count_ = 0;
  for (uint32_t off : pending_) {
    const uint8_t* r = arena_.data() + off;
    uint16_t view = uint16_t((r[0] << 8) | r[1]), type = uint16_t((r[2] << 8) | r[3]);
    std::string_view name(reinterpret_cast<const char*>(r + 5), r[4]);
    uint64_t h = hash(view, name, type);
    auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].offset == 0) {
        slots_[i] = {tag, off + 1};
        ++count_;
        break;
      }
      if (slots_[i].tag == tag && matches(slots_[i].offset - 1, view, name, type)) break;  // first add wins
    }
  }
  std::vector<uint32_t>().swap(pending_);
  arena_.shrink_to_fit();
}

bool AnswerTable::matches(uint32_t off, uint16_t view, std::string_view name, uint16_t type) const noexcept {
  const uint8_t* r = arena_.data() + off;
  return r[0] == uint8_t(view >> 8) && r[1] == uint8_t(view) && r[2] == uint8_t(type >> 8) && r[3] == uint8_t(type) &&
         r[4] == name.size() && std::memcmp(r + 5, name.data(), name.size()) == 0;
}

bool AnswerTable::find(uint16_t view, std::string_view name, uint16_t type, Entry& out) const noexcept {
  if (slots_.empty()) return false;
  uint64_t h = hash(view, name, type);
  auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.offset == 0) return false;
    if (s.tag == tag && matches(s.offset - 1, view, name, type)) {
      const uint8_t* r = arena_.data() + (s.offset - 1) + 5 + name.size();
      out.body_len = size_t(r[0] << 8) | r[1];
      out.header = r + 2;
      out.body = r + 14;
      return true;
    }
  }
}

}  // namespace phoenix::zones
