// phoenix-loadgen -- a DNS load generator fast enough to saturate one server core from one generator core.
//
// dnsperf tops out below what NSD answers on one core, so it cannot show a faster server; this one sends
// and receives with sendmmsg/recvmmsg in batches, keeps a bounded window of queries in flight per socket
// (closed loop, so a saturated server is measured rather than flooded), or paces at a fixed rate (open
// loop, for latency percentiles). TCP: pipelined queries on persistent connections, or one per connection.
//
// Every run is bounded by --duration; nothing loops forever. Output is one "key=value ..." line, and with
// --interval S one "interval t=... key=value ..." line per S seconds on stderr (to see a stall in time).
// SIGUSR1 ends the run early, with the same report (for runs that last until something happens elsewhere).
// SIGUSR2 marks a phase: the first starts it, the second ends it, and a "phase ..." line on stderr gives
// the latency of the replies received in between (say, while a server reloads).
//
// --sources spreads the queries over many IPv4 source addresses (every 127.x.y.z is local on Linux), one
// per query in turn, so that a server's per-client limits (RRL's per-/24 buckets) see many clients;
// --cookie sends DNS cookies as a client that remembers each server cookie it gets (RFC 7873 §5.1).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

#include "query_file.hpp"
#include "server/wire/format.hpp"

namespace {

using phoenix::bench::WireQuery;

volatile std::sig_atomic_t g_end_now = 0;
void on_sigusr1(int) { g_end_now = 1; }
volatile std::sig_atomic_t g_phase_marks = 0;
void on_sigusr2(int) { g_phase_marks = g_phase_marks + 1; }

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

struct Options {
  std::string server = "127.0.0.1";
  uint16_t port = 5300;
  std::string queries;
  std::string mode = "udp";  // udp, tcp (pipelined, persistent), tcp1 (one query per connection)
  double duration = 5, warmup = 0.5;
  int cpu = -1;
  uint64_t rate = 0;          // queries per second; 0 = as fast as the window allows
  unsigned sockets = 4;       // UDP source ports (SO_REUSEPORT spreads by 4-tuple) or TCP connections
  unsigned window = 32;       // in flight per socket/connection (4 x 32 saturates echo best here)
  unsigned batch = 32;
  double timeout_ms = 20;     // a UDP query unanswered this long is counted lost and its slot reused
  bool edns = true;
  bool rd = false;            // --rd: ask for recursion (resolvers and forwarders answering from their cache)
  double interval = 0;        // > 0: a line per interval on stderr, warm-up included
  std::vector<in_addr> sources;  // --sources: the queries' source addresses in turn (IPv4 server only)
  bool cookie = false;        // --cookie: a client cookie per source, then the server cookie it got back
};

/// One source address and its DNS cookie state. Without --sources there is one, the sockets' own
/// address (127.0.0.1 to a loopback server): a server cookie covers the client's address, not its port.
struct Source {
  in_addr addr{};
  uint8_t client[phoenix::bench::kClientCookie] = {};
  uint8_t server[32] = {};  ///< RFC 7873 §4.2: 8 to 32 octets
  uint8_t server_len = 0;
};

/// "127.1-20.0-255.1" -> every address whose octets lie in the ranges, the last octet varying fastest
/// (that one spans 5,120 /24s, one address each; "127.9.9.1-254" is 254 addresses in one /24). Several
/// specs may be joined by commas. Throws on a malformed spec.
std::vector<in_addr> parse_sources(const std::string& spec) {
  std::vector<in_addr> out;
  size_t from = 0;
  while (from <= spec.size()) {
    size_t comma = spec.find(',', from);
    std::string one = spec.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    from = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    unsigned lo[4], hi[4];
    size_t pos = 0;
    for (int k = 0; k < 4; ++k) {
      auto number = [&]() {
        size_t used = 0;
        unsigned long v = std::stoul(one.substr(pos), &used);
        if (used == 0 || v > 255 || !std::isdigit(static_cast<unsigned char>(one[pos]))) throw std::invalid_argument("");
        pos += used;
        return static_cast<unsigned>(v);
      };
      try {
        lo[k] = hi[k] = number();
        if (pos < one.size() && one[pos] == '-') ++pos, hi[k] = number();
      } catch (const std::exception&) {
        throw std::runtime_error("bad --sources \"" + one + "\" (octets or ranges: 127.1-20.0-255.1)");
      }
      if (hi[k] < lo[k] || (k < 3 ? pos >= one.size() || one[pos++] != '.' : pos != one.size()))
        throw std::runtime_error("bad --sources \"" + one + "\" (octets or ranges: 127.1-20.0-255.1)");
    }
    uint64_t n = uint64_t{hi[0] - lo[0] + 1} * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1) * (hi[3] - lo[3] + 1);
    if (out.size() + n > (1u << 20)) throw std::runtime_error("--sources: more than 2^20 addresses");
    for (unsigned a = lo[0]; a <= hi[0]; ++a)
      for (unsigned b = lo[1]; b <= hi[1]; ++b)
        for (unsigned c = lo[2]; c <= hi[2]; ++c)
          for (unsigned d = lo[3]; d <= hi[3]; ++d) out.push_back(in_addr{htonl((a << 24) | (b << 16) | (c << 8) | d)});
  }
  return out;
}

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
void put16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

