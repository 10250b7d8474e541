#include "tsig.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>

#include "zones/name.hpp"
#include "zones/rrset.hpp"
#include "server/wire/format.hpp"

namespace phoenix::xfr {
namespace {

using horizon::TsigKey;
using zones::read_u16;
using zones::write_u16;

constexpr uint16_t kClassAny = 255;

// --- HMAC through OpenSSL's EVP_MAC (the HMAC_* calls are deprecated in OpenSSL 3) ---

EVP_MAC* hmac_algorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

const char* digest_name(horizon::TsigAlgorithm a) {
  switch (a) {
    case horizon::TsigAlgorithm::hmac_sha1: return "SHA1";
    case horizon::TsigAlgorithm::hmac_sha224: return "SHA224";
    case horizon::TsigAlgorithm::hmac_sha256: return "SHA256";
    case horizon::TsigAlgorithm::hmac_sha384: return "SHA384";
    case horizon::TsigAlgorithm::hmac_sha512: return "SHA512";
  }
  return "SHA256";
}

bool hmac_init(EVP_MAC_CTX* ctx, const TsigKey& key) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_name(key.algorithm)), 0),
      OSSL_PARAM_construct_end()};
  return ctx && EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.secret.data()), key.secret.size(),
                             params) == 1;
}

void hmac_update(EVP_MAC_CTX* ctx, const uint8_t* p, size_t n) {
  if (n) EVP_MAC_update(ctx, p, n);
}

size_t hmac_final(EVP_MAC_CTX* ctx, uint8_t* out) {
  size_t n = 0;
  if (EVP_MAC_final(ctx, out, &n, kMaxMac) != 1) return 0;
  return n;
}

/// One context per thread, reused for every request and reply that thread signs or verifies.
EVP_MAC_CTX* thread_hmac() {
  struct Holder {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac_algorithm());
    ~Holder() { EVP_MAC_CTX_free(ctx); }
  };
  thread_local Holder h;
  return h.ctx;
}

// --- names ---

