#include "notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace phoenix::server {

SystemdNotifier::SystemdNotifier() {
  const char* p = std::getenv("NOTIFY_SOCKET");
  // Only the two address forms systemd uses; anything else (e.g. vsock) is not ours to guess at.
  if (p && (p[0] == '/' || p[0] == '@') && std::strlen(p) < sizeof(sockaddr_un{}.sun_path)) path_ = p;
}

bool SystemdNotifier::send(std::string_view state) const {
  if (path_.empty()) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  ::close(fd);
  return n == static_cast<ssize_t>(state.size());
}

std::string SystemdNotifier::reloading_state() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL + static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace phoenix::server
