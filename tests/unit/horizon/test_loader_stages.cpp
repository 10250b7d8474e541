// The loader's stages one by one (horizon/loader.cpp: read_network, read_forwarding, read_listen,
// read_view(s), read_chaos, read_metrics, read_dnstap, read_authoritative_zones, read_zone_files,
// read_traefik_labels and link_routes): each test gives one stage a small hand-written document and
// checks what it produced and every message it said, word for word with its file and JSON pointer.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "horizon/loader.hpp"
#include "temp_inventory.hpp"

using namespace phoenix::horizon;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// A temporary inventory directory holding only the files a test writes.
struct Dir : test_support::TempInventory {
  Dir() : TempInventory("phoenix-stages", false) {}
};

/// The smallest hypervisor document that loads; `dns_server` is added when not null.
json hypervisor(const json& dns_server = nullptr) {
  json doc = {{"domain_name", "phoenix.example.org"},
              {"network", {{"interfaces", {{"name", "vmbr0"}, {"address", "10.0.0.13/24"}}},
                           {"default_subnet", "10.0.0.0/24"}}}};
  if (!dns_server.is_null()) doc["dns_server"] = dns_server;
  return doc;
}

struct Loaded {
  LoadResult result;
  std::vector<std::string> messages;  ///< every diagnostic but the missing guest files'
};

/// Loads `dir` with `doc` as its hypervisor file (and empty guest files, whose absence the loader reports).
Loaded load(Dir& dir, const json& doc) {
  dir.write(kHypervisorFile, doc);
  dir.write(kLxcFile, {{"lxc_configs", json::object()}});
  dir.write(kVmFile, {{"vms", json::array()}});
  Loaded out{load_inventory(dir.path()), {}};
  for (auto& d : out.result.diagnostics.items()) out.messages.push_back(d.format());
  return out;
}

Loaded load_dns(const json& dns_server) {
  Dir dir;
  return load(dir, hypervisor(dns_server));
}

using Messages = std::vector<std::string>;

}  // namespace

TEST(LoaderStages, NetworkTakesTheFirstInterfaceOfAListAndDefaultsTheSubnet) {
  Dir dir;
  json doc = hypervisor();
  doc["network"] = {{"interfaces", json::array({{{"name", "vmbr1"}, {"address", "192.168.7.2/23"},
                                                  {"dns_nameservers", "192.168.7.2 1.1.1.1"}}})},
                    {"portainer_agent_port", "9101"}};
  auto l = load(dir, doc);
  ASSERT_TRUE(l.result.inventory);
  const Host& h = l.result.inventory->host;
  EXPECT_EQ(h.address.to_string(), "192.168.7.2/23");
  EXPECT_EQ(h.default_subnet.to_string(), "192.168.6.0/23");
  EXPECT_EQ(h.interface_name, "vmbr1");
  EXPECT_EQ(h.portainer_agent_port, 9101);
  EXPECT_EQ(h.dns_nameservers, (std::vector<std::string>{"192.168.7.2", "1.1.1.1"}));
  EXPECT_EQ(h.dns_nameservers_where.pointer, "/network/interfaces/0/dns_nameservers");
  EXPECT_EQ(l.messages, (Messages{"warning: phoenix_hypervisor_config.json: /network: no \"default_subnet\"; using "
                                  "the host's network 192.168.6.0/23"}));
}

TEST(LoaderStages, NetworkErrorsNameTheirPointer) {
  Dir dir;
  json doc = hypervisor();
  doc["network"]["interfaces"]["address"] = "fe80::1/64";
  doc["network"]["default_subnet"] = "10.0.0.0/33";
  auto l = load(dir, doc);
  EXPECT_FALSE(l.result.inventory);
  EXPECT_EQ(l.messages,
            (Messages{"error: phoenix_hypervisor_config.json: /network/interfaces/address: \"fe80::1/64\" is not an "
                      "IPv4 address/prefix",
                      "error: phoenix_hypervisor_config.json: /network/default_subnet: \"10.0.0.0/33\" is not an IPv4 prefix"}));

  doc.erase("network");
  EXPECT_EQ(load(dir, doc).messages,
            (Messages{"error: phoenix_hypervisor_config.json: missing required field \"network\""}));
}

