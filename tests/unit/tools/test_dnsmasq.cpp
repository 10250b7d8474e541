// The dnsmasq configuration reader, its model of dnsmasq's answers (dnsmasq(8)), and dnsmasq-diff's
// comparison with phoenix-dns on the bundled example.
#include "dns.hpp"
#include "dnsmasq.hpp"
#include "dnsmasq_diff.hpp"
#include "netgen_test_util.hpp"

namespace phoenix::netgen::testing {
namespace {

using dnsmasq::Answer;

std::filesystem::path data_dir() { return std::filesystem::path(PHOENIX_SOURCE_DIR) / "tests" / "data" / "dnsmasq"; }

/// The script's files under the names it writes them to, plus whatever a test adds.
dnsmasq::MemoryFiles script_files() {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] = read_text(data_dir() / "dnsmasq.conf");
  f.files["/etc/dnsmasq.d/00-phoenix-internal.conf"] = read_text(data_dir() / "dnsmasq.d" / "00-phoenix-internal.conf");
  return f;
}

struct Read {
  std::optional<dnsmasq::Config> cfg;
  std::vector<dnsmasq::Error> errors;
  std::string error_text() const {
    std::string s;
    for (auto& e : errors) s += e.format() + "\n";
    return s;
  }
};

Read read(const dnsmasq::MemoryFiles& f, dnsmasq::ReadRequest req = {}) {
  Read r;
  r.cfg = dnsmasq::read_config(req, f, r.errors);
  return r;
}

/// One configuration file's text, read alone.
Read read_text_conf(const std::string& text) {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] = text;
  return read(f);
}

Answer ask(const dnsmasq::Config& c, const std::string& name, bool v6 = false) { return dnsmasq::resolve(c, name, v6); }

std::vector<std::string> ips(const Answer& a) {
  std::vector<std::string> out;
  for (auto& ip : a.ips) out.push_back(ip.to_string());
  return out;
}

// --- The reader ---

TEST(DnsmasqReader, ReadsTheScriptsFilesWithLines) {
  auto f = script_files();
  dnsmasq::ReadRequest req;
  req.conf_dir = "/etc/dnsmasq.d";  // as Debian's init passes it, and conf-dir= names it again
  req.etc_hosts.reset();
  auto r = read(f, req);
  ASSERT_TRUE(r.cfg) << r.error_text();
  const auto& c = *r.cfg;
  EXPECT_EQ(c.files, (std::vector<std::string>{"/etc/dnsmasq.conf", "/etc/dnsmasq.d/00-phoenix-internal.conf"}));
  EXPECT_TRUE(c.domain_needed.on);
  EXPECT_EQ(c.domain_needed.at.to_string(), "/etc/dnsmasq.conf:3");  // the first of its two lines
  EXPECT_TRUE(c.bogus_priv.on && c.stop_dns_rebind.on && c.no_resolv.on && c.strict_order.on);
  EXPECT_FALSE(c.no_hosts.on);
  EXPECT_EQ(c.addresses.size(), 15u);  // the directory was read once
  EXPECT_EQ(c.addresses[0].pattern.domain, "ca.internal.thinkheads.ai");
  EXPECT_EQ(c.addresses[0].at.to_string(), "/etc/dnsmasq.d/00-phoenix-internal.conf:2");
  ASSERT_EQ(c.servers.size(), 3u);
  EXPECT_EQ(c.servers[0].kind, dnsmasq::ServerRule::Kind::local);
  EXPECT_EQ(c.servers[0].pattern->domain, "internal.thinkheads.ai");
  EXPECT_EQ(c.servers[1].upstream.to_string(), "8.8.8.8:53");
  EXPECT_FALSE(c.servers[1].pattern);
  ASSERT_EQ(c.other.size(), 2u);
  EXPECT_EQ(c.other[0].text, "port=53");
  EXPECT_EQ(c.other[0].at.line, 2u);
  EXPECT_NE(c.other[0].why, "");
  EXPECT_EQ(c.other[1].text, "listen-address=127.0.0.1,10.0.0.13");
}

