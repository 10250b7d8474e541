// derive_plan's stages (horizon/plan_stages.hpp), each driven on its own with a small Inventory
// built in the test: no files, no loader.
#include <gtest/gtest.h>

#include "horizon/loader.hpp"
#include "horizon/plan.hpp"
#include "horizon/plan_stages.hpp"

using namespace phoenix::horizon;
using namespace phoenix::horizon::plan_stages;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }
IpPrefix prefix(const char* s) { return *IpPrefix::parse(s); }

/// The host 10.0.0.13/24 of phoenix.example.org, no guests.
Inventory host_only() {
  Inventory inv;
  inv.host.domain_name = "phoenix.example.org";
  inv.host.address = prefix("10.0.0.13/24");
  inv.host.default_subnet = prefix("10.0.0.0/24");
  return inv;
}

Guest& add_guest(Inventory& inv, uint32_t id, const std::string& name, const char* address = nullptr) {
  Guest g;
  g.kind = Guest::Kind::lxc;
  g.id = id;
  g.name = name;
  if (address) g.ip = prefix(address);
  g.where = {kLxcFile, "/lxc_configs/" + std::to_string(id)};
  inv.guests.push_back(g);
  return inv.guests.back();
}

void give_service(Guest& g, const std::string& name, uint16_t port, const std::string& protocol = "") {
  g.service = Service{name, port, protocol, {g.where.file, g.where.pointer + "/traefik_service"}, {}};
}

StackRoute route(const std::string& stack, const std::string& env, const std::string& host, uint16_t port = 80) {
  StackRoute r;
  r.stack = stack;
  r.environment = env;
  r.service = stack;
  r.router = stack;
  r.host = host;
  r.port = port;
  r.where = {kStacksFile, "/docker_stacks/" + stack + "/environments/" + env + "/services/" + stack + "/traefik_labels/0"};
  return r;
}

const ZoneNames kZones{"internal.example.org", "phoenix.example.org", "0.0.10.in-addr.arpa"};

std::vector<std::string> messages(const Diagnostics& d) {
  std::vector<std::string> out;
  for (auto& i : d.items()) out.push_back(i.format());
  return out;
}

using Messages = std::vector<std::string>;

/// owner -> value of every record, in order.
std::vector<std::pair<std::string, std::string>> pairs(const std::vector<PlanRecord>& recs) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& r : recs) out.emplace_back(r.owner, r.value);
  return out;
}
using Pairs = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST(PlanNameTable, OneAddressFromTwoSourcesIsOneRecordAnotherIsAConflict) {
  Diagnostics d;
  NameTable t(d);
  t.add("b.zone", ip("10.0.0.2"), "source one", {"f.json", "/one"});
  t.add("b.zone", ip("10.0.0.2"), "source two", {"f.json", "/two"});
  t.add("b.zone", ip("fd00::2"), "source three", {"f.json", "/three"});  // another family: no conflict
  t.add("a.zone", ip("10.0.0.1"), "source four", {"f.json", "/four"});
  EXPECT_TRUE(messages(d).empty());
  EXPECT_TRUE(t.has("a.zone"));
  EXPECT_FALSE(t.has("c.zone"));
  auto recs = t.records();
  EXPECT_EQ(pairs(recs), (Pairs{{"a.zone", "10.0.0.1"}, {"b.zone", "10.0.0.2"}, {"b.zone", "fd00::2"}}));
  EXPECT_EQ(recs[1].kind, RecordKind::a);
  EXPECT_EQ(recs[1].source, "source one");
  EXPECT_EQ(recs[2].kind, RecordKind::aaaa);

  t.add("b.zone", ip("10.0.0.9"), "source five", {"f.json", "/five"});
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].code, "name-conflict");
  EXPECT_EQ(messages(d), (Messages{"error: f.json: /five: name b.zone conflicts: 10.0.0.9 from source five vs "
                                   "10.0.0.2 from source one"}));
  EXPECT_EQ(t.records().size(), 3u);  // the first address stays
}

