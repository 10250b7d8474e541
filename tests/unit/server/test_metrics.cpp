#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "server/metrics.hpp"
#include "metrics_text.hpp"
#include "server/query/precompiled.hpp"
#include "server/wire/query_builder.hpp"
#include "server/reload.hpp"

using namespace phoenix;

namespace {

std::shared_ptr<zones::Snapshot> load_example() {
  zones::SerialStore serials(std::nullopt);
  return server::load_snapshot(std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory", serials)
      .snapshot;
}

size_t ask(const zones::Snapshot& snap, query::QueryStats& st, const std::string& name, uint16_t type,
           const char* client, bool tcp = false) {
  auto q = wire::build_query(name, type, 7, false, std::nullopt);
  std::vector<uint8_t> out(65535);
  query::QueryContext ctx{&snap, *horizon::IpAddr::parse(client), tcp, &st};
  return query::process_query(q.data(), q.size(), ctx, out.data(), tcp ? out.size() : 512);
}

using test::value_of;

/// Connects to 127.0.0.1:port, sends `request` (if any), reads until the server closes (bounded).
std::string http(uint16_t port, const std::string& request, bool read = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  if (!request.empty()) {
    EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  }
  std::string got;
  char buf[4096];
  ssize_t k;
  while (read && (k = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(k));
  ::close(fd);
  return got;
}

}  // namespace

TEST(Metrics, QueriesCountedPerViewTypeAndRcode) {
  auto snap = load_example();
  ASSERT_TRUE(snap);
  server::MetricSlots slots;
  slots.assign(*snap);
  query::QueryStats st;
  // The bundled example: 127.0.0.1 is internal, every other address external.
  EXPECT_GT(ask(*snap, st, "ollama.internal.thinkheads.ai", 1, "127.0.0.1"), 0u);   // precompiled path
  EXPECT_GT(ask(*snap, st, "nope.internal.thinkheads.ai", 28, "127.0.0.1"), 0u);    // NXDOMAIN, full path
  EXPECT_GT(ask(*snap, st, "ollama.internal.thinkheads.ai", 1, "127.0.0.2"), 0u);   // REFUSED in external
  EXPECT_GT(ask(*snap, st, "ollama.phoenix.thinkheads.ai", 99, "127.0.0.2"), 0u);   // NODATA, type "other"
  auto names = slots.names();
  ASSERT_EQ(names, (std::vector<std::string>{"none", "internal", "external"}));
  const auto& in = st.by_view[1];
  const auto& ex = st.by_view[2];
  EXPECT_EQ(in.qtype[query::qtype_bucket(1)], 1u);
  EXPECT_EQ(in.qtype[query::qtype_bucket(28)], 1u);
  EXPECT_EQ(in.rcode[0], 1u);
  EXPECT_EQ(in.rcode[3], 1u);
  EXPECT_EQ(ex.rcode[5], 1u);
  EXPECT_EQ(ex.rcode[0], 1u);
  EXPECT_EQ(ex.qtype[10], 1u);
  EXPECT_EQ(st.by_view[0].qtype[0] + st.by_view[0].qtype[10], 0u);

  server::MetricsInput mi;
  mi.workers = {{"udp", &st}};
  mi.view_names = names;
  mi.snapshot = snap;
  auto text = server::render_metrics(mi);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_queries_total{view="internal",transport="udp",qtype="A"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_responses_total{view="external",transport="udp",rcode="REFUSED"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_zone_records{view="external",zone="phoenix.thinkheads.ai."})"),
            static_cast<double>(snap->view_data[1].zones.zones()[0]->record_count()));
  // The unused "none" slot is not exported.
  EXPECT_EQ(text.find("view=\"none\""), std::string::npos);
}

TEST(Metrics, WorkersOfOneTransportAreSummed) {
  query::QueryStats a, b;
  a.truncated.add(2);
  b.truncated.add(3);
  ++b.dropped;
  server::MetricsInput mi;
  mi.workers = {{"udp", &a}, {"udp", &b}, {"tcp", &b}};
  mi.view_names = {"none"};
  auto text = server::render_metrics(mi);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_responses_truncated_total{transport="udp"})"), 5);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_responses_truncated_total{transport="tcp"})"), 3);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_malformed_dropped_total{transport="udp"})"), 1);
}

