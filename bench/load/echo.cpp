// phoenix-echo -- the kernel ceiling: reads datagrams with recvmmsg and sends the same bytes back with
// sendmmsg (QR bit set so the generator counts them as replies), doing no DNS work at all. A DNS
// server on the same core can at best approach this; the generator must top it, or it is the bottleneck.
//
// Runs until SIGTERM/SIGINT or --seconds elapse (bounded by design).
#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

void serve(const sockaddr_in& addr, unsigned batch, unsigned threads, time_t deadline) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("bind");
    std::exit(1);
  }
  if (threads > 1) {
    // Like phoenix-dns (--udp-spread cpu): each datagram to the socket of the CPU that received it.
    // Every thread attaches the same program to the group; the last one stays.
    sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_CPU)},
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, threads},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    sock_fprog prog{3, code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) std::perror("reuseport cbpf");
  }
  // Wake up now and then to notice the stop request even when no traffic arrives.
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<std::vector<uint8_t>> buf(batch, std::vector<uint8_t>(4096));
  std::vector<sockaddr_storage> peer(batch);
  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> msg(batch);
  while (!g_stop && time(nullptr) < deadline) {
    for (unsigned i = 0; i < batch; ++i) {
      iov[i] = {buf[i].data(), buf[i].size()};
      msg[i].msg_hdr = {};
      msg[i].msg_hdr.msg_iov = &iov[i];
      msg[i].msg_hdr.msg_iovlen = 1;
      msg[i].msg_hdr.msg_name = &peer[i];
      msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    int n = recvmmsg(fd, msg.data(), batch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) {
      iov[i].iov_len = msg[i].msg_len;
      if (msg[i].msg_len > 2) buf[i][2] |= 0x80;
    }
    int sent = 0;
    while (sent < n) {
      int k = sendmmsg(fd, msg.data() + sent, static_cast<unsigned>(n - sent), 0);
      if (k <= 0) break;
      sent += k;
    }
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string ip = "127.0.0.1";
  uint16_t port = 5399;
  unsigned threads = 1, batch = 64;  // the same batch as phoenix-dns's UDP workers
  int cpu = -1;
  long seconds = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--ip") ip = v;
    else if (a == "--port") port = static_cast<uint16_t>(std::stoul(v));
    else if (a == "--threads") threads = static_cast<unsigned>(std::stoul(v));
    else if (a == "--batch") batch = static_cast<unsigned>(std::stoul(v));
    else if (a == "--cpu") cpu = std::stoi(v);
    else if (a == "--seconds") seconds = std::stol(v);
    else {
      std::fprintf(stderr, "usage: phoenix-echo [--ip IP] [--port N] [--threads N] [--batch N] [--cpu N] [--seconds S]\n");
      return 2;
    }
  }
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  time_t deadline = time(nullptr) + seconds;
  std::vector<std::thread> ts;
  for (unsigned t = 1; t < threads; ++t) ts.emplace_back(serve, addr, batch, threads, deadline);
  serve(addr, batch, threads, deadline);
  for (auto& t : ts) t.join();
  return 0;
}
