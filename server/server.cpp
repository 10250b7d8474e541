#include "server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server/dnstap/tap.hpp"
#include "server/cookie_secret.hpp"
#include "server/forward/forwarder.hpp"
#include "server/metrics.hpp"
#include "server/last_good.hpp"
#include "server/net/notify_sender.hpp"
#include "server/net/udp_worker.hpp"
#include "server/notify.hpp"
#include "server/privileges.hpp"
#include "server/reload.hpp"
#include "server/resolv_conf.hpp"
#include "server/snapshot_holder.hpp"
#include "zones/huge_pages.hpp"

namespace phoenix::server {

namespace asio = boost::asio;

namespace {

void log_diagnostics(const horizon::Diagnostics& diag) {
  for (auto& d : diag.items()) {
    if (d.severity == horizon::Severity::error) spdlog::error("{}", d.format().substr(7));
    else spdlog::warn("{}", d.format().substr(9));
  }
}

std::string describe_listen(const std::vector<horizon::Endpoint>& listen) {
  std::string where;
  for (auto& ep : listen) where += (where.empty() ? "" : ", ") + ep.to_string();
  return where;
}

/// Threads: N UDP workers per listen address (one socket each), one TCP thread, one reload thread,
/// and the control thread (the caller of run()), which owns signals, publication and stop. The reload
/// thread builds snapshots and frees the retired ones, at the lowest priority. Only the control thread
/// touches the reload flags and publishes, so they need no lock.
class Server {
 public:
  explicit Server(const ServerOptions& o) : opts_(o), serials_(o.state_dir) {}

  int run() {
    if (!serials_.load_error().empty()) spdlog::warn("state: cannot read serials ({}); starting afresh", serials_.load_error());
    auto first = load_snapshot(opts_.inventory, serials_);
    log_diagnostics(first.diagnostics);
    const bool fallback = !first.snapshot;
    if (fallback && !serve_last_good(first)) return 1;
    if (!fallback)
      spdlog::info("gateway {} ({})", first.plan.gateway.ip ? first.plan.gateway.ip->to_string() : "none",
                   first.plan.gateway.reason);

    // Who serves is decided before binding, so that a refusal leaves no socket behind.
    auto identity = plan_identity(opts_.user, opts_.allow_root);
    if (!identity.error.empty()) {
      spdlog::error("privileges: {}; not starting", identity.error);
      return 1;
    }
    if (!identity.warning.empty()) spdlog::warn("privileges: {}", identity.warning);
    if (opts_.state_dir)
      if (auto w = prepare_state_dir(*opts_.state_dir, identity.run_as); !w.empty()) spdlog::warn("state: {}", w);

    if (!bind_sockets(first)) return 1;
    // Sockets are bound; drop root before any thread exists, so no thread keeps the old credentials.
    if (identity.run_as && !drop_root(*identity.run_as)) return 1;
    state_writable_ = opts_.state_dir && access(opts_.state_dir->c_str(), W_OK) == 0;
    if (opts_.state_dir && !state_writable_)
      spdlog::warn("state: directory {} is not writable by uid {}; serials are kept in memory only",
                   opts_.state_dir->string(), ::geteuid());
    save_serials();
    if (first.plan.dnstap) open_dnstap(*first.plan.dnstap, first.plan.chaos_identity.value_or(""));
    publish_first(std::move(first), fallback);
    start_threads();

    wait_signal();
    schedule_retire();
    spdlog::info("serving {} on {} (udp, tcp; {} udp threads)", holder_.current()->summary(), describe_listen(listen_),
                 udp_.size());
    notifier_.send("READY=1\nSTATUS=" + (fallback_status_.empty() ? "serving generation " + std::to_string(holder_.generation())
                                                                   : fallback_status_));
    run_guarded(control_, "control");

    for (auto& u : udp_) u->join();
    tcp_thread_.join();
    // Only now: the TCP thread's transfers needed it to the end.
    xfr_guard_.reset();
    xfr_io_.stop();
    xfr_thread_.join();
    if (metrics_) metrics_->stop();
    log_totals();
    // A reload still reading files finishes on its own; nothing it produces is published any more.
    reload_guard_.reset();
    forwarder_.stop();
    if (tap_) tap_->stop();  // after every producer: what they recorded still goes out
    if (!wait_reload_thread()) {
      // At SCHED_IDLE on a saturated machine a reload can take any time: the stop does not wait for
      // it past the grace period. Its output is unpublished, and the state files it may be writing
      // are replaced by rename only (zones::write_file_atomically), so nothing is lost by leaving now.
      spdlog::warn("stop: a reload is still running at the lowest priority; stopping without it");
      spdlog::info("stopped");
      spdlog::shutdown();
      std::fflush(nullptr);
      std::_Exit(0);
    }
    spdlog::info("stopped");
    return 0;
  }

