#include "zonefile.hpp"

#include <ldns/ldns.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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

std::shared_ptr<const Zone> load_stream(FILE* fp, const Name& origin, const std::string& display,
                                        horizon::Diagnostics& diag, size_t max_records) {
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
    int start_line = line;
    ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &default_ttl, &st.origin, &st.prev, &line);
    if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL || s == LDNS_STATUS_SYNTAX_ORIGIN) {
      if (rr) ldns_rr_free(rr);
      continue;
    }
    // Blank and comment lines come back one call each (SYNTAX_EMPTY), so a record starts on the line
    // where its call started; a multi-line record (parentheses) is named by its first line.
    int where = start_line;
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
    std::string rdata(reinterpret_cast<const char*>(ldns_buffer_begin(st.rdata)), ldns_buffer_position(st.rdata));
    builder.add(Name::from_wire(owner_wire), static_cast<uint16_t>(ldns_rr_get_type(rr)), ldns_rr_ttl(rr),
                std::move(rdata), line_of(where));
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
  FILE* fp = std::fopen(path.c_str(), "r");
  if (!fp) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone file " + path.string() + " (" +
                                std::strerror(errno) + ")");
    return nullptr;
  }
  auto size = std::filesystem::file_size(path, ec);
  auto zone = load_stream(fp, origin, display, diag, ec ? 10'000'000 : static_cast<size_t>(size) + 16);
  std::fclose(fp);
  return zone;
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
  FILE* fp = fmemopen(copy.data(), copy.size(), "r");
  if (!fp) {
    diag.error(display, "", "[" + origin.to_text() + "] cannot read zone text");
    return nullptr;
  }
  auto zone = load_stream(fp, origin, display, diag, copy.size() + 16);
  std::fclose(fp);
  return zone;
}

}  // namespace phoenix::zones
