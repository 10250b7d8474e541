// format -- the DNS message format (RFC 1035 §4.1) as every part of the project reads and writes it:
// header fields, names (skip, decode, compare), resource records in sequence, and the OPT record
// with its options (RFC 6891). The query parser (reader.hpp), the reply writer with compression
// (writer.hpp), the forwarder, netgen and the tests all build on these, so a new user of the format
// (an EDNS option such as a cookie, a TSIG record appended after the additional section and MACed
// over the bytes before it, one message of a zone transfer) adds to this module instead of writing
// the format again.
//
// Everything here works on caller-owned buffers, never reads outside the length it is given, never
// allocates and never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "zones/name.hpp"
#include "zones/rrset.hpp"

namespace phoenix::wire {

using zones::read_u16;
using zones::read_u32;
using zones::write_u16;
using zones::write_u32;

inline constexpr size_t kHeaderSize = 12;
inline constexpr uint16_t kMinUdpPayload = 512;  ///< RFC 1035 §4.2.1; RFC 6891 §6.2.3 never goes below it
inline constexpr uint16_t kOurPayload = 1232;    ///< advertised EDNS payload (DNS flag day 2020)
inline constexpr size_t kMaxMessage = 65535;     ///< a TCP message (RFC 1035 §4.2.2 length prefix)

/// Header flag bits, by the header byte they sit in (RFC 1035 §4.1.1; AD and CD: RFC 4035 §3.2).
namespace flags1 {
inline constexpr uint8_t QR = 0x80, AA = 0x04, TC = 0x02, RD = 0x01;
}
namespace flags2 {
inline constexpr uint8_t RA = 0x80, AD = 0x20, CD = 0x10;
}
namespace opcode {
inline constexpr uint8_t QUERY = 0, NOTIFY = 4, UPDATE = 5;
}
namespace rcode {
inline constexpr uint16_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5,
                          BADVERS = 16, BADCOOKIE = 23;
}
/// EDNS option codes (IANA "DNS EDNS0 Option Codes").
namespace edns_option {
inline constexpr uint16_t COOKIE = 10;  ///< RFC 7873
inline constexpr uint16_t EDE = 15;     ///< RFC 8914
}
/// Extended DNS Error info codes (RFC 8914 §4); kNoEde means "no EDE option".
namespace ede {
inline constexpr int kNoEde = -1;
inline constexpr int NOT_AUTHORITATIVE = 20;       ///< §4.21
inline constexpr int NOT_SUPPORTED = 21;           ///< §4.22
inline constexpr int NO_REACHABLE_AUTHORITY = 22;  ///< §4.23
}

/// Header counts: QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT at these offsets.
enum class Count : uint8_t { question = 4, answer = 6, authority = 8, additional = 10 };
inline uint16_t count(const uint8_t* msg, Count c) { return read_u16(msg + static_cast<size_t>(c)); }
inline void set_count(uint8_t* msg, Count c, uint16_t v) { write_u16(msg + static_cast<size_t>(c), v); }
inline void bump_count(uint8_t* msg, Count c) { set_count(msg, c, static_cast<uint16_t>(count(msg, c) + 1)); }
inline uint8_t opcode_of(const uint8_t* msg) { return static_cast<uint8_t>((msg[2] >> 3) & 0x0f); }
inline uint8_t rcode_of(const uint8_t* msg) { return msg[3] & 0x0f; }

// ---- Names (RFC 1035 §3.1, §4.1.4)

/// Skips a possibly compressed name at `off`, checking it the way a decoder would: pointers go to a
/// *prior* occurrence (RFC 1035 §4.1.4), so every pointer must point before itself and past the
/// header (forward and self pointers are malformed). A cycle left then passes at least one non-empty
/// label each round, so the 255-octet bound on the decoded name ends the walk. Labels over 63 (the
/// 0x40/0x80 types, RFC 6891 §5) are malformed. On success `off` is just past the name.
bool skip_name(const uint8_t* msg, size_t len, size_t& off) noexcept;

/// Decodes the name at `off` (following pointers, with skip_name's rules) into uncompressed wire
/// form in `out` (room for zones::kMaxNameWire bytes), lower-cased when `lower`. Returns the decoded
/// length (0 when malformed); `off` is then just past the name in the message.
size_t decode_name(const uint8_t* msg, size_t len, size_t& off, uint8_t* out, bool lower) noexcept;

/// Reads an uncompressed name (a question name: nothing precedes it to point at) at `off` into
/// `exact` (the bytes as sent) and `lower` (lower-cased, the lookup key), each with room for
/// zones::kMaxNameWire bytes. Returns the length, or 0 when malformed; `off` is then past the name.
size_t read_uncompressed_name(const uint8_t* msg, size_t len, size_t& off, uint8_t* exact, uint8_t* lower) noexcept;

/// True if the name at `off` in the first `len` bytes of `msg` (pointers followed backwards) equals
/// the uncompressed wire name `name`, ignoring ASCII case on both sides (RFC 4343).
bool name_equals(const uint8_t* msg, size_t len, size_t off, const uint8_t* name) noexcept;

// ---- Resource records (RFC 1035 §4.1.3)

/// One record as it sits in a message: offsets into it.
struct Record {
  size_t owner = 0;  ///< where the (possibly compressed) owner name starts
  size_t fixed = 0;  ///< where TYPE starts: TYPE u16, CLASS u16, TTL u32, RDLENGTH u16
  uint16_t type = 0, rrclass = 0;
  uint32_t ttl = 0;
  size_t rdata = 0;  ///< where RDATA starts
  uint16_t rdlen = 0;
  size_t end() const { return rdata + rdlen; }
  size_t ttl_offset() const { return fixed + 4; }
};

/// Walks records one after the other from `off` (just past the question section). next() is false
/// at a malformed record (the owner name or the rdata does not fit); `offset()` is where the next
/// record would start, so a caller that has read every counted record can check for trailing bytes.
class RecordReader {
 public:
  RecordReader(const uint8_t* msg, size_t len, size_t off) : msg_(msg), len_(len), off_(off) {}
  bool next(Record& r) noexcept;
  size_t offset() const { return off_; }

