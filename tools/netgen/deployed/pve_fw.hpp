// pve_fw -- Proxmox VE firewall files (firewall/cluster.fw, firewall/<vmid>.fw) as Proxmox writes and
// reads them: [OPTIONS] "key: value", [RULES], [ALIASES], [IPSET name], [group name]. The parser keeps
// every rule as written (disabled ones too) with its line, so that audit can compare and reach can cite.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace phoenix::netgen::deployed {

/// A problem in a deployed file, always with its line (0: the file as a whole).
struct FileProblem {
  std::string file;
  size_t line = 0;
  std::string message;
  std::string format() const;  ///< "firewall/102.fw:7: message"
};

/// One rule line: `[|]IN|OUT|GROUP ACTION|MACRO(ACTION)|group [-option value]... [# comment]`.
struct FwRule {
  size_t line = 0;
  bool enabled = true;  ///< false for a leading '|'
  std::string type;     ///< IN, OUT, GROUP (FORWARD on newer hosts)
  std::string action;   ///< ACCEPT, DROP, REJECT; the group's name for GROUP
  std::string macro;    ///< "SSH" for `IN SSH(ACCEPT)`, as written
  std::string iface, source, dest, proto, dport, sport, icmp_type;
  std::string log;  ///< as written; "" when absent (Proxmox's default is nolog)
  std::string comment;
  /// The rule's meaning, normalised (case, "nolog" default, address lists, no comment), for comparing.
  std::string key() const;
  /// The rule as one Proxmox line (without comment when `with_comment` is false).
  std::string text(bool with_comment = true) const;
};

struct FwOption {
  std::string value;
  size_t line = 0;
};

struct IpSetEntry {
  std::string cidr;  ///< address, CIDR or alias name
  bool negated = false;
  size_t line = 0;
};

struct FwFile {
  std::string path;  ///< as given to the parser, used in every message
  std::map<std::string, FwOption> options;  ///< keys lower-case
  std::vector<FwRule> rules;
  std::map<std::string, FwOption> aliases;  ///< name (lower-case) -> address/CIDR
  std::map<std::string, std::vector<IpSetEntry>> ipsets;  ///< name (lower-case) -> entries
  std::map<std::string, std::vector<FwRule>> groups;  ///< security groups (cluster.fw), name lower-case
  size_t rules_line = 0;  ///< line of the [RULES] header, 0 when there is none
  std::vector<FileProblem> problems;

  /// "enable" option as Proxmox reads it: 1 when set to a true value, `fallback` when absent.
  bool flag(const std::string& key, bool fallback) const;
  std::optional<std::string> option(const std::string& key) const;
  size_t option_line(const std::string& key) const;
};

/// Parses one .fw file; never throws, every problem names `path` and the line.
FwFile parse_fw_file(std::string_view text, const std::string& path);

}  // namespace phoenix::netgen::deployed
