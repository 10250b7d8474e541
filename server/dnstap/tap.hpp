// tap -- dnstap query logging: per-worker rings, drained by one writer thread into Frame Streams.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "horizon/inventory.hpp"
#include "horizon/ip_prefix.hpp"
#include "server/query/counters.hpp"
#include "zones/snapshot.hpp"

struct fstrm_writer;

namespace phoenix::dnstap {

/// dnstap Message.Type values (server/dnstap/dnstap.proto).
enum class Kind : uint8_t {
  auth_query = 1,
  auth_response = 2,
  client_query = 5,
  client_response = 6,
  forwarder_query = 7,
  forwarder_response = 8
};

/// One producer (a worker thread), one consumer (the writer thread): a fixed array of slots and two
/// indexes. A push copies the message into a slot and never waits: when the ring is full (the writer
/// is behind, or its socket reader stalls), the message is dropped and counted.
class Ring {
 public:
  static constexpr size_t kSlots = 512;
  static constexpr size_t kMaxMessage = 2048;  ///< larger messages (big TCP replies) are dropped, counted
  struct Entry {
    Kind kind;
    bool tcp, v6;
    uint8_t view_slot;  ///< query::QueryStats::by_view slot; named through server::MetricSlots
    uint16_t port;      ///< the client's (or, for forwarder messages, the upstream's)
    uint16_t len;
    uint8_t addr[16];
    int64_t sec;
    uint32_t nsec;
    uint8_t msg[kMaxMessage];
  };

  Ring(bool queries, bool responses);
  bool queries() const { return queries_; }
  bool responses() const { return responses_; }

  /// Producer: records one message.
  void push(Kind kind, bool tcp, const horizon::IpAddr& peer, uint16_t port, uint8_t view_slot, const uint8_t* msg,
            size_t len) noexcept;
  /// Producer: a client's query and our reply to it (`reply_len` 0: none yet, e.g. sent upstream).
  /// The view is the one `snap` gives `client`; `forwarded` makes them CLIENT_* instead of AUTH_*.
  void exchange(const zones::Snapshot& snap, bool tcp, const horizon::IpAddr& client, uint16_t port,
                const uint8_t* query, size_t query_len, const uint8_t* reply, size_t reply_len, bool forwarded) noexcept;

  /// Consumer: the oldest entry, or null; release() it once done with it.
  const Entry* front() const noexcept;
  void release() noexcept;

  query::Counter dropped_full, dropped_large;  ///< producer-written

 private:
  bool queries_, responses_;
  std::unique_ptr<Entry[]> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};  ///< next slot the producer fills
  alignas(64) std::atomic<uint64_t> tail_{0};  ///< next slot the consumer reads
};

/// The peer of a kernel socket address, for push().
horizon::IpAddr peer_address(const sockaddr_storage& ss, uint16_t& port);

/// Owns the rings and the writer thread. The thread polls the rings, encodes each entry as a
/// dnstap protobuf (protobuf-c) and writes it through libfstrm, to a file or a unix socket (with
/// the bidirectional handshake). Socket operations time out after a second, so a reader that stops
/// reading costs the writer reconnect attempts and drops, never the workers anything.
class Writer {
 public:
  Writer(const horizon::DnstapSettings& settings, std::string identity, std::string version,
         std::function<std::vector<std::string>()> view_names);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// A ring for one producer thread; call before start(). Stays valid as long as the writer.
  Ring* add_ring();
  void start();
  /// Writes what the rings hold (bounded in time), closes the stream, ends the thread.
  void stop();

  std::string where() const;
  uint64_t sent() const { return sent_.load(); }
  uint64_t dropped_full() const;
  uint64_t dropped_large() const;
  uint64_t dropped_unwritten() const { return unwritten_.load(); }  ///< no stream open, or a write failed

 private:
  void run() noexcept;
  bool drain_once();
  void write(const Ring::Entry& e);
  bool open();
  void close();

  horizon::DnstapSettings settings_;
  std::string identity_, version_;
  std::function<std::vector<std::string>()> view_names_;
  std::vector<std::string> names_;  ///< writer thread: the view labels, refreshed now and then
  std::chrono::steady_clock::time_point names_at_{};
  std::vector<std::unique_ptr<Ring>> rings_;
  std::vector<uint8_t> buf_;
  fstrm_writer* w_ = nullptr;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::seconds backoff_{1};
  bool warned_ = false;
  std::atomic<bool> stop_{false};
  query::Counter sent_, unwritten_;
  std::thread thread_;
};

}  // namespace phoenix::dnstap