TEST(DnsmasqReader, AddressForms) {
  auto r = read_text_conf(
      "address=/a.example/b.example/10.1.1.1\n"
      "address=/nx.example/\n"
      "address=/null.example/#\n"
      "address=/v6.example/2001:db8::1\n"
      "address=/.dot.example/10.1.1.2   # a comment after white space\n"
      "address=/*.sub.example/10.1.1.3\n"
      "address=/*suffix.example/10.1.1.4\n"
      "address=/#/10.9.9.9\n");
  ASSERT_TRUE(r.cfg) << r.error_text();
  const auto& a = r.cfg->addresses;
  ASSERT_EQ(a.size(), 9u);
  EXPECT_EQ(a[0].pattern.domain, "a.example");
  EXPECT_EQ(a[1].pattern.domain, "b.example");
  EXPECT_EQ(a[1].ips[0].to_string(), "10.1.1.1");
  EXPECT_TRUE(a[2].ips.empty());
  ASSERT_EQ(a[3].ips.size(), 2u);  // "#": 0.0.0.0 and ::
  EXPECT_EQ(a[3].ips[1].to_string(), "::");
  EXPECT_EQ(a[4].ips[0].to_string(), "2001:db8::1");
  EXPECT_EQ(a[5].pattern.domain, "dot.example");
  EXPECT_EQ(a[5].pattern.kind, dnsmasq::DomainPattern::Kind::domain);
  EXPECT_EQ(a[6].pattern.kind, dnsmasq::DomainPattern::Kind::subdomains);
  EXPECT_EQ(a[7].pattern.kind, dnsmasq::DomainPattern::Kind::suffix);
  EXPECT_EQ(a[7].pattern.domain, "suffix.example");
  EXPECT_EQ(a[8].pattern.kind, dnsmasq::DomainPattern::Kind::any);
}

TEST(DnsmasqReader, ServerForms) {
  auto r = read_text_conf(
      "server=10.0.0.1#5353@eth0\n"
      "server=/corp.example/10.0.0.2\n"
      "server=/keep.corp.example/#\n"
      "local=/lan/\n"
      "server=fe80::1%eth0\n"
      "server=//10.0.0.3\n"
      "server=dns.example.net\n");
  ASSERT_TRUE(r.cfg) << r.error_text();
  const auto& s = r.cfg->servers;
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].upstream.to_string(), "10.0.0.1:5353");
  EXPECT_EQ(s[1].pattern->domain, "corp.example");
  EXPECT_EQ(s[2].kind, dnsmasq::ServerRule::Kind::use_default);
  EXPECT_EQ(s[3].kind, dnsmasq::ServerRule::Kind::local);
  EXPECT_EQ(s[4].upstream.addr.to_string(), "fe80::1");
  EXPECT_EQ(s[5].pattern->kind, dnsmasq::DomainPattern::Kind::unqualified);
  ASSERT_EQ(r.cfg->other.size(), 1u);  // a server by name is listed, not dropped
  EXPECT_NE(r.cfg->other[0].why.find("not compared"), std::string::npos);
}

TEST(DnsmasqReader, ConfDirSuffixFilters) {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] = "conf-dir=/d,*.conf\nconf-dir=/e,.bak\n";
  f.files["/d/b.conf"] = "address=/b.example/10.0.0.2\n";
  f.files["/d/a.conf"] = "address=/a.example/10.0.0.1\n";
  f.files["/d/c.txt"] = "address=/c.example/10.0.0.3\n";
  f.files["/e/x"] = "address=/x.example/10.0.0.4\n";
  f.files["/e/y.bak"] = "address=/y.example/10.0.0.5\n";
  f.files["/e/z~"] = "address=/z.example/10.0.0.6\n";
  f.files["/e/.hidden"] = "address=/h.example/10.0.0.7\n";
  f.files["/e/#tmp#"] = "address=/t.example/10.0.0.8\n";
  auto r = read(f);
  ASSERT_TRUE(r.cfg) << r.error_text();
  std::vector<std::string> got;
  for (auto& a : r.cfg->addresses) got.push_back(a.pattern.domain);
  EXPECT_EQ(got, (std::vector<std::string>{"a.example", "b.example", "x.example"}));
}

TEST(DnsmasqReader, IncludesHostsAndHostRecords) {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] =
      "conf-file=/etc/more.conf\naddn-hosts=/etc/h\naddn-hosts=/etc/hostsdir\n"
      "host-record=laptop,laptop.lan,192.168.0.1,1234::100,300\n";
  f.files["/etc/more.conf"] = "expand-hosts\ndomain=lan,192.168.0.0/24\n";
  f.files["/etc/h"] = "# comment\n192.168.0.2 printer printer.lan  # inline\nnot-an-ip name\n";
  f.files["/etc/hostsdir/1"] = "192.168.0.3 nas\n";
  auto r = read(f);
  ASSERT_TRUE(r.cfg) << r.error_text();
  const auto& c = *r.cfg;
  EXPECT_EQ(c.files.size(), 4u);
  ASSERT_EQ(c.domains.size(), 1u);
  EXPECT_EQ(c.domains[0].first, "lan");
  EXPECT_EQ(ips(ask(c, "laptop")), (std::vector<std::string>{"192.168.0.1"}));
  EXPECT_EQ(ips(ask(c, "laptop.lan", true)), (std::vector<std::string>{"1234::100"}));
  EXPECT_EQ(ips(ask(c, "printer")), (std::vector<std::string>{"192.168.0.2"}));
  EXPECT_EQ(ips(ask(c, "nas.lan")), (std::vector<std::string>{"192.168.0.3"}));  // expand-hosts
  EXPECT_EQ(ask(c, "printer", true).kind, Answer::Kind::nodata);
  ASSERT_EQ(c.other.size(), 1u);  // the bad hosts line: dnsmasq skips it, the report lists it
  EXPECT_EQ(c.other[0].at.to_string(), "/etc/h:3");
}

