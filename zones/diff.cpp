#include "diff.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace phoenix::zones {

namespace {

/// One zone_to_text() line split as "owner TTL TYPE rdata": the key is owner and type, the value
/// TTL and rdata, so that a TTL change is a change of the record.
struct Line {
  std::string key, value;
  bool soa = false;
  uint32_t serial = 0;
};

Line split(std::string_view l) {
  Line out;
  auto s1 = l.find(' ');
  auto s2 = s1 == std::string_view::npos ? s1 : l.find(' ', s1 + 1);
  auto s3 = s2 == std::string_view::npos ? s2 : l.find(' ', s2 + 1);
  if (s3 == std::string_view::npos) {
    out.key = std::string(l);
    return out;
  }
  std::string_view owner = l.substr(0, s1), ttl = l.substr(s1 + 1, s2 - s1 - 1), type = l.substr(s2 + 1, s3 - s2 - 1),
                   rdata = l.substr(s3 + 1);
  out.key = std::string(owner) + " " + std::string(type);
  out.value = std::string(ttl) + " " + std::string(rdata);
  if (type == "SOA") {
    // RFC 1035 §3.3.13: MNAME RNAME SERIAL ...
    std::istringstream in{std::string(rdata)};
    std::string mname, rname;
    in >> mname >> rname >> out.serial;
    out.soa = true;
  }
  return out;
}

using RRsets = std::map<std::string, std::set<std::string>>;

RRsets parse(std::string_view text, uint32_t& serial) {
  RRsets out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    pos = end + 1;
    if (l.empty() || l[0] == ';') continue;
    Line line = split(l);
    if (line.soa) serial = line.serial;
    else out[line.key].insert(line.value);
  }
  return out;
}

bool safe_component(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

}  // namespace

ZoneDiff diff_zone_text(std::string_view before, std::string_view after) {
  ZoneDiff d;
  d.was_served = !before.empty();
  d.is_served = !after.empty();
  RRsets old_sets = parse(before, d.old_serial), new_sets = parse(after, d.new_serial);
  auto count = [&](const std::set<std::string>* o, const std::set<std::string>* n) {
    size_t only_old = 0, only_new = 0;
    if (o)
      for (auto& v : *o) only_old += !n || !n->count(v);
    if (n)
      for (auto& v : *n) only_new += !o || !o->count(v);
    size_t changed = std::min(only_old, only_new);
    d.changed += changed;
    d.removed += only_old - changed;
    d.added += only_new - changed;
  };
  for (auto& [key, values] : old_sets) {
    auto it = new_sets.find(key);
    count(&values, it == new_sets.end() ? nullptr : &it->second);
  }
  for (auto& [key, values] : new_sets)
    if (!old_sets.count(key)) count(nullptr, &values);
  return d;
}

namespace {

std::vector<ZoneDiff> diff_with(const Snapshot& after, const std::set<std::pair<std::string, std::string>>& before_keys,
                                auto&& before_serial, auto&& before_text, auto&& count_records) {
  std::vector<ZoneDiff> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& vd : after.view_data)
    for (auto& z : vd.own_zones()) {
      std::pair<std::string, std::string> key{vd.name, z->origin().to_text()};
      seen.insert(key);
      const bool was = before_keys.count(key) != 0;
      if (was && before_serial(key) == z->serial()) continue;  // same serial, same content
      ZoneDiff d;
      if (was && count_records(key, *z, d)) {
        d.old_serial = before_serial(key);
        d.new_serial = z->serial();
      } else {
        d = diff_zone_text(was ? before_text(key) : std::string(), zone_to_text(*z));
      }
      d.view = key.first;
      d.zone = key.second;
      out.push_back(std::move(d));
    }
  for (auto& key : before_keys)
    if (!seen.count(key)) {
      ZoneDiff d = diff_zone_text(before_text(key), "");
      d.view = key.first;
      d.zone = key.second;
      out.push_back(std::move(d));
    }
  return out;
}

const Zone* find(const Snapshot& s, const std::pair<std::string, std::string>& key) {
  for (auto& vd : s.view_data)
    if (vd.name == key.first)
      for (auto& z : vd.own_zones())
        if (z->origin().to_text() == key.second) return z.get();
  return nullptr;
}

}  // namespace

std::vector<ZoneDiff> diff_snapshots(const Snapshot& before, const Snapshot& after) {
  return diff_snapshots(before, after, nullptr);
}

