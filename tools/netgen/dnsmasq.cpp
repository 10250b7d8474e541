#include "dnsmasq.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "horizon/label.hpp"
#include "text.hpp"

namespace phoenix::netgen::dnsmasq {
namespace {

using horizon::Endpoint;
using horizon::IpAddr;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// dnsmasq(8) CONFIG FILE: '#' starts a comment at the start of a line or after white space,
/// outside double quotes; quotes are removed and \\ \" \t \e \b \r \n are unescaped inside them.
std::string strip_line(const std::string& raw) {
  std::string out;
  bool quoted = false, white = true;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '"') {
      quoted = !quoted;
      white = false;
      continue;
    }
    if (quoted && c == '\\' && i + 1 < raw.size()) {
      char n = raw[++i];
      const std::pair<char, char> esc[] = {{'t', '\t'}, {'e', '\x1b'}, {'b', '\b'}, {'r', '\r'}, {'n', '\n'}};
      char r = n;
      for (auto& [k, v] : esc)
        if (n == k) r = v;
      out += r;
      white = false;
      continue;
    }
    if (!quoted && white && c == '#') break;
    white = std::isspace(static_cast<unsigned char>(c)) != 0;
    out += c;
  }
  return trim(out);
}

/// Options that change nothing a guest's A/AAAA question gets, with the reason the report shows.
const std::map<std::string, std::string>& known_other() {
  static const std::map<std::string, std::string> m = {
      {"port", "where dnsmasq listens (phoenix-dns: --listen / dns_server.listen)"},
      {"listen-address", "where dnsmasq listens (phoenix-dns: --listen / dns_server.listen)"},
      {"interface", "where dnsmasq listens (phoenix-dns: --listen / dns_server.listen)"},
      {"except-interface", "where dnsmasq listens (phoenix-dns: --listen / dns_server.listen)"},
      {"bind-interfaces", "how dnsmasq binds its sockets"},
      {"bind-dynamic", "how dnsmasq binds its sockets"},
      {"user", "the account dnsmasq runs as (phoenix-dns: --user, or the unit's DynamicUser)"},
      {"group", "the account dnsmasq runs as (phoenix-dns: --user, or the unit's DynamicUser)"},
      {"pid-file", "process management"},
      {"cache-size", "cache size (phoenix-dns: dns_server.cache_max_bytes)"},
      {"log-queries", "logging"},
      {"log-facility", "logging"},
      {"log-async", "logging"},
      {"local-ttl", "TTL of local answers (phoenix-dns: dns_server.ttl); TTLs are not compared"},
      {"neg-ttl", "TTL of negative answers; TTLs are not compared"},
      {"max-ttl", "TTL cap; TTLs are not compared"},
      {"max-cache-ttl", "cache TTL cap (phoenix-dns: dns_server.cache_max_ttl)"},
      {"all-servers", "how upstreams are tried"},
      {"rebind-localhost-ok", "an exception to stop-dns-rebind"},
      {"rebind-domain-ok", "an exception to stop-dns-rebind"},
      {"rev-server", "per-range reverse forwarding; PTR questions are not compared"},
      {"ptr-record", "PTR records; PTR questions are not compared"},
  };
  return m;
}

bool valid_name(const std::string& n) { return !n.empty() && horizon::is_valid_hostname(n); }

class Reader {
 public:
  Reader(const Files& files, Config& cfg, std::vector<Error>& errors) : files_(files), cfg_(cfg), errors_(errors) {}

  void conf_file(const std::string& path, const LineRef& from, unsigned depth) {
    if (depth > 16) {
      error(from, "configuration files nested more than 16 deep (a conf-file loop?)");
      return;
    }
    if (!first_visit(path)) return;
    auto text = files_.read(path);
    if (!text) {
      error(from.file.empty() ? LineRef{path, 0} : from, "cannot read configuration file " + path);
      return;
    }
    for_each_line(path, *text, [&](const std::string& raw, const LineRef& at) {
      std::string line = strip_line(raw);
      if (!line.empty()) option(line, at, depth);
    });
  }

