#include "policy.hpp"

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "server/wire/format.hpp"
#include "zones/name.hpp"
#include "zones/rrset.hpp"

namespace phoenix::forward {
namespace {

/// The ASCII of `text` (lower-case, no trailing dot) as wire labels at `out`; 0 if it does not fit in `room`.
size_t text_to_wire(std::string_view text, uint8_t* out, size_t room) noexcept {
  size_t n = 0;
  while (!text.empty()) {
    size_t dot = text.find('.');
    std::string_view label = text.substr(0, dot);
    if (label.empty() || label.size() > 63 || n + 1 + label.size() >= room) return 0;
    out[n++] = static_cast<uint8_t>(label.size());
    for (char c : label) out[n++] = zones::lower_octet(static_cast<uint8_t>(c));
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  if (n + 1 > room) return 0;
  out[n++] = 0;
  return n;
}

bool in_domain(std::string_view qname, std::string_view domain_text) {
  uint8_t wire[256];
  size_t n = text_to_wire(domain_text, wire, sizeof wire);
  return n && zones::wire_has_suffix(qname, {reinterpret_cast<const char*>(wire), n});
}

std::vector<std::string> make_locally_served() {
  // RFC 6303 §4.1 (RFC 1918 space), §4.2 (other IPv4), RFC 7793 (100.64.0.0/10), §4.3-4.6 (IPv6).
  std::vector<std::string> z = {"10.in-addr.arpa"};
  for (int i = 16; i <= 31; ++i) z.push_back(std::to_string(i) + ".172.in-addr.arpa");
  z.insert(z.end(), {"168.192.in-addr.arpa", "0.in-addr.arpa", "127.in-addr.arpa", "254.169.in-addr.arpa",
                     "2.0.192.in-addr.arpa", "100.51.198.in-addr.arpa", "113.0.203.in-addr.arpa",
                     "255.255.255.255.in-addr.arpa"});
  for (int i = 64; i <= 127; ++i) z.push_back(std::to_string(i) + ".100.in-addr.arpa");
  std::string zeros;
  for (int i = 0; i < 31; ++i) zeros += "0.";
  z.push_back("0." + zeros + "ip6.arpa");  // ::
  z.push_back("1." + zeros + "ip6.arpa");  // ::1
  z.insert(z.end(), {"d.f.ip6.arpa", "8.e.f.ip6.arpa", "9.e.f.ip6.arpa", "a.e.f.ip6.arpa", "b.e.f.ip6.arpa",
                     "8.b.d.0.1.0.0.2.ip6.arpa"});
  return z;
}

// RFC 6303 §3: the SOA and NS of a locally served zone, with its suggested timers.
constexpr uint32_t kLocalTtl = 10800, kLocalRefresh = 3600, kLocalRetry = 1200, kLocalExpire = 604800,
                   kLocalMinimum = 10800;

}  // namespace

Route route_outside_zones(std::string_view qname, const horizon::ForwardSettings& s) noexcept {
  // One label and the root: "foo". The root itself ("." alone) is not a single-label name.
  bool single = qname.size() >= 2 && static_cast<uint8_t>(qname[0]) + 2u == qname.size();
  if (!single) return Route::forward;
  return s.search_single_label && !s.search_zone.empty() ? Route::search : Route::nxdomain;
}

size_t search_name(std::string_view qname, const horizon::ForwardSettings& s, uint8_t* out) noexcept {
  size_t label = qname.size() - 1;  // the length octet and the label, without the root
  std::memcpy(out, qname.data(), label);
  size_t n = text_to_wire(s.search_zone, out + label, 255 - label);
  return n ? label + n : 0;
}

const std::vector<std::string>& locally_served_zones() {
  static const std::vector<std::string> zones = make_locally_served();
  return zones;
}

namespace {

/// The empty zone for `origin`, with a delegation to each of `inside` (our zones below it).
std::shared_ptr<const zones::Zone> build_local_zone(const zones::Name& origin, const std::vector<const zones::Name*>& inside) {
  zones::ZoneBuilder b(origin);
  static const zones::Name rname = *zones::Name::from_text("nobody.invalid");
  b.add(origin, zones::rrtype::SOA, kLocalTtl,
        zones::rdata_soa(origin, rname, 1, kLocalRefresh, kLocalRetry, kLocalExpire, kLocalMinimum),
        "RFC 6303 locally served zone");
  b.add(origin, zones::rrtype::NS, kLocalTtl, zones::rdata_name(origin), "RFC 6303 locally served zone");
  // A zone of ours inside (10.0.0.0/24's 0.0.10.in-addr.arpa in 10.in-addr.arpa) is delegated to,
  // so that 0.10.in-addr.arpa exists rather than denying everything below it.
  for (auto* child : inside) b.add(*child, zones::rrtype::NS, kLocalTtl, zones::rdata_name(origin), "delegation to our zone");
  std::vector<zones::ZoneIssue> issues;
  return b.build(issues);
}

/// The same empty zones serve every load: built once (immutable, so shared like any zone). Only the
/// ones holding a zone of ours are built per load.
std::shared_ptr<const zones::Zone> shared_local_zone(const zones::Name& origin) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const zones::Zone>> built;
  std::lock_guard lock(mu);
  auto& z = built[origin.wire()];
  if (!z) z = build_local_zone(origin, {});
  return z;
}

}  // namespace

size_t add_locally_served_zones(zones::Snapshot& snap) {
  size_t added = 0;
  for (auto& vd : snap.view_data) {
    if (!vd.recursion) continue;
    std::vector<std::shared_ptr<const zones::Zone>> ours = vd.zones.zones();
    for (auto& text : locally_served_zones()) {
      auto origin = zones::Name::from_text(text);
      bool covered = false;
      std::vector<const zones::Name*> inside;
      for (auto& z : ours) {
        covered = covered || origin->is_subdomain_of(z->origin());
        if (z->origin() != *origin && z->origin().is_subdomain_of(*origin)) inside.push_back(&z->origin());
      }
      if (covered) continue;
      if (auto zone = inside.empty() ? shared_local_zone(*origin) : build_local_zone(*origin, inside)) {
        vd.zones.add(std::move(zone));
        ++vd.local_zones;
        ++added;
      }
    }
  }
  return added;
}

bool is_private_address(const horizon::IpAddr& addr, const std::vector<horizon::IpPrefix>& own) noexcept {
  horizon::IpAddr a = addr.unmapped();
  for (auto& p : own)
    if (p.addr.family == a.family && p.contains(a)) return true;
  const uint8_t* b = a.bytes.data();
  if (a.is_v4()) {
    return b[0] == 10 || b[0] == 127 || b[0] == 0 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
           (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254);
  }
  if ((b[0] & 0xfe) == 0xfc) return true;                 // fc00::/7, unique local (RFC 4193)
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10, link local
  bool zero_prefix = true;
  for (int i = 0; i < 15; ++i) zero_prefix = zero_prefix && b[i] == 0;
  return zero_prefix && (b[15] == 1 || b[15] == 0);        // ::1 and ::
}

std::optional<std::string> rebind_violation(const std::vector<uint8_t>& wire, std::string_view qname,
                                            const horizon::ForwardSettings& s) {
  for (auto& d : s.rebind_allow)
    if (in_domain(qname, d)) return std::nullopt;
  const uint8_t* p = wire.data();
  const size_t len = wire.size();
  if (len < 12) return std::string("(short message)");
  size_t off = 12;
  if (!wire::skip_name(p, len, off) || off + 4 > len) return std::string("(bad question)");
  off += 4;
  const unsigned an = zones::read_u16(p + 6);
  for (unsigned i = 0; i < an; ++i) {
    if (!wire::skip_name(p, len, off) || off + 10 > len) return std::string("(bad record)");
    uint16_t type = zones::read_u16(p + off);
    uint16_t rclass = zones::read_u16(p + off + 2);
    size_t rdlen = zones::read_u16(p + off + 8);
    if (off + 10 + rdlen > len) return std::string("(bad record)");
    const uint8_t* rd = p + off + 10;
    horizon::IpAddr a;
    bool is_addr = false;
    if (rclass == zones::rrclass::IN && type == zones::rrtype::A && rdlen == 4) {
      std::memcpy(a.bytes.data(), rd, 4);
      is_addr = true;
    } else if (rclass == zones::rrclass::IN && type == zones::rrtype::AAAA && rdlen == 16) {
      a.family = horizon::IpAddr::Family::v6;
      std::memcpy(a.bytes.data(), rd, 16);
      is_addr = true;
    }
    if (is_addr && is_private_address(a, s.own_subnets)) return a.to_string();
    off += 10 + rdlen;
  }
  return std::nullopt;
}

}  // namespace phoenix::forward