/// "a.b" (validated by the key reader: plain labels, no escapes) -> lower-cased wire form in `out`.
size_t text_to_wire(std::string_view text, uint8_t* out) {
  size_t n = 0;
  while (!text.empty()) {
    size_t dot = text.find('.');
    std::string_view label = text.substr(0, dot);
    out[n++] = static_cast<uint8_t>(label.size());
    for (char c : label) out[n++] = zones::lower_octet(static_cast<uint8_t>(c));
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  out[n++] = 0;
  return n;
}

size_t algorithm_wire(horizon::TsigAlgorithm a, uint8_t* out) { return text_to_wire(horizon::tsig_algorithm_name(a), out); }

bool same_wire(const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
  return alen == blen && std::memcmp(a, b, alen) == 0;
}

void write_u48(uint8_t* p, uint64_t v) {
  write_u16(p, static_cast<uint16_t>(v >> 32));
  zones::write_u32(p + 2, static_cast<uint32_t>(v));
}
uint64_t read_u48(const uint8_t* p) { return (uint64_t{read_u16(p)} << 32) | zones::read_u32(p + 2); }

// --- digests (RFC 8945 §4.3) ---

void digest_prior_mac(EVP_MAC_CTX* h, const uint8_t* mac, size_t mac_len) {
  uint8_t size[2];
  write_u16(size, static_cast<uint16_t>(mac_len));
  hmac_update(h, size, 2);
  hmac_update(h, mac, mac_len);
}

/// The message as it was before its TSIG was added: `end` bytes, the header's ID replaced by `id`
/// and ARCOUNT lowered by `tsig_records` (0 when signing, 1 when verifying).
void digest_message(EVP_MAC_CTX* h, const uint8_t* msg, size_t end, uint16_t id, unsigned tsig_records) {
  uint8_t header[12];
  std::memcpy(header, msg, 12);
  write_u16(header, id);
  write_u16(header + 10, static_cast<uint16_t>(read_u16(msg + 10) - tsig_records));
  hmac_update(h, header, 12);
  hmac_update(h, msg + 12, end - 12);
}

struct Variables {
  const uint8_t* key_name;
  size_t key_name_len;
  const uint8_t* algorithm;
  size_t algorithm_len;
  uint64_t time_signed;
  uint16_t fudge;
  uint16_t error;
  const uint8_t* other;
  uint16_t other_len;
};

void digest_variables(EVP_MAC_CTX* h, const Variables& v, bool timers_only) {
  uint8_t b[10];
  if (!timers_only) {
    hmac_update(h, v.key_name, v.key_name_len);
    write_u16(b, kClassAny);
    zones::write_u32(b + 2, 0);  // TTL
    hmac_update(h, b, 6);
    hmac_update(h, v.algorithm, v.algorithm_len);
  }
  write_u48(b, v.time_signed);
  write_u16(b + 6, v.fudge);
  hmac_update(h, b, 8);
  if (timers_only) return;
  write_u16(b, v.error);
  write_u16(b + 2, v.other_len);
  hmac_update(h, b, 4);
  hmac_update(h, v.other, v.other_len);
}

/// Appends the TSIG record and bumps ARCOUNT; 0 if it does not fit.
size_t append_tsig(uint8_t* msg, size_t len, size_t cap, const Variables& v, const uint8_t* mac, size_t mac_len) {
  const size_t rdlen = v.algorithm_len + 16 + mac_len + v.other_len;
  const size_t need = v.key_name_len + 10 + rdlen;
  if (len < 12 || len + need > cap || read_u16(msg + 10) == 0xffff) return 0;
  uint8_t* p = msg + len;
  std::memcpy(p, v.key_name, v.key_name_len);  // never compressed: the record stays self-contained
  p += v.key_name_len;
  write_u16(p, kTypeTsig);
  write_u16(p + 2, kClassAny);
  zones::write_u32(p + 4, 0);
  write_u16(p + 8, static_cast<uint16_t>(rdlen));
  p += 10;
  std::memcpy(p, v.algorithm, v.algorithm_len);
  p += v.algorithm_len;
  write_u48(p, v.time_signed);
  write_u16(p + 6, v.fudge);
  write_u16(p + 8, static_cast<uint16_t>(mac_len));
  p += 10;
  if (mac_len) std::memcpy(p, mac, mac_len);
  p += mac_len;
  write_u16(p, read_u16(msg));  // Original ID: the message's own
  write_u16(p + 2, v.error);
  write_u16(p + 4, v.other_len);
  p += 6;
  if (v.other_len) std::memcpy(p, v.other, v.other_len);
  write_u16(msg + 10, static_cast<uint16_t>(read_u16(msg + 10) + 1));
  return len + need;
}

bool within_fudge(uint64_t now, uint64_t signed_at, uint16_t fudge) {
  uint64_t diff = now > signed_at ? now - signed_at : signed_at - now;
  return diff <= fudge;
}

/// Signs `msg` with ctx's key over [prior MAC], the message and the variables; stores the new MAC.
size_t sign_with(uint8_t* msg, size_t len, size_t cap, TsigContext& ctx, const Variables& v, bool with_prior,
                 bool timers_only) {
  EVP_MAC_CTX* h = thread_hmac();
  if (len < 12 || !hmac_init(h, *ctx.key)) return 0;
  if (with_prior) digest_prior_mac(h, ctx.mac, ctx.mac_len);
  digest_message(h, msg, len, read_u16(msg), 0);
  digest_variables(h, v, timers_only);
  uint8_t mac[kMaxMac];
  size_t mac_len = hmac_final(h, mac);
  if (mac_len == 0) return 0;
  size_t out = append_tsig(msg, len, cap, v, mac, mac_len);
  if (out) {
    std::memcpy(ctx.mac, mac, mac_len);
    ctx.mac_len = mac_len;
  }
  return out;
}

Variables variables_of(const TsigRecord& t) {
  return {t.key_name, t.key_name_len, t.algorithm, t.algorithm_len, t.time_signed,
          t.fudge,    t.error,        t.other,     t.other_len};
}

/// MAC sizes RFC 8945 §5.2.2.1 allows at all: up to the full output, and at least half of it and 10.
bool mac_size_allowed(size_t mac_len, size_t full) { return mac_len <= full && mac_len >= std::max<size_t>(10, full / 2); }

}  // namespace

