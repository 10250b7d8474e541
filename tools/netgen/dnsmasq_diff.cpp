#include "dnsmasq_diff.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "cli.hpp"
#include "dns.hpp"
#include "horizon/label.hpp"

namespace phoenix::netgen {
namespace {

using horizon::IpAddr;
using nlohmann::json;

std::string strip_dot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::vector<std::string> endpoints_text(const std::vector<horizon::Endpoint>& list) {
  std::vector<std::string> out;
  for (auto& e : list) out.push_back(e.to_string());
  return out;
}

Outcome from_dnsmasq(const dnsmasq::Answer& a) {
  Outcome o;
  using K = dnsmasq::Answer::Kind;
  switch (a.kind) {
    case K::addresses:
      o.kind = Outcome::Kind::data;
      for (auto& ip : a.ips) o.values.push_back(ip.to_string());
      o.values.insert(o.values.end(), a.names.begin(), a.names.end());
      break;
    case K::nodata:
      o.kind = Outcome::Kind::nodata;
      break;
    case K::nxdomain:
      o.kind = Outcome::Kind::nxdomain;
      break;
    case K::forwarded:
      o.kind = Outcome::Kind::forwarded;
      o.upstreams = endpoints_text(a.upstreams);
      if (a.resolv_conf) o.upstreams.push_back("/etc/resolv.conf's nameservers");
      break;
    case K::refused:
      o.kind = Outcome::Kind::refused;
      break;
  }
  std::sort(o.values.begin(), o.values.end());
  return o;
}

/// The reply phoenix-dns's processor gives, as an Outcome; the record sources go to `why`.
Outcome from_phoenix(const ViewAnswer& v, const std::vector<std::string>& upstreams, uint16_t type,
                     std::vector<std::string>& why) {
  Outcome o;
  if (v.rcode == "FORWARDED") {
    o.kind = Outcome::Kind::forwarded;
    o.upstreams = upstreams;
    return o;
  }
  if (v.rcode == "NXDOMAIN") {
    o.kind = Outcome::Kind::nxdomain;
    return o;
  }
  if (v.rcode == "REFUSED") {
    o.kind = Outcome::Kind::refused;
    return o;
  }
  if (v.rcode != "NOERROR") {
    o.kind = Outcome::Kind::other;
    o.rcode = v.rcode;
    return o;
  }
  // Presentation lines "owner\tttl\tIN\tTYPE\trdata": the data at the end of any CNAME chain.
  const std::string want = "\t" + zones::type_to_text(type) + "\t";
  for (auto& line : v.answer)
    if (line.find(want) != std::string::npos) o.values.push_back(horizon::normalize_fqdn(line.substr(line.rfind('\t') + 1)));
  std::sort(o.values.begin(), o.values.end());
  o.values.erase(std::unique(o.values.begin(), o.values.end()), o.values.end());
  o.kind = o.values.empty() ? Outcome::Kind::nodata : Outcome::Kind::data;
  for (auto& s : v.sources)
    if (std::find(why.begin(), why.end(), s) == why.end()) why.push_back(s);
  return o;
}

/// What a guest can tell apart: the addresses, "no address here" (NXDOMAIN and NODATA alike),
/// "asked upstream", "refused". Which upstream is compared once, in the upstream section.
bool equivalent(const Outcome& a, const Outcome& b) {
  auto cls = [](const Outcome& o) {
    return o.kind == Outcome::Kind::nodata ? Outcome::Kind::nxdomain : o.kind;
  };
  if (cls(a) != cls(b)) return false;
  if (a.kind == Outcome::Kind::data) return a.values == b.values;
  if (a.kind == Outcome::Kind::other) return a.rcode == b.rcode;
  return true;
}

bool has_data(const Outcome& o) { return o.kind == Outcome::Kind::data; }

bool is_reverse(const std::string& name) {
  auto ends = [&](const std::string& t) { return name.size() > t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0; };
  return ends(".in-addr.arpa") || ends(".ip6.arpa");
}

class Differ {
 public:
  Differ(const Model& m, const zones::Snapshot& snap, const dnsmasq::Config& cfg) : m_(m), snap_(snap), cfg_(cfg) {
    for (auto& u : m.plan().upstreams) upstreams_.push_back(u.to_string());
    pick_client();
  }