 private:
  /// The UDP workers' and TCP listener's sockets, and the metrics endpoint's, for the listen addresses
  /// of --listen or the inventory. False (logged): something cannot be bound, and nothing starts.
  bool bind_sockets(const LoadOutcome& first) {
    listen_ = opts_.listen.empty() ? first.plan.listen : opts_.listen;
    choose_upstreams(*first.snapshot, true);
    unsigned n = opts_.threads ? opts_.threads : std::max(1u, std::thread::hardware_concurrency());
    tcp_ = std::make_unique<TcpListener>(tcp_io_, holder_, opts_.tcp);
    try {
      // A worker blocks in one socket's recvmmsg, so each listen address gets its own N threads;
      // the idle ones sleep in the kernel.
      for (unsigned t = 0; t < n; ++t)
        for (auto& ep : listen_) udp_.push_back(std::make_unique<UdpWorker>(ep, holder_));
      // Each datagram is read on the CPU that received it (on loopback, the sender's), where its
      // data is already in cache; hashing by flow hands it to whichever thread its ports pick.
      for (size_t a = 0; a < listen_.size() && n > 1 && opts_.udp_spread == "cpu"; ++a)
        if (!udp_[a]->steer_by_cpu(n)) spdlog::warn("udp: cannot steer datagrams by CPU on {}; spread by flow", listen_[a].to_string());
      for (auto& ep : listen_) tcp_->listen(ep);
      // Bound with the DNS sockets, before privileges are dropped; served from its own thread.
      metrics_listen_at_start_ = first.plan.metrics_listen;
      if (auto ep = opts_.metrics_listen ? opts_.metrics_listen : first.plan.metrics_listen) {
        metrics_ = std::make_unique<MetricsServer>(*ep, [this] { return render_metrics(metrics_input()); });
        metrics_where_ = horizon::Endpoint{ep->addr, metrics_->port()}.to_string();
      }
    } catch (const std::exception& e) {
      spdlog::error("cannot listen ({}); not starting", e.what());
      return false;
    }
    return true;
  }

  bool drop_root(const RunAs& user) {
    if (auto err = drop_privileges(user); !err.empty()) {
      spdlog::error("privileges: cannot drop to {} ({}); not starting", user.name, err);
      return false;
    }
    spdlog::info("privileges: running as {} (uid {}, gid {})", user.name, user.uid, user.gid);
    // The first load ran as root; every reload runs as the user. Say so now rather than at the first SIGHUP.
    if (access(opts_.inventory.c_str(), R_OK | X_OK) != 0)
      spdlog::warn("privileges: inventory {} is not readable by {}; reloads will fail", opts_.inventory.string(),
                   user.name);
    return true;
  }

  /// The dnstap writer; its rings are handed out by start_threads().
  void open_dnstap(const horizon::DnstapSettings& settings, std::string identity) {
    tap_settings_ = settings;
    // Identity as id.server answers it when configured, else the host name (what BIND and Knot default to).
    if (identity.empty()) {
      char host[256] = {};
      ::gethostname(host, sizeof host - 1);
      identity = host;
    }
    tap_ = std::make_unique<dnstap::Writer>(tap_settings_, identity, "phoenix-dns " PHOENIX_VERSION,
                                            [this] { return view_slots_.names(); });
  }

  /// The first snapshot goes out before any worker runs, so the first query already finds it.
  void publish_first(LoadOutcome first, bool fallback) {
    if (auto w = attach_ixfr_history(nullptr, *first.snapshot, opts_.state_dir ? &*opts_.state_dir : nullptr); !w.empty())
      spdlog::warn("state: IXFR history: {}; IXFR is answered in AXFR form until the next change", w);
    view_slots_.assign(*first.snapshot);
    holder_.publish(first.snapshot);
    // From here on, what a reload frees is kept for the next one (zones/huge_pages.hpp says why). Not
    // before: the first build's scratch would be held through a life that may see no reload.
    zones::huge_regions::keep();
    // A restart announces every zone: a secondary that missed a change while we were down catches up
    // now rather than at its next refresh. Sent once the control loop runs.
    if (!fallback) announce(xfr::notify_jobs(*first.snapshot, first.plan, nullptr, listen_));
    // The plan holds a copy of every record with its source text: as large as the zones themselves,
    // and not needed once they are built and saved. Freed on the reload thread, while the workers serve.
    save_state(std::make_shared<LoadOutcome>(std::move(first)), !fallback);
  }