TEST(PlanStages, NameZonesFromTheDomainOrTheInventory) {
  Diagnostics d;
  Inventory inv = host_only();
  auto z = name_zones(inv, d);
  EXPECT_EQ(z.internal, "internal.example.org");
  EXPECT_EQ(z.external, "phoenix.example.org");
  EXPECT_EQ(z.reverse, "0.0.10.in-addr.arpa");

  inv.dns.internal_zone = "lan.example.net";
  inv.dns.external_zone = "www.example.net";
  inv.host.default_subnet = prefix("10.20.0.0/16");
  z = name_zones(inv, d);
  EXPECT_EQ(z.internal, "lan.example.net");
  EXPECT_EQ(z.external, "www.example.net");
  EXPECT_EQ(z.reverse, "20.10.in-addr.arpa");
  EXPECT_TRUE(messages(d).empty());

  inv.host.default_subnet = prefix("10.0.0.0/7");
  name_zones(inv, d);
  EXPECT_EQ(messages(d), (Messages{"error: phoenix_hypervisor_config.json: /network/default_subnet: subnet 10.0.0.0/7 "
                                   "is too wide for a reverse zone (needs /8 or longer)"}));
}

TEST(PlanStages, ServingSettingsListenOnTheHostByDefault) {
  Inventory inv = host_only();
  inv.dns.upstreams = {*Endpoint::parse("1.1.1.1", 53)};
  inv.dns.forward.timeout_ms = 250;
  inv.dns.require_cookie = true;
  inv.dns.chaos_version = "v";
  HorizonPlan plan;
  serving_settings(inv, kZones, plan);
  ASSERT_EQ(plan.listen.size(), 1u);
  EXPECT_EQ(plan.listen[0].to_string(), "10.0.0.13:53");
  EXPECT_EQ(plan.upstreams, inv.dns.upstreams);
  EXPECT_EQ(plan.forward.timeout_ms, 250u);
  EXPECT_EQ(plan.forward.search_zone, "internal.example.org");
  EXPECT_EQ(plan.forward.own_subnets, (std::vector<IpPrefix>{prefix("10.0.0.0/24")}));
  EXPECT_TRUE(plan.require_cookie);
  EXPECT_EQ(plan.chaos_version, "v");

  inv.dns.listen = {*Endpoint::parse("127.0.0.1:5300", 53)};
  HorizonPlan given;
  serving_settings(inv, kZones, given);
  EXPECT_EQ(given.listen, inv.dns.listen);
}

TEST(PlanStages, GatewayByAddressThenServiceThenName) {
  Inventory inv = host_only();
  EXPECT_FALSE(choose_gateway(inv).ip);
  EXPECT_EQ(choose_gateway(inv).reason, "no gateway found");

  add_guest(inv, 100, "nginx-dhcp");  // no static address: never the gateway
  add_guest(inv, 101, "Nginx-Phoenix", "10.0.0.153/24");
  auto g = choose_gateway(inv);
  EXPECT_EQ(g.ip, ip("10.0.0.153"));
  EXPECT_EQ(g.reason, "guest lxc 101 (Nginx-Phoenix) is named nginx*");

  give_service(add_guest(inv, 102, "proxy", "10.0.0.154/24"), "nginx", 80);
  g = choose_gateway(inv);
  EXPECT_EQ(g.ip, ip("10.0.0.154"));
  EXPECT_EQ(g.reason, "guest lxc 102 (proxy) declares traefik service nginx");

  inv.dns.gateway_ip = ip("10.0.0.200");
  g = choose_gateway(inv);
  EXPECT_EQ(g.ip, ip("10.0.0.200"));
  EXPECT_EQ(g.reason, "dns_server.gateway_ip");
}