TEST(LoaderStages, ForwardingReadsUpstreamsTimeoutsCacheAndRebinding) {
  auto l = load_dns({{"upstream_servers", "1.1.1.1, 9.9.9.9:5353"},
                     {"forward_timeout_ms", 250},
                     {"forward_total_timeout_ms", 900},
                     {"cache_max_bytes", 0},
                     {"cache_max_ttl", 600},
                     {"cache_max_negative_ttl", 60},
                     {"rebind_allow", {"Plex.Direct."}},
                     {"search_single_label", true}});
  ASSERT_TRUE(l.result.inventory) << l.messages.front();
  const DnsSettings& d = l.result.inventory->dns;
  ASSERT_EQ(d.upstreams.size(), 2u);
  EXPECT_EQ(d.upstreams[0].to_string(), "1.1.1.1:53");
  EXPECT_EQ(d.upstreams[1].to_string(), "9.9.9.9:5353");
  EXPECT_EQ(d.forward.timeout_ms, 250u);
  EXPECT_EQ(d.forward.total_timeout_ms, 900u);
  EXPECT_EQ(d.forward.cache_max_bytes, 0u);
  EXPECT_EQ(d.forward.cache_max_ttl, 600u);
  EXPECT_EQ(d.forward.cache_max_negative_ttl, 60u);
  EXPECT_EQ(d.forward.rebind_allow, (std::vector<std::string>{"plex.direct"}));
  EXPECT_TRUE(d.forward.search_single_label);
  EXPECT_TRUE(l.messages.empty());
}

TEST(LoaderStages, ForwardingErrorsNameTheEntry) {
  auto l = load_dns({{"upstream_servers", {"1.1.1.1", "resolver"}},
                     {"forward_timeout_ms", 60001},
                     {"rebind_allow", {"ok.example", "bad..name"}}});
  EXPECT_FALSE(l.result.inventory);
  EXPECT_EQ(l.messages,
            (Messages{"error: phoenix_hypervisor_config.json: /dns_server/upstream_servers/1: \"resolver\" is not an "
                      "address or address:port",
                      "error: phoenix_hypervisor_config.json: /dns_server/forward_timeout_ms: invalid value 60001 "
                      "(expected an integer 0..60000)",
                      "error: phoenix_hypervisor_config.json: /dns_server/rebind_allow/1: invalid domain name \"bad..name\""}));
}

TEST(LoaderStages, ListenDefaultsThePortTo53) {
  auto l = load_dns({{"listen", {"127.0.0.1", "[::1]:5300", "localhost"}}});
  EXPECT_EQ(l.messages, (Messages{"error: phoenix_hypervisor_config.json: /dns_server/listen/2: \"localhost\" is not "
                                  "an address or address:port"}));
  l = load_dns({{"listen", {"127.0.0.1", "[::1]:5300"}}});
  ASSERT_TRUE(l.result.inventory);
  auto& listen = l.result.inventory->dns.listen;
  ASSERT_EQ(listen.size(), 2u);
  EXPECT_EQ(listen[0].to_string(), "127.0.0.1:53");
  EXPECT_EQ(listen[1].port, 5300);
}

TEST(LoaderStages, ViewReadsOneObject) {
  auto l = load_dns({{"rate_limit", {{"responses_per_second", 7}, {"window", 30}}},
                     {"views", {{{"name", "lab"},
                                 {"match_clients", "10.1.0.0/16 any"},
                                 {"zones", {"Lab.Example."}},
                                 {"recursion", false},
                                 {"rate_limit", {{"slip", 0}}}}}}});
  ASSERT_TRUE(l.result.inventory) << l.messages.front();
  ASSERT_EQ(l.result.inventory->dns.views.size(), 1u);
  const ViewSpec& v = l.result.inventory->dns.views[0];
  EXPECT_EQ(v.name, "lab");
  ASSERT_EQ(v.match_clients.size(), 3u);  // "any" is both families
  EXPECT_EQ(v.match_clients[0].to_string(), "10.1.0.0/16");
  EXPECT_EQ(v.match_clients[1].to_string(), "0.0.0.0/0");
  EXPECT_EQ(v.match_clients[2].to_string(), "::/0");
  EXPECT_EQ(v.zones, (std::vector<std::string>{"lab.example"}));
  EXPECT_EQ(v.horizon, "external");  // by name: only "internal" defaults to the internal horizon
  EXPECT_EQ(v.recursion, false);
  EXPECT_EQ(v.where.pointer, "/dns_server/views/0");
  // The view's rate_limit starts from dns_server.rate_limit and is on unless it says otherwise.
  ASSERT_TRUE(v.rate_limit);
  EXPECT_TRUE(v.rate_limit->enabled);
  EXPECT_EQ(v.rate_limit->responses_per_second, 7u);
  EXPECT_EQ(v.rate_limit->window, 30u);
  EXPECT_EQ(v.rate_limit->slip, 0u);
}

