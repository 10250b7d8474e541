// wire_writer -- builds a reply in a caller-owned buffer: header, question, sections, compression, OPT.
#pragma once

#include <cstddef>
#include <cstdint>

#include "zones/zone.hpp"

namespace phoenix::query {

enum class Section { answer, authority, additional };

/// Writes into `buf`. Every put_* either writes all of its item or nothing (so truncation can drop
/// whole RRsets), and never writes past `limit`.
class WireWriter {
 public:
  WireWriter(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap), limit_(cap) {}

  void set_limit(size_t limit) { limit_ = limit < cap_ ? limit : cap_; }
  size_t limit() const { return limit_; }
  size_t size() const { return size_; }

  /// Header with zero counts; the question (exact client bytes) at offset 12, remembered for compression.
  bool put_header_and_question(uint16_t id, uint8_t flags1, uint8_t flags2, const uint8_t* qname, size_t qname_len,
                               uint16_t qtype, uint16_t qclass);
  void put_header_only(uint16_t id, uint8_t flags1, uint8_t flags2);
  void set_rcode_low(uint8_t rcode);
  void set_flags(uint8_t flags1, uint8_t flags2);
  void set_tc();

  /// All records of one RRset; false (and nothing written) if they do not fit.
  bool put_rrset(Section s, const zones::RRsetRef& ref);
  /// OPT pseudo-RR (RFC 6891 §6.1.2); `ede` adds an Extended DNS Error option (RFC 8914) when >= 0.
  /// `cookie`: the COOKIE option's content to send (client + server cookie), or null.
  bool put_opt(uint16_t payload, uint8_t ext_rcode, bool do_bit, int ede, const uint8_t* cookie = nullptr,
               size_t cookie_len = 0);

  /// Drops every section after the question (for TC and error replies).
  void truncate_to_question();

 private:
  bool put_name(const uint8_t* name, bool compress);
  bool name_matches(size_t offset, const uint8_t* name) const;
  void bump(Section s);

  uint8_t* buf_;
  size_t cap_, limit_;
  size_t size_ = 0;
  size_t question_end_ = 12;
  // Offsets of names already in the packet that later names may point at (RFC 1035 §4.1.4).
  static constexpr size_t kMaxTargets = 48;
  uint16_t targets_[kMaxTargets];
  size_t n_targets_ = 0;
  size_t question_targets_ = 0;
};

}  // namespace phoenix::query