TEST(PlanStages, TcpServiceByProtocolAgentPortOrAgentName) {
  Inventory inv = host_only();
  Guest& g = add_guest(inv, 900, "docker", "10.0.0.90/24");
  EXPECT_TRUE(is_tcp_service(g, {"db", 5432, "tcp", {}, {}}, inv));
  EXPECT_FALSE(is_tcp_service(g, {"web", 9001, "", {}, {}}, inv));  // not an agent: port alone says nothing
  g.portainer_role = "agent";
  g.portainer_agent_hostname = "agent-900.internal.example.org";
  EXPECT_TRUE(is_tcp_service(g, {"portainer", 9001, "", {}, {}}, inv));
  EXPECT_TRUE(is_tcp_service(g, {"agent-900", 8000, "", {}, {}}, inv));
  EXPECT_FALSE(is_tcp_service(g, {"ui", 8000, "", {}, {}}, inv));
  EXPECT_FALSE(is_tcp_service(g, {"portainer", 9001, "http", {}, {}}, inv));  // the protocol says otherwise
}

TEST(PlanStages, PublishGuestsNamesServicesAndAgents) {
  Inventory inv = host_only();
  give_service(add_guest(inv, 914, "ollama_gpu0", "10.0.0.94/24"), "Ollama", 11434);
  Guest& agent = add_guest(inv, 950, "docker", "10.0.0.95/24");
  agent.portainer_role = "agent";
  agent.portainer_agent_hostname = "agent";
  give_service(agent, "portainer-agent", 9001);
  add_guest(inv, 960, "web", "10.0.0.96/24").portainer_agent_hostname = "agent.elsewhere.net";
  Guest& dhcp = add_guest(inv, 970, "lab");
  dhcp.dhcp = true;
  give_service(dhcp, "lab", 80);

  Diagnostics d;
  NameTable internal(d);
  std::vector<PublishedService> services;
  publish_guests(inv, kZones, internal, services, d);
  EXPECT_EQ(pairs(internal.records()), (Pairs{{"agent.internal.example.org", "10.0.0.95"},
                                              {"docker.internal.example.org", "10.0.0.95"},
                                              {"ollama-gpu0.internal.example.org", "10.0.0.94"},
                                              {"ollama.internal.example.org", "10.0.0.94"},
                                              {"portainer-agent.internal.example.org", "10.0.0.95"},
                                              {"web.internal.example.org", "10.0.0.96"}}));
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0].name, "ollama");
  EXPECT_EQ(services[0].external_fqdn, "ollama.phoenix.example.org");
  EXPECT_EQ(services[0].backend, ip("10.0.0.94"));
  EXPECT_EQ(services[0].port, 11434);
  EXPECT_FALSE(services[0].tcp);
  EXPECT_EQ(services[0].owner, "lxc 914 (ollama_gpu0)");
  EXPECT_TRUE(services[1].tcp);  // the Portainer agent: never behind the HTTP gateway
  EXPECT_EQ(services[1].external_fqdn, "");
  EXPECT_EQ(messages(d),
            (Messages{"warning: phoenix_lxc_configs.json: /lxc_configs/914/name: name \"ollama_gpu0\" published as \"ollama-gpu0\"",
                      "warning: phoenix_lxc_configs.json: /lxc_configs/960/portainer_agent_hostname: agent host name "
                      "agent.elsewhere.net is outside internal.example.org; not published",
                      "warning: phoenix_lxc_configs.json: /lxc_configs/970/network_config/ip: lxc 970 (lab) uses dhcp; no address records",
                      "warning: phoenix_lxc_configs.json: /lxc_configs/970/traefik_service: service lab on lxc 970 (lab) "
                      "has no static address; not published"}));
}