  /// Every thread but the control thread (the caller of run()), each wired to what it shares.
  void start_threads() {
    if (tap_) {
      // One ring per producer thread: each UDP worker, the TCP thread, the forwarder thread.
      dnstap::Ring* fwd_ring = tap_->add_ring();
      for (auto& u : udp_) u->set_tap(tap_->add_ring(), fwd_ring);
      tcp_->set_tap(tap_->add_ring());
      forwarder_.set_tap(fwd_ring);
      tap_->start();
      spdlog::info("dnstap: logging {}{} to {}", tap_settings_.queries ? "queries" : "",
                   tap_settings_.responses ? (tap_settings_.queries ? " and responses" : "responses") : "",
                   tap_->where());
    }
    cookie_keeper_ = std::make_unique<CookieSecretKeeper>(
        state_writable_ ? std::optional(*opts_.state_dir / "cookie-secret") : std::nullopt);
    if (auto w = cookie_keeper_->refresh(std::chrono::system_clock::now()); !w.empty()) spdlog::warn("cookies: {}", w);
    schedule_cookie_rotation();
    forwarder_.start();
    tcp_->set_forwarder(&forwarder_);
    tcp_->set_cookies(&cookie_keeper_->secrets());
    for (size_t i = 0; i < udp_.size(); ++i) {
      udp_[i]->set_forwarder(&forwarder_);
      udp_[i]->set_cookies(&cookie_keeper_->secrets());
      udp_[i]->start(("udp-" + std::to_string(i)).c_str());
    }
    tcp_->set_transfer_executor(xfr_io_.get_executor());
    tcp_->start();
    if (metrics_) {
      metrics_->start();
      spdlog::info("metrics: serving /metrics on {}", metrics_where_);
    }
    tcp_thread_ = std::thread([this] { run_guarded(tcp_io_, "tcp"); });
    ::pthread_setname_np(tcp_thread_.native_handle(), "tcp");
    xfr_thread_ = std::thread([this] {
      // A secondary that reads as fast as we send would otherwise take half of a core the query
      // threads share: the UDP socket then overflows and queries are lost while it transfers.
      if (auto how = lower_own_priority(); how.empty())
        spdlog::warn("xfr: cannot lower the transfer thread's priority ({}); transfers may slow answers "
                     "on a busy core", std::strerror(errno));
      run_guarded(xfr_io_, "xfr");
    });
    ::pthread_setname_np(xfr_thread_.native_handle(), "xfr");
    reload_thread_ = std::thread([this] {
      // Building and freeing a big zone take only the CPU the workers leave, so a reload on a busy
      // core does not stall answers.
      if (auto how = lower_own_priority(); how.empty())
        spdlog::warn("reload: cannot lower the reload thread's priority ({}); a big reload may slow answers "
                     "on a busy core", std::strerror(errno));
      else
        spdlog::debug("reload: reload thread runs at {}", how);
      run_guarded(reload_io_, "reload");
      reload_thread_done_ = true;
    });
    ::pthread_setname_np(reload_thread_.native_handle(), "reload");
  }

