#include "xfr_stream.hpp"

#include <algorithm>
#include <cstring>

#include "server/wire/writer.hpp"

namespace phoenix::xfr {

using zones::NodeView;
using zones::RRsetView;

AxfrSource::AxfrSource(std::shared_ptr<const zones::Zone> zone) : zone_(std::move(zone)) {
  // The zone stores its nodes back to back (zone.hpp); the first node for_each_node reports is where
  // that run starts, so the cursor can step through it without a list of nodes.
  zone_->for_each_node([&](NodeView n) {
    if (!node_) node_ = reinterpret_cast<const uint8_t*>(n.owner_wire().data()) - 1;
    ++nodes_left_;
  });
  apex_ = reinterpret_cast<const uint8_t*>(zone_->apex().owner_wire().data()) - 1;
  if (!zone_->soa()) stage_ = Stage::end;  // a zone always has one; without it there is nothing to send
}

XfrRecord AxfrSource::soa() const {
  RRsetView s = zone_->soa();
  return {apex_ + 1, s.type(), s.ttl(), *s.begin()};
}

bool AxfrSource::peek(XfrRecord& out) {
  switch (stage_) {
    case Stage::head:
    case Stage::tail: out = soa(); return true;
    case Stage::body:
      out = {node_ + 1, RRsetView(rrset_).type(), RRsetView(rrset_).ttl(),
             {reinterpret_cast<const char*>(record_ + 2), zones::read_u16(record_)}};
      return true;
    case Stage::end: return false;
  }
  return false;
}

void AxfrSource::advance() {
  switch (stage_) {
    case Stage::head:
      stage_ = Stage::body;
      settle();
      return;
    case Stage::body:
      record_ += 2u + zones::read_u16(record_);
      --records_left_;
      settle();
      return;
    case Stage::tail: stage_ = Stage::end; return;
    case Stage::end: return;
  }
}

void AxfrSource::settle() {
  while (stage_ == Stage::body) {
    if (records_left_ > 0) return;
    if (rrsets_left_ > 0) {
      if (rrset_started_) rrset_ += RRsetView(rrset_).encoded_size();
      rrset_started_ = true;
      --rrsets_left_;
      RRsetView rs(rrset_);
      if (node_ == apex_ && rs.type() == zones::rrtype::SOA) continue;  // sent first and last only
      record_ = rrset_ + RRsetView::kHeader;
      records_left_ = rs.size();
      continue;
    }
    if (nodes_left_ == 0) {
      stage_ = Stage::tail;
      return;
    }
    if (node_started_) node_ += NodeView(node_).encoded_size();
    node_started_ = true;
    --nodes_left_;
    auto range = NodeView(node_).rrsets();
    rrset_ = range.first;
    rrsets_left_ = range.count;
    rrset_started_ = false;
  }
}

bool make_xfr_question(uint16_t id, const uint8_t* qname, size_t qname_len, uint16_t qtype, uint16_t qclass, bool rd,
                       XfrQuestion& out) {
  if (qname_len == 0 || qname_len > 255 || zones::wire_name_length(qname, qname_len) != qname_len) return false;
  out.id = id;
  std::memcpy(out.qname, qname, qname_len);
  out.qname_len = qname_len;
  out.qtype = qtype;
  out.qclass = qclass;
  out.rd = rd;
  return true;
}

XfrMessageStream::XfrMessageStream(const XfrQuestion& q, size_t max_message)
    : q_(q), max_message_(std::min<size_t>(max_message, 65535)), scratch_(RRsetView::kHeader + 2 + 65535) {}

size_t XfrMessageStream::next(RecordSource& source, uint8_t* buf, size_t cap, TsigStreamSigner* signer,
                              uint64_t now) {
  if (done_ || failed_) return 0;
  const size_t room = std::min(cap, max_message_);
  const size_t reserve = signer ? signer->space() : 0;
  if (room < 12 + q_.qname_len + 4 + reserve) {
    failed_ = true;
    return 0;
  }
  wire::WireWriter w(buf, room);
  const uint8_t flags1 = static_cast<uint8_t>(0x84 | (q_.rd ? 0x01 : 0));  // QR, AA
  if (messages_ == 0) w.put_header_and_question(q_.id, flags1, 0, q_.qname, q_.qname_len, q_.qtype, q_.qclass);
  else w.put_header_only(q_.id, flags1, 0);
  w.set_limit(room - reserve);

  size_t in_message = 0;
  XfrRecord r;
  while (source.peek(r)) {
    // One record as a one-record RRset, so that the writer's compression and all-or-nothing put apply.
    uint8_t* s = scratch_.data();
    zones::write_u16(s, r.type);
    zones::write_u32(s + 2, r.ttl);
    zones::write_u16(s + 6, 1);
    zones::write_u32(s + 8, static_cast<uint32_t>(2 + r.rdata.size()));
    zones::write_u16(s + 12, static_cast<uint16_t>(r.rdata.size()));
    std::memcpy(s + 14, r.rdata.data(), r.rdata.size());
    zones::RRsetRef ref{RRsetView(s), reinterpret_cast<const char*>(r.owner), r.ttl, zones::rrclass::IN};
    if (!w.put_rrset(wire::Section::answer, ref)) {
      if (in_message == 0) {
        failed_ = true;  // does not fit even an empty message
        return 0;
      }
      break;
    }
    ++in_message;
    source.advance();
  }
  if (in_message == 0 && messages_ > 0) {
    done_ = true;
    return 0;
  }
  size_t len = w.size();
  if (signer) {
    len = signer->sign(buf, len, room, now);
    if (len == 0) {
      failed_ = true;
      return 0;
    }
  }
  ++messages_;
  records_ += in_message;
  XfrRecord more;
  if (!source.peek(more)) done_ = true;
  return len;
}

}  // namespace phoenix::xfr
