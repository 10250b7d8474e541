#include "cli.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <set>
#include <nlohmann/json.hpp>

#include "check.hpp"
#include "deployed/commands.hpp"
#include "deployed/owned.hpp"
#include "diagram.hpp"
#include "dns.hpp"
#include "firewall.hpp"
#include "reach.hpp"
#include "routes.hpp"
#include "secondary.hpp"

namespace phoenix::netgen {
namespace {

using nlohmann::json;

json location_json(const horizon::Location& l) { return {{"file", l.file}, {"pointer", l.pointer}}; }

json finding_json(const Finding& f) {
  json where = json::array();
  for (auto& w : f.where) where.push_back(location_json(w));
  return {{"severity", severity_text(f.severity)}, {"code", f.code}, {"message", f.message}, {"where", where}};
}

/// Generators hand back files; with --json they become one document.
CommandResult files_result(std::vector<OutputFile> files, std::vector<std::string> messages, bool as_json,
                           const std::string& command) {
  CommandResult r;
  r.messages = std::move(messages);
  if (!as_json) {
    r.files = std::move(files);
    return r;
  }
  json j = {{"command", command}, {"files", json::array()}, {"warnings", r.messages}};
  for (auto& f : files) j["files"].push_back({{"path", f.path}, {"content", f.content}});
  r.files.push_back({command + ".json", j.dump(2) + "\n"});
  return r;
}

CommandResult report(int code, const std::string& command, std::string text, std::vector<std::string> messages) {
  CommandResult r;
  r.exit_code = code;
  r.files.push_back({command, std::move(text)});
  r.messages = std::move(messages);
  return r;
}

std::vector<std::string> diagnostic_lines(const horizon::Diagnostics& d) {
  std::vector<std::string> out;
  for (auto& i : d.items()) out.push_back(i.format());
  return out;
}

CommandResult usage(const std::string& msg) {
  CommandResult r;
  r.exit_code = 2;
  r.messages.push_back("error: " + msg);
  return r;
}

CommandResult run_check(const Model& m, const Options& opt, std::vector<std::string> messages) {
  FirewallModel fw = deployed::firewall_for(m, opt, messages);
  auto findings = check_inventory(m, fw);
  size_t errors = 0, warnings = 0;
  for (auto& f : findings) (f.severity == Severity::error ? errors : warnings) += f.severity != Severity::info;
  int code = errors ? 1 : 0;
  if (opt.json) {
    json j = {{"errors", errors}, {"warnings", warnings}, {"findings", json::array()}};
    for (auto& f : findings) j["findings"].push_back(finding_json(f));
    return report(code, "check.json", j.dump(2) + "\n", messages);
  }
  std::string text;
  for (auto& f : findings) text += f.format() + "\n";
  text += std::to_string(errors) + " errors, " + std::to_string(warnings) + " warnings\n";
  return report(code, "check.txt", text, messages);
}

CommandResult run_reach(const Model& m, const Options& opt, std::vector<std::string> messages) {
  if (opt.args.size() != 3) return usage("reach needs SRC DST PORT/PROTO, e.g. reach 10.0.0.111 10.0.0.102 9001/tcp");
  std::string why;
  auto src = resolve_party(m, opt.args[0], why);
  if (!src) return usage(why);
  auto dst = resolve_party(m, opt.args[1], why);
  if (!dst) return usage(why);
  uint16_t port = 0;
  std::string proto;
  if (!parse_port_proto(opt.args[2], port, proto))
    return usage("\"" + opt.args[2] + "\" is not PORT/PROTO (9001/tcp, 53/udp) or icmp");
  FirewallModel fw = deployed::firewall_for(m, opt, messages);
  for (auto& p : fw.problems)
    if (p.severity == Severity::error) messages.push_back(p.format() + " (rule ignored, as Proxmox would refuse it)");
  auto r = reach(m, fw, *src, *dst, proto, port);
  int code = r.allowed ? 0 : 1;
  if (opt.json) {
    json steps = json::array();
    for (auto& s : r.steps) {
      json js = {{"level", s.level}, {"verdict", s.verdict}, {"reason", s.reason}};
      if (s.rule) js["rule"] = s.rule->to_proxmox();
      if (s.where) js["where"] = location_json(*s.where);
      steps.push_back(js);
    }
    json j = {{"verdict", r.allowed ? "ALLOW" : "DROP"}, {"source", src->describe()}, {"destination", dst->describe()},
              {"port", port}, {"proto", proto}, {"steps", steps}, {"note", r.note}, {"not_in_inventory", r.strangers}};
    return report(code, "reach.json", j.dump(2) + "\n", messages);
  }
  return report(code, "reach.txt", r.format(), messages);
}

CommandResult run_view(const Model& m, const Options& opt, std::vector<std::string> messages) {
  if (opt.args.size() < 2 || opt.args.size() > 3) return usage("view needs CLIENT_IP NAME [TYPE]");
  // CLIENT and NAME resolve as reach's SRC and DST do: "view portainer traefik" asks as the Portainer
  // guest for the name Traefik's guest has.
  std::string why;
  auto client_target = resolve_target(m, opt.args[0], why);
  if (!client_target) return usage(why);
  auto client = std::optional<horizon::IpAddr>(client_target->addr);
  std::string qname = opt.args[1];
  if (qname.find('.') == std::string::npos)
    if (auto t = resolve_target(m, qname, why); t && !t->fqdn.empty()) qname = t->fqdn;
  horizon::Diagnostics diag;
  auto snap = build_server_snapshot(m, {opt.state_dir, opt.serial}, diag);
  auto more = diagnostic_lines(diag);
  messages.insert(messages.end(), more.begin(), more.end());
  if (!snap) return report(1, "view.txt", "", messages);
  auto a = ask_view(m, *snap, *client, qname, opt.args.size() == 3 ? opt.args[2] : "A", why);
  if (!a) return usage(why);
  if (opt.json) {
    json j = {{"client", client->to_string()}, {"view", a->view}, {"selector", a->selector},
              {"selector_where", a->selector_where}, {"skipped", a->skipped}, {"qname", a->qname},
              {"qtype", a->qtype}, {"rcode", a->rcode}, {"flags", a->flags}, {"answer", a->answer},
              {"authority", a->authority}, {"additional", a->additional}, {"why", a->sources}, {"note", a->note}};
    return report(0, "view.json", j.dump(2) + "\n", messages);
  }
  return report(0, "view.txt", a->format(), messages);
}

CommandResult run_secondary_config(const Model& m, const Options& opt, std::vector<std::string> messages) {
  auto primary = horizon::Endpoint::parse(opt.secondary_primary, 53);
  if (!primary) return usage("--primary \"" + opt.secondary_primary + "\" is not ADDR or ADDR:PORT");
  horizon::Diagnostics diag;
  auto snap = build_server_snapshot(m, {opt.state_dir, opt.serial}, diag);
  auto more = diagnostic_lines(diag);
  messages.insert(messages.end(), more.begin(), more.end());
  if (!snap) return report(1, "secondary.conf", "", messages);
  std::string error;
  auto text = secondary_config(m.plan(), *snap,
                               {opt.secondary_view, opt.secondary_server, *primary, opt.secondary_key}, error, messages);
  if (!text) return usage(error);
  const char* ext = opt.secondary_server == "knot" ? "knot.conf" : opt.secondary_server == "nsd" ? "nsd.conf" : "named.conf";
  return report(0, "secondary-" + opt.secondary_view + "." + ext, *text, messages);
}

/// Graphviz is optional: the SVG is a convenience next to the .dot file.
bool render_svg(const std::filesystem::path& dot_file, const std::filesystem::path& svg, std::string& why) {
  pid_t pid = fork();
  if (pid < 0) {
    why = "fork failed";
    return false;
  }
  if (pid == 0) {
    std::string in = dot_file.string(), out = "-o" + svg.string();
    execlp("dot", "dot", "-Tsvg", out.c_str(), in.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    why = "dot (graphviz) is not installed";
    return false;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    why = "dot failed";
    return false;
  }
  return true;
}

/// --out: the owned-files writer that apply uses too (deployed/owned.hpp); 0, or 2 when it failed.
int write_out_dir(const std::filesystem::path& dir, const std::string& command, const std::vector<OutputFile>& files,
                  std::ostream& out, std::ostream& err) {
  auto plan = deployed::plan_changes({{dir, command, files}});
  for (auto& e : plan.errors) err << "error: " << e << "\n";
  if (!plan.errors.empty()) return 2;
  std::vector<std::string> progress;
  std::string error;
  bool ok = deployed::execute(plan, progress, error);
  for (auto& line : progress) out << line << "\n";
  if (!ok) err << "error: " << error << "\n";
  return ok ? 0 : 2;
}

}  // namespace

CommandResult run_command(const Options& opt) {
  static const std::vector<std::string> commands = {"firewall", "traefik", "nginx", "zones", "check", "reach", "view", "diagram",
                                                    "audit", "diff", "apply", "rollback", "dnsmasq-diff",
                                                    "secondary-config"};
  if (std::find(commands.begin(), commands.end(), opt.command) == commands.end())
    return usage("unknown command \"" + opt.command + "\"");
  if (opt.command == "rollback") return deployed::run_rollback(opt);
  horizon::Diagnostics diag;
  auto model = Model::load(opt.inventory, diag);
  std::vector<std::string> messages = diagnostic_lines(diag);
  if (!model) {
    CommandResult r;
    r.exit_code = 1;
    r.messages = messages;
    r.messages.push_back("error: the inventory " + opt.inventory.string() + " was refused");
    return r;
  }
  const Model& m = *model;
  if (opt.command == "audit" || opt.command == "diff" || opt.command == "apply")
    return deployed::run_deployed_command(m, opt, messages);
  std::error_code ec;
  if (opt.deployed && !std::filesystem::is_directory(opt.pve_root, ec))
    return usage(opt.pve_root.string() + " is not a directory (--pve-root, read by --deployed)");
  if (opt.command == "check") return run_check(m, opt, messages);
  if (opt.command == "reach") return run_reach(m, opt, messages);
  if (opt.command == "firewall") {
    FirewallModel fw = build_firewall(m.inventory());
    bool bad = false;
    for (auto& p : fw.problems) {
      messages.push_back(p.format());
      bad |= p.severity == Severity::error;
    }
    if (bad) {
      CommandResult r;
      r.exit_code = 1;
      r.messages = messages;
      r.messages.push_back("error: invalid firewall rules; nothing written");
      return r;
    }
    return files_result(firewall_files(fw), messages, opt.json, opt.command);
  }
  // The rest describe what the server would serve; the server refuses an inventory with plan errors.
  if (m.plan_diagnostics().has_errors()) {
    CommandResult r;
    r.exit_code = 1;
    r.messages = messages;
    r.messages.push_back("error: phoenix-dns would refuse this inventory; fix the errors above (or run check)");
    return r;
  }
  if (opt.command == "view") return run_view(m, opt, messages);
  if (opt.command == "secondary-config") return run_secondary_config(m, opt, messages);
  if (opt.command == "dnsmasq-diff") return run_dnsmasq_diff(m, opt, messages);
  if (opt.command == "traefik") {
    auto files = traefik_files(m, messages);
    bool refused = files.empty();
    auto r = files_result(std::move(files), messages, opt.json, opt.command);
    if (refused) r.exit_code = 1;
    return r;
  }
  if (opt.command == "nginx") {
    auto files = nginx_files(m, messages, opt.ssl_dir);
    auto r = files_result(std::move(files), messages, opt.json, opt.command);
    if (r.files.empty()) r.exit_code = 1;
    return r;
  }
  if (opt.command == "zones") {
    horizon::Diagnostics zd;
    auto snap = build_server_snapshot(m, {opt.state_dir, opt.serial}, zd);
    auto more = diagnostic_lines(zd);
    messages.insert(messages.end(), more.begin(), more.end());
    if (!snap) {
      CommandResult r;
      r.exit_code = 1;
      r.messages = messages;
      return r;
    }
    return files_result(zone_files(*snap), messages, opt.json, opt.command);
  }
  FirewallModel fw = build_firewall(m.inventory());
  return files_result(diagram_files(m, fw), messages, opt.json, opt.command);
}

std::string render_stdout(const CommandResult& r) {
  if (r.files.size() == 1) return r.files.front().content;
  std::string s;
  for (size_t i = 0; i < r.files.size(); ++i) {
    if (i) s += "\n";
    s += "==> " + r.files[i].path + " <==\n" + r.files[i].content;
  }
  return s;
}

int run_cli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"phoenix-netgen: firewall files, proxy routes and zone files from the Phoenix inventory, and the "
               "contradictions between them"};
  app.fallthrough();
  app.require_subcommand(1);
  Options opt;
  std::string inventory = opt.inventory.string(), out_dir, state_dir;
  app.add_option("-i,--inventory", inventory, "inventory directory")->capture_default_str();
  app.add_option("-o,--out", out_dir, "write files into this directory instead of stdout");
  app.add_flag("--json", opt.json, "machine-readable output");
  app.add_option("--state-dir", state_dir, "zones/view: take SOA serials from phoenix-dns's state directory");
  app.add_option("--serial", opt.serial, "zones/view: use this SOA serial");
  std::string pve_root = opt.pve_root.string(), traefik_dir, nginx_conf, backup_dir = opt.backup_dir.string();
  app.add_option("--pve-root", pve_root, "audit/diff/apply, reach/check --deployed: the Proxmox configuration tree")
      ->capture_default_str();
  app.add_option("--traefik-dir", traefik_dir, "audit/diff/apply: Traefik's dynamic configuration directory");
  app.add_option("--nginx-conf", nginx_conf, "audit/diff/apply: the Nginx gateway configuration file");
  app.add_option("--backup-dir", backup_dir, "apply: where backup sets are kept")->capture_default_str();
  app.add_flag("--deployed", opt.deployed, "reach/check: judge the firewall deployed under --pve-root");
  app.add_flag("--dry-run", opt.dry_run, "apply: show the diff, write nothing");
  app.add_flag("--force", opt.force, "apply: write even when check reports errors (never with inventory errors)");
  app.add_option("--ssl-dir", opt.ssl_dir, "nginx: directory of the certificates (<name>.crt, <name>.key)");
  app.set_version_flag("-V,--version", std::string("phoenix-netgen ") + PHOENIX_VERSION);
  struct Spec {
    const char* name;
    const char* help;
    const char* args;
  };
  const Spec specs[] = {
      {"firewall", "Proxmox cluster.fw and <vmid>.fw files", nullptr},
      {"traefik", "Traefik dynamic configuration (YAML)", nullptr},
      {"nginx", "the Nginx gateway's server blocks", nullptr},
      {"zones", "one RFC 1035 zone file per view and zone, as phoenix-dns serves them", nullptr},
      {"check", "every contradiction between DNS, firewall and proxy routes; exit 1 on errors", nullptr},
      {"reach", "ALLOW or DROP for SRC DST PORT/PROTO, naming the deciding rule", "SRC DST PORT/PROTO"},
      {"view", "which view CLIENT_IP gets, and the answer it receives for NAME [TYPE]", "CLIENT_IP NAME [TYPE]"},
      {"diagram", "traffic paths as Mermaid and Graphviz (SVG too when dot is installed)", nullptr},
      {"audit", "where the deployed Proxmox firewall, guest NICs and proxy routes differ from the inventory", nullptr},
      {"diff", "unified diffs, deployed vs generated, of every file netgen owns", nullptr},
      {"apply", "write the changed files atomically after a backup; remove stale files netgen wrote", nullptr},
      {"rollback", "restore a backup set that apply made", "BACKUP"},
      {"dnsmasq-diff", "name by name, what guests get from today's dnsmasq and from phoenix-dns; exit 1 on any change",
       nullptr},
  };
  for (auto& s : specs) {
    auto* sub = app.add_subcommand(s.name, s.help);
    if (s.args) sub->add_option("args", opt.args, s.args)->required();
    sub->callback([&opt, name = std::string(s.name)] { opt.command = name; });
  }
  auto* sec = app.add_subcommand("secondary-config",
                                 "a ready Knot, NSD or BIND configuration for a secondary of one view: its key "
                                 "(with the secret), the primary, the zones or the view's catalog, the notify ACL");
  sec->add_option("--view", opt.secondary_view, "the view the secondary serves")->required();
  sec->add_option("--server", opt.secondary_server, "the secondary's software")
      ->required()
      ->check(CLI::IsMember({"knot", "nsd", "bind"}));
  sec->add_option("--primary", opt.secondary_primary, "where it reaches phoenix-dns: ADDR[:PORT] (port 53 if omitted)")
      ->required();
  sec->add_option("--key", opt.secondary_key, "sign with this inventory key instead of the view's own");
  sec->callback([&opt] { opt.command = "secondary-config"; });
  auto* diff = app.get_subcommand("dnsmasq-diff");
  diff->add_option("--dnsmasq-conf", opt.dnsmasq_conf, "dnsmasq's configuration file")->capture_default_str();
  diff->add_option("--dnsmasq-dir", opt.dnsmasq_dir, "the directory Debian's dnsmasq reads with -7 (none: skip)")
      ->capture_default_str()
      ->each([&opt](const std::string&) { opt.dnsmasq_dir_given = true; });
  diff->add_option("--etc-hosts", opt.etc_hosts, "the hosts file dnsmasq reads unless no-hosts (none: skip)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    // CLI11 calls a misspelt command an unexpected argument; say what it is.
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.empty() || a[0] == '-') {
        if (a == "-i" || a == "--inventory" || a == "-o" || a == "--out" || a == "--state-dir" || a == "--serial") ++i;
        continue;
      }
      bool known = a == "secondary-config" ||
                   std::any_of(std::begin(specs), std::end(specs), [&](const Spec& s) { return a == s.name; });
      if (known) break;
      err << "error: unknown command \"" << a << "\" (commands:";
      for (auto& s : specs) err << " " << s.name;
      err << " secondary-config)\n";
      return 2;
    }
    app.exit(e, out, err);
    return 2;
  }
  opt.inventory = inventory;
  if (!out_dir.empty()) opt.out = out_dir;
  if (!state_dir.empty()) opt.state_dir = state_dir;
  opt.pve_root = pve_root;
  opt.backup_dir = backup_dir;
  if (!traefik_dir.empty()) opt.traefik_dir = traefik_dir;
  if (!nginx_conf.empty()) opt.nginx_conf = nginx_conf;

  CommandResult r = run_command(opt);
  // A command may load the inventory more than once (view and zones build the server's snapshot):
  // each warning is still printed once.
  std::set<std::string> printed;
  for (auto& m : r.messages)
    if (printed.insert(m).second) err << m << "\n";
  if (!opt.out) {
    out << render_stdout(r);
    return r.exit_code;
  }
  // A command that failed without output must not make its earlier files look stale.
  if (r.files.empty() && r.exit_code != 0) return r.exit_code;
  if (int code = write_out_dir(*opt.out, opt.json ? opt.command + " --json" : opt.command, r.files, out, err))
    return code;
  if (opt.command == "diagram" && !opt.json && r.exit_code == 0) {
    std::string why;
    if (render_svg(*opt.out / "diagram.dot", *opt.out / "diagram.svg", why)) out << "wrote " << (*opt.out / "diagram.svg").string() << "\n";
    else err << "note: no diagram.svg: " << why << "\n";
  }
  return r.exit_code;
}

}  // namespace phoenix::netgen