  /// Joins the reload thread if it ends by the stop deadline (at least a second from now). False: it is
  /// still busy, and is left running.
  bool wait_reload_thread() {
    auto until = std::max(stop_deadline_, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    while (!reload_thread_done_ && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!reload_thread_done_) return false;
    reload_thread_.join();
    return true;
  }

  /// At stop, once the workers are joined: what they did, for an operator reading the journal.
  void log_totals() {
    // Per worker, so that an operator can see how --udp-spread shares the load out.
    std::string per_worker;
    uint64_t udp_total = 0;
    for (auto& u : udp_) {
      per_worker += (per_worker.empty() ? "" : ", ") + std::to_string(u->stats().queries);
      udp_total += u->stats().queries;
    }
    spdlog::info("udp: {} queries, per thread: {}; tcp: {} queries", udp_total, per_worker, tcp_->stats().queries);
    // Response rate limiting, per view of the data served last (view ids are that snapshot's).
    if (auto snap = holder_.current())
      for (horizon::ViewId v = 0; v < snap->view_data.size(); ++v) {
        uint64_t limited = 0, dropped = 0, slipped = 0;
        for (auto* l : rate_limiters()) {
          const auto& c = l->counters(snap->view_data[v].metrics_slot);
          limited += c.limited, dropped += c.dropped, slipped += c.slipped;
        }
        if (snap->view_data[v].rate_limit.enabled)
          spdlog::info("rrl: view {}: {} replies over the limit, {} dropped, {} slipped", snap->view_data[v].name,
                       limited, dropped, slipped);
      }
    const TcpStats& ts = tcp_->tcp_stats();
    spdlog::info("tcp: {} connections accepted; closed: {} longest-idle at the cap, {} over the per-client cap, "
                 "{} idle, {} slow messages, {} unread replies",
                 ts.accepted.load(), ts.evicted.load(), ts.refused_per_client.load(), ts.closed_idle.load(),
                 ts.closed_slow.load(), ts.closed_unsent.load());
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

  /// --upstream wins, then dns_server.upstream_servers, then the host's resolv.conf without ourselves
  /// (read again at every reload, like the inventory). Says at start where the upstreams came from.
  void choose_upstreams(zones::Snapshot& snap, bool at_start) const {
    if (opts_.upstreams) {
      snap.upstreams = *opts_.upstreams;
      return;
    }
    if (!snap.upstreams.empty()) return;
    std::ifstream in(opts_.resolv_conf);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      if (at_start)
        spdlog::warn("forward: no upstream_servers, and {} cannot be read; names outside our zones are refused",
                     opts_.resolv_conf.string());
      return;
    }
    auto all = parse_resolv_conf(text.str());
    snap.upstreams = other_nameservers(all, listen_);
    std::string list;
    for (auto& u : snap.upstreams) list += (list.empty() ? "" : ", ") + u.to_string();
    if (!at_start) return;
    if (snap.upstreams.empty())
      spdlog::warn("forward: no upstream_servers, and {} names no nameserver but this server ({} found); names "
                   "outside our zones are refused", opts_.resolv_conf.string(), all.size());
    else
      spdlog::info("forward: no upstream_servers in the inventory; forwarding to the nameservers of {}: {}",
                   opts_.resolv_conf.string(), list);
  }

  void save_serials() {
    if (!state_writable_) return;
    if (auto err = serials_.save(); !err.empty()) spdlog::warn("state: cannot save serials ({})", err);
  }

  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        request_reload();
      } else if (!stopping_) {
        spdlog::info("received {}; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        stop();
      } else {
        // A second stop request: the operator does not want to wait for the grace period.
        spdlog::info("received {} again; stopping now", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        stop_deadline_ = std::chrono::steady_clock::now();
      }
      wait_signal();
    });
  }

  /// SIGHUP. At most one reload runs at a time; any number of SIGHUPs during it collapse into one
  /// more reload after it, which reads the files as they are then. So a storm costs at most two
  /// loads, and the control loop never blocks on file I/O or building.
  void request_reload() {
    if (stopping_) return;
    if (reload_running_) {
      if (!reload_pending_) spdlog::debug("reload: already in progress; one more will follow");
      reload_pending_ = true;
      return;
    }
    start_reload();
  }

