// writer -- builds a message in a caller-owned buffer: header, question, sections with name
// compression, OPT; and the replies that carry no records (errors, truncation).
#pragma once

#include <cstddef>
#include <cstdint>

#include "format.hpp"
#include "reader.hpp"
#include "zones/zone.hpp"

namespace phoenix::wire {

enum class Section { answer, authority, additional };

/// Writes into `buf`. Every put_* either writes all of its item or nothing (so truncation can drop
/// whole RRsets), and never writes past `limit`. A message that needs a record after the sections
/// (TSIG, RFC 8945 §4.2) gets it from put_raw_record() once the sections are done.
class WireWriter {
 public:
  WireWriter(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap), limit_(cap) {}

  void set_limit(size_t limit) { limit_ = limit < cap_ ? limit : cap_; }
  size_t limit() const { return limit_; }
  size_t size() const { return size_; }
  const uint8_t* data() const { return buf_; }

  /// Header with zero counts; the question (exact client bytes) at offset 12, remembered for compression.
  bool put_header_and_question(uint16_t id, uint8_t flags1, uint8_t flags2, const uint8_t* qname, size_t qname_len,
                               uint16_t qtype, uint16_t qclass);
  void put_header_only(uint16_t id, uint8_t flags1, uint8_t flags2);
  void set_rcode_low(uint8_t rcode);
  void set_flags(uint8_t flags1, uint8_t flags2);
  void set_tc();

  /// All records of one RRset; false (and nothing written) if they do not fit.
  bool put_rrset(Section s, const zones::RRsetRef& ref);
  /// OPT pseudo-RR (RFC 6891 §6.1.2) against the capacity, not the limit: callers reserve its room.
  bool put_opt(const OptRecord& o);
  /// The same with only the fixed fields and an optional EDE (RFC 8914).
  bool put_opt(uint16_t payload, uint8_t ext_rcode, bool do_bit, int ede) {
    return put_opt(OptRecord{payload, ext_rcode, do_bit, ede});
  }
  /// A record already in wire form (owner uncompressed), appended to section `s` within the limit.
  bool put_raw_record(Section s, const uint8_t* rr, size_t len);

  /// Drops every section after the question (for TC and error replies).
  void truncate_to_question();

 private:
  bool put_name(const uint8_t* name, bool compress);
  void bump(Section s);

  uint8_t* buf_;
  size_t cap_, limit_;
  size_t size_ = 0;
  size_t question_end_ = kHeaderSize;
  // Offsets of names already in the packet that later names may point at (RFC 1035 §4.1.4).
  static constexpr size_t kMaxTargets = 48;
  uint16_t targets_[kMaxTargets];
  size_t n_targets_ = 0;
  size_t question_targets_ = 0;
};

/// The reply's header bytes for query `q`: QR, the query's opcode and RD, CD copied (RFC 4035
/// §3.2.2), AA, RA and the low four rcode bits as given.
inline uint8_t reply_flags1(const ParsedQuery& q, bool aa) {
  return static_cast<uint8_t>(flags1::QR | (q.opcode << 3) | (aa ? flags1::AA : 0) | (q.rd ? flags1::RD : 0));
}
inline uint8_t reply_flags2(const ParsedQuery& q, uint16_t rc, bool ra) {
  return static_cast<uint8_t>((ra ? flags2::RA : 0) | (q.cd ? flags2::CD : 0) | (rc & 0x0f));
}

/// Our OPT record for a reply to `q` with rcode `rc` (RFC 6891 §6.1.3: the upper bits go in OPT).
inline OptRecord reply_opt(const ParsedQuery& q, uint16_t rc, int ede = ede::kNoEde,
                           std::span<const EdnsOption> options = {}) {
  return OptRecord{kOurPayload, static_cast<uint8_t>(rc >> 4), q.do_bit, ede, options};
}

/// A reply without records: header (`flags1`, `flags2`), the client's question when it was parsed
/// and fits, and for EDNS clients our OPT with the upper rcode bits of `rc` and `ede`. The shape of
/// every error (FORMERR, SERVFAIL, REFUSED, ...) and of a reply truncated to nothing. Returns the
/// length, or 0 if not even the header fits in `cap`.
size_t write_empty_reply(const ParsedQuery& q, uint8_t flags1, uint8_t flags2, uint16_t rc, int ede, uint8_t* out,
                         size_t cap, std::span<const EdnsOption> options = {}) noexcept;

/// write_empty_reply for an error: flags from reply_flags1/2 with AA clear.
inline size_t write_error_reply(const ParsedQuery& q, uint16_t rc, int ede, bool ra, uint8_t* out, size_t cap,
                                std::span<const EdnsOption> options = {}) noexcept {
  return write_empty_reply(q, reply_flags1(q, false), reply_flags2(q, rc, ra), rc, ede, out, cap, options);
}

}  // namespace phoenix::wire