TEST(PlanStages, PublishRoutesAtTheGatewayWithTheStacksGuestAsBackend) {
  Inventory inv = host_only();
  add_guest(inv, 800, "qdrant", "10.0.0.80/24");  // a guest already named like the route
  Guest& vm = add_guest(inv, 810, "docker", "10.0.0.81/24");
  vm.docker_stacks = {{"qdrant", "production", {}}, {"wiki", "", {}}};
  inv.stack_routes = {route("qdrant", "staging", "qdrant.internal.example.org", 6333),
                      route("qdrant", "production", "qdrant.internal.example.org", 6333),
                      route("wiki", "production", "wiki.internal.example.org", 3000),
                      route("shop", "production", "shop.phoenix.example.org"),
                      route("blog", "production", "blog.example.com")};
  const GatewayChoice gateway{ip("10.0.0.153"), "test"};

  Diagnostics d;
  NameTable internal(d);
  internal.add("qdrant.internal.example.org", ip("10.0.0.80"), "guest", {});
  std::vector<PublishedService> services;
  publish_routes(inv, kZones, gateway, internal, services, d);
  // qdrant keeps the guest's address; wiki exists only as a route, so it is the gateway's; shop is
  // named in the external zone only, so it gets no internal name.
  EXPECT_EQ(pairs(internal.records()),
            (Pairs{{"qdrant.internal.example.org", "10.0.0.80"}, {"wiki.internal.example.org", "10.0.0.153"}}));
  ASSERT_EQ(services.size(), 4u);
  EXPECT_EQ(services[0].owner, "stack qdrant/staging/qdrant");
  EXPECT_FALSE(services[0].backend);  // no guest runs the staging environment
  EXPECT_EQ(services[1].backend, ip("10.0.0.81"));
  EXPECT_EQ(services[1].external_fqdn, "qdrant.phoenix.example.org");
  EXPECT_TRUE(services[1].from_stack);
  EXPECT_EQ(services[2].backend, ip("10.0.0.81"));  // a stack listed without environment runs all of them
  EXPECT_EQ(services[2].port, 3000);
  EXPECT_EQ(services[3].name, "shop");
  EXPECT_EQ(services[3].internal_fqdn, "shop.internal.example.org");
  EXPECT_EQ(messages(d), (Messages{"warning: phoenix_stacks_config.json: /docker_stacks/blog/environments/production/"
                                   "services/blog/traefik_labels/0: route host blog.example.com is outside "
                                   "internal.example.org and phoenix.example.org; ignored"}));

  // Without a gateway nothing is published (check_gateway says why).
  Diagnostics d2;
  NameTable none(d2);
  std::vector<PublishedService> unpublished;
  publish_routes(inv, kZones, {std::nullopt, "no gateway found"}, none, unpublished, d2);
  EXPECT_TRUE(none.records().empty());
  EXPECT_TRUE(unpublished.empty());
  EXPECT_EQ(d2.items().size(), 1u);  // the route outside our zones, as above
}

TEST(PlanStages, CheckGatewayOnlyWhenSomethingNeedsOne) {
  Inventory inv = host_only();
  const GatewayChoice none{std::nullopt, "no gateway found"};
  PublishedService tcp;
  tcp.tcp = true;
  PublishedService http;

  Diagnostics d;
  check_gateway(inv, kZones, none, {tcp}, d);
  EXPECT_TRUE(messages(d).empty());
  check_gateway(inv, kZones, {ip("10.0.0.153"), "test"}, {http}, d);
  EXPECT_TRUE(messages(d).empty());
  inv.stack_routes = {route("blog", "production", "blog.example.com")};  // outside our zones: needs none
  check_gateway(inv, kZones, none, {}, d);
  EXPECT_TRUE(messages(d).empty());

  check_gateway(inv, kZones, none, {http}, d);
  inv.stack_routes = {route("wiki", "production", "wiki.internal.example.org")};
  check_gateway(inv, kZones, none, {}, d);
  const std::string error = "error: phoenix_hypervisor_config.json: /dns_server: no gateway for published services "
                            "(set dns_server.gateway_ip or declare a guest with traefik service nginx)";
  EXPECT_EQ(messages(d), (Messages{error, error}));

  Diagnostics missing;
  inv.missing_files = {kLxcFile};
  check_gateway(inv, kZones, none, {http}, missing);
  EXPECT_EQ(messages(missing), (Messages{"warning: phoenix_hypervisor_config.json: /dns_server: published services have "
                                         "no gateway, so no external names (phoenix_lxc_configs.json not found; set "
                                         "dns_server.gateway_ip to publish anyway)"}));
}