  DiffReport run() {
    DiffReport r;
    r.client = client_.to_string();
    r.view = view_name_;
    r.files = cfg_.files;
    r.not_compared = cfg_.other;
    for (auto& [asked, shown] : names()) r.names.push_back(row(shown, asked));
    upstreams(r);
    options(r);
    return r;
  }

 private:
  void pick_client() {
    // A guest's own address: the view guests get is the one that matters. The host otherwise.
    client_ = m_.inventory().host.address.addr;
    for (auto& g : m_.inventory().guests)
      if (g.ip && m_.inventory().host.default_subnet.contains(g.ip->addr)) {
        client_ = g.ip->addr;
        break;
      }
    view_ = snap_.views.match(client_);
    view_name_ = view_ == horizon::kNoView ? std::string() : snap_.views.name(view_);
  }

  /// asked name -> shown name, sorted by shown name.
  std::vector<std::pair<std::string, std::string>> names() {
    std::map<std::string, std::string> by_asked;
    auto add = [&](const std::string& asked, const std::string& shown) { by_asked.emplace(asked, shown); };
    for (auto& h : cfg_.hosts) {
      add(h.name, h.name);
      std::string rev = dnsmasq::reverse_name(h.ip);
      add(rev, rev);
    }
    auto below = [&](const dnsmasq::DomainPattern& p) {
      using K = dnsmasq::DomainPattern::Kind;
      switch (p.kind) {
        case K::domain:
          add(p.domain, p.domain);
          [[fallthrough]];
        case K::subdomains:
          add(std::string(kProbeLabel) + "." + p.domain, "*." + p.domain);
          break;
        case K::suffix:
          add(std::string(kProbeLabel) + (p.domain[0] == '.' ? "" : ".") + p.domain, "*" + p.domain);
          break;
        case K::any:
          add(std::string(kProbeLabel) + ".example", "# (any name)");
          break;
        case K::unqualified:
          add(kProbeLabel, "(names without a dot)");
          break;
      }
    };
    for (auto& a : cfg_.addresses) below(a.pattern);
    for (auto& s : cfg_.servers)
      if (s.pattern && s.kind != dnsmasq::ServerRule::Kind::use_default) below(*s.pattern);
    // Every name phoenix-dns serves an address or a reverse record for in this view.
    if (view_ != horizon::kNoView)
      for (auto& z : snap_.view_data[view_].zones.zones())
        for (zones::NodeView node : z->sorted_nodes())
          for (zones::RRsetView rr : node.rrsets())
            if (rr.type() == zones::rrtype::A || rr.type() == zones::rrtype::AAAA || rr.type() == zones::rrtype::PTR) {
              std::string n = strip_dot(node.owner().to_text());
              add(n, n);
              break;
            }
    std::vector<std::pair<std::string, std::string>> out(by_asked.begin(), by_asked.end());
    // By name, each "*.D" row right after D's own.
    auto key = [](const std::pair<std::string, std::string>& p) {
      bool is_below = p.second.rfind("*.", 0) == 0;
      return std::tuple(is_below ? p.second.substr(2) : p.second, is_below, p.first);
    };
    std::sort(out.begin(), out.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
    return out;
  }

  Outcome ask(const std::string& name, uint16_t type, std::vector<std::string>& why) {
    std::string err;
    auto v = ask_view(m_, snap_, client_, name, zones::type_to_text(type), err, true);
    if (!v) {
      Outcome o;
      o.rcode = err;
      return o;
    }
    return from_phoenix(*v, upstreams_, type, why);
  }

  NameRow row(const std::string& shown, const std::string& asked) {
    NameRow r;
    r.name = shown;
    r.asked = asked;
    std::vector<dnsmasq::Answer> old_raw;
    if (is_reverse(asked)) {
      r.types = {"PTR"};
      old_raw.push_back(dnsmasq::resolve_ptr(cfg_, asked));
    } else {
      r.types = {"A", "AAAA"};
      old_raw.push_back(dnsmasq::resolve(cfg_, asked, false));
      old_raw.push_back(dnsmasq::resolve(cfg_, asked, true));
    }
    bool old_has = false, new_has = false, same = true;
    for (size_t i = 0; i < r.types.size(); ++i) {
      r.old_answers.push_back(from_dnsmasq(old_raw[i]));
      for (auto& at : old_raw[i].at)
        if (std::find(r.dnsmasq_where.begin(), r.dnsmasq_where.end(), at.to_string()) == r.dnsmasq_where.end())
          r.dnsmasq_where.push_back(at.to_string());
      r.new_answers.push_back(ask(asked, *zones::type_from_text(r.types[i]), r.phoenix_why));
      old_has |= has_data(r.old_answers[i]);
      new_has |= has_data(r.new_answers[i]);
      same &= equivalent(r.old_answers[i], r.new_answers[i]);
    }
    if (same) r.verdict = Verdict::same;
    else if (old_has && new_has) r.verdict = Verdict::changed;
    else if (old_has) r.verdict = Verdict::only_dnsmasq;
    else if (new_has) r.verdict = Verdict::only_phoenix;
    else r.verdict = Verdict::changed;
    if (r.verdict != Verdict::same) r.why = explain(r, old_raw[0]);
    return r;
  }

  /// "Traefik (lxc 102 (Traefik-Internal) 10.0.0.12)", "the gateway (...)", or the guest.
  std::string role(const std::string& ip_text) const {
    auto ip = IpAddr::parse(ip_text);
    if (!ip) return ip_text;
    std::string who = m_.describe(*ip);
    if (m_.plan().gateway.ip && *m_.plan().gateway.ip == *ip) return "the gateway (" + who + ")";
    if (m_.traefik().ip && *m_.traefik().ip == *ip) return "Traefik (" + who + ")";
    return who;
  }

  /// What the inventory says the name is: "Portainer agent", "service ollama of lxc 914 (...)", ...
  std::string subject(const std::string& name) const {
    for (auto& g : m_.inventory().guests)
      if (!g.portainer_agent_hostname.empty() && horizon::normalize_fqdn(g.portainer_agent_hostname) == name)
        return "Portainer agent (portainer_agent_hostname of " + g.describe() + ")";
    for (auto& s : m_.plan().services)
      if (s.internal_fqdn == name || s.external_fqdn == name) {
        if (s.tcp) return "raw-TCP service " + s.name + " of " + s.owner;
        if (s.from_stack) return "proxy route " + name + " (" + s.owner + ")";
        return "service " + s.name + " of " + s.owner;
      }
    for (auto& g : m_.inventory().guests)
      if (name == horizon::sanitize_label(g.name) + "." + m_.plan().internal_zone) return "guest " + g.describe();
    return name;
  }

  std::string explain(const NameRow& r, const dnsmasq::Answer& old_a) const {
    // The first type with data on that side speaks for the row (A before AAAA).
    auto pick = [&](const std::vector<Outcome>& list) -> std::pair<const Outcome*, std::string> {
      for (size_t i = 0; i < list.size(); ++i)
        if (has_data(list[i])) return {&list[i], r.types[i]};
      return {&list[0], r.types[0]};
    };
    auto [op, otype] = pick(r.old_answers);
    auto [np, ntype] = pick(r.new_answers);
    const Outcome& o = *op;
    const Outcome& n = *np;
    if (is_reverse(r.asked))  // the record's source follows as "phoenix-dns: ..."
      return "dnsmasq: " + o.text(otype) + (old_a.reason.empty() ? "" : " from " + old_a.reason) + "; phoenix-dns: " +
             n.text(ntype);
    bool below = r.name.rfind("*", 0) == 0 || r.name.rfind("(", 0) == 0 || r.name.rfind("#", 0) == 0;
    std::string old_why = old_a.kind == dnsmasq::Answer::Kind::forwarded
                              ? "dnsmasq has no local data for it and forwards it"
                              : "dnsmasq: " + o.text(otype) + " from " + old_a.reason;
    switch (r.verdict) {
      case Verdict::changed: {
        if (!has_data(o) || !has_data(n)) return old_why + "; phoenix-dns: " + n.text(ntype);
        std::string what = subject(r.asked);
        std::vector<std::string> olds, news;
        for (auto& ip : o.values) olds.push_back(role(ip));
        for (auto& ip : n.values) news.push_back(role(ip));
        bool to_gateway = m_.plan().gateway.ip && n.values.size() == 1 && n.values[0] == m_.plan().gateway.ip->to_string();
        std::string how = to_gateway ? "the gateway instead of " : "direct IP instead of ";
        return what + ": " + how + join(olds, ", ") + " (now " + join(news, ", ") + ")";
      }
      case Verdict::only_dnsmasq: {
        if (below)
          return "dnsmasq's " + old_a.reason + " answers every name below it; phoenix-dns answers " + n.text(ntype) +
                 " for the names the inventory does not have";
        std::string first = r.asked.substr(0, r.asked.find('.'));
        for (auto& g : m_.inventory().guests) {
          std::string label = horizon::sanitize_label(g.name);
          std::string lower_name = horizon::normalize_fqdn(g.name);
          bool same_guest = label == first || lower_name + "." + m_.plan().internal_zone == r.asked;
          if (!same_guest) continue;
          if (g.dhcp || !g.ip) return g.describe() + " uses dhcp: phoenix-dns publishes no address for it";
          std::string published = label + "." + m_.plan().internal_zone;
          if (published != r.asked) return g.describe() + " is published as " + published + " (names become DNS labels)";
        }
        return "the inventory has no such name; phoenix-dns answers " + n.text(ntype);
      }
      case Verdict::only_phoenix:
        return subject(r.asked) + "; " + old_why;
      case Verdict::same:
        break;
    }
    return "";
  }

  void upstreams(DiffReport& r) const {
    std::vector<horizon::Endpoint> defaults;
    for (auto& s : cfg_.servers) {
      if (!s.pattern && s.kind == dnsmasq::ServerRule::Kind::upstream) defaults.push_back(s.upstream);
      if (s.pattern && s.kind == dnsmasq::ServerRule::Kind::upstream)
        r.upstream_notes.push_back("server=/" + s.pattern->to_string() + "/" + s.upstream.to_string() + " (" +
                                   s.at.to_string() + "): phoenix-dns has no per-domain upstreams; see *." +
                                   s.pattern->to_string() + " above");
    }
    r.dnsmasq_upstreams = endpoints_text(defaults);
    r.dnsmasq_resolv_conf = !cfg_.no_resolv.on;
    r.phoenix_upstreams = upstreams_;
    if (r.dnsmasq_resolv_conf)
      r.upstream_notes.push_back("no no-resolv: dnsmasq also forwards to /etc/resolv.conf's nameservers");
    r.upstream_verdict = r.dnsmasq_upstreams == r.phoenix_upstreams && !r.dnsmasq_resolv_conf ? "same" : "differs";
    if (r.upstream_verdict == "differs" && !r.dnsmasq_resolv_conf) {
      std::vector<std::string> a = r.dnsmasq_upstreams, b = r.phoenix_upstreams;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      if (a == b) r.upstream_notes.push_back("the same servers in another order");
    }
  }

  /// The reply phoenix-dns gives in this view, for a protection probe.
  std::string probe_rcode(const std::string& name, const char* type) const {
    std::string err;
    auto v = ask_view(m_, snap_, client_, name, type, err, true);
    return v ? v->rcode : "error: " + err;
  }

  static std::string kept_unless_forwarded(const std::string& rcode, std::string& verdict) {
    verdict = rcode == "FORWARDED" ? "not-kept" : rcode == "NXDOMAIN" ? "kept" : "differs";
    return rcode;
  }

  void options(DiffReport& r) const {
    auto add = [&](const std::string& opt, const dnsmasq::LineRef& at, std::string verdict, std::string text) {
      r.options.push_back({opt, at.to_string(), std::move(verdict), std::move(text)});
    };
    if (cfg_.domain_needed.on) {
      std::string v, rc = kept_unless_forwarded(probe_rcode(kProbeLabel, "A"), v);
      add("domain-needed", cfg_.domain_needed.at, v,
          v == "not-kept" ? "phoenix-dns forwards a name without a dot (" + std::string(kProbeLabel) + ") upstream"
                          : "phoenix-dns answers a name without a dot (" + std::string(kProbeLabel) + ") itself: " + rc);
    }
    if (cfg_.bogus_priv.on) {
      // A private reverse name no zone of this view covers (RFC 6303 §4 lists these ranges).
      std::string name;
      for (const char* cand : {"1.0.168.192.in-addr.arpa", "1.0.16.172.in-addr.arpa", "254.255.255.10.in-addr.arpa"}) {
        bool covered = false;
        if (view_ != horizon::kNoView)
          for (auto& z : snap_.view_data[view_].zones.zones()) {
            std::string origin = strip_dot(z->origin().to_text());
            std::string c = cand;
            covered |= c == origin || (c.size() > origin.size() && c.compare(c.size() - origin.size() - 1, std::string::npos, "." + origin) == 0);
          }
        if (!covered) {
          name = cand;
          break;
        }
      }
      std::string v, rc = kept_unless_forwarded(probe_rcode(name, "PTR"), v);
      add("bogus-priv", cfg_.bogus_priv.at, v,
          v == "not-kept" ? "phoenix-dns forwards the private reverse lookup " + name + " upstream"
                          : "phoenix-dns answers the private reverse lookup " + name + " itself: " + rc);
    }
    if (cfg_.stop_dns_rebind.on)
      add("stop-dns-rebind", cfg_.stop_dns_rebind.at, "unknown",
          "it filters upstream replies, which netgen does not see; ask the running phoenix-dns a name whose "
          "upstream answer is a private address");
    if (cfg_.no_resolv.on) {
      if (!upstreams_.empty())
        add("no-resolv", cfg_.no_resolv.at, "kept",
            "phoenix-dns forwards only to dns_server.upstream_servers (" + join(upstreams_, ", ") + ")");
      else
        add("no-resolv", cfg_.no_resolv.at, "unknown",
            "dns_server.upstream_servers is empty: phoenix-dns's start-up log names the upstreams it uses");
    }
    if (cfg_.strict_order.on)
      // Which upstream is asked first changes no answer a guest gets (the upstream lists are compared above).
      add("strict-order", cfg_.strict_order.at, "note",
          "phoenix-dns tries the upstreams in order, starting with the one that answered last");
    if (cfg_.no_hosts.on) add("no-hosts", cfg_.no_hosts.at, "n/a", "phoenix-dns reads no hosts file");
    if (cfg_.expand_hosts.on)
      add("expand-hosts", cfg_.expand_hosts.at, "n/a", "applied to the hosts-file names above");
    for (auto& [d, at] : cfg_.domains)
      add("domain=" + d, at, "n/a", "the DHCP domain; phoenix-dns serves no DHCP names");
    for (auto& s : cfg_.servers) {
      if (!s.pattern || s.kind != dnsmasq::ServerRule::Kind::local) continue;
      std::string probe = std::string(kProbeLabel) + "." + s.pattern->domain;
      std::string v, rc = kept_unless_forwarded(probe_rcode(probe, "A"), v);
      std::string text = v == "not-kept" ? "phoenix-dns forwards unknown names below " + s.pattern->domain + " upstream"
                         : v == "kept"   ? "phoenix-dns serves " + s.pattern->domain + ": unknown names get NXDOMAIN, never forwarded"
                                         : "phoenix-dns answers unknown names below " + s.pattern->domain + " with " + rc;
      add("local=/" + s.pattern->to_string() + "/", s.at, v, text);
    }
  }

  const Model& m_;
  const zones::Snapshot& snap_;
  const dnsmasq::Config& cfg_;
  std::vector<std::string> upstreams_;
  IpAddr client_;
  horizon::ViewId view_ = horizon::kNoView;
  std::string view_name_;
};

json outcome_json(const Outcome& o) {
  static const char* kinds[] = {"data", "nodata", "nxdomain", "forwarded", "refused", "other"};
  json j = {{"kind", kinds[static_cast<int>(o.kind)]}};
  if (o.kind == Outcome::Kind::data) j["values"] = o.values;
  if (o.kind == Outcome::Kind::forwarded) j["upstreams"] = o.upstreams;
  if (o.kind == Outcome::Kind::other) j["rcode"] = o.rcode;
  return j;
}

}  // namespace

const char* verdict_text(Verdict v) {
  switch (v) {
    case Verdict::same:
      return "same";
    case Verdict::changed:
      return "changed";
    case Verdict::only_dnsmasq:
      return "only-dnsmasq";
    case Verdict::only_phoenix:
      return "only-phoenix-dns";
  }
  return "?";
}

std::string Outcome::text(const std::string& type) const {
  switch (kind) {
    case Kind::data:
      return type + " " + join(values, " ");
    case Kind::nodata:
      return "no " + type + " (NODATA)";
    case Kind::nxdomain:
      return "NXDOMAIN";
    case Kind::forwarded:
      return "forwarded to " + (upstreams.empty() ? std::string("no upstream") : join(upstreams, ", "));
    case Kind::refused:
      return "REFUSED";
    case Kind::other:
      return rcode;
  }
  return "";
}

const Outcome& NameRow::old_answer(const std::string& type) const {
  static const Outcome none;
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] == type) return old_answers[i];
  return none;
}

