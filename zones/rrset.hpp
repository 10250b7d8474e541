// rrset -- record types, RRsets and rdata in uncompressed wire form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "name.hpp"

namespace phoenix::zones {

namespace rrtype {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15, TXT = 16, AAAA = 28,
                          SRV = 33, DNAME = 39, OPT = 41, DS = 43, IXFR = 251, AXFR = 252, ANY = 255;
}
namespace rrclass {
inline constexpr uint16_t IN = 1, CH = 3, ANY = 255;
}

inline uint32_t read_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void write_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void write_u32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

/// "A", "TYPE65534" -> code; and back.
std::optional<uint16_t> type_from_text(std::string_view text);
std::string type_to_text(uint16_t type);

/// All records of one owner and type. Rdata is uncompressed wire with embedded names lower-cased.
struct RRset {
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::vector<std::string> rdata;
};

/// A read-only RRset in the compact form a zone stores (zone.hpp): type u16, TTL u32, record count
/// u16, rdata bytes u32, then per record rdata length u16 and rdata, all big-endian. A view is one
/// pointer, so replies reference RRsets without copying them; a null view means "no such RRset".
class RRsetView {
 public:
  static constexpr size_t kHeader = 12;
  RRsetView() = default;
  explicit RRsetView(const uint8_t* p) : p_(p) {}
  explicit operator bool() const { return p_ != nullptr; }
  uint16_t type() const { return read_u16(p_); }
  uint32_t ttl() const { return read_u32(p_ + 2); }
  uint16_t size() const { return read_u16(p_ + 6); }
  bool empty() const { return size() == 0; }
  /// Bytes from the start of the header to the end of the last record.
  size_t encoded_size() const { return kHeader + read_u32(p_ + 8); }
  const uint8_t* data() const { return p_; }

  /// Forward iteration over the records' rdata.
  class iterator {
   public:
    explicit iterator(const uint8_t* p) : p_(p) {}
    std::string_view operator*() const { return {reinterpret_cast<const char*>(p_ + 2), read_u16(p_)}; }
    iterator& operator++() {
      p_ += 2u + read_u16(p_);
      return *this;
    }
    bool operator!=(const iterator& o) const { return p_ != o.p_; }

   private:
    const uint8_t* p_;
  };
  iterator begin() const { return iterator(p_ + kHeader); }
  iterator end() const { return iterator(p_ + encoded_size()); }

 private:
  const uint8_t* p_ = nullptr;
};

/// Appends `rr` in RRsetView form to `out`; false if it does not fit the form (rdata over 65535 bytes).
bool encode_rrset(uint16_t type, uint32_t ttl, const std::vector<std::string_view>& rdata, std::string& out);

/// An RRset outside any zone (the server's CH identity) held in RRsetView form.
class RRsetBlob {
 public:
  RRsetBlob() = default;
  explicit RRsetBlob(const RRset& rr);
  bool empty() const { return bytes_.empty(); }
  RRsetView view() const {
    return bytes_.empty() ? RRsetView() : RRsetView(reinterpret_cast<const uint8_t*>(bytes_.data()));
  }

 private:
  std::string bytes_;
};

/// Where the first domain name sits inside rdata of a well-known type, for compression and
/// additional-section processing; nullopt for types without one (or whose names must not be compressed).
struct RdataNames {
  size_t first = 0;      ///< offset of the first name
  bool two = false;      ///< SOA: MNAME then RNAME
  bool compress = true;  ///< RFC 3597 §4: only the RFC 1035 types may be compressed (SRV may not)
};
std::optional<RdataNames> rdata_names(uint16_t type);

/// Length of an uncompressed wire name starting at `p` within `len` bytes, or 0 if malformed.
size_t wire_name_length(const uint8_t* p, size_t len);

/// Rdata validation: the bytes are well-formed for the type (names uncompressed and in bounds).
bool rdata_valid(uint16_t type, std::string_view rdata);

/// Presentation form of one record's rdata (dig-like), for zone files and diagnostics.
std::string rdata_to_text(uint16_t type, std::string_view rdata);

/// Rdata builders used by the derived zones.
std::string rdata_name(const Name& target);
std::string rdata_soa(const Name& mname, const Name& rname, uint32_t serial, uint32_t refresh, uint32_t retry,
                      uint32_t expire, uint32_t minimum);

}  // namespace phoenix::zones