  /// --conf-dir=DIR[,ext...]: "*ext" keeps only such files, a plain ext skips them; names ending
  /// in '~', starting with '.', or starting and ending with '#' are always skipped; sorted by name.
  void conf_dir(const std::string& spec, const LineRef& at, unsigned depth, bool required) {
    auto parts = split(spec, ',');
    std::string dir = trim(parts[0]);
    std::vector<std::string> keep, skip;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string ext = trim(parts[i]);
      if (ext.empty()) continue;
      if (ext[0] == '*') keep.push_back(ext.substr(1));
      else skip.push_back(ext);
    }
    auto names = files_.list(dir);
    if (!names) {
      if (required) error(at.file.empty() ? LineRef{dir, 0} : at, "cannot read directory " + dir);
      return;
    }
    std::sort(names->begin(), names->end());
    for (auto& name : *names) {
      if (name.empty() || name[0] == '.' || name.back() == '~') continue;
      if (name.size() >= 2 && name.front() == '#' && name.back() == '#') continue;
      if (!keep.empty() && std::none_of(keep.begin(), keep.end(), [&](auto& e) { return ends_with(name, e); })) continue;
      if (std::any_of(skip.begin(), skip.end(), [&](auto& e) { return ends_with(name, e); })) continue;
      std::string path = (std::filesystem::path(dir) / name).string();
      if (files_.is_directory(path)) continue;
      conf_file(path, at, depth + 1);
    }
  }

  /// A hosts file (or every file of a directory, in name order): "ip name [alias...]" lines.
  void hosts(const std::string& path, const LineRef& from) {
    if (files_.is_directory(path)) {
      auto names = files_.list(path);
      if (!names) return;
      std::sort(names->begin(), names->end());
      for (auto& n : *names) hosts((std::filesystem::path(path) / n).string(), from);
      return;
    }
    if (!first_visit(path)) return;
    auto text = files_.read(path);
    if (!text) {
      // dnsmasq logs "failed to load names from" and starts anyway.
      cfg_.other.push_back({"addn-hosts=" + path, from.file.empty() ? LineRef{path, 0} : from,
                            "cannot read " + path + " (dnsmasq starts without it)"});
      return;
    }
    for_each_line(path, *text, [&](std::string raw, const LineRef& at) {
      raw.resize(std::min(raw.size(), raw.find('#')));
      std::istringstream words(raw);
      std::string ip_text, name;
      if (!(words >> ip_text)) return;
      auto ip = IpAddr::parse(ip_text);
      if (!ip) {
        cfg_.other.push_back({trim(raw), at, "not an address: dnsmasq skips this line"});
        return;
      }
      while (words >> name) {
        std::string norm = normalize_name(name);
        if (norm.empty()) cfg_.other.push_back({trim(raw), at, "\"" + name + "\" is not a host name: dnsmasq skips it"});
        else cfg_.hosts.push_back({norm, *ip, at});
      }
    });
  }

 private:
  /// Records the file as read and calls fn(line without CR, where) for each of its lines.
  template <class Fn>
  void for_each_line(const std::string& path, const std::string& text, Fn fn) {
    cfg_.files.push_back(path);
    std::istringstream in(text);
    std::string raw;
    unsigned n = 0;
    while (std::getline(in, raw)) {
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      fn(raw, LineRef{path, ++n});
    }
  }

  bool first_visit(const std::string& path) {
    return visited_.insert(std::filesystem::path(path).lexically_normal().string()).second;
  }

  void error(const LineRef& at, std::string msg) { errors_.push_back({at, std::move(msg)}); }

  void flag(Flag& f, const std::string& name, const std::optional<std::string>& value, const LineRef& at) {
    if (value) {
      error(at, name + " takes no value");
      return;
    }
    f.on = true;
    if (f.at.file.empty()) f.at = at;
  }

  /// "/a/b/rest" -> patterns a, b and "rest"; nullopt (with an error) when malformed.
  std::optional<std::pair<std::vector<DomainPattern>, std::string>> domains(const std::string& v, const LineRef& at,
                                                                           const std::string& option) {
    auto last = v.rfind('/');
    if (v.empty() || v[0] != '/' || last == 0) {
      error(at, option + "=" + v + ": expected /domain/[domain/...]");
      return std::nullopt;
    }
    std::vector<DomainPattern> out;
    for (auto& raw : split(v.substr(1, last - 1), '/')) {
      DomainPattern p;
      std::string d = lower(trim(raw));
      if (d == "#") {
        p.kind = DomainPattern::Kind::any;
      } else if (d.empty()) {
        p.kind = DomainPattern::Kind::unqualified;
      } else {
        if (d.rfind("*.", 0) == 0) {
          p.kind = DomainPattern::Kind::subdomains;
          d = d.substr(2);
        } else if (d[0] == '*') {
          p.kind = DomainPattern::Kind::suffix;
          d = d.substr(1);
        } else if (d[0] == '.') {
          d = d.substr(1);  // "/.google.com/ is equivalent to /google.com/" (dnsmasq(8), --server)
        }
        if (!d.empty() && d.back() == '.') d.pop_back();
        bool ok = p.kind == DomainPattern::Kind::suffix ? !d.empty() && valid_name(d[0] == '.' ? d.substr(1) : d)
                                                        : valid_name(d) && d.find('*') == std::string::npos;
        if (!ok) {
          error(at, option + ": \"" + raw + "\" is not a domain name");
          return std::nullopt;
        }
        p.domain = d;
      }
      out.push_back(p);
    }
    return std::pair(out, v.substr(last + 1));
  }

  void address(const std::string& v, const LineRef& at) {
    auto d = domains(v, at, "address");
    if (!d) return;
    std::vector<IpAddr> ips;
    std::string a = trim(d->second);
    if (a == "#") {
      ips = {*IpAddr::parse("0.0.0.0"), *IpAddr::parse("::")};
    } else if (!a.empty()) {
      auto ip = IpAddr::parse(a);
      if (!ip) {
        error(at, "address=" + v + ": \"" + a + "\" is not an IP address");
        return;
      }
      ips.push_back(*ip);
    }
    for (auto& p : d->first) cfg_.addresses.push_back({p, ips, at});
  }

  /// The server part of --server: ip[#port][@interface][@source-ip[#port]], "#" or "".
  void server(const std::string& name, const std::string& v, const LineRef& at) {
    std::vector<DomainPattern> patterns;
    std::string target = v;
    bool has_domain = !v.empty() && v[0] == '/';
    if (has_domain) {
      auto d = domains(v, at, name);
      if (!d) return;
      patterns = d->first;
      target = d->second;
    }
    target = trim(target);
    ServerRule rule;
    rule.at = at;
    if (target.empty()) {
      if (!has_domain) {
        error(at, name + " needs a server address or /domain/");
        return;
      }
      rule.kind = ServerRule::Kind::local;
    } else if (target == "#") {
      rule.kind = ServerRule::Kind::use_default;
    } else {
      std::string addr = target.substr(0, target.find('@'));
      std::string port_text;
      if (auto hash = addr.find('#'); hash != std::string::npos) {
        port_text = addr.substr(hash + 1);
        addr.resize(hash);
      }
      if (auto pct = addr.find('%'); pct != std::string::npos) addr.resize(pct);  // IPv6 scope id
      auto ip = IpAddr::parse(addr);
      if (!ip) {
        cfg_.other.push_back({name + "=" + v, at,
                              "upstream given by name (dnsmasq resolves it at start): not compared"});
        return;
      }
      unsigned long port = 53;
      if (!port_text.empty()) {
        bool digits = port_text.size() <= 5 && std::all_of(port_text.begin(), port_text.end(), ::isdigit);
        port = digits ? std::stoul(port_text) : 0;
        if (port == 0 || port > 65535) {
          error(at, name + "=" + v + ": \"" + port_text + "\" is not a port");
          return;
        }
      }
      rule.upstream = Endpoint{*ip, static_cast<uint16_t>(port)};
    }
    if (patterns.empty()) {
      cfg_.servers.push_back(rule);
      return;
    }
    for (auto& p : patterns) {
      rule.pattern = p;
      cfg_.servers.push_back(rule);
    }
  }

  /// --host-record=name[,name...],[ipv4],[ipv6][,ttl]
  void host_record(const std::string& v, const LineRef& at) {
    std::vector<std::string> names;
    std::vector<IpAddr> ips;
    auto parts = split(v, ',');
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string t = trim(parts[i]);
      if (t.empty()) continue;
      if (auto ip = IpAddr::parse(t)) {
        ips.push_back(*ip);
        continue;
      }
      if (i + 1 == parts.size() && !ips.empty() && std::all_of(t.begin(), t.end(), ::isdigit)) continue;  // TTL
      std::string n = normalize_name(t);
      if (n.empty() || !ips.empty()) {
        error(at, "host-record=" + v + ": \"" + t + "\" is neither a name nor an address");
        return;
      }
      names.push_back(n);
    }
    if (names.empty() || ips.empty()) {
      error(at, "host-record=" + v + ": needs at least one name and one address");
      return;
    }
    for (auto& n : names)
      for (auto& ip : ips) cfg_.hosts.push_back({n, ip, at, true});
  }

  /// --domain=domain[[,range[,local]]|interface], range: ip/prefix, ip,ip or ip. With "local", names
  /// below the domain and the reverse names of the range are answered here, never forwarded.
  void domain(const std::string& v, const LineRef& at) {
    auto parts = split(v, ',');
    for (auto& p : parts) p = trim(p);
    std::string d = lower(parts[0]);
    if (!d.empty() && d.back() == '.') d.pop_back();
    if (d != "#" && !valid_name(d)) {
      error(at, "domain=" + v + ": \"" + d + "\" is not a domain name");
      return;
    }
    Config::DomainScope scope;
    bool local = parts.size() > 2 && lower(parts.back()) == "local";
    if (local) parts.pop_back();
    std::optional<horizon::IpPrefix> prefix;
    if (parts.size() == 2 && parts[1].find('/') != std::string::npos) {
      prefix = horizon::IpPrefix::parse(parts[1]);
      if (!prefix) {
        error(at, "domain=" + v + ": \"" + parts[1] + "\" is not an address range");
        return;
      }
      scope.first = prefix->network().addr;
      scope.last = last_address(*prefix);
    } else if (parts.size() == 2 && IpAddr::parse(parts[1])) {
      scope.first = scope.last = IpAddr::parse(parts[1]);
    } else if (parts.size() == 3) {
      scope.first = IpAddr::parse(parts[1]);
      scope.last = IpAddr::parse(parts[2]);
      if (!scope.first || !scope.last || scope.first->family != scope.last->family) {
        error(at, "domain=" + v + ": \"" + parts[1] + "," + parts[2] + "\" is not an address range");
        return;
      }
    } else if (parts.size() == 2) {
      scope.interface = true;  // dnsmasq reads the interface's subnets when it starts
      cfg_.other.push_back({"domain=" + v, at, "for the subnets of interface " + parts[1] +
                            ": hosts-file names are not expanded with it here"});
    } else if (parts.size() > 3) {
      error(at, "domain=" + v + ": expected domain[,range[,local]] or domain,interface");
      return;
    }
    if (local) {
      if (!prefix || d == "#") {
        error(at, "domain=" + v + ": \"local\" needs the range as address/prefix-length");
        return;
      }
      ServerRule rule;
      rule.kind = ServerRule::Kind::local;
      rule.at = at;
      rule.pattern = DomainPattern{DomainPattern::Kind::domain, d};
      cfg_.servers.push_back(rule);
      for (auto& r : reverse_domains(*prefix)) {
        rule.pattern = DomainPattern{DomainPattern::Kind::domain, r};
        cfg_.servers.push_back(rule);
      }
    }
    cfg_.domains.emplace_back(d, at);
    cfg_.domain_scopes.push_back(scope);
  }

  static IpAddr last_address(const horizon::IpPrefix& p) {
    IpAddr a = p.network().addr;
    size_t bits = a.is_v4() ? 32 : 128;
    for (size_t b = p.length; b < bits; ++b) a.bytes[b / 8] |= static_cast<uint8_t>(0x80u >> (b % 8));
    return a;
  }

  /// The reverse domains that cover exactly `p`'s addresses: its length rounded up to a label
  /// (8 bits for in-addr.arpa, 4 for ip6.arpa), one domain per value of the bits in between.
  static std::vector<std::string> reverse_domains(const horizon::IpPrefix& p) {
    IpAddr net = p.network().addr;
    unsigned unit = net.is_v4() ? 8 : 4, total = net.is_v4() ? 32 : 128;
    unsigned bound = (p.length + unit - 1) / unit * unit;
    std::vector<std::string> out;
    for (unsigned i = 0; i < (1u << (bound - p.length)); ++i) {
      IpAddr a = net;
      if (bound > 0) {
        unsigned label = bound / unit - 1;  // the last label kept, counted from the top
        size_t byte = net.is_v4() ? label : label / 2;
        a.bytes[byte] |= static_cast<uint8_t>(net.is_v4() || label % 2 ? i : i << 4);
      }
      // reverse_name's labels run from the lowest bits up: drop those below the boundary.
      std::string name = reverse_name(a);
      for (unsigned drop = (total - bound) / unit; drop > 0; --drop) name = name.substr(name.find('.') + 1);
      out.push_back(name);
    }
    return out;
  }

  void option(const std::string& line, const LineRef& at, unsigned depth) {
    std::string name = line;
    std::optional<std::string> value;
    if (auto eq = line.find('='); eq != std::string::npos) {
      name = trim(line.substr(0, eq));  // dnsmasq allows spaces around '='
      value = trim(line.substr(eq + 1));
    }
    if (name.rfind("--", 0) == 0) name = name.substr(2);
    const std::pair<const char*, Flag Config::*> flags[] = {
        {"domain-needed", &Config::domain_needed}, {"bogus-priv", &Config::bogus_priv},
        {"stop-dns-rebind", &Config::stop_dns_rebind}, {"no-resolv", &Config::no_resolv},
        {"no-hosts", &Config::no_hosts}, {"expand-hosts", &Config::expand_hosts},
        {"strict-order", &Config::strict_order}};
    for (auto& [n, member] : flags)
      if (name == n) return flag(cfg_.*member, name, value, at);
    if (name == "address" || name == "server" || name == "local" || name == "host-record" || name == "addn-hosts" ||
        name == "conf-file" || name == "conf-dir" || name == "domain") {
      if (!value || value->empty()) {
        // A bare --conf-file only stops dnsmasq reading its default file, which we were given anyway.
        if (name == "conf-file") return;
        error(at, name + " needs a value");
        return;
      }
    }
    if (name == "address") return address(*value, at);
    if (name == "server" || name == "local") return server(name, *value, at);
    if (name == "host-record") return host_record(*value, at);
    if (name == "addn-hosts") return hosts(*value, at);
    if (name == "conf-file") return conf_file(*value, at, depth + 1);
    if (name == "conf-dir") return conf_dir(*value, at, depth, true);
    if (name == "domain") return domain(*value, at);
    auto known = known_other().find(name);
    cfg_.other.push_back({line, at, known == known_other().end() ? std::string() : known->second});
  }

  const Files& files_;
  Config& cfg_;
  std::vector<Error>& errors_;
  std::set<std::string> visited_;
};

