// tsig -- RFC 8945 transaction signatures on raw DNS messages: find and parse the TSIG record, verify
// a request, sign its reply, and sign or verify the messages of a multi-message answer (§5.3.1).
// Everything works on (uint8_t*, length) so that any writer's buffer can be signed in place; nothing
// allocates per message (the HMAC context is reused).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "horizon/tsig_keys.hpp"

struct evp_mac_ctx_st;  // OpenSSL's EVP_MAC_CTX, kept out of this header

namespace phoenix::xfr {

inline constexpr uint16_t kTypeTsig = 250;
inline constexpr uint16_t kRcodeNotauth = 9;  ///< the header RCODE of every TSIG error reply (RFC 8945 §5.2)
/// Fudge written in our signatures: RFC 8945 §10 recommends 300 seconds.
inline constexpr uint16_t kDefaultFudge = 300;
inline constexpr size_t kMaxMac = 64;  ///< HMAC-SHA512

/// TSIG error field values (RFC 8945 §3, IANA "DNS RCODEs").
namespace tsig_error {
inline constexpr uint16_t NOERROR = 0, BADSIG = 16, BADKEY = 17, BADTIME = 18, BADTRUNC = 22;
}

/// A TSIG record as it sits in a message; the pointers point into that message.
struct TsigRecord {
  size_t offset = 0;  ///< where the record starts: the length of the message without it
  uint8_t key_name[256];       ///< lower-cased, uncompressed wire form
  size_t key_name_len = 0;
  uint8_t algorithm[256];      ///< lower-cased wire form
  size_t algorithm_len = 0;
  uint64_t time_signed = 0;    ///< 48 bits
  uint16_t fudge = 0;
  const uint8_t* mac = nullptr;
  uint16_t mac_len = 0;
  uint16_t original_id = 0;
  uint16_t error = 0;
  const uint8_t* other = nullptr;
  uint16_t other_len = 0;
};

enum class TsigParse { absent, ok, malformed };

/// Walks the whole message. `ok`: a well-formed TSIG is its last additional record; `absent`: no TSIG
/// anywhere; `malformed`: the message does not parse, a TSIG is anywhere else or not well-formed
/// (RFC 8945 §5.1: FORMERR).
TsigParse find_tsig(const uint8_t* msg, size_t len, TsigRecord& out) noexcept;

/// The outcome of a verification; `formerr` answers FORMERR without TSIG, the others NOTAUTH with the
/// matching TSIG error (RFC 8945 §5.2).
enum class TsigStatus { unsigned_message, ok, formerr, badkey, badsig, badtime, badtrunc };
uint16_t tsig_error_code(TsigStatus s);
const char* tsig_status_text(TsigStatus s);

/// What signing the reply needs: the key, the request's MAC and times, the TSIG error to report.
struct TsigContext {
  const horizon::TsigKey* key = nullptr;  ///< nullptr: no key (unsigned, or BADKEY)
  uint8_t key_name[256];                  ///< as the request gave it (the BADKEY reply echoes it)
  size_t key_name_len = 0;
  uint8_t algorithm[256];
  size_t algorithm_len = 0;
  uint8_t mac[kMaxMac];  ///< the request MAC, then each signed message's (RFC 8945 §5.3.1)
  size_t mac_len = 0;
  uint64_t request_time = 0;
  uint16_t error = tsig_error::NOERROR;
  bool signed_request = false;
};

/// Bytes the TSIG record of a message signed with `key` takes at most (the writer reserves them).
size_t tsig_space(const horizon::TsigKey& key);
/// The same upper bound for any key: what a writer reserves before it knows the key.
inline constexpr size_t kMaxTsigSpace = 256 + 10 + 256 + 16 + kMaxMac + 6;

/// Verifies a request at `now` (seconds since the epoch) against `keys`: key name and algorithm
/// (BADKEY), MAC (BADSIG, checked before the time, RFC 8945 §5.2.2), time within fudge (BADTIME), a
/// truncated MAC (BADTRUNC: we accept only full-length MACs; shorter than RFC 8945 §5.2.2.1 allows is
/// FORMERR). `ctx` receives what sign_reply() needs, whatever the outcome (after `formerr` and
/// `unsigned_message`, sign_reply() adds nothing).
TsigStatus verify_request(const uint8_t* msg, size_t len, const std::vector<horizon::TsigKey>& keys, uint64_t now,
                          TsigContext& ctx);

/// Appends the reply's TSIG record to the `len` bytes at `msg` (a finished reply, `cap` bytes of room)
/// and bumps ARCOUNT; returns the new length, or 0 if it does not fit (nothing changed then). Signed
/// with the request MAC when the request verified (and for BADTIME/BADTRUNC, with our time in Other
/// Data); BADKEY/BADSIG replies carry a TSIG with an empty MAC (RFC 8945 §5.3.2). The caller sets the
/// header RCODE (NOTAUTH for errors). Afterwards ctx.mac holds this message's MAC.
size_t sign_reply(uint8_t* msg, size_t len, size_t cap, TsigContext& ctx, uint64_t now);

/// Signs a request (we are the client: NOTIFY, tests) and prepares `ctx` to verify its reply.
size_t sign_request(uint8_t* msg, size_t len, size_t cap, const horizon::TsigKey& key, uint64_t now,
                    TsigContext& ctx);

/// Signs the messages of one multi-message answer (AXFR, IXFR over TCP): the first as a reply to the
/// request, each later one over the previous MAC, itself and the timers only (RFC 8945 §5.3.1).
class TsigStreamSigner {
 public:
  explicit TsigStreamSigner(const TsigContext& request) : ctx_(request) {}
  /// As sign_reply(); every message is signed.
  size_t sign(uint8_t* msg, size_t len, size_t cap, uint64_t now);
  size_t count() const { return count_; }
  /// Bytes each message must leave free for its TSIG.
  size_t space() const { return ctx_.key ? tsig_space(*ctx_.key) : kMaxTsigSpace; }

 private:
  TsigContext ctx_;
  size_t count_ = 0;
};

/// The client side of a reply or multi-message answer to a request signed by sign_request(): each
/// message must verify over the previous MAC; unsigned messages in between are allowed (RFC 8945
/// §5.3.1 lets a signer skip up to 99) and are covered by the next signed one, which the last one must be.
class TsigStreamVerifier {
 public:
  explicit TsigStreamVerifier(const TsigContext& request);
  ~TsigStreamVerifier();
  TsigStreamVerifier(const TsigStreamVerifier&) = delete;
  TsigStreamVerifier& operator=(const TsigStreamVerifier&) = delete;

  /// `ok` for a signed message that verifies, `unsigned_message` for one left for the next (at most 99
  /// in a row, then badsig); any error ends the stream.
  TsigStatus verify(const uint8_t* msg, size_t len, uint64_t now);
  /// True once the last message seen was signed and verified (a stream must end on one).
  bool complete() const { return last_ok_; }

 private:
  TsigContext ctx_;
  evp_mac_ctx_st* running_ = nullptr;  ///< open digest over unsigned messages since the last MAC
  size_t messages_ = 0, unsigned_run_ = 0;
  bool last_ok_ = false, failed_ = false;
};

}  // namespace phoenix::xfr
