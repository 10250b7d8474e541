#include "writer.hpp"

#include <cstring>

namespace phoenix::wire {

void WireWriter::put_header_only(uint16_t id, uint8_t flags1, uint8_t flags2) {
  std::memset(buf_, 0, kHeaderSize);
  write_u16(buf_, id);
  buf_[2] = flags1;
  buf_[3] = flags2;
  size_ = kHeaderSize;
  question_end_ = kHeaderSize;
  n_targets_ = question_targets_ = 0;
}

bool WireWriter::put_header_and_question(uint16_t id, uint8_t flags1, uint8_t flags2, const uint8_t* qname,
                                         size_t qname_len, uint16_t qtype, uint16_t qclass) {
  put_header_only(id, flags1, flags2);
  if (kHeaderSize + qname_len + 4 > limit_) return false;
  std::memcpy(buf_ + kHeaderSize, qname, qname_len);
  write_u16(buf_ + kHeaderSize + qname_len, qtype);
  write_u16(buf_ + kHeaderSize + 2 + qname_len, qclass);
  set_count(buf_, Count::question, 1);
  size_ = question_end_ = kHeaderSize + qname_len + 4;
  for (size_t i = 0; qname[i] != 0 && n_targets_ < kMaxTargets; i += qname[i] + 1u)
    targets_[n_targets_++] = static_cast<uint16_t>(kHeaderSize + i);
  question_targets_ = n_targets_;
  return true;
}

void WireWriter::set_rcode_low(uint8_t rcode) { buf_[3] = static_cast<uint8_t>((buf_[3] & 0xf0) | (rcode & 0x0f)); }
void WireWriter::set_flags(uint8_t flags1, uint8_t flags2) {
  buf_[2] = flags1;
  buf_[3] = flags2;
}
void WireWriter::set_tc() { buf_[2] |= flags1::TC; }

void WireWriter::truncate_to_question() {
  size_ = question_end_;
  std::memset(buf_ + 6, 0, 6);
  n_targets_ = question_targets_;
}

void WireWriter::bump(Section s) {
  bump_count(buf_, s == Section::answer ? Count::answer : s == Section::authority ? Count::authority : Count::additional);
}

bool WireWriter::put_name(const uint8_t* name, bool compress) {
  // Find the longest suffix of `name` already in the packet; write the labels before it, then a pointer.
  size_t pos = 0;
  int match = -1;
  if (compress) {
    for (; name[pos] != 0; pos += name[pos] + 1u) {
      const uint8_t len = name[pos];
      const uint8_t last = zones::lower_octet(name[pos + len]);
      for (size_t t = 0; t < n_targets_; ++t) {
        // Every target is a label written out in full (never a pointer), so its length byte and last
        // octet are at hand: comparing them first skips the whole-name walk for nearly every target
        // of a zone transfer, where thousands of owners differ in a digit (host1, host2, ...).
        const size_t at = targets_[t];
        if (buf_[at] != len || zones::lower_octet(buf_[at + len]) != last) continue;
        if (name_equals(buf_, size_, at, name + pos)) {
          match = targets_[t];
          break;
        }
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
    write_u16(buf_ + size_, static_cast<uint16_t>(0xc000 | match));
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
      write_u16(buf_ + size_, 0xc00c);
      size_ += 2;
    } else if (!put_name(reinterpret_cast<const uint8_t*>(ref.owner), true)) {
      return fail();
    }
    if (size_ + 10 > limit_) return fail();
    write_u16(buf_ + size_, type);
    write_u16(buf_ + size_ + 2, ref.rrclass);
    write_u32(buf_ + size_ + 4, ref.ttl);
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
    write_u16(buf_ + rdlen_at, static_cast<uint16_t>(size_ - rdlen_at - 2));
    bump(s);
  }
  return true;
}

bool WireWriter::put_opt(const OptRecord& o) {
  // OPT space is reserved by the caller, so the capacity is what counts.
  size_t n = write_opt(buf_ + size_, cap_ - size_, o);
  if (n == 0) return false;
  size_ += n;
  bump(Section::additional);
  return true;
}

bool WireWriter::put_raw_record(Section s, const uint8_t* rr, size_t len) {
  if (size_ + len > limit_) return false;
  std::memcpy(buf_ + size_, rr, len);
  size_ += len;
  bump(s);
  return true;
}

size_t write_empty_reply(const ParsedQuery& q, uint8_t flags1, uint8_t flags2, uint16_t rc, int ede, uint8_t* out,
                         size_t cap, std::span<const EdnsOption> options) noexcept {
  if (cap < kHeaderSize) return 0;
  WireWriter w(out, cap);
  if (!q.have_question || !w.put_header_and_question(q.id, flags1, flags2, q.qname_orig, q.qname_len, q.qtype, q.qclass))
    w.put_header_only(q.id, flags1, flags2);
  if (q.has_edns) w.put_opt(reply_opt(q, rc, ede, options));
  return w.size();
}

}  // namespace phoenix::wire
