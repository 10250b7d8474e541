#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "server/metrics.hpp"
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

/// The value of the one sample line that starts with `series ` in `text`, or -1.
double value_of(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

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