TEST(Metrics, ViewSlotsFollowNamesAcrossReloads) {
  server::MetricSlots slots;
  zones::Snapshot s1, s2, big;
  s1.view_data.resize(2);
  s1.view_data[0].name = "internal";
  s1.view_data[1].name = "external";
  slots.assign(s1);
  // A reload that reorders the views and adds one: counts stay with the names.
  s2.view_data.resize(3);
  s2.view_data[0].name = "lab";
  s2.view_data[1].name = "external";
  s2.view_data[2].name = "internal";
  slots.assign(s2);
  EXPECT_EQ(s2.view_data[1].metrics_slot, s1.view_data[1].metrics_slot);
  EXPECT_EQ(s2.view_data[2].metrics_slot, s1.view_data[0].metrics_slot);
  EXPECT_EQ(s2.view_data[0].metrics_slot, 3);
  // Beyond the table, new names share the overflow slot, which is then labelled.
  big.view_data.resize(40);
  for (size_t i = 0; i < big.view_data.size(); ++i) big.view_data[i].name = "v" + std::to_string(i);
  slots.assign(big);
  EXPECT_EQ(big.view_data.back().metrics_slot, query::kOtherViewSlot);
  auto names = slots.names();
  ASSERT_EQ(names.size(), query::kViewSlots);
  EXPECT_EQ(names.back(), "other");
}

