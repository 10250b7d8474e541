#include "processor.hpp"

#include <cstring>
#include <ctime>
#include <span>
#include <string_view>

#include "precompiled.hpp"
#include "server/wire/writer.hpp"
#include "server/forward/policy.hpp"

namespace phoenix::query {
namespace {

using wire::ede::kNoEde;
using wire::reply_flags1;
using wire::reply_flags2;
using wire::Section;
using wire::WireWriter;
using zones::LookupResult;
using zones::LookupStatus;

/// Everything one query needs while it is being answered; lives on the stack. The constructor leaves
/// the name buffers alone: brace-initialising the aggregate zero-filled its 744 bytes on every query.
struct Answering {
  Answering(const QueryContext& c, uint8_t* o, size_t n) : ctx(c), out(o), cap(n), w(o, n) {}
  const QueryContext& ctx;
  uint8_t* out;
  size_t cap;
  ParsedQuery q;
  WireWriter w;
  size_t opt_reserve = 0;
  bool ra = false;  ///< recursion available: set once the view is known to forward (RFC 1035 §4.1.1)
  uint8_t view_slot = kNoViewSlot;  ///< where the reply is counted, once the view is known
  uint8_t cookie[kClientCookieLen + kServerCookieLen];  ///< the COOKIE option we send back (RFC 7873 §4)
  wire::EdnsOption cookie_opt;
  bool has_cookie = false;
  /// A signed request (RFC 8945): what signing every reply to it needs. Empty for unsigned ones, so
  /// that the common query never touches it.
  std::optional<xfr::TsigContext> tsig;
  uint64_t now = 0;
  /// The verified key's name ("" for unsigned requests and bad signatures).
  std::string_view key_name() const { return tsig && tsig->key ? std::string_view(tsig->key->name) : std::string_view(); }
};

/// The options of our OPT: the COOKIE when the client sent one, else none.
std::span<const wire::EdnsOption> our_options(const Answering& a) {
  return a.has_cookie ? std::span<const wire::EdnsOption>(&a.cookie_opt, 1) : std::span<const wire::EdnsOption>();
}

size_t finish_with_opt(Answering& a, uint16_t rcode, int ede) {
  count_reply(a.ctx.stats, a.view_slot, a.q.qtype, rcode);
  if (a.q.has_edns) a.w.put_opt(wire::reply_opt(a.q, rcode, ede, our_options(a)));
  return a.w.size();
}

/// The one place that turns a failure into an rcode.
size_t finish_error(Answering& a, uint16_t rcode, int ede) {
  QueryStats* st = a.ctx.stats;
  if (st) {
    if (rcode == rcode::FORMERR) ++st->formerr;
    else if (rcode == rcode::REFUSED) ++st->refused;
    else if (rcode == rcode::NOTIMP) ++st->notimp;
  }
  count_reply(st, a.view_slot, a.q.qtype, rcode);
  return wire::write_error_reply(a.q, rcode, ede, a.ra, a.out, a.cap, our_options(a));
}

/// Starts a reply with records: header and the client's question, flags as given.
bool begin_reply(Answering& a, uint8_t flags1, uint8_t flags2) {
  const ParsedQuery& q = a.q;
  if (!a.w.put_header_and_question(q.id, flags1, flags2, q.qname_orig, q.qname_len, q.qtype, q.qclass)) return false;
  if (q.has_edns) {
    // Keep room for our OPT so that adding it can never push the reply past the client's limit.
    a.opt_reserve = wire::opt_size(wire::reply_opt(q, 0, wire::ede::kNoEde, our_options(a)));
    a.w.set_limit(a.w.limit() - a.opt_reserve);
  }
  return true;
}

/// The wire name an RRsetRef stands for: its own, or the query name's.
std::string_view ref_owner(const Answering& a, const zones::RRsetRef& ref) {
  if (!ref.owner) return {reinterpret_cast<const char*>(a.q.qname_lower), a.q.qname_len};
  auto p = reinterpret_cast<const uint8_t*>(ref.owner);
  return {ref.owner, zones::wire_name_length(p, zones::kMaxNameWire)};
}

/// RFC 9471 §3: a referral that cannot carry all glue for the name servers inside the delegated zone
/// ("in-domain") is truncated, so that the resolver asks again over TCP instead of being stuck; glue
/// for servers elsewhere is optional. `from` is the first additional RRset that did not fit.
bool in_domain_glue_left_out(const Answering& a, const LookupResult& r, size_t from) {
  if (r.status != LookupStatus::referral) return false;
  std::string_view cut;
  for (auto& ref : r.authority)
    if (ref.rrset.type() == zones::rrtype::NS) cut = ref_owner(a, ref);
  if (cut.empty()) return false;
  for (size_t i = from; i < r.additional.size; ++i)
    if (zones::wire_has_suffix(ref_owner(a, r.additional.items[i]), cut)) return true;
  return false;
}

/// Stages: answer, authority, additional. Additional data is dropped before TC is set (RFC 2181 §9),
/// except a referral's in-domain glue (RFC 9471).
size_t write_sections(Answering& a, const LookupResult& r) {
  WireWriter& w = a.w;
  bool ok = true;
  for (auto& ref : r.answer) ok = ok && w.put_rrset(Section::answer, ref);
  for (auto& ref : r.authority) ok = ok && w.put_rrset(Section::authority, ref);
  if (!ok) {
    w.truncate_to_question();
    w.set_tc();
    if (a.ctx.stats) ++a.ctx.stats->truncated;
  } else {
    for (size_t i = 0; i < r.additional.size; ++i)
      if (!w.put_rrset(Section::additional, r.additional.items[i])) {
        if (in_domain_glue_left_out(a, r, i)) {
          w.set_tc();
          if (a.ctx.stats) ++a.ctx.stats->truncated;
        }
        break;
      }
  }
  w.set_limit(w.limit() + a.opt_reserve);
  uint16_t rc = r.status == LookupStatus::nxdomain ? rcode::NXDOMAIN : rcode::NOERROR;
  if (a.ctx.stats) {
    ++a.ctx.stats->answered;
    if (rc == rcode::NXDOMAIN) ++a.ctx.stats->nxdomain;
  }
  w.set_rcode_low(static_cast<uint8_t>(rc));
  return finish_with_opt(a, rc, kNoEde);
}

/// The CH TXT identity names (lower-cased wire): what BIND, Knot and NSD answer in class CH.
constexpr std::string_view kVersionBind("\x07version\x04" "bind\x00", 14);
constexpr std::string_view kVersionServer("\x07version\x06server\x00", 16);
constexpr std::string_view kIdServer("\x02id\x06server\x00", 11);
constexpr std::string_view kHostnameBind("\x08hostname\x04" "bind\x00", 15);

/// Stage: chaos. Returns the identity RRset the query asks for, or nullptr when it is not configured
/// (then the CH query is REFUSED like every other non-IN query).
zones::RRsetView chaos_rrset(const zones::Snapshot& snap, std::string_view qname) {
  if (qname == kVersionBind || qname == kVersionServer) return snap.chaos_version.view();
  if (qname == kIdServer || qname == kHostnameBind) return snap.chaos_identity.view();
  return {};
}

/// Stage: forwarding policy, for a single-label name in a view that forwards (server/forward/policy.hpp):
/// never asked upstream; NXDOMAIN here, or with search_single_label the record of <name>.<internal zone>
/// under the client's own name. Not authoritative either way: "foo." is no zone of ours.
size_t answer_single_label(Answering& a, const zones::ViewData& vd, forward::Route route) {
  const std::string_view qname(reinterpret_cast<const char*>(a.q.qname_lower), a.q.qname_len);
  uint8_t name[256];
  size_t n = route == forward::Route::search ? forward::search_name(qname, a.ctx.snapshot->forward, name) : 0;
  const zones::Zone* zone = n ? vd.zones.find_zone({reinterpret_cast<const char*>(name), n}) : nullptr;
  LookupResult r;
  if (zone) zone->lookup({reinterpret_cast<const char*>(name), n}, a.q.qtype, r);
  if (!zone || r.status != LookupStatus::answer) r = LookupResult{};  // nxdomain, nothing else
  r.authority.size = 0;  // the internal zone's NS and SOA say nothing about "foo."
  if (!begin_reply(a, reply_flags1(a.q, false), reply_flags2(a.q, 0, a.ra))) return finish_error(a, rcode::SERVFAIL, kNoEde);
  return write_sections(a, r);
}

}  // namespace

/// Stage: EDNS. RFC 6891 §6.2.3: never below 512; we cap at what we advertise.
size_t udp_reply_limit(const ParsedQuery& q) noexcept {
  if (!q.has_edns) return wire::kMinUdpPayload;
  size_t s = q.udp_size < wire::kMinUdpPayload ? wire::kMinUdpPayload : q.udp_size;
  return s > kOurPayload ? kOurPayload : s;
}

namespace {

size_t answer(Answering& a, const uint8_t* in, size_t in_len) noexcept;

}  // namespace

size_t process_query(const uint8_t* in, size_t in_len, const QueryContext& ctx, uint8_t* out, size_t cap) noexcept {
  Answering a(ctx, out, cap);
  if (ctx.facts) *ctx.facts = ReplyFacts{};
  if (ctx.stats) ++ctx.stats->queries;
  size_t n = answer(a, in, in_len);
  // RFC 8945 §5.3: every reply to a signed request is signed, errors included (BADKEY and BADSIG
  // with an empty MAC, §5.3.2). Room for it was kept when the request verified.
  if (n && a.tsig) {
    const size_t limit = ctx.tcp ? cap : std::min(cap, udp_reply_limit(a.q));
    if (size_t s = xfr::sign_reply(out, n, limit, *a.tsig, a.now)) n = s;
  }
  // Cookies are counted in the view that answered ("none" when the reply came before one was chosen).
  if (a.has_cookie && ctx.stats) {
    const CookieSeen seen = a.q.cookie_len == kClientCookieLen ? CookieSeen::client_only
                            : ctx.cookie->valid                ? CookieSeen::valid
                                                               : CookieSeen::invalid;
    ++ctx.stats->by_view[a.view_slot < kViewSlots ? a.view_slot : kOtherViewSlot].cookies[static_cast<size_t>(seen)];
  }
  return n;
}

namespace {

/// The kTsigFailureNames cell of a verification that failed.
constexpr size_t tsig_failure_bucket(xfr::TsigStatus s) noexcept {
  switch (s) {
    case xfr::TsigStatus::badkey: return 0;
    case xfr::TsigStatus::badsig: return 1;
    case xfr::TsigStatus::badtime: return 2;
    case xfr::TsigStatus::badtrunc: return 3;
    default: return 4;  // formerr
  }
}

/// Stage: TSIG (RFC 8945 §5.2), for a request with records beyond the OPT only: the common query
/// never gets here. Returns 0 to go on (signed or not), else the length of the error reply.
size_t verify_tsig(Answering& a, const uint8_t* in, size_t in_len) {
  a.now = a.ctx.now ? a.ctx.now : static_cast<uint64_t>(::time(nullptr));
  a.tsig.emplace();
  const zones::Snapshot& snap = *a.ctx.snapshot;
  QueryStats* st = a.ctx.stats;
  const xfr::TsigStatus status = xfr::verify_request(in, in_len, snap.tsig_keys, a.now, *a.tsig);
  if (st && status != xfr::TsigStatus::unsigned_message && status != xfr::TsigStatus::ok)
    ++st->tsig_failed[tsig_failure_bucket(status)];
  switch (status) {
    case xfr::TsigStatus::unsigned_message:
      a.tsig.reset();
      return 0;
    case xfr::TsigStatus::ok:
      if (st) {
        const auto k = static_cast<size_t>(a.tsig->key - snap.tsig_keys.data());
        ++st->tsig_accepted[k < snap.tsig_key_slots.size() ? snap.tsig_key_slots[k] : kOtherKeySlot];
      }
      // Keep room for the reply's TSIG, so that signing can never push it past the limit.
      a.w.set_limit(a.w.limit() - std::min(a.w.limit() - wire::kMinUdpPayload / 2, xfr::tsig_space(*a.tsig->key)));
      return 0;
    case xfr::TsigStatus::formerr:
      a.tsig.reset();  // §5.1: FORMERR, unsigned
      return finish_error(a, rcode::FORMERR, kNoEde);
    default:
      // §5.2: NOTAUTH, no data; the TSIG the wrapper appends carries the error (BADSIG, BADKEY, BADTIME).
      if (st) ++st->refused;
      count_reply(a.ctx.stats, a.view_slot, a.q.qtype, xfr::kRcodeNotauth);
      return wire::write_error_reply(a.q, xfr::kRcodeNotauth, kNoEde, false, a.out, a.cap);
  }
}

/// Stage: transfer (RFC 5936, RFC 1995). Only clients the view's transfer.allow lists get anything;
/// the zone must be one of the view's own (not a locally served RFC 6303 one).
size_t answer_transfer(Answering& a, const uint8_t* in, size_t in_len, const zones::ViewData& vd) {
  const ParsedQuery& q = a.q;
  const QueryContext& ctx = a.ctx;
  const std::string_view qname(reinterpret_cast<const char*>(q.qname_lower), q.qname_len);
  std::shared_ptr<const zones::Zone> zone;
  uint16_t slot = vd.unknown_zone_slot;
  const auto own = vd.own_zones();
  for (size_t i = 0; i < own.size(); ++i)
    if (own[i]->origin().wire() == qname) zone = own[i], slot = vd.zone_slot(i);
  const XfrType type = q.qtype == zones::rrtype::AXFR ? XfrType::axfr : ctx.tcp ? XfrType::ixfr : XfrType::ixfr_udp;
  XfrCounters* counts = ctx.stats ? &ctx.stats->xfr[slot < kZoneSlots ? slot : kOtherZoneSlot] : nullptr;
  auto fail = [&](XfrResult why, uint16_t rc, int ede) {
    if (counts) counts->count(type, why);
    return finish_error(a, rc, ede);
  };
  if (!transfer_allowed(vd.transfer, ctx.client, a.key_name())) return fail(XfrResult::refused, rcode::REFUSED, kNoEde);
  // RFC 5936 §2.2.1: not a zone we serve (in this view): NOTAUTH.
  if (!zone) return fail(XfrResult::notauth, xfr::kRcodeNotauth, wire::ede::NOT_AUTHORITATIVE);
  uint32_t serial = 0;
  if (q.qtype == zones::rrtype::IXFR && !xfr::ixfr_request_serial(in, in_len, serial))
    return fail(XfrResult::formerr, rcode::FORMERR, kNoEde);
  if (ctx.tcp && !ctx.xfr) return fail(XfrResult::refused, rcode::REFUSED, wire::ede::NOT_SUPPORTED);
  if (ctx.tcp && ctx.xfr->busy) return fail(XfrResult::busy, rcode::REFUSED, kNoEde);
  try {
    XfrRequest local;
    XfrRequest& r = ctx.tcp ? *ctx.xfr : local;
    if (!xfr::make_xfr_question(q.id, q.qname_orig, q.qname_len, q.qtype, q.qclass, q.rd, r.question))
      return fail(XfrResult::formerr, rcode::FORMERR, kNoEde);
    r.zone = zone;
    r.history = ctx.snapshot->ixfr;
    r.view = vd.name;
    r.client_serial = serial;
    r.tsig = a.tsig;
    r.metrics_slot = slot;
    count_reply(ctx.stats, a.view_slot, q.qtype, rcode::NOERROR);
    if (ctx.tcp) {
      r.wanted = true;  // the transport counts it once it has streamed
      a.tsig.reset();  // the transport signs each message of the stream
      return 0;
    }
    // IXFR over UDP: the answer in one datagram, else the SOA alone (RFC 1995 §2), which tells the
    // client to come back over TCP.
    const size_t limit = std::min(a.cap, udp_reply_limit(q));
    XfrForm form = XfrForm::axfr;
    auto source = transfer_source(r, form);
    std::optional<xfr::TsigStreamSigner> signer;
    if (a.tsig) signer.emplace(*a.tsig);
    xfr::XfrMessageStream stream(r.question, limit);
    size_t n = stream.next(*source, a.out, limit, signer ? &*signer : nullptr, a.now);
    xfr::XfrRecord rest;
    if (n == 0 || source->peek(rest)) {
      xfr::SoaSource soa(zone);
      xfr::XfrMessageStream one(r.question, limit);
      if (signer) signer.emplace(*a.tsig);
      n = one.next(soa, a.out, limit, signer ? &*signer : nullptr, a.now);
      if (form != XfrForm::up_to_date) form = XfrForm::soa_only;
    }
    a.tsig.reset();  // signed above, by the stream's signer
    if (ctx.stats && n) ++ctx.stats->answered;
    if (counts) {
      counts->count(type, n ? XfrResult::ok : XfrResult::failed, form);
      if (n) counts->sent(type, 1, n);
    }
    return n;
  } catch (const std::exception&) {
    return fail(XfrResult::servfail, rcode::SERVFAIL, kNoEde);
  }
}

size_t answer(Answering& a, const uint8_t* in, size_t in_len) noexcept {
  const QueryContext& ctx = a.ctx;
  uint8_t* out = a.out;

  // Stage: parse.
  ParseStatus st = parse_query(in, in_len, a.q);
  if (st == ParseStatus::drop) {
    if (ctx.stats) ++ctx.stats->dropped;
    return 0;
  }
  ParsedQuery& q = a.q;
  // The size limit, decided here for every stage: TCP takes what fits the message, UDP what the
  // client advertised.
  a.w.set_limit(ctx.tcp ? a.cap : udp_reply_limit(q));
  if (st == ParseStatus::formerr) return finish_error(a, rcode::FORMERR, kNoEde);
  ReplyFacts* facts = ctx.facts;
  if (facts) facts->qname_len = static_cast<uint8_t>(q.qname_len);  // at most 255 (RFC 1035 §3.1)
  // Stage: cookie (RFC 7873 §5.2). A client cookie always gets a fresh server cookie back; a server
  // cookie that does not verify counts as none.
  if (q.cookie_len && ctx.cookie && ctx.cookie->secrets && q.has_edns) {
    CookieState& c = *ctx.cookie;
    c.valid = q.cookie_len > kClientCookieLen &&
              server_cookie_valid(*c.secrets, q.cookie, q.cookie + kClientCookieLen, q.cookie_len - kClientCookieLen,
                                  ctx.client, c.now);
    std::memcpy(a.cookie, q.cookie, kClientCookieLen);
    make_server_cookie(c.secrets->current, q.cookie, ctx.client, c.now, a.cookie + kClientCookieLen);
    a.cookie_opt = {wire::edns_option::COOKIE, a.cookie, static_cast<uint16_t>(sizeof a.cookie)};
    a.has_cookie = true;
  }
  // Stage: TSIG. Only a request with records beyond the OPT can be signed.
  if (q.other_records && st != ParseStatus::notimp)
    if (size_t n = verify_tsig(a, in, in_len)) return n;
  // RFC 1996: we are the primary of every zone we serve; a NOTIFY to us is not for us to act on.
  if (st == ParseStatus::notimp && q.opcode == wire::opcode::NOTIFY && q.have_question) {
    if (ctx.stats) ++ctx.stats->notify_refused;
    return finish_error(a, rcode::REFUSED, kNoEde);
  }
  if (st == ParseStatus::notimp) return finish_error(a, rcode::NOTIMP, kNoEde);
  // RFC 6891 §6.1.3: a version we do not implement gets BADVERS (and our version, 0).
  if (q.has_edns && q.edns_version > 0) return finish_error(a, rcode::BADVERS, kNoEde);
  // RFC 6891 §6.1.1: OPT is a pseudo-RR and cannot be asked for.
  if (q.qtype == zones::rrtype::OPT) return finish_error(a, rcode::FORMERR, kNoEde);
  std::string_view qname(reinterpret_cast<const char*>(q.qname_lower), q.qname_len);
  if (q.qclass == zones::rrclass::CH) {
    // The server's identity (BIND's convention, RFC 4892 §2 for id.server), only when configured.
    zones::RRsetView id = chaos_rrset(*ctx.snapshot, qname);
    if (!id) return finish_error(a, rcode::REFUSED, wire::ede::NOT_SUPPORTED);
    LookupResult r;
    r.status = LookupStatus::answer;
    if (q.qtype == zones::rrtype::TXT || q.qtype == zones::rrtype::ANY)
      r.answer.push({id, nullptr, id.ttl(), zones::rrclass::CH});
    else
      r.status = LookupStatus::nodata;  // the name exists, the type does not: NOERROR, empty
    // AA clear: no CH zone is served, these are the server's own notes (as BIND, Knot and NSD answer).
    if (!begin_reply(a, reply_flags1(q, false), reply_flags2(q, 0, false)))
      return finish_error(a, rcode::SERVFAIL, kNoEde);
    return write_sections(a, r);
  }
  // RFC 1035 §3.2.4: zones here are class IN only; other classes (and QCLASS ANY) are not ours to answer.
  if (q.qclass != zones::rrclass::IN) return finish_error(a, rcode::REFUSED, wire::ede::NOT_SUPPORTED);
  // RFC 5936 §4.2: AXFR is a TCP exchange; over UDP it is not implemented (Knot and NSD agree).
  if (q.qtype == zones::rrtype::AXFR && !ctx.tcp) return finish_error(a, rcode::NOTIMP, kNoEde);

  // Stage: view. A request signed with a key a view lists selects the first such view (BIND's
  // match-clients { key ...; }); otherwise the client's address, and the local address where a view
  // has match_destinations, decide; first match wins.
  const zones::Snapshot& snap = *ctx.snapshot;
  horizon::ViewId view = ctx.view_override;
  if (view == horizon::kNoView && a.tsig) view = snap.views.match_key(a.key_name());
  if (view == horizon::kNoView)
    view = snap.views.has_destinations() ? snap.views.match(ctx.client, ctx.local) : snap.views.match(ctx.client);
  if (view == horizon::kNoView) return finish_error(a, rcode::REFUSED, wire::ede::NOT_AUTHORITATIVE);
  const zones::ViewData& vd = snap.view_data[view];
  a.view_slot = vd.metrics_slot;  // from here on (BADCOOKIE too) the reply is counted in its view
  if (facts) facts->view = view, facts->view_slot = vd.metrics_slot;
  // RFC 7873 §5.2.3: with require_cookie, a UDP client that sent only a client cookie (or a bad server
  // one) gets BADCOOKIE and a server cookie to retry with; exempt prefixes are served as before.
  if (a.has_cookie && ctx.cookie->require && !ctx.cookie->valid && !ctx.tcp) {
    bool exempt = false;
    for (auto& p : ctx.snapshot->view_data[view].rate_limit.exempt) exempt = exempt || p.contains(ctx.client);
    if (!exempt) return finish_error(a, rcode::BADCOOKIE, kNoEde);
  }

  // RA tells the client whether this view resolves names beyond our zones (RFC 1035 §4.1.1).
  a.ra = vd.recursion && !snap.upstreams.empty() && ctx.forward != nullptr;

  if (q.qtype == zones::rrtype::AXFR || q.qtype == zones::rrtype::IXFR) return answer_transfer(a, in, in_len, vd);

  // Stage: precompiled. The common query's reply, built by these stages at load time, copied.
  if (ctx.precompiled && snap.answers && q.plain()) {
    PrecompiledInput pin{q, view, reply_flags1(q, false), reply_flags2(q, 0, a.ra), a.w.limit()};
    if (size_t n = precompiled_reply(*snap.answers, pin, out)) {
      if (QueryStats* s = ctx.stats) {
        ++s->answered;
        ++s->precompiled;
        if (wire::rcode_of(out) == rcode::NXDOMAIN) ++s->nxdomain;
        count_reply(s, a.view_slot, q.qtype, wire::rcode_of(out));
      }
      return n;
    }
  }

  // Stage: zone. A name in a zone this view lacks is REFUSED, never the other view's data, unless
  // the view forwards: then it goes to the forwarder (cache, then upstreams). Our own zones are
  // always looked up first, so forwarding never shadows or slows an authoritative answer.
  const zones::Zone* zone = vd.zones.find_zone(qname);
  if (!zone) {
    if (!a.ra) return finish_error(a, rcode::REFUSED, wire::ede::NOT_AUTHORITATIVE);
    // Stage: forwarding policy (server/forward/policy.hpp): a single-label name is never asked upstream.
    if (auto route = forward::route_outside_zones(qname, snap.forward); route != forward::Route::forward)
      return answer_single_label(a, vd, route);
    count_forwarded(ctx.stats, a.view_slot, q.qtype);
    // Stage: forwarded. A cached answer goes out through the precompiled stage, with the flags and
    // the limit decided above (AA clear: forwarded data is never ours).
    if (ctx.forwarded)
      if (size_t n = ctx.forwarded->reply(
              snap, PrecompiledInput{q, view, reply_flags1(q, false), reply_flags2(q, 0, a.ra), a.w.limit()}, out)) {
        if (QueryStats* s = ctx.stats) {
          ++s->answered;
          ++s->forward_cached;
          ++s->cache_hits;
        }
        if (ctx.forward) ctx.forward->from_cache = true;
        return n;
      }
    if (ctx.stats) ++ctx.stats->cache_misses;
    ctx.forward->wanted = true;
    ctx.forward->view = view;
    ctx.forward->query = q;
    return 0;
  }

  // Stage: lookup.
  LookupResult result;
  zone->lookup(qname, q.qtype, result);
  if (facts) facts->zone = zone->origin().wire(), facts->wildcard = result.wildcard;
  if (!begin_reply(a, reply_flags1(q, result.authoritative), reply_flags2(q, 0, a.ra)))
    return finish_error(a, rcode::SERVFAIL, kNoEde);
  return write_sections(a, result);
}

}  // namespace

}  // namespace phoenix::query