/// Fills in the cookie of a query built with load_queries(..., cookie = true), whose last bytes are the
/// COOKIE option (code, length, 8-octet client cookie) and the only option of the OPT record: the
/// client cookie, and the server cookie once one came back (option and OPT lengths grown to match).
size_t put_cookie(uint8_t* m, size_t len, const Source& s) {
  constexpr size_t kc = phoenix::bench::kClientCookie;
  std::memcpy(m + len - kc, s.client, kc);
  if (s.server_len == 0) return len;
  std::memcpy(m + len, s.server, s.server_len);
  put16(m + len - kc - 2, kc + s.server_len);                      // the option's length
  put16(m + len - kc - 6, kc + 4 + s.server_len);                  // OPT RDLENGTH: this option alone
  return len + s.server_len;
}

/// Remembers the server cookie of a reply (the COOKIE option of its OPT record, RFC 7873 §5.3); true
/// if it found one.
bool learn_cookie(const uint8_t* p, size_t len, Source& s) {
  namespace wire = phoenix::wire;
  size_t off = 12;
  if (len < 12 || be16(p + 4) != 1 || !wire::skip_name(p, len, off) || off + 4 > len) return false;
  wire::RecordReader rr(p, len, off + 4);
  wire::Record r;
  for (unsigned i = 0, n = be16(p + 6) + be16(p + 8) + be16(p + 10); i < n && rr.next(r); ++i) {
    if (r.type != 41) continue;  // OPT
    wire::OptionReader opts(p + r.rdata, r.rdlen);
    wire::EdnsOption e;
    while (opts.next(e)) {
      if (e.code != wire::edns_option::COOKIE || e.len < 16 || e.len > 40) continue;
      if (std::memcmp(e.data, s.client, phoenix::bench::kClientCookie) != 0) return false;  // not our cookie
      s.server_len = static_cast<uint8_t>(e.len - phoenix::bench::kClientCookie);
      std::memcpy(s.server, e.data + phoenix::bench::kClientCookie, s.server_len);
      return true;
    }
  }
  return false;
}

