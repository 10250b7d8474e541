#include "commands.hpp"

#include <nlohmann/json.hpp>

#include "audit.hpp"
#include "check.hpp"
#include "deployed_fw.hpp"
#include "owned.hpp"
#include "pve_tree.hpp"
#include "routes.hpp"
#include "udiff.hpp"

namespace phoenix::netgen::deployed {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

CommandResult result(int code, const std::string& name, std::string text, std::vector<std::string> messages) {
  CommandResult r;
  r.exit_code = code;
  r.files.push_back({name, std::move(text)});
  r.messages = std::move(messages);
  return r;
}

CommandResult refuse(int code, std::vector<std::string> messages, const std::string& why) {
  CommandResult r;
  r.exit_code = code;
  r.messages = std::move(messages);
  r.messages.push_back("error: " + why);
  return r;
}

/// Everything netgen would deploy, per directory it owns files in.
struct Generated {
  std::vector<OwnedDir> dirs;
  bool inventory_errors = false;
};

Generated generate(const Model& m, const Options& opt, const FirewallModel& fw, std::vector<std::string>& messages) {
  Generated g;
  for (auto& p : fw.problems) {
    messages.push_back(p.format());
    g.inventory_errors |= p.severity == Severity::error;
  }
  if (m.plan_diagnostics().has_errors()) g.inventory_errors = true;
  g.dirs.push_back({opt.pve_root / "firewall", "firewall", firewall_files(fw)});
  if (m.plan_diagnostics().has_errors()) return g;  // no routes from a plan the server would refuse
  if (opt.traefik_dir) g.dirs.push_back({*opt.traefik_dir, "traefik", traefik_files(m, messages)});
  if (opt.nginx_conf) {
    auto files = nginx_files(m, messages);
    for (auto& f : files) f.path = opt.nginx_conf->filename().string();
    fs::path dir = opt.nginx_conf->parent_path();
    g.dirs.push_back({dir.empty() ? fs::path(".") : dir, "nginx", files});
  }
  return g;
}

json finding_json(const AuditFinding& f) {
  json j = {{"severity", severity_text(f.severity)}, {"code", f.code}, {"message", f.message},
            {"deployed", {{"file", f.file}, {"line", f.line}}}};
  if (f.inventory) j["inventory"] = {{"file", f.inventory->file}, {"pointer", f.inventory->pointer}};
  return j;
}

CommandResult run_audit(const Model& m, const Options& opt, std::vector<std::string> messages) {
  std::error_code ec;
  if (!fs::is_directory(opt.pve_root, ec)) return refuse(2, messages, opt.pve_root.string() + " is not a directory (--pve-root)");
  FirewallModel fw = build_firewall(m.inventory());
  Generated gen = generate(m, opt, fw, messages);
  if (gen.inventory_errors) return refuse(1, messages, "the inventory has errors; fix them before comparing it with the host");
  PveTree tree = load_pve_tree(opt.pve_root);
  AuditInput in;
  in.tree = &tree;
  in.fw = &fw;
  in.generated_fw = gen.dirs[0].files;
  std::string err;
  in.fw_manifest = load_manifest(tree.firewall_dir, err);
  if (!err.empty()) messages.push_back("warning: " + err);
  for (size_t i = 1; i < gen.dirs.size(); ++i) {
    auto& d = gen.dirs[i];
    AuditInput::Proxy p;
    p.kind = d.command;
    // Not from the generated files: an inventory without Traefik generates no Nginx file at all.
    p.deployed = d.command == "traefik" ? d.dir : *opt.nginx_conf;
    p.generated = d.files;
    p.manifest = load_manifest(d.dir, err);
    in.proxies.push_back(std::move(p));
  }
  auto findings = audit(m, in);
  size_t errors = 0, warnings = 0;
  for (auto& f : findings) {
    errors += f.severity == Severity::error;
    warnings += f.severity == Severity::warning;
  }
  int code = errors + warnings ? 1 : 0;
  if (opt.json) {
    json j = {{"matches", code == 0}, {"errors", errors}, {"warnings", warnings}, {"findings", json::array()}};
    for (auto& f : findings) j["findings"].push_back(finding_json(f));
    return result(code, "audit.json", j.dump(2) + "\n", messages);
  }
  std::string text;
  for (auto& f : findings) text += f.format() + "\n";
  text += std::to_string(errors) + " errors, " + std::to_string(warnings) + " warnings: the host " +
          (code ? "does not match" : "matches") + " the inventory\n";
  return result(code, "audit.txt", text, messages);
}

std::string diff_text(const ChangePlan& plan) {
  std::string out;
  for (auto& c : plan.changes) {
    std::string p = c.path.string();
    switch (c.kind) {
      case Change::Kind::unchanged: break;
      case Change::Kind::create: out += unified_diff("", c.after, "/dev/null", p + "\tgenerated"); break;
      case Change::Kind::update:
        if (c.foreign) out += "# " + p + " was not written by netgen; apply replaces it (a backup is kept)\n";
        if (c.edited) out += "# " + p + " was edited since netgen wrote it; apply replaces it (a backup is kept)\n";
        out += unified_diff(c.before, c.after, p + "\tdeployed", p + "\tgenerated");
        break;
      case Change::Kind::remove:
        out += "# " + p + ": netgen wrote it, the inventory no longer produces it\n";
        out += unified_diff(c.before, "", p + "\tdeployed", "/dev/null");
        break;
    }
  }
  return out;
}

CommandResult run_diff_or_apply(const Model& m, const Options& opt, std::vector<std::string> messages) {
  bool apply = opt.command == "apply";
  // A mistyped --pve-root (or a machine that is no Proxmox host) must not become a new tree that
  // apply fills and reports as done while the real firewall stays as it was. diff and --dry-run
  // write nothing: against no tree they show every file as new.
  std::error_code ec;
  if (apply && !opt.dry_run && !fs::is_directory(opt.pve_root, ec))
    return refuse(2, messages, opt.pve_root.string() + " is not a directory (--pve-root); nothing written");
  FirewallModel fw = build_firewall(m.inventory());
  Generated gen = generate(m, opt, fw, messages);
  // Inventory errors cannot be forced: netgen would write files that drop what it could not read.
  if (gen.inventory_errors)
    return refuse(1, messages, "the inventory has errors; nothing " + std::string(apply ? "written" : "compared"));
  if (apply && !opt.dry_run) {
    auto findings = check_inventory(m, fw);
    size_t errors = std::count_if(findings.begin(), findings.end(), [](auto& f) { return f.severity == Severity::error; });
    if (errors && !opt.force) {
      for (auto& f : findings)
        if (f.severity == Severity::error) messages.push_back(f.format());
      return refuse(1, messages, std::to_string(errors) + " check errors; nothing written (--force writes anyway)");
    }
    if (errors) messages.push_back("warning: " + std::to_string(errors) + " check errors, written anyway (--force)");
  }
  ChangePlan plan = plan_changes(gen.dirs);
  for (auto& e : plan.errors) messages.push_back("error: " + e);
  if (!plan.errors.empty()) return refuse(2, messages, "nothing written");
  std::string diff = diff_text(plan);
  if (!apply) return result(diff.empty() ? 0 : 1, "diff.txt", diff, messages);
  if (opt.dry_run) return result(0, "apply.txt", diff + (diff.empty() ? "nothing to change\n" : "dry run: nothing written\n"), messages);
  std::string err;
  if (!plan.changed()) {
    // Only netgen's own bookkeeping to finish (after a killed apply): no backup needed.
    std::vector<std::string> progress;
    if (plan.tidy && !execute(plan, progress, err)) return refuse(2, messages, err);
    std::string text;
    for (auto& l : progress)
      if (l.rfind("unchanged ", 0) != 0) text += l + "\n";
    return result(0, "apply.txt", text + "nothing to change\n", messages);
  }
  auto backup = make_backup(plan, opt.backup_dir, err);
  if (!backup) return refuse(2, messages, err + "; nothing written");
  std::string text = "backup " + backup->string() + " (phoenix-netgen rollback " + backup->string() + " restores it)\n";
  std::vector<std::string> progress;
  bool ok = execute(plan, progress, err);
  for (auto& l : progress) text += l + "\n";
  if (!ok) {
    messages.push_back("error: " + err);
    messages.push_back("error: apply stopped; every file is either as before or as generated; rollback " +
                       backup->string() + " restores the rest");
    return result(2, "apply.txt", text, messages);
  }
  return result(0, "apply.txt", text, messages);
}

}  // namespace

CommandResult run_deployed_command(const Model& m, const Options& opt, std::vector<std::string> messages) {
  if (opt.command == "audit") return run_audit(m, opt, std::move(messages));
  return run_diff_or_apply(m, opt, std::move(messages));
}

CommandResult run_rollback(const Options& opt) {
  if (opt.args.size() != 1) return refuse(2, {}, "rollback needs BACKUP (a directory apply printed)");
  std::vector<std::string> progress;
  std::string err;
  bool ok = restore_backup(opt.args[0], progress, err);
  std::string text;
  for (auto& l : progress) text += l + "\n";
  if (!ok) return result(2, "rollback.txt", text, {"error: " + err});
  return result(0, "rollback.txt", text, {});
}

FirewallModel firewall_for(const Model& m, const Options& opt, std::vector<std::string>& messages) {
  if (!opt.deployed) return build_firewall(m.inventory());
  PveTree tree = load_pve_tree(opt.pve_root);
  for (auto& p : tree.problems) messages.push_back("warning: " + p.format());
  DeployedFirewall d = build_deployed_firewall(m, tree);
  for (auto& p : d.problems) messages.push_back("warning: " + p.format());
  return std::move(d.fw);
}

}  // namespace phoenix::netgen::deployed