TsigParse find_tsig(const uint8_t* msg, size_t len, TsigRecord& out) noexcept {
  if (len < 12) return TsigParse::malformed;
  const unsigned qd = read_u16(msg + 4), an = read_u16(msg + 6), ns = read_u16(msg + 8), ar = read_u16(msg + 10);
  size_t off = 12;
  for (unsigned i = 0; i < qd; ++i) {
    if (!wire::skip_name(msg, len, off) || off + 4 > len) return TsigParse::malformed;
    off += 4;
  }
  const unsigned records = an + ns + ar;
  for (unsigned i = 0; i < records; ++i) {
    const size_t start = off;
    // Each owner is decoded into key_name: the last one, the TSIG's, is what stays.
    if ((out.key_name_len = wire::decode_name(msg, len, off, out.key_name, true)) == 0 || off + 10 > len)
      return TsigParse::malformed;
    const uint16_t type = read_u16(msg + off), rrclass = read_u16(msg + off + 2);
    const size_t rdlen = read_u16(msg + off + 8);
    const size_t rdata = off + 10;
    if (rdata + rdlen > len) return TsigParse::malformed;
    off = rdata + rdlen;
    if (type != kTypeTsig) continue;
    // RFC 8945 §5.1: one TSIG only, as the very last record; class ANY and TTL 0 (§4.2), the TTL
    // being the one field outside the MAC.
    if (i + 1 != records || ar == 0 || rrclass != kClassAny || zones::read_u32(msg + off - rdlen - 6) != 0 ||
        off != len)
      return TsigParse::malformed;
    out.offset = start;
    // The algorithm name: uncompressed (RFC 8945 §4.2) and inside the rdata.
    size_t p = rdata, total = 0;
    const size_t end = rdata + rdlen;
    for (;;) {
      if (p >= end) return TsigParse::malformed;
      uint8_t l = msg[p];
      if ((l & 0xc0) || total + l + 1u > 255 || p + l + 1u > end) return TsigParse::malformed;
      out.algorithm[total] = l;
      for (size_t k = 1; k <= l; ++k) out.algorithm[total + k] = zones::lower_octet(msg[p + k]);
      total += l + 1u;
      p += l + 1u;
      if (l == 0) break;
    }
    out.algorithm_len = total;
    if (p + 10 > end) return TsigParse::malformed;
    out.time_signed = read_u48(msg + p);
    out.fudge = read_u16(msg + p + 6);
    out.mac_len = read_u16(msg + p + 8);
    p += 10;
    if (p + out.mac_len + 6 > end) return TsigParse::malformed;
    out.mac = msg + p;
    p += out.mac_len;
    out.original_id = read_u16(msg + p);
    out.error = read_u16(msg + p + 2);
    out.other_len = read_u16(msg + p + 4);
    p += 6;
    if (p + out.other_len != end) return TsigParse::malformed;
    out.other = msg + p;
    return TsigParse::ok;
  }
  return off == len ? TsigParse::absent : TsigParse::malformed;
}

uint16_t tsig_error_code(TsigStatus s) {
  switch (s) {
    case TsigStatus::badkey: return tsig_error::BADKEY;
    case TsigStatus::badsig: return tsig_error::BADSIG;
    case TsigStatus::badtime: return tsig_error::BADTIME;
    case TsigStatus::badtrunc: return tsig_error::BADTRUNC;
    default: return tsig_error::NOERROR;
  }
}

const char* tsig_status_text(TsigStatus s) {
  switch (s) {
    case TsigStatus::unsigned_message: return "unsigned";
    case TsigStatus::ok: return "ok";
    case TsigStatus::formerr: return "malformed TSIG";
    case TsigStatus::badkey: return "BADKEY";
    case TsigStatus::badsig: return "BADSIG";
    case TsigStatus::badtime: return "BADTIME";
    case TsigStatus::badtrunc: return "BADTRUNC";
  }
  return "?";
}

size_t tsig_space(const TsigKey& key) {
  uint8_t wire[256];
  return text_to_wire(key.name, wire) + 10 + algorithm_wire(key.algorithm, wire) + 16 +
         horizon::tsig_mac_size(key.algorithm) + 6;
}