const Outcome& NameRow::new_answer(const std::string& type) const {
  static const Outcome none;
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] == type) return new_answers[i];
  return none;
}

bool DiffReport::changes() const {
  for (auto& n : names)
    if (n.verdict != Verdict::same) return true;
  for (auto& o : options)
    if (o.verdict == "not-kept" || o.verdict == "differs") return true;
  // An option this report does not know (cname=, filter-AAAA, alias=, dhcp-host=...) may change
  // what guests get: "nothing changes" cannot be said for it.
  for (auto& o : not_compared)
    if (o.why.empty()) return true;
  return upstream_verdict != "same";
}

std::string DiffReport::format() const {
  std::string s = "dnsmasq-diff: what a guest at " + client + " gets from dnsmasq today and from phoenix-dns (view " +
                  (view.empty() ? std::string("none") : view) + ")\n";
  s += "dnsmasq files: " + join(files, ", ") + "\n\n";
  std::map<Verdict, size_t> counts;
  s += "== names (A and AAAA; PTR for reverse names)\n";
  for (auto& n : names) {
    ++counts[n.verdict];
    std::string line = std::string(verdict_text(n.verdict)) + "  " + n.name + "  ";
    std::vector<std::string> parts;
    for (size_t i = 0; i < n.types.size(); ++i) {
      const Outcome &o = n.old_answers[i], &w = n.new_answers[i];
      const std::string& t = n.types[i];
      if (n.verdict == Verdict::same) {
        if (i == 0 || has_data(w)) parts.push_back(w.text(t));
      } else if (!equivalent(o, w)) {
        parts.push_back(o.text(t) + " -> " + w.text(t));
      }
    }
    line += join(parts, "; ");
    s += line + "\n";
    if (!n.why.empty()) s += "    why: " + n.why + "\n";
    if (n.verdict != Verdict::same && !n.dnsmasq_where.empty()) s += "    dnsmasq: " + join(n.dnsmasq_where, ", ") + "\n";
    if (n.verdict != Verdict::same)
      for (auto& w : n.phoenix_why) s += "    phoenix-dns: " + w + "\n";
  }
  s += "\n== upstreams: " + upstream_verdict + "\n";
  s += "dnsmasq:     " + (dnsmasq_upstreams.empty() ? std::string("(none)") : join(dnsmasq_upstreams, ", ")) +
       (dnsmasq_resolv_conf ? " + /etc/resolv.conf" : "") + "\n";
  s += "phoenix-dns: " + (phoenix_upstreams.empty() ? std::string("(none)") : join(phoenix_upstreams, ", ")) + "\n";
  for (auto& n : upstream_notes) s += "    " + n + "\n";
  s += "\n== options\n";
  for (auto& o : options) s += o.verdict + "  " + o.option + " (" + o.where + "): " + o.text + "\n";
  if (!not_compared.empty()) {
    s += "\n== not compared\n";
    for (auto& o : not_compared)
      s += o.at.to_string() + ": " + o.text + (o.why.empty() ? " (an option this report does not know)" : " (" + o.why + ")") + "\n";
  }
  size_t kept = 0, lost = 0;
  for (auto& o : options) (o.verdict == "kept" ? kept : lost) += o.verdict == "kept" || o.verdict == "not-kept";
  s += "\n" + std::to_string(counts[Verdict::same]) + " same, " + std::to_string(counts[Verdict::changed]) + " changed, " +
       std::to_string(counts[Verdict::only_dnsmasq]) + " only in dnsmasq, " + std::to_string(counts[Verdict::only_phoenix]) +
       " only in phoenix-dns; upstreams " + upstream_verdict + "; " + std::to_string(kept) + " options kept, " +
       std::to_string(lost) + " not kept\n";
  return s;
}

