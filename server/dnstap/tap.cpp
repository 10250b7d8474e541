#include "tap.hpp"

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstrm.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>

extern "C" {
#include "dnstap.pb-c.h"
}

namespace phoenix::dnstap {

namespace {

constexpr const char kContentType[] = "protobuf:dnstap.Dnstap";  // the Frame Streams content type dnstap uses
constexpr auto kSocketTimeout = std::chrono::seconds(1);

}  // namespace

// ---- Ring

Ring::Ring(bool queries, bool responses)
    : queries_(queries), responses_(responses), slots_(std::make_unique<Entry[]>(kSlots)) {}

void Ring::push(Kind kind, bool tcp, const horizon::IpAddr& peer, uint16_t port, uint8_t view_slot, const uint8_t* msg,
                size_t len) noexcept {
  if (len > kMaxMessage) {
    ++dropped_large;
    return;
  }
  const uint64_t head = head_.load(std::memory_order_relaxed);
  if (head - tail_.load(std::memory_order_acquire) >= kSlots) {
    ++dropped_full;
    return;
  }
  Entry& e = slots_[head % kSlots];
  e.kind = kind;
  e.tcp = tcp;
  e.v6 = !peer.is_v4();
  e.view_slot = view_slot;
  e.port = port;
  e.len = static_cast<uint16_t>(len);
  std::memcpy(e.addr, peer.bytes.data(), 16);
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  e.sec = ts.tv_sec;
  e.nsec = static_cast<uint32_t>(ts.tv_nsec);
  std::memcpy(e.msg, msg, len);
  head_.store(head + 1, std::memory_order_release);
}

void Ring::exchange(const zones::Snapshot& snap, bool tcp, const horizon::IpAddr& client, uint16_t port,
                    const uint8_t* query, size_t query_len, const uint8_t* reply, size_t reply_len,
                    bool forwarded) noexcept {
  horizon::ViewId v = snap.views.match(client);
  uint8_t slot = v == horizon::kNoView ? query::kNoViewSlot : snap.view_data[v].metrics_slot;
  if (queries_) push(forwarded ? Kind::client_query : Kind::auth_query, tcp, client, port, slot, query, query_len);
  if (responses_ && reply_len)
    push(forwarded ? Kind::client_response : Kind::auth_response, tcp, client, port, slot, reply, reply_len);
}

const Ring::Entry* Ring::front() const noexcept {
  const uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail == head_.load(std::memory_order_acquire)) return nullptr;
  return &slots_[tail % kSlots];
}

void Ring::release() noexcept { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

horizon::IpAddr peer_address(const sockaddr_storage& ss, uint16_t& port) {
  horizon::IpAddr a;
  if (ss.ss_family == AF_INET) {
    auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    port = ntohs(s4->sin_port);
    std::memcpy(a.bytes.data(), &s4->sin_addr, 4);
  } else {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    port = ntohs(s6->sin6_port);
    a.family = horizon::IpAddr::Family::v6;
    std::memcpy(a.bytes.data(), &s6->sin6_addr, 16);
  }
  return a;
}

// ---- the unix socket transport for fstrm, with timeouts

namespace {

struct UnixStream {
  std::string path;
  int fd = -1;
};

fstrm_res us_open(void* obj) {
  auto* s = static_cast<UnixStream*>(obj);
  sockaddr_un sa{};
  if (s->path.size() >= sizeof sa.sun_path) return fstrm_res_failure;
  s->fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->fd < 0) return fstrm_res_failure;
  timeval tv{static_cast<time_t>(kSocketTimeout.count()), 0};
  ::setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, s->path.c_str(), s->path.size());
  if (::connect(s->fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(s->fd);
    s->fd = -1;
    return fstrm_res_failure;
  }
  return fstrm_res_success;
}

fstrm_res us_close(void* obj) {
  auto* s = static_cast<UnixStream*>(obj);
  if (s->fd >= 0) ::close(s->fd);
  s->fd = -1;
  return fstrm_res_success;
}

fstrm_res us_destroy(void* obj) {
  us_close(obj);
  delete static_cast<UnixStream*>(obj);
  return fstrm_res_success;
}

fstrm_res us_read(void* obj, void* data, size_t count) {
  auto* s = static_cast<UnixStream*>(obj);
  auto* p = static_cast<uint8_t*>(data);
  while (count) {
    ssize_t k = ::recv(s->fd, p, count, 0);
    if (k == 0) return fstrm_res_stop;
    if (k < 0) {
      if (errno == EINTR) continue;
      return fstrm_res_failure;  // includes the timeout: a reader that does not answer the handshake
    }
    p += k;
    count -= static_cast<size_t>(k);
  }
  return fstrm_res_success;
}

fstrm_res us_write(void* obj, const struct iovec* iov, int iovcnt) {
  auto* s = static_cast<UnixStream*>(obj);
  std::vector<iovec> v(iov, iov + iovcnt);
  size_t i = 0;
  while (i < v.size()) {
    msghdr mh{};
    mh.msg_iov = v.data() + i;
    mh.msg_iovlen = v.size() - i;
    // MSG_NOSIGNAL: a collector that went away must not kill the server with SIGPIPE.
    ssize_t k = ::sendmsg(s->fd, &mh, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      return fstrm_res_failure;  // includes the timeout: a reader that stopped reading
    }
    auto left = static_cast<size_t>(k);
    while (i < v.size() && left >= v[i].iov_len) left -= v[i++].iov_len;
    if (i < v.size()) {
      v[i].iov_base = static_cast<uint8_t*>(v[i].iov_base) + left;
      v[i].iov_len -= left;
    }
  }
  return fstrm_res_success;
}

}  // namespace

