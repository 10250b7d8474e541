#include "server.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <memory>
#include <thread>
#include <unistd.h>

#include "server/net/udp_worker.hpp"
#include "server/reload.hpp"
#include "server/snapshot_holder.hpp"

namespace phoenix::server {

namespace asio = boost::asio;

namespace {

void log_diagnostics(const horizon::Diagnostics& diag) {
  for (auto& d : diag.items()) {
    if (d.severity == horizon::Severity::error) spdlog::error("{}", d.format().substr(7));
    else spdlog::warn("{}", d.format().substr(9));
  }
}

/// One UDP worker thread: its own io_context and one socket per listen address.
struct WorkerThread {
  asio::io_context io{1};
  std::vector<std::unique_ptr<UdpWorker>> workers;
  std::thread thread;
};

class Server {
 public:
  explicit Server(const ServerOptions& o) : opts_(o), serials_(usable_state_dir(o.state_dir)) {}

  int run() {
    if (!serials_.load_error().empty()) spdlog::warn("state: cannot read serials ({}); starting afresh", serials_.load_error());
    auto first = load_snapshot(opts_.inventory, serials_);
    log_diagnostics(first.diagnostics);
    if (!first.snapshot) {
      spdlog::error("inventory {}: {} errors; not starting", opts_.inventory.string(), first.diagnostics.error_count());
      return 1;
    }
    save_serials();
    spdlog::info("gateway {} ({})", first.plan.gateway.ip ? first.plan.gateway.ip->to_string() : "none",
                 first.plan.gateway.reason);
    holder_.publish(first.snapshot);
    std::vector<horizon::Endpoint> listen = opts_.listen.empty() ? first.plan.listen : opts_.listen;

    unsigned n = opts_.threads ? opts_.threads : std::max(1u, std::thread::hardware_concurrency());
    tcp_ = std::make_unique<TcpListener>(tcp_io_, holder_, opts_.tcp);
    try {
      for (unsigned t = 0; t < n; ++t) {
        auto w = std::make_unique<WorkerThread>();
        for (auto& ep : listen) w->workers.push_back(std::make_unique<UdpWorker>(w->io, ep, holder_));
        threads_.push_back(std::move(w));
      }
      for (auto& ep : listen) tcp_->listen(ep);
    } catch (const std::exception& e) {
      spdlog::error("cannot listen ({}); not starting", e.what());
      return 1;
    }

    for (auto& w : threads_) {
      for (auto& u : w->workers) u->start();
      w->thread = std::thread([io = &w->io] { run_guarded(*io, "udp"); });
    }
    tcp_->start();
    tcp_thread_ = std::thread([this] { run_guarded(tcp_io_, "tcp"); });

    wait_signal();
    schedule_retire();
    std::string where;
    for (auto& ep : listen) where += (where.empty() ? "" : ", ") + ep.to_string();
    spdlog::info("serving {} on {} (udp, tcp; {} udp threads)", holder_.current()->summary(), where, n);
    control_.run();

    for (auto& w : threads_) w->thread.join();
    tcp_thread_.join();
    spdlog::info("stopped");
    return 0;
  }

 private:
  static std::optional<std::filesystem::path> usable_state_dir(const std::optional<std::filesystem::path>& dir) {
    if (!dir) return std::nullopt;
    std::error_code ec;
    std::filesystem::create_directories(*dir, ec);
    if (ec || access(dir->c_str(), W_OK) != 0) {
      spdlog::warn("state: directory {} is not writable; serials are kept in memory only", dir->string());
      return std::nullopt;
    }
    return dir;
  }

  /// Every task root catches: a stray exception is logged and the loop goes on serving.
  static void run_guarded(asio::io_context& io, const char* what) {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("{}: worker error ({}); continuing", what, e.what());
      }
    }
  }

  void save_serials() {
    if (auto err = serials_.save(); !err.empty()) spdlog::warn("state: cannot save serials ({})", err);
  }

  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signal();
      } else {
        spdlog::info("received {}; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        stop();
      }
    });
  }

  void reload() {
    auto start = std::chrono::steady_clock::now();
    auto old = holder_.current();
    auto outcome = load_snapshot(opts_.inventory, serials_);
    log_diagnostics(outcome.diagnostics);
    if (!outcome.snapshot) {
      // Keep serving the last good data; the errors above say why.
      spdlog::error("reload failed ({} errors); still serving generation {}", outcome.diagnostics.error_count(),
                    holder_.generation());
      return;
    }
    save_serials();
    uint64_t gen = holder_.publish(outcome.snapshot);
    for (auto& w : threads_)
      for (auto& u : w->workers) asio::post(w->io, [u = u.get()] { u->refresh(); });
    asio::post(tcp_io_, [t = tcp_.get()] { t->refresh(); });
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    spdlog::info("reload: generation {} -> {}, {} ({} ms)", old ? old->generation : 0, gen,
                 holder_.current()->summary(), ms);
  }

  void schedule_retire() {
    retire_timer_.expires_after(std::chrono::milliseconds(500));
    retire_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      holder_.retire_unused();
      schedule_retire();
    });
  }

  void stop() {
    retire_timer_.cancel();
    for (auto& w : threads_)
      for (auto& u : w->workers) asio::post(w->io, [u = u.get()] { u->stop(); });
    asio::post(tcp_io_, [t = tcp_.get()] { t->stop(); });
    // In-flight TCP replies get a bounded grace period, then everything is stopped.
    stop_deadline_ = std::chrono::steady_clock::now() + opts_.stop_grace;
    poll_stopped();
  }

  void poll_stopped() {
    bool idle = true;
    for (auto& w : threads_) idle = idle && w->io.stopped();
    idle = idle && tcp_io_.stopped();
    if (idle || std::chrono::steady_clock::now() >= stop_deadline_) {
      for (auto& w : threads_) w->io.stop();
      tcp_io_.stop();
      control_.stop();
      return;
    }
    retire_timer_.expires_after(std::chrono::milliseconds(20));
    retire_timer_.async_wait([this](const boost::system::error_code&) { poll_stopped(); });
  }

  ServerOptions opts_;
  zones::SerialStore serials_;
  SnapshotHolder holder_;
  asio::io_context control_{1};
  // Registered before the first load so that an early SIGHUP or SIGTERM is queued, not fatal.
  asio::signal_set signals_{control_, SIGHUP, SIGTERM, SIGINT};
  asio::io_context tcp_io_{1};
  asio::steady_timer retire_timer_{control_};
  std::vector<std::unique_ptr<WorkerThread>> threads_;
  std::unique_ptr<TcpListener> tcp_;
  std::thread tcp_thread_;
  std::chrono::steady_clock::time_point stop_deadline_;
};

}  // namespace

int run_server(const ServerOptions& options) {
  Server s(options);
  return s.run();
}

}  // namespace phoenix::server