// As Debian's dnsmasq 2.90 answers: "local" adds local=/domain/ and the reverse names of exactly the
// range; expand-hosts gives an address the domain of its range, else the one without a range.
TEST(DnsmasqReader, DomainRangeAndLocal) {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] =
      "no-resolv\nserver=10.0.0.1\nexpand-hosts\naddn-hosts=/etc/h\n"
      "domain=one.test\ndomain=two.test,192.168.1.0/24,local\ndomain=three.test,10.0.16.0/20,local\n"
      "domain=six.test,fd00:1:2:3::/62,local\ndomain=four.test,10.9.0.1,10.9.0.9\n";
  f.files["/etc/h"] = "10.0.0.5 alpha\n192.168.1.5 beta\n10.0.17.5 gamma\n10.9.0.3 delta\n";
  auto r = read(f);
  ASSERT_TRUE(r.cfg) << r.error_text();
  const auto& c = *r.cfg;
  EXPECT_EQ(ips(ask(c, "alpha.one.test")), (std::vector<std::string>{"10.0.0.5"}));
  EXPECT_EQ(ips(ask(c, "beta.two.test")), (std::vector<std::string>{"192.168.1.5"}));
  EXPECT_EQ(ips(ask(c, "gamma.three.test")), (std::vector<std::string>{"10.0.17.5"}));
  EXPECT_EQ(ips(ask(c, "delta.four.test")), (std::vector<std::string>{"10.9.0.3"}));
  EXPECT_EQ(ask(c, "beta.one.test").kind, Answer::Kind::forwarded);
  EXPECT_EQ(ask(c, "x.two.test").kind, Answer::Kind::nxdomain);
  EXPECT_EQ(ask(c, "x.three.test").kind, Answer::Kind::nxdomain);
  EXPECT_EQ(ask(c, "x.four.test").kind, Answer::Kind::forwarded);
  auto ptr = [&](const char* name) { return dnsmasq::resolve_ptr(c, name).kind; };
  EXPECT_EQ(ptr("9.1.168.192.in-addr.arpa"), Answer::Kind::nxdomain);
  EXPECT_EQ(ptr("9.2.168.192.in-addr.arpa"), Answer::Kind::forwarded);
  EXPECT_EQ(ptr("9.16.0.10.in-addr.arpa"), Answer::Kind::nxdomain);
  EXPECT_EQ(ptr("9.31.0.10.in-addr.arpa"), Answer::Kind::nxdomain);
  EXPECT_EQ(ptr("9.32.0.10.in-addr.arpa"), Answer::Kind::forwarded);
  EXPECT_EQ(ptr("9.16.1.10.in-addr.arpa"), Answer::Kind::forwarded);
  EXPECT_EQ(ptr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa"), Answer::Kind::nxdomain);
  EXPECT_EQ(ptr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa"), Answer::Kind::nxdomain);
  EXPECT_EQ(ptr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.7.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa"), Answer::Kind::forwarded);
  f.files["/etc/dnsmasq.conf"] = "domain=lan,10.0.0.1,10.0.0.9,local\n";
  EXPECT_NE(read(f).error_text().find("needs the range as address/prefix-length"), std::string::npos);
}

TEST(DnsmasqReader, ErrorsNameFileAndLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"address=/x.example/10.0.0.300", "/etc/dnsmasq.conf:2: address=/x.example/10.0.0.300: \"10.0.0.300\" is not an IP address"},
      {"address=nodomain", "/etc/dnsmasq.conf:2: address=nodomain: expected /domain/[domain/...]"},
      {"server=10.0.0.1#99999", "/etc/dnsmasq.conf:2: server=10.0.0.1#99999: \"99999\" is not a port"},
      {"domain-needed=yes", "/etc/dnsmasq.conf:2: domain-needed takes no value"},
      {"conf-file=/missing.conf", "/etc/dnsmasq.conf:2: cannot read configuration file /missing.conf"},
      {"conf-dir=/missing", "/etc/dnsmasq.conf:2: cannot read directory /missing"},
      {"host-record=onlyname", "/etc/dnsmasq.conf:2: host-record=onlyname: needs at least one name and one address"},
      {"address=/bad name/10.0.0.1", "/etc/dnsmasq.conf:2: address: \"bad name\" is not a domain name"},
  };
  for (auto& [line, want] : cases) {
    auto r = read_text_conf(std::string("# first line\n") + line + "\n");
    EXPECT_FALSE(r.cfg) << line;
    ASSERT_EQ(r.errors.size(), 1u) << line;
    EXPECT_EQ(r.errors[0].format(), want);
  }
  dnsmasq::MemoryFiles none;
  auto r = read(none);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].format(), "/etc/dnsmasq.conf: cannot read configuration file /etc/dnsmasq.conf");
}