TEST(LoaderStages, ViewsSayEachProblemAtItsView) {
  auto l = load_dns({{"views", {{{"name", "a"}, {"match_clients", {"10.0.0.0/24"}}},
                                "internal",
                                {{"match_clients", "any"}},
                                {{"name", "a"}, {"match_clients", {"10.0.0.0/33"}}, {"horizon", "inside"}},
                                {{"name", "b"}, {"rate_limit", 5}}}}});
  EXPECT_FALSE(l.result.inventory);
  const std::string f = "error: phoenix_hypervisor_config.json: /dns_server/views/";
  EXPECT_EQ(l.messages, (Messages{f + "1: invalid view \"internal\" (expected an object)",
                                  f + "2: missing required field \"name\"",
                                  f + "3/name: duplicate view \"a\"",
                                  f + "3/match_clients/0: \"10.0.0.0/33\" is not an address prefix or \"any\"",
                                  f + "3/horizon: invalid horizon \"inside\" (expected internal or external)",
                                  f + "4: view \"b\" has no \"match_clients\"",
                                  f + "4/rate_limit: invalid value 5 (expected true, false or an object)"}));
}

TEST(LoaderStages, ViewRateLimitTrueOrFalseKeepsTheGlobalNumbers) {
  auto l = load_dns({{"rate_limit", {{"enabled", true}, {"errors_per_second", 3}}},
                     {"views", {{{"name", "internal"}, {"match_clients", "10.0.0.0/24"}, {"rate_limit", false}},
                                {{"name", "external"}, {"match_clients", "any"}}}}});
  ASSERT_TRUE(l.result.inventory);
  auto& d = l.result.inventory->dns;
  EXPECT_EQ(d.rate_limit_enabled, true);
  ASSERT_TRUE(d.views[0].rate_limit);
  EXPECT_FALSE(d.views[0].rate_limit->enabled);
  EXPECT_EQ(d.views[0].rate_limit->errors_per_second, 3u);
  EXPECT_EQ(d.views[0].horizon, "internal");
  EXPECT_FALSE(d.views[1].rate_limit);  // no key: the plan applies the global setting
}

TEST(LoaderStages, ChaosMetricsAndDnstap) {
  auto l = load_dns({{"chaos", {{"version", "phoenix"}}},
                     {"metrics", {{"listen", "127.0.0.1"}}},
                     {"dnstap", {{"file", "/var/log/phoenix.tap"}, {"responses", false}}}});
  ASSERT_TRUE(l.result.inventory) << l.messages.front();
  auto& d = l.result.inventory->dns;
  EXPECT_EQ(d.chaos_version, "phoenix");
  EXPECT_FALSE(d.chaos_identity);
  ASSERT_TRUE(d.metrics_listen);
  EXPECT_EQ(d.metrics_listen->to_string(), "127.0.0.1:9153");
  ASSERT_TRUE(d.dnstap);
  EXPECT_EQ(d.dnstap->file, "/var/log/phoenix.tap");
  EXPECT_TRUE(d.dnstap->socket.empty());
  EXPECT_TRUE(d.dnstap->queries);
  EXPECT_FALSE(d.dnstap->responses);
}

TEST(LoaderStages, ChaosMetricsAndDnstapRefuseWhatTheyCannotHonour) {
  auto l = load_dns({{"chaos", {{"identity", std::string(256, 'x')}}},
                     {"metrics", {{"listen", "127.0.0.1:9153"}, {"path", "/m"}}},
                     {"dnstap", {{"file", "phoenix.tap"}, {"socket", "/run/tap.sock"}, {"format", "json"}}}});
  EXPECT_FALSE(l.result.inventory);
  const std::string f = "error: phoenix_hypervisor_config.json: /dns_server/";
  EXPECT_EQ(l.messages, (Messages{f + "chaos/identity: invalid text (longer than 255 characters)",
                                  f + "metrics/path: unknown key \"path\" (expected \"listen\")",
                                  f + "dnstap/format: unknown key \"format\" (expected socket, file, queries, responses)",
                                  f + "dnstap: expected exactly one of \"socket\" and \"file\""}));
  l = load_dns({{"dnstap", {{"file", "phoenix.tap"}}}});
  EXPECT_EQ(l.messages, (Messages{f + "dnstap/file: \"phoenix.tap\" is not an absolute path"}));
}

