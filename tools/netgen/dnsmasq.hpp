// dnsmasq -- reads a dnsmasq configuration (the files, includes and hosts files it would read) and
// answers an A/AAAA question the way dnsmasq would, from that configuration alone. Used by
// `phoenix-netgen dnsmasq-diff` to say what guests get today; the meaning of each option follows
// dnsmasq(8) (version 2.86 and later for --address matching by record type).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "horizon/ip_prefix.hpp"

namespace phoenix::netgen::dnsmasq {

/// Where a line came from: "/etc/dnsmasq.d/00-phoenix-internal.conf:7".
struct LineRef {
  std::string file;
  unsigned line = 0;
  std::string to_string() const { return file + ":" + std::to_string(line); }
};

/// One problem that stops the reading (dnsmasq itself refuses to start on it).
struct Error {
  LineRef at;  ///< line 0 when the problem is the file itself (missing, unreadable)
  std::string message;
  std::string format() const;  ///< "file:line: message" or "file: message"
};

/// The domain part of --address and --server: /example.com/, /.example.com/, /*example.com/,
/// /*.example.com/, /#/ and // (unqualified names).
struct DomainPattern {
  enum class Kind {
    domain,      ///< the domain and every name below it, on whole labels
    subdomains,  ///< "*.d": names below the domain, not the domain itself
    suffix,      ///< "*d": any name whose text ends with d (supergoogle.com for *google.com)
    any,         ///< "#": every name
    unqualified  ///< "": names without a dot
  };
  Kind kind = Kind::domain;
  std::string domain;  ///< lower case, no leading or trailing dot
  /// How specific the match of `name` is, 0 when it does not match. Longer domains win, and for
  /// the same text the whole-label form wins over the "*" forms, as dnsmasq(8) says for --server.
  unsigned match(const std::string& name) const;
  std::string to_string() const;  ///< as written between the slashes
};

/// --address=/d/[d/...][ip|#]: one rule per domain.
struct AddressRule {
  DomainPattern pattern;
  std::vector<horizon::IpAddr> ips;  ///< empty: NXDOMAIN; "#": 0.0.0.0 and ::
  LineRef at;
};

/// --server and --local: with a domain, for that domain only; without, a default upstream.
struct ServerRule {
  std::optional<DomainPattern> pattern;  ///< nullopt: a default upstream
  enum class Kind { upstream, local, use_default } kind = Kind::upstream;  ///< local: never forward; "#": the default servers
  horizon::Endpoint upstream;
  LineRef at;
};

/// A name from a hosts file (/etc/hosts, --addn-hosts) or --host-record.
struct HostEntry {
  std::string name;  ///< lower case, no trailing dot
  horizon::IpAddr ip;
  LineRef at;
  bool record = false;  ///< from --host-record (never expanded by --expand-hosts)
};

/// A boolean option we compare: where it was set (empty file when unset).
struct Flag {
  bool on = false;
  LineRef at;
};

/// An option line this reader does not compare (anything not listed below), kept for the report.
struct OtherOption {
  std::string text;  ///< the line as written, without comment
  LineRef at;
  std::string why;  ///< "" for an option we do not know; otherwise why it is not compared
};

struct Config {
  std::vector<AddressRule> addresses;
  std::vector<ServerRule> servers;
  std::vector<HostEntry> hosts;
  std::vector<std::pair<std::string, LineRef>> domains;  ///< --domain (DHCP domain; with expand-hosts also for hosts files)
  /// Per entry of `domains`, the addresses it is for: first and last of its range, none for a
  /// domain given for every address, `interface` for one given for an interface's subnets.
  struct DomainScope {
    std::optional<horizon::IpAddr> first, last;
    bool interface = false;
  };
  std::vector<DomainScope> domain_scopes;
  Flag domain_needed, bogus_priv, stop_dns_rebind, no_resolv, no_hosts, expand_hosts, strict_order;
  std::vector<OtherOption> other;
  std::vector<std::string> files;  ///< every file read, in order
};

/// The file system the reader sees: the real one, or files in memory (tests, the fuzz target).
class Files {
 public:
  virtual ~Files() = default;
  virtual bool is_directory(const std::string& path) const = 0;
  /// nullopt when the file cannot be read.
  virtual std::optional<std::string> read(const std::string& path) const = 0;
  /// The names (not paths) in a directory, or nullopt when it cannot be listed.
  virtual std::optional<std::vector<std::string>> list(const std::string& dir) const = 0;
};

class RealFiles final : public Files {
 public:
  bool is_directory(const std::string& path) const override;
  std::optional<std::string> read(const std::string& path) const override;
  std::optional<std::vector<std::string>> list(const std::string& dir) const override;
};

class MemoryFiles final : public Files {
 public:
  std::map<std::string, std::string> files;  ///< path -> content; directories are the path prefixes
  bool is_directory(const std::string& path) const override;
  std::optional<std::string> read(const std::string& path) const override;
  std::optional<std::vector<std::string>> list(const std::string& dir) const override;
};

/// What dnsmasq reads at start: `conf` (-C), then `conf_dir` as Debian's init passes it
/// (-7 DIR,.dpkg-dist,.dpkg-old,.dpkg-new) when given, then /etc/hosts (`etc_hosts`) unless
/// no-hosts is set. A file reached twice is read once (Debian's -7 and the script's conf-dir= name
/// the same directory; reading it twice changes no answer).
struct ReadRequest {
  std::string conf = "/etc/dnsmasq.conf";
  std::optional<std::string> conf_dir;
  bool conf_dir_required = false;  ///< a missing conf_dir is an error (else it is skipped)
  std::optional<std::string> etc_hosts = "/etc/hosts";
};

/// Reads everything; nullopt with `errors` (each naming file and line) when dnsmasq would refuse it.
std::optional<Config> read_config(const ReadRequest& req, const Files& files, std::vector<Error>& errors);

/// What dnsmasq does with one A or AAAA question.
struct Answer {
  enum class Kind { addresses, nodata, nxdomain, forwarded, refused } kind = Kind::refused;
  std::vector<horizon::IpAddr> ips;           ///< addresses, sorted
  std::vector<std::string> names;             ///< PTR targets (resolve_ptr)
  std::vector<horizon::Endpoint> upstreams;   ///< forwarded: to these (empty: resolv.conf's)
  bool resolv_conf = false;                   ///< forwarded: also to /etc/resolv.conf's nameservers
  std::string reason;                         ///< "address=/ollama.internal.thinkheads.ai/10.0.0.12"
  std::vector<LineRef> at;                    ///< the lines that decided it
};

/// Answers `name` (lower case, no trailing dot) for `v6` false = A, true = AAAA.
Answer resolve(const Config& c, const std::string& name, bool v6);

/// Answers a PTR question for `name` (lower case, no trailing dot): the first name a hosts file or
/// --host-record gives the address, else the domain rules, else NXDOMAIN for bogus-priv's private
/// ranges (RFC 6303 §4, as dnsmasq(8) says), else the upstreams.
Answer resolve_ptr(const Config& c, const std::string& name);

/// "10.0.0.5" -> "5.0.0.10.in-addr.arpa"; IPv6 as RFC 3596 §2.5 nibbles under ip6.arpa.
std::string reverse_name(const horizon::IpAddr& ip);

/// Lower-cases and strips one trailing dot; "" for text that is not a domain name.
std::string normalize_name(const std::string& text);

}  // namespace phoenix::netgen::dnsmasq