/// Latency histogram: 1 us buckets up to 100 ms; percentiles never allocate during the run.
struct Histogram {
  std::vector<uint64_t> buckets = std::vector<uint64_t>(100001, 0);
  uint64_t count = 0;
  void add(uint64_t ns) {
    uint64_t us = ns / 1000;
    ++buckets[us > 100000 ? 100000 : us];
    ++count;
  }
  void clear() {
    std::fill(buckets.begin(), buckets.end(), 0);
    count = 0;
  }
  double max() const {
    for (size_t i = buckets.size(); i-- > 0;)
      if (buckets[i]) return static_cast<double>(i) + 0.5;
    return 0;
  }
  double percentile(double p) const {
    if (count == 0) return 0;
    uint64_t want = static_cast<uint64_t>(p * static_cast<double>(count));
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen > want) return static_cast<double>(i) + 0.5;
    }
    return 100000;
  }
};

struct Counters {
  uint64_t sent = 0, received = 0, lost = 0, noerror = 0, nxdomain = 0, other_rcode = 0, truncated = 0,
           errors = 0, cookies = 0;  ///< sources that have a server cookie (--cookie)
};

struct Run {
  const Options& o;
  const std::vector<WireQuery>& qs;
  sockaddr_storage dst{};
  socklen_t dst_len = 0;
  size_t cursor = 0;
  std::vector<Source> srcs;  ///< at least one
  size_t src_cursor = 0;
  uint64_t start = 0, measure_from = 0, end = 0;
  Counters c, at_warmup;
  Histogram hist;
  bool measuring = false;
  // --interval: the counters and latencies of the current interval only.
  Histogram interval_hist;
  Counters at_interval;
  uint64_t interval_from = 0, next_interval = 0;
  // SIGUSR2: the replies between the first and the second mark.
  Histogram phase_hist;
  int phase_marks = 0;
  Counters at_phase_start, at_phase_end;
  uint64_t phase_from = 0, phase_to = 0;

