// fuzz_dnsmasq -- a dnsmasq configuration through phoenix-netgen's reader (tools/netgen/dnsmasq.hpp),
// then every name it mentions answered for A and AAAA, and every hosts address for PTR. Input: up to four files separated by NUL bytes,
// in memory as /etc/dnsmasq.conf, /etc/dnsmasq.d/a.conf, /etc/hosts and /etc/extra.conf, so
// conf-dir=, conf-file= and addn-hosts= lines reach each other. Checks: a refused configuration names
// a file for every error; an address answer holds addresses of the family asked, nothing else.
#include <cstdint>
#include <string>
#include <string_view>

#include "dnsmasq.hpp"

using namespace phoenix::netgen;

namespace {

void check_answer(const dnsmasq::Config& c, const std::string& name) {
  for (bool v6 : {false, true}) {
    auto a = dnsmasq::resolve(c, name, v6);
    if (a.kind == dnsmasq::Answer::Kind::addresses && a.ips.empty()) __builtin_trap();
    if (a.kind != dnsmasq::Answer::Kind::addresses && !a.ips.empty()) __builtin_trap();
    for (auto& ip : a.ips)
      if (ip.is_v4() == v6) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* paths[] = {"/etc/dnsmasq.conf", "/etc/dnsmasq.d/a.conf", "/etc/hosts", "/etc/extra.conf"};
  std::string_view in(reinterpret_cast<const char*>(data), size);
  dnsmasq::MemoryFiles files;
  for (const char* p : paths) {
    auto nul = in.find('\0');
    files.files[p] = std::string(in.substr(0, nul));
    if (nul == std::string_view::npos) break;
    in.remove_prefix(nul + 1);
  }
  dnsmasq::ReadRequest req;
  req.conf_dir = "/etc/dnsmasq.d";
  std::vector<dnsmasq::Error> errors;
  auto cfg = dnsmasq::read_config(req, files, errors);
  if (!cfg) {
    if (errors.empty()) __builtin_trap();
    for (auto& e : errors)
      if (e.at.file.empty() || e.format().empty()) __builtin_trap();
    return 0;
  }
  for (auto& h : cfg->hosts) {
    check_answer(*cfg, h.name);
    // A hosts entry always gives its address a PTR (the first name for it).
    auto ptr = dnsmasq::resolve_ptr(*cfg, dnsmasq::reverse_name(h.ip));
    if (ptr.kind != dnsmasq::Answer::Kind::addresses || ptr.names.size() != 1) __builtin_trap();
  }
  for (auto& a : cfg->addresses) {
    check_answer(*cfg, a.pattern.domain);
    check_answer(*cfg, "x." + a.pattern.domain);
  }
  for (auto& s : cfg->servers)
    if (s.pattern) check_answer(*cfg, "x." + s.pattern->domain);
  check_answer(*cfg, "single");
  return 0;
}
