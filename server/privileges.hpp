// privileges -- decide who serves, and drop from root to that user once the sockets are bound.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace phoenix::server {

/// The account the server switches to after binding.
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// What start-up decided: switch to `run_as`, or stay as we are. `error` non-empty means refuse to start.
struct IdentityPlan {
  std::optional<RunAs> run_as;
  std::string error;
  std::string warning;  ///< e.g. serving as root because --allow-root was given
};

/// The policy: never serve as root. As root, --user NAME is required (bind first, then drop), unless
/// --allow-root says otherwise. Not as root (systemd User=/DynamicUser= with
/// AmbientCapabilities=CAP_NET_BIND_SERVICE), --user may only name the current user.
IdentityPlan plan_identity(const std::optional<std::string>& user, bool allow_root);

/// Creates the state directory if it is missing and, when we are root and will switch users, gives
/// a directory we created to that user. An existing directory is never re-owned (a mistyped
/// --state-dir must not hand /etc to someone); returns a warning to log, or "".
std::string prepare_state_dir(const std::filesystem::path& dir, const std::optional<RunAs>& run_as);

/// setgroups + setgid + setuid, then checks that root cannot be regained. Returns "" or the reason.
/// Must run before any thread is started, so that no thread keeps the old credentials.
std::string drop_privileges(const RunAs& to);

}  // namespace phoenix::server