std::vector<ZoneDiff> diff_snapshots(const Snapshot& before, const Snapshot& after, const RecordCounter& counter) {
  std::set<std::pair<std::string, std::string>> keys;
  for (auto& vd : before.view_data)
    for (auto& z : vd.own_zones()) keys.insert({vd.name, z->origin().to_text()});
  return diff_with(
      after, keys, [&](const auto& k) { return find(before, k)->serial(); },
      [&](const auto& k) { return zone_to_text(*find(before, k)); },
      [&](const auto& k, const Zone& z, ZoneDiff& d) { return counter && counter(k.first, *find(before, k), z, d); });
}

std::vector<ZoneDiff> diff_served(const ServedText& before, const Snapshot& after) {
  std::set<std::pair<std::string, std::string>> keys;
  for (auto& [k, text] : before) keys.insert(k);
  return diff_with(
      after, keys,
      [&](const auto& k) {
        uint32_t serial = 0;
        parse(before.at(k), serial);
        return serial;
      },
      [&](const auto& k) { return before.at(k); }, [](const auto&, const Zone&, ZoneDiff&) { return false; });
}

std::string describe(const ZoneDiff& d) {
  std::string s = "view " + d.view + ", zone " + d.zone + ": ";
  auto records = "+" + std::to_string(d.added) + " -" + std::to_string(d.removed) + " ~" + std::to_string(d.changed) +
                 " records";
  if (!d.was_served) return s + "new, " + std::to_string(d.added) + " records, serial " + std::to_string(d.new_serial);
  if (!d.is_served) return s + "removed (" + std::to_string(d.removed) + " records, serial " + std::to_string(d.old_serial) + ")";
  return s + records + ", serial " + std::to_string(d.old_serial) + " -> " + std::to_string(d.new_serial);
}

std::string summarize(const std::vector<ZoneDiff>& diffs) {
  if (diffs.empty()) return "no zone changed";
  size_t a = 0, r = 0, c = 0;
  for (auto& d : diffs) {
    a += d.added;
    r += d.removed;
    c += d.changed;
  }
  return std::to_string(diffs.size()) + (diffs.size() == 1 ? " zone" : " zones") + " changed (+" + std::to_string(a) +
         " -" + std::to_string(r) + " ~" + std::to_string(c) + " records)";
}

ServedText served_text(const Snapshot& snap) {
  ServedText out;
  for (auto& vd : snap.view_data)
    for (auto& z : vd.own_zones()) out[{vd.name, z->origin().to_text()}] = zone_to_text(*z);
  return out;
}

std::string write_served(const std::filesystem::path& dir, const Snapshot& snap, ZoneTexts& texts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::set<fs::path> keep;
  for (auto& vd : snap.view_data) {
    if (!safe_component(vd.name)) continue;
    fs::create_directories(dir / vd.name, ec);
    if (ec) return "cannot create " + (dir / vd.name).string() + ": " + ec.message();
    for (auto& z : vd.own_zones()) {
      fs::path file = dir / vd.name / (z->origin().to_text() + "zone");
      keep.insert(file);
      const std::string* text = texts.text(*z);
      if (!text) return "";  // stopped: the files not reached yet keep what they held
      fs::path tmp = file;
      tmp += ".tmp";
      {
        std::ofstream o(tmp, std::ios::trunc);
        o << *text;
        if (!o.flush()) return "cannot write " + tmp.string();
      }
      fs::rename(tmp, file, ec);
      if (ec) return "cannot rename " + tmp.string() + ": " + ec.message();
    }
  }
  // Zones (and views) no longer served.
  for (auto& view : fs::directory_iterator(dir, ec)) {
    if (!view.is_directory()) continue;
    for (auto& f : fs::directory_iterator(view.path(), ec))
      if (!keep.count(f.path())) fs::remove(f.path(), ec);
    if (fs::is_empty(view.path(), ec)) fs::remove(view.path(), ec);
  }
  return "";
}

ServedText read_served(const std::filesystem::path& dir, std::string& error) {
  namespace fs = std::filesystem;
  ServedText out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    error = dir.string() + ": no description of the served zones (written after each start and reload)";
    return out;
  }
  for (auto& view : fs::directory_iterator(dir, ec)) {
    if (!view.is_directory()) continue;
    for (auto& f : fs::directory_iterator(view.path(), ec)) {
      std::string name = f.path().filename().string();
      if (name.size() < 5 || name.substr(name.size() - 4) != "zone") continue;
      std::ifstream in(f.path());
      std::stringstream text;
      text << in.rdbuf();
      out[{view.path().filename().string(), name.substr(0, name.size() - 4)}] = text.str();
    }
  }
  if (ec) error = dir.string() + ": " + ec.message();
  return out;
}

}  // namespace phoenix::zones