  Run(const Options& opts, const std::vector<WireQuery>& queries) : o(opts), qs(queries) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&dst);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&dst);
    if (inet_pton(AF_INET, o.server.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(o.port);
      dst_len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, o.server.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(o.port);
      dst_len = sizeof(sockaddr_in6);
    } else {
      throw std::runtime_error("bad server address " + o.server);
    }
    if (!o.sources.empty() && dst.ss_family != AF_INET) throw std::runtime_error("--sources needs an IPv4 server");
    srcs.resize(o.sources.empty() ? 1 : o.sources.size());
    uint64_t h = static_cast<uint64_t>(now_ns()) | 1;
    for (size_t i = 0; i < srcs.size(); ++i) {
      if (!o.sources.empty()) srcs[i].addr = o.sources[i];
      // A client cookie per source (RFC 7873 §4.1 wants one per client and server address).
      for (auto& b : srcs[i].client) h ^= h << 13, h ^= h >> 7, h ^= h << 17, b = static_cast<uint8_t>(h);
    }
  }

  /// The next source in turn.
  uint32_t next_source() {
    uint32_t i = static_cast<uint32_t>(src_cursor);
    if (++src_cursor == srcs.size()) src_cursor = 0;
    return i;
  }

  const WireQuery& next_query() {
    const WireQuery& q = qs[cursor];
    if (++cursor == qs.size()) cursor = 0;
    return q;
  }

  /// How many more queries the rate allows right now (unbounded when no rate is set).
  uint64_t rate_allowance(uint64_t now) const {
    if (o.rate == 0) return UINT64_MAX;
    uint64_t due = static_cast<uint64_t>(static_cast<double>(now - start) * 1e-9 * static_cast<double>(o.rate));
    return due > c.sent ? due - c.sent : 0;
  }

  void on_reply(const uint8_t* p, size_t len, uint64_t sent_at, uint64_t now) {
    if (len < 12) {
      ++c.errors;
      return;
    }
    ++c.received;
    uint8_t rc = p[3] & 0x0f;
    if (rc == 0) ++c.noerror;
    else if (rc == 3) ++c.nxdomain;
    else ++c.other_rcode;
    if (p[2] & 0x02) ++c.truncated;
    if (measuring) hist.add(now - sent_at);
    if (o.interval > 0) interval_hist.add(now - sent_at);
    if (phase_marks == 1 && finish_ns == 0) phase_hist.add(now - sent_at);
  }

  void tick(uint64_t now) {
    if (!measuring && now >= measure_from) {
      measuring = true;
      at_warmup = c;
    }
    if (o.interval > 0 && now >= next_interval) report_interval(now);
    if (g_end_now && now < end) end = std::max(now, measure_from);
    // Marks after the run's end (during the drain) are ignored: the phase must lie inside the run.
    for (int marks = g_phase_marks; finish_ns == 0 && phase_marks < marks && phase_marks < 2;) {
      if (++phase_marks == 1) {
        at_phase_start = c;
        phase_from = now;
      } else {
        at_phase_end = c;
        phase_to = now;
      }
    }
  }

  /// Starts the clock of --interval; says when the run started in wall-clock time, so that events
  /// elsewhere (a server's log line, a signal) can be placed on the intervals' time line.
  void start_intervals() {
    if (o.interval <= 0) return;
    timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    std::fprintf(stderr, "start unix=%lld.%09ld warmup=%.3f\n", static_cast<long long>(wall.tv_sec), wall.tv_nsec,
                 o.warmup);
    interval_from = start;
    next_interval = start + static_cast<uint64_t>(o.interval * 1e9);
  }

  /// One line for the interval that ends now. Lost queries are counted when they expire, that is
  /// --timeout-ms after they were sent.
  void report_interval(uint64_t now) {
    auto d = [&](uint64_t Counters::*m) { return static_cast<unsigned long long>(c.*m - at_interval.*m); };
    std::fprintf(stderr, "interval t=%.3f-%.3f sent=%llu received=%llu lost=%llu p50_us=%.1f p99_us=%.1f "
                 "p999_us=%.1f max_us=%.1f\n", static_cast<double>(interval_from - start) * 1e-9,
                 static_cast<double>(now - start) * 1e-9, d(&Counters::sent), d(&Counters::received),
                 d(&Counters::lost), interval_hist.percentile(0.5), interval_hist.percentile(0.99),
                 interval_hist.percentile(0.999), interval_hist.max());
    interval_hist.clear();
    at_interval = c;
    interval_from = now;
    next_interval = now + static_cast<uint64_t>(o.interval * 1e9);
  }

  int open_socket(int type) const {
    int fd = ::socket(dst.ss_family, type | SOCK_NONBLOCK, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
    int big = 8 << 20;
    // Force large buffers (root may exceed rmem_max) so the generator's side never drops replies.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    return fd;
  }

  // ---- UDP: per socket, IDs are handed out in order, so the oldest query in flight is at `tail`.
  struct UdpSock {
    int fd = -1;
    uint16_t next_id = 0, tail = 0;
    unsigned inflight = 0;
    std::vector<uint64_t> sent_at = std::vector<uint64_t>(65536, 0);  // 0 = free
    std::vector<uint32_t> source;  ///< per ID, the source it was sent from (--cookie)
  };

  void run_udp() {
    const bool per_packet = !o.sources.empty();
    std::vector<UdpSock> socks(o.sockets);
    for (auto& s : socks) {
      s.fd = open_socket(SOCK_DGRAM);
      if (o.cookie) s.source.assign(65536, 0);
      // --sources: unconnected and bound to the wildcard, so that each datagram can name its own
      // source address (IP_PKTINFO, ip(7)) and the replies to every one of them arrive here.
      if (per_packet) continue;
      if (connect(s.fd, reinterpret_cast<sockaddr*>(&dst), dst_len) != 0)
        throw std::runtime_error(std::string("connect: ") + strerror(errno));
    }
    const unsigned B = o.batch;
    std::vector<std::vector<uint8_t>> tx(B, std::vector<uint8_t>(512)), rx(B, std::vector<uint8_t>(4096));
    std::vector<iovec> tiov(B), riov(B);
    std::vector<mmsghdr> tmsg(B), rmsg(B);
    constexpr size_t kCtl = CMSG_SPACE(sizeof(in_pktinfo));
    std::vector<uint8_t> ctl(per_packet ? B * kCtl : 0);
    std::vector<uint32_t> batch_source(B, 0);
    for (unsigned i = 0; i < B; ++i) {
      riov[i] = {rx[i].data(), rx[i].size()};
      rmsg[i].msg_hdr.msg_iov = &riov[i];
      rmsg[i].msg_hdr.msg_iovlen = 1;
      tmsg[i].msg_hdr.msg_iov = &tiov[i];
      tmsg[i].msg_hdr.msg_iovlen = 1;
      if (per_packet) {
        tmsg[i].msg_hdr.msg_name = &dst;
        tmsg[i].msg_hdr.msg_namelen = dst_len;
        tmsg[i].msg_hdr.msg_control = ctl.data() + i * kCtl;
        tmsg[i].msg_hdr.msg_controllen = kCtl;
        cmsghdr* cm = CMSG_FIRSTHDR(&tmsg[i].msg_hdr);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      }
    }
    const uint64_t timeout = static_cast<uint64_t>(o.timeout_ms * 1e6);
    uint64_t now = now_ns();
    bool sending = true;
    uint64_t stop_at = UINT64_MAX;
    for (;;) {
      now = now_ns();
      tick(now);
      if (sending && now >= end) {
        sending = false;
        finish(now);
        stop_at = now + 100000000;  // after the window closes, drain replies for 100 ms
      }
      if (now >= stop_at) break;
      bool idle = true;
      for (auto& s : socks) {
        if (sending) {
          uint64_t allowed = std::min<uint64_t>({B, o.window - s.inflight, rate_allowance(now)});
          unsigned n = static_cast<unsigned>(allowed);
          for (unsigned i = 0; i < n; ++i) {
            const WireQuery& q = next_query();
            std::memcpy(tx[i].data(), q.bytes.data(), q.bytes.size());
            uint16_t id = static_cast<uint16_t>(s.next_id + i);
            tx[i][0] = static_cast<uint8_t>(id >> 8);
            tx[i][1] = static_cast<uint8_t>(id);
            size_t qlen = q.bytes.size();
            const uint32_t src = next_source();
            batch_source[i] = src;
            if (per_packet) {
              in_pktinfo pi{};
              pi.ipi_spec_dst = srcs[src].addr;  // ifindex 0: the route to the server from this address
              std::memcpy(CMSG_DATA(CMSG_FIRSTHDR(&tmsg[i].msg_hdr)), &pi, sizeof pi);
            }
            if (o.cookie) qlen = put_cookie(tx[i].data(), qlen, srcs[src]);
            tiov[i] = {tx[i].data(), qlen};
          }
          if (n > 0) {
            int k = sendmmsg(s.fd, tmsg.data(), n, 0);
            if (k < 0) k = 0;
            // Only what was really sent takes an ID; the queries not sent are simply skipped.
            for (int i = 0; i < k; ++i) {
              uint16_t id = s.next_id++;
              if (s.sent_at[id] != 0) ++c.lost, --s.inflight;  // wrapped onto a query never answered
              s.sent_at[id] = now;
              if (o.cookie) s.source[id] = batch_source[i];
              ++s.inflight;
            }
            // The sources of queries not sent come round again later: a skipped turn changes nothing.
            c.sent += static_cast<uint64_t>(k);
            if (k > 0) idle = false;
          }
        }
        int r = recvmmsg(s.fd, rmsg.data(), B, MSG_DONTWAIT, nullptr);
        if (r > 0) {
          idle = false;
          uint64_t t = now_ns();
          for (int i = 0; i < r; ++i) {
            const uint8_t* p = rx[i].data();
            size_t len = rmsg[i].msg_len;
            if (len < 2) continue;
            uint16_t id = static_cast<uint16_t>((p[0] << 8) | p[1]);
            uint64_t at = s.sent_at[id];
            if (at == 0) continue;  // late reply to a query already counted lost
            s.sent_at[id] = 0;
            --s.inflight;
            if (o.cookie && srcs[s.source[id]].server_len == 0 && learn_cookie(p, len, srcs[s.source[id]]))
              ++c.cookies;
            on_reply(p, len, at, t);
          }
        }
        // Expire the oldest queries in flight; the tail only ever moves forward.
        while (s.tail != s.next_id) {
          uint64_t at = s.sent_at[s.tail];
          if (at != 0) {
            if (now - at < timeout) break;
            s.sent_at[s.tail] = 0;
            --s.inflight;
            ++c.lost;
          }
          ++s.tail;
        }
      }
      // With a rate set and nothing to do, yield the core briefly instead of spinning on syscalls.
      if (idle && o.rate != 0) {
        timespec ts{0, 20000};
        nanosleep(&ts, nullptr);
      }
    }
    for (auto& s : socks) close(s.fd);
  }

  // ---- TCP: poll() over a handful of connections; each keeps `window` queries pipelined (tcp) or
  // sends one query, reads the reply and closes (tcp1).
  struct TcpConn {
    int fd = -1;
    bool connected = false;
    std::vector<uint8_t> wbuf, rbuf;
    size_t woff = 0, rlen = 0;
    unsigned inflight = 0;
    uint16_t next_id = 0;
    std::vector<uint64_t> sent_at = std::vector<uint64_t>(65536, 0);
  };

  void tcp_open(TcpConn& t) {
    t.fd = open_socket(SOCK_STREAM);
    int one = 1;
    setsockopt(t.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!o.sources.empty()) {
      // Each new connection from the next source address (a per-client connection cap sees many).
      sockaddr_in from{};
      from.sin_family = AF_INET;
      from.sin_addr = srcs[next_source()].addr;
      if (bind(t.fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) ++c.errors;
    }
    if (o.mode == "tcp1") {
      // Reset on close: one connection per query would otherwise fill the port range with TIME_WAIT.
      linger l{1, 0};
      setsockopt(t.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    int r = connect(t.fd, reinterpret_cast<sockaddr*>(&dst), dst_len);
    if (r != 0 && errno != EINPROGRESS) ++c.errors;
    t.connected = false;
    t.wbuf.clear();
    t.woff = t.rlen = 0;
    t.inflight = 0;
    std::fill(t.sent_at.begin(), t.sent_at.end(), 0);
  }

  void tcp_close(TcpConn& t, bool lost_inflight) {
    if (lost_inflight) c.lost += t.inflight;
    close(t.fd);
    t.fd = -1;
  }

  void tcp_fill(TcpConn& t, uint64_t now, bool sending) {
    unsigned depth = o.mode == "tcp1" ? 1 : o.window;
    if (o.mode == "tcp1" && t.next_id != 0) return;  // this connection already asked its one query
    while (sending && t.inflight < depth && rate_allowance(now) > 0) {
      const WireQuery& q = next_query();
      uint16_t id = t.next_id++;
      size_t at = t.wbuf.size();
      t.wbuf.push_back(static_cast<uint8_t>(q.bytes.size() >> 8));
      t.wbuf.push_back(static_cast<uint8_t>(q.bytes.size()));
      t.wbuf.insert(t.wbuf.end(), q.bytes.begin(), q.bytes.end());
      t.wbuf[at + 2] = static_cast<uint8_t>(id >> 8);
      t.wbuf[at + 3] = static_cast<uint8_t>(id);
      t.sent_at[id] = now;
      ++t.inflight;
      ++c.sent;
    }
  }

  void run_tcp() {
    std::vector<TcpConn> conns(o.sockets);
    for (auto& t : conns) {
      t.rbuf.resize(1 << 17);
      tcp_open(t);
    }
    std::vector<pollfd> pfd(conns.size());
    bool sending = true;
    uint64_t stop_at = UINT64_MAX;
    for (;;) {
      uint64_t now = now_ns();
      tick(now);
      if (sending && now >= end) {
        sending = false;
        finish(now);
        stop_at = now + 200000000;
      }
      if (now >= stop_at) break;
      bool any_inflight = false;
      for (size_t i = 0; i < conns.size(); ++i) {
        auto& t = conns[i];
        if (t.fd < 0 && sending) {
          tcp_open(t);
          t.next_id = 0;
        }
        if (t.fd >= 0) tcp_fill(t, now, sending);
        any_inflight = any_inflight || t.inflight > 0;
        pfd[i] = {t.fd, static_cast<short>(POLLIN | (t.woff < t.wbuf.size() || !t.connected ? POLLOUT : 0)), 0};
      }
      if (!sending && !any_inflight) break;
      int pr = poll(pfd.data(), pfd.size(), o.rate ? 1 : 10);
      if (pr <= 0) continue;
      uint64_t t_now = now_ns();
      for (size_t i = 0; i < conns.size(); ++i) {
        auto& t = conns[i];
        if (t.fd < 0) continue;
        if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
          ++c.errors;
          tcp_close(t, true);
          continue;
        }
        if (pfd[i].revents & POLLOUT) {
          t.connected = true;
          if (t.woff < t.wbuf.size()) {
            ssize_t w = write(t.fd, t.wbuf.data() + t.woff, t.wbuf.size() - t.woff);
            if (w > 0) t.woff += static_cast<size_t>(w);
            if (t.woff == t.wbuf.size()) t.wbuf.clear(), t.woff = 0;
          }
        }
        if (pfd[i].revents & POLLIN) {
          ssize_t r = read(t.fd, t.rbuf.data() + t.rlen, t.rbuf.size() - t.rlen);
          if (r <= 0) {
            if (r == 0 || errno != EAGAIN) {
              ++c.errors;
              tcp_close(t, true);
            }
            continue;
          }
          t.rlen += static_cast<size_t>(r);
          size_t off = 0;
          while (t.rlen - off >= 2) {
            size_t len = static_cast<size_t>((t.rbuf[off] << 8) | t.rbuf[off + 1]);
            if (t.rlen - off < 2 + len) break;
            const uint8_t* p = t.rbuf.data() + off + 2;
            if (len >= 2) {
              uint16_t id = static_cast<uint16_t>((p[0] << 8) | p[1]);
              if (t.sent_at[id] != 0) {
                on_reply(p, len, t.sent_at[id], t_now);
                t.sent_at[id] = 0;
                --t.inflight;
              }
            }
            off += 2 + len;
          }
          std::memmove(t.rbuf.data(), t.rbuf.data() + off, t.rlen - off);
          t.rlen -= off;
          if (o.mode == "tcp1" && t.inflight == 0 && t.next_id != 0) tcp_close(t, false);
        }
      }
    }
    for (auto& t : conns)
      if (t.fd >= 0) tcp_close(t, true);
  }

  uint64_t finish_ns = 0;
  Counters at_end;
  void finish(uint64_t now) {
    finish_ns = now;
    at_end = c;
  }

  void report() const {
    double secs = static_cast<double>(finish_ns - measure_from) * 1e-9;
    auto d = [&](uint64_t Counters::*m) { return static_cast<unsigned long long>(at_end.*m - at_warmup.*m); };
    double qps = static_cast<double>(d(&Counters::received)) / secs;
    std::printf(
        "mode=%s secs=%.2f sent=%llu received=%llu qps=%.0f lost=%llu noerror=%llu nxdomain=%llu other=%llu tc=%llu "
        "errors=%llu p50_us=%.1f p99_us=%.1f p999_us=%.1f sources=%zu cookies=%llu all_received=%llu\n",
        o.mode.c_str(), secs, d(&Counters::sent), d(&Counters::received), qps, d(&Counters::lost),
        d(&Counters::noerror), d(&Counters::nxdomain), d(&Counters::other_rcode), d(&Counters::truncated),
        d(&Counters::errors), hist.percentile(0.5), hist.percentile(0.99), hist.percentile(0.999), srcs.size(),
        static_cast<unsigned long long>(at_end.cookies), static_cast<unsigned long long>(c.received));
    if (phase_marks == 0) return;
    // A phase still open when the run ended closes with it.
    const Counters& e = phase_marks >= 2 ? at_phase_end : at_end;
    uint64_t to = phase_marks >= 2 ? phase_to : finish_ns;
    std::fprintf(stderr, "phase t=%.3f-%.3f sent=%llu received=%llu p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
                 static_cast<double>(phase_from - start) * 1e-9, static_cast<double>(to - start) * 1e-9,
                 static_cast<unsigned long long>(e.sent - at_phase_start.sent),
                 static_cast<unsigned long long>(e.received - at_phase_start.received), phase_hist.percentile(0.5),
                 phase_hist.percentile(0.99), phase_hist.percentile(0.999), phase_hist.max());
  }
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: phoenix-loadgen --queries FILE [--server IP] [--port N] [--mode udp|tcp|tcp1]\n"
               "       [--duration S] [--warmup S] [--cpu N] [--rate QPS] [--sockets N] [--window N]\n"
               "       [--batch N] [--timeout-ms MS] [--no-edns] [--rd] [--interval S]\n"
               "       [--sources 127.1-20.0-255.1[,...]] [--cookie]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--server") o.server = val();
    else if (a == "--port") o.port = static_cast<uint16_t>(std::stoul(val()));
    else if (a == "--queries") o.queries = val();
    else if (a == "--mode") o.mode = val();
    else if (a == "--duration") o.duration = std::stod(val());
    else if (a == "--warmup") o.warmup = std::stod(val());
    else if (a == "--cpu") o.cpu = std::stoi(val());
    else if (a == "--rate") o.rate = std::stoull(val());
    else if (a == "--sockets") o.sockets = static_cast<unsigned>(std::stoul(val()));
    else if (a == "--window") o.window = static_cast<unsigned>(std::stoul(val()));
    else if (a == "--batch") o.batch = static_cast<unsigned>(std::stoul(val()));
    else if (a == "--timeout-ms") o.timeout_ms = std::stod(val());
    else if (a == "--no-edns") o.edns = false;
    else if (a == "--rd") o.rd = true;
    else if (a == "--interval") o.interval = std::stod(val());
    else if (a == "--sources") {
      try {
        o.sources = parse_sources(val());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "phoenix-loadgen: %s\n", e.what());
        return 2;
      }
    } else if (a == "--cookie") o.cookie = true;
    else usage();
  }
  if (o.queries.empty() || o.sockets == 0 || o.window == 0 || o.batch == 0 || o.batch > 1024 ||
      o.duration <= 0 || o.duration > 600 || (o.mode != "udp" && o.mode != "tcp" && o.mode != "tcp1") ||
      (o.cookie && (o.mode != "udp" || !o.edns)))
    usage();
  // A server closing a connection we still write to must cost an error count, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGUSR1, on_sigusr1);
  std::signal(SIGUSR2, on_sigusr2);
  try {
    if (o.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(o.cpu, &set);
      if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("sched_setaffinity");
    }
    auto qs = phoenix::bench::load_queries(o.queries, o.edns, o.rd, o.cookie);
    Run run(o, qs);
    run.start = now_ns();
    run.measure_from = run.start + static_cast<uint64_t>(o.warmup * 1e9);
    run.end = run.measure_from + static_cast<uint64_t>(o.duration * 1e9);
    run.start_intervals();
    if (o.mode == "udp") run.run_udp();
    else run.run_tcp();
    run.report();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phoenix-loadgen: %s\n", e.what());
    return 1;
  }
  return 0;
}