bool family_is(const IpAddr& ip, bool v6) { return ip.is_v4() != v6; }

}  // namespace

std::string Error::format() const {
  if (at.line == 0) return at.file + ": " + message;
  return at.to_string() + ": " + message;
}

std::string normalize_name(const std::string& text) {
  std::string n = horizon::normalize_fqdn(trim(text));
  if (!valid_name(n) || n.find('*') != std::string::npos) return "";
  return n;
}

unsigned DomainPattern::match(const std::string& name) const {
  // Ranks: (length of the matched text + 1) * 4, plus 3 for whole labels, 2 for "*.", 1 for "*".
  const unsigned base = static_cast<unsigned>(domain.size() + 1) * 4;
  switch (kind) {
    case Kind::any:
      return 1;
    case Kind::unqualified:
      return name.find('.') == std::string::npos ? 2 : 0;
    case Kind::domain:
      return name == domain || ends_with(name, "." + domain) ? base + 3 : 0;
    case Kind::subdomains:
      return name != domain && ends_with(name, "." + domain) ? base + 2 : 0;
    case Kind::suffix:
      return ends_with(name, domain) ? base + 1 : 0;
  }
  return 0;
}

std::string DomainPattern::to_string() const {
  switch (kind) {
    case Kind::any:
      return "#";
    case Kind::unqualified:
      return "";
    case Kind::domain:
      return domain;
    case Kind::subdomains:
      return "*." + domain;
    case Kind::suffix:
      return "*" + domain;
  }
  return domain;
}