TEST(PlanStages, PublishExternalPutsHttpServicesAtTheGateway) {
  PublishedService web, agent;
  web.name = "web";
  web.owner = "lxc 1 (web)";
  web.external_fqdn = "web.phoenix.example.org";
  agent.tcp = true;
  agent.external_fqdn = "";
  Diagnostics d;
  NameTable external(d);
  publish_external({std::nullopt, ""}, {web, agent}, external);
  EXPECT_TRUE(external.records().empty());
  publish_external({ip("10.0.0.153"), ""}, {web, agent}, external);
  auto recs = external.records();
  EXPECT_EQ(pairs(recs), (Pairs{{"web.phoenix.example.org", "10.0.0.153"}}));
  EXPECT_EQ(recs[0].source, "gateway for lxc 1 (web) service web");
  EXPECT_TRUE(messages(d).empty());
}

TEST(PlanStages, ReverseZoneHasTheHostAndGuestsOfTheSubnet) {
  Inventory inv = host_only();
  add_guest(inv, 101, "Nginx", "10.0.0.153/24");
  add_guest(inv, 102, "nginx", "10.0.0.153/24");  // same address and target: one PTR
  add_guest(inv, 103, "away", "192.168.1.5/24");  // outside default_subnet
  add_guest(inv, 104, "lab");                      // no address
  ZonePlan z = reverse_zone(inv, kZones);
  EXPECT_EQ(z.origin, "0.0.10.in-addr.arpa");
  EXPECT_EQ(z.kind, ZoneKind::reverse);
  EXPECT_EQ(z.primary_ns, "ns1.internal.example.org");
  EXPECT_EQ(z.hostmaster, "hostmaster.internal.example.org");
  EXPECT_EQ(pairs(z.records), (Pairs{{"13.0.0.10.in-addr.arpa", "ns1.internal.example.org"},
                                     {"153.0.0.10.in-addr.arpa", "nginx.internal.example.org"}}));
  for (auto& r : z.records) EXPECT_EQ(r.kind, RecordKind::ptr);
}

TEST(PlanStages, DeriveZonesFromTheTablesAndTheExplicitZones) {
  Inventory inv = host_only();
  inv.dns.ttl = 60;
  inv.dns.explicit_records = {{"internal.example.org", "x", ip("10.0.0.7"), std::nullopt, {}},
                              {"lab.example.net", "y", ip("10.0.0.8"), std::nullopt, {}}};
  Diagnostics d;
  NameTable internal(d), external(d);
  internal.add("a.internal.example.org", ip("10.0.0.1"), "s", {});
  external.add("ns1.phoenix.example.org", ip("10.0.0.13"), "s", {});
  DerivedZones z = derive_zones(inv, kZones, internal, external);
  EXPECT_EQ(pairs(z.internal.records), (Pairs{{"a.internal.example.org", "10.0.0.1"}}));
  EXPECT_EQ(pairs(z.external.records), (Pairs{{"ns1.phoenix.example.org", "10.0.0.13"}}));
  EXPECT_EQ(z.internal.primary_ns, "ns1.internal.example.org");
  EXPECT_EQ(z.external.hostmaster, "hostmaster.phoenix.example.org");
  EXPECT_EQ(z.external.ttl, 60u);
  EXPECT_EQ(z.reverse.records.size(), 1u);
  EXPECT_EQ(z.extra, (std::set<std::string>{"lab.example.net"}));
  EXPECT_TRUE(z.derived("lab.example.net"));
  EXPECT_TRUE(z.derived("0.0.10.in-addr.arpa"));
  EXPECT_FALSE(z.derived("example.org"));
}