TEST(DnsmasqReader, UnknownOptionsAreListedNotDropped) {
  auto r = read_text_conf("dhcp-range=10.0.0.50,10.0.0.150,12h\ncache-size=1000\n  \n# x\n\"address\"=/q.example/10.0.0.1\n");
  ASSERT_TRUE(r.cfg) << r.error_text();
  ASSERT_EQ(r.cfg->other.size(), 2u);
  EXPECT_EQ(r.cfg->other[0].text, "dhcp-range=10.0.0.50,10.0.0.150,12h");
  EXPECT_EQ(r.cfg->other[0].why, "");  // unknown
  EXPECT_NE(r.cfg->other[1].why, "");  // known, and why it does not matter here
  EXPECT_EQ(r.cfg->addresses.size(), 1u);  // quotes are removed
}

TEST(DnsmasqReader, IncludeLoopsStop) {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] = "conf-file=/etc/a.conf\n";
  f.files["/etc/a.conf"] = "conf-file=/etc/dnsmasq.conf\naddress=/a.example/10.0.0.1\n";
  auto r = read(f);
  ASSERT_TRUE(r.cfg) << r.error_text();
  EXPECT_EQ(r.cfg->addresses.size(), 1u);
}

// --- dnsmasq's answers ---

TEST(DnsmasqResolve, AddressCoversEveryNameBelowAndTheLongestWins) {
  auto r = read_text_conf(
      "local=/lan/\naddress=/svc.lan/10.0.0.1\naddress=/deep.svc.lan/10.0.0.2\naddress=/svc.lan/10.0.0.3\n"
      "address=/*.wild.lan/10.0.0.4\naddress=/*ads.example/10.0.0.5\naddress=/gone.example/\n");
  ASSERT_TRUE(r.cfg) << r.error_text();
  const auto& c = *r.cfg;
  EXPECT_EQ(ips(ask(c, "svc.lan")), (std::vector<std::string>{"10.0.0.1", "10.0.0.3"}));
  EXPECT_EQ(ips(ask(c, "a.b.svc.lan")), (std::vector<std::string>{"10.0.0.1", "10.0.0.3"}));
  EXPECT_EQ(ips(ask(c, "x.deep.svc.lan")), (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_EQ(ask(c, "notsvc.lan").kind, Answer::Kind::nxdomain);  // whole labels only; local=/lan/
  EXPECT_EQ(ask(c, "wild.lan").kind, Answer::Kind::nxdomain);    // "*." is below only
  EXPECT_EQ(ips(ask(c, "a.wild.lan")), (std::vector<std::string>{"10.0.0.4"}));
  EXPECT_EQ(ips(ask(c, "badads.example")), (std::vector<std::string>{"10.0.0.5"}));  // "*": text suffix
  EXPECT_EQ(ask(c, "www.gone.example").kind, Answer::Kind::nxdomain);
}

TEST(DnsmasqResolve, OtherFamilyFallsToTheLessSpecificRule) {
  // dnsmasq >= 2.86: address=/d/ipv4 does not answer AAAA; local=/lan/ then says NXDOMAIN, and
  // outside any local domain the question is forwarded.
  auto r = read_text_conf("no-resolv\nserver=10.0.0.53\nlocal=/lan/\naddress=/svc.lan/10.0.0.1\naddress=/out.example/10.0.0.2\n");
  ASSERT_TRUE(r.cfg) << r.error_text();
  EXPECT_EQ(ask(*r.cfg, "svc.lan", true).kind, Answer::Kind::nxdomain);
  auto f = ask(*r.cfg, "out.example", true);
  EXPECT_EQ(f.kind, Answer::Kind::forwarded);
  ASSERT_EQ(f.upstreams.size(), 1u);
  EXPECT_EQ(f.upstreams[0].to_string(), "10.0.0.53:53");
  EXPECT_FALSE(f.resolv_conf);
}

TEST(DnsmasqResolve, HostsWinOverAddress) {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] = "address=/svc.lan/10.0.0.1\n";
  f.files["/etc/hosts"] = "10.0.0.9 svc.lan\n";
  dnsmasq::ReadRequest req;
  auto r = read(f, req);
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(ips(ask(*r.cfg, "svc.lan")), (std::vector<std::string>{"10.0.0.9"}));
  EXPECT_EQ(ask(*r.cfg, "svc.lan", true).kind, Answer::Kind::nodata);
  EXPECT_EQ(ips(ask(*r.cfg, "x.svc.lan")), (std::vector<std::string>{"10.0.0.1"}));
  f.files["/etc/dnsmasq.conf"] += "no-hosts\n";
  auto no_hosts = read(f, req);
  EXPECT_EQ(ips(ask(*no_hosts.cfg, "svc.lan")), (std::vector<std::string>{"10.0.0.1"}));
}

TEST(DnsmasqResolve, DomainNeededServersAndResolvConf) {
  auto r = read_text_conf("domain-needed\nserver=/corp.example/10.0.0.2\nserver=/pub.corp.example/#\n");
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(ask(*r.cfg, "printer").kind, Answer::Kind::nxdomain);
  auto corp = ask(*r.cfg, "x.corp.example");
  EXPECT_EQ(corp.kind, Answer::Kind::forwarded);
  EXPECT_EQ(corp.upstreams[0].to_string(), "10.0.0.2:53");
  auto pub = ask(*r.cfg, "www.pub.corp.example");  // "#": the default servers, here resolv.conf's
  EXPECT_EQ(pub.kind, Answer::Kind::forwarded);
  EXPECT_TRUE(pub.upstreams.empty());
  EXPECT_TRUE(pub.resolv_conf);
  auto none = read_text_conf("no-resolv\n");
  EXPECT_EQ(ask(*none.cfg, "example.com").kind, Answer::Kind::refused);
}

TEST(DnsmasqResolve, ReverseLookups) {
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] =
      "bogus-priv\nno-resolv\nserver=10.0.0.53\naddn-hosts=/etc/h\n"
      "host-record=hr.lan,hr2.lan,10.0.0.77\nhost-record=other.lan,10.0.0.77\naddress=/ad.lan/10.0.0.78\n"
      "local=/1.168.192.in-addr.arpa/\nhost-record=v6.lan,2001:db8::1\n";
  f.files["/etc/h"] = "10.0.0.77 fromhosts\n10.0.0.88 hh.lan hh\n10.0.0.88 second\n";
  auto r = read(f);
  ASSERT_TRUE(r.cfg) << r.error_text();
  auto ptr = [&](const char* ip) { return dnsmasq::resolve_ptr(*r.cfg, dnsmasq::reverse_name(*horizon::IpAddr::parse(ip))); };
  EXPECT_EQ(ptr("10.0.0.77").names, (std::vector<std::string>{"hr.lan"}));  // host-record before hosts files
  EXPECT_EQ(ptr("10.0.0.88").names, (std::vector<std::string>{"hh.lan"}));  // the first name of the first line
  EXPECT_EQ(ptr("10.0.0.78").kind, Answer::Kind::nxdomain);  // address= makes no PTR; bogus-priv
  EXPECT_EQ(ptr("192.168.1.9").reason.rfind("local=/1.168.192.in-addr.arpa/", 0), 0u);
  auto pub = ptr("8.8.4.4");
  EXPECT_EQ(pub.kind, Answer::Kind::forwarded);
  EXPECT_EQ(pub.upstreams[0].to_string(), "10.0.0.53:53");
  EXPECT_EQ(dnsmasq::reverse_name(*horizon::IpAddr::parse("2001:db8::1")),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(ptr("2001:db8::1").names, (std::vector<std::string>{"v6.lan"}));
  EXPECT_EQ(ptr("2001:db8::2").kind, Answer::Kind::nxdomain);  // RFC 6303 §4: 2001:db8::/32
}

// --- The comparison ---

struct Diff {
  DiffReport report;
  const NameRow* row(const std::string& name) const {
    for (auto& r : report.names)
      if (r.name == name) return &r;
    return nullptr;
  }
  const OptionRow* option(const std::string& name) const {
    for (auto& o : report.options)
      if (o.option == name) return &o;
    return nullptr;
  }
};

Diff diff(const std::filesystem::path& inventory, const dnsmasq::MemoryFiles& files) {
  auto m = load(inventory);
  horizon::Diagnostics diag;
  auto snap = build_server_snapshot(m, {}, diag);
  EXPECT_TRUE(snap);
  dnsmasq::ReadRequest req;
  req.etc_hosts.reset();
  std::vector<dnsmasq::Error> errors;
  auto cfg = dnsmasq::read_config(req, files, errors);
  EXPECT_TRUE(cfg);
  return {dnsmasq_diff(m, *snap, *cfg)};
}

TEST(DnsmasqDiff, TheScriptsConfigurationAgainstTheExample) {
  auto d = diff(example_dir(), script_files());
  EXPECT_EQ(d.report.view, "internal");
  EXPECT_EQ(d.report.client, "10.0.0.153");  // a guest's address
  auto* agent = d.row("portainer-agent.internal.thinkheads.ai");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->verdict, Verdict::changed);
  EXPECT_EQ(agent->old_answer("A").values, (std::vector<std::string>{"10.0.0.12"}));
  EXPECT_EQ(agent->new_answer("A").values, (std::vector<std::string>{"10.0.0.102"}));
  EXPECT_EQ(agent->why.rfind("Portainer agent (portainer_agent_hostname of vm 1002 (drphoenix)): direct IP instead of Traefik", 0), 0u)
      << agent->why;
  EXPECT_EQ(agent->dnsmasq_where.front(), "/etc/dnsmasq.d/00-phoenix-internal.conf:11");
  auto* qdrant = d.row("qdrant.internal.thinkheads.ai");
  EXPECT_NE(qdrant->why.find("the gateway instead of Traefik"), std::string::npos) << qdrant->why;
  EXPECT_EQ(d.row("step-ca.internal.thinkheads.ai")->verdict, Verdict::same);
  EXPECT_EQ(d.row("traefik.internal.thinkheads.ai")->verdict, Verdict::same);
  EXPECT_EQ(d.row("llamacpp.internal.thinkheads.ai")->verdict, Verdict::only_dnsmasq);
  auto* below = d.row("*.ollama.internal.thinkheads.ai");
  ASSERT_TRUE(below);
  EXPECT_EQ(below->asked, "dnsmasq-diff-probe.ollama.internal.thinkheads.ai");
  EXPECT_EQ(below->verdict, Verdict::only_dnsmasq);
  EXPECT_EQ(below->new_answer("A").kind, Outcome::Kind::nxdomain);
  EXPECT_EQ(d.row("*.internal.thinkheads.ai")->verdict, Verdict::same);  // local=/internal.thinkheads.ai/
  auto* cuda = d.row("copy-cuda12.8.internal.thinkheads.ai");
  EXPECT_EQ(cuda->verdict, Verdict::only_dnsmasq);
  EXPECT_NE(cuda->why.find("published as copy-cuda12-8.internal.thinkheads.ai"), std::string::npos);
  EXPECT_EQ(d.row("copy-cuda12-8.internal.thinkheads.ai")->verdict, Verdict::only_phoenix);
  auto* dhcp = d.row("ubuntu-2404-cloud-template.internal.thinkheads.ai");
  EXPECT_NE(dhcp->why.find("uses dhcp"), std::string::npos);
  // The external zone is served in the internal view; dnsmasq forwarded those names.
  auto* ext = d.row("ollama.phoenix.thinkheads.ai");
  EXPECT_EQ(ext->verdict, Verdict::only_phoenix);
  EXPECT_EQ(ext->old_answer("A").kind, Outcome::Kind::forwarded);
  EXPECT_EQ(ext->old_answer("A").upstreams, (std::vector<std::string>{"8.8.8.8:53", "9.9.9.9:53"}));
  // Reverse lookups: bogus-priv answered NXDOMAIN for every guest; phoenix-dns serves the reverse zone.
  auto* rev = d.row("155.0.0.10.in-addr.arpa");
  ASSERT_TRUE(rev);
  EXPECT_EQ(rev->types, (std::vector<std::string>{"PTR"}));
  EXPECT_EQ(rev->verdict, Verdict::only_phoenix);
  EXPECT_EQ(rev->old_answer("PTR").kind, Outcome::Kind::nxdomain);
  EXPECT_EQ(rev->new_answer("PTR").values, (std::vector<std::string>{"ollama-gpu0.internal.thinkheads.ai"}));
  EXPECT_NE(rev->why.find("bogus-priv"), std::string::npos);
  // Upstreams and options.
  EXPECT_EQ(d.report.upstream_verdict, "differs");
  EXPECT_EQ(d.report.dnsmasq_upstreams, (std::vector<std::string>{"8.8.8.8:53", "9.9.9.9:53"}));
  EXPECT_EQ(d.report.phoenix_upstreams, (std::vector<std::string>{"8.8.8.8:53", "1.1.1.1:53"}));
  EXPECT_EQ(d.option("local=/internal.thinkheads.ai/")->verdict, "kept");
  EXPECT_EQ(d.option("no-resolv")->verdict, "kept");
  EXPECT_EQ(d.option("stop-dns-rebind")->verdict, "unknown");
  EXPECT_EQ(d.option("strict-order")->verdict, "note");
  // Whatever phoenix-dns does with these, the verdict follows its processor's answer.
  std::string why;
  auto m = load(example_dir());
  horizon::Diagnostics diag;
  auto snap = build_server_snapshot(m, {}, diag);
  auto single = ask_view(m, *snap, *horizon::IpAddr::parse("10.0.0.153"), kProbeLabel, "A", why, true);
  EXPECT_EQ(d.option("domain-needed")->verdict, single->rcode == "FORWARDED" ? "not-kept" : single->rcode == "NXDOMAIN" ? "kept" : "differs");
  EXPECT_TRUE(d.report.changes());
  // The text: one line per name, its why and where below, then the sections.
  std::string text = d.report.format();
  for (const char* want : {"\nchanged  portainer-agent.internal.thinkheads.ai  A 10.0.0.12 -> A 10.0.0.102\n"
                           "    why: Portainer agent (portainer_agent_hostname of vm 1002 (drphoenix)): direct IP instead of Traefik",
                           "\nsame  step-ca.internal.thinkheads.ai  A 10.0.0.10\n",
                           "\nonly-dnsmasq  *.ollama.internal.thinkheads.ai  A 10.0.0.12 -> NXDOMAIN\n",
                           "\n== upstreams: differs\ndnsmasq:     8.8.8.8:53, 9.9.9.9:53\nphoenix-dns: 8.8.8.8:53, 1.1.1.1:53\n",
                           "\nkept  local=/internal.thinkheads.ai/ (/etc/dnsmasq.conf:15): ",
                           "\n== not compared\n/etc/dnsmasq.conf:2: port=53 (where dnsmasq listens"})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\nin:\n" << text;
}