  void start_reload() {
    reload_running_ = true;
    ++reloads_started_;
    notifier_.send(SystemdNotifier::reloading_state());
    auto start = std::chrono::steady_clock::now();
    asio::post(reload_io_, [this, start] {
      // On the reload thread: the snapshot is built complete, aside from everything that serves.
      // What the last swap retired goes first, so that a reload right after another does not hold
      // three generations at once (best effort: a worker may not have let go of it yet).
      holder_.retire_unused();
      zones::huge_regions::keep();  // what this build holds at most bounds what is kept after it
      auto outcome = std::make_shared<LoadOutcome>();
      try {
        *outcome = load_snapshot(opts_.inventory, serials_);
        if (outcome->snapshot) choose_upstreams(*outcome->snapshot, false);
        // The steps secondaries follow by IXFR, recorded here, at the reload thread's priority.
        if (outcome->snapshot)
          if (auto w = attach_ixfr_history(holder_.current().get(), *outcome->snapshot,
                                           state_writable_ ? &*opts_.state_dir : nullptr);
              !w.empty())
            spdlog::warn("state: IXFR history: {}", w);
        // Only zones whose serial moved are compared, those with a new IXFR step by counting it. The
        // report is a courtesy: if it cannot be made, the reload still goes ahead.
        try {
          if (outcome->snapshot) outcome->changes = reload_changes(*holder_.current(), *outcome->snapshot);
        } catch (const std::exception& e) {
          spdlog::warn("reload: cannot list what changed ({})", e.what());
        }
      } catch (const std::exception& e) {
        outcome->snapshot.reset();
        outcome->diagnostics.error(opts_.inventory.string(), "", std::string("cannot load (") + e.what() + ")");
      }
      spdlog::debug("reload: {} MiB of big buffers in use, {} MiB kept for reuse", zones::huge_regions::live_bytes() >> 20,
                    zones::huge_regions::kept_bytes() >> 20);
      asio::post(control_, [this, outcome, start]() mutable { finish_reload(std::move(outcome), start); });
    });
  }

  void finish_reload(std::shared_ptr<LoadOutcome> outcome, std::chrono::steady_clock::time_point start) {
    reload_running_ = false;
    ++reloads_finished_;
    bool published = !stopping_ && apply_reload(*outcome, start);  // never publish after STOPPING=1
    if (published)
      save_state(std::move(outcome), true);
    else
      dispose(std::move(outcome));
    // After a failed reload, what the last one published and did not save because of it is saved now.
    if (state_writable_) asio::post(reload_io_, [this] { write_state(); });
    if (reload_pending_ && !stopping_) {
      reload_pending_ = false;
      start_reload();
    }
  }

  bool apply_reload(const LoadOutcome& outcome, std::chrono::steady_clock::time_point start) {
    log_diagnostics(outcome.diagnostics);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    reloads_.last_unix_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count());
    reloads_.last_duration_us.store(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
    reloads_.last_ok.store(outcome.snapshot != nullptr);
    (outcome.snapshot ? reloads_.succeeded : reloads_.failed).fetch_add(1);
    if (!outcome.snapshot) {
      // Keep serving the last good data; the lines above name each file and JSON pointer.
      ++failed_reloads_;
      spdlog::error("reload: failed ({} errors; {} failed reloads so far); still serving generation {}",
                    outcome.diagnostics.error_count(), failed_reloads_, holder_.generation());
      notifier_.send("READY=1\nSTATUS=last reload failed (" + std::to_string(outcome.diagnostics.error_count()) +
                     " errors, see the log); " +
                     (fallback_status_.empty() ? "serving generation " + std::to_string(holder_.generation())
                                               : fallback_status_));
      return false;
    } else {
      warn_restart_only(outcome.plan);
      save_serials();
      auto old = holder_.current();
      for (auto& d : outcome.changes) spdlog::info("reload: {}", zones::describe(d));
      view_slots_.assign(*outcome.snapshot);
      uint64_t gen = holder_.publish(outcome.snapshot);
      // UDP workers pick the new snapshot up at their next batch, idle ones within UdpWorker::kIdleWake;
      // the post makes an idle TCP thread let go of the old one too, so it can be retired.
      asio::post(tcp_io_, [t = tcp_.get()] { t->refresh(); });
      spdlog::info("reload: generation {} -> {}, {} ({} ms)", old->generation, gen, outcome.snapshot->summary(), ms);
      notifier_.send("READY=1\nSTATUS=serving generation " + std::to_string(gen) + "; last reload: " +
                     zones::summarize(outcome.changes));
      fallback_status_.clear();
      announce(xfr::notify_jobs(*outcome.snapshot, outcome.plan, &outcome.changes, listen_));
      return true;
    }
  }

  /// NOTIFY (RFC 1996) for each job, from the control thread; the sends and their retries are
  /// asynchronous, so neither a reload nor a worker waits for a secondary.
  void announce(std::vector<xfr::NotifyJob> jobs) {
    if (jobs.empty()) return;
    asio::post(control_, [this, jobs = std::move(jobs)]() mutable {
      if (stopping_) return;
      for (auto& j : jobs) notify_sender_.send(std::move(j));
    });
  }

