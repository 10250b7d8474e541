#include "zonefile.hpp"

#include "zonefile_fast.hpp"

#include <ldns/ldns.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <stdio_ext.h>
#include <cstring>
#include <fstream>

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

/// The lower-cased wire bytes of an ldns name, into `out`.
void copy_lower(const ldns_rdf* name, std::string& out) {
  out.assign(reinterpret_cast<const char*>(ldns_rdf_data(name)), ldns_rdf_size(name));
  for (auto& c : out) c = static_cast<char>(lower_octet(static_cast<uint8_t>(c)));
}

std::shared_ptr<const Zone> load_text(std::string& text, const Name& origin, const std::string& display,
                                      horizon::Diagnostics& diag, bool fast) {
  FILE* fp = fmemopen(text.data(), text.size(), "r");
  if (!fp) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone text");
    return nullptr;
  }
  // Closes the stream on every return below.
  std::unique_ptr<FILE, int (*)(FILE*)> closer(fp, std::fclose);
  // ldns reads one character at a time; only this thread uses the stream, so skip the lock per call.
  __fsetlocking(fp, FSETLOCKING_BYCALLER);
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
  builder.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1, text.size());
  uint32_t default_ttl = kDefaultTtl;
  int line = 1;
  size_t errors = 0;
  bool fatal = false;
  // The state ldns keeps between records, mirrored for the simple-line parser: the origin, and the
  // previous owner (pushed back into ldns only when ldns reads the next record).
  std::string cur_origin, prev;
  copy_lower(st.origin, cur_origin);
  bool prev_ahead = false;  // `prev` is newer than st.prev
  char where_text[32] = "line ";
  auto add = [&](std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata, int where) {
    auto [end, ec] = std::to_chars(where_text + 5, where_text + sizeof where_text, where);
    builder.add_wire(owner, type, ttl, rdata, std::string_view(where_text, static_cast<size_t>(end - where_text)));
  };
  // ldns reads bytes outside printable ASCII (NUL, CR, form feed, 8-bit) in ways that can depend on
  // where a read starts (the fuzzer found three), so a file with any is left to ldns from start to
  // end: slower, never different. Big generated zone files are plain ASCII.
  fast = fast && std::all_of(text.begin(), text.end(), [](char ch) {
    auto c = static_cast<uint8_t>(ch);
    return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n';
  });
  SimpleRecord simple;
  size_t pos = 0;
  // Each step consumes at least one line or token, so the loop ends at EOF; the bound is a backstop.
  for (size_t calls = 0; calls <= max_records && pos < text.size(); ++calls) {
    if (fast && (pos == 0 || text[pos - 1] == '\n')) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      // ldns reads a $TTL of 0 (or one it cannot parse, which it turns into 0) as "none": 3600.
      SimpleLine kind = parse_simple_line(std::string_view(text).substr(pos, eol - pos), cur_origin, prev,
                                          default_ttl ? default_ttl : kDefaultTtl, simple);
      if (kind != SimpleLine::other) {
        if (kind == SimpleLine::record) {
          add(std::string_view(reinterpret_cast<const char*>(simple.owner), simple.owner_len), simple.type, simple.ttl,
              std::string_view(reinterpret_cast<const char*>(simple.rdata), simple.rdata_len), lines.line_at_token(pos));
          prev.assign(reinterpret_cast<const char*>(simple.owner), simple.owner_len);
          prev_ahead = true;
        }
        pos = eol + 1;
        continue;
      }
    }
    if (prev_ahead) {
      if (st.prev) ldns_rdf_deep_free(st.prev);
      st.prev = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, prev.size(), prev.data());
      prev_ahead = false;
    }
    std::fseek(fp, static_cast<long>(pos), SEEK_SET);
    ldns_rr* rr = nullptr;
    ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &default_ttl, &st.origin, &st.prev, &line);
    long after = std::ftell(fp);
    const size_t start_off = pos;
    pos = after <= static_cast<long>(pos) ? (std::feof(fp) ? text.size() : pos + 1) : static_cast<size_t>(after);
    // ldns can drop its origin (a bad $ORIGIN line): from there on it alone knows what to do.
    if (st.origin) copy_lower(st.origin, cur_origin);
    else fast = false;
    if (st.prev) copy_lower(st.prev, prev);
    else prev.clear();
    if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL || s == LDNS_STATUS_SYNTAX_ORIGIN) {
      if (rr) ldns_rr_free(rr);
      continue;
    }
    int where = lines.line_at_token(start_off);
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
    add(std::string_view(lower, owner_wire.size()), static_cast<uint16_t>(ldns_rr_get_type(rr)), ldns_rr_ttl(rr), rdata,
        where);
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
  std::string text;
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size > 0) {
    text.resize(static_cast<size_t>(size));
    in.read(text.data(), size);
    text.resize(static_cast<size_t>(in.gcount()));  // a file that shrank meanwhile
  }
  if (in.bad()) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone file " + path.string() + " (I/O error)");
    return nullptr;
  }
  if (text.empty()) return load_zone_text(text, origin, display, diag);
  return load_text(text, origin, display, diag, true);
}

std::shared_ptr<const Zone> load_zone_text(std::string_view text, const Name& origin, const std::string& display,
                                           horizon::Diagnostics& diag, bool fast) {
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
  return load_text(copy, origin, display, diag, fast);
}

}  // namespace phoenix::zones
