#include <gtest/gtest.h>

#include <ldns/ldns.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ctime>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "server/wire/query_builder.hpp"
#include "horizon/tsig_keys.hpp"
#include "server/reload.hpp"
#include "server/xfr/ixfr_history.hpp"
#include "zones/diff.hpp"
#include "unit/server/dns_tool_peer.hpp"
#include "zones/serial.hpp"
#include "zones/zonefile.hpp"

using namespace phoenix;
namespace fs = std::filesystem;

namespace {

/// Version `serial` of a small zone; each version changes a few records in every way a diff can.
std::string version(uint32_t serial) {
  std::string t = "$ORIGIN ixfr.test.\n$TTL 300\n@ SOA ns hostmaster " + std::to_string(serial) +
                  " 3600 600 86400 300\n@ NS ns\nns A 192.0.2.53\n";
  for (uint32_t i = 0; i < 40; ++i) t += "h" + std::to_string(i) + " A 10.0.0." + std::to_string(i) + "\n";
  if (serial >= 2) t += "new" + std::to_string(serial) + " A 10.1.0." + std::to_string(serial) + "\n";  // added
  if (serial < 3) t += "old A 10.2.0.1\nold TXT \"goes away in 3\"\n";                                   // removed
  t += serial >= 3 ? "@ MX 20 mx2\n" : "@ MX 10 mx1\n";                                                // changed
  t += serial >= 4 ? "ttl 60 A 10.3.0.1\n" : "ttl 120 A 10.3.0.1\n";                                    // TTL
  return t;
}

std::shared_ptr<const zones::Zone> zone(uint32_t serial) {
  horizon::Diagnostics diag;
  auto z = zones::load_zone_text(version(serial), *zones::Name::from_text("ixfr.test"), "ixfr.zone", diag);
  EXPECT_TRUE(z);
  return z;
}

/// A record as one line of text: owner TTL type rdata.
std::string line(const xfr::DiffRecord& r) {
  return zones::Name::from_wire(r.owner).to_text() + " " + std::to_string(r.ttl) + " " + zones::type_to_text(r.type) +
         " " + zones::rdata_to_text(r.type, r.rdata);
}

/// The zone's records as lines (zone_to_text), as a set.
std::set<std::string> records_of(const zones::Zone& z) {
  std::set<std::string> out;
  std::string text = zones::zone_to_text(z), l;
  for (char c : text) {
    if (c != '\n') {
      l += c;
      continue;
    }
    out.insert(l);
    l.clear();
  }
  return out;
}

std::set<std::string> as_lines(const std::vector<xfr::DiffRecord>& rs) {
  std::set<std::string> out;
  for (const auto& r : rs) out.insert(line(r));
  return out;
}

/// Runs `source` through the message stream with small messages and returns the records ldns parses,
/// in order, as "owner TTL type rdata" (SOAs reduced to their serial for readability).
std::vector<std::string> transfer(xfr::RecordSource& source, uint16_t qtype = zones::rrtype::IXFR) {
  auto q = wire::build_query("ixfr.test", qtype, 7, false, std::nullopt);
  xfr::XfrQuestion xq;
  EXPECT_TRUE(xfr::make_xfr_question(7, q.data() + 12, q.size() - 16, qtype, 1, false, xq));
  xfr::XfrMessageStream stream(xq, 700);
  std::vector<uint8_t> buf(65535);
  std::vector<std::string> out;
  while (size_t n = stream.next(source, buf.data(), buf.size())) {
    ldns_pkt* pkt = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&pkt, buf.data(), n), LDNS_STATUS_OK);
    if (!pkt) break;
    ldns_rr_list* an = ldns_pkt_answer(pkt);
    for (size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) {
      ldns_rr* rr = ldns_rr_list_rr(an, i);
      if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
        out.push_back("SOA " + std::to_string(ldns_rdf2native_int32(ldns_rr_rdf(rr, 2))));
        continue;
      }
      char* s = ldns_rr2str(rr);
      out.emplace_back(s);
      free(s);
      while (!out.back().empty() && out.back().back() == '\n') out.back().pop_back();
    }
    ldns_pkt_free(pkt);
  }
  EXPECT_FALSE(stream.failed());
  return out;
}

