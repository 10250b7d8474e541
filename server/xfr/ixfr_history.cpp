#include "ixfr_history.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "zones/serial.hpp"
#include "server/wire/format.hpp"

namespace phoenix::xfr {
namespace {

using zones::NodeView;
using zones::RRsetView;

constexpr std::string_view kMagic = "PHOENIX-IXFR\n";
constexpr uint32_t kVersion = 1;

std::string wire(std::string_view w) { return std::string(w); }

DiffRecord soa_of(const zones::Zone& z) {
  RRsetView s = z.soa();
  return {wire(z.apex().owner_wire()), zones::rrtype::SOA, s.ttl(), std::string(*s.begin())};
}

uint32_t soa_serial(const DiffRecord& soa) {
  auto p = reinterpret_cast<const uint8_t*>(soa.rdata.data());
  size_t a = zones::wire_name_length(p, soa.rdata.size());
  size_t b = zones::wire_name_length(p + a, soa.rdata.size() - a);
  return zones::read_u32(p + a + b);
}

void all_records(std::string_view owner, RRsetView rs, std::vector<DiffRecord>& out) {
  for (std::string_view rd : rs) out.push_back({wire(owner), rs.type(), rs.ttl(), std::string(rd)});
}

bool has_rdata(RRsetView rs, std::string_view rd) {
  for (std::string_view r : rs)
    if (r == rd) return true;
  return false;
}

/// `in_a` records of RRset `a` whose rdata `b` lacks go to `out`.
void missing_from(std::string_view owner, RRsetView a, RRsetView b, std::vector<DiffRecord>& out) {
  for (std::string_view rd : a)
    if (!has_rdata(b, rd)) out.push_back({wire(owner), a.type(), a.ttl(), std::string(rd)});
}

// --- the file format: big-endian fields, names and rdata as wire bytes ---

class Writer {
 public:
  void u8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void bytes(std::string_view b) { s_.append(b); }
  void record(const DiffRecord& r) {
    u8(static_cast<uint8_t>(r.owner.size()));
    bytes(r.owner);
    u16(r.type);
    u32(r.ttl);
    u16(static_cast<uint16_t>(r.rdata.size()));
    bytes(r.rdata);
  }
  std::string& str() { return s_; }