// ---- Writer

Writer::Writer(const horizon::DnstapSettings& settings, std::string identity, std::string version,
               std::function<std::vector<std::string>()> view_names)
    : settings_(settings), identity_(std::move(identity)), version_(std::move(version)),
      view_names_(std::move(view_names)) {}

Writer::~Writer() {
  stop();
  close();
}

Ring* Writer::add_ring() {
  rings_.push_back(std::make_unique<Ring>(settings_.queries, settings_.responses));
  return rings_.back().get();
}

std::string Writer::where() const { return settings_.socket.empty() ? "file " + settings_.file : "socket " + settings_.socket; }

uint64_t Writer::dropped_full() const {
  uint64_t n = 0;
  for (auto& r : rings_) n += r->dropped_full.load();
  return n;
}
uint64_t Writer::dropped_large() const {
  uint64_t n = 0;
  for (auto& r : rings_) n += r->dropped_large.load();
  return n;
}

void Writer::start() {
  thread_ = std::thread([this] { run(); });
  ::pthread_setname_np(thread_.native_handle(), "dnstap");
}

void Writer::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool Writer::open() {
  fstrm_writer_options* wopt = fstrm_writer_options_init();
  fstrm_writer_options_add_content_type(wopt, kContentType, sizeof kContentType - 1);
  if (!settings_.file.empty()) {
    fstrm_file_options* fopt = fstrm_file_options_init();
    fstrm_file_options_set_file_path(fopt, settings_.file.c_str());
    w_ = fstrm_file_writer_init(fopt, wopt);
    fstrm_file_options_destroy(&fopt);
  } else {
    fstrm_rdwr* rdwr = fstrm_rdwr_init(new UnixStream{settings_.socket});
    fstrm_rdwr_set_destroy(rdwr, us_destroy);
    fstrm_rdwr_set_open(rdwr, us_open);
    fstrm_rdwr_set_close(rdwr, us_close);
    fstrm_rdwr_set_read(rdwr, us_read);  // a read method makes fstrm do the bidirectional handshake
    fstrm_rdwr_set_write(rdwr, us_write);
    w_ = fstrm_writer_init(wopt, &rdwr);
  }
  fstrm_writer_options_destroy(&wopt);
  if (w_ && fstrm_writer_open(w_) == fstrm_res_success) {
    if (warned_) spdlog::info("dnstap: writing to {} again", where());
    warned_ = false;
    backoff_ = std::chrono::seconds(1);
    return true;
  }
  if (w_) fstrm_writer_destroy(&w_);
  w_ = nullptr;
  if (!warned_) spdlog::warn("dnstap: cannot open {}; messages are dropped until it can be (retrying)", where());
  warned_ = true;
  retry_at_ = std::chrono::steady_clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, std::chrono::seconds(30));
  return false;
}