json DiffReport::to_json() const {
  json j = {{"client", client}, {"view", view}, {"files", files}, {"changes", changes()}};
  j["names"] = json::array();
  for (auto& n : names) {
    json old_j = json::object(), new_j = json::object();
    for (size_t i = 0; i < n.types.size(); ++i) {
      old_j[n.types[i]] = outcome_json(n.old_answers[i]);
      new_j[n.types[i]] = outcome_json(n.new_answers[i]);
    }
    j["names"].push_back({{"name", n.name}, {"asked", n.asked}, {"verdict", verdict_text(n.verdict)}, {"dnsmasq", old_j},
                          {"phoenix", new_j}, {"why", n.why}, {"dnsmasq_where", n.dnsmasq_where}, {"phoenix_why", n.phoenix_why}});
  }
  j["upstreams"] = {{"verdict", upstream_verdict}, {"dnsmasq", dnsmasq_upstreams}, {"dnsmasq_resolv_conf", dnsmasq_resolv_conf},
                    {"phoenix", phoenix_upstreams}, {"notes", upstream_notes}};
  j["options"] = json::array();
  for (auto& o : options)
    j["options"].push_back({{"option", o.option}, {"where", o.where}, {"verdict", o.verdict}, {"text", o.text}});
  j["not_compared"] = json::array();
  for (auto& o : not_compared) j["not_compared"].push_back({{"where", o.at.to_string()}, {"line", o.text}, {"why", o.why}});
  return j;
}