  /// A published generation's state in --state-dir: what is served (zones::write_served, for
  /// `--check --diff-from-state`) and, with `last_good`, the last good data. Written on the reload
  /// thread, newest generation only: one not written yet when a newer one is published is skipped.
  void save_state(std::shared_ptr<LoadOutcome> outcome, bool last_good) {
    if (!state_writable_) return dispose(std::move(outcome));
    std::shared_ptr<LoadOutcome> older;
    {
      std::lock_guard lock(state_mu_);
      older = std::exchange(state_pending_, std::move(outcome));
      state_last_good_ = last_good;
    }
    if (older) dispose(std::move(older));
    asio::post(reload_io_, [this] { write_state(); });
  }

  /// On the reload thread. Writing the text of a million-name zone takes about as long as loading it:
  /// a reload asked for meanwhile stops the write rather than waiting behind it (the reload shares
  /// this thread), and the write starts again after the reload: of the new generation if it was
  /// published, else of this one.
  void write_state() {
    std::shared_ptr<LoadOutcome> work;
    bool last_good = false;
    if (state_superseded()) return;  // the reload queued behind this call posts it again
    {
      std::lock_guard lock(state_mu_);
      work = std::move(state_pending_);
      last_good = state_last_good_;
    }
    if (!work) return;
    zones::ZoneTexts texts([this] { return state_superseded(); });
    const uint64_t gen = work->snapshot->generation;
    std::string err = zones::write_served(*opts_.state_dir / kServedDir, *work->snapshot, texts);
    if (!err.empty()) spdlog::warn("state: {}", err);
    if (last_good && !texts.stopped()) {
      if (auto e = save_last_good(*opts_.state_dir, *work->snapshot, work->plan, opts_.inventory, &texts); !e.empty())
        spdlog::warn("state: cannot save the last good data ({})", e);
      else if (!texts.stopped())
        spdlog::debug("state: last good data saved (generation {})", gen);
    }
    if (texts.stopped()) {
      spdlog::debug("state: saving generation {} stopped for a reload; saved after it", gen);
      std::lock_guard lock(state_mu_);
      if (!state_pending_) {
        state_pending_ = std::move(work);
        state_last_good_ = last_good;
      }
    }
    work.reset();  // may be the last reference: freed here, at this thread's priority
  }

  /// One scrape's input, read from the live objects on the metrics thread: the workers' counters
  /// (single-writer cells, see query::Counter), the cache and upstream tallies (their own locks),
  /// and the current snapshot.
  /// Every response rate limiter (each with its own counters; summed when read).
  std::vector<const query::RateLimiter*> rate_limiters() const {
    std::vector<const query::RateLimiter*> out;
    for (auto& u : udp_) out.push_back(&u->rate_limiter()), out.push_back(&u->forward_rate_limiter());
    return out;
  }

  MetricsInput metrics_input() {
    MetricsInput in;
    for (auto& u : udp_) in.workers.push_back({"udp", &u->stats()});
    in.rate_limiters = rate_limiters();
    in.workers.push_back({"tcp", &tcp_->stats()});
    in.view_names = view_slots_.names();
    in.zone_slots = view_slots_.zones();
    in.key_names = view_slots_.keys();
    in.notify = notify_sender_.tallies();
    in.tcp = &tcp_->tcp_stats();
    in.reloads = &reloads_;
    in.snapshot = holder_.current();
    in.generation = holder_.generation();
    in.forwarding = in.snapshot && !in.snapshot->upstreams.empty();
    if (in.forwarding) {
      in.cache_entries = forwarder_.cache().entries();
      in.cache_bytes = forwarder_.cache().bytes();
      in.cache_evictions = forwarder_.cache().evictions();
      in.forward_servfail = forwarder_.stats().servfail.load();
      for (auto& [ep, c] : forwarder_.upstream_counters())
        in.upstreams.push_back({ep.to_string(), c.queries, c.timeouts, c.failures, c.failovers});
    }
    if (tap_)
      in.extra = [t = tap_.get()](Exposition& e) {
        e.family("phoenix_dns_dnstap_messages_total", "counter", "dnstap messages written.");
        e.sample("phoenix_dns_dnstap_messages_total", {}, t->sent());
        e.family("phoenix_dns_dnstap_dropped_total", "counter",
                 "dnstap messages dropped: ring_full (the writer is behind or its reader stalls), too_large, "
                 "unwritten (no stream open, or a write failed).");
        e.sample("phoenix_dns_dnstap_dropped_total", {{"reason", "ring_full"}}, t->dropped_full());
        e.sample("phoenix_dns_dnstap_dropped_total", {{"reason", "too_large"}}, t->dropped_large());
        e.sample("phoenix_dns_dnstap_dropped_total", {{"reason", "unwritten"}}, t->dropped_unwritten());
      };
    return in;
  }

