#include "cookie_secret.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace phoenix::server {
namespace {

std::string hex(const query::CookieSecret& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : s) out += digits[b >> 4], out += digits[b & 15];
  return out;
}

bool unhex(const std::string& text, query::CookieSecret& out) {
  if (text.size() != 32) return false;
  for (size_t i = 0; i < 16; ++i) {
    unsigned v = 0;
    if (std::sscanf(text.c_str() + 2 * i, "%2x", &v) != 1 || !std::isxdigit(text[2 * i]) ||
        !std::isxdigit(text[2 * i + 1]))
      return false;
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

query::CookieSecret random_secret() {
  query::CookieSecret s;
  std::random_device rd;  // the kernel's getrandom on Linux
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t v = rd();
    std::memcpy(s.data() + i, &v, 4);
  }
  return s;
}

}  // namespace

std::string format_cookie_secrets(const query::CookieSecrets& s, int64_t created) {
  std::string out = "phoenix-cookie-secret 1 " + std::to_string(created) + " " + hex(s.current);
  if (s.has_previous) out += " " + hex(s.previous);
  return out + "\n";
}

std::optional<std::pair<query::CookieSecrets, int64_t>> parse_cookie_secrets(const std::string& text) {
  std::istringstream in(text);
  std::string magic, version, cur, prev, extra;
  int64_t created = 0;
  if (!(in >> magic >> version >> created >> cur) || magic != "phoenix-cookie-secret" || version != "1")
    return std::nullopt;
  query::CookieSecrets s;
  if (!unhex(cur, s.current)) return std::nullopt;
  if (in >> prev) {
    if (!unhex(prev, s.previous)) return std::nullopt;
    s.has_previous = true;
  }
  if (in >> extra) return std::nullopt;
  return std::pair{s, created};
}

std::string CookieSecretKeeper::refresh(std::chrono::system_clock::time_point now) {
  const int64_t t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::string warning;
  query::CookieSecrets s;
  bool have = false;
  if (const auto* c = current_.load(std::memory_order_acquire)) {
    s = *c;
    have = true;
  } else if (file_) {
    std::ifstream f(*file_);
    std::stringstream text;
    text << f.rdbuf();
    if (auto parsed = parse_cookie_secrets(text.str())) {
      s = parsed->first;
      created_ = parsed->second;
      have = true;
    } else if (f.is_open()) {
      warning = "cookie secret " + file_->string() + " is malformed; starting with a new one";
    }
  }
  const bool rotate = !have || t - created_ >= std::chrono::seconds(kLifetime).count() || t < created_;
  if (rotate) {
    if (have) {
      s.previous = s.current;
      s.has_previous = true;
    }
    s.current = random_secret();
    created_ = t;
  }
  if (rotate || !loaded_) {
    loaded_ = true;
    if (auto err = publish(s); !err.empty() && warning.empty()) warning = err;
  }
  return warning;
}

std::string CookieSecretKeeper::publish(const query::CookieSecrets& s) {
  kept_.push_back(std::make_unique<const query::CookieSecrets>(s));
  current_.store(kept_.back().get(), std::memory_order_release);
  if (!file_) return "";
  // Written aside and renamed, so a crash never leaves half a secret; readable by us alone.
  auto tmp = file_->string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + tmp + " (" + std::strerror(errno) + "); the secret lasts until restart";
  std::string text = format_cookie_secrets(s, created_);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), file_->c_str()) != 0) {
    ::unlink(tmp.c_str());
    return "cannot write " + file_->string() + "; the secret lasts until restart";
  }
  return "";
}

}  // namespace phoenix::server
