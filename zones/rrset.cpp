#include "rrset.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace phoenix::zones {
namespace {
struct TypeName {
  uint16_t code;
  const char* text;
};
constexpr TypeName kTypes[] = {{rrtype::A, "A"},         {rrtype::NS, "NS"},     {rrtype::CNAME, "CNAME"},
                               {rrtype::SOA, "SOA"},     {rrtype::PTR, "PTR"},   {rrtype::HINFO, "HINFO"},
                               {rrtype::MX, "MX"},       {rrtype::TXT, "TXT"},   {rrtype::AAAA, "AAAA"},
                               {rrtype::SRV, "SRV"},     {rrtype::DNAME, "DNAME"}, {rrtype::OPT, "OPT"},
                               {rrtype::DS, "DS"},       {rrtype::IXFR, "IXFR"}, {rrtype::AXFR, "AXFR"},
                               {rrtype::ANY, "ANY"},     {99, "SPF"},            {257, "CAA"},
                               {46, "RRSIG"},            {47, "NSEC"},           {48, "DNSKEY"},
                               {50, "NSEC3"},            {51, "NSEC3PARAM"},     {52, "TLSA"},
                               {64, "SVCB"},             {65, "HTTPS"},          {35, "NAPTR"},
                               {44, "SSHFP"}};

void put_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
}  // namespace

std::optional<uint16_t> type_from_text(std::string_view text) {
  for (auto& t : kTypes)
    if (strncasecmp(text.data(), t.text, text.size()) == 0 && std::strlen(t.text) == text.size()) return t.code;
  if (text.size() > 4 && strncasecmp(text.data(), "TYPE", 4) == 0) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(text.data() + 4, text.data() + text.size(), v);
    if (ec == std::errc{} && p == text.data() + text.size() && v <= 65535) return static_cast<uint16_t>(v);
  }
  return std::nullopt;
}

std::string type_to_text(uint16_t type) {
  for (auto& t : kTypes)
    if (t.code == type) return t.text;
  return "TYPE" + std::to_string(type);
}

std::optional<RdataNames> rdata_names(uint16_t type) {
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
      return RdataNames{0, false, true};
    case rrtype::SOA:
      return RdataNames{0, true, true};
    case rrtype::MX:
      return RdataNames{2, false, true};
    case rrtype::SRV:
      return RdataNames{6, false, false};
    default:
      return std::nullopt;
  }
}

size_t wire_name_length(const uint8_t* p, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint8_t l = p[i];
    if (l == 0) return i + 1 <= kMaxNameWire ? i + 1 : 0;
    if (l > kMaxLabel) return 0;
    i += l + 1u;
  }
  return 0;
}

bool rdata_valid(uint16_t type, std::string_view rdata) {
  auto p = reinterpret_cast<const uint8_t*>(rdata.data());
  size_t n = rdata.size();
  switch (type) {
    case rrtype::A:
      return n == 4;
    case rrtype::AAAA:
      return n == 16;
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::DNAME:
      return wire_name_length(p, n) == n;
    case rrtype::MX:
      return n > 2 && wire_name_length(p + 2, n - 2) == n - 2;
    case rrtype::SRV:
      return n > 6 && wire_name_length(p + 6, n - 6) == n - 6;
    case rrtype::SOA: {
      size_t a = wire_name_length(p, n);
      if (!a) return false;
      size_t b = wire_name_length(p + a, n - a);
      return b && a + b + 20 == n;
    }
    case rrtype::TXT: {
      if (n == 0) return false;
      for (size_t i = 0; i < n; i += p[i] + 1u)
        if (i + p[i] + 1u > n) return false;
      return true;
    }
    default:
      return n <= 65535;
  }
}