/// What an RFC 1995 client does with an incremental answer: starting from `start` (ldns lines of the
/// old version), apply each step's deletions and additions; checks the SOA framing on the way.
std::set<std::string> apply(std::vector<std::string> seq, std::set<std::string> start, uint32_t from, uint32_t to) {
  EXPECT_GE(seq.size(), 2u);
  EXPECT_EQ(seq.front(), "SOA " + std::to_string(to));
  EXPECT_EQ(seq.back(), "SOA " + std::to_string(to));
  uint32_t at = from;
  bool deleting = false;
  for (size_t i = 1; i + 1 < seq.size(); ++i) {
    const std::string& r = seq[i];
    if (r.rfind("SOA ", 0) == 0) {
      uint32_t s = static_cast<uint32_t>(std::stoul(r.substr(4)));
      if (!deleting) EXPECT_EQ(s, at) << "a step must start at the version the client has";
      else at = s;
      deleting = !deleting;
      continue;
    }
    if (deleting) EXPECT_EQ(start.erase(r), 1u) << "deleting a record the client does not have: " << r;
    else EXPECT_TRUE(start.insert(r).second) << "adding a record the client has: " << r;
  }
  EXPECT_EQ(at, to);
  return start;
}

/// Every record of version `serial` but its SOA, as ldns prints them (the client's view of its copy).
std::set<std::string> client_copy(uint32_t serial) {
  xfr::AxfrSource source(zone(serial));
  auto all = transfer(source, zones::rrtype::AXFR);
  std::set<std::string> out;
  for (auto& r : all)
    if (r.rfind("SOA ", 0) != 0) out.insert(r);
  return out;
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("phoenix-ixfr-" + std::to_string(::getpid()) + "-" +
                                                 std::to_string(counter_++))) {
    fs::remove_all(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

xfr::IxfrHistoryStore history_1_to_4(size_t max_steps = 64) {
  xfr::IxfrHistoryStore store(max_steps);
  for (uint32_t s = 1; s < 4; ++s) store.record("internal", *zone(s), *zone(s + 1));
  return store;
}

const std::string kOrigin = zones::Name::from_text("ixfr.test")->wire();

}  // namespace

TEST(IxfrHistory, DiffListsRemovedAndAddedRecords) {
  auto d = xfr::diff_zones(*zone(2), *zone(3));
  EXPECT_EQ(d.from_serial(), 2u);
  EXPECT_EQ(d.to_serial(), 3u);
  EXPECT_EQ(as_lines(d.removed), (std::set<std::string>{
                                     "new2.ixfr.test. 300 A 10.1.0.2",
                                     "old.ixfr.test. 300 A 10.2.0.1",
                                     "old.ixfr.test. 300 TXT \"goes away in 3\"",
                                     "ixfr.test. 300 MX 10 mx1.ixfr.test.",
                                 }));
  EXPECT_EQ(as_lines(d.added), (std::set<std::string>{
                                   "new3.ixfr.test. 300 A 10.1.0.3",
                                   "ixfr.test. 300 MX 20 mx2.ixfr.test.",
                               }));
  auto ttl = xfr::diff_zones(*zone(3), *zone(4));
  EXPECT_TRUE(as_lines(ttl.removed).count("ttl.ixfr.test. 120 A 10.3.0.1"));
  EXPECT_TRUE(as_lines(ttl.added).count("ttl.ixfr.test. 60 A 10.3.0.1"));
  EXPECT_TRUE(xfr::diff_zones(*zone(3), *zone(3)).removed.empty());
}

TEST(IxfrHistory, OldMinusRemovedPlusAddedIsNew) {
  for (uint32_t s = 1; s < 4; ++s) {
    auto old_zone = zone(s), new_zone = zone(s + 1);
    auto d = xfr::diff_zones(*old_zone, *new_zone);
    auto have = records_of(*old_zone), want = records_of(*new_zone);
    // zone_to_text has the SOA; the diff's SOAs stand for it.
    auto soa = [](std::set<std::string>& set) {
      for (auto it = set.begin(); it != set.end(); ++it)
        if (it->find(" SOA ") != std::string::npos) return set.erase(it), void();
    };
    soa(have), soa(want);
    for (const auto& r : d.removed) EXPECT_EQ(have.erase(line(r)), 1u) << line(r);
    for (const auto& r : d.added) EXPECT_TRUE(have.insert(line(r)).second) << line(r);
    EXPECT_EQ(have, want) << s;
  }
}

TEST(IxfrHistory, IncrementalAnswerFromEachKnownSerial) {
  auto store = history_1_to_4();
  const auto* h = store.find("internal", kOrigin);
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(h->steps().size(), 3u);
  EXPECT_EQ(store.find("external", kOrigin), nullptr);
  auto current = zone(4);
  for (uint32_t client = 1; client < 4; ++client) {
    size_t first = 99;
    ASSERT_EQ(xfr::plan_ixfr(h, client, 4, first), xfr::IxfrAnswer::incremental) << client;
    EXPECT_EQ(first, client - 1);
    xfr::IxfrSource source(current, *h, first);
    auto seq = transfer(source);
    EXPECT_EQ(apply(seq, client_copy(client), client, 4), client_copy(4)) << "from " << client;
  }
  size_t first = 0;
  EXPECT_EQ(xfr::plan_ixfr(h, 4, 4, first), xfr::IxfrAnswer::up_to_date);
  xfr::SoaSource soa(current);
  EXPECT_EQ(transfer(soa), (std::vector<std::string>{"SOA 4"}));  // the up-to-date answer
  EXPECT_EQ(xfr::plan_ixfr(h, 5, 4, first), xfr::IxfrAnswer::up_to_date);  // newer than ours
  EXPECT_EQ(xfr::plan_ixfr(h, 0, 4, first), xfr::IxfrAnswer::axfr);        // never ours
  EXPECT_EQ(xfr::plan_ixfr(h, 1, 5, first), xfr::IxfrAnswer::axfr);        // history behind the zone
  EXPECT_EQ(xfr::plan_ixfr(nullptr, 1, 4, first), xfr::IxfrAnswer::axfr);
}

TEST(IxfrHistory, AxfrFormWhenTheSerialIsTooOld) {
  auto store = history_1_to_4(2);  // keeps 2->3 and 3->4 only
  const auto* h = store.find("internal", kOrigin);
  ASSERT_EQ(h->steps().size(), 2u);
  size_t first = 0;
  EXPECT_EQ(xfr::plan_ixfr(h, 1, 4, first), xfr::IxfrAnswer::axfr);
  EXPECT_EQ(xfr::plan_ixfr(h, 2, 4, first), xfr::IxfrAnswer::incremental);
  // The AXFR form of an IXFR answer: SOA, the whole zone, SOA, with the IXFR question.
  xfr::AxfrSource source(zone(4));
  auto seq = transfer(source, zones::rrtype::IXFR);
  EXPECT_EQ(seq.front(), "SOA 4");
  EXPECT_EQ(seq.back(), "SOA 4");
  std::set<std::string> body(seq.begin() + 1, seq.end() - 1);
  EXPECT_EQ(body, client_copy(4));
}

TEST(IxfrHistory, BoundsAndGapsAndSerialsGoingBack) {
  xfr::IxfrHistoryStore store(64, 60);  // about one step's records
  store.record("v", *zone(1), *zone(2));
  store.record("v", *zone(2), *zone(3));
  const auto* h = store.find("v", kOrigin);
  ASSERT_NE(h, nullptr);
  EXPECT_LE(h->records(), 60u);
  EXPECT_EQ(h->steps().back()->to_serial(), 3u);
  // A step that does not start where the history ends restarts it.
  xfr::IxfrHistoryStore gap;
  gap.record("v", *zone(1), *zone(2));
  gap.record("v", *zone(3), *zone(4));
  ASSERT_EQ(gap.find("v", kOrigin)->steps().size(), 1u);
  EXPECT_EQ(gap.find("v", kOrigin)->steps()[0]->from_serial(), 3u);
  // Backwards: no history at all.
  gap.record("v", *zone(4), *zone(2));
  EXPECT_EQ(gap.find("v", kOrigin), nullptr);
  // Zones that left the view are dropped.
  auto two = history_1_to_4();
  two.record("external", *zone(1), *zone(2));
  two.retain({{"external", kOrigin}});
  EXPECT_EQ(two.find("internal", kOrigin), nullptr);
  EXPECT_NE(two.find("external", kOrigin), nullptr);
}

TEST(IxfrHistory, SavedAndReadBackAnswersTheSame) {
  TempDir dir;
  auto store = history_1_to_4();
  ASSERT_EQ(store.save(dir.path()), "");
  ASSERT_TRUE(fs::exists(dir.path() / xfr::IxfrHistoryStore::kFileName));
  xfr::IxfrHistoryStore back;
  ASSERT_EQ(back.load(dir.path()), "");
  EXPECT_EQ(back.serialize(), store.serialize());
  const auto* h = back.find("internal", kOrigin);
  ASSERT_NE(h, nullptr);
  size_t first = 0;
  ASSERT_EQ(xfr::plan_ixfr(h, 2, 4, first), xfr::IxfrAnswer::incremental);
  xfr::IxfrSource a(zone(4), *h, first), b(zone(4), *store.find("internal", kOrigin), first);
  EXPECT_EQ(transfer(a), transfer(b));
  // No file yet is no history, and no error.
  TempDir empty;
  xfr::IxfrHistoryStore none;
  EXPECT_EQ(none.load(empty.path()), "");
  EXPECT_EQ(none.zone_count(), 0u);
}

TEST(IxfrHistory, CorruptFileIsAnErrorAndNoHistory) {
  TempDir dir;
  ASSERT_EQ(history_1_to_4().save(dir.path()), "");
  const auto file = dir.path() / xfr::IxfrHistoryStore::kFileName;
  std::string good;
  {
    std::ifstream in(file, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto load_bytes = [&](const std::string& bytes) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    xfr::IxfrHistoryStore s;
    std::string why = s.load(dir.path());
    EXPECT_EQ(s.zone_count(), why.empty() ? 1u : 0u) << why;
    return why;
  };
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  EXPECT_NE(load_bytes(flipped).find("checksum mismatch"), std::string::npos);
  EXPECT_NE(load_bytes(good.substr(0, good.size() - 3)).find("checksum mismatch"), std::string::npos);
  EXPECT_NE(load_bytes("garbage").find("not an IXFR history file"), std::string::npos);
  EXPECT_NE(load_bytes("").find("not an IXFR history file"), std::string::npos);
  // A well-checksummed file of another version, or with a lie inside, is refused by the parser itself.
  auto resum = [](std::string body) {
    body.resize(body.size() - 8);
    uint64_t h = zones::content_hash(body);
    for (int i = 7; i >= 0; --i) body.push_back(static_cast<char>(h >> (8 * i)));
    return body;
  };
  std::string v2 = good;
  v2[13 + 3] = 2;  // the version after the magic
  EXPECT_NE(load_bytes(resum(v2)).find("unknown IXFR history version 2"), std::string::npos);
  std::string many = good;
  many[13 + 4] = 0x7f;  // the entry count
  EXPECT_NE(load_bytes(resum(many)).find("larger than the file"), std::string::npos);
  EXPECT_NE(load_bytes(resum(good + std::string(8, '\0'))).find("trailing bytes"), std::string::npos);
  EXPECT_TRUE(load_bytes(good).empty());
}

TEST(IxfrHistory, RequestSerialFromTheAuthoritySoa) {
  // Question ixfr.test IXFR; authority: ixfr.test SOA with compressed names, serial 0x01020304.
  std::vector<uint8_t> m = {0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0,
                            4, 'i', 'x', 'f', 'r', 4, 't', 'e', 's', 't', 0, 0, 251, 0, 1,
                            0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, 27,
                            2, 'n', 's', 0xc0, 12, 0xc0, 12, 1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
  uint32_t serial = 0;
  ASSERT_TRUE(xfr::ixfr_request_serial(m.data(), m.size(), serial));
  EXPECT_EQ(serial, 0x01020304u);
  auto bad = m;
  bad[24] = 252;  // AXFR
  EXPECT_FALSE(xfr::ixfr_request_serial(bad.data(), bad.size(), serial));
  bad = m;
  bad[36] = 26;  // RDLENGTH one short: the serial block does not end the rdata
  bad.pop_back();
  EXPECT_FALSE(xfr::ixfr_request_serial(bad.data(), bad.size(), serial));
  bad = m;
  bad[9] = 0;  // no authority record
  EXPECT_FALSE(xfr::ixfr_request_serial(bad.data(), bad.size(), serial));
  bad = m;
  bad[28] = 17;  // the SOA's owner is now "test.", not the zone asked for
  EXPECT_FALSE(xfr::ixfr_request_serial(bad.data(), bad.size(), serial));
  for (size_t cut = 0; cut < m.size(); ++cut) EXPECT_FALSE(xfr::ixfr_request_serial(m.data(), cut, serial)) << cut;
}

// dig and kdig as IXFR clients over TCP, signed: they must take our difference sequence as it is.
class IxfrWithTool : public ::testing::TestWithParam<const char*> {};

TEST_P(IxfrWithTool, SignedIncrementalTransferIsReadAsSuch) {
  const std::string tool = GetParam();
  if (!test::have_tool(tool.c_str())) GTEST_SKIP() << tool << " not installed";
  auto keys = test::tsig_keys("ixfr-key");
  ASSERT_EQ(keys.size(), 1u);
  auto store = history_1_to_4();
  test::Peer peer;
  test::Tool run(test::signed_query_command(tool, peer.port(), "ixfr.test IXFR=2", "ixfr-key"));
  auto q = peer.recv_tcp();
  ASSERT_FALSE(q.empty()) << run.finish();
  const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  xfr::TsigContext ctx;
  ASSERT_EQ(xfr::verify_request(q.data(), q.size(), keys, now, ctx), xfr::TsigStatus::ok);
  // The client's serial is the SOA in the request's authority section (RFC 1995 §3); ldns agrees.
  uint32_t client = 0;
  ASSERT_TRUE(xfr::ixfr_request_serial(q.data(), q.size(), client));
  ldns_pkt* pkt = nullptr;
  ASSERT_EQ(ldns_wire2pkt(&pkt, q.data(), q.size()), LDNS_STATUS_OK);
  ASSERT_EQ(ldns_rr_list_rr_count(ldns_pkt_authority(pkt)), 1u);
  EXPECT_EQ(client, ldns_rdf2native_int32(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_authority(pkt), 0), 2)));
  ldns_pkt_free(pkt);
  EXPECT_EQ(client, 2u);

  size_t first = 0;
  ASSERT_EQ(xfr::plan_ixfr(store.find("internal", kOrigin), client, 4, first), xfr::IxfrAnswer::incremental);
  xfr::IxfrSource source(zone(4), *store.find("internal", kOrigin), first);
  xfr::XfrQuestion xq;
  ASSERT_TRUE(xfr::make_xfr_question(zones::read_u16(q.data()), q.data() + 12, kOrigin.size(), zones::rrtype::IXFR, 1,
                                     false, xq));
  xfr::XfrMessageStream stream(xq, 400);  // several messages, each signed
  xfr::TsigStreamSigner signer(ctx);
  std::vector<uint8_t> buf(65535);
  while (size_t n = stream.next(source, buf.data(), buf.size(), &signer, now))
    peer.send_tcp(std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<long>(n)));
  ASSERT_GE(stream.messages(), 2u);
  std::string out = run.finish();
  peer.close_tcp();

  // The SOA serials in the order the tool printed them: current, then per step old and new, current.
  std::vector<uint32_t> soas;
  size_t records = 0;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);) {
    if (l.empty() || l[0] == ';') continue;
    std::istringstream f(l);
    std::string owner, ttl, cls, type;
    f >> owner >> ttl >> cls >> type;
    if (type == "TSIG") continue;
    ++records;
    if (type == "SOA") {
      std::string mname, rname;
      uint32_t serial = 0;
      f >> mname >> rname >> serial;
      soas.push_back(serial);
    }
  }
  EXPECT_EQ(soas, (std::vector<uint32_t>{4, 2, 3, 3, 4, 4})) << out;
  EXPECT_EQ(records, stream.records()) << out;
  EXPECT_EQ(out.find(tool == "dig" ? "tsig verify failure" : "failed to verify TSIG"), std::string::npos) << out;
  EXPECT_EQ(out.find("Transfer failed"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Tools, IxfrWithTool, ::testing::Values("dig", "kdig"));

TEST(IxfrHistory, ReloadReportCountsTheStepAsTheTextCompareDoes) {
  // The reload report counts a zone with a fresh IXFR step from that step (server/reload.cpp); it
  // must say what the text compare says, for every kind of change version() makes.
  for (uint32_t from = 1; from < 5; ++from) {
    auto snap_of = [](uint32_t serial) {
      auto s = std::make_shared<zones::Snapshot>();
      zones::ViewData vd;
      vd.name = "internal";
      vd.zones.add(zone(serial));
      s->view_data.push_back(std::move(vd));
      return s;
    };
    auto before = snap_of(from), after = snap_of(from + 1);
    server::attach_ixfr_history(nullptr, *before, nullptr);
    server::attach_ixfr_history(before.get(), *after, nullptr);
    ASSERT_TRUE(after->ixfr && after->ixfr->find("internal", after->view_data[0].zones.zones()[0]->origin().wire()));
    auto by_step = server::reload_changes(*before, *after);
    auto by_text = zones::diff_snapshots(*before, *after);
    ASSERT_EQ(by_step.size(), 1u);
    ASSERT_EQ(by_text.size(), 1u);
    EXPECT_EQ(zones::describe(by_step[0]), zones::describe(by_text[0])) << from;
    EXPECT_TRUE(by_step[0].records_changed()) << from;
    // And it did come from the step: a counter that claims the zone is left alone.
    bool asked = false;
    auto claimed = zones::diff_snapshots(*before, *after, [&](const std::string& view, const zones::Zone&,
                                                              const zones::Zone&, zones::ZoneDiff& d) {
      asked = view == "internal";
      d.added = 999;
      return true;
    });
    EXPECT_TRUE(asked);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].added, 999u);
    EXPECT_EQ(claimed[0].new_serial, from + 1);
    zones::ZoneDiff counted;
    ASSERT_TRUE(server::count_step(*after->ixfr->find("internal", after->view_data[0].zones.zones()[0]->origin().wire()),
                                   before->view_data[0].zones.zones()[0]->serial(), from + 1, counted));
    EXPECT_EQ(counted.added, by_text[0].added);
    EXPECT_EQ(counted.removed, by_text[0].removed);
    EXPECT_EQ(counted.changed, by_text[0].changed);
  }
}

TEST(IxfrHistory, ViewsServingTheSameZoneShareOneStep) {
  // One zone file in two views is one zone object: its step is computed once and shared.
  auto z1 = zone(1), z2 = zone(2);
  auto snap_of = [](std::shared_ptr<const zones::Zone> z) {
    auto s = std::make_shared<zones::Snapshot>();
    for (const char* name : {"internal", "external"}) {
      zones::ViewData vd;
      vd.name = name;
      vd.zones.add(z);
      s->view_data.push_back(std::move(vd));
    }
    return s;
  };
  auto before = snap_of(z1), after = snap_of(z2);
  server::attach_ixfr_history(nullptr, *before, nullptr);
  server::attach_ixfr_history(before.get(), *after, nullptr);
  auto* in = after->ixfr->find("internal", z2->origin().wire());
  auto* ex = after->ixfr->find("external", z2->origin().wire());
  ASSERT_TRUE(in && ex);
  ASSERT_EQ(in->steps().size(), 1u);
  ASSERT_EQ(ex->steps().size(), 1u);
  EXPECT_EQ(in->steps()[0].get(), ex->steps()[0].get());
  EXPECT_EQ(in->steps()[0]->to_serial(), 2u);
}