TEST(PlanStages, ViewSpecsDefaultToInternalAndExternal) {
  Inventory inv = host_only();
  auto specs = view_specs(inv);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "internal");
  EXPECT_EQ(specs[0].horizon, "internal");
  EXPECT_EQ(specs[0].match_clients,
            (std::vector<IpPrefix>{prefix("10.0.0.0/24"), prefix("127.0.0.0/8"), prefix("::1/128")}));
  EXPECT_EQ(specs[1].name, "external");
  EXPECT_EQ(specs[1].match_clients, (std::vector<IpPrefix>{prefix("0.0.0.0/0"), prefix("::/0")}));

  ViewSpec only;
  only.name = "only";
  inv.dns.views = {only};
  ASSERT_EQ(view_specs(inv).size(), 1u);
  EXPECT_EQ(view_specs(inv)[0].name, "only");
}

TEST(PlanStages, ViewRateLimitOnWhereAnyoneMayAsk) {
  DnsSettings dns;
  dns.rate_limit.responses_per_second = 5;
  ViewSpec lan, any;
  lan.match_clients = {prefix("10.0.0.0/24")};
  any.match_clients = {prefix("10.0.0.0/24"), prefix("::/0")};
  EXPECT_FALSE(view_rate_limit(lan, dns).enabled);
  EXPECT_TRUE(view_rate_limit(any, dns).enabled);
  EXPECT_EQ(view_rate_limit(any, dns).responses_per_second, 5u);
  dns.rate_limit_enabled = false;
  EXPECT_FALSE(view_rate_limit(any, dns).enabled);
  dns.rate_limit_enabled = true;
  EXPECT_TRUE(view_rate_limit(lan, dns).enabled);
  RateLimitSettings own;
  own.enabled = false;
  own.slip = 0;
  lan.rate_limit = own;
  EXPECT_EQ(view_rate_limit(lan, dns), own);
}

TEST(PlanStages, ExplicitRecordsReplaceDerivedOnesAsTheHorizonSeesThem) {
  ZonePlan z;
  z.origin = "internal.example.org";
  z.records = {{"www.internal.example.org", RecordKind::a, "10.0.0.5", "guest"},
               {"www.internal.example.org", RecordKind::ptr, "keep.example.org", "ptr"},
               {"db.internal.example.org", RecordKind::a, "10.0.0.6", "guest"}};
  std::vector<ExplicitRecord> recs = {
      {"internal.example.org", "www", std::nullopt, ip("192.0.2.5"), {kHypervisorFile, "/dns_server/authoritative_zones/0/records/0"}},
      {"internal.example.org", "@", ip("10.0.0.1"), std::nullopt, {kHypervisorFile, "/dns_server/authoritative_zones/0/records/1"}},
      {"internal.example.org", "db.internal.example.org", ip("10.0.0.60"), std::nullopt, {}},
      {"other.example.org", "www", ip("10.9.9.9"), std::nullopt, {}}};

  ZonePlan in = z;
  apply_explicit(in, recs, "internal");
  // Internal sees ip_internal, else ip_external; a full name inside the zone is taken as it is.
  EXPECT_EQ(pairs(in.records), (Pairs{{"www.internal.example.org", "keep.example.org"},
                                      {"db.internal.example.org", "10.0.0.60"},
                                      {"internal.example.org", "10.0.0.1"},
                                      {"www.internal.example.org", "192.0.2.5"}}));
  EXPECT_EQ(in.records[3].source, "dns_server.authoritative_zones at phoenix_hypervisor_config.json: "
                                  "/dns_server/authoritative_zones/0/records/0");

  ZonePlan out = z;
  apply_explicit(out, recs, "external");
  // External sees ip_external only: the records with none leave the derived ones alone.
  EXPECT_EQ(pairs(out.records), (Pairs{{"www.internal.example.org", "keep.example.org"},
                                       {"db.internal.example.org", "10.0.0.6"},
                                       {"www.internal.example.org", "192.0.2.5"}}));
}