  /// Listen addresses (like --user and --threads) are start-up settings: say so instead of half-applying them.
  void warn_restart_only(const horizon::HorizonPlan& plan) {
    if (plan.dnstap != (tap_ ? std::optional(tap_settings_) : std::nullopt))
      spdlog::warn("reload: dns_server.dnstap changed (restart to apply)");
    if (!opts_.metrics_listen && plan.metrics_listen != metrics_listen_at_start_)
      spdlog::warn("reload: dns_server.metrics changed (restart to apply)");
    if (!opts_.listen.empty()) return;  // --listen wins over the inventory anyway
    if (describe_listen(plan.listen) != describe_listen(listen_))
      spdlog::warn("reload: dns_server.listen changed to {} (still serving on {}; restart to apply)",
                   describe_listen(plan.listen), describe_listen(listen_));
  }

  /// Makes the calling thread run only on CPU time that nothing else wants. SCHED_IDLE, which any
  /// thread may choose for itself, rather than nice 19: the scheduler always lets a waking worker
  /// preempt an idle-policy thread, where with nice 19 that depends on how far ahead its virtual
  /// runtime is (CFS, Debian 12's kernel), and nice 19 still takes about 1.5% of a saturated core.
  /// Returns the policy applied, or "" with errno set (a seccomp filter may refuse both).
  static std::string lower_own_priority() {
    sched_param param{};
    if (::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param) == 0) return "SCHED_IDLE";
    // setpriority on a thread id applies to that thread only (Linux).
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19) == 0) return "nice 19";
    return "";
  }

  /// Frees a load outcome (the plan, and an unpublished snapshot when stopping: each as large as the
  /// zones) on the reload thread, at its priority, never on the control thread, which competes with
  /// the workers at theirs. Runs even after stop: the reload thread finishes its queue before it ends.
  bool state_superseded() const { return reloads_started_.load() != reloads_finished_.load(); }

  void dispose(std::shared_ptr<LoadOutcome> outcome) {
    asio::post(reload_io_, [outcome = std::move(outcome)]() mutable { outcome.reset(); });
  }

  /// Start-up with a broken inventory (already logged, error by error): serve what was last served,
  /// unless --strict or there is none. False: refuse to start, as without --state-dir.
  bool serve_last_good(LoadOutcome& first) {
    const size_t errors = first.diagnostics.error_count();
    std::optional<LastGood> last;
    if (!opts_.strict && opts_.state_dir) {
      std::string err;
      last = load_last_good(*opts_.state_dir, err);
      if (!err.empty()) spdlog::error("state: the last good data cannot be used ({}); ignoring it", err);
    }
    if (!last) {
      spdlog::error("inventory {}: {} errors; not starting{}", opts_.inventory.string(), errors,
                    opts_.strict ? " (--strict)" : "");
      return false;
    }
    spdlog::warn("inventory {}: {} errors; serving the last good data from {} (built from {}) until a reload succeeds",
                 opts_.inventory.string(), errors, last->written, last->inventory);
    fallback_status_ = "serving last good data from " + last->written + "; inventory has " + std::to_string(errors) +
                       " errors";
    first.snapshot = std::move(last->snapshot);
    first.plan.listen = std::move(last->listen);
    return true;
  }

  /// The cookie secret rotates every CookieSecretKeeper::kLifetime; checked every ten minutes.
  void schedule_cookie_rotation() {
    cookie_timer_.expires_after(std::chrono::minutes(10));
    cookie_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      if (auto w = cookie_keeper_->refresh(std::chrono::system_clock::now()); !w.empty()) spdlog::warn("cookies: {}", w);
      schedule_cookie_rotation();
    });
  }

  void schedule_retire() {
    retire_timer_.expires_after(std::chrono::milliseconds(500));
    retire_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      // Freeing a replaced snapshot takes about as long as a good part of building it: on the reload
      // thread too. One request in its queue at a time, however long a build keeps it busy.
      if (!retire_queued_.exchange(true))
        asio::post(reload_io_, [this] {
          retire_queued_ = false;
          holder_.retire_unused();
        });
      schedule_retire();
    });
  }

  /// SIGTERM/SIGINT: stop accepting, let what already arrived be answered, then stop within stop_grace.
  void stop() {
    stopping_ = true;
    notifier_.send("STOPPING=1");
    retire_timer_.cancel();
    cookie_timer_.cancel();
    notify_sender_.stop();
    for (auto& u : udp_) u->request_stop();
    asio::post(tcp_io_, [t = tcp_.get()] { t->stop(); });
    stop_deadline_ = std::chrono::steady_clock::now() + opts_.stop_grace;
    poll_stopped();
  }

  void poll_stopped() {
    // A UDP worker is done once it answered what was queued and closed its socket (within
    // kIdleWake); the TCP io_context runs out of work once its sessions ended.
    bool idle = true;
    for (auto& u : udp_) idle = idle && u->done();
    idle = idle && tcp_io_.stopped();
    if (idle || std::chrono::steady_clock::now() >= stop_deadline_) {
      if (!idle) spdlog::warn("stop: grace period over; closing {} tcp connections", tcp_->connections());
      tcp_io_.stop();
      control_.stop();
      return;
    }
    stop_timer_.expires_after(std::chrono::milliseconds(20));
    stop_timer_.async_wait([this](const boost::system::error_code&) { poll_stopped(); });
  }

  ServerOptions opts_;
  zones::SerialStore serials_;
  bool state_writable_ = false;
  SnapshotHolder holder_;
  SystemdNotifier notifier_;
  std::vector<horizon::Endpoint> listen_;
  asio::io_context control_{1};
  // Registered before the first load so that an early SIGHUP or SIGTERM is queued, not fatal.
  asio::signal_set signals_{control_, SIGHUP, SIGTERM, SIGINT};
  asio::io_context tcp_io_{1};
  asio::io_context xfr_io_{1};  ///< builds transfer messages for the TCP thread, at SCHED_IDLE
  asio::executor_work_guard<asio::io_context::executor_type> xfr_guard_{xfr_io_.get_executor()};
  asio::io_context reload_io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> reload_guard_{reload_io_.get_executor()};
  asio::steady_timer retire_timer_{control_};
  asio::steady_timer stop_timer_{control_};
  asio::steady_timer cookie_timer_{control_};
  NotifySender notify_sender_{control_};
  std::unique_ptr<CookieSecretKeeper> cookie_keeper_;  ///< outlives the workers' last batch (joined in run())
  std::vector<std::unique_ptr<UdpWorker>> udp_;
  std::unique_ptr<TcpListener> tcp_;
  std::thread tcp_thread_;
  std::thread xfr_thread_;
  std::thread reload_thread_;
  bool stopping_ = false;
  bool reload_running_ = false;
  bool reload_pending_ = false;
  std::atomic<bool> retire_queued_{false};  ///< set by the control thread, cleared by the reload thread
  std::atomic<bool> reload_thread_done_{false};
  // Counted by the control thread; the reload thread's state writes stop while they differ.
  std::atomic<uint64_t> reloads_started_{0}, reloads_finished_{0};
  std::mutex state_mu_;  ///< the control thread sets state_pending_, the reload thread takes it
  std::shared_ptr<LoadOutcome> state_pending_;
  bool state_last_good_ = false;
  uint64_t failed_reloads_ = 0;
  MetricSlots view_slots_;
  ReloadCounters reloads_;
  std::optional<horizon::Endpoint> metrics_listen_at_start_;
  std::string metrics_where_;
  std::string fallback_status_;  ///< set while the last good data is served instead of the inventory's
  // Declared after the workers and the TCP context, so destroyed (and its thread joined) before them:
  // a late reply never finds the TCP context gone, and the UDP workers call into it until joined.
  forward::Forwarder forwarder_;
  std::chrono::steady_clock::time_point stop_deadline_;
  horizon::DnstapSettings tap_settings_;
  std::unique_ptr<dnstap::Writer> tap_;  ///< after the workers: destroyed before them, once they are joined
  // Last: stopped and destroyed before everything its scrapes read.
  std::unique_ptr<MetricsServer> metrics_;
};

}  // namespace

int run_server(const ServerOptions& options) {
  Server s(options);
  return s.run();
}

}  // namespace phoenix::server
