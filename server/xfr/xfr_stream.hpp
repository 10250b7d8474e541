// xfr_stream -- zone transfers as a sequence of DNS messages: a record source (the zone for AXFR, a
// difference sequence for IXFR) packed into messages of up to 64 KiB with name compression, each
// optionally TSIG-signed, one message at a time into the caller's buffer: nothing holds the transfer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "server/xfr/tsig.hpp"
#include "zones/zone.hpp"

namespace phoenix::xfr {

/// One record of a transfer; the pointers stay valid until the source advances past it.
struct XfrRecord {
  const uint8_t* owner = nullptr;  ///< uncompressed wire name
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string_view rdata;  ///< uncompressed wire rdata (names inside are compressed on output where allowed)
};

/// A cursor over the records of one transfer, in the order they are sent.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  /// The record at the cursor; false once every record has been taken.
  virtual bool peek(XfrRecord& out) = 0;
  virtual void advance() = 0;
};

/// RFC 5936 §2.2: the zone's SOA, every other record of the zone (node by node, RRset by RRset, in
/// the zone's storage order), the SOA again. Holds the zone, so the transfer keeps reading the version
/// it started with whatever a reload swaps in meanwhile; walks the zone in place.
class AxfrSource final : public RecordSource {
 public:
  explicit AxfrSource(std::shared_ptr<const zones::Zone> zone);
  bool peek(XfrRecord& out) override;
  void advance() override;
  const zones::Zone& zone() const { return *zone_; }

 private:
  enum class Stage { head, body, tail, end };
  void settle();  ///< moves the body cursor to the next record, or to the tail
  XfrRecord soa() const;

  std::shared_ptr<const zones::Zone> zone_;
  Stage stage_ = Stage::head;
  const uint8_t* apex_ = nullptr;
  const uint8_t* node_ = nullptr;
  size_t nodes_left_ = 0;
  const uint8_t* rrset_ = nullptr;
  size_t rrsets_left_ = 0;
  const uint8_t* record_ = nullptr;
  size_t records_left_ = 0;
  bool node_started_ = false, rrset_started_ = false;
};

/// The question every message of the transfer answers (copied: the request buffer may go away).
struct XfrQuestion {
  uint16_t id = 0;
  uint8_t qname[256];  ///< the client's bytes, echoed in the first message
  size_t qname_len = 0;
  uint16_t qtype = zones::rrtype::AXFR;
  uint16_t qclass = zones::rrclass::IN;
  bool rd = false;
};
/// False if `qname` is not a plain uncompressed wire name of at most 255 bytes.
bool make_xfr_question(uint16_t id, const uint8_t* qname, size_t qname_len, uint16_t qtype, uint16_t qclass, bool rd,
                       XfrQuestion& out);

/// Packs a source into messages: the first carries the question (RFC 5936 §2.2.1: later ones may
/// leave it out, as BIND does), every one has QR and AA and as many whole records as fit.
class XfrMessageStream {
 public:
  /// `max_message` bounds each message including its TSIG (at most 65535, the TCP length field).
  explicit XfrMessageStream(const XfrQuestion& q, size_t max_message = 65535);

  /// Writes the next message into `buf` (`cap` bytes) and returns its length; 0 once done() or on
  /// failure (a single record too big for a message, a buffer too small for even the header).
  /// With `signer`, room for the TSIG is kept and each message is signed (RFC 8945 §5.3.1).
  size_t next(RecordSource& source, uint8_t* buf, size_t cap, TsigStreamSigner* signer = nullptr,
              uint64_t now = 0);

  bool done() const { return done_; }
  bool failed() const { return failed_; }
  size_t messages() const { return messages_; }
  size_t records() const { return records_; }

 private:
  XfrQuestion q_;
  size_t max_message_;
  std::vector<uint8_t> scratch_;  ///< one record in RRsetView form, for the wire writer
  size_t messages_ = 0, records_ = 0;
  bool done_ = false, failed_ = false;
};

}  // namespace phoenix::xfr