/// A configuration that gives exactly what phoenix-dns gives: a host-record per name it serves.
dnsmasq::MemoryFiles same_as_phoenix(const std::filesystem::path& inventory) {
  auto m = load(inventory);
  horizon::Diagnostics diag;
  auto snap = build_server_snapshot(m, {}, diag);
  std::string conf = "no-resolv\nstrict-order\nserver=8.8.8.8\nserver=1.1.1.1\n", ptr_first, rest;
  auto view = snap->views.match(*horizon::IpAddr::parse("10.0.0.153"));
  std::set<std::string> ptr_targets;
  for (auto& z : snap->view_data[view].zones.zones())
    for (zones::NodeView node : z->sorted_nodes())
      for (zones::RRsetView rr : node.rrsets())
        if (rr.type() == zones::rrtype::PTR)
          for (std::string_view rd : rr) ptr_targets.insert(zones::rdata_to_text(rr.type(), rd));
  for (auto& z : snap->view_data[view].zones.zones()) {
    std::string origin = z->origin().to_text();
    conf += "local=/" + origin.substr(0, origin.size() - 1) + "/\n";
    for (zones::NodeView node : z->sorted_nodes())
      for (zones::RRsetView rr : node.rrsets())
        if (rr.type() == zones::rrtype::A)
          for (std::string_view rd : rr) {
            // The first host-record of an address makes its PTR: the names phoenix-dns reverses to go first.
            std::string line = "host-record=" + node.owner().to_text() + "," + zones::rdata_to_text(rr.type(), rd) + "\n";
            (ptr_targets.count(node.owner().to_text()) ? ptr_first : rest) += line;
          }
  }
  conf += ptr_first + rest;
  dnsmasq::MemoryFiles f;
  f.files["/etc/dnsmasq.conf"] = conf;
  return f;
}