TsigStatus verify_request(const uint8_t* msg, size_t len, const std::vector<TsigKey>& keys, uint64_t now,
                          TsigContext& ctx) {
  ctx.key = nullptr;
  ctx.mac_len = 0;
  ctx.error = tsig_error::NOERROR;
  ctx.signed_request = false;
  TsigRecord t;
  switch (find_tsig(msg, len, t)) {
    case TsigParse::absent: return TsigStatus::unsigned_message;
    case TsigParse::malformed: return TsigStatus::formerr;
    case TsigParse::ok: break;
  }
  ctx.signed_request = true;
  std::memcpy(ctx.key_name, t.key_name, t.key_name_len);
  ctx.key_name_len = t.key_name_len;
  std::memcpy(ctx.algorithm, t.algorithm, t.algorithm_len);
  ctx.algorithm_len = t.algorithm_len;
  ctx.request_time = t.time_signed;

  uint8_t wire[256];
  for (const auto& k : keys) {
    size_t n = text_to_wire(k.name, wire);
    if (!same_wire(wire, n, t.key_name, t.key_name_len)) continue;
    n = algorithm_wire(k.algorithm, wire);
    if (same_wire(wire, n, t.algorithm, t.algorithm_len)) ctx.key = &k;
    break;  // names are unique: a known name with another algorithm is BADKEY too
  }
  if (!ctx.key) {
    ctx.error = tsig_error::BADKEY;
    return TsigStatus::badkey;
  }
  const size_t full = horizon::tsig_mac_size(ctx.key->algorithm);
  if (!mac_size_allowed(t.mac_len, full)) {
    ctx.signed_request = false;  // FORMERR goes back without a TSIG, like any malformed request
    return TsigStatus::formerr;
  }

  EVP_MAC_CTX* h = thread_hmac();
  uint8_t mac[kMaxMac];
  size_t mac_len = 0;
  if (hmac_init(h, *ctx.key)) {
    digest_message(h, msg, t.offset, t.original_id, 1);
    digest_variables(h, variables_of(t), false);
    mac_len = hmac_final(h, mac);
  }
  if (mac_len != full || CRYPTO_memcmp(mac, t.mac, t.mac_len) != 0) {
    ctx.error = tsig_error::BADSIG;
    return TsigStatus::badsig;
  }
  // The reply covers the MAC as the request carried it (RFC 8945 §4.3.1).
  std::memcpy(ctx.mac, t.mac, t.mac_len);
  ctx.mac_len = t.mac_len;
  if (!within_fudge(now, t.time_signed, t.fudge)) {
    ctx.error = tsig_error::BADTIME;
    return TsigStatus::badtime;
  }
  if (t.mac_len < full) {
    ctx.error = tsig_error::BADTRUNC;
    return TsigStatus::badtrunc;
  }
  return TsigStatus::ok;
}

size_t sign_reply(uint8_t* msg, size_t len, size_t cap, TsigContext& ctx, uint64_t now) {
  if (!ctx.signed_request) return len;
  Variables v{ctx.key_name, ctx.key_name_len, ctx.algorithm, ctx.algorithm_len, now, kDefaultFudge, ctx.error,
              nullptr, 0};
  if (!ctx.key || ctx.error == tsig_error::BADKEY || ctx.error == tsig_error::BADSIG) {
    // No signature for a key we do not have or a MAC that failed (RFC 8945 §5.3.2).
    return append_tsig(msg, len, cap, v, nullptr, 0);
  }
  uint8_t now_wire[6];
  if (ctx.error == tsig_error::BADTIME) {
    // The request's time stays in Time Signed and ours goes to Other Data, so that the client can
    // see the skew (RFC 8945 §5.2.3; BIND and Knot answer the same way).
    v.time_signed = ctx.request_time;
    write_u48(now_wire, now);
    v.other = now_wire;
    v.other_len = 6;
  }
  return sign_with(msg, len, cap, ctx, v, true, false);
}