 private:
  std::string s_;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t left() const { return s_.size() - pos_; }
  void fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at byte " + std::to_string(pos_);
  }
  std::string_view bytes(size_t n) {
    if (!ok() || n > left()) {
      fail("truncated");
      return {};
    }
    std::string_view out = s_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t number(size_t n) {
    uint64_t v = 0;
    for (unsigned char c : bytes(n)) v = (v << 8) | c;
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(number(1)); }
  uint16_t u16() { return static_cast<uint16_t>(number(2)); }
  uint32_t u32() { return static_cast<uint32_t>(number(4)); }

  bool record(DiffRecord& r) {
    const size_t owner_len = u8();
    std::string_view owner = bytes(owner_len);
    r.type = u16();
    r.ttl = u32();
    std::string_view rdata = bytes(u16());
    if (!ok()) return false;
    if (owner.empty() || zones::wire_name_length(reinterpret_cast<const uint8_t*>(owner.data()), owner.size()) !=
                             owner.size()) {
      fail("invalid owner name");
      return false;
    }
    if (!zones::rdata_valid(r.type, rdata)) {
      fail("invalid rdata");
      return false;
    }
    r.owner.assign(owner);
    r.rdata.assign(rdata);
    return true;
  }
  /// A count of items each at least `min_size` bytes: larger than what is left is corrupt.
  uint32_t count(size_t min_size) {
    uint32_t n = u32();
    if (ok() && n > left() / min_size) fail("count " + std::to_string(n) + " larger than the file");
    return ok() ? n : 0;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

constexpr size_t kMinRecord = 1 + 1 + 2 + 4 + 2;  // root owner, type, TTL, empty rdata

}  // namespace

uint32_t ZoneDiff::from_serial() const { return soa_serial(old_soa); }
uint32_t ZoneDiff::to_serial() const { return soa_serial(new_soa); }

ZoneDiff diff_zones(const zones::Zone& old_zone, const zones::Zone& new_zone) {
  ZoneDiff d;
  d.old_soa = soa_of(old_zone);
  d.new_soa = soa_of(new_zone);
  const std::string_view apex = new_zone.apex().owner_wire();
  new_zone.for_each_node([&](NodeView n) {
    const std::string_view owner = n.owner_wire();
    const NodeView o = old_zone.find_node(owner);
    for (RRsetView rs : n.rrsets()) {
      if (rs.type() == zones::rrtype::SOA && owner == apex) continue;  // the steps' SOAs say it
      RRsetView ors = o ? o.find(rs.type()) : RRsetView();
      if (!ors) {
        all_records(owner, rs, d.added);
      } else if (ors.ttl() != rs.ttl()) {
        all_records(owner, ors, d.removed);
        all_records(owner, rs, d.added);
      } else {
        missing_from(owner, ors, rs, d.removed);
        missing_from(owner, rs, ors, d.added);
      }
    }
    if (!o) return;
    for (RRsetView ors : o.rrsets())
      if (!n.find(ors.type()) && !(ors.type() == zones::rrtype::SOA && owner == apex))
        all_records(owner, ors, d.removed);
  });
  old_zone.for_each_node([&](NodeView o) {
    if (new_zone.find_node(o.owner_wire())) return;
    for (RRsetView ors : o.rrsets())
      if (!(ors.type() == zones::rrtype::SOA && o.owner_wire() == apex)) all_records(o.owner_wire(), ors, d.removed);
  });
  return d;
}

void IxfrHistory::add(std::shared_ptr<const ZoneDiff> step, size_t max_steps, size_t max_records) {
  if (!steps_.empty() && steps_.back()->to_serial() != step->from_serial()) {
    steps_.clear();  // a gap: the old steps no longer lead to the current version
    records_ = 0;
  }
  records_ += step->size();
  steps_.push_back(std::move(step));
  size_t drop = 0;
  while (drop < steps_.size() && (steps_.size() - drop > max_steps || records_ > max_records))
    records_ -= steps_[drop++]->size();
  steps_.erase(steps_.begin(), steps_.begin() + static_cast<long>(drop));
}

IxfrAnswer plan_ixfr(const IxfrHistory* history, uint32_t client_serial, uint32_t current_serial,
                     size_t& first_step) {
  if (!zones::serial_gt(current_serial, client_serial)) return IxfrAnswer::up_to_date;
  if (!history || history->steps().empty() || history->steps().back()->to_serial() != current_serial)
    return IxfrAnswer::axfr;
  const auto& steps = history->steps();
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i]->from_serial() == client_serial) {
      first_step = i;
      return IxfrAnswer::incremental;
    }
  return IxfrAnswer::axfr;
}

bool ixfr_request_serial(const uint8_t* msg, size_t len, uint32_t& serial) noexcept {
  if (len < 12 || zones::read_u16(msg + 4) != 1) return false;
  uint8_t qname[256], owner[256];
  size_t qname_len = 0, owner_len = 0, off = 12;
  if ((qname_len = wire::decode_name(msg, len, off, qname, true)) == 0 || off + 4 > len) return false;
  if (zones::read_u16(msg + off) != zones::rrtype::IXFR) return false;
  off += 4;
  const unsigned an = zones::read_u16(msg + 6), ns = zones::read_u16(msg + 8);
  for (unsigned i = 0; i < an + ns; ++i) {
    if ((owner_len = wire::decode_name(msg, len, off, owner, true)) == 0 || off + 10 > len) return false;
    const uint16_t type = zones::read_u16(msg + off);
    const size_t rdata = off + 10, end = rdata + zones::read_u16(msg + off + 8);
    if (end > len) return false;
    off = end;
    if (i < an || type != zones::rrtype::SOA || owner_len != qname_len ||
        !std::equal(owner, owner + owner_len, qname))
      continue;
    // MNAME and RNAME, each read only up to the end of the rdata, then the serial.
    size_t p = rdata;
    if (!wire::skip_name(msg, end, p) || !wire::skip_name(msg, end, p) || p + 20 != end)
      return false;
    serial = zones::read_u32(msg + p);
    return true;
  }
  return false;
}

IxfrSource::IxfrSource(std::shared_ptr<const zones::Zone> zone, const IxfrHistory& history, size_t first_step)
    : zone_(std::move(zone)),
      steps_(history.steps().begin() + static_cast<long>(std::min(first_step, history.steps().size())),
             history.steps().end()) {}

namespace {
XfrRecord current_soa(const zones::Zone& z) {
  RRsetView s = z.soa();
  return {reinterpret_cast<const uint8_t*>(z.apex().owner_wire().data()), s.type(), s.ttl(), *s.begin()};
}
}  // namespace

bool SoaSource::peek(XfrRecord& out) {
  if (taken_) return false;
  out = current_soa(*zone_);
  return true;
}

bool IxfrSource::peek(XfrRecord& out) {
  auto from = [&](const DiffRecord& r) {
    out = {reinterpret_cast<const uint8_t*>(r.owner.data()), r.type, r.ttl, r.rdata};
    return true;
  };
  if (edge_ == 0 || edge_ == 2) {
    out = current_soa(*zone_);
    return true;
  }
  if (edge_ != 1) return false;
  const ZoneDiff& d = *steps_[step_];
  const size_t r = d.removed.size();
  if (pos_ == 0) return from(d.old_soa);
  if (pos_ <= r) return from(d.removed[pos_ - 1]);
  if (pos_ == r + 1) return from(d.new_soa);
  return from(d.added[pos_ - r - 2]);
}

void IxfrSource::advance() {
  if (edge_ == 0) {
    edge_ = steps_.empty() ? 2 : 1;
    return;
  }
  if (edge_ != 1) {
    edge_ = 3;
    return;
  }
  if (++pos_ < steps_[step_]->size()) return;
  pos_ = 0;
  if (++step_ == steps_.size()) edge_ = 2;
}

void IxfrHistoryStore::record(const std::string& view, const zones::Zone& old_zone, const zones::Zone& new_zone,
                              StepCache* cache) {
  auto key = std::make_pair(view, wire(new_zone.origin().wire()));
  const uint32_t from = old_zone.serial(), to = new_zone.serial();
  if (from == to) return;
  if (!zones::serial_gt(to, from)) {
    histories_.erase(key);
    return;
  }
  std::shared_ptr<const ZoneDiff> step;
  if (cache)
    if (auto it = cache->find({&old_zone, &new_zone}); it != cache->end()) step = it->second;
  if (!step) {
    step = std::make_shared<const ZoneDiff>(diff_zones(old_zone, new_zone));
    if (cache) cache->emplace(std::make_pair(&old_zone, &new_zone), step);
  }
  histories_[key].add(std::move(step), max_steps_, max_records_);
}

void IxfrHistoryStore::retain(const std::vector<std::pair<std::string, std::string>>& keep) {
  for (auto it = histories_.begin(); it != histories_.end();) {
    if (std::find(keep.begin(), keep.end(), it->first) == keep.end()) it = histories_.erase(it);
    else ++it;
  }
}

const IxfrHistory* IxfrHistoryStore::find(const std::string& view, std::string_view origin_wire) const {
  auto it = histories_.find(std::make_pair(view, std::string(origin_wire)));
  return it == histories_.end() ? nullptr : &it->second;
}

std::string IxfrHistoryStore::serialize() const {
  Writer w;
  w.bytes(kMagic);
  w.u32(kVersion);
  w.u32(static_cast<uint32_t>(histories_.size()));
  for (const auto& [key, h] : histories_) {
    w.u16(static_cast<uint16_t>(key.first.size()));
    w.bytes(key.first);
    w.u8(static_cast<uint8_t>(key.second.size()));
    w.bytes(key.second);
    w.u32(static_cast<uint32_t>(h.steps().size()));
    for (const auto& s : h.steps()) {
      w.record(s->old_soa);
      w.record(s->new_soa);
      w.u32(static_cast<uint32_t>(s->removed.size()));
      for (const auto& r : s->removed) w.record(r);
      w.u32(static_cast<uint32_t>(s->added.size()));
      for (const auto& r : s->added) w.record(r);
    }
  }
  w.u64(zones::content_hash(w.str()));
  return std::move(w.str());
}

std::string IxfrHistoryStore::parse(std::string_view bytes, IxfrHistoryStore& out) {
  out.histories_.clear();
  if (bytes.size() < kMagic.size() + 4 + 4 + 8 || bytes.substr(0, kMagic.size()) != kMagic)
    return "not an IXFR history file";
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  Reader tail(bytes.substr(bytes.size() - 8));
  if (tail.number(8) != zones::content_hash(body)) return "checksum mismatch (the file is damaged)";
  Reader r(body.substr(kMagic.size()));
  if (uint32_t v = r.u32(); v != kVersion) return "unknown IXFR history version " + std::to_string(v);
  IxfrHistoryStore store(out.max_steps_, out.max_records_);
  const uint32_t entries = r.count(2 + 1 + 1 + 4);
  for (uint32_t e = 0; e < entries && r.ok(); ++e) {
    std::string view(r.bytes(r.u16()));
    std::string origin(r.bytes(r.u8()));
    if (!r.ok()) break;
    if (origin.empty() ||
        zones::wire_name_length(reinterpret_cast<const uint8_t*>(origin.data()), origin.size()) != origin.size()) {
      r.fail("invalid zone name");
      break;
    }
    auto key = std::make_pair(view, origin);
    if (store.histories_.count(key)) {
      r.fail("zone listed twice");
      break;
    }
    IxfrHistory& h = store.histories_[key];
    const uint32_t steps = r.count(2 * kMinRecord + 8);
    for (uint32_t s = 0; s < steps && r.ok(); ++s) {
      auto d = std::make_shared<ZoneDiff>();
      if (!r.record(d->old_soa) || !r.record(d->new_soa)) break;
      if (d->old_soa.type != zones::rrtype::SOA || d->new_soa.type != zones::rrtype::SOA ||
          d->old_soa.owner != origin || d->new_soa.owner != origin) {
        r.fail("a step without the zone's SOAs");
        break;
      }
      for (auto* list : {&d->removed, &d->added}) {
        const uint32_t n = r.count(kMinRecord);
        list->resize(n);
        for (auto& rec : *list)
          if (!r.record(rec)) break;
      }
      if (!r.ok()) break;
      if (!zones::serial_gt(d->to_serial(), d->from_serial()) ||
          (!h.steps().empty() && h.steps().back()->to_serial() != d->from_serial())) {
        r.fail("serials out of sequence");
        break;
      }
      h.add(std::move(d), store.max_steps_, store.max_records_);
    }
  }
  if (r.ok() && r.left() != 0) r.fail("trailing bytes");
  if (!r.ok()) return r.error();
  out.histories_ = std::move(store.histories_);
  return "";
}

std::string IxfrHistoryStore::save(const std::filesystem::path& state_dir) const {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  const auto file = state_dir / kFileName;
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::string bytes = serialize();
    if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) || !out.flush())
      return "cannot write " + tmp.string();
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) return "cannot rename " + tmp.string() + " (" + ec.message() + ")";
  return "";
}

std::string IxfrHistoryStore::load(const std::filesystem::path& state_dir) {
  histories_.clear();
  const auto file = state_dir / kFileName;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::filesystem::exists(file) ? "cannot read " + file.string() : "";
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string why = parse(ss.str(), *this);
  return why.empty() ? "" : file.string() + ": " + why;
}

}  // namespace phoenix::xfr