TEST(DnsmasqDiff, NothingChangesWhenDnsmasqGaveWhatPhoenixGives) {
  auto d = diff(example_dir(), same_as_phoenix(example_dir()));
  for (auto& r : d.report.names) EXPECT_EQ(r.verdict, Verdict::same) << r.name << ": " << r.why;
  EXPECT_EQ(d.report.upstream_verdict, "same");
  EXPECT_FALSE(d.report.changes());
  // An option of unknown meaning may change answers (here: a CNAME for a served name), known
  // harmless ones do not.
  auto same = same_as_phoenix(example_dir());
  same.files["/etc/dnsmasq.conf"] += "log-queries\ncache-size=1000\n";
  EXPECT_FALSE(diff(example_dir(), same).report.changes());
  same.files["/etc/dnsmasq.conf"] += "cname=portainer.internal.thinkheads.ai,ca.internal.thinkheads.ai\n";
  EXPECT_TRUE(diff(example_dir(), same).report.changes());
  // One guest moves in the inventory: that name, and only that name, changes.
  TempInventory inv([](TempInventory::Files& f) {
    f["phoenix_lxc_configs.json"]["lxc_configs"]["103"]["network_config"]["ip"] = "10.0.0.11/24";
  });
  auto moved = diff(inv.dir(), same_as_phoenix(example_dir()));
  std::set<std::string> changed;
  for (auto& r : moved.report.names)
    if (r.verdict != Verdict::same) changed.insert(r.name);
  EXPECT_EQ(changed, (std::set<std::string>{"ca.internal.thinkheads.ai", "step-ca.internal.thinkheads.ai",
                                            "10.0.0.10.in-addr.arpa", "11.0.0.10.in-addr.arpa"}));
  EXPECT_EQ(moved.row("10.0.0.10.in-addr.arpa")->verdict, Verdict::only_dnsmasq);
  EXPECT_EQ(moved.row("11.0.0.10.in-addr.arpa")->new_answer("PTR").values,
            (std::vector<std::string>{"step-ca.internal.thinkheads.ai"}));
  EXPECT_EQ(moved.row("step-ca.internal.thinkheads.ai")->new_answer("A").values, (std::vector<std::string>{"10.0.0.11"}));
  EXPECT_TRUE(moved.report.changes());
}