DiffReport dnsmasq_diff(const Model& m, const zones::Snapshot& snap, const dnsmasq::Config& cfg) {
  return Differ(m, snap, cfg).run();
}

CommandResult run_dnsmasq_diff(const Model& m, const Options& opt, std::vector<std::string> messages) {
  CommandResult r;
  dnsmasq::ReadRequest req;
  req.conf = opt.dnsmasq_conf;
  if (opt.dnsmasq_dir != "none") req.conf_dir = opt.dnsmasq_dir;
  req.conf_dir_required = opt.dnsmasq_dir_given;
  if (opt.etc_hosts == "none") req.etc_hosts.reset();
  else req.etc_hosts = opt.etc_hosts;
  std::vector<dnsmasq::Error> errors;
  auto cfg = dnsmasq::read_config(req, dnsmasq::RealFiles(), errors);
  r.messages = std::move(messages);
  if (!cfg) {
    for (auto& e : errors) r.messages.push_back("error: " + e.format());
    r.messages.push_back("error: dnsmasq would refuse this configuration; nothing compared");
    r.exit_code = 2;
    return r;
  }
  horizon::Diagnostics diag;
  auto snap = build_server_snapshot(m, {}, diag);
  for (auto& i : diag.items()) r.messages.push_back(i.format());
  if (!snap) {
    r.exit_code = 1;
    return r;
  }
  DiffReport report = dnsmasq_diff(m, *snap, *cfg);
  r.exit_code = report.changes() ? 1 : 0;
  if (opt.json) r.files.push_back({"dnsmasq-diff.json", report.to_json().dump(2) + "\n"});
  else r.files.push_back({"dnsmasq-diff.txt", report.format()});
  return r;
}

}  // namespace phoenix::netgen