void Writer::close() {
  if (w_) fstrm_writer_destroy(&w_);  // closes: flushes, and writes the STOP frame
  w_ = nullptr;
}

void Writer::write(const Ring::Entry& e) {
  if (!w_ && (std::chrono::steady_clock::now() < retry_at_ || !open())) {
    ++unwritten_;
    return;
  }
  Dnstap__Message m = DNSTAP__MESSAGE__INIT;
  m.type = static_cast<Dnstap__Message__Type>(e.kind);
  m.has_socket_family = m.has_socket_protocol = true;
  m.socket_family = e.v6 ? DNSTAP__SOCKET_FAMILY__INET6 : DNSTAP__SOCKET_FAMILY__INET;
  m.socket_protocol = e.tcp ? DNSTAP__SOCKET_PROTOCOL__TCP : DNSTAP__SOCKET_PROTOCOL__UDP;
  const bool forwarder = e.kind == Kind::forwarder_query || e.kind == Kind::forwarder_response;
  const bool is_query = e.kind == Kind::auth_query || e.kind == Kind::client_query || e.kind == Kind::forwarder_query;
  ProtobufCBinaryData addr{e.v6 ? 16u : 4u, const_cast<uint8_t*>(e.addr)};
  // The initiator is the client, except towards an upstream, where it is us and the upstream responds.
  if (forwarder) {
    m.has_response_address = m.has_response_port = true;
    m.response_address = addr;
    m.response_port = e.port;
  } else {
    m.has_query_address = m.has_query_port = true;
    m.query_address = addr;
    m.query_port = e.port;
  }
  ProtobufCBinaryData msg{e.len, const_cast<uint8_t*>(e.msg)};
  if (is_query) {
    m.has_query_message = m.has_query_time_sec = m.has_query_time_nsec = true;
    m.query_message = msg;
    m.query_time_sec = static_cast<uint64_t>(e.sec);
    m.query_time_nsec = e.nsec;
  } else {
    m.has_response_message = m.has_response_time_sec = m.has_response_time_nsec = true;
    m.response_message = msg;
    m.response_time_sec = static_cast<uint64_t>(e.sec);
    m.response_time_nsec = e.nsec;
  }
  Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
  d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
  d.message = &m;
  d.has_identity = d.has_version = true;
  d.identity = {identity_.size(), reinterpret_cast<uint8_t*>(identity_.data())};
  d.version = {version_.size(), reinterpret_cast<uint8_t*>(version_.data())};
  // The view has no field of its own in the schema: it goes in `extra`, as "view=<name>". An
  // upstream exchange serves every view that asks the question, so it names none.
  std::string extra = "view=" + (e.view_slot < names_.size() ? names_[e.view_slot] : std::string("none"));
  d.has_extra = !forwarder;
  d.extra = {extra.size(), reinterpret_cast<uint8_t*>(extra.data())};
  buf_.resize(dnstap__dnstap__get_packed_size(&d));
  dnstap__dnstap__pack(&d, buf_.data());
  if (fstrm_writer_write(w_, buf_.data(), buf_.size()) != fstrm_res_success) {
    ++unwritten_;
    spdlog::warn("dnstap: writing to {} failed; reconnecting", where());
    close();
    warned_ = true;
    retry_at_ = std::chrono::steady_clock::now() + backoff_;
    return;
  }
  ++sent_;
}

bool Writer::drain_once() {
  bool any = false;
  for (auto& r : rings_) {
    // At most a ring's worth each round, so one busy worker cannot starve the others' rings.
    for (size_t k = 0; k < Ring::kSlots; ++k) {
      const Ring::Entry* e = r->front();
      if (!e) break;
      write(*e);
      r->release();
      any = true;
    }
  }
  return any;
}

void Writer::run() noexcept {
  try {
    open();
    while (!stop_.load()) {
      auto now = std::chrono::steady_clock::now();
      if (now - names_at_ > std::chrono::milliseconds(200)) {
        names_ = view_names_();
        names_at_ = now;
      }
      if (!drain_once()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // What was logged before the stop still goes out, within a bound (a stalled reader fails fast now).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (drain_once() && std::chrono::steady_clock::now() < deadline) {
    }
    close();
  } catch (const std::exception& e) {
    spdlog::error("dnstap: writer stopped ({})", e.what());
  }
}

}  // namespace phoenix::dnstap
