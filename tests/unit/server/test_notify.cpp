// The sd_notify datagram: what systemd reads from $NOTIFY_SOCKET, for both address forms.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "server/notify.hpp"
#include "server/privileges.hpp"

namespace {

using phoenix::server::SystemdNotifier;

/// A datagram socket bound at `name` ("/path" or "@abstract"), closed on scope exit.
struct Listener {
  int fd = -1;
  explicit Listener(const std::string& name) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Listener() { ::close(fd); }
  std::string receive() const {
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
};

TEST(SystemdNotifier, WithoutNotifySocketIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  SystemdNotifier n;
  EXPECT_FALSE(n.enabled());
  EXPECT_FALSE(n.send("READY=1"));
}

TEST(SystemdNotifier, SendsToAPathSocket) {
  std::string path = "/tmp/phoenix-notify-test-" + std::to_string(::getpid());
  ::unlink(path.c_str());
  Listener l(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  SystemdNotifier n;
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(n.enabled());
  EXPECT_TRUE(n.send("READY=1\nSTATUS=serving generation 1"));
  EXPECT_EQ(l.receive(), "READY=1\nSTATUS=serving generation 1");
  ::unlink(path.c_str());
}

TEST(SystemdNotifier, SendsToAnAbstractSocketWithReloadTimestamp) {
  std::string name = "@phoenix-notify-test-" + std::to_string(::getpid());
  Listener l(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  SystemdNotifier n;
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(n.send(SystemdNotifier::reloading_state()));
  std::string got = l.receive();
  EXPECT_EQ(got.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << got;
  EXPECT_GT(std::stoull(got.substr(got.find('=', 12) + 1)), 0u);
}

TEST(SystemdNotifier, IgnoresAddressFormsItDoesNotKnow) {
  ::setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
  SystemdNotifier n;
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(n.enabled());
}

TEST(Privileges, UnknownUserIsAnError) {
  auto plan = phoenix::server::plan_identity(std::string("phoenix-no-such-user"), false);
  EXPECT_NE(plan.error.find("unknown user phoenix-no-such-user"), std::string::npos) << plan.error;
  EXPECT_FALSE(plan.run_as);
}

TEST(Privileges, RootWithoutUserIsRefusedUnlessAllowed) {
  auto refused = phoenix::server::plan_identity(std::nullopt, false);
  auto allowed = phoenix::server::plan_identity(std::nullopt, true);
  if (::geteuid() == 0) {
    EXPECT_NE(refused.error.find("refusing to serve as root"), std::string::npos);
    EXPECT_TRUE(allowed.error.empty());
    EXPECT_FALSE(allowed.warning.empty());
  } else {
    EXPECT_TRUE(refused.error.empty());  // not root: nothing to drop
    EXPECT_TRUE(allowed.warning.empty());
  }
}

}  // namespace