TEST(LoaderStages, AuthoritativeZonesKeepEachUsableRecord) {
  auto l = load_dns({{"authoritative_zones",
                      {{{"zone_name", "Lab.Example."},
                        {"records", {{{"hostname", "@"}, {"ip_internal", "10.0.0.5"}},
                                     {{"hostname", "www"}, {"ip_external", "2001:db8::5"}},
                                     {{"hostname", "both"}, {"ip_internal", "10.0.0.6"}, {"ip_external", "192.0.2.6"}}}}}}}});
  ASSERT_TRUE(l.result.inventory) << l.messages.front();
  auto& recs = l.result.inventory->dns.explicit_records;
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].zone, "lab.example");
  EXPECT_EQ(recs[0].hostname, "@");
  EXPECT_EQ(recs[0].ip_internal->to_string(), "10.0.0.5");
  EXPECT_FALSE(recs[0].ip_external);
  EXPECT_EQ(recs[1].ip_external->to_string(), "2001:db8::5");
  EXPECT_EQ(recs[2].where.pointer, "/dns_server/authoritative_zones/0/records/2");
}

TEST(LoaderStages, AuthoritativeZonesSayEachBadRecord) {
  auto l = load_dns({{"authoritative_zones",
                      {"lab.example",
                       {{"records", json::array()}},
                       {{"zone_name", "lab.example"},
                        {"records", {"www", {{"hostname", "bad_name!"}, {"ip_internal", "10.0.0.1"}},
                                     {{"hostname", "none"}}, {{"hostname", "v4"}, {"ip_internal", "10.0.0.300"}}}}}}}});
  EXPECT_FALSE(l.result.inventory);
  const std::string f = "error: phoenix_hypervisor_config.json: /dns_server/authoritative_zones/";
  EXPECT_EQ(l.messages, (Messages{f + "0: invalid zone \"lab.example\" (expected an object)",
                                  f + "1: missing required field \"zone_name\"",
                                  f + "2/records/0: invalid record \"www\" (expected an object)",
                                  f + "2/records/1/hostname: invalid host name \"bad_name!\"",
                                  f + "2/records/2: record \"none\" has neither \"ip_internal\" nor \"ip_external\"",
                                  f + "2/records/3/ip_internal: \"10.0.0.300\" is not an IP address"}));
}

TEST(LoaderStages, ZoneFilesResolveAgainstTheInventoryDirectory) {
  Dir dir;
  auto l = load(dir, hypervisor({{"zone_files", {{{"file", "zones/lab.zone"}, {"origin", "lab.example."}, {"views", "internal"}},
                                                 {{"file", "/srv/other.zone"}, {"origin", "other.example"}},
                                                 {{"file", "x.zone"}},
                                                 {{"origin", "y.example"}}}}}));
  const std::string f = "error: phoenix_hypervisor_config.json: /dns_server/zone_files/";
  EXPECT_EQ(l.messages, (Messages{f + "2: missing required field \"origin\"", f + "3: missing required field \"file\""}));
  l = load(dir, hypervisor({{"zone_files", {{{"file", "zones/lab.zone"}, {"origin", "lab.example."}, {"views", "internal"}},
                                            {{"file", "/srv/other.zone"}, {"origin", "other.example"}}}}}));
  ASSERT_TRUE(l.result.inventory);
  auto& zf = l.result.inventory->dns.zone_files;
  ASSERT_EQ(zf.size(), 2u);
  EXPECT_EQ(zf[0].file, dir.path() / "zones/lab.zone");
  EXPECT_EQ(zf[0].origin, "lab.example");
  EXPECT_EQ(zf[0].views, (std::vector<std::string>{"internal"}));
  EXPECT_EQ(zf[1].file, fs::path("/srv/other.zone"));
  EXPECT_TRUE(zf[1].views.empty());
}

namespace {

Loaded load_labels(const json& labels) {
  Dir dir;
  dir.write(kStacksFile,
            {{"docker_stacks",
              {{"web", {{"environments", {{"production", {{"services", {{"app", {{"traefik_labels", labels}}}}}}}}}}}}}});
  return load(dir, hypervisor());
}

}  // namespace

