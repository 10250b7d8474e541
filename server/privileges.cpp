#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace phoenix::server {

namespace {

std::string errno_text() { return std::strerror(errno); }

std::optional<RunAs> lookup_user(const std::string& name, std::string& error) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || !found) {
    error = "unknown user " + name + (rc ? " (" + std::string(std::strerror(rc)) + ")" : "");
    return std::nullopt;
  }
  return RunAs{name, found->pw_uid, found->pw_gid};
}

}  // namespace

IdentityPlan plan_identity(const std::optional<std::string>& user, bool allow_root) {
  IdentityPlan plan;
  const bool root = ::geteuid() == 0;
  if (user) {
    auto to = lookup_user(*user, plan.error);
    if (!to) return plan;
    if (to->uid == 0 && !allow_root) {
      plan.error = "--user " + *user + " is root; refusing to serve as root (--allow-root overrides)";
      return plan;
    }
    if (!root) {
      // Without root we cannot switch; accept only a --user that names who we already are.
      if (to->uid != ::geteuid())
        plan.error = "--user " + *user + " needs root to switch to (running as uid " + std::to_string(::geteuid()) + ")";
      return plan;
    }
    plan.run_as = *to;
    return plan;
  }
  if (root) {
    if (allow_root) plan.warning = "running as root (--allow-root); prefer --user, or a systemd unit with a dynamic user";
    else
      plan.error =
          "refusing to serve as root: give --user NAME (sockets are bound first, then privileges are dropped), or run "
          "under systemd as a non-root user with AmbientCapabilities=CAP_NET_BIND_SERVICE (--allow-root overrides)";
  }
  return plan;
}

std::string prepare_state_dir(const std::filesystem::path& dir, const std::optional<RunAs>& run_as) {
  std::error_code ec;
  bool existed = std::filesystem::exists(dir, ec);
  if (!existed) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return "cannot create " + dir.string() + " (" + ec.message() + ")";
  }
  if (run_as && ::geteuid() == 0 && !existed) {
    if (::chown(dir.c_str(), run_as->uid, run_as->gid) != 0)
      return "cannot give " + dir.string() + " to " + run_as->name + " (" + errno_text() + ")";
  }
  return "";
}

std::string drop_privileges(const RunAs& to) {
  // Supplementary groups first (only root may change them), then the group, then the user:
  // after setuid() we could no longer change the other two.
  if (::setgroups(1, &to.gid) != 0) return "setgroups(" + std::to_string(to.gid) + "): " + errno_text();
  if (::setgid(to.gid) != 0) return "setgid(" + std::to_string(to.gid) + "): " + errno_text();
  if (::setuid(to.uid) != 0) return "setuid(" + std::to_string(to.uid) + "): " + errno_text();
  // setuid() as root sets real, effective and saved ids; prove it by failing to go back.
  if (to.uid != 0 && (::setuid(0) == 0 || ::geteuid() == 0 || ::getuid() == 0))
    return "root privileges could be regained after setuid(" + std::to_string(to.uid) + ")";
  return "";
}

}  // namespace phoenix::server