namespace {

DerivedZones small_zones(const Inventory& inv) {
  Diagnostics d;
  NameTable internal(d), external(d);
  internal.add("b.internal.example.org", ip("10.0.0.2"), "s", {});
  internal.add("a.internal.example.org", ip("10.0.0.1"), "s", {});
  external.add("web.phoenix.example.org", ip("10.0.0.153"), "s", {});
  return derive_zones(inv, kZones, internal, external);
}

ViewSpec spec(const std::string& name, const std::string& horizon, std::optional<std::vector<std::string>> zones = {}) {
  ViewSpec s;
  s.name = name;
  s.horizon = horizon;
  s.match_clients = {prefix("10.0.0.0/24")};
  s.zones = std::move(zones);
  s.where = {kHypervisorFile, "/dns_server/views/0"};
  return s;
}

std::vector<std::string> origins(const ViewPlan& v) {
  std::vector<std::string> out;
  for (auto& z : v.zones) out.push_back(z.origin);
  return out;
}

}  // namespace

TEST(PlanStages, PlanViewServesTheDefaultZonesByName) {
  Inventory inv = host_only();
  inv.dns.explicit_records = {{"lab.example.net", "y", ip("10.0.0.8"), std::nullopt, {}}};
  DerivedZones zones = small_zones(inv);
  Diagnostics d;
  ViewPlan in = plan_view(spec("internal", "internal"), zones, inv, d);
  EXPECT_EQ(in.zone_names,
            (std::vector<std::string>{"internal.example.org", "phoenix.example.org", "0.0.10.in-addr.arpa", "lab.example.net"}));
  EXPECT_EQ(origins(in), in.zone_names);
  EXPECT_TRUE(in.recursion);
  EXPECT_FALSE(in.rate_limit.enabled);
  EXPECT_EQ(in.where.pointer, "/dns_server/views/0");
  // Sorted by owner.
  EXPECT_EQ(pairs(in.zones[0].records), (Pairs{{"a.internal.example.org", "10.0.0.1"}, {"b.internal.example.org", "10.0.0.2"}}));

  ViewPlan ex = plan_view(spec("external", "external"), zones, inv, d);
  // lab.example.net has only an internal address: nothing to serve from the outside.
  EXPECT_EQ(ex.zone_names, (std::vector<std::string>{"phoenix.example.org", "lab.example.net"}));
  EXPECT_EQ(origins(ex), (std::vector<std::string>{"phoenix.example.org"}));
  EXPECT_FALSE(ex.recursion);
  EXPECT_TRUE(messages(d).empty());
}

TEST(PlanStages, PlanViewSaysUnknownZonesAndMissingLists) {
  Inventory inv = host_only();
  DerivedZones zones = small_zones(inv);
  Diagnostics d;
  ViewPlan v = plan_view(spec("lab", "internal", std::vector<std::string>{"nowhere.example", "internal.example.org"}),
                         zones, inv, d);
  EXPECT_EQ(v.zone_names, (std::vector<std::string>{"internal.example.org"}));
  ViewPlan none = plan_view(spec("guests", "external"), zones, inv, d);
  EXPECT_TRUE(none.zones.empty());
  EXPECT_EQ(messages(d),
            (Messages{"error: phoenix_hypervisor_config.json: /dns_server/views/0/zones/0: unknown zone \"nowhere.example\"",
                      "error: phoenix_hypervisor_config.json: /dns_server/views/0: view \"guests\" needs a \"zones\" list"}));
}

