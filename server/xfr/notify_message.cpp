#include "notify_message.hpp"

#include <algorithm>

#include "server/wire/format.hpp"

namespace phoenix::xfr {

namespace {

/// RFC 1035 §4.1.1 / RFC 6895 §2.3 mnemonics for the rcodes a NOTIFY reply carries.
std::string name_of(uint16_t rc) {
  static const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rc < std::size(names) ? names[rc] : "rcode " + std::to_string(rc);
}

bool is_loopback(const horizon::IpAddr& a) {
  if (a.is_v4()) return a.bytes[0] == 127;
  static const horizon::IpAddr v6 = *horizon::IpAddr::parse("::1");
  return a == v6;
}

}  // namespace

const char* notify_outcome_text(NotifyOutcome o) {
  switch (o) {
    case NotifyOutcome::pending: return "pending";
    case NotifyOutcome::resend: return "resend";
    case NotifyOutcome::acknowledged: return "acknowledged";
    case NotifyOutcome::rejected: return "rejected";
    case NotifyOutcome::gave_up: return "gave up";
  }
  return "?";
}

NotifyExchange::NotifyExchange(uint16_t id, std::string_view zone_wire, uint32_t soa_ttl, std::string_view soa_rdata,
                               const horizon::TsigKey* key, uint64_t now, NotifyPolicy policy)
    : id_(id), policy_(policy) {
  if (zone_wire.empty() || zone_wire.size() > zones::kMaxNameWire || soa_rdata.size() > 0xffff) return;
  qname_.assign(zone_wire);
  std::transform(qname_.begin(), qname_.end(), qname_.begin(), [](char c) { return static_cast<char>(zones::lower_octet(static_cast<uint8_t>(c))); });
  const size_t question = wire::kHeaderSize + zone_wire.size() + 4;
  const size_t answer = 2 + 10 + soa_rdata.size();
  std::vector<uint8_t> m(question + answer + (key ? tsig_space(*key) : 0), 0);
  wire::write_u16(m.data(), id);
  // RFC 1996 §3.7: opcode NOTIFY, AA set; the question names the zone with type SOA.
  m[2] = static_cast<uint8_t>(wire::opcode::NOTIFY << 3) | wire::flags1::AA;
  wire::set_count(m.data(), wire::Count::question, 1);
  wire::set_count(m.data(), wire::Count::answer, 1);
  std::copy(zone_wire.begin(), zone_wire.end(), m.begin() + wire::kHeaderSize);
  uint8_t* p = m.data() + question - 4;
  wire::write_u16(p, zones::rrtype::SOA);
  wire::write_u16(p + 2, zones::rrclass::IN);
  p += 4;
  wire::write_u16(p, 0xc000 | wire::kHeaderSize);  // the owner: the question's name
  wire::write_u16(p + 2, zones::rrtype::SOA);
  wire::write_u16(p + 4, zones::rrclass::IN);
  wire::write_u32(p + 6, soa_ttl);
  wire::write_u16(p + 10, static_cast<uint16_t>(soa_rdata.size()));
  std::copy(soa_rdata.begin(), soa_rdata.end(), p + 12);
  size_t len = question + answer;
  if (key) {
    TsigContext ctx{};
    len = sign_request(m.data(), len, m.size(), *key, now, ctx);
    if (!len) return;
    tsig_ = ctx;
  }
  m.resize(len);
  message_ = std::move(m);
}

std::chrono::milliseconds NotifyExchange::sent() {
  wait_ = tries_ == 0 ? policy_.first_wait : wait_ * policy_.factor;
  ++tries_;
  return wait_;
}

NotifyOutcome NotifyExchange::on_timeout() {
  return tries_ >= policy_.max_tries ? NotifyOutcome::gave_up : NotifyOutcome::resend;
}

NotifyOutcome NotifyExchange::on_reply(const uint8_t* msg, size_t len, uint64_t now) {
  // Anything else on the socket (a stray or forged datagram, a late reply to an older message with
  // another id) leaves the exchange as it was.
  if (len < wire::kHeaderSize || wire::read_u16(msg) != id_ || !(msg[2] & wire::flags1::QR) ||
      wire::opcode_of(msg) != wire::opcode::NOTIFY)
    return NotifyOutcome::pending;
  size_t off = wire::kHeaderSize;
  if (wire::count(msg, wire::Count::question) != 1 || !wire::name_equals(msg, len, off,
                                                                          reinterpret_cast<const uint8_t*>(qname_.data())) ||
      !wire::skip_name(msg, len, off) || off + 4 > len || wire::read_u16(msg + off) != zones::rrtype::SOA ||
      wire::read_u16(msg + off + 2) != zones::rrclass::IN) {
    last_problem_ = "a reply with another question";
    return NotifyOutcome::pending;
  }
  const uint16_t rc = wire::rcode_of(msg);
  if (tsig_) {
    // RFC 8945 §5.3: the reply to a signed request must be signed over the request's MAC; one that is
    // not may be forged, so it neither acknowledges nor ends the exchange.
    TsigStreamVerifier verifier(*tsig_);
    TsigStatus st = verifier.verify(msg, len, now);
    if (st != TsigStatus::ok || !verifier.complete()) {
      last_problem_ = name_of(rc) + " reply whose TSIG does not verify (" + tsig_status_text(st) + ")";
      return NotifyOutcome::pending;
    }
  }
  rcode_ = rc;
  return rc == wire::rcode::NOERROR ? NotifyOutcome::acknowledged : NotifyOutcome::rejected;
}

std::string rcode_name(uint16_t rc) { return name_of(rc); }

std::vector<NotifyJob> notify_jobs(const zones::Snapshot& snap, const horizon::HorizonPlan& plan,
                                   const std::vector<zones::ZoneDiff>* changes,
                                   const std::vector<horizon::Endpoint>& listen) {
  std::vector<NotifyJob> jobs;
  for (auto& vp : plan.views) {
    if (vp.transfer.notify.empty()) continue;
    auto vd = std::find_if(snap.view_data.begin(), snap.view_data.end(), [&](auto& d) { return d.name == vp.name; });
    if (vd == snap.view_data.end()) continue;
    for (auto& zone : vd->own_zones()) {
      std::string name = zone->origin().to_text();
      if (changes && std::none_of(changes->begin(), changes->end(), [&](const zones::ZoneDiff& d) {
            return d.view == vp.name && d.zone == name && d.is_served;
          }))
        continue;
      auto soa = zone->soa();
      if (!soa || soa.empty()) continue;
      for (auto& t : vp.transfer.notify) {
        NotifyJob j;
        j.view = vp.name;
        j.zone = name;
        j.target = t.address;
        if (!t.key.empty()) {
          auto k = std::find_if(plan.tsig_keys.begin(), plan.tsig_keys.end(), [&](auto& key) { return key.name == t.key; });
          if (k == plan.tsig_keys.end()) continue;
          j.key = *k;
        }
        j.zone_wire.assign(zone->origin().wire());
        j.serial = zone->serial();
        j.soa_ttl = soa.ttl();
        j.soa_rdata.assign(*soa.begin());
        // A loopback source cannot reach another host, nor another host's address a loopback target.
        for (auto& ep : listen) {
          bool any = std::all_of(ep.addr.bytes.begin(), ep.addr.bytes.end(), [](uint8_t b) { return b == 0; });
          if (ep.addr.family == t.address.addr.family && !any && is_loopback(ep.addr) == is_loopback(t.address.addr)) {
            j.source = ep.addr;
            break;
          }
        }
        jobs.push_back(std::move(j));
      }
    }
  }
  return jobs;
}

}  // namespace phoenix::xfr