// --- The command ---

struct TempDir {
  std::filesystem::path dir;
  TempDir() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("dnsmasq-unit-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Options diff_options(const std::filesystem::path& conf) {
  Options o;
  o.command = "dnsmasq-diff";
  o.inventory = example_dir();
  o.dnsmasq_conf = conf.string();
  o.dnsmasq_dir = "none";
  o.etc_hosts = "none";
  return o;
}

TEST(DnsmasqDiffCommand, ExitCodesAndJson) {
  TempDir t;
  std::ofstream(t.dir / "same.conf") << same_as_phoenix(example_dir()).files["/etc/dnsmasq.conf"];
  auto same = run_command(diff_options(t.dir / "same.conf"));
  EXPECT_EQ(same.exit_code, 0) << render_stdout(same);
  EXPECT_NE(render_stdout(same).find(" 0 changed, 0 only in dnsmasq, 0 only in phoenix-dns"), std::string::npos);

  std::ofstream(t.dir / "changed.conf") << "address=/ollama.internal.thinkheads.ai/10.0.0.12\n";
  auto opt = diff_options(t.dir / "changed.conf");
  opt.json = true;
  auto changed = run_command(opt);
  EXPECT_EQ(changed.exit_code, 1);
  auto j = nlohmann::json::parse(render_stdout(changed));
  EXPECT_TRUE(j["changes"].get<bool>());
  bool found = false;
  for (auto& n : j["names"])
    if (n["name"] == "ollama.internal.thinkheads.ai") {
      found = true;
      EXPECT_EQ(n["verdict"], "changed");
      EXPECT_EQ(n["dnsmasq"]["A"]["values"], nlohmann::json::array({"10.0.0.12"}));
      EXPECT_EQ(n["phoenix"]["A"]["values"], nlohmann::json::array({"10.0.0.155"}));
    }
  EXPECT_TRUE(found);

  std::ofstream(t.dir / "bad.conf") << "domain-needed\naddress=/x.example/not-an-ip\n";
  auto bad = run_command(diff_options(t.dir / "bad.conf"));
  EXPECT_EQ(bad.exit_code, 2);
  ASSERT_FALSE(bad.messages.empty());
  std::string all;
  for (auto& m : bad.messages) all += m + "\n";
  EXPECT_NE(all.find((t.dir / "bad.conf").string() + ":2: address=/x.example/not-an-ip"), std::string::npos) << all;

  auto missing_dir = diff_options(t.dir / "same.conf");
  missing_dir.dnsmasq_dir = (t.dir / "nowhere").string();
  missing_dir.dnsmasq_dir_given = true;
  EXPECT_EQ(run_command(missing_dir).exit_code, 2);
  missing_dir.dnsmasq_dir_given = false;  // the default /etc/dnsmasq.d may be absent
  EXPECT_EQ(run_command(missing_dir).exit_code, 0);
}

TEST(DnsmasqDiffCommand, BadUsageIsExitTwo) {
  std::ostringstream out, err;
  std::vector<std::string> args = {"phoenix-netgen", "dnsmasq-diff", "--inventory", example_dir().string(), "--no-such-option"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(run_cli(static_cast<int>(argv.size()), argv.data(), out, err), 2);
}

}  // namespace
}  // namespace phoenix::netgen::testing
