// fuzz_tsig -- any bytes as a signed DNS message (and as an IXFR request, whose serial is read): find_tsig must stay inside the input and describe a
// record that ends exactly at its end; verification (against the key the corpus was signed with, so
// valid inputs reach the HMAC) must not crash, and whatever it decides, signing the reply must fit the
// room tsig_space() promised and leave a message whose TSIG parses again.
#include <cstdint>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/xfr/ixfr_history.hpp"
#include "server/xfr/tsig.hpp"
#include "zones/rrset.hpp"

using namespace phoenix;

namespace {

const std::vector<horizon::TsigKey>& keys() {
  static const std::vector<horizon::TsigKey> k = [] {
    std::vector<horizon::TsigKey> out;
    horizon::Diagnostics diag;
    auto j = nlohmann::json::parse(R"({"xfr-key": {"algorithm": "hmac-sha256",
      "secret": "ypiLzrz0E9kwNXG5prjzk76f2lTc9EatxYlvYCPI7vE="},
      "other": {"algorithm": "hmac-sha1", "secret": "Zm9vYmFy"}})");
    horizon::read_tsig_keys_json(j, "fuzz", "", out, diag);
    return out;
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint32_t serial = 0;
  (void)xfr::ixfr_request_serial(data, size, serial);
  xfr::TsigRecord t;
  auto parsed = xfr::find_tsig(data, size, t);
  if (parsed == xfr::TsigParse::ok) {
    const uint8_t* end = data + size;
    if (t.offset < 12 || t.offset >= size || t.mac < data || t.mac + t.mac_len > end || t.other + t.other_len != end)
      __builtin_trap();
    if (t.key_name_len == 0 || t.key_name_len > 255 || t.algorithm_len == 0 || t.algorithm_len > 255) __builtin_trap();
  }
  xfr::TsigContext ctx;
  auto status = xfr::verify_request(data, size, keys(), 1796119164, ctx);
  if ((status == xfr::TsigStatus::unsigned_message) != (parsed == xfr::TsigParse::absent)) __builtin_trap();
  if (parsed == xfr::TsigParse::malformed && status != xfr::TsigStatus::formerr) __builtin_trap();
  if (parsed != xfr::TsigParse::ok || size < 12) return 0;
  // The reply: the request without its TSIG, then signed (or the unsigned error TSIG).
  // Sized once, then filled: GCC 12 at -O2 warns (stringop-overflow) on a vector grown by resize here.
  const size_t len = t.offset;
  std::vector<uint8_t> reply(len + (ctx.key ? xfr::tsig_space(*ctx.key) : xfr::kMaxTsigSpace));
  std::memcpy(reply.data(), data, len);
  reply[2] |= 0x80;
  zones::write_u16(reply.data() + 10, static_cast<uint16_t>(zones::read_u16(reply.data() + 10) - 1));
  size_t n = xfr::sign_reply(reply.data(), len, reply.size(), ctx, 1796119164);
  if (n == 0 || n > reply.size()) __builtin_trap();
  xfr::TsigRecord again;
  // The request's own records may be malformed past the question; only then may the reply not parse.
  if (xfr::find_tsig(reply.data(), n, again) == xfr::TsigParse::ok && again.error != ctx.error) __builtin_trap();
  return 0;
}