std::string rdata_to_text(uint16_t type, std::string_view rdata) {
  auto p = reinterpret_cast<const uint8_t*>(rdata.data());
  size_t n = rdata.size();
  auto name_at = [&](size_t off) {
    size_t l = wire_name_length(p + off, n - off);
    return Name::from_wire(rdata.substr(off, l)).to_text();
  };
  char buf[INET6_ADDRSTRLEN];
  switch (type) {
    case rrtype::A:
      if (n == 4) return inet_ntop(AF_INET, p, buf, sizeof buf);
      break;
    case rrtype::AAAA:
      if (n == 16) return inet_ntop(AF_INET6, p, buf, sizeof buf);
      break;
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::DNAME:
      return name_at(0);
    case rrtype::MX:
      return std::to_string(read_u16(p)) + " " + name_at(2);
    case rrtype::SRV:
      return std::to_string(read_u16(p)) + " " + std::to_string(read_u16(p + 2)) + " " +
             std::to_string(read_u16(p + 4)) + " " + name_at(6);
    case rrtype::SOA: {
      size_t a = wire_name_length(p, n);
      size_t b = wire_name_length(p + a, n - a);
      const uint8_t* t = p + a + b;
      return name_at(0) + " " + name_at(a) + " " + std::to_string(read_u32(t)) + " " + std::to_string(read_u32(t + 4)) +
             " " + std::to_string(read_u32(t + 8)) + " " + std::to_string(read_u32(t + 12)) + " " +
             std::to_string(read_u32(t + 16));
    }
    case rrtype::TXT: {
      std::string out;
      for (size_t i = 0; i < n; i += p[i] + 1u) {
        if (!out.empty()) out += ' ';
        out += '"';
        for (size_t k = 1; k <= p[i]; ++k) {
          auto c = p[i + k];
          if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
          } else if (c < 32 || c >= 127) {
            char e[5];
            snprintf(e, sizeof e, "\\%03u", c);
            out += e;
          } else {
            out += static_cast<char>(c);
          }
        }
        out += '"';
      }
      return out;
    }
    default:
      break;
  }
  // RFC 3597 generic form.
  std::string out = "\\# " + std::to_string(n);
  if (n) out += ' ';
  for (size_t i = 0; i < n; ++i) {
    char h[3];
    snprintf(h, sizeof h, "%02x", p[i]);
    out += h;
  }
  return out;
}

std::string rdata_name(const Name& target) { return target.wire(); }

std::string rdata_soa(const Name& mname, const Name& rname, uint32_t serial, uint32_t refresh, uint32_t retry,
                      uint32_t expire, uint32_t minimum) {
  std::string out = mname.wire() + rname.wire();
  for (uint32_t v : {serial, refresh, retry, expire, minimum}) put_u32(out, v);
  return out;
}

bool encode_rrset(uint16_t type, uint32_t ttl, const std::vector<std::string_view>& rdata, std::string& out) {
  if (rdata.size() > 0xffff) return false;
  size_t bytes = 0;
  for (auto rd : rdata) {
    if (rd.size() > 0xffff) return false;
    bytes += 2 + rd.size();
  }
  if (bytes > 0xffffffffu) return false;
  size_t at = out.size();
  out.resize(at + RRsetView::kHeader);
  auto p = reinterpret_cast<uint8_t*>(out.data() + at);
  write_u16(p, type);
  write_u32(p + 2, ttl);
  write_u16(p + 6, static_cast<uint16_t>(rdata.size()));
  write_u32(p + 8, static_cast<uint32_t>(bytes));
  for (auto rd : rdata) {
    uint8_t len[2];
    write_u16(len, static_cast<uint16_t>(rd.size()));
    out.append(reinterpret_cast<const char*>(len), 2);
    out.append(rd);
  }
  return true;
}

RRsetBlob::RRsetBlob(const RRset& rr) {
  std::vector<std::string_view> rd(rr.rdata.begin(), rr.rdata.end());
  if (!encode_rrset(rr.type, rr.ttl, rd, bytes_)) bytes_.clear();
}

}  // namespace phoenix::zones