 private:
  const uint8_t* msg_;
  size_t len_, off_;
};

// ---- EDNS (RFC 6891 §6.1.2)

/// The OPT record: root owner, TYPE, CLASS (payload), TTL (extended rcode, version, DO), RDLENGTH.
inline constexpr size_t kOptFixed = 11;
inline constexpr size_t kEdeOptionSize = 6;  ///< an EDE option with an info code and no text

/// One option inside OPT rdata; `data` points into a message or a caller's buffer.
struct EdnsOption {
  uint16_t code = 0;
  const uint8_t* data = nullptr;
  uint16_t len = 0;
};

/// The options of an OPT record's rdata, in order. next() is false at the end and at a malformed
/// option (one that runs past the rdata); ok() then tells the two apart.
class OptionReader {
 public:
  OptionReader(const uint8_t* rdata, size_t len) : p_(rdata), len_(len) {}
  bool next(EdnsOption& o) noexcept;
  bool ok() const { return ok_; }

 private:
  const uint8_t* p_;
  size_t len_, off_ = 0;
  bool ok_ = true;
};

/// What our OPT record says. `ede` >= 0 adds an Extended DNS Error option (RFC 8914); `options` are
/// written after it, as given (a server cookie, say).
struct OptRecord {
  uint16_t payload = kOurPayload;
  uint8_t ext_rcode = 0;  ///< the upper 8 bits of a 12-bit rcode (BADVERS = 16 -> 1)
  bool do_bit = false;
  int ede = ede::kNoEde;
  std::span<const EdnsOption> options = {};
};

/// Bytes write_opt needs for `o`.
inline size_t opt_size(const OptRecord& o) noexcept;
/// Writes `o` at `p`; returns its length, or 0 (nothing written) if that is more than `room`.
inline size_t write_opt(uint8_t* p, size_t room, const OptRecord& o) noexcept;

// ---- Definitions of the readers and the OPT writer, inline: every query reads its OPT and every
// reply to an EDNS client writes one, and the calls were a fifth of the instructions of a plain
// query's parse.

inline bool RecordReader::next(Record& r) noexcept {
  r.owner = off_;
  size_t p = off_;
  // The root owner (every OPT, the one record a plain query carries) is what skip_name would find
  // in one step; the call is skipped for it.
  if (p < len_ && msg_[p] == 0) ++p;
  else if (!skip_name(msg_, len_, p)) return false;
  if (p + 10 > len_) return false;
  r.fixed = p;
  r.type = read_u16(msg_ + p);
  r.rrclass = read_u16(msg_ + p + 2);
  r.ttl = read_u32(msg_ + p + 4);
  r.rdlen = read_u16(msg_ + p + 8);
  r.rdata = p + 10;
  if (r.end() > len_) return false;
  off_ = r.end();
  return true;
}

inline bool OptionReader::next(EdnsOption& o) noexcept {
  if (!ok_ || off_ >= len_) return false;
  if (off_ + 4 > len_) return ok_ = false;
  o.code = read_u16(p_ + off_);
  o.len = read_u16(p_ + off_ + 2);
  if (off_ + 4 + o.len > len_) return ok_ = false;
  o.data = p_ + off_ + 4;
  off_ += 4u + o.len;
  return true;
}

inline size_t opt_size(const OptRecord& o) noexcept {
  size_t n = kOptFixed + (o.ede >= 0 ? kEdeOptionSize : 0);
  for (const EdnsOption& e : o.options) n += 4u + e.len;
  return n;
}

inline size_t write_opt(uint8_t* p, size_t room, const OptRecord& o) noexcept {
  const size_t n = opt_size(o);
  if (n > room || n - kOptFixed > 0xffff) return 0;
  p[0] = 0;  // the root owner
  write_u16(p + 1, zones::rrtype::OPT);
  write_u16(p + 3, o.payload);
  p[5] = o.ext_rcode;
  p[6] = 0;  // version 0, the one we implement (RFC 6891 §6.1.3)
  p[7] = o.do_bit ? 0x80 : 0;
  p[8] = 0;
  write_u16(p + 9, static_cast<uint16_t>(n - kOptFixed));
  size_t at = kOptFixed;
  if (o.ede >= 0) {
    write_u16(p + at, edns_option::EDE);
    write_u16(p + at + 2, 2);
    write_u16(p + at + 4, static_cast<uint16_t>(o.ede));
    at += kEdeOptionSize;
  }
  for (const EdnsOption& e : o.options) {
    write_u16(p + at, e.code);
    write_u16(p + at + 2, e.len);
    if (e.len) std::memcpy(p + at + 4, e.data, e.len);
    at += 4u + e.len;
  }
  return n;
}

}  // namespace phoenix::wire