TEST(Metrics, TransferNotifyAndTsigFamilies) {
  query::QueryStats udp, tcp;
  const auto ok_axfr = query::XfrCounters::outcome(query::XfrResult::ok, query::XfrForm::axfr);
  const auto aborted_incr = query::XfrCounters::outcome(query::XfrResult::aborted, query::XfrForm::incremental);
  // Slot 1: two AXFRs (2 ms and 3 s) and an IXFR cut off after 40 ms; slot 2 is a zone gone since.
  tcp.xfr[1].count(query::XfrType::axfr, query::XfrResult::ok);
  tcp.xfr[1].count(query::XfrType::axfr, query::XfrResult::ok);
  tcp.xfr[1].sent(query::XfrType::axfr, 5, 70000);
  tcp.xfr[1].took(query::XfrType::axfr, 2000);
  tcp.xfr[1].took(query::XfrType::axfr, 3000000);
  tcp.xfr[1].count(query::XfrType::ixfr, query::XfrResult::aborted, query::XfrForm::incremental);
  tcp.xfr[1].took(query::XfrType::ixfr, 40000);
  udp.xfr[2].count(query::XfrType::ixfr_udp, query::XfrResult::refused);
  EXPECT_EQ(tcp.xfr[1].outcomes[0][ok_axfr].load(), 2u);
  EXPECT_EQ(tcp.xfr[1].outcomes[1][aborted_incr].load(), 1u);
  ++udp.tsig_failed[2];
  udp.tsig_accepted[1].add(4);
  tcp.tsig_accepted[query::kOtherKeySlot].add(1);

  server::MetricsInput mi;
  mi.workers = {{"udp", &udp}, {"tcp", &tcp}};
  mi.view_names = {"none", "internal"};
  mi.zone_slots = {{"other", "other"}, {"internal", "a.example."}, {"internal", "gone.example."}};
  mi.key_names = {"other", "xfr-key"};
  xfr::NotifyTally t;
  t.view = "internal", t.zone = "a.example.", t.target = "127.0.0.1:5300";
  t.sent = 3, t.retried = 4, t.acknowledged = 1, t.failed = 1, t.superseded = 1;
  mi.notify = {t};
  const std::string text = server::render_metrics(mi);
  const std::string a = R"(view="internal",zone="a.example.",)";
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + a + R"(type="axfr",form="axfr",result="ok"})"), 2);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + a + R"(type="ixfr",form="incremental",result="aborted"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_transfers_total{view="internal",zone="gone.example.",type="ixfr_udp",form="none",result="refused"})"), 1);
  // No snapshot says these zones are served: nothing uncounted is shown, the overflow slot neither.
  EXPECT_EQ(value_of(text, "phoenix_dns_transfers_total{" + a + R"(type="ixfr",form="axfr",result="ok"})"), -1);
  EXPECT_EQ(text.find(R"(zone="other")"), std::string::npos);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfer_messages_total{" + a + R"(type="axfr"})"), 5);
  EXPECT_EQ(value_of(text, "phoenix_dns_transfer_bytes_total{" + a + R"(type="axfr"})"), 70000);
  // The histogram is cumulative; the IXFR over UDP has none (nothing is streamed).
  const std::string h = "phoenix_dns_transfer_duration_seconds";
  EXPECT_EQ(value_of(text, h + "_bucket{" + a + R"(type="axfr",le="0.001"})"), 0);
  EXPECT_EQ(value_of(text, h + "_bucket{" + a + R"(type="axfr",le="0.01"})"), 1);
  EXPECT_EQ(value_of(text, h + "_bucket{" + a + R"(type="axfr",le="1"})"), 1);
  EXPECT_EQ(value_of(text, h + "_bucket{" + a + R"(type="axfr",le="10"})"), 2);
  EXPECT_EQ(value_of(text, h + "_bucket{" + a + R"(type="axfr",le="+Inf"})"), 2);
  EXPECT_EQ(value_of(text, h + "_count{" + a + R"(type="axfr"})"), 2);
  EXPECT_DOUBLE_EQ(value_of(text, h + "_sum{" + a + R"(type="axfr"})"), 3.002);
  EXPECT_EQ(value_of(text, h + "_bucket{" + a + R"(type="ixfr",le="0.1"})"), 1);
  EXPECT_EQ(text.find(R"(type="ixfr_udp",le=)"), std::string::npos);
  const std::string n = R"({view="internal",zone="a.example.",target="127.0.0.1:5300"})";
  EXPECT_EQ(value_of(text, "phoenix_dns_notify_sent_total" + n), 3);
  EXPECT_EQ(value_of(text, "phoenix_dns_notify_retries_total" + n), 4);
  EXPECT_EQ(value_of(text, "phoenix_dns_notify_acknowledged_total" + n), 1);
  EXPECT_EQ(value_of(text, "phoenix_dns_notify_rejected_total" + n), 0);
  EXPECT_EQ(value_of(text, "phoenix_dns_notify_failed_total" + n), 1);
  EXPECT_EQ(value_of(text, "phoenix_dns_notify_superseded_total" + n), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_failures_total{transport="udp",error="BADTIME"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_failures_total{transport="tcp",error="BADKEY"})"), 0);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_accepted_total{transport="udp",key="xfr-key"})"), 4);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_accepted_total{transport="tcp",key="xfr-key"})"), 0);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_accepted_total{transport="tcp",key="other"})"), 1);
  EXPECT_EQ(value_of(text, R"(phoenix_dns_tsig_accepted_total{transport="udp",key="other"})"), -1);

  // promtool (Debian's prometheus package) accepts it, histogram and all.
  if (::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed";
  const auto file = std::filesystem::temp_directory_path() / ("phoenix-metrics-" + std::to_string(::getpid()));
  { std::ofstream(file) << text; }
  const std::string cmd = "promtool check metrics < " + file.string() + " > " + file.string() + ".out 2>&1";
  const int rc = ::system(cmd.c_str());
  std::ifstream out(file.string() + ".out");
  const std::string said((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  std::filesystem::remove(file);
  std::filesystem::remove(file.string() + ".out");
  EXPECT_EQ(rc, 0) << said;
}

TEST(Metrics, ZoneAndKeySlotsFollowNames) {
  server::MetricSlots slots;
  zones::Snapshot s1;
  s1.view_data.resize(1);
  s1.view_data[0].name = "internal";
  s1.tsig_keys.resize(2);
  s1.tsig_keys[0].name = "a-key";
  s1.tsig_keys[1].name = "b-key";
  slots.assign(s1);
  EXPECT_EQ(s1.tsig_key_slots, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(s1.view_data[0].unknown_zone_slot, 1);  // a view without zones: only its "none" pair
  zones::Snapshot s2;
  s2.view_data.resize(2);
  s2.view_data[0].name = "external";
  s2.view_data[1].name = "internal";
  s2.tsig_keys.resize(1);
  s2.tsig_keys[0].name = "b-key";
  slots.assign(s2);
  EXPECT_EQ(s2.tsig_key_slots, (std::vector<uint8_t>{2}));
  EXPECT_EQ(s2.view_data[1].unknown_zone_slot, 1);
  EXPECT_EQ(s2.view_data[0].unknown_zone_slot, 2);
  EXPECT_EQ(slots.zones()[2], (server::MetricSlots::ZoneLabel{"external", "none"}));
  EXPECT_EQ(slots.keys(), (std::vector<std::string>{"other", "a-key", "b-key"}));
  // Beyond the table, keys share slot 0 ("other").
  zones::Snapshot big;
  big.tsig_keys.resize(query::kKeySlots + 3);
  for (size_t i = 0; i < big.tsig_keys.size(); ++i) big.tsig_keys[i].name = "k" + std::to_string(i);
  slots.assign(big);
  EXPECT_EQ(big.tsig_key_slots.back(), query::kOtherKeySlot);
  EXPECT_EQ(slots.keys().size(), query::kKeySlots);
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  server::Exposition e;
  e.family("x_total", "counter", "a \\ b\nc");
  e.sample("x_total", {{"zone", "we\"ird\\\nname"}}, uint64_t{3});
  EXPECT_EQ(e.text(), "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{zone=\"we\\\"ird\\\\\\nname\"} 3\n");
}

TEST(MetricsServer, ServesOnlyMetricsAndBoundsRequests) {
  int renders = 0;
  server::MetricsServer srv(horizon::Endpoint{*horizon::IpAddr::parse("127.0.0.1"), 0}, [&] {
    ++renders;
    return std::string("x 1\n");
  });
  srv.start();
  auto ok = http(srv.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(ok.substr(ok.size() - 4), "x 1\n");
  EXPECT_EQ(http(srv.port(), "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(http(srv.port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_EQ(http(srv.port(), "nonsense\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(http(srv.port(), "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a')).rfind("HTTP/1.1 431", 0), 0u);
  EXPECT_EQ(renders, 1);
  srv.stop();
}

TEST(MetricsServer, StalledClientsDoNotBlockAScrape) {
  server::MetricsServer srv(horizon::Endpoint{*horizon::IpAddr::parse("127.0.0.1"), 0}, [] { return std::string("x 1\n"); });
  srv.start();
  // Clients that connect and never finish their request (more than the connection limit).
  std::vector<int> stalled;
  for (size_t i = 0; i < server::MetricsServer::kMaxConnections + 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(srv.port());
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::send(fd, "GET /met", 8, MSG_NOSIGNAL);
    stalled.push_back(fd);
  }
  // The limit is full, so a new scrape may be closed at once; within the deadline it gets through.
  auto t0 = std::chrono::steady_clock::now();
  std::string got;
  while (got.find("200 OK") == std::string::npos &&
         std::chrono::steady_clock::now() - t0 < server::MetricsServer::kDeadline * 2) {
    got = http(srv.port(), "GET /metrics HTTP/1.0\r\n\r\n");
    if (got.empty()) ::usleep(50000);
  }
  EXPECT_NE(got.find("200 OK"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, server::MetricsServer::kDeadline + std::chrono::seconds(2));
  for (int fd : stalled) ::close(fd);
  srv.stop();
}
