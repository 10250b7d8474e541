// dns_tool_peer -- lets a unit test play the server for dig/kdig on loopback: one free port for UDP
// and TCP, the tool started in the background, its query received and the test's reply sent back.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "horizon/tsig_keys.hpp"

namespace phoenix::test {

/// True if `tool` is on PATH (tests skip without it).
inline bool have_tool(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

/// A tsig-keygen secret used only by tests.
inline constexpr const char* kTestSecret = "ypiLzrz0E9kwNXG5prjzk76f2lTc9EatxYlvYCPI7vE=";

/// One key as the key reader makes it.
inline std::vector<horizon::TsigKey> tsig_keys(const char* name = "xfr-key", const char* secret = kTestSecret,
                                               const char* algorithm = "hmac-sha256") {
  std::vector<horizon::TsigKey> keys;
  horizon::Diagnostics diag;
  nlohmann::json j;
  j[name] = {{"algorithm", algorithm}, {"secret", secret}};
  horizon::read_tsig_keys_json(j, "test", "", keys, diag);
  return keys;
}

/// `tool` (dig or kdig) asking 127.0.0.1:`port` for `question`, signed with the hmac-sha256 key
/// `key_name` and the test secret, one try, `timeout` seconds.
inline std::string signed_query_command(const std::string& tool, uint16_t port, const std::string& question,
                                        const char* key_name = "xfr-key", int timeout = 5) {
  const std::string t = std::to_string(timeout);
  return tool + " -y hmac-sha256:" + key_name + ":" + kTestSecret + " @127.0.0.1 -p " + std::to_string(port) +
         (tool == "dig" ? " +tries=1 +time=" + t : " +retry=0 +timeout=" + t) + " " + question;
}

/// A command running in the background; finish() waits for it and returns what it printed.
class Tool {
 public:
  explicit Tool(const std::string& cmd) : p_(popen((cmd + " 2>&1").c_str(), "r")) {}
  ~Tool() { finish(); }
  std::string finish() {
    if (p_) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p_)) > 0) out_.append(buf, n);
      pclose(p_);
      p_ = nullptr;
    }
    return out_;
  }

 private:
  FILE* p_;
  std::string out_;
};

/// UDP and TCP sockets on the same free 127.0.0.1 port.
class Peer {
 public:
  Peer() {
    for (int attempt = 0; attempt < 20 && tcp_ < 0; ++attempt) {
      close_all();
      udp_ = ::socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(udp_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) continue;
      socklen_t len = sizeof a;
      ::getsockname(udp_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
      int t = ::socket(AF_INET, SOCK_STREAM, 0);
      if (::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(t, 4) == 0) tcp_ = t;
      else ::close(t);
    }
  }
  ~Peer() { close_all(); }
  uint16_t port() const { return port_; }

  /// One datagram within `timeout_ms`, or empty.
  std::vector<uint8_t> recv_udp(int timeout_ms = 5000) {
    if (!wait(udp_, timeout_ms)) return {};
    std::vector<uint8_t> buf(65535);
    socklen_t len = sizeof from_;
    ssize_t n = ::recvfrom(udp_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from_), &len);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }
  /// Replies to the sender of the last datagram.
  void send_udp(const std::vector<uint8_t>& msg) {
    ::sendto(udp_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&from_), sizeof from_);
  }

  /// Accepts one TCP connection and reads one length-prefixed message from it.
  std::vector<uint8_t> recv_tcp(int timeout_ms = 5000) {
    if (conn_ < 0) {
      if (!wait(tcp_, timeout_ms)) return {};
      conn_ = ::accept(tcp_, nullptr, nullptr);
    }
    uint8_t len[2];
    if (!read_all(len, 2)) return {};
    std::vector<uint8_t> msg(static_cast<size_t>((len[0] << 8) | len[1]));
    if (!read_all(msg.data(), msg.size())) return {};
    return msg;
  }
  void send_tcp(const std::vector<uint8_t>& msg) {
    uint8_t len[2] = {static_cast<uint8_t>(msg.size() >> 8), static_cast<uint8_t>(msg.size())};
    write_all(len, 2);
    write_all(msg.data(), msg.size());
  }
  void close_tcp() {
    if (conn_ >= 0) ::close(conn_);
    conn_ = -1;
  }

 private:
  static bool wait(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
  }
  bool read_all(uint8_t* p, size_t n) {
    while (n > 0) {
      if (!wait(conn_, 5000)) return false;
      ssize_t r = ::read(conn_, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  void write_all(const uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t r = ::write(conn_, p, n);
      if (r <= 0) return;
      p += r;
      n -= static_cast<size_t>(r);
    }
  }
  void close_all() {
    close_tcp();
    if (udp_ >= 0) ::close(udp_);
    if (tcp_ >= 0) ::close(tcp_);
    udp_ = tcp_ = -1;
  }

  int udp_ = -1, tcp_ = -1, conn_ = -1;
  uint16_t port_ = 0;
  sockaddr_in from_{};
};

}  // namespace phoenix::test
