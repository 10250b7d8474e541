// notify -- the systemd readiness protocol (sd_notify(3)) without linking libsystemd.
#pragma once

#include <string>
#include <string_view>

namespace phoenix::server {

/// Sends state lines ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET.
/// The protocol is one datagram on an AF_UNIX socket, so a few lines here replace a library
/// dependency (and a runtime package) for the packaged binary. Without $NOTIFY_SOCKET (not started
/// by systemd, or Type= is not notify) every call is a no-op. Failures are ignored, as sd_notify's
/// callers do: readiness is advisory and serving must not depend on it.
class SystemdNotifier {
 public:
  /// Reads $NOTIFY_SOCKET once; a path ("/run/systemd/notify") or an abstract name ("@...").
  SystemdNotifier();
  bool enabled() const { return !path_.empty(); }
  /// Sends one datagram with `state` (newline-separated assignments). Returns false if it could not be sent.
  bool send(std::string_view state) const;
  /// "RELOADING=1\nMONOTONIC_USEC=<now>": systemd 253+ needs the timestamp (Type=notify-reload); older ones ignore it.
  static std::string reloading_state();

 private:
  std::string path_;
};

}  // namespace phoenix::server