size_t sign_request(uint8_t* msg, size_t len, size_t cap, const TsigKey& key, uint64_t now, TsigContext& ctx) {
  ctx.key = &key;
  ctx.key_name_len = text_to_wire(key.name, ctx.key_name);
  ctx.algorithm_len = algorithm_wire(key.algorithm, ctx.algorithm);
  ctx.error = tsig_error::NOERROR;
  ctx.signed_request = true;
  ctx.request_time = now;
  ctx.mac_len = 0;
  Variables v{ctx.key_name, ctx.key_name_len, ctx.algorithm, ctx.algorithm_len, now, kDefaultFudge, 0, nullptr, 0};
  return sign_with(msg, len, cap, ctx, v, false, false);
}

size_t TsigStreamSigner::sign(uint8_t* msg, size_t len, size_t cap, uint64_t now) {
  size_t out;
  if (count_ == 0) {
    out = sign_reply(msg, len, cap, ctx_, now);
  } else {
    Variables v{ctx_.key_name, ctx_.key_name_len, ctx_.algorithm, ctx_.algorithm_len, now, kDefaultFudge, 0,
                nullptr, 0};
    out = sign_with(msg, len, cap, ctx_, v, true, true);
  }
  if (out) ++count_;
  return out;
}

TsigStreamVerifier::TsigStreamVerifier(const TsigContext& request)
    : ctx_(request), running_(EVP_MAC_CTX_new(hmac_algorithm())) {}

TsigStreamVerifier::~TsigStreamVerifier() { EVP_MAC_CTX_free(running_); }

TsigStatus TsigStreamVerifier::verify(const uint8_t* msg, size_t len, uint64_t now) {
  auto fail = [&](TsigStatus s) {
    failed_ = true;
    last_ok_ = false;
    return s;
  };
  if (failed_ || !ctx_.key || !running_) return fail(TsigStatus::badsig);
  TsigRecord t;
  TsigParse parsed = find_tsig(msg, len, t);
  if (parsed == TsigParse::malformed) return fail(TsigStatus::formerr);
  const bool first = messages_ == 0;
  if (unsigned_run_ == 0) {
    // A new digest: over the previous MAC, then every message up to the next signed one.
    if (!hmac_init(running_, *ctx_.key)) return fail(TsigStatus::badsig);
    digest_prior_mac(running_, ctx_.mac, ctx_.mac_len);
  }
  if (parsed == TsigParse::absent) {
    // The reply to a signed request must be signed; later messages may skip (RFC 8945 §5.3.1).
    if (first || ++unsigned_run_ > 99) return fail(TsigStatus::badsig);
    hmac_update(running_, msg, len);
    last_ok_ = false;
    return TsigStatus::unsigned_message;
  }
  if (!same_wire(t.key_name, t.key_name_len, ctx_.key_name, ctx_.key_name_len) ||
      !same_wire(t.algorithm, t.algorithm_len, ctx_.algorithm, ctx_.algorithm_len))
    return fail(TsigStatus::badkey);
  if (t.mac_len == 0) {
    // The server's BADKEY/BADSIG answer, unsigned by design.
    return fail(t.error == tsig_error::BADKEY ? TsigStatus::badkey : TsigStatus::badsig);
  }
  const size_t full = horizon::tsig_mac_size(ctx_.key->algorithm);
  if (!mac_size_allowed(t.mac_len, full)) return fail(TsigStatus::formerr);
  digest_message(running_, msg, t.offset, t.original_id, 1);
  digest_variables(running_, variables_of(t), !first);
  uint8_t mac[kMaxMac];
  size_t mac_len = hmac_final(running_, mac);
  if (mac_len != full || CRYPTO_memcmp(mac, t.mac, t.mac_len) != 0) return fail(TsigStatus::badsig);
  if (t.error == tsig_error::BADTIME) return fail(TsigStatus::badtime);
  if (t.error != tsig_error::NOERROR) return fail(TsigStatus::badsig);
  if (!within_fudge(now, t.time_signed, t.fudge)) return fail(TsigStatus::badtime);
  if (t.mac_len < full) return fail(TsigStatus::badtrunc);
  std::memcpy(ctx_.mac, t.mac, t.mac_len);
  ctx_.mac_len = t.mac_len;
  ++messages_;
  unsigned_run_ = 0;
  last_ok_ = true;
  return TsigStatus::ok;
}

}  // namespace phoenix::xfr