TEST(LoaderStages, TraefikLabelsGiveOneRoutePerHostLinkedToItsService) {
  // The router comes before its service's labels; the second router has no service of its name and
  // two services exist, so it gets no port (Traefik would refuse to guess either).
  auto l = load_labels({"traefik.enable=true",
                        "traefik.http.routers.app.rule=Host(`App.internal.example.org`) || Host(`app.phoenix.example.org`)",
                        "traefik.http.routers.app.entrypoints=web, websecure",
                        "traefik.http.routers.app.tls=true",
                        "traefik.http.routers.app.tls.certresolver=step",
                        "traefik.http.routers.app.middlewares=auth",
                        "traefik.http.routers.admin.rule=Host(`admin.internal.example.org`)",
                        "traefik.http.services.app.loadbalancer.server.port=8443",
                        "traefik.http.services.app.loadbalancer.server.scheme=https",
                        "traefik.http.services.other.loadbalancer.server.port=9000"});
  ASSERT_TRUE(l.result.inventory) << l.messages.front();
  EXPECT_TRUE(l.messages.empty());
  auto& routes = l.result.inventory->stack_routes;
  ASSERT_EQ(routes.size(), 3u);
  for (size_t i : {0, 1}) {
    EXPECT_EQ(routes[i].stack, "web");
    EXPECT_EQ(routes[i].environment, "production");
    EXPECT_EQ(routes[i].service, "app");
    EXPECT_EQ(routes[i].router, "app");
    EXPECT_EQ(routes[i].port, 8443);
    EXPECT_EQ(routes[i].scheme, "https");
    EXPECT_EQ(routes[i].entrypoints, (std::vector<std::string>{"web", "websecure"}));
    EXPECT_EQ(routes[i].tls, true);
    EXPECT_EQ(routes[i].certresolver, "step");
    EXPECT_EQ(routes[i].middlewares, (std::vector<std::string>{"auth"}));
    EXPECT_EQ(routes[i].where.pointer, "/docker_stacks/web/environments/production/services/app/traefik_labels/1");
  }
  EXPECT_EQ(routes[0].host, "app.internal.example.org");
  EXPECT_EQ(routes[1].host, "app.phoenix.example.org");
  EXPECT_EQ(routes[2].router, "admin");
  EXPECT_EQ(routes[2].port, 0);
  EXPECT_FALSE(routes[2].tls);
}

TEST(LoaderStages, TraefikLabelsWithOneServiceLinkEveryRouterToIt) {
  auto l = load_labels({"traefik.http.services.backend.loadbalancer.server.port=3000",
                        "traefik.http.routers.ui.rule=Host(`ui.internal.example.org`)"});
  ASSERT_TRUE(l.result.inventory);
  ASSERT_EQ(l.result.inventory->stack_routes.size(), 1u);
  EXPECT_EQ(l.result.inventory->stack_routes[0].port, 3000);
}

TEST(LoaderStages, TraefikLabelsSayWhatTheyCannotCarry) {
  auto l = load_labels({"traefik.http.routers.a.rule=PathPrefix(`/api`)",
                        "traefik.http.routers.b.rule=Host(`bad_host!.example.org`)",
                        "traefik.http.routers.c.rule=Host(`c.internal.example.org`)",
                        "traefik.http.routers.c.priority=10",
                        "traefik.http.routers.c.tls=yes",
                        "traefik.http.services.c.loadbalancer.server.port=http",
                        42});
  EXPECT_FALSE(l.result.inventory);
  const std::string f = "phoenix_stacks_config.json: /docker_stacks/web/environments/production/services/app/traefik_labels/";
  // Label by label first; the router's settings once its routes are linked.
  EXPECT_EQ(l.messages, (Messages{"warning: " + f + "0: router \"a\" has no Host() rule; ignored",
                                  "error: " + f + "1: invalid host name \"bad_host!.example.org\" in Host() rule",
                                  "error: " + f + "5: invalid port \"http\" (expected 1..65535)",
                                  "error: " + f + "6: invalid label 42 (expected a string)",
                                  "warning: " + f + "3: router label \"priority\" is not written to Traefik's file by netgen",
                                  "error: " + f + "4: invalid value \"yes\" for tls (expected true or false)"}));
}

TEST(LoaderStages, TraefikServiceKeepsTheKeysItDoesNotKnowByName) {
  // The DNS names do not depend on them, so the loader (and phoenix-dns) accepts them; netgen,
  // which would write a route without them, refuses (tests/unit/tools/test_netgen_checks.cpp).
  Dir dir;
  dir.write(kHypervisorFile, hypervisor());
  dir.write(kVmFile, {{"vms", json::array()}});
  dir.write(kLxcFile, {{"lxc_configs",
                        {{"110", {{"name", "wiki"},
                                  {"network_config", {{"ip", "10.0.0.60/24"}}},
                                  {"traefik_service", {{"name", "wiki"}, {"port", 3000}, {"protocol", "http"},
                                                       {"path_prefix", "/wiki"}, {"scheme", "https"}}}}}}}});
  auto r = load_inventory(dir.path());
  ASSERT_TRUE(r.inventory);
  EXPECT_TRUE(r.diagnostics.items().empty());
  const Service& s = *r.inventory->guests.at(0).service;
  EXPECT_EQ(s.port, 3000);
  EXPECT_EQ(s.unknown_keys, (std::vector<std::string>{"path_prefix", "scheme"}));
  EXPECT_EQ(s.where.pointer, "/lxc_configs/110/traefik_service");
}
