// dnsmasq_diff -- `phoenix-netgen dnsmasq-diff`: name by name, what a guest gets from today's dnsmasq
// (dnsmasq.hpp's model of its configuration) and what it gets from phoenix-dns in its view (the
// server's own processor, through dns.hpp's ask_view), plus the upstream and option differences.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dnsmasq.hpp"
#include "model.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::netgen {

/// What one A, AAAA or PTR question gets, from either server.
struct Outcome {
  enum class Kind { data, nodata, nxdomain, forwarded, refused, other } kind = Kind::other;
  std::vector<std::string> values;     ///< data: the addresses or PTR targets (no trailing dot), sorted
  std::vector<std::string> upstreams;  ///< forwarded: where to
  std::string rcode;                   ///< other: the reply's rcode
  std::string text(const std::string& type) const;  ///< "A 10.0.0.12", "NXDOMAIN", "forwarded to 8.8.8.8:53"
};

enum class Verdict { same, changed, only_dnsmasq, only_phoenix };
const char* verdict_text(Verdict v);  ///< same, changed, only-dnsmasq, only-phoenix-dns

struct NameRow {
  std::string name;   ///< as shown: the name, or "*.D" for "every other name below D"
  std::string asked;  ///< the name actually asked ("dnsmasq-diff-probe.D" for a "*.D" row)
  Verdict verdict = Verdict::same;
  std::vector<std::string> types;              ///< A and AAAA; PTR for a reverse name
  std::vector<Outcome> old_answers, new_answers;  ///< dnsmasq's and phoenix-dns's, one per type
  const Outcome& old_answer(const std::string& type) const;
  const Outcome& new_answer(const std::string& type) const;
  std::string why;                         ///< for every row that is not the same
  std::vector<std::string> dnsmasq_where;  ///< the dnsmasq lines that decide the old answer
  std::vector<std::string> phoenix_why;    ///< the inventory sources of the new answer
};

/// One dnsmasq option that protects guests or shapes answers, and what phoenix-dns does instead.
struct OptionRow {
  std::string option;   ///< "domain-needed", "local=/internal.thinkheads.ai/"
  std::string where;
  std::string verdict;  ///< kept, not-kept, differs; unknown, note, n/a (these three change no exit code)
  std::string text;
};

struct DiffReport {
  std::string client, view;  ///< the guest address asked for, and the view it gets
  std::vector<NameRow> names;
  std::vector<std::string> dnsmasq_upstreams, phoenix_upstreams;
  bool dnsmasq_resolv_conf = false;  ///< dnsmasq also forwards to /etc/resolv.conf's nameservers
  std::string upstream_verdict;      ///< same, differs
  std::vector<std::string> upstream_notes;
  std::vector<OptionRow> options;
  std::vector<dnsmasq::OtherOption> not_compared;
  std::vector<std::string> files;  ///< every dnsmasq file read
  /// True when anything differs: a name, the upstreams, or an option not kept.
  bool changes() const;
  std::string format() const;
  nlohmann::json to_json() const;
};

/// The prefix of every probe name: a label no inventory uses, asked to learn what an unknown name gets.
inline constexpr const char* kProbeLabel = "dnsmasq-diff-probe";

DiffReport dnsmasq_diff(const Model& m, const zones::Snapshot& snap, const dnsmasq::Config& cfg);

}  // namespace phoenix::netgen