TEST(PlanStages, PlanViewLetsZoneFilesReplaceOrAddZones) {
  Inventory inv = host_only();
  inv.dns.zone_files = {{"/srv/internal.zone", "internal.example.org", {"internal"}, {kHypervisorFile, "/dns_server/zone_files/0"}},
                        {"/srv/extra.zone", "extra.example.net", {}, {kHypervisorFile, "/dns_server/zone_files/1"}},
                        {"/srv/lab.zone", "lab.example.net", {"lab"}, {kHypervisorFile, "/dns_server/zone_files/2"}}};
  DerivedZones zones = small_zones(inv);
  Diagnostics d;
  ViewPlan in = plan_view(spec("internal", "internal"), zones, inv, d);
  // The zone file stands in for the derived internal zone; the file for every view is added.
  EXPECT_EQ(in.zone_names, (std::vector<std::string>{"internal.example.org", "phoenix.example.org",
                                                     "0.0.10.in-addr.arpa", "extra.example.net"}));
  EXPECT_EQ(origins(in), (std::vector<std::string>{"phoenix.example.org", "0.0.10.in-addr.arpa"}));
  EXPECT_EQ(messages(d), (Messages{"warning: phoenix_hypervisor_config.json: /dns_server/zone_files/0: zone file "
                                   "internal.zone replaces the derived zone \"internal.example.org\" in view \"internal\""}));

  Diagnostics d2;
  ViewPlan lab = plan_view(spec("lab", "internal", std::vector<std::string>{"lab.example.net", "internal.example.org"}),
                           zones, inv, d2);
  // Named by this view's list, a zone file's zone is known; the internal zone file is not for "lab".
  EXPECT_EQ(lab.zone_names, (std::vector<std::string>{"lab.example.net", "internal.example.org", "extra.example.net"}));
  EXPECT_EQ(origins(lab), (std::vector<std::string>{"internal.example.org"}));
  EXPECT_TRUE(messages(d2).empty());
}

TEST(PlanStages, ZoneFileViewsMustExist) {
  Inventory inv = host_only();
  inv.dns.zone_files = {{"/srv/a.zone", "a.example", {"internal", "dmz"}, {kHypervisorFile, "/dns_server/zone_files/0"}}};
  ViewPlan internal;
  internal.name = "internal";
  Diagnostics d;
  check_zone_file_views(inv, {internal}, d);
  EXPECT_EQ(messages(d), (Messages{"error: phoenix_hypervisor_config.json: /dns_server/zone_files/0/views/1: unknown view \"dmz\""}));
}

TEST(PlanStages, DerivePlanRunsTheStagesInOrder) {
  Inventory inv = host_only();
  give_service(add_guest(inv, 101, "nginx", "10.0.0.153/24"), "nginx", 80);
  give_service(add_guest(inv, 914, "ollama", "10.0.0.94/24"), "ollama", 11434);
  Diagnostics d;
  HorizonPlan plan = derive_plan(inv, d);
  EXPECT_TRUE(messages(d).empty()) << messages(d).front();
  EXPECT_EQ(plan.gateway.ip, ip("10.0.0.153"));
  ASSERT_EQ(plan.views.size(), 2u);
  ASSERT_EQ(plan.views[1].zones.size(), 1u);
  EXPECT_EQ(pairs(plan.views[1].zones[0].records), (Pairs{{"nginx.phoenix.example.org", "10.0.0.153"},
                                                          {"ns1.phoenix.example.org", "10.0.0.13"},
                                                          {"ollama.phoenix.example.org", "10.0.0.153"}}));
  // A guest named like its service is one record: ns1, nginx, ollama.
  EXPECT_EQ(pairs(plan.views[0].zones[0].records), (Pairs{{"nginx.internal.example.org", "10.0.0.153"},
                                                          {"ns1.internal.example.org", "10.0.0.13"},
                                                          {"ollama.internal.example.org", "10.0.0.94"}}));
}
