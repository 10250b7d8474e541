// Issue 4: the UDP worker blocks in recvmmsg on its own thread. What must still hold: queued queries
// are answered at stop, an idle worker lets go of a replaced snapshot, forwarded misses are answered
// through the worker's socket, and a forwarded reply never outlives the socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "server/forward/forwarder.hpp"
#include "server/net/udp_worker.hpp"
#include "server/wire/query_builder.hpp"
#include "server/reload.hpp"

using namespace phoenix;

namespace {

constexpr const char* kName = "ollama.internal.thinkheads.ai";  // 10.0.0.155 in the internal view

/// A fresh snapshot of the example inventory (127.0.0.1 is internal, with recursion).
std::shared_ptr<zones::Snapshot> example() {
  zones::SerialStore serials(std::nullopt);
  return server::load_snapshot(std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory", serials)
      .snapshot;
}

horizon::Endpoint loopback(uint16_t port) { return {*horizon::IpAddr::parse("127.0.0.1"), port}; }

sockaddr_in to_sockaddr(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

/// A loopback UDP socket whose receives give up after 5 s, so a broken worker fails the test
/// instead of hanging it.
class Udp {
 public:
  Udp() : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto a = to_sockaddr(0);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ~Udp() { ::close(fd_); }
  Udp(const Udp&) = delete;
  Udp& operator=(const Udp&) = delete;

  uint16_t port() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }
  void send_to(uint16_t port, const std::vector<uint8_t>& msg) const {
    auto a = to_sockaddr(port);
    ::sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  /// One datagram and where it came from; empty after the timeout, or at once with MSG_DONTWAIT.
  std::vector<uint8_t> receive(uint16_t* from_port = nullptr, int flags = 0) const {
    std::vector<uint8_t> buf(4096);
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), flags, reinterpret_cast<sockaddr*>(&from), &len);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    if (from_port) *from_port = ntohs(from.sin_port);
    return buf;
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

uint16_t id_of(const std::vector<uint8_t>& m) { return static_cast<uint16_t>(m[0] << 8 | m[1]); }
int rcode_of(const std::vector<uint8_t>& m) { return m[3] & 0x0f; }

std::vector<uint8_t> ask(uint16_t id, const char* name = kName) {
  return wire::build_query(name, 1, id, true, std::nullopt);
}

/// A reply to `q` without EDNS: the A record's address is its last four bytes.
std::string address_in(const std::vector<uint8_t>& reply) {
  if (reply.size() < 16 || reply[7] != 1) return "no single answer";
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, reply.data() + reply.size() - 4, text, sizeof text);
  return text;
}

TEST(UdpWorker, AnswersOnItsSocket) {
  server::SnapshotHolder holder;
  holder.publish(example());
  server::UdpWorker worker(loopback(0), holder);
  worker.start("test-udp");
  Udp client;
  client.send_to(worker.port(), ask(7));
  auto reply = client.receive();
  ASSERT_FALSE(reply.empty()) << "no reply within 5 s";
  EXPECT_EQ(id_of(reply), 7);
  EXPECT_EQ(rcode_of(reply), 0);
  EXPECT_EQ(address_in(reply), "10.0.0.155");
}

TEST(UdpWorker, StopAnswersEveryQueryAlreadyQueuedThenCloses) {
  server::SnapshotHolder holder;
  holder.publish(example());
  server::UdpWorker worker(loopback(0), holder);
  Udp client;
  // Queued in the kernel before the worker reads anything; more than one batch.
  constexpr int kQueued = 150;
  for (int i = 0; i < kQueued; ++i) client.send_to(worker.port(), ask(static_cast<uint16_t>(1000 + i)));
  worker.request_stop();
  worker.start("test-udp");
  worker.join();
  EXPECT_TRUE(worker.done());

  std::vector<int> ids;
  for (int i = 0; i < kQueued; ++i) {
    auto reply = client.receive();
    ASSERT_FALSE(reply.empty()) << "only " << i << " of " << kQueued << " queued queries were answered";
    EXPECT_EQ(address_in(reply), "10.0.0.155");
    ids.push_back(id_of(reply));
  }
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < kQueued; ++i) EXPECT_EQ(ids[i], 1000 + i);

  // Closed: the kernel refuses instead of queueing for nobody (seen on a connected socket).
  auto to = to_sockaddr(worker.port());
  ASSERT_EQ(::connect(client.fd(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  auto q = ask(1);
  ::send(client.fd(), q.data(), q.size(), 0);
  EXPECT_TRUE(client.receive().empty());
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST(UdpWorker, StopWakesAWorkerBlockedOnAnIdleSocket) {
  server::SnapshotHolder holder;
  holder.publish(example());
  server::UdpWorker worker(loopback(0), holder);
  worker.start("test-udp");
  Udp client;
  client.send_to(worker.port(), ask(1));
  ASSERT_FALSE(client.receive().empty());  // it is serving, and now blocked in recvmmsg
  worker.request_stop();
  worker.join();  // returns: the blocked receive noticed the request
  EXPECT_TRUE(worker.done());
}

TEST(UdpWorker, IdleWorkerLetsGoOfAReplacedSnapshot) {
  server::SnapshotHolder holder;
  auto first = example();
  std::weak_ptr<const zones::Snapshot> watch = first;
  holder.publish(std::move(first));
  server::UdpWorker worker(loopback(0), holder);
  worker.start("test-udp");
  Udp client;
  client.send_to(worker.port(), ask(1));
  ASSERT_FALSE(client.receive().empty());  // the worker holds the first snapshot now

  holder.publish(example());
  // No traffic at all from here on: the worker must still drop its reference by itself.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (holder.retire_unused() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(watch.expired()) << "the idle worker still holds the replaced snapshot";
}

/// A fake upstream that refuses: the forwarder then has no answer and gives the client SERVFAIL.
struct RefusingUpstream {
  Udp socket;
  /// Waits for the forwarder's query and answers it with REFUSED (same ID and question).
  bool refuse_one() {
    uint16_t from = 0;
    auto q = socket.receive(&from);
    if (q.size() < 12) return false;
    q[2] |= 0x80;
    q[3] = static_cast<uint8_t>((q[3] & 0xf0) | 5);
    socket.send_to(from, q);
    return true;
  }
};

std::shared_ptr<zones::Snapshot> forwarding_to(uint16_t port) {
  auto snap = example();
  snap->upstreams = {loopback(port)};
  return snap;
}

TEST(UdpWorker, ForwardedMissIsAnsweredThroughTheWorkersSocket) {
  RefusingUpstream upstream;
  server::SnapshotHolder holder;
  holder.publish(forwarding_to(upstream.socket.port()));
  forward::Forwarder forwarder;
  forwarder.start();
  server::UdpWorker worker(loopback(0), holder);
  worker.set_forwarder(&forwarder);
  worker.start("test-udp");

  Udp client;
  client.send_to(worker.port(), ask(42, "www.example.com"));
  ASSERT_TRUE(upstream.refuse_one()) << "the miss never reached the upstream";
  uint16_t from = 0;
  auto reply = client.receive(&from);
  ASSERT_FALSE(reply.empty()) << "no reply for the forwarded query";
  EXPECT_EQ(from, worker.port());  // from the address the client asked, not a forwarder socket
  EXPECT_EQ(id_of(reply), 42);
  EXPECT_EQ(rcode_of(reply), 2);  // SERVFAIL: the only upstream refused
  worker.request_stop();
  worker.join();
  forwarder.stop();
}

TEST(UdpWorker, ForwardedReplyAfterTheWorkerIsGoneIsDropped) {
  RefusingUpstream upstream;
  server::SnapshotHolder holder;
  holder.publish(forwarding_to(upstream.socket.port()));
  forward::Forwarder forwarder;
  forwarder.start();
  auto worker = std::make_unique<server::UdpWorker>(loopback(0), holder);
  worker->set_forwarder(&forwarder);
  worker->start("test-udp");

  Udp client;
  client.send_to(worker->port(), ask(43, "www.example.com"));
  // Hold the upstream's reply until the worker and its socket are gone, and a new socket may well
  // have taken the old descriptor number.
  uint16_t from = 0;
  auto q = upstream.socket.receive(&from);
  ASSERT_GE(q.size(), 12u);
  worker.reset();
  Udp newcomer;
  q[2] |= 0x80;
  q[3] = static_cast<uint8_t>((q[3] & 0xf0) | 5);
  upstream.socket.send_to(from, q);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (forwarder.stats().servfail.load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(forwarder.stats().servfail.load(), 1u);
  forwarder.stop();  // joins the forwarder thread: the delivery has run
  EXPECT_TRUE(client.receive(nullptr, MSG_DONTWAIT).empty()) << "a reply went out after the socket closed";
}

}  // namespace
