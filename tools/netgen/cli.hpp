// cli -- phoenix-netgen's commands: options in, files and a report out. main.cpp only calls run_cli().
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "model.hpp"

namespace phoenix::netgen {

struct Options {
  std::string command;  ///< firewall, traefik, nginx, zones, check, reach, view, diagram, audit, diff, apply, rollback
  std::filesystem::path inventory = "/usr/local/phoenix_hypervisor/etc";
  std::optional<std::filesystem::path> out;
  bool json = false;
  std::vector<std::string> args;  ///< reach: SRC DST PORT/PROTO; view: CLIENT NAME [TYPE]
  std::optional<std::filesystem::path> state_dir;
  std::optional<uint32_t> serial;
  // What is deployed on a Proxmox host (audit, diff, apply, rollback; reach/check with --deployed).
  std::filesystem::path pve_root = "/etc/pve";
  std::optional<std::filesystem::path> traefik_dir, nginx_conf;
  std::filesystem::path backup_dir = "/var/lib/phoenix-netgen/backups";
  bool deployed = false;  ///< reach/check: judge the deployed firewall instead of the inventory's
  bool dry_run = false, force = false;
  /// dnsmasq-diff: dnsmasq's main file, its -7 directory (Debian's init passes /etc/dnsmasq.d; a
  /// missing one is skipped unless given explicitly; "none" skips it) and the hosts file it reads
  /// unless no-hosts ("none" skips it).
  std::string dnsmasq_conf = "/etc/dnsmasq.conf";
  std::string dnsmasq_dir = "/etc/dnsmasq.d";
  bool dnsmasq_dir_given = false;
  std::string etc_hosts = "/etc/hosts";
  std::optional<std::string> ssl_dir;  ///< nginx: where the certificates are (--ssl-dir)
  /// secondary-config: the view, the secondary's software (knot, nsd, bind), the primary it follows
  /// (ADDR[:PORT], port 53 by default) and the key to use instead of the view's own.
  std::string secondary_view, secondary_server, secondary_primary, secondary_key;
};

/// Exit codes: 0 done (ALLOW for reach), 1 the inventory has errors (or DROP for reach), 2 bad usage or I/O.
struct CommandResult {
  int exit_code = 0;
  std::vector<OutputFile> files;  ///< what --out receives; printed to stdout without it
  std::vector<std::string> messages;  ///< for stderr: diagnostics and warnings, one per line
};

/// `dnsmasq-diff`: 0 when nothing changes, 1 when something does, 2 when the dnsmasq files are refused.
CommandResult run_dnsmasq_diff(const Model& m, const Options& opt, std::vector<std::string> messages);

/// Runs one command without touching the file system or the terminal (tests call this).
CommandResult run_command(const Options& opt);

/// The bytes printed to stdout when no --out is given.
std::string render_stdout(const CommandResult& r);

/// Parses argv with CLI11, runs the command, writes files or stdout. Returns the exit code.
int run_cli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace phoenix::netgen