bool RealFiles::is_directory(const std::string& path) const {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

std::optional<std::string> RealFiles::read(const std::string& path) const {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<std::vector<std::string>> RealFiles::list(const std::string& dir) const {
  std::error_code ec;
  std::vector<std::string> out;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return std::nullopt;
  for (auto& e : it) out.push_back(e.path().filename().string());
  return out;
}

bool MemoryFiles::is_directory(const std::string& path) const {
  std::string prefix = path + "/";
  auto it = files.lower_bound(prefix);
  return it != files.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

std::optional<std::string> MemoryFiles::read(const std::string& path) const {
  auto it = files.find(std::filesystem::path(path).lexically_normal().string());
  if (it == files.end()) return std::nullopt;
  return it->second;
}

std::optional<std::vector<std::string>> MemoryFiles::list(const std::string& dir) const {
  if (!is_directory(dir)) return std::nullopt;
  std::string prefix = dir + "/";
  std::set<std::string> names;
  for (auto it = files.lower_bound(prefix); it != files.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    std::string rest = it->first.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('/')));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

std::optional<Config> read_config(const ReadRequest& req, const Files& files, std::vector<Error>& errors) {
  Config cfg;
  size_t before = errors.size();
  Reader r(files, cfg, errors);
  r.conf_file(req.conf, {}, 0);
  if (req.conf_dir) r.conf_dir(*req.conf_dir + ",.dpkg-dist,.dpkg-old,.dpkg-new", {}, 0, req.conf_dir_required);
  if (req.etc_hosts && !cfg.no_hosts.on) {
    if (files.read(*req.etc_hosts)) r.hosts(*req.etc_hosts, {});
  }
  // --expand-hosts: a simple name in a hosts file is also name.<domain> (not for --host-record),
  // with the domain whose range holds the address, else the one given for every address.
  if (cfg.expand_hosts.on) {
    auto domain_for = [&](const IpAddr& ip) -> std::string {
      auto in = [&](const Config::DomainScope& s) {
        auto key = [](const IpAddr& a) { return std::pair(a.family, a.bytes); };
        return s.first && s.first->family == ip.family && key(*s.first) <= key(ip) && key(ip) <= key(*s.last);
      };
      for (size_t i = 0; i < cfg.domains.size(); ++i)
        if (in(cfg.domain_scopes[i])) return cfg.domains[i].first;
      for (size_t i = 0; i < cfg.domains.size(); ++i)
        if (!cfg.domain_scopes[i].first && !cfg.domain_scopes[i].interface) return cfg.domains[i].first;
      return "";
    };
    std::vector<HostEntry> more;
    for (auto& h : cfg.hosts) {
      if (h.record || h.name.find('.') != std::string::npos) continue;
      std::string domain = domain_for(h.ip);
      if (!domain.empty() && domain != "#") more.push_back({h.name + "." + domain, h.ip, h.at});
    }
    cfg.hosts.insert(cfg.hosts.end(), more.begin(), more.end());
  }
  if (errors.size() != before) return std::nullopt;
  return cfg;
}

namespace {

/// The address a reverse name stands for, when it is one.
std::optional<IpAddr> reverse_address(const std::string& name) {
  auto labels = split(name, '.');
  if (ends_with(name, ".in-addr.arpa") && labels.size() == 6) {
    std::string text = labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0];
    return IpAddr::parse(text);
  }
  if (ends_with(name, ".ip6.arpa") && labels.size() == 34) {
    std::string hex;
    for (int i = 31; i >= 0; --i) {
      if (labels[static_cast<size_t>(i)].size() != 1 || !std::isxdigit(static_cast<unsigned char>(labels[static_cast<size_t>(i)][0]))) return std::nullopt;
      hex += labels[static_cast<size_t>(i)];
      if (i % 4 == 0 && i) hex += ':';
    }
    return IpAddr::parse(hex);
  }
  return std::nullopt;
}

/// bogus-priv: "the list given in RFC6303, for IPv4 and IPv6" (dnsmasq(8)), RFC 6303 §4.
bool private_range(const IpAddr& ip) {
  static const char* ranges[] = {"0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                                 "192.0.2.0/24", "192.168.0.0/16", "198.51.100.0/24", "203.0.113.0/24",
                                 "255.255.255.255/32", "::/128", "::1/128", "fe80::/10", "fc00::/7", "2001:db8::/32"};
  for (const char* r : ranges)
    if (auto p = horizon::IpPrefix::parse(r); p && p->addr.family == ip.family && p->contains(ip)) return true;
  return false;
}

/// Steps 2 to 4 of a question: the domain rules, domain-needed, then the upstreams. `want` picks the
/// addresses of an --address rule that answer (none for PTR: --address gives no reverse records).
template <class Want>
Answer by_rules(const Config& c, const std::string& name, Want want) {
  Answer a;
  struct Candidate {
    unsigned rank;
    const AddressRule* address;
    const ServerRule* server;
  };
  std::vector<Candidate> cands;
  for (auto& r : c.addresses)
    if (unsigned k = r.pattern.match(name)) cands.push_back({k, &r, nullptr});
  for (auto& s : c.servers)
    if (s.pattern)
      if (unsigned k = s.pattern->match(name)) cands.push_back({k, nullptr, &s});
  std::stable_sort(cands.begin(), cands.end(), [](auto& x, auto& y) { return x.rank > y.rank; });
  bool use_default = false;
  for (size_t i = 0; i < cands.size() && !use_default;) {
    size_t j = i;
    while (j < cands.size() && cands[j].rank == cands[i].rank) ++j;
    Answer g;
    bool nx = false;
    std::vector<LineRef> nx_at, fwd_at;
    for (size_t k = i; k < j; ++k) {
      if (auto* r = cands[k].address) {
        if (r->ips.empty()) {
          nx = true;
          nx_at.push_back(r->at);
        }
        for (auto& ip : r->ips)
          if (want(ip)) {
            if (std::find(g.ips.begin(), g.ips.end(), ip) == g.ips.end()) g.ips.push_back(ip);
            g.at.push_back(r->at);
          }
      } else {
        auto* s = cands[k].server;
        if (s->kind == ServerRule::Kind::local) {
          nx = true;
          nx_at.push_back(s->at);
        } else if (s->kind == ServerRule::Kind::upstream) {
          g.upstreams.push_back(s->upstream);
          fwd_at.push_back(s->at);
        } else {
          use_default = true;
        }
      }
    }
    std::string pattern = cands[i].address ? cands[i].address->pattern.to_string() : cands[i].server->pattern->to_string();
    if (!g.ips.empty()) {
      g.kind = Answer::Kind::addresses;
      g.reason = "address=/" + pattern + "/";
      std::sort(g.ips.begin(), g.ips.end(), [](auto& x, auto& y) { return x.to_string() < y.to_string(); });
      return g;
    }
    if (nx) {
      g.kind = Answer::Kind::nxdomain;
      g.reason = "local=/" + pattern + "/ (answered locally, never forwarded)";
      g.at = nx_at;
      return g;
    }
    if (!g.upstreams.empty()) {
      g.kind = Answer::Kind::forwarded;
      g.reason = "server=/" + pattern + "/";
      g.at = fwd_at;
      return g;
    }
    i = j;
  }
  // --domain-needed: names without a dot are never forwarded.
  if (!use_default && c.domain_needed.on && name.find('.') == std::string::npos) {
    a.kind = Answer::Kind::nxdomain;
    a.reason = "domain-needed (a name without a dot is not forwarded)";
    a.at.push_back(c.domain_needed.at);
    return a;
  }
  a.kind = Answer::Kind::forwarded;  // decided by the caller's upstream step
  a.reason = use_default ? "#" : "";
  return a;
}

/// The default upstreams: server= lines without a domain, and resolv.conf's unless no-resolv.
Answer upstream(const Config& c) {
  Answer a;
  for (auto& s : c.servers)
    if (!s.pattern && s.kind == ServerRule::Kind::upstream) {
      a.upstreams.push_back(s.upstream);
      a.at.push_back(s.at);
    }
  a.resolv_conf = !c.no_resolv.on;
  if (a.upstreams.empty() && !a.resolv_conf) {
    a.kind = Answer::Kind::refused;
    a.reason = "no upstream servers";
    return a;
  }
  a.kind = Answer::Kind::forwarded;
  a.reason = "forwarded";
  return a;
}

bool undecided(const Answer& a) { return a.kind == Answer::Kind::forwarded && a.upstreams.empty() && a.at.empty(); }

}  // namespace

Answer resolve(const Config& c, const std::string& name, bool v6) {
  Answer a;
  // 1. Hosts files and --host-record: a known name is answered locally, NODATA for the other family.
  bool known = false;
  for (auto& h : c.hosts) {
    if (h.name != name) continue;
    known = true;
    a.at.push_back(h.at);
    if (family_is(h.ip, v6) && std::find(a.ips.begin(), a.ips.end(), h.ip) == a.ips.end()) a.ips.push_back(h.ip);
  }
  if (known) {
    a.kind = a.ips.empty() ? Answer::Kind::nodata : Answer::Kind::addresses;
    a.reason = "hosts entry";
    return a;
  }
  // 2.-4. An --address of the other family does not answer: the question falls to the next less
  // specific domain (dnsmasq >= 2.86).
  a = by_rules(c, name, [v6](const IpAddr& ip) { return family_is(ip, v6); });
  return undecided(a) ? upstream(c) : a;
}

Answer resolve_ptr(const Config& c, const std::string& name) {
  Answer a;
  auto ip = reverse_address(name);
  if (ip) {
    // The first name given the address; --host-record lines count before hosts files (dnsmasq(8)).
    for (bool records : {true, false})
      for (auto& h : c.hosts)
        if (h.record == records && h.ip == *ip && a.names.empty()) {
          a.names.push_back(h.name);
          a.at.push_back(h.at);
        }
    if (!a.names.empty()) {
      a.kind = Answer::Kind::addresses;
      a.reason = "hosts entry";
      return a;
    }
  }
  a = by_rules(c, name, [](const IpAddr&) { return false; });
  if (!undecided(a)) return a;
  if (ip && c.bogus_priv.on && private_range(*ip)) {
    a.kind = Answer::Kind::nxdomain;
    a.reason = "bogus-priv (a private reverse lookup is not forwarded)";
    a.at = {c.bogus_priv.at};
    return a;
  }
  return upstream(c);
}

std::string reverse_name(const IpAddr& ip) {
  if (ip.is_v4())
    return std::to_string(ip.bytes[3]) + "." + std::to_string(ip.bytes[2]) + "." + std::to_string(ip.bytes[1]) + "." +
           std::to_string(ip.bytes[0]) + ".in-addr.arpa";
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 15; i >= 0; --i) {
    out += hex[ip.bytes[static_cast<size_t>(i)] & 0xF];
    out += '.';
    out += hex[ip.bytes[static_cast<size_t>(i)] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

}  // namespace phoenix::netgen::dnsmasq
