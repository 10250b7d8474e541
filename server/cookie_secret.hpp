// cookie_secret -- the DNS cookie secret (RFC 9018 §5): kept in --state-dir so that restarts keep
// clients' cookies valid, rotated, and the previous one still accepted during the overlap.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/query/cookie.hpp"

namespace phoenix::server {

class CookieSecretKeeper {
 public:
  /// How long a secret is the current one. Server cookies live an hour (RFC 9018 §4.3), so the
  /// previous secret, accepted until the next rotation, covers every cookie it made.
  static constexpr std::chrono::hours kLifetime{24};

  /// `file`: where the secrets are kept (created 0600); nullopt: random ones, in memory only.
  explicit CookieSecretKeeper(std::optional<std::filesystem::path> file) : file_(std::move(file)) {}

  /// Reads the file (a missing or unreadable one means a fresh secret) and rotates when the current
  /// secret is older than kLifetime at `now`; writes the result back. Returns a warning, or "".
  std::string refresh(std::chrono::system_clock::time_point now);

  /// What the workers read, once per batch; never null after the first refresh().
  const std::atomic<const query::CookieSecrets*>& secrets() const { return current_; }

 private:
  std::string publish(const query::CookieSecrets& s);
  std::optional<std::filesystem::path> file_;
  int64_t created_ = 0;  ///< when the current secret was made (seconds since the epoch)
  bool loaded_ = false;
  // Published secrets are never freed: a worker may still hold the last pointer. One per rotation.
  std::vector<std::unique_ptr<const query::CookieSecrets>> kept_;
  std::atomic<const query::CookieSecrets*> current_{nullptr};
};

/// The file's text: "phoenix-cookie-secret 1 CREATED CURRENT_HEX [PREVIOUS_HEX]"; parsed back by
/// parse_cookie_secrets (nullopt when malformed).
std::string format_cookie_secrets(const query::CookieSecrets& s, int64_t created);
std::optional<std::pair<query::CookieSecrets, int64_t>> parse_cookie_secrets(const std::string& text);

}  // namespace phoenix::server
