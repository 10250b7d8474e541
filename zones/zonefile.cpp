#include "zonefile.hpp"

#include <ldns/ldns.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace phoenix::zones {
namespace {

constexpr size_t kMaxErrors = 50;           // enough to fix a file, not enough to flood a log
constexpr uint32_t kDefaultTtl = 3600;       // used until a $TTL line (RFC 2308 §4) sets one

/// Owns what ldns hands back, so every exit path frees it.
struct LdnsState {
  ldns_rdf* origin = nullptr;
  ldns_rdf* prev = nullptr;
  ldns_buffer* rdata = nullptr;
  ~LdnsState() {
    if (origin) ldns_rdf_deep_free(origin);
    if (prev) ldns_rdf_deep_free(prev);
    if (rdata) ldns_buffer_free(rdata);
  }
};

std::string line_of(int line) { return "line " + std::to_string(line); }

/// Finds the line of the first token at or after `off` (skipping blanks and ; comments), counting
/// newlines from a remembered (offset, line) pair so the whole file is scanned once. ldns's own
/// counter is not used for this: it sometimes reads the blank and comment lines before a record in
/// the same call, and multi-line records end lines after they start.
class LineFinder {
 public:
  explicit LineFinder(std::string_view text) : text_(text) {}
  int line_at_token(size_t off) {
    while (off < text_.size()) {
      char c = text_[off];
      if (c == ';') {
        while (off < text_.size() && text_[off] != '\n') ++off;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++off;
      } else {
        break;
      }
    }
    if (off < pos_) {  // never happens with a forward-only reader; restart to stay correct
      pos_ = 0;
      line_ = 1;
    }
    for (; pos_ < off && pos_ < text_.size(); ++pos_)
      if (text_[pos_] == '\n') ++line_;
    return line_;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

std::shared_ptr<const Zone> load_text(std::string& text, const Name& origin, const std::string& display,
                                      horizon::Diagnostics& diag) {
  FILE* fp = fmemopen(text.data(), text.size(), "r");
  if (!fp) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone text");
    return nullptr;
  }
  // Closes the stream on every return below.
  std::unique_ptr<FILE, int (*)(FILE*)> closer(fp, std::fclose);
  const size_t max_records = text.size() + 16;
  LineFinder lines(text);
  const std::string tag = "[" + origin.to_text() + "] ";
  LdnsState st;
  // ldns takes the origin in presentation form; relative owners and "@" are completed with it.
  std::string origin_text = origin.to_text();
  if (ldns_str2rdf_dname(&st.origin, origin_text.c_str()) != LDNS_STATUS_OK) {
    diag.error(display, "", tag + "invalid origin");
    return nullptr;
  }
  st.rdata = ldns_buffer_new(512);
  if (!st.rdata) {
    diag.error(display, "", tag + "out of memory");
    return nullptr;
  }
  ZoneBuilder builder(origin);
  uint32_t default_ttl = kDefaultTtl;
  int line = 1;
  size_t errors = 0;
  bool fatal = false;
  // Each call consumes at least one line or token, so the loop ends at EOF; the bound is a backstop.
  for (size_t calls = 0; calls <= max_records && !std::feof(fp); ++calls) {
    ldns_rr* rr = nullptr;
    long start_off = std::ftell(fp);
    ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &default_ttl, &st.origin, &st.prev, &line);
    if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL || s == LDNS_STATUS_SYNTAX_ORIGIN) {
      if (rr) ldns_rr_free(rr);
      continue;
    }
    int where = lines.line_at_token(start_off < 0 ? 0 : static_cast<size_t>(start_off));
    if (s != LDNS_STATUS_OK) {
      if (rr) ldns_rr_free(rr);
      fatal = true;
      if (s == LDNS_STATUS_SYNTAX_INCLUDE)
        diag.error(display, line_of(where), tag + "$INCLUDE is not supported (put the records in this file)");
      else
        diag.error(display, line_of(where), tag + "invalid record (" + ldns_get_errorstr_by_id(s) + ")");
      if (++errors >= kMaxErrors) {
        diag.error(display, line_of(where), tag + "too many errors, giving up");
        break;
      }
      continue;
    }
    if (!rr) continue;
    // RFC 1035 §5.2: one zone, one class. This server answers IN (and CH only for its own identity).
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
      diag.error(display, line_of(where), tag + "class other than IN is not supported");
      fatal = true;
      ldns_rr_free(rr);
      continue;
    }
    const ldns_rdf* owner = ldns_rr_owner(rr);
    std::string_view owner_wire(reinterpret_cast<const char*>(ldns_rdf_data(owner)), ldns_rdf_size(owner));
    ldns_buffer_clear(st.rdata);
    ldns_status ws = ldns_rr_rdata2buffer_wire(st.rdata, rr);
    if (ws != LDNS_STATUS_OK || ldns_buffer_position(st.rdata) > 65535 ||
        wire_name_length(ldns_rdf_data(owner), ldns_rdf_size(owner)) != ldns_rdf_size(owner)) {
      diag.error(display, line_of(where), tag + "invalid record (cannot convert to wire form)");
      fatal = true;
      ldns_rr_free(rr);
      continue;
    }
    std::string_view rdata(reinterpret_cast<const char*>(ldns_buffer_begin(st.rdata)), ldns_buffer_position(st.rdata));
    char lower[kMaxNameWire];
    for (size_t i = 0; i < owner_wire.size(); ++i) lower[i] = static_cast<char>(lower_octet(static_cast<uint8_t>(owner_wire[i])));
    char where_text[32];
    int wn = std::snprintf(where_text, sizeof where_text, "line %d", where);
    builder.add_wire(std::string_view(lower, owner_wire.size()), static_cast<uint16_t>(ldns_rr_get_type(rr)),
                     ldns_rr_ttl(rr), rdata, std::string_view(where_text, static_cast<size_t>(wn)));
    ldns_rr_free(rr);
  }
  std::vector<ZoneIssue> issues;
  auto zone = builder.build(issues);
  for (auto& i : issues) {
    std::string msg = tag + zone_problem_text(i.problem) + " at " + i.owner;
    if (i.fatal) diag.error(display, i.detail, msg);
    else diag.warning(display, i.detail, msg);
  }
  if (fatal) return nullptr;
  return zone;
}

}  // namespace

std::shared_ptr<const Zone> load_zone_file(const std::filesystem::path& path, const Name& origin,
                                           const std::string& display, horizon::Diagnostics& diag) {
  // Only regular files: a FIFO or a device (an operator's typo, or /dev/zero) would block or never end.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone file " + path.string() + " (" +
                                (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file") + ")");
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone file " + path.string() + " (" +
                                std::strerror(errno) + ")");
    return nullptr;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone file " + path.string() + " (I/O error)");
    return nullptr;
  }
  return load_zone_text(text, origin, display, diag);
}

std::shared_ptr<const Zone> load_zone_text(std::string_view text, const Name& origin, const std::string& display,
                                           horizon::Diagnostics& diag) {
  if (text.empty()) {
    // fmemopen rejects a zero-size buffer; an empty file is a zone without SOA.
    ZoneBuilder b(origin);
    std::vector<ZoneIssue> issues;
    auto zone = b.build(issues);
    for (auto& i : issues)
      diag.add({i.fatal ? horizon::Severity::error : horizon::Severity::warning, display, i.detail,
                "[" + origin.to_text() + "] " + zone_problem_text(i.problem) + " at " + i.owner});
    return zone;
  }
  std::string copy(text);
  return load_text(copy, origin, display, diag);
}

}  // namespace phoenix::zones
