#include "wire_writer.hpp"

#include "zones/rrset.hpp"

#include <cstring>

namespace phoenix::query {
namespace {
}  // namespace

void WireWriter::put_header_only(uint16_t id, uint8_t flags1, uint8_t flags2) {
  std::memset(buf_, 0, 12);
  zones::write_u16(buf_, id);
  buf_[2] = flags1;
  buf_[3] = flags2;
  size_ = 12;
  question_end_ = 12;
  n_targets_ = question_targets_ = 0;
}

bool WireWriter::put_header_and_question(uint16_t id, uint8_t flags1, uint8_t flags2, const uint8_t* qname,
                                         size_t qname_len, uint16_t qtype, uint16_t qclass) {
  put_header_only(id, flags1, flags2);
  if (12 + qname_len + 4 > limit_) return false;
  std::memcpy(buf_ + 12, qname, qname_len);
  zones::write_u16(buf_ + 12 + qname_len, qtype);
  zones::write_u16(buf_ + 14 + qname_len, qclass);
  zones::write_u16(buf_ + 4, 1);
  size_ = question_end_ = 12 + qname_len + 4;
  for (size_t i = 0; qname[i] != 0 && n_targets_ < kMaxTargets; i += qname[i] + 1u)
    targets_[n_targets_++] = static_cast<uint16_t>(12 + i);
  question_targets_ = n_targets_;
  return true;
}

void WireWriter::set_rcode_low(uint8_t rcode) { buf_[3] = static_cast<uint8_t>((buf_[3] & 0xf0) | (rcode & 0x0f)); }
void WireWriter::set_flags(uint8_t flags1, uint8_t flags2) {
  buf_[2] = flags1;
  buf_[3] = flags2;
}
void WireWriter::set_tc() { buf_[2] |= 0x02; }

void WireWriter::truncate_to_question() {
  size_ = question_end_;
  std::memset(buf_ + 6, 0, 6);
  n_targets_ = question_targets_;
}

void WireWriter::bump(Section s) {
  size_t at = s == Section::answer ? 6 : s == Section::authority ? 8 : 10;
  zones::write_u16(buf_ + at, static_cast<uint16_t>(((buf_[at] << 8) | buf_[at + 1]) + 1));
}

bool WireWriter::name_matches(size_t offset, const uint8_t* name) const {
  // Follows our own pointers; we only ever point backwards, but bound the hops anyway.
  size_t hops = 0, i = 0;
  for (;;) {
    if (offset >= size_) return false;
    uint8_t l = buf_[offset];
    if ((l & 0xc0) == 0xc0) {
      if (++hops > 64 || offset + 1 >= size_) return false;
      offset = static_cast<size_t>(((l & 0x3f) << 8) | buf_[offset + 1]);
      continue;
    }
    if (l != name[i]) return false;
    if (l == 0) return true;
    if (offset + l >= size_) return false;
    for (size_t k = 1; k <= l; ++k)
      if (zones::lower_octet(buf_[offset + k]) != zones::lower_octet(name[i + k])) return false;
    offset += l + 1u;
    i += l + 1u;
  }
}

bool WireWriter::put_name(const uint8_t* name, bool compress) {
  // Find the longest suffix of `name` already in the packet; write the labels before it, then a pointer.
  size_t pos = 0;
  int match = -1;
  if (compress) {
    for (; name[pos] != 0; pos += name[pos] + 1u) {
      for (size_t t = 0; t < n_targets_; ++t)
        if (name_matches(targets_[t], name + pos)) {
          match = targets_[t];
          break;
        }
      if (match >= 0) break;
    }
  } else {
    while (name[pos] != 0) pos += name[pos] + 1u;
  }
  size_t need = pos + (match >= 0 ? 2 : 1);
  if (size_ + need > limit_) return false;
  // A name written uncompressed (SRV, RFC 2782) may still be pointed at by later names: the ban is on
  // compressing inside such rdata, not on referring to it (Knot does the same).
  for (size_t i = 0; i < pos; i += name[i] + 1u)
    if (size_ + i < 0x4000 && n_targets_ < kMaxTargets) targets_[n_targets_++] = static_cast<uint16_t>(size_ + i);
  std::memcpy(buf_ + size_, name, pos);
  size_ += pos;
  if (match >= 0) {
    zones::write_u16(buf_ + size_, static_cast<uint16_t>(0xc000 | match));
    size_ += 2;
  } else {
    buf_[size_++] = 0;
  }
  return true;
}

bool WireWriter::put_rrset(Section s, const zones::RRsetRef& ref) {
  const size_t start = size_, start_targets = n_targets_;
  auto fail = [&] {
    size_ = start;
    n_targets_ = start_targets;
    return false;
  };
  const zones::RRsetView rr = ref.rrset;
  const uint16_t type = rr.type();
  auto names = zones::rdata_names(type);
  for (std::string_view rd : rr) {
    if (ref.owner == nullptr) {
      // The query name sits at offset 12; point at it so the client's case is what it sees.
      if (size_ + 2 > limit_) return fail();
      zones::write_u16(buf_ + size_, 0xc00c);
      size_ += 2;
    } else if (!put_name(reinterpret_cast<const uint8_t*>(ref.owner), true)) {
      return fail();
    }
    if (size_ + 10 > limit_) return fail();
    zones::write_u16(buf_ + size_, type);
    zones::write_u16(buf_ + size_ + 2, ref.rrclass);
    zones::write_u32(buf_ + size_ + 4, ref.ttl);
    size_t rdlen_at = size_ + 8;
    size_ += 10;
    auto d = reinterpret_cast<const uint8_t*>(rd.data());
    if (!names) {
      if (size_ + rd.size() > limit_) return fail();
      std::memcpy(buf_ + size_, d, rd.size());
      size_ += rd.size();
    } else {
      size_t off = names->first;
      if (size_ + off > limit_) return fail();
      std::memcpy(buf_ + size_, d, off);
      size_ += off;
      for (int n = 0; n < (names->two ? 2 : 1); ++n) {
        if (!put_name(d + off, names->compress)) return fail();
        off += zones::wire_name_length(d + off, rd.size() - off);
      }
      size_t rest = rd.size() - off;
      if (size_ + rest > limit_) return fail();
      std::memcpy(buf_ + size_, d + off, rest);
      size_ += rest;
    }
    zones::write_u16(buf_ + rdlen_at, static_cast<uint16_t>(size_ - rdlen_at - 2));
    bump(s);
  }
  return true;
}

bool WireWriter::put_opt(uint16_t payload, uint8_t ext_rcode, bool do_bit, int ede, const uint8_t* cookie,
                         size_t cookie_len) {
  const size_t cookie_opt = cookie ? 4 + cookie_len : 0;
  size_t need = 11 + (ede >= 0 ? 6 : 0) + cookie_opt;
  if (size_ + need > cap_) return false;  // OPT space is reserved by the caller, so the cap is what counts
  uint8_t* p = buf_ + size_;
  p[0] = 0;
  zones::write_u16(p + 1, 41);
  zones::write_u16(p + 3, payload);
  p[5] = ext_rcode;
  p[6] = 0;  // version 0
  p[7] = do_bit ? 0x80 : 0;
  p[8] = 0;
  zones::write_u16(p + 9, static_cast<uint16_t>(need - 11));
  size_t o = 11;
  if (ede >= 0) {
    zones::write_u16(p + 11, 15);  // EDE option code (RFC 8914 §2)
    zones::write_u16(p + 13, 2);
    zones::write_u16(p + 15, static_cast<uint16_t>(ede));
    o += 6;
  }
  // --- COOKIE (RFC 7873 §4), kept apart until EDNS options have one shared writer.
  if (cookie) {
    zones::write_u16(p + o, 10);
    zones::write_u16(p + o + 2, static_cast<uint16_t>(cookie_len));
    std::memcpy(p + o + 4, cookie, cookie_len);
  }
  size_ += need;
  bump(Section::additional);
  return true;
}

}  // namespace phoenix::query
